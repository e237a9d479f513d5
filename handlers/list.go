package handlers

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/onlinemeetings/onlinemeetings/store"
)

// Paging of GET /me/onlineMeetings without $filter.
const (
	defaultPageSize = 100
	// skiptokenKeyName names the store's secret that signs $skiptoken, so
	// every replica on one store accepts the others' tokens.
	skiptokenKeyName = "skiptoken-hmac"
	skiptokenMACSize = 16
)

// listQuery is the OData query of a list request.
type listQuery struct {
	filter    *string
	top       *int32
	skiptoken *string
	sel       *string
}

// list answers GET …/onlineMeetings: the $filter lookups, or a page of the
// target's meetings, newest first.
func (s *Server) list(ctx context.Context, t target, q listQuery, pr preferences) (collectionResponse, error) {
	props, gerr := parseSelect(q.sel)
	if gerr != nil {
		return collectionResponse{}, gerr
	}
	resp := collectionResponse{context: s.collectionContext(t.organizer.ObjectID, props), sel: props, prefs: pr}
	if q.filter != nil {
		if q.skiptoken != nil {
			// A filtered list always comes in one page, so no nextLink
			// ever pairs the two; ignoring the token would hide a client's
			// mistake.
			return collectionResponse{}, badRequest("$skiptoken cannot be combined with $filter: a filtered list comes in one page.")
		}
		f, gerr := parseFilter(*q.filter)
		if gerr != nil {
			return collectionResponse{}, gerr
		}
		lookup := store.Lookup{JoinWebURL: f.literal}
		if f.property == filterJoinMeetingID {
			lookup = store.Lookup{JoinMeetingID: f.literal}
		}
		if f.literal == "" { // matches nothing; an empty Lookup is not a query
			return resp, nil
		}
		found, err := s.store.Find(ctx, t.owner(), lookup)
		if err != nil {
			return collectionResponse{}, err
		}
		resp.meetings = found
		return resp, nil
	}

	limit := defaultPageSize
	if q.top != nil {
		limit = int(*q.top) // 1..999, validated against the spec
	}
	key, err := s.skiptokenKey(ctx)
	if err != nil {
		return collectionResponse{}, err
	}
	page := store.Page{Limit: limit + 1} // one more tells whether a next page exists
	if q.skiptoken != nil {
		c, ok := openSkiptoken(key, t.owner(), *q.skiptoken)
		if !ok {
			return collectionResponse{}, badRequest("The $skiptoken is invalid. Use the @odata.nextLink of the previous page as it is.")
		}
		page.After = &c
	}
	found, err := s.store.List(ctx, t.owner(), page)
	if err != nil {
		return collectionResponse{}, err
	}
	if len(found) > limit {
		found = found[:limit]
		last := found[len(found)-1]
		next := url.Values{}
		next.Set("$top", strconv.Itoa(limit))
		next.Set("$skiptoken", sealSkiptoken(key, t.owner(), store.Cursor{CreationDateTime: last.CreationDateTime, ID: last.ID}))
		if q.sel != nil {
			next.Set("$select", *q.sel)
		}
		resp.nextLink = s.publicURL + apiBasePath + t.path + "?" + next.Encode()
	}
	resp.meetings = found
	return resp, nil
}

// skiptokenKey returns the store's paging key, fetched once per process.
// A failure is not cached, so a store that was down is asked again.
func (s *Server) skiptokenKey(ctx context.Context) ([]byte, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if s.pageKey != nil {
		return s.pageKey, nil
	}
	key, err := s.store.Key(ctx, skiptokenKeyName)
	if err != nil {
		return nil, err
	}
	s.pageKey = key
	return key, nil
}

// A $skiptoken is base64url(creation time in Unix ns, 8 bytes big-endian ‖
// id) "." base64url(HMAC-SHA256 over the owner and that payload, first 16
// bytes). The owner is in the MAC, not in the token, so a token is only
// good for the listing it came from: tampered, truncated or foreign tokens
// fail the check and get 400.

func skiptokenMAC(key []byte, owner store.Owner, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(owner.TenantID))
	m.Write([]byte{0})
	m.Write([]byte(owner.UserID))
	m.Write([]byte{0})
	m.Write(payload)
	return m.Sum(nil)[:skiptokenMACSize]
}

func sealSkiptoken(key []byte, owner store.Owner, c store.Cursor) string {
	payload := binary.BigEndian.AppendUint64(nil, uint64(c.CreationDateTime.UnixNano()))
	payload = append(payload, c.ID...)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(skiptokenMAC(key, owner, payload))
}

func openSkiptoken(key []byte, owner store.Owner, token string) (store.Cursor, bool) {
	p64, m64, ok := strings.Cut(token, ".")
	if !ok {
		return store.Cursor{}, false
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p64)
	mac, err2 := enc.DecodeString(m64)
	if err1 != nil || err2 != nil || len(payload) < 8 || !hmac.Equal(mac, skiptokenMAC(key, owner, payload)) {
		return store.Cursor{}, false
	}
	ns := int64(binary.BigEndian.Uint64(payload[:8]))
	return store.Cursor{CreationDateTime: time.Unix(0, ns).UTC(), ID: string(payload[8:])}, true
}

// collectionContext is the @odata.context of a list of user oid's meetings.
func (s *Server) collectionContext(oid string, sel []string) string {
	c := s.publicURL + apiBasePath + "/$metadata#users('" + oid + "')/onlineMeetings"
	if sel != nil {
		c += "(" + strings.Join(sel, ",") + ")"
	}
	return c
}

// collectionResponse writes {"@odata.context", "value": [...],
// "@odata.nextLink"} from stored meetings without re-encoding them (unless
// $select or hidden enum members need it).
type collectionResponse struct {
	context  string
	meetings []*store.Meeting
	nextLink string
	sel      []string
	prefs    preferences
}

func (r collectionResponse) VisitListOnlineMeetingsResponse(w http.ResponseWriter) error {
	return r.write(w)
}

func (r collectionResponse) VisitListUserOnlineMeetingsResponse(w http.ResponseWriter) error {
	return r.write(w)
}

func (r collectionResponse) write(w http.ResponseWriter) error {
	var b bytes.Buffer
	ctxJSON, err := marshalJSON(r.context)
	if err != nil {
		return err
	}
	b.WriteString(`{"@odata.context":`)
	b.Write(ctxJSON)
	b.WriteString(`,"value":[`)
	for i, m := range r.meetings {
		res, err := render(m.Resource, r.sel, r.prefs)
		if err != nil {
			return fmt.Errorf("handlers: meeting %q: %w", m.ID, err)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(res)
	}
	b.WriteByte(']')
	if r.nextLink != "" {
		link, err := marshalJSON(r.nextLink)
		if err != nil {
			return err
		}
		b.WriteString(`,"@odata.nextLink":`)
		b.Write(link)
	}
	b.WriteByte('}')
	r.prefs.setApplied(w.Header())
	return writeBody(w, http.StatusOK, successContentType, b.Bytes())
}

// keyCache is embedded in Server: the paging key once fetched.
type keyCache struct {
	keyMu   sync.Mutex
	pageKey []byte
}
