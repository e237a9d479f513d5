package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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
	publicURL string
	now       func() time.Time
	audio     *AudioConferencing
}

var _ gen.StrictServerInterface = (*Server)(nil)

// CreateOnlineMeeting implements POST /me/onlineMeetings.
func (s *Server) CreateOnlineMeeting(ctx context.Context, r gen.CreateOnlineMeetingRequestObject) (gen.CreateOnlineMeetingResponseObject, error) {
	p := auth.FromContext(ctx)
	if p == nil || r.Body == nil {
		return nil, errors.New("handlers: create reached without principal or body")
	}
	now := s.now()
	for attempt := 1; ; attempt++ {
		ids := newMeetingIDs()
		m, gerr := newMeeting(p, r.Body, now, ids, s.audio)
		if gerr != nil {
			return nil, gerr
		}
		sm, err := toStore(p, m, ids)
		if err != nil {
			return nil, err
		}
		err = s.store.Create(ctx, sm)
		if err == nil {
			return meetingResponse{status: http.StatusCreated, context: s.entityContext(p.ObjectID), resource: sm.Resource}, nil
		}
		if attempt < maxCreateAttempts && (errors.Is(err, store.ErrJoinMeetingIDTaken) || errors.Is(err, store.ErrIDTaken)) {
			continue
		}
		return nil, err
	}
}

// toStore translates a new meeting into the store's form.
func toStore(p *auth.Principal, m *gen.OnlineMeeting, ids meetingIDs) (*store.Meeting, error) {
	resource, err := marshalJSON(m)
	if err != nil {
		return nil, fmt.Errorf("handlers: encoding meeting: %w", err)
	}
	return &store.Meeting{
		ID:               *m.ID,
		Owner:            store.Owner{TenantID: p.TenantID, UserID: p.ObjectID},
		JoinMeetingID:    ids.joinMeetingID,
		JoinWebURL:       *m.JoinWebURL,
		CreationDateTime: m.CreationDateTime.Time,
		Resource:         resource,
	}, nil
}

// entityContext is the @odata.context of one meeting of user oid.
func (s *Server) entityContext(oid string) string {
	return s.publicURL + "/v1.0/$metadata#users('" + oid + "')/onlineMeetings/$entity"
}

// meetingResponse writes a stored meeting with its @odata.context first, as
// Graph does, without decoding and re-encoding the stored JSON.
type meetingResponse struct {
	status   int
	context  string
	resource []byte // a JSON object, as stored
}

// VisitCreateOnlineMeetingResponse implements gen.CreateOnlineMeetingResponseObject.
func (r meetingResponse) VisitCreateOnlineMeetingResponse(w http.ResponseWriter) error {
	return r.write(w)
}

func (r meetingResponse) write(w http.ResponseWriter) error {
	if len(r.resource) < 2 || r.resource[0] != '{' {
		return errors.New("handlers: stored meeting is not a JSON object")
	}
	ctxJSON, err := marshalJSON(r.context)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.Grow(len(r.resource) + len(ctxJSON) + 24)
	b.WriteString(`{"@odata.context":`)
	b.Write(ctxJSON)
	if !bytes.Equal(bytes.TrimSpace(r.resource[1:]), []byte("}")) {
		b.WriteByte(',')
	}
	b.Write(r.resource[1:])
	w.Header().Set("Content-Type", successContentType)
	w.WriteHeader(r.status)
	_, err = w.Write(b.Bytes())
	return err
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
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, err = w.Write(body)
	return err
}
