package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/onlinemeetings/onlinemeetings/auth"
	"github.com/onlinemeetings/onlinemeetings/gen"
	"github.com/onlinemeetings/onlinemeetings/store"
)

// Content types of answers: Graph's OData JSON for resources, plain JSON for errors.
const (
	successContentType = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"
	errorContentType   = "application/json; charset=utf-8"
)

// maxCreateAttempts bounds the retries when a random join meeting id collides.
const maxCreateAttempts = 8

// Server implements the generated strict-server interface: each method
// translates the request into store types, makes one store call and
// translates the result back.
type Server struct {
	store     store.Store
	quota     store.Quota // of every meeting it creates
	publicURL string
	now       func() time.Time
	audio     *AudioConferencing
	keyCache
}

var _ gen.StrictServerInterface = (*Server)(nil)

// CreateOnlineMeeting implements POST /me/onlineMeetings.
func (s *Server) CreateOnlineMeeting(ctx context.Context, r gen.CreateOnlineMeetingRequestObject) (gen.CreateOnlineMeetingResponseObject, error) {
	t, err := meTarget(ctx)
	if err != nil {
		return nil, err
	}
	return s.create(ctx, t, r.Body, prefs(r.Params.Prefer))
}

// create makes a new meeting organized by t (see insertNew).
func (s *Server) create(ctx context.Context, t target, body *gen.OnlineMeetingCreate, pr preferences) (meetingResponse, error) {
	if body == nil {
		return meetingResponse{}, errors.New("handlers: create reached without body")
	}
	return s.insertNew(ctx, t, body, pr, nil, func(sm *store.Meeting) (*store.Meeting, int, error) {
		return sm, http.StatusCreated, s.store.Create(ctx, sm, s.quota)
	})
}

// insertNew builds a meeting organized by t from in, lets edit (when not
// nil) adjust it, and stores it with put, which returns the meeting to
// answer with and the status. When the random join meeting id (or,
// astronomically unlikely, the id) is taken, it draws new identifiers and
// tries again, up to maxCreateAttempts times. create and createOrGet share it.
func (s *Server) insertNew(ctx context.Context, t target, in *gen.OnlineMeetingCreate, pr preferences,
	edit func(*gen.OnlineMeeting), put func(*store.Meeting) (*store.Meeting, int, error)) (meetingResponse, error) {
	now := s.now()
	for attempt := 1; ; attempt++ {
		ids := newMeetingIDs(now)
		m, gerr := newMeeting(t.organizer, in, now, ids, s.audio)
		if gerr != nil {
			return meetingResponse{}, gerr
		}
		if edit != nil {
			edit(m)
		}
		sm, err := toStore(t.organizer, m, ids)
		if err != nil {
			return meetingResponse{}, err
		}
		stored, status, err := put(sm)
		if err == nil {
			return meetingResponse{status: status, context: s.entityContext(t.organizer.ObjectID), resource: stored.Resource, prefs: pr}, nil
		}
		if attempt < maxCreateAttempts && (errors.Is(err, store.ErrJoinMeetingIDTaken) || errors.Is(err, store.ErrIDTaken)) {
			continue
		}
		return meetingResponse{}, quotaErr(err, now, s.now())
	}
}

// toStore translates a new meeting organized by p into the store's form.
func toStore(p *auth.Principal, m *gen.OnlineMeeting, ids meetingIDs) (*store.Meeting, error) {
	resource, err := marshalJSON(m)
	if err != nil {
		return nil, fmt.Errorf("handlers: encoding meeting: %w", err)
	}
	sm := &store.Meeting{
		ID:               *m.ID,
		Owner:            store.Owner{TenantID: p.TenantID, UserID: p.ObjectID},
		JoinMeetingID:    ids.joinMeetingID,
		JoinWebURL:       *m.JoinWebURL,
		CreationDateTime: m.CreationDateTime.Time,
		Attendees:        attendeesOf(m, p.TenantID),
		Resource:         resource,
	}
	if m.ExternalID != nil {
		sm.ExternalID = *m.ExternalID
	}
	return sm, nil
}

// entityContext is the @odata.context of one meeting of user oid.
func (s *Server) entityContext(oid string) string {
	return s.collectionContext(oid, nil) + "/$entity"
}

// meetingResponse writes a stored meeting with its @odata.context first, as
// Graph does. Without $select and without evolvable enum members to hide it
// writes the stored JSON as it is, without decoding it.
type meetingResponse struct {
	status   int
	context  string
	resource []byte   // a JSON object, as stored
	sel      []string // $select: the properties to keep (plus id); nil = all
	prefs    preferences
}

func (r meetingResponse) VisitCreateOnlineMeetingResponse(w http.ResponseWriter) error {
	return r.write(w)
}

func (r meetingResponse) VisitCreateUserOnlineMeetingResponse(w http.ResponseWriter) error {
	return r.write(w)
}

func (r meetingResponse) VisitGetOnlineMeetingResponse(w http.ResponseWriter) error {
	return r.write(w)
}

func (r meetingResponse) VisitGetUserOnlineMeetingResponse(w http.ResponseWriter) error {
	return r.write(w)
}

func (r meetingResponse) VisitUpdateOnlineMeetingResponse(w http.ResponseWriter) error {
	return r.write(w)
}

func (r meetingResponse) VisitUpdateUserOnlineMeetingResponse(w http.ResponseWriter) error {
	return r.write(w)
}

func (r meetingResponse) VisitCreateOrGetOnlineMeetingResponse(w http.ResponseWriter) error {
	return r.write(w)
}

func (r meetingResponse) VisitCreateOrGetUserOnlineMeetingResponse(w http.ResponseWriter) error {
	return r.write(w)
}

func (r meetingResponse) write(w http.ResponseWriter) error {
	resource, err := render(r.resource, r.sel, r.prefs)
	if err != nil {
		return err
	}
	ctxJSON, err := marshalJSON(r.context)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.Grow(len(resource) + len(ctxJSON) + 24)
	b.WriteString(`{"@odata.context":`)
	b.Write(ctxJSON)
	if !bytes.Equal(bytes.TrimSpace(resource[1:]), []byte("}")) {
		b.WriteByte(',')
	}
	b.Write(resource[1:])
	r.prefs.setApplied(w.Header())
	return writeBody(w, r.status, successContentType, b.Bytes())
}

// marshalJSON encodes v without HTML escaping (Graph writes '&', '<' and '>'
// as they are) and without a trailing newline.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// writeJSON writes v as the whole response.
func writeJSON(w http.ResponseWriter, status int, contentType string, v any) error {
	body, err := marshalJSON(v)
	if err != nil {
		return err
	}
	return writeBody(w, status, contentType, body)
}

// writeBody writes body, whole, as the response, with its Content-Length:
// net/http announces the length by itself only for bodies of up to 2 KB and
// sends larger ones chunked, which a meeting (about 2.5 KB) always is.
func writeBody(w http.ResponseWriter, status int, contentType string, body []byte) error {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err
}
