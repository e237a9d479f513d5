package handlers_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/onlinemeetings/onlinemeetings/handlers"
	"github.com/onlinemeetings/onlinemeetings/store/memory"
)

// lockedBuffer is a bytes.Buffer that the server's goroutines may write to
// while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestLogsKeepSecretsOut sends requests that carry secrets (a passcode a
// client sent back, as SDKs that round-trip a meeting do, and bearer tokens
// the server refuses) to a server logging at debug level, and checks that
// no log line holds the secret. The debug line of a refused request says
// why it was refused; kin-openapi's schema errors would put the offending
// part of the body in it, sibling members included, unless told not to.
// Each "request rejected" line must carry the request id, so the operator
// can find it from the client's error.
func TestLogsKeepSecretsOut(t *testing.T) {
	var logs lockedBuffer
	h := newHarness(t, memory.New(), func(c *handlers.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	tok := h.userToken()
	created := h.create(`{"subject":"round trip","joinMeetingIdSettings":{"isPasscodeRequired":true}}`)
	if created.status != http.StatusCreated {
		t.Fatalf("create = %d, want 201: %s", created.status, created.body)
	}
	var meeting struct {
		ID                    string `json:"id"`
		JoinMeetingIDSettings struct {
			Passcode string `json:"passcode"`
		} `json:"joinMeetingIdSettings"`
	}
	if err := json.Unmarshal(created.body, &meeting); err != nil || meeting.JoinMeetingIDSettings.Passcode == "" {
		t.Fatalf("created meeting has no passcode (%v): %s", err, created.body)
	}
	passcode := meeting.JoinMeetingIDSettings.Passcode
	signature := tok[strings.LastIndexByte(tok, '.')+1:]
	tampered := tok[:len(tok)-len(signature)] + strings.Repeat("A", len(signature))

	tests := []struct {
		name       string
		method     string
		path       string
		token      string
		body       string
		wantStatus int
		secret     string // must appear in no log line
	}{
		{
			name:   "create sends a passcode",
			method: http.MethodPost, path: "/v1.0/me/onlineMeetings", token: tok,
			body:       `{"subject":"x","joinMeetingIdSettings":{"isPasscodeRequired":true,"passcode":"Zq7Wx2Pk"}}`,
			wantStatus: http.StatusBadRequest, secret: "Zq7Wx2Pk",
		},
		{
			name:   "update round-trips the meeting's passcode",
			method: http.MethodPatch, path: "/v1.0/me/onlineMeetings/" + meeting.ID, token: tok,
			body:       `{"subject":"renamed","joinMeetingIdSettings":{"isPasscodeRequired":true,"passcode":"` + passcode + `"}}`,
			wantStatus: http.StatusBadRequest, secret: passcode,
		},
		{
			name:   "wrong type next to a passcode",
			method: http.MethodPost, path: "/v1.0/me/onlineMeetings", token: tok,
			body:       `{"joinMeetingIdSettings":{"isPasscodeRequired":"yes","passcode":"Hb4Rt9Lm"}}`,
			wantStatus: http.StatusBadRequest, secret: "Hb4Rt9Lm",
		},
		{
			name:   "token with a bad signature",
			method: http.MethodGet, path: "/v1.0/me/onlineMeetings", token: tampered,
			wantStatus: http.StatusUnauthorized, secret: tampered[strings.IndexByte(tampered, '.')+1 : strings.LastIndexByte(tampered, '.')],
		},
		{
			name:   "valid token, unknown meeting",
			method: http.MethodGet, path: "/v1.0/me/onlineMeetings/nope", token: tok,
			wantStatus: http.StatusNotFound, secret: signature,
		},
	}
	for _, tt := range tests {
		header := map[string]string{"Authorization": "Bearer " + tt.token}
		if tt.body != "" {
			header["Content-Type"] = "application/json"
		}
		r := h.do(tt.method, tt.path, header, strings.NewReader(tt.body))
		if r.status != tt.wantStatus {
			t.Errorf("%s: status = %d, want %d; body %s", tt.name, r.status, tt.wantStatus, r.body)
		}
	}
	h.srv.Close() // waits for the handlers, and with them their log lines

	out := logs.String()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for line := range strings.Lines(out) {
				if strings.Contains(line, tt.secret) {
					t.Errorf("log line holds the secret %q:\n%s", tt.secret, line)
				}
			}
		})
	}
	rejected := 0
	for line := range strings.Lines(out) {
		var rec struct {
			Msg       string `json:"msg"`
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		if rec.Msg == "request rejected" {
			rejected++
			if rec.RequestID == "" {
				t.Errorf("log line without request_id: %s", line)
			}
		}
	}
	if rejected == 0 {
		t.Errorf("no \"request rejected\" line at debug level, want one per refused request:\n%s", out)
	}
}
