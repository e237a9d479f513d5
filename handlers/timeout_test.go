package handlers_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/onlinemeetings/onlinemeetings/store/memory"
)

// TestSlowBody serves the API behind an http.Server with a short
// ReadTimeout, as serve runs it, and sends create bodies whole or only in
// part: a body the timeout cut off is a 408 Graph error, not the 400 of a
// malformed body (which would send operators and clients looking for a bug
// in the JSON), and stores nothing.
func TestSlowBody(t *testing.T) {
	const readTimeout = 300 * time.Millisecond
	h := newHarness(t, memory.New())
	srv := httptest.NewUnstartedServer(h.srv.Config.Handler)
	srv.Config.ReadTimeout = readTimeout
	srv.Start()
	defer srv.Close()

	const body = `{"subject":"slow"}`
	tests := []struct {
		name       string
		sent       string // the part of body sent before the client stalls
		wantStatus int
		wantCode   string
		wantStored int64
	}{
		{"whole body", body, http.StatusCreated, "", 1},
		{"stalls halfway", body[:8], http.StatusRequestTimeout, "RequestTimeout", 0},
		{"stalls before the body", "", http.StatusRequestTimeout, "RequestTimeout", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stored := h.store.creates.Load()
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST /v1.0/me/onlineMeetings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
				"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", h.userToken(), len(body), tt.sent)
			conn.SetReadDeadline(time.Now().Add(readTimeout + 5*time.Second))
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			r := response{status: res.StatusCode, header: res.Header, body: b, contentLength: res.ContentLength}
			if tt.wantCode != "" {
				graphError(t, r, tt.wantStatus, tt.wantCode, "")
			} else if r.status != tt.wantStatus {
				t.Errorf("status = %d, want %d: %s", r.status, tt.wantStatus, strings.TrimSpace(string(b)))
			}
			if got := h.store.creates.Load() - stored; got != tt.wantStored {
				t.Errorf("meetings stored = %d, want %d", got, tt.wantStored)
			}
		})
	}
}
