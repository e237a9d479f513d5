package main

import (
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/onlinemeetings/onlinemeetings/store/postgres/pgtest"
)

// postCreate sends POST /v1.0/me/onlineMeetings with token to baseURL and
// returns the status and the Retry-After header.
func postCreate(t *testing.T, baseURL, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, baseURL+"/v1.0/me/onlineMeetings", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s/v1.0/me/onlineMeetings: %v", baseURL, err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// checkQuota429 fails the test unless status and retryAfter are the
// quota's 429 with a whole number of seconds.
func checkQuota429(t *testing.T, what string, status int, retryAfter string) {
	t.Helper()
	if n, err := strconv.Atoi(retryAfter); status != http.StatusTooManyRequests || err != nil || n < 1 {
		t.Errorf("%s = %d with Retry-After %q, want 429 with whole seconds ≥ 1", what, status, retryAfter)
	}
}

// TestQuotaSurvivesRestart checks that --create-quota-per-month is counted
// in the SQLite store: a restarted server still refuses a user who used up
// the month's quota before the restart.
func TestQuotaSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	const publicURL = "http://meetings.example.test" // the same issuer for both runs
	args := []string{"--data-dir", dir, "--public-url", publicURL, "--store", "sqlite://" + filepath.Join(dir, "om.db"),
		"--create-quota-per-month", "1"}
	token := mintToken(t, "--data-dir", dir, "--public-url", publicURL)

	first := startServe(t, args...)
	createMeeting(t, first.url, token, "before the restart")
	status, retry := postCreate(t, first.url, token)
	checkQuota429(t, "second create", status, retry)
	first.stop(t)

	second := startServe(t, args...)
	status, retry = postCreate(t, second.url, token)
	checkQuota429(t, "create after the restart", status, retry)
}

// TestQuotaAcrossReplicas runs two servers on one PostgreSQL schema, as
// replicas: concurrent creates on both never pass the quota together, and
// a server started later sees the count.
func TestQuotaAcrossReplicas(t *testing.T) {
	dbURL := pgtest.Schema(t)
	dir := t.TempDir()
	const (
		publicURL         = "http://meetings.example.test"
		quota, perReplica = 6, 10
	)
	args := []string{"--data-dir", dir, "--public-url", publicURL, "--store", dbURL, "--pg-max-conns", "4",
		"--create-quota-per-month", strconv.Itoa(quota)}
	token := mintToken(t, "--data-dir", dir, "--public-url", publicURL)
	a, b := startServe(t, args...), startServe(t, args...)

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
	)
	for _, s := range []*server{a, b} {
		for range perReplica {
			wg.Go(func() {
				status, _ := postCreate(t, s.url, token)
				mu.Lock()
				statuses[status]++
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	if statuses[http.StatusCreated] != quota || statuses[http.StatusTooManyRequests] != 2*perReplica-quota {
		t.Errorf("%d creates across two replicas under a quota of %d: statuses %v, want %d × 201 and %d × 429",
			2*perReplica, quota, statuses, quota, 2*perReplica-quota)
	}
	c := startServe(t, args...)
	status, retry := postCreate(t, c.url, token)
	checkQuota429(t, "create on a third replica", status, retry)
}
