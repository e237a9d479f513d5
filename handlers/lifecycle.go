package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/onlinemeetings/onlinemeetings/auth"
	"github.com/onlinemeetings/onlinemeetings/gen"
	"github.com/onlinemeetings/onlinemeetings/store"
)

// The generated interface has one method per path and method; /me and
// /users/{userId} share their work below. Each method only finds out whose
// meetings the request is about (target) and what the client prefers, and
// calls the shared implementation. authorize has already checked that the
// caller may act for that user.

// target is the user whose meetings a request acts on, as the organizer of
// the meetings it creates: the caller for /me and for /users/{own id}, the
// user in the path for an app acting on a user's behalf (display name and
// upn unknown then, as Graph leaves them).
type target struct {
	organizer *auth.Principal
	// path is the collection's path under /v1.0, for @odata.nextLink.
	path string
}

func (t target) owner() store.Owner {
	return store.Owner{TenantID: t.organizer.TenantID, UserID: t.organizer.ObjectID}
}

// meTarget is the caller of a /me request.
func meTarget(ctx context.Context) (target, error) {
	p := auth.FromContext(ctx)
	if p == nil {
		return target{}, errors.New("handlers: request reached without principal")
	}
	return target{organizer: p, path: "/me/onlineMeetings"}, nil
}

// userTarget is the user of a /users/{userId} request.
func userTarget(ctx context.Context, userID string) (target, error) {
	p := auth.FromContext(ctx)
	if p == nil {
		return target{}, errors.New("handlers: request reached without principal")
	}
	uid := strings.ToLower(userID)
	t := target{organizer: p, path: "/users/" + uid + "/onlineMeetings"}
	if p.AppOnly || uid != p.ObjectID {
		t.organizer = &auth.Principal{TenantID: p.TenantID, ObjectID: uid}
	}
	return t, nil
}

// CreateUserOnlineMeeting implements POST /users/{userId}/onlineMeetings.
func (s *Server) CreateUserOnlineMeeting(ctx context.Context, r gen.CreateUserOnlineMeetingRequestObject) (gen.CreateUserOnlineMeetingResponseObject, error) {
	t, err := userTarget(ctx, r.UserID)
	if err != nil {
		return nil, err
	}
	return s.create(ctx, t, r.Body, prefs(r.Params.Prefer))
}

// GetOnlineMeeting implements GET /me/onlineMeetings/{meetingId}.
func (s *Server) GetOnlineMeeting(ctx context.Context, r gen.GetOnlineMeetingRequestObject) (gen.GetOnlineMeetingResponseObject, error) {
	t, err := meTarget(ctx)
	if err != nil {
		return nil, err
	}
	return s.get(ctx, t, r.MeetingID, r.Params.Select, prefs(r.Params.Prefer))
}

// GetUserOnlineMeeting implements GET /users/{userId}/onlineMeetings/{meetingId}.
func (s *Server) GetUserOnlineMeeting(ctx context.Context, r gen.GetUserOnlineMeetingRequestObject) (gen.GetUserOnlineMeetingResponseObject, error) {
	t, err := userTarget(ctx, r.UserID)
	if err != nil {
		return nil, err
	}
	return s.get(ctx, t, r.MeetingID, r.Params.Select, prefs(r.Params.Prefer))
}

// UpdateOnlineMeeting implements PATCH /me/onlineMeetings/{meetingId}.
func (s *Server) UpdateOnlineMeeting(ctx context.Context, r gen.UpdateOnlineMeetingRequestObject) (gen.UpdateOnlineMeetingResponseObject, error) {
	t, err := meTarget(ctx)
	if err != nil {
		return nil, err
	}
	return s.update(ctx, t, r.MeetingID, r.Body, prefs(r.Params.Prefer))
}

// UpdateUserOnlineMeeting implements PATCH /users/{userId}/onlineMeetings/{meetingId}.
func (s *Server) UpdateUserOnlineMeeting(ctx context.Context, r gen.UpdateUserOnlineMeetingRequestObject) (gen.UpdateUserOnlineMeetingResponseObject, error) {
	t, err := userTarget(ctx, r.UserID)
	if err != nil {
		return nil, err
	}
	return s.update(ctx, t, r.MeetingID, r.Body, prefs(r.Params.Prefer))
}

// DeleteOnlineMeeting implements DELETE /me/onlineMeetings/{meetingId}.
func (s *Server) DeleteOnlineMeeting(ctx context.Context, r gen.DeleteOnlineMeetingRequestObject) (gen.DeleteOnlineMeetingResponseObject, error) {
	t, err := meTarget(ctx)
	if err != nil {
		return nil, err
	}
	return s.delete(ctx, t, r.MeetingID)
}

// DeleteUserOnlineMeeting implements DELETE /users/{userId}/onlineMeetings/{meetingId}.
func (s *Server) DeleteUserOnlineMeeting(ctx context.Context, r gen.DeleteUserOnlineMeetingRequestObject) (gen.DeleteUserOnlineMeetingResponseObject, error) {
	t, err := userTarget(ctx, r.UserID)
	if err != nil {
		return nil, err
	}
	return s.delete(ctx, t, r.MeetingID)
}

// CreateOrGetOnlineMeeting implements POST /me/onlineMeetings/createOrGet.
func (s *Server) CreateOrGetOnlineMeeting(ctx context.Context, r gen.CreateOrGetOnlineMeetingRequestObject) (gen.CreateOrGetOnlineMeetingResponseObject, error) {
	t, err := meTarget(ctx)
	if err != nil {
		return nil, err
	}
	return s.createOrGet(ctx, t, r.Body, prefs(r.Params.Prefer))
}

// CreateOrGetUserOnlineMeeting implements POST /users/{userId}/onlineMeetings/createOrGet.
func (s *Server) CreateOrGetUserOnlineMeeting(ctx context.Context, r gen.CreateOrGetUserOnlineMeetingRequestObject) (gen.CreateOrGetUserOnlineMeetingResponseObject, error) {
	t, err := userTarget(ctx, r.UserID)
	if err != nil {
		return nil, err
	}
	return s.createOrGet(ctx, t, r.Body, prefs(r.Params.Prefer))
}

// ListOnlineMeetings implements GET /me/onlineMeetings.
func (s *Server) ListOnlineMeetings(ctx context.Context, r gen.ListOnlineMeetingsRequestObject) (gen.ListOnlineMeetingsResponseObject, error) {
	t, err := meTarget(ctx)
	if err != nil {
		return nil, err
	}
	q := listQuery{filter: r.Params.Filter, top: r.Params.Top, skiptoken: r.Params.Skiptoken, sel: r.Params.Select}
	return s.list(ctx, t, q, prefs(r.Params.Prefer))
}

// ListUserOnlineMeetings implements GET /users/{userId}/onlineMeetings.
func (s *Server) ListUserOnlineMeetings(ctx context.Context, r gen.ListUserOnlineMeetingsRequestObject) (gen.ListUserOnlineMeetingsResponseObject, error) {
	t, err := userTarget(ctx, r.UserID)
	if err != nil {
		return nil, err
	}
	q := listQuery{filter: r.Params.Filter, top: r.Params.Top, skiptoken: r.Params.Skiptoken, sel: r.Params.Select}
	return s.list(ctx, t, q, prefs(r.Params.Prefer))
}

// get answers a meeting the target organizes or is an invited attendee of.
func (s *Server) get(ctx context.Context, t target, id string, sel *string, pr preferences) (meetingResponse, error) {
	props, gerr := parseSelect(sel)
	if gerr != nil {
		return meetingResponse{}, gerr
	}
	found, err := s.store.Find(ctx, t.owner(), store.Lookup{ID: id})
	if err != nil {
		return meetingResponse{}, notFoundAs(err, id)
	}
	if len(found) == 0 {
		return meetingResponse{}, meetingNotFound(id)
	}
	// With $select the context names the selected properties, as OData
	// (and Graph) do: …/onlineMeetings(subject)/$entity.
	return meetingResponse{status: http.StatusOK, context: s.collectionContext(t.organizer.ObjectID, props) + "/$entity",
		resource: found[0].Resource, sel: props, prefs: pr}, nil
}

// delete removes one of the target's meetings.
func (s *Server) delete(ctx context.Context, t target, id string) (noContent, error) {
	if err := s.store.Delete(ctx, t.owner(), id); err != nil {
		return noContent{}, notFoundAs(err, id)
	}
	return noContent{}, nil
}

// meetingNotFound is the answer for an id that is unknown, malformed or
// someone else's: the same in every case, so it tells nothing about others.
func meetingNotFound(id string) *Error {
	return newError(http.StatusNotFound, "NotFound", fmt.Sprintf("The onlineMeeting with id '%s' was not found.", id))
}

// userNotFound is the 404 for a userId in the path that names no user (it
// is not an object id). A malformed userId is never checked against the
// spec's parameter schema: authorization, which runs first, answers this.
func userNotFound(id string) *Error {
	return newError(http.StatusNotFound, "NotFound", fmt.Sprintf("The user with id '%s' was not found.", shortID(id)))
}

// shortID cuts an id echoed in an error message to 64 bytes (and a "…"),
// so a path parameter over its maxLength is not sent back whole.
func shortID(id string) string {
	if len(id) > 64 {
		return id[:64] + "…"
	}
	return id
}

// notFoundAs turns the store's ErrNotFound into meetingNotFound(id) and
// passes every other error on.
func notFoundAs(err error, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		e := meetingNotFound(id)
		e.Err = err
		return e
	}
	return err
}

// noContent answers 204 with no body.
type noContent struct{}

func (noContent) VisitDeleteOnlineMeetingResponse(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (n noContent) VisitDeleteUserOnlineMeetingResponse(w http.ResponseWriter) error {
	return n.VisitDeleteOnlineMeetingResponse(w)
}

// attendeesOf lists who, besides the organizer, may read a meeting: each
// attendee with a user id, in the attendee's tenant when given, else the
// organizer's.
func attendeesOf(m *gen.OnlineMeeting, organizerTenant string) []store.Owner {
	if m.Participants == nil || m.Participants.Attendees == nil {
		return nil
	}
	var out []store.Owner
	for _, a := range *m.Participants.Attendees {
		if a.Identity == nil || a.Identity.User == nil || a.Identity.User.ID == nil || *a.Identity.User.ID == "" {
			continue
		}
		u := a.Identity.User
		tenant := organizerTenant
		if u.TenantID != nil && *u.TenantID != "" {
			tenant = *u.TenantID
		}
		out = append(out, store.Owner{TenantID: strings.ToLower(tenant), UserID: strings.ToLower(*u.ID)})
	}
	return out
}
