package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onlinemeetings/onlinemeetings/store"
	"github.com/onlinemeetings/onlinemeetings/store/sqlite"
)

// syncBuffer is a bytes.Buffer that the server goroutine writes while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// freeAddr returns a loopback address nothing listens on now. The server is
// given it (and a matching --public-url) because the port of --addr
// 127.0.0.1:0 would only be known from the log.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// server is one `run serve` in a goroutine.
type server struct {
	url            string // where it listens
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	done           chan error // run's result
}

// startServe runs `serve` with args on a free port until the test ends or
// stop is called, and waits until /readyz answers 200. If another process
// took the port in between, it tries another one.
func startServe(t *testing.T, args ...string) *server {
	t.Helper()
	for attempt := 0; ; attempt++ {
		addr := freeAddr(t)
		ctx, cancel := context.WithCancel(context.Background())
		s := &server{
			url:    "http://" + addr,
			stdout: &syncBuffer{},
			stderr: &syncBuffer{},
			cancel: cancel,
			done:   make(chan error, 1),
		}
		all := append([]string{"serve", "--addr", addr, "--shutdown-timeout", "5s"}, args...)
		go func() { s.done <- run(ctx, all, nil, s.stdout, s.stderr) }()
		err := s.waitReady()
		if err == nil {
			t.Cleanup(func() { s.stop(t) })
			return s
		}
		cancel()
		if attempt < 3 && strings.Contains(err.Error(), "address already in use") {
			continue
		}
		t.Fatalf("run(%q): %v\nstderr:\n%s", all, err, s.stderr)
	}
}

// waitReady polls /readyz until it answers 200, run returns, or 15 s pass.
func (s *server) waitReady() error {
	deadline := time.Now().Add(15 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case err := <-s.done:
			s.done <- err // for stop
			return fmt.Errorf("returned before ready: %v", err)
		default:
		}
		resp, err := client.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("/readyz not 200 after 15 s (last: %v, %v)", resp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop cancels run's context, as SIGTERM does, and checks that run returns
// nil promptly. It may be called more than once.
func (s *server) stop(t *testing.T) {
	t.Helper()
	// Close the clients' kept-alive connections first: Go 1.27's transport can
	// dial a spare connection that never sends a request, and Shutdown waits
	// 5 s (the timeout used here) before it counts such a new one as idle.
	http.DefaultClient.CloseIdleConnections()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			t.Errorf("run(serve) after cancel = %v, want nil\nstderr:\n%s", err, s.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("run(serve) did not return within 10 s of cancel\nstderr:\n%s", s.stderr)
	}
}

// mintToken runs `token` with args.
func mintToken(t *testing.T, args ...string) string {
	t.Helper()
	args = append([]string{"token"}, args...)
	stdout, stderr, err := runCmd(t, args...)
	if err != nil {
		t.Fatalf("run(%q) error = %v; stderr: %s", args, err, stderr)
	}
	return strings.TrimSpace(stdout)
}

// createdMeeting is the part of a 201 response the test looks at.
type createdMeeting struct {
	Context      string `json:"@odata.context"`
	ID           string `json:"id"`
	Subject      string `json:"subject"`
	Participants struct {
		Organizer struct {
			Identity struct {
				User struct {
					ID       string `json:"id"`
					TenantID string `json:"tenantId"`
				} `json:"user"`
			} `json:"identity"`
		} `json:"organizer"`
	} `json:"participants"`
}

// createMeeting posts a meeting with subject and checks for a 201.
func createMeeting(t *testing.T, baseURL, token, subject string) createdMeeting {
	t.Helper()
	body := fmt.Sprintf(`{"subject":%q,"startDateTime":"2019-07-12T14:30:34.2444915-07:00"}`, subject)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, baseURL+"/v1.0/me/onlineMeetings", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /v1.0/me/onlineMeetings: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST /v1.0/me/onlineMeetings: reading body: %v", err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v1.0/me/onlineMeetings = %d %s, want 201", resp.StatusCode, b)
	}
	var m createdMeeting
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("POST /v1.0/me/onlineMeetings: %v in %s", err, b)
	}
	if m.ID == "" || m.Subject != subject {
		t.Errorf("POST /v1.0/me/onlineMeetings = %s, want an id and subject %q", b, subject)
	}
	return m
}

var bearerRE = regexp.MustCompile(`Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)`)

// TestServe runs the server in dev mode on a SQLite file, creates a meeting
// with a token from `token`, restarts it on the same data folder, and checks
// that the token is still accepted (the key and default user were kept) and
// that the first meeting is still in the database.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	// The public URL is fixed across both runs: the token's issuer is
	// {public-url}/dev-issuer, whatever port the server listens on.
	const publicURL = "http://onlinemeetings.test:8080"
	args := []string{"--data-dir", dir, "--public-url", publicURL + "/", "--log-level", "debug"}

	s := startServe(t, args...)

	hint := s.stdout.String()
	for _, want := range []string{
		"dev mode",
		"curl -sS -X POST '" + publicURL + "/v1.0/me/onlineMeetings'",
		"More tokens: " + selfCommand(os.Args[0]) + " token --data-dir " + dir + " --public-url " + publicURL,
	} {
		if !strings.Contains(hint, want) {
			t.Errorf("serve stdout = %q, want it to contain %q", hint, want)
		}
	}
	hintToken := ""
	if m := bearerRE.FindStringSubmatch(hint); m != nil {
		hintToken = m[1]
	} else {
		t.Errorf("serve stdout = %q, want a bearer token", hint)
	}

	for _, path := range []string{"/healthz", "/dev-issuer/.well-known/openid-configuration"} {
		resp, err := http.Get(s.url + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, resp.StatusCode)
		}
	}

	token := mintToken(t, "--data-dir", dir, "--public-url", publicURL)
	first := createMeeting(t, s.url, token, "first")
	if want := publicURL + "/v1.0/$metadata#"; !strings.HasPrefix(first.Context, want) {
		t.Errorf("@odata.context = %q, want prefix %q", first.Context, want)
	}
	org := first.Participants.Organizer.Identity.User
	if org.ID == "" || org.TenantID == "" {
		t.Fatalf("participants.organizer.identity.user = %+v, want id and tenantId", org)
	}
	if hintToken != "" {
		if m := createMeeting(t, s.url, hintToken, "from the hint"); m.Participants.Organizer.Identity.User != org {
			t.Errorf("organizer of the hint's token = %+v, want %+v", m.Participants.Organizer.Identity.User, org)
		}
	}

	s.stop(t)
	logs := s.stderr.String()
	for _, want := range []string{"listening", "shutting down", "stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("serve logs do not contain %q:\n%s", want, logs)
		}
	}
	for _, tok := range []string{token, hintToken} {
		if tok != "" && strings.Contains(logs, tok) {
			t.Errorf("serve logs contain a bearer token:\n%s", logs)
		}
	}
	if _, err := http.Get(s.url + "/healthz"); err == nil {
		t.Errorf("GET /healthz after stop succeeded, want the listener closed")
	}

	// Same data folder, same public URL: the token minted before still works.
	s2 := startServe(t, args...)
	second := createMeeting(t, s2.url, token, "second")
	if got := second.Participants.Organizer.Identity.User; got != org {
		t.Errorf("organizer after restart = %+v, want %+v", got, org)
	}
	s2.stop(t)

	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "onlinemeetings.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	defer st.Close()
	owner := store.Owner{TenantID: org.TenantID, UserID: org.ID}
	for _, m := range []createdMeeting{first, second} {
		got, err := st.Get(t.Context(), owner, m.ID)
		if err != nil {
			t.Errorf("Get(%+v, %q) error = %v", owner, m.ID, err)
			continue
		}
		if got.ID != m.ID || got.Owner != owner || !bytes.Contains(got.Resource, []byte(`"subject":"`+m.Subject+`"`)) {
			t.Errorf("Get(%+v, %q) = %+v, want meeting %q", owner, m.ID, got, m.Subject)
		}
	}
	other := store.Owner{TenantID: org.TenantID, UserID: "00000000-0000-4000-8000-000000000000"}
	if _, err := st.Get(t.Context(), other, first.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(%+v, %q) error = %v, want ErrNotFound", other, first.ID, err)
	}
}

// TestServeMemoryStore checks that --store memory: creates no database file,
// that the default public URL is http://localhost:{port}, and that a listen
// failure is an ordinary error (exit status 1).
func TestServeMemoryStore(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, "--data-dir", dir, "--store", "memory:")
	addr := strings.TrimPrefix(s.url, "http://")
	_, port, _ := net.SplitHostPort(addr)
	publicURL := "http://localhost:" + port // the default
	token := mintToken(t, "--data-dir", dir, "--public-url", publicURL)
	m := createMeeting(t, s.url, token, "in memory")
	if want := publicURL + "/v1.0/$metadata#"; !strings.HasPrefix(m.Context, want) {
		t.Errorf("@odata.context = %q, want prefix %q", m.Context, want)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "*.db")); len(matches) > 0 {
		t.Errorf("--store memory: created %q", matches)
	}

	// A second server on the same address cannot listen.
	args := []string{"serve", "--addr", addr, "--data-dir", dir, "--store", "memory:"}
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), args, nil, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "listen on "+addr) {
		t.Errorf("run(%q) error = %v, want a listen error", args, err)
	}
	if code := exitCode(err, io.Discard); code != 1 {
		t.Errorf("exitCode(run(%q)) = %d, want 1", args, code)
	}
}

func TestSelfCommand(t *testing.T) {
	for _, tt := range []struct{ arg0, want string }{
		{"./bin/onlinemeetings", "./bin/onlinemeetings"},
		{"onlinemeetings", "onlinemeetings"},
		{"/usr/local/bin/onlinemeetings", "/usr/local/bin/onlinemeetings"},
		{"/tmp/go-build2396881536/b001/exe/onlinemeetings", "onlinemeetings"}, // go run
		{"/opt/my apps/onlinemeetings", "onlinemeetings"},
		{"", "onlinemeetings"},
	} {
		if got := selfCommand(tt.arg0); got != tt.want {
			t.Errorf("selfCommand(%q) = %q, want %q", tt.arg0, got, tt.want)
		}
	}
}
