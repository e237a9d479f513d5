package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestServeMetrics checks that --metrics-addr serves Prometheus metrics on
// their own port, counting requests, token rejections, store calls and
// creations refused by --create-quota-per-month, and that the API port does
// not serve them.
func TestServeMetrics(t *testing.T) {
	dir := t.TempDir()
	maddr := freeAddr(t)
	s := startServe(t, "--data-dir", dir, "--store", "memory:", "--metrics-addr", maddr, "--create-quota-per-month", "1")
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(s.url, "http://"))
	tok := mintToken(t, "--data-dir", dir, "--public-url", "http://localhost:"+port) // the default public URL
	createMeeting(t, s.url, tok, "metrics")
	if resp, err := http.Post(s.url+"/v1.0/me/onlineMeetings", "application/json", strings.NewReader("{}")); err == nil {
		resp.Body.Close() // no token: 401
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.url+"/v1.0/me/onlineMeetings", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("second create under --create-quota-per-month 1 = %d, want 429", resp.StatusCode)
		}
	}

	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, body := get("http://" + maddr + "/metrics")
	if status != http.StatusOK {
		t.Fatalf("/metrics = %d", status)
	}
	for _, want := range []string{
		`onlinemeetings_http_requests_total{operation="createOnlineMeeting",status="201"} 1`,
		`onlinemeetings_http_requests_total{operation="createOnlineMeeting",status="401"} 1`,
		`onlinemeetings_token_rejections_total{reason="no_token"} 1`,
		`onlinemeetings_http_request_duration_seconds_bucket{operation="createOnlineMeeting"`,
		`onlinemeetings_store_operation_duration_seconds_count{method="Create",outcome="ok"} 1`,
		`onlinemeetings_http_requests_total{operation="createOnlineMeeting",status="429"} 1`,
		`onlinemeetings_throttled_requests_total{reason="rate"} 0`,
		`onlinemeetings_throttled_requests_total{reason="quota"} 1`,
		`onlinemeetings_store_operation_duration_seconds_count{method="Creations",outcome="ok"} 2`, // the early check of both creates
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if status, _ := get(s.url + "/metrics"); status == http.StatusOK {
		t.Error("the API port serves /metrics")
	}
}
