package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/onlinemeetings/onlinemeetings/gen"
	"github.com/onlinemeetings/onlinemeetings/graphtime"
	"github.com/onlinemeetings/onlinemeetings/store"
)

// Graph's answers to PATCH requests it refuses.
const (
	msgNotUpdatable        = "One or more properties do not support updating. Please refer to Microsoft Graph documentation for more information."
	msgMeetingTypeUpdate   = "Updating meeting type is not supported."
	msgOrganizerNotUpdated = "The organizer of a meeting cannot be updated."
)

func invalidArgument(message string) *Error {
	return newError(http.StatusBadRequest, "InvalidArgument", message)
}

// rawBodyKey keys the request body, as sent, in the request context:
// PATCH needs to tell a property sent as null from one not sent, which the
// generated model cannot.
type rawBodyKey struct{}

func rawBodyFrom(ctx context.Context) []byte {
	b, _ := ctx.Value(rawBodyKey{}).([]byte)
	return b
}

// update applies a PATCH to one of the target's meetings in one store
// transaction (read, merge, write), so concurrent PATCHes of different
// properties both persist.
//
// The body has passed the spec's onlineMeetingUpdate schema, so it holds
// only updatable properties with valid values. Complex properties merge
// (a property not sent keeps its value; null clears it), except
// participants, where attendees replace the whole list and the organizer
// may only repeat the current one; startDateTime and endDateTime come
// together.
func (s *Server) update(ctx context.Context, t target, id string, body *gen.OnlineMeetingUpdate, pr preferences) (meetingResponse, error) {
	raw := rawBodyFrom(ctx)
	if body == nil || raw == nil {
		return meetingResponse{}, errors.New("handlers: update reached without body")
	}
	patch, gerr := buildPatch(raw, body)
	if gerr != nil {
		return meetingResponse{}, gerr
	}
	updated, err := s.store.Update(ctx, t.owner(), id, func(m *store.Meeting) error {
		return applyPatch(m, patch, body)
	})
	if err != nil {
		return meetingResponse{}, notFoundAs(err, id)
	}
	return meetingResponse{status: http.StatusOK, context: s.entityContext(t.organizer.ObjectID), resource: updated.Resource, prefs: pr}, nil
}

// buildPatch turns the request body into a JSON merge patch of the stored
// resource: annotations dropped, times normalised to UTC, attendees in the
// stored form. It checks every rule that does not depend on the stored
// meeting.
func buildPatch(raw []byte, body *gen.OnlineMeetingUpdate) (map[string]any, *Error) {
	var patch map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&patch); err != nil || patch == nil {
		return nil, badRequest(msgUnreadableJSON)
	}
	dropAnnotations(patch)

	_, hasStart := patch["startDateTime"]
	_, hasEnd := patch["endDateTime"]
	switch {
	case hasStart != hasEnd:
		return nil, invalidArgument("startDateTime and endDateTime must be updated together.")
	case hasStart && (body.StartDateTime == nil || body.EndDateTime == nil):
		return nil, invalidArgument("startDateTime and endDateTime cannot be cleared.")
	case hasStart:
		start, end := graphtime.Normalize(body.StartDateTime.Time), graphtime.Normalize(body.EndDateTime.Time)
		if end.Before(start) {
			return nil, invalidArgument("endDateTime must be equal to or later than startDateTime.")
		}
		patch["startDateTime"] = graphtime.Time{Time: start}
		patch["endDateTime"] = graphtime.Time{Time: end}
	}

	if v, ok := patch["participants"]; ok {
		pm, _ := v.(map[string]any)
		if pm == nil {
			return nil, invalidArgument(msgOrganizerNotUpdated)
		}
		if o, sent := pm["organizer"]; sent && o == nil {
			return nil, invalidArgument(msgOrganizerNotUpdated)
		}
		delete(pm, "organizer") // checked against the stored organizer in applyPatch
		if _, sent := pm["attendees"]; sent {
			attendees := []gen.MeetingParticipantInfo{}
			if body.Participants != nil && body.Participants.Attendees != nil {
				for _, a := range *body.Participants.Attendees {
					attendees = append(attendees, participantInfo(a))
				}
			}
			pm["attendees"] = attendees
		}
	}
	return patch, nil
}

// applyPatch merges patch into the stored meeting m (inside the store's
// transaction) and re-derives the fields the store keeps apart.
func applyPatch(m *store.Meeting, patch map[string]any, body *gen.OnlineMeetingUpdate) error {
	var current map[string]any
	d := json.NewDecoder(bytes.NewReader(m.Resource))
	d.UseNumber()
	if err := d.Decode(&current); err != nil {
		return fmt.Errorf("handlers: stored meeting %q: %w", m.ID, err)
	}
	mergePatch(current, patch)

	// Round-trip through the model: the stored form keeps the model's
	// property order and types whatever the patch looked like.
	merged, err := marshalJSON(current)
	if err != nil {
		return err
	}
	var out gen.OnlineMeeting
	if err := json.Unmarshal(merged, &out); err != nil {
		return fmt.Errorf("handlers: patched meeting %q: %w", m.ID, err)
	}
	// buildPatch took the organizer out of the patch, so out holds the
	// stored one to compare a sent organizer with.
	if body.Participants != nil && body.Participants.Organizer != nil && !sameOrganizer(&out, body.Participants.Organizer) {
		return invalidArgument(msgOrganizerNotUpdated)
	}
	resource, err := marshalJSON(&out)
	if err != nil {
		return err
	}
	m.Resource = resource
	m.Attendees = attendeesOf(&out, m.Owner.TenantID)
	return nil
}

// sameOrganizer reports whether an organizer sent in a PATCH is the
// meeting's current one: the same user id and, when given, tenant and upn.
func sameOrganizer(m *gen.OnlineMeeting, sent *gen.MeetingParticipantInfoInput) bool {
	if m.Participants == nil || m.Participants.Organizer == nil {
		return false
	}
	cur := m.Participants.Organizer
	if cur.Identity == nil || cur.Identity.User == nil || cur.Identity.User.ID == nil {
		return false
	}
	if sent.Identity == nil || sent.Identity.User == nil || sent.Identity.User.ID == nil ||
		sent.Identity.Application != nil || sent.Identity.Device != nil {
		return false
	}
	u, cu := sent.Identity.User, cur.Identity.User
	if !strings.EqualFold(*u.ID, *cu.ID) {
		return false
	}
	if u.TenantID != nil && (cu.TenantID == nil || !strings.EqualFold(*u.TenantID, *cu.TenantID)) {
		return false
	}
	if sent.Upn != nil && (cur.Upn == nil || !strings.EqualFold(*sent.Upn, *cur.Upn)) {
		return false
	}
	if sent.Role != nil && (cur.Role == nil || string(*sent.Role) != string(*cur.Role)) {
		return false
	}
	return true
}

// mergePatch applies patch to dst as JSON merge patch (RFC 7386) does,
// except that null sets a property to null rather than removing it (every
// property of a meeting is always present). Objects merge member by
// member; everything else, arrays included, is replaced.
func mergePatch(dst, patch map[string]any) {
	for k, pv := range patch {
		po, pIsObj := pv.(map[string]any)
		do, dIsObj := dst[k].(map[string]any)
		if pIsObj && dIsObj {
			mergePatch(do, po)
			continue
		}
		dst[k] = pv
	}
}

// dropAnnotations removes @odata.type (accepted and ignored, as Graph's
// SDKs send it) from every object of v.
func dropAnnotations(v any) {
	switch t := v.(type) {
	case map[string]any:
		delete(t, "@odata.type")
		for _, e := range t {
			dropAnnotations(e)
		}
	case []any:
		for _, e := range t {
			dropAnnotations(e)
		}
	}
}

// createOrGet returns the target's meeting with the body's externalId, or
// creates it. The store decides atomically which, so concurrent calls with
// one externalId get one meeting and exactly one 201; it also applies the
// monthly creation quota to a meeting it would create, never to one it
// finds (so no early check in the pipeline: see quota.go).
func (s *Server) createOrGet(ctx context.Context, t target, body *gen.OnlineMeetingCreateOrGet, pr preferences) (meetingResponse, error) {
	if body == nil {
		return meetingResponse{}, errors.New("handlers: createOrGet reached without body")
	}
	// A NUL is valid JSON (\u0000) but no store keeps it in a key
	// (PostgreSQL text refuses it): say so rather than fail later.
	if strings.ContainsRune(body.ExternalID, 0) {
		return meetingResponse{}, badRequest("The value of property 'externalId' must not contain NUL characters.")
	}
	in := &gen.OnlineMeetingCreate{
		StartDateTime: body.StartDateTime,
		EndDateTime:   body.EndDateTime,
		Participants:  body.Participants,
		Subject:       body.Subject,
	}
	edit := func(m *gen.OnlineMeeting) {
		m.ExternalID = ptr(body.ExternalID)
		if ci := body.ChatInfo; ci != nil {
			m.ChatInfo = &gen.ChatInfo{ThreadID: ci.ThreadID, MessageID: ci.MessageID, ReplyChainMessageID: ci.ReplyChainMessageID}
		}
	}
	return s.insertNew(ctx, t, in, pr, edit, func(sm *store.Meeting) (*store.Meeting, int, error) {
		stored, created, err := s.store.CreateOrGet(ctx, sm, s.quota)
		if created {
			return stored, http.StatusCreated, err
		}
		return stored, http.StatusOK, err
	})
}
