package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The tests in this file check, against the built binary, the promises
// that only a real process can show: graceful shutdown, bounded abuse, and
// that kill -9 loses no acknowledged write. Their deadlines only protect
// against hangs; nothing asserts speed.

// hardeningBinary is buildBinary for tests that need Linux (signals, /proc).
func hardeningBinary(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("uses Unix signals and /proc")
	}
	return buildBinary(t)
}

// TestGracefulShutdown checks serve's drain on SIGTERM: in-flight requests
// finish within --shutdown-timeout and are cut off after it.
func TestGracefulShutdown(t *testing.T) {
	bin := hardeningBinary(t)
	t.Run("drains", func(t *testing.T) { testShutdownDrains(t, bin) })
	t.Run("cuts off", func(t *testing.T) { testShutdownCutsOff(t, bin) })
	t.Run("idle connection", func(t *testing.T) { testShutdownIdleConnection(t, bin) })
	t.Run("delay", func(t *testing.T) { testShutdownDelay(t, bin) })
}

// testShutdownDelay checks --shutdown-delay: after SIGTERM the server goes
// on serving while /readyz answers 503, and a second SIGTERM ends the delay
// (an hour here, so only the signal can) with the usual drain and exit 0.
func testShutdownDelay(t *testing.T, bin string) {
	dir := t.TempDir()
	const publicURL = "http://onlinemeetings.test"
	s := startBinary(t, bin, "--data-dir", dir, "--public-url", publicURL, "--store", "memory:",
		"--shutdown-delay", "1h", "--log-format", "json")
	token := mintToken(t, "--data-dir", dir, "--public-url", publicURL)
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second) // against hangs only
	for {
		resp, err := oneShot.Get(s.url + "/readyz")
		if err != nil {
			t.Fatalf("/readyz during the delay: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz = %d 10 s after SIGTERM, want 503", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
	req, err := http.NewRequest(http.MethodPost, s.url+"/v1.0/me/onlineMeetings", strings.NewReader(`{"subject":"during the delay"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := oneShot.Do(req)
	if err != nil {
		t.Fatalf("create during the delay: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("create during the delay = %d, want 201", resp.StatusCode)
	}
	if resp, err := oneShot.Get(s.url + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz during the delay = %v, %v; want 200", resp, err)
	} else {
		resp.Body.Close()
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.exitStatus(t); code != 0 {
		t.Fatalf("exit status after a second SIGTERM = %d, want 0\nstderr:\n%s", code, s.stderr)
	}
	logs := s.stderr.String()
	i, j, k := strings.Index(logs, `"msg":"draining`), strings.Index(logs, `"msg":"shutting down"`), strings.Index(logs, `"msg":"stopped"`)
	if i < 0 || j < i || k < j {
		t.Errorf("serve logs lack draining, shutting down, stopped in that order:\n%s", logs)
	}
}

// TestKillDurability checks that kill -9 loses no acknowledged write, on
// SQLite and, when ONLINEMEETINGS_TEST_POSTGRES_URL is set, PostgreSQL.
func TestKillDurability(t *testing.T) {
	bin := hardeningBinary(t)
	t.Run("sqlite", func(t *testing.T) { testKillDurability(t, bin, nil) })
	t.Run("postgres", func(t *testing.T) { testKillDurability(t, bin, []string{"--store", postgresSchemaURL(t)}) })
}

// testShutdownDrains sends SIGTERM while a create is in flight (its body
// still trickling in) and checks the drain, in the order serve promises it.
//
// What is asserted about /readyz: after the signal, /readyz on a new
// connection never answers 200 again, and the port refuses connections,
// while the in-flight request is still running. A 503 is accepted too, but
// is rarely seen: the handler turns 503 just before the listener closes,
// and net/http serves no new request once Shutdown has begun, not even on a
// connection opened before it, so what a load balancer observes is the
// refusal.
func testShutdownDrains(t *testing.T, bin string) {
	dir := t.TempDir()
	const publicURL = "http://onlinemeetings.test"
	args := []string{"--data-dir", dir, "--public-url", publicURL, "--shutdown-timeout", "3s", "--log-format", "json"}
	s := startBinary(t, bin, args...)
	token := mintToken(t, "--data-dir", dir, "--public-url", publicURL)

	release := make(chan struct{})
	c, sent := sigtermDuringCreate(t, s, token, `{"subject":"drained"}`, 10, release)
	probes := probeReadyzUntilRefused(t, s.url)
	close(release)
	if err := <-sent; err != nil {
		t.Errorf("sending the body after SIGTERM: %v", err)
	}
	stopped := false
	for _, p := range probes {
		if p == "200" && stopped {
			t.Errorf("/readyz after SIGTERM = %q: a 200 after it had stopped answering 200", probes)
			break
		}
		stopped = stopped || p != "200"
	}

	resp, body := c.response(t)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("in-flight create during shutdown = %d %s, want 201", resp.StatusCode, body)
	}
	var m createdMeeting
	if err := json.Unmarshal(body, &m); err != nil || m.ID == "" {
		t.Fatalf("in-flight create = %s (%v), want a meeting", body, err)
	}
	if code := s.exitStatus(t); code != 0 {
		t.Fatalf("exit status after SIGTERM = %d, want 0\nstderr:\n%s", code, s.stderr)
	}
	logs := s.stderr.String()
	if i, j := strings.Index(logs, `"msg":"shutting down"`), strings.Index(logs, `"msg":"stopped"`); i < 0 || j < i {
		t.Errorf("serve logs lack shutting down, then stopped:\n%s", logs)
	}

	// The store closed after the drain: the meeting the drained request
	// was acknowledged for is there after a restart on the same file.
	s2 := startBinary(t, bin, args...)
	status, got, err := apiDo(oneShot, http.MethodGet, s2.url+"/v1.0/me/onlineMeetings/"+url.PathEscape(m.ID), token, "")
	if err != nil || status != http.StatusOK || !strings.Contains(string(got), `"subject":"drained"`) {
		t.Errorf("GET the drained meeting after restart = %d %s %v, want 200 with its subject", status, got, err)
	}
	s2.stop(t)
}

// testShutdownCutsOff checks that a request still running when
// --shutdown-timeout is over is cut off and the exit status says so.
func testShutdownCutsOff(t *testing.T, bin string) {
	dir := t.TempDir()
	const publicURL = "http://onlinemeetings.test"
	s := startBinary(t, bin, "--data-dir", dir, "--public-url", publicURL, "--store", "memory:", "--shutdown-timeout", "1s")
	token := mintToken(t, "--data-dir", dir, "--public-url", publicURL)

	c, sent := sigtermDuringCreate(t, s, token, `{"subject":"cut off"}`, 0, nil) // never released
	if code := s.exitStatus(t); code != 1 {
		t.Errorf("exit status with a request outliving --shutdown-timeout = %d, want 1\nstderr:\n%s", code, s.stderr)
	}
	if !strings.Contains(s.stderr.String(), "requests still running after 1s were cut off") {
		t.Errorf("stderr does not say the request was cut off:\n%s", s.stderr)
	}
	if err := <-sent; err == nil {
		t.Error("the trickled body was sent whole, want the connection cut")
	}
	if resp, err := http.ReadResponse(c.r, nil); err == nil {
		t.Errorf("cut-off request got an answer %d, want the connection closed", resp.StatusCode)
	}
}

// sigtermDuringCreate starts a slow create on s, sends SIGTERM once the
// create is in flight, and returns it with the result of its trickle, which
// goes on in the background (see trickle for spaces and release).
func sigtermDuringCreate(t *testing.T, s *binServer, token, body string, spaces int, release <-chan struct{}) (*slowCreate, <-chan error) {
	t.Helper()
	c := startSlowCreate(t, s.addr(), token)
	sent := make(chan error, 1)
	go func() { sent <- c.trickle(body, spaces, release) }()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	return c, sent
}

// oneShot is a client that opens a connection per request and closes it
// after. Tests that then stop the server gracefully use it: a pooled
// client may leave a spare connection that never carried a request, and
// net/http's Shutdown waits up to 5 s for such a connection (see
// TestGracefulShutdown's "idle connection" case).
var oneShot = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

// testShutdownIdleConnection checks that a connection that never sent a
// request (a client's spare or pre-opened connection) does not hold up the
// drain: it carries no request, so there is nothing to wait for. net/http
// alone would wait for it (Go issue 22682) and exit 1 at the timeout.
func testShutdownIdleConnection(t *testing.T, bin string) {
	dir := t.TempDir()
	s := startBinary(t, bin, "--data-dir", dir, "--store", "memory:", "--shutdown-timeout", "3s")
	conn, err := net.Dial("tcp", s.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	time.Sleep(100 * time.Millisecond) // let the server accept it
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.exitStatus(t); code != 0 {
		t.Errorf("exit status after SIGTERM with an idle connection open = %d, want 0\nstderr:\n%s", code, s.stderr)
	}
}

// slowCreate is a POST create written by hand on its own connection, so the
// test controls when each byte is sent.
type slowCreate struct {
	conn net.Conn
	r    *bufio.Reader
}

// startSlowCreate sends the headers of a chunked create with
// Expect: 100-continue and returns once the server answers 100 Continue,
// which net/http does when the handler starts reading the body: from then
// on the request is in flight, past authentication.
func startSlowCreate(t *testing.T, addr, token string) *slowCreate {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // against hangs only
	head := "POST /v1.0/me/onlineMeetings HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + token +
		"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	c := &slowCreate{conn: conn, r: bufio.NewReader(conn)}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatalf("waiting for 100 Continue: %v", err)
	}
	if resp.StatusCode != http.StatusContinue {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("create headers answered %d %s, want 100 Continue", resp.StatusCode, b)
	}
	return c
}

// trickle sends the body as chunks: one space (JSON allows leading white
// space) every 100 ms until at least spaces were sent and release is
// closed, then body and the last chunk. It stops at the first write error.
func (c *slowCreate) trickle(body string, spaces int, release <-chan struct{}) error {
	cw := httputil.NewChunkedWriter(c.conn)
	for i := 0; ; i++ {
		if i >= spaces {
			select {
			case <-release:
				if _, err := io.WriteString(cw, body); err != nil {
					return err
				}
				if err := cw.Close(); err != nil {
					return err
				}
				_, err := io.WriteString(c.conn, "\r\n") // no trailers
				return err
			default:
			}
		}
		if _, err := io.WriteString(cw, " "); err != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// response reads the final answer.
func (c *slowCreate) response(t *testing.T) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.ReadResponse(c.r, nil)
	var b []byte
	if err == nil {
		b, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err != nil {
		t.Fatalf("reading the answer of the in-flight create: %v", err)
	}
	return resp, b
}

// probeReadyzUntilRefused GETs /readyz on a new connection every 10 ms
// until the connection is refused, and returns what each probe got: a
// status, "refused", or the error of a connection that the closing
// listener dropped.
func probeReadyzUntilRefused(t *testing.T, baseURL string) []string {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	deadline := time.Now().Add(10 * time.Second) // against hangs only
	var probes []string
	for time.Now().Before(deadline) {
		resp, err := client.Get(baseURL + "/readyz")
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			return append(probes, "refused")
		case err != nil:
			probes = append(probes, err.Error())
		default:
			resp.Body.Close()
			probes = append(probes, strconv.Itoa(resp.StatusCode))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("/readyz after SIGTERM = %q, never refused: the listener did not close", probes)
	return nil
}

// TestAbuse runs one server through slowloris connections, oversized
// headers and bodies, deep JSON and compressed bodies, and checks each
// answer, that /healthz kept answering throughout, and that memory stayed
// bounded.
func TestAbuse(t *testing.T) {
	bin := hardeningBinary(t)
	dir := t.TempDir()
	const publicURL = "http://onlinemeetings.test"
	s := startBinary(t, bin, "--data-dir", dir, "--public-url", publicURL)
	token := mintToken(t, "--data-dir", dir, "--public-url", publicURL)
	addr := s.addr()

	health := pollHealth(s.url)
	// Slowloris takes readHeaderTimeout (5 s) to be cut off: the other
	// checks run meanwhile. Its 20 s limit is under readTimeout (30 s),
	// which would end the connections too.
	slow := slowloris(addr, 100, 20*time.Second)

	create := func(hdr ...string) string {
		return "POST /v1.0/me/onlineMeetings HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + token +
			"\r\n" + strings.Join(hdr, "\r\n") + "\r\n\r\n"
	}
	const bigBody = 5 << 20 // over handlers.MaxBodyBytes
	type request struct {
		head string
		body func(w io.Writer) error
	}
	withLength := request{
		head: create("Content-Type: application/json", "Content-Length: "+strconv.Itoa(bigBody)),
		body: func(w io.Writer) error { _, err := io.Copy(w, io.LimitReader(filler(' '), bigBody)); return err },
	}
	chunked := request{head: create("Content-Type: application/json", "Transfer-Encoding: chunked"), body: chunkedBody(1 << 30)}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	io.WriteString(zw, `{"subject":"compressed"}`)
	zw.Close()
	nested := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)

	tests := []struct {
		name string
		request
		// wantStatus with wantCode "" is net/http's plain-text answer;
		// otherwise the answer is Graph's error JSON with that code.
		wantStatus int
		wantCode   string
	}{
		{
			name:       "1 MB of headers",
			request:    request{head: create("X-Padding: " + strings.Repeat("a", 1<<20))},
			wantStatus: http.StatusRequestHeaderFieldsTooLarge,
		},
		{
			name:       "body over 4 MiB with Content-Length",
			request:    withLength,
			wantStatus: http.StatusRequestEntityTooLarge,
			wantCode:   "RequestEntityTooLarge",
		},
		{
			name:       "1 GiB chunked body",
			request:    chunked,
			wantStatus: http.StatusRequestEntityTooLarge,
			wantCode:   "RequestEntityTooLarge",
		},
		{
			name: "100k nested arrays",
			request: request{
				head: create("Content-Type: application/json", "Content-Length: "+strconv.Itoa(len(nested))),
				body: func(w io.Writer) error { _, err := io.WriteString(w, nested); return err },
			},
			wantStatus: http.StatusBadRequest,
			wantCode:   "BadRequest",
		},
		{
			name: "gzip body",
			request: request{
				head: create("Content-Type: application/json", "Content-Encoding: gzip", "Content-Length: "+strconv.Itoa(gz.Len())),
				body: func(w io.Writer) error { _, err := w.Write(gz.Bytes()); return err },
			},
			wantStatus: http.StatusUnsupportedMediaType,
			wantCode:   "UnsupportedMediaType",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body, written, err := exchange(addr, tt.head, tt.body)
			// The server answers these before reading the whole request
			// and then closes the connection; if the close reaches the
			// client's kernel before the client has read the answer
			// (a busy machine), unread request bytes turn it into a
			// reset that discards the answer. That is TCP, not the
			// server: try again, a few times.
			for try := 1; try < 4 && err != nil && errors.Is(err, syscall.ECONNRESET); try++ {
				t.Logf("try %d: %v", try, err)
				resp, body, written, err = exchange(addr, tt.head, tt.body)
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("answer = %d %.200s, want %d", resp.StatusCode, body, tt.wantStatus)
			}
			if tt.wantCode == "" {
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
					t.Errorf("Content-Type = %q, want net/http's text/plain", ct)
				}
			} else {
				checkGraphError(t, resp, body, tt.wantCode)
			}
			// The server stops reading at its limit: what the client got
			// written is that plus what the sockets buffer, far below 1 GiB.
			if written > 64<<20 {
				t.Errorf("the client wrote %d body bytes before the server hung up, want the server to stop reading at 4 MiB", written)
			}
		})
	}

	// The big bodies again, eight at once, then the server's memory.
	var wg sync.WaitGroup
	for i := range 8 {
		r := withLength
		if i%2 == 0 {
			r = chunked
		}
		wg.Go(func() {
			if resp, b, _, err := exchange(addr, r.head, r.body); err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("concurrent big body #%d = %v %.200s (%v), want 413", i, resp, b, err)
			}
		})
	}
	wg.Wait()
	rss, peak := memoryOf(t, s.cmd.Process.Pid)
	t.Logf("server memory after the big bodies: VmRSS %d MiB, VmHWM %d MiB (race detector: %v)", rss>>20, peak>>20, raceEnabled)
	// A plain build peaks near 50 MiB here; the race detector's shadow
	// memory multiplies that by 5 to 10 (near 300 MiB). Either limit is
	// well below what buffering the four concurrent 1 GiB bodies would take.
	limit := int64(200 << 20)
	if raceEnabled {
		limit *= 5
	}
	if peak > limit {
		t.Errorf("server peak memory (VmHWM) = %d MiB, want under %d MiB", peak>>20, limit>>20)
	}

	for i, err := range slow() {
		if err != nil {
			t.Errorf("slowloris connection %d: %v", i, err)
			break
		}
	}
	// Still serving: a normal create works.
	if status, b, err := apiDo(oneShot, http.MethodPost, s.url+"/v1.0/me/onlineMeetings", token, `{"subject":"after the abuse"}`); status != http.StatusCreated {
		t.Errorf("create after the abuse = %d %.200s (%v), want 201", status, b, err)
	}
	n, failures, slowest := health()
	t.Logf("/healthz polled %d times during the abuse, slowest %v", n, slowest)
	if n == 0 || len(failures) > 0 {
		t.Errorf("/healthz during the abuse: %d polls, %d failed: %q", n, len(failures), failures)
	}
	s.stop(t)
}

// filler is an endless stream of one byte.
type filler byte

func (f filler) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(f)
	}
	return len(p), nil
}

// chunkedBody returns a body writer that sends n bytes in chunked encoding.
func chunkedBody(n int64) func(w io.Writer) error {
	return func(w io.Writer) error {
		cw := httputil.NewChunkedWriter(w)
		if _, err := io.Copy(cw, io.LimitReader(filler(' '), n)); err != nil {
			return err
		}
		if err := cw.Close(); err != nil {
			return err
		}
		_, err := io.WriteString(w, "\r\n")
		return err
	}
}

// countingWriter counts what reaches w.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// exchange sends head, then the body (if any), on a new connection to addr
// while it reads the answer, as a client that keeps writing after the
// server has answered. It returns the answer and how many bytes after head
// were written before the server stopped taking them.
func exchange(addr, head string, body func(io.Writer) error) (*http.Response, []byte, int64, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, nil, 0, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // against hangs only
	written := make(chan int64, 1)
	go func() {
		cw := &countingWriter{w: conn}
		if _, err := io.WriteString(conn, head); err == nil && body != nil {
			_ = body(cw) // an error is the server hanging up, as it may
		}
		written <- cw.n
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	var b []byte
	if err == nil {
		b, err = io.ReadAll(resp.Body)
	}
	conn.Close() // stops the writer if the server has not
	n := <-written
	if err != nil {
		return nil, nil, n, fmt.Errorf("reading the answer: %w", err)
	}
	return resp, b, n, nil
}

// checkGraphError checks that an answer is Graph's error JSON with code,
// carrying its request-id header inside.
func checkGraphError(t *testing.T, resp *http.Response, body []byte, code string) {
	t.Helper()
	var e struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError struct {
				RequestID string `json:"request-id"`
			} `json:"innerError"`
		} `json:"error"`
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("answer %.200s is not JSON: %v", body, err)
	}
	if e.Error.Code != code || e.Error.Message == "" {
		t.Errorf("error = %+v, want code %q and a message", e.Error, code)
	}
	if id := resp.Header.Get("request-id"); id == "" || e.Error.InnerError.RequestID != id {
		t.Errorf("innerError.request-id = %q, header request-id = %q, want the same, not empty", e.Error.InnerError.RequestID, id)
	}
}

// pollHealth GETs /healthz on a new connection every 50 ms until the
// returned function is called, which reports how many polls ran, every
// poll that did not get a 200 within 3 s, and the slowest answer.
func pollHealth(baseURL string) func() (int, []string, time.Duration) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 3 * time.Second}
	var (
		stop     atomic.Bool
		n        int
		failures []string
		slowest  time.Duration
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ; !stop.Load(); time.Sleep(50 * time.Millisecond) {
			n++
			start := time.Now()
			resp, err := client.Get(baseURL + "/healthz")
			slowest = max(slowest, time.Since(start))
			if err != nil {
				failures = append(failures, err.Error())
				continue
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				failures = append(failures, resp.Status)
			}
		}
	}()
	return func() (int, []string, time.Duration) {
		stop.Store(true)
		<-done
		return n, failures, slowest
	}
}

// slowloris opens conns connections that each send request headers one
// byte every 100 ms and never finish them. The returned function waits
// until the server has closed every one of them, or limit has passed, and
// reports an error per connection the server did not close in time.
func slowloris(addr string, conns int, limit time.Duration) func() []error {
	errs := make([]error, conns)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				errs[i] = err
				return
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(limit))
			closed := make(chan error, 1)
			go func() {
				_, err := io.Copy(io.Discard, conn) // until the server hangs up
				closed <- err
			}()
			header := "GET /healthz HTTP/1.1\r\nHost: " + addr + "\r\nX-Slow: " + strings.Repeat("a", 1000)
			for j := 0; ; j++ {
				select {
				case err = <-closed:
				case <-time.After(100 * time.Millisecond):
					if _, werr := conn.Write([]byte{header[j%len(header)]}); werr == nil {
						continue
					}
					err = <-closed // a write fails once the server hung up, or at the deadline
				}
				if errors.Is(err, os.ErrDeadlineExceeded) {
					errs[i] = fmt.Errorf("still open after %v: the server waits for slow headers", limit)
				}
				return
			}
		})
	}
	return func() []error {
		wg.Wait()
		return errs
	}
}

// memoryOf returns the resident and peak resident memory of process pid,
// in bytes (VmRSS and VmHWM of /proc/pid/status).
func memoryOf(t *testing.T, pid int) (rss, peak int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, value, _ := strings.Cut(line, ":")
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		switch {
		case err != nil:
		case name == "VmRSS":
			rss = kb << 10
		case name == "VmHWM":
			peak = kb << 10
		}
	}
	if rss == 0 || peak == 0 {
		t.Fatalf("no VmRSS or VmHWM in /proc/%d/status", pid)
	}
	return rss, peak
}

// writeLog is what concurrent clients had acknowledged, and what they had
// sent without an answer, when the server was killed.
type writeLog struct {
	mu       sync.Mutex
	created  map[string]string // acknowledged creates: id → subject
	deleted  map[string]bool   // acknowledged deletes
	unsure   map[string]bool   // deletes sent, never answered: either outcome is right
	free     []string          // created, no delete sent: what a delete may take
	problems []string          // answers that are wrong whatever the kill did
}

// counts returns how many creates and deletes were acknowledged.
func (l *writeLog) counts() (creates, deletes int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.created), len(l.deleted)
}

// take removes a random id from free, or returns "".
func (l *writeLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.free) == 0 {
		return ""
	}
	i := rand.IntN(len(l.free))
	id := l.free[i]
	l.free[i] = l.free[len(l.free)-1]
	l.free = l.free[:len(l.free)-1]
	return id
}

// put returns an id that take gave to free.
func (l *writeLog) put(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.free = append(l.free, id)
}

// create posts a meeting and records the outcome. A failure is expected only
// once killed is set.
func (l *writeLog) create(client *http.Client, baseURL, token, subject string, killed *atomic.Bool) {
	status, body, err := apiDo(client, http.MethodPost, baseURL+"/v1.0/me/onlineMeetings", token, fmt.Sprintf(`{"subject":%q}`, subject))
	var m createdMeeting
	if err == nil && status == http.StatusCreated {
		err = json.Unmarshal(body, &m)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err != nil && killed.Load(): // never acknowledged
	case err == nil && status == http.StatusCreated && m.ID != "":
		l.created[m.ID] = subject
		l.free = append(l.free, m.ID)
	default:
		l.problems = append(l.problems, fmt.Sprintf("POST create = %d %.200s (%v), want 201", status, body, err))
	}
}

// delete deletes meeting id and records the outcome.
func (l *writeLog) delete(client *http.Client, baseURL, token, id string, killed *atomic.Bool) {
	status, body, err := apiDo(client, http.MethodDelete, baseURL+"/v1.0/me/onlineMeetings/"+url.PathEscape(id), token, "")
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err != nil && killed.Load():
		l.unsure[id] = true
	case err == nil && status == http.StatusNoContent:
		l.deleted[id] = true
	default:
		l.problems = append(l.problems, fmt.Sprintf("DELETE %s = %d %.200s (%v), want 204", id, status, body, err))
	}
}

// testKillDurability runs creates and deletes from concurrent clients,
// kill -9s the server in the middle of them, restarts it on the same store
// and checks every acknowledged write: each 201's meeting is there unless
// its delete got a 204, and each 204's meeting is gone.
func testKillDurability(t *testing.T, bin string, storeArgs []string) {
	dir := t.TempDir()
	const publicURL = "http://onlinemeetings.test"
	args := append([]string{"--data-dir", dir, "--public-url", publicURL, "--log-level", "warn"}, storeArgs...)
	s := startBinary(t, bin, args...)
	token := mintToken(t, "--data-dir", dir, "--public-url", publicURL)

	l := &writeLog{created: map[string]string{}, deleted: map[string]bool{}, unsure: map[string]bool{}}
	for i := range 20 {
		subject := fmt.Sprintf("seed %d", i)
		id := createMeeting(t, s.url, token, subject).ID
		l.created[id] = subject
		l.free = append(l.free, id)
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}, Timeout: 10 * time.Second}
	var killed, stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				if id := l.take(); id != "" && i%2 == 1 {
					l.delete(client, s.url, token, id, &killed)
					continue
				} else if id != "" {
					l.put(id)
				}
				l.create(client, s.url, token, fmt.Sprintf("worker %d create %d", w, i), &killed)
			}
		})
	}

	// Kill once a fair number of writes of each kind was acknowledged.
	deadline := time.Now().Add(30 * time.Second) // against hangs only
	for {
		creates, deletes := l.counts()
		if creates >= 100 && deletes >= 40 {
			break
		}
		if time.Now().After(deadline) {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("after 30 s only %d creates and %d deletes acknowledged; problems: %q", creates, deletes, l.problems)
		}
		time.Sleep(10 * time.Millisecond)
	}
	killed.Store(true)
	s.kill()
	stop.Store(true)
	wg.Wait()
	for _, p := range l.problems {
		t.Error(p)
	}

	s2 := startBinary(t, bin, args...)
	var lost []string
	for id, subject := range l.created {
		status, body, err := apiDo(oneShot, http.MethodGet, s2.url+"/v1.0/me/onlineMeetings/"+url.PathEscape(id), token, "")
		switch {
		case err != nil:
			t.Fatalf("GET after restart: %v", err)
		case l.unsure[id] && (status == http.StatusOK || status == http.StatusNotFound):
		case l.deleted[id]:
			if status != http.StatusNotFound {
				lost = append(lost, fmt.Sprintf("GET %s, acknowledged deleted, = %d %.200s, want 404", id, status, body))
			}
		case status != http.StatusOK || !strings.Contains(string(body), fmt.Sprintf(`"subject":%q`, subject)):
			lost = append(lost, fmt.Sprintf("GET %s, acknowledged created (%q), = %d %.200s, want 200 with its subject", id, subject, status, body))
		}
	}
	t.Logf("after kill -9 and restart: checked %d acknowledged creates, %d acknowledged deletes, %d deletes unanswered at the kill",
		len(l.created), len(l.deleted), len(l.unsure))
	if len(lost) > 0 {
		t.Errorf("%d acknowledged writes lost to kill -9, e.g.:\n%s", len(lost), strings.Join(lost[:min(len(lost), 5)], "\n"))
	}
	s2.stop(t)
}

// apiDo sends one API request with token and a JSON body (if not empty),
// and returns the status and body of the answer.
func apiDo(client *http.Client, method, url, token, body string) (int, []byte, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body)) // "" sends no body
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// postgresSchemaURL returns a --store URL of the database that
// ONLINEMEETINGS_TEST_POSTGRES_URL names, with search_path set to a new
// schema that is dropped when the test ends; without the variable it skips
// the test.
func postgresSchemaURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv("ONLINEMEETINGS_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("ONLINEMEETINGS_TEST_POSTGRES_URL is not set (CI sets it): the kill -9 test runs on SQLite only")
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("ONLINEMEETINGS_TEST_POSTGRES_URL: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to ONLINEMEETINGS_TEST_POSTGRES_URL: %v", err)
	}
	schema := fmt.Sprintf("om_hardening_%d_%d", os.Getpid(), time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		conn.Close(ctx)
		t.Fatal(err)
	}
	// The same connection drops it, after the server process has ended
	// (cleanups run last-registered first).
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema) // pgx sends it as a run-time parameter
	u.RawQuery = q.Encode()
	return u.String()
}

// binServer is the built binary running `serve` in a process of its own.
// Its server's stop sends SIGTERM and wants exit status 0.
type binServer struct {
	*server
	cmd *exec.Cmd
}

// startBinary runs bin serve with args on a free loopback port and waits
// until /readyz answers 200. The process is killed at the end of the test
// if it still runs.
func startBinary(t *testing.T, bin string, args ...string) *binServer {
	t.Helper()
	for attempt := 0; ; attempt++ {
		addr := freeAddr(t)
		all := append([]string{"serve", "--addr", addr}, args...)
		s := &server{url: "http://" + addr, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1)}
		cmd := exec.Command(bin, all...)
		cmd.Env = cleanEnv()
		cmd.Stdout, cmd.Stderr = s.stdout, s.stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { s.done <- cmd.Wait() }()
		s.cancel = func() { _ = cmd.Process.Signal(syscall.SIGTERM) }
		b := &binServer{server: s, cmd: cmd}
		t.Cleanup(b.kill)
		err := s.waitReady()
		if err == nil {
			return b
		}
		b.kill()
		if attempt < 3 && strings.Contains(s.stderr.String(), "address already in use") {
			continue
		}
		t.Fatalf("%s %q: %v\nstderr:\n%s", bin, all, err, s.stderr)
	}
}

// addr is the host:port the server listens on.
func (b *binServer) addr() string { return strings.TrimPrefix(b.url, "http://") }

// kill sends SIGKILL, as kill -9 does, unless the process has exited, and
// waits for it to end.
func (b *binServer) kill() {
	_ = b.cmd.Process.Kill() // fails once the process has exited
	err := <-b.done
	b.done <- err
}

// exitStatus waits for the process to exit and returns its exit status.
func (b *binServer) exitStatus(t *testing.T) int {
	t.Helper()
	select {
	case err := <-b.done:
		b.done <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		} else if err != nil {
			t.Fatalf("waiting for the server: %v", err)
		}
		return 0
	case <-time.After(15 * time.Second): // against hangs only
		t.Fatalf("the server did not exit within 15 s\nstderr:\n%s", b.stderr)
		return -1
	}
}
