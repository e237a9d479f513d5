package handlers_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/onlinemeetings/onlinemeetings/store/memory"
)

// FuzzCreateBody sends arbitrary bodies and Content-Types to POST
// /me/onlineMeetings through the whole stack with a valid token. Invariants:
// the status is one of 201, 400, 413, 415 (never a 5xx); every error is
// Graph's error JSON; a meeting is stored exactly when the answer is 201.
func FuzzCreateBody(f *testing.F) {
	seeds := []struct{ body, ct string }{
		{`{"subject":"User Token Meeting","startDateTime":"2019-07-12T14:30:34.2444915-07:00","endDateTime":"2019-07-12T15:00:34.2464912-07:00"}`, "application/json"},
		{`{}`, "application/json"},
		{`{"participants":{"attendees":[{"identity":{"user":{"id":"x"}},"role":"presenter"}]}}`, "application/json"},
		{`{"joinMeetingIdSettings":{"isPasscodeRequired":true}}`, "application/json; charset=utf-8"},
		{`{"subject":5}`, "application/json"},
		{`{"Subject":"x"}`, "application/json"},
		{`{"startDateTime":"2024-01-19T13:38:22.169688"}`, "application/json"},
		{`{"subject":"a"} trailing`, "application/json"},
		{`{"subject":"\u0000"}`, "text/plain"},
		{`[`, ""},
	}
	for _, s := range seeds {
		f.Add([]byte(s.body), s.ct)
	}
	h := newHarness(f, memory.New())
	tok := h.userToken()
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		before := h.store.creates.Load()
		req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/v1.0/me/onlineMeetings", strings.NewReader(string(body)))
		if err != nil {
			t.Skip()
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		res, err := h.srv.Client().Do(req)
		if err != nil {
			t.Skip() // e.g. a Content-Type net/http refuses to send
		}
		var out map[string]any
		decErr := json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		stored := h.store.creates.Load() - before
		switch res.StatusCode {
		case http.StatusCreated:
			if stored != 1 {
				t.Fatalf("201 but %d meetings stored", stored)
			}
			if decErr != nil || out["id"] == nil {
				t.Fatalf("201 without a meeting: %v", decErr)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			if stored != 0 {
				t.Fatalf("%d but %d meetings stored", res.StatusCode, stored)
			}
			e, _ := out["error"].(map[string]any)
			if decErr != nil || e == nil || e["code"] == "" || e["message"] == "" {
				t.Fatalf("%d without Graph error JSON: %v", res.StatusCode, out)
			}
		default:
			t.Fatalf("status %d for body %q, Content-Type %q: %v", res.StatusCode, body, ct, out)
		}
	})
}
