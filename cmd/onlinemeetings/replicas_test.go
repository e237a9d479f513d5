package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/onlinemeetings/onlinemeetings/store/postgres/pgtest"
)

// replica is one server process started from the built binary.
type replica struct {
	url    string
	cmd    *exec.Cmd
	stderr *syncBuffer
}

// startReplica runs `serve` from bin on a free port with args, and waits
// until /readyz answers 200.
func startReplica(t *testing.T, bin string, args ...string) *replica {
	t.Helper()
	addr := freeAddr(t)
	r := &replica{url: "http://" + addr, stderr: &syncBuffer{}}
	r.cmd = exec.Command(bin, append([]string{"serve", "--addr", addr}, args...)...)
	r.cmd.Env = cleanEnv()
	r.cmd.Stderr = r.stderr
	r.cmd.Stdout = io.Discard
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- r.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("replica %s exited with %v\nstderr:\n%s", r.url, err, r.stderr)
			}
		case <-time.After(15 * time.Second):
			_ = r.cmd.Process.Kill()
			t.Errorf("replica %s did not stop on SIGTERM", r.url)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(r.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s not ready: %v\nstderr:\n%s", r.url, err, r.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// call sends one API request to r and returns the status and JSON body.
func (r *replica) call(t *testing.T, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, r.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, r.url, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: body is not JSON: %s", method, path, b)
		}
	}
	return resp.StatusCode, m
}

// TestReplicasOnPostgres runs two server processes on one PostgreSQL
// schema, as two replicas behind a load balancer: what one writes the other
// reads, updates and deletes; concurrent createOrGet with one externalId
// across both makes exactly one meeting; ids are unique across both.
func TestReplicasOnPostgres(t *testing.T) {
	dbURL := pgtest.Schema(t)
	bin := buildBinary(t)
	dir := t.TempDir()
	// Same data folder (dev issuer key) and public URL: both replicas
	// accept the same tokens and render the same @odata.context, as
	// replicas behind one address do.
	const publicURL = "http://meetings.example.test"
	common := []string{"--data-dir", dir, "--public-url", publicURL, "--store", dbURL, "--pg-max-conns", "4"}
	a := startReplica(t, bin, common...)
	b := startReplica(t, bin, common...)
	token := mintToken(t, "--data-dir", dir, "--public-url", publicURL)

	status, m := a.call(t, http.MethodPost, "/v1.0/me/onlineMeetings", token, `{"subject":"from a"}`)
	if status != http.StatusCreated {
		t.Fatalf("create on a = %d %v", status, m)
	}
	path := "/v1.0/me/onlineMeetings/" + url.PathEscape(m["id"].(string))
	if status, got := b.call(t, http.MethodGet, path, token, ""); status != http.StatusOK || got["subject"] != "from a" {
		t.Fatalf("get on b = %d %v", status, got)
	}
	if status, got := b.call(t, http.MethodPatch, path, token, `{"subject":"patched on b"}`); status != http.StatusOK || got["subject"] != "patched on b" {
		t.Fatalf("patch on b = %d %v", status, got)
	}
	if status, got := a.call(t, http.MethodGet, path, token, ""); status != http.StatusOK || got["subject"] != "patched on b" {
		t.Fatalf("get on a after patch on b = %d %v", status, got)
	}
	if status, _ := b.call(t, http.MethodDelete, path, token, ""); status != http.StatusNoContent {
		t.Fatalf("delete on b = %d", status)
	}
	if status, _ := a.call(t, http.MethodGet, path, token, ""); status != http.StatusNotFound {
		t.Fatalf("get on a after delete on b = %d, want 404", status)
	}

	// A list page from one replica continues on the other (the $skiptoken
	// key lives in the database).
	for i := range 3 {
		if status, _ := a.call(t, http.MethodPost, "/v1.0/me/onlineMeetings", token, fmt.Sprintf(`{"subject":"page %d"}`, i)); status != http.StatusCreated {
			t.Fatalf("create %d = %d", i, status)
		}
	}
	_, page := a.call(t, http.MethodGet, "/v1.0/me/onlineMeetings?$top=2", token, "")
	next, _ := page["@odata.nextLink"].(string)
	if status, rest := b.call(t, http.MethodGet, strings.TrimPrefix(next, publicURL), token, ""); status != http.StatusOK || len(rest["value"].([]any)) != 1 {
		t.Fatalf("next page on b = %d %v", status, rest)
	}

	// Racing createOrGet across both replicas, and plain creates for id
	// uniqueness.
	const perReplica = 16
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		cogIDs  = map[string]bool{}
		ids     = map[string]int{}
	)
	for _, r := range []*replica{a, b} {
		for range perReplica {
			wg.Go(func() {
				status, m := r.call(t, http.MethodPost, "/v1.0/me/onlineMeetings/createOrGet", token, `{"externalId":"shared-key"}`)
				mu.Lock()
				defer mu.Unlock()
				switch status {
				case http.StatusCreated:
					created++
				case http.StatusOK:
				default:
					t.Errorf("createOrGet on %s = %d %v", r.url, status, m)
					return
				}
				cogIDs[fmt.Sprint(m["id"])] = true
			})
			wg.Go(func() {
				status, m := r.call(t, http.MethodPost, "/v1.0/me/onlineMeetings", token, `{}`)
				mu.Lock()
				defer mu.Unlock()
				if status != http.StatusCreated {
					t.Errorf("create on %s = %d %v", r.url, status, m)
					return
				}
				ids[fmt.Sprint(m["id"])]++
				ids[fmt.Sprint(m["joinMeetingIdSettings"].(map[string]any)["joinMeetingId"])]++
			})
		}
	}
	wg.Wait()
	if created != 1 || len(cogIDs) != 1 {
		t.Errorf("createOrGet across two replicas: %d × 201, %d distinct ids; want exactly 1 and 1", created, len(cogIDs))
	}
	if len(ids) != 2*2*perReplica {
		t.Errorf("%d creates made %d distinct ids and join meeting ids, want %d", 2*perReplica, len(ids), 4*perReplica)
	}
}
