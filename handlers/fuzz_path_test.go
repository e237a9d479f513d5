package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/onlinemeetings/onlinemeetings/auth/authtest"
	"github.com/onlinemeetings/onlinemeetings/store"
	"github.com/onlinemeetings/onlinemeetings/store/memory"
)

// FuzzMeetingPath sends GET, PATCH and DELETE with arbitrary meeting ids,
// under /me and under /users/{userId} with an arbitrary userId, through the
// whole stack with a valid delegated token. The store holds one meeting of
// the caller and one of another user. Invariants:
//
//   - the status is 200 (GET), 204 (DELETE) or 200 (PATCH) only for the
//     caller's own meeting, or for a GET with an empty id, which is the
//     collection (the trailing slash is dropped) and must not list the
//     other user's meeting; otherwise 400, 403, 404 or 405, never a 5xx;
//   - the other user's meeting is never returned, changed or deleted, and
//     an id that is not the caller's meeting changes nothing;
//   - every status >= 400 carries Graph's error JSON.
func FuzzMeetingPath(f *testing.F) {
	h := newHarness(f, memory.New())
	tok := h.userToken()
	const otherOID = "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a"
	mine := mustCreate(f, h, tok)
	theirs := mustCreate(f, h, h.iss.UserToken(f, authtest.UserOpts{OID: otherOID}))
	me := store.Owner{TenantID: authtest.TenantID, UserID: authtest.UserObjectID}
	them := store.Owner{TenantID: authtest.TenantID, UserID: otherOID}
	snapshot := func(t testing.TB) (a, b []byte) {
		ma, err := h.store.Get(context.Background(), me, mine)
		if err != nil {
			t.Fatalf("caller's meeting: %v", err)
		}
		mb, err := h.store.Get(context.Background(), them, theirs)
		if err != nil {
			t.Fatalf("other user's meeting: %v", err)
		}
		return ma.Resource, mb.Resource
	}
	mineBefore, theirsBefore := snapshot(f)

	for _, s := range []struct {
		method byte
		users  bool
		userID string
		id     string
	}{
		{0, false, "", mine},
		{0, false, "", theirs},
		{1, false, "", theirs},
		{2, false, "", theirs},
		{0, true, authtest.UserObjectID, mine},
		{0, true, otherOID, theirs},
		{2, true, strings.ToUpper(otherOID), theirs},
		{0, false, "", "MSo" + strings.Repeat("A", 600)},
		{0, false, "", "a\x00b"},
		{1, false, "", "../../users"},
		{0, false, "", "createOrGet"},
		{2, true, "not-a-guid", "x"},
		{0, false, "", "%2F%00"},
	} {
		f.Add(s.method, s.users, s.userID, s.id)
	}
	methods := []string{http.MethodGet, http.MethodPatch, http.MethodDelete}
	f.Fuzz(func(t *testing.T, method byte, users bool, userID, id string) {
		m := methods[int(method)%len(methods)]
		own := id == mine && (!users || strings.EqualFold(userID, authtest.UserObjectID))
		if own && m != http.MethodGet {
			t.Skip() // would change the caller's meeting, which is allowed
		}
		path := "/v1.0/me/onlineMeetings/" + url.PathEscape(id)
		if users {
			path = "/v1.0/users/" + url.PathEscape(userID) + "/onlineMeetings/" + url.PathEscape(id)
		}
		var body io.Reader
		if m == http.MethodPatch {
			body = strings.NewReader(`{"subject":"fuzzed"}`)
		}
		req, err := http.NewRequest(m, h.srv.URL+path, body)
		if err != nil {
			t.Skip() // not a request net/http sends
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := h.srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", m, path, err)
		}
		raw, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}

		// An empty id leaves a trailing slash, which the server drops: a
		// GET of the collection, the caller's meetings only.
		collection := id == "" && m == http.MethodGet
		switch st := res.StatusCode; {
		case st == http.StatusOK && collection:
			var got struct{ Value []struct{ ID string } }
			if json.Unmarshal(raw, &got) != nil {
				t.Fatalf("200 for %s %s is not a collection: %.300s", m, path, raw)
			}
			if bytes.Contains(raw, []byte(theirs)) {
				t.Fatalf("%s %s lists the other user's meeting: %.300s", m, path, raw)
			}
		case st == http.StatusOK && own:
			var got struct{ ID string }
			if json.Unmarshal(raw, &got) != nil || got.ID != mine {
				t.Fatalf("200 for %s %s is not the caller's meeting: %.300s", m, path, raw)
			}
		case st == http.StatusBadRequest, st == http.StatusForbidden, st == http.StatusNotFound, st == http.StatusMethodNotAllowed:
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(raw, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%d for %s %s without Graph error JSON: %.300s", st, m, path, raw)
			}
			if bytes.Contains(raw, []byte(theirs)) && !strings.Contains(id, theirs) {
				t.Fatalf("error for %s %s leaks the other user's meeting: %.300s", m, path, raw)
			}
		default:
			t.Fatalf("status %d for %s %s (own=%v): %.300s", st, m, path, own, raw)
		}
		a, b := snapshot(t)
		if !bytes.Equal(a, mineBefore) || !bytes.Equal(b, theirsBefore) {
			t.Fatalf("%s %s (status %d) changed a stored meeting", m, path, res.StatusCode)
		}
	})
}

// mustCreate creates a meeting with tok and returns its id.
func mustCreate(t testing.TB, h *harness, tok string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/v1.0/me/onlineMeetings", strings.NewReader(`{"subject":"fuzz target"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	res, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m struct{ ID string }
	if res.StatusCode != http.StatusCreated || json.NewDecoder(res.Body).Decode(&m) != nil || m.ID == "" {
		t.Fatalf("create: status %d", res.StatusCode)
	}
	return m.ID
}
