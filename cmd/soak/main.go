// Command soak proves that the server loses no acknowledged write when it
// is killed. For a bounded time it drives the real binary (dev token
// issuer, SQLite in a temporary folder unless -store says otherwise) over
// loopback with concurrent create, get, patch, delete, createOrGet and list
// requests, kill -9s it every 15 to 20 s and restarts it on the same store.
// After each restart, and at the end (after a SIGTERM and a restart), it
// reads back every meeting the clients know of:
//
//   - a 201 create or createOrGet is readable, unless its delete got a 204;
//   - a 204 delete reads 404;
//   - the subject is the one of the meeting's last acknowledged PATCH (or
//     create), or of a later PATCH that was in flight at a kill and so may
//     or may not have committed.
//
// It prints the requests by operation and status, connection errors (those
// around kills apart), and "acknowledged-but-lost writes: N". It exits with
// status 1 when N > 0, when an answer during the load contradicts the
// record (a GET showing a subject never written, a createOrGet of a known
// externalId answering another meeting), or when a check could not run.
// The server listens on 127.0.0.1 only.
//
//	go run ./cmd/soak -bin bin/onlinemeetings [-duration 2m] [-workers 8] [-store URL]
package main

import (
	"cmp"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// publicURL is the server's --public-url in every run, so that one dev
// token stays valid whatever port a restart listens on.
const publicURL = "http://soak.onlinemeetings.test"

func main() {
	failures, err := run(os.Args[1:], os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if failures > 0 {
		os.Exit(1)
	}
}

// run runs the soak and returns how many acknowledged writes were lost plus
// how many answers contradicted earlier ones.
func run(args []string, out io.Writer) (int, error) {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	bin := fs.String("bin", "bin/onlinemeetings", "server binary")
	duration := fs.Duration("duration", 2*time.Minute, "how long to run the load")
	killEvery := fs.Duration("kill-every", 15*time.Second, "load between two kills; each round adds up to 5 s at random")
	workers := fs.Int("workers", 8, "concurrent clients")
	storeURL := fs.String("store", "", "the server's --store (default: SQLite in a temporary folder)")
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	if fs.NArg() > 0 || *duration <= 0 || *killEvery <= 0 || *workers < 1 {
		return 0, errors.New("usage: soak [-bin PATH] [-duration D] [-kill-every D] [-workers N] [-store URL]")
	}
	dir, err := os.MkdirTemp("", "onlinemeetings-soak-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	if *storeURL == "" {
		*storeURL = "sqlite://" + filepath.Join(dir, "soak.db")
	}
	srv := &server{bin: *bin, logPath: filepath.Join(dir, "server.log"),
		args: []string{"--data-dir", dir, "--public-url", publicURL, "--store", *storeURL, "--log-level", "warn"}}
	fmt.Fprintf(out, "soak: %s, store %s, %d workers, %v, kill -9 every %v to %v\n",
		*bin, redact(*storeURL), *workers, *duration, *killEvery, *killEvery+5*time.Second)
	if err := srv.start(); err != nil {
		return 0, err
	}
	defer srv.kill()
	tok, err := exec.Command(*bin, "token", "--data-dir", dir, "--public-url", publicURL, "--ttl", (*duration + time.Hour).String()).Output()
	if err != nil {
		return 0, fmt.Errorf("minting a dev token: %w", err)
	}

	c := &clients{
		http:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *workers}, Timeout: 30 * time.Second},
		token: strings.TrimSpace(string(tok)),
		stats: newStats(),
		log:   &ledger{acks: map[string]int{}},
	}
	end := time.Now().Add(*duration)
	lost := 0
	check := func() error {
		if err := srv.start(); err != nil {
			return err
		}
		n, lostNow, err := c.verify(srv.url, *workers)
		lost += len(lostNow)
		for _, l := range lostNow[:min(len(lostNow), 10)] {
			fmt.Fprintln(out, "  LOST:", l)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  restarted, checked %d meetings: %d lost\n", n, len(lostNow))
		return nil
	}
	for round := 1; time.Until(end) > 0; round++ {
		load := *killEvery + mathrand.N(5*time.Second)
		last := time.Until(end) <= load
		if last {
			load = time.Until(end)
		}
		stop := c.startLoad(srv.url, *workers)
		time.Sleep(load)
		if last {
			stop() // every request finishes: nothing is in flight at the SIGTERM below
			fmt.Fprintf(out, "round %d: %v of load\n", round, load.Round(time.Second))
			break
		}
		c.stats.killing.Store(true)
		c.stats.kills++
		if err := srv.kill(); err != nil {
			return lost, err
		}
		stop()
		c.stats.killing.Store(false)
		fmt.Fprintf(out, "round %d: %v of load, then kill -9\n", round, load.Round(time.Second))
		if err := check(); err != nil {
			return lost, err
		}
	}
	c.http.CloseIdleConnections()
	if err := srv.stop(); err != nil {
		return lost, err
	}
	fmt.Fprintln(out, "end: SIGTERM, exit status 0")
	if err := check(); err != nil {
		return lost, err
	}
	c.http.CloseIdleConnections()
	if err := srv.stop(); err != nil {
		return lost, err
	}
	c.stats.print(out, c.log)
	fmt.Fprintf(out, "acknowledged-but-lost writes: %d\n", lost)
	return lost + len(c.stats.unexpectedMsgs), nil
}

// meeting is what the clients know of one meeting they created.
type meeting struct {
	id         string
	externalID string // for createOrGet; "" for a plain create
	// subjects are what GET may show: the last acknowledged value first,
	// then values of PATCHes sent later without an answer.
	subjects  []string
	gone      bool // its delete got a 204
	mayBeGone bool // a delete was sent without an answer
	lost      bool // found lost once: not counted again
	busy      bool // a worker has it: one request at a time per meeting
}

// ledger is every meeting the clients created, and those they may still use.
type ledger struct {
	mu   sync.Mutex
	all  []*meeting
	live []*meeting     // neither gone nor maybe gone (pruned lazily)
	acks map[string]int // acknowledged writes by operation
}

func (l *ledger) add(m *meeting, op string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, m)
	l.live = append(l.live, m)
	l.acks[op]++
}

// checkout gives a worker a random live meeting that no other worker has
// (with an externalId if withExternalID), or nil.
func (l *ledger) checkout(withExternalID bool) *meeting {
	l.mu.Lock()
	defer l.mu.Unlock()
	for range 8 {
		if len(l.live) == 0 {
			return nil
		}
		i := mathrand.IntN(len(l.live))
		m := l.live[i]
		if m.gone || m.mayBeGone || m.lost {
			l.live[i] = l.live[len(l.live)-1]
			l.live = l.live[:len(l.live)-1]
			continue
		}
		if m.busy || withExternalID && m.externalID == "" {
			continue
		}
		m.busy = true
		return m
	}
	return nil
}

// checkin records what the worker learnt and gives m back.
func (l *ledger) checkin(m *meeting, update func(m *meeting)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	update(m)
	m.busy = false
}

// clients are the load's workers and what they share.
type clients struct {
	http  *http.Client
	token string
	stats *stats
	log   *ledger
	seq   atomic.Int64 // makes subjects and externalIds unique
}

// startLoad starts n workers against baseURL; the returned function stops
// them and waits until each one's request in flight has ended.
func (c *clients) startLoad(baseURL string, n int) (stop func()) {
	var done atomic.Bool
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for !done.Load() {
				c.step(baseURL)
			}
		})
	}
	return func() {
		done.Store(true)
		wg.Wait()
	}
}

// step sends one request of a random operation and records its outcome.
func (c *clients) step(baseURL string) {
	meetings := baseURL + "/v1.0/me/onlineMeetings"
	n := c.seq.Add(1)
	subject := fmt.Sprintf("soak %d", n)
	switch p := mathrand.IntN(100); {
	case p < 20:
		if m := c.create("create", meetings, fmt.Sprintf(`{"subject":%q}`, subject)); m != nil {
			c.log.add(&meeting{id: m.ID, subjects: []string{subject}}, "create")
		}
	case p < 30:
		ext := newExternalID()
		if m := c.create("createOrGet", meetings+"/createOrGet", fmt.Sprintf(`{"externalId":%q,"subject":%q}`, ext, subject)); m != nil {
			c.log.add(&meeting{id: m.ID, externalID: ext, subjects: []string{subject}}, "createOrGet")
		}
	case p < 35:
		// createOrGet of a meeting that exists: 200 and the same meeting.
		m := c.log.checkout(true)
		if m == nil {
			return
		}
		status, b, err := c.do("createOrGet existing", http.MethodPost, meetings+"/createOrGet", fmt.Sprintf(`{"externalId":%q,"subject":%q}`, m.externalID, subject))
		var got apiMeeting
		if err == nil && status == http.StatusOK && (json.Unmarshal(b, &got) != nil || got.ID != m.id) {
			c.stats.unexpected(fmt.Sprintf("createOrGet of %s's externalId answered %.200s", m.id, b))
		}
		c.log.checkin(m, func(*meeting) {})
	case p < 60:
		m := c.log.checkout(false)
		if m == nil {
			return
		}
		status, b, err := c.do("get", http.MethodGet, meetings+"/"+url.PathEscape(m.id), "")
		var got apiMeeting
		if err == nil && status == http.StatusOK && (json.Unmarshal(b, &got) != nil || !slices.Contains(m.subjects, got.Subject)) {
			c.stats.unexpected(fmt.Sprintf("GET %s answered %.200s, want subject %q", m.id, b, m.subjects))
		}
		c.log.checkin(m, func(*meeting) {})
	case p < 85:
		m := c.log.checkout(false)
		if m == nil {
			return
		}
		status, _, err := c.do("patch", http.MethodPatch, meetings+"/"+url.PathEscape(m.id), fmt.Sprintf(`{"subject":%q}`, subject))
		c.log.checkin(m, func(m *meeting) {
			switch {
			case err != nil: // may have committed, or not
				m.subjects = append(m.subjects, subject)
				c.stats.unanswered.Add(1)
			case status == http.StatusOK:
				m.subjects = []string{subject}
				c.log.acks["patch"]++
			}
		})
	case p < 95:
		m := c.log.checkout(false)
		if m == nil {
			return
		}
		status, _, err := c.do("delete", http.MethodDelete, meetings+"/"+url.PathEscape(m.id), "")
		c.log.checkin(m, func(m *meeting) {
			switch {
			case err != nil:
				m.mayBeGone = true
				c.stats.unanswered.Add(1)
			case status == http.StatusNoContent:
				m.gone = true
				c.log.acks["delete"]++
			}
		})
	default:
		c.do("list", http.MethodGet, meetings+"?$top=20", "")
	}
}

// apiMeeting is the part of a meeting the soak reads.
type apiMeeting struct {
	ID      string `json:"id"`
	Subject string `json:"subject"`
}

// create sends a create (op names it in the statistics) and returns the
// meeting of a 201, or nil.
func (c *clients) create(op, url, body string) *apiMeeting {
	status, b, err := c.do(op, http.MethodPost, url, body)
	var m apiMeeting
	if err != nil || status != http.StatusCreated {
		return nil
	}
	if err := json.Unmarshal(b, &m); err != nil || m.ID == "" {
		c.stats.unexpected(fmt.Sprintf("%s answered 201 %.200s", op, b))
		return nil
	}
	return &m
}

// do sends one request (op names it in the statistics) and returns the
// status and body of the answer.
func (c *clients) do(op, method, url, body string) (int, []byte, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body)) // "" sends no body
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	var b []byte
	if err == nil {
		b, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err != nil {
		c.stats.connError()
		return 0, nil, err
	}
	c.stats.count(op, resp.StatusCode)
	return resp.StatusCode, b, nil
}

// verify reads back every known meeting with n concurrent GETs and returns
// how many it checked and a line for each acknowledged write it found
// lost. What a GET shows settles what an unanswered write did.
func (c *clients) verify(baseURL string, n int) (int, []string, error) {
	c.log.mu.Lock()
	all := slices.Clone(c.log.all)
	c.log.mu.Unlock()
	var (
		mu       sync.Mutex
		lost     []string
		firstErr error
		next     atomic.Int64
		wg       sync.WaitGroup
	)
	for range n {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(all)); i = next.Add(1) - 1 {
				m := all[i]
				if m.lost {
					continue
				}
				got, err := c.read(baseURL, m.id)
				mu.Lock()
				switch {
				case err != nil:
					firstErr = cmp.Or(firstErr, err)
				case got == nil && !m.gone && !m.mayBeGone:
					m.lost = true
					lost = append(lost, fmt.Sprintf("meeting %s (subject %q) acknowledged created, now 404", m.id, m.subjects[0]))
				case got == nil:
					m.gone = true
				case m.gone:
					m.lost = true
					lost = append(lost, fmt.Sprintf("meeting %s acknowledged deleted, still readable", m.id))
				case !slices.Contains(m.subjects, got.Subject):
					m.lost = true
					lost = append(lost, fmt.Sprintf("meeting %s has subject %q, want %q", m.id, got.Subject, m.subjects))
				default:
					m.subjects, m.mayBeGone = []string{got.Subject}, false
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	c.stats.verified += len(all)
	return len(all), lost, firstErr
}

// read GETs meeting id: the meeting, nil for a 404, or an error.
func (c *clients) read(baseURL, id string) (*apiMeeting, error) {
	req, err := http.NewRequest(http.MethodGet, baseURL+"/v1.0/me/onlineMeetings/"+url.PathEscape(id), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("verifying %s: %w", id, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return nil, fmt.Errorf("verifying %s: %w", id, err)
	case resp.StatusCode == http.StatusNotFound:
		return nil, nil
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("verifying %s: GET = %d %.200s", id, resp.StatusCode, b)
	}
	var m apiMeeting
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("verifying %s: %w", id, err)
	}
	return &m, nil
}

func newExternalID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return fmt.Sprintf("soak-%x", b)
}

// stats counts the load's requests.
type stats struct {
	mu             sync.Mutex
	byOp           map[string]map[int]int // operation → status → count
	killing        atomic.Bool            // a kill is under way: connection errors are expected
	unanswered     atomic.Int64           // PATCHes and DELETEs without an answer: either outcome is right
	connErrKill    int
	connErrOther   int
	unexpectedMsgs []string
	kills          int
	verified       int
}

func newStats() *stats { return &stats{byOp: map[string]map[int]int{}} }

func (s *stats) count(op string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byOp[op] == nil {
		s.byOp[op] = map[int]int{}
	}
	s.byOp[op][status]++
}

func (s *stats) connError() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.killing.Load() {
		s.connErrKill++
	} else {
		s.connErrOther++
	}
}

func (s *stats) unexpected(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unexpectedMsgs = append(s.unexpectedMsgs, msg)
}

// wantStatus is each operation's success status; others count as errors.
var wantStatus = map[string]int{
	"create": http.StatusCreated, "createOrGet": http.StatusCreated, "createOrGet existing": http.StatusOK,
	"get": http.StatusOK, "patch": http.StatusOK, "delete": http.StatusNoContent, "list": http.StatusOK,
}

func (s *stats) print(out io.Writer, l *ledger) {
	s.mu.Lock()
	defer s.mu.Unlock()
	total := 0
	errsByStatus := map[int]int{}
	fmt.Fprintln(out, "requests by operation (status: count):")
	for _, op := range slices.Sorted(maps.Keys(s.byOp)) {
		var parts []string
		n := 0
		for _, st := range slices.Sorted(maps.Keys(s.byOp[op])) {
			c := s.byOp[op][st]
			n += c
			parts = append(parts, fmt.Sprintf("%d: %d", st, c))
			if st != wantStatus[op] {
				errsByStatus[st] += c
			}
		}
		total += n
		fmt.Fprintf(out, "  %-21s %7d  (%s)\n", op, n, strings.Join(parts, ", "))
	}
	fmt.Fprintf(out, "requests: %d answered, plus %d verification GETs; kill -9: %d\n", total, s.verified, s.kills)
	var errs []string
	for _, st := range slices.Sorted(maps.Keys(errsByStatus)) {
		errs = append(errs, fmt.Sprintf("%d: %d", st, errsByStatus[st]))
	}
	fmt.Fprintf(out, "errors by status: %s\n", cmp.Or(strings.Join(errs, ", "), "none"))
	fmt.Fprintf(out, "connection errors: %d around kills, %d otherwise; %d of them PATCHes or DELETEs, whose outcome may be either\n",
		s.connErrKill, s.connErrOther, s.unanswered.Load())
	fmt.Fprintf(out, "answers that contradict earlier ones: %d\n", len(s.unexpectedMsgs))
	for _, m := range s.unexpectedMsgs[:min(len(s.unexpectedMsgs), 10)] {
		fmt.Fprintln(out, "  ", m)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(out, "acknowledged writes: %d creates, %d createOrGet creates, %d patches, %d deletes\n",
		l.acks["create"], l.acks["createOrGet"], l.acks["patch"], l.acks["delete"])
}

// server is the binary running serve, one process at a time.
type server struct {
	bin     string
	args    []string
	logPath string // every run's stderr, appended
	url     string
	cmd     *exec.Cmd
	done    chan error
}

// start runs the server on a free loopback port and waits until /readyz
// answers 200.
func (s *server) start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	ln.Close()
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own copy
	s.cmd = exec.Command(s.bin, append([]string{"serve", "--addr", addr}, s.args...)...)
	s.cmd.Stderr = logf
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.url, s.done = "http://"+addr, make(chan error, 1)
	go func() { s.done <- s.cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("server exited before ready: %v\n%s", err, s.logTail())
		default:
		}
		if resp, err := http.Get(s.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.kill()
	return fmt.Errorf("server not ready after 60 s\n%s", s.logTail())
}

// kill sends SIGKILL and waits for the process to end.
func (s *server) kill() error {
	if s.cmd == nil {
		return nil
	}
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	err := <-s.done
	s.done <- err
	return nil
}

// stop sends SIGTERM and wants exit status 0 within a minute. Close the
// clients' idle connections first: net/http's Shutdown waits up to 5 s for
// a pooled connection that never carried a request.
func (s *server) stop() error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			return fmt.Errorf("server after SIGTERM: %v\n%s", err, s.logTail())
		}
		return nil
	case <-time.After(time.Minute):
		s.kill()
		return fmt.Errorf("server did not exit within a minute of SIGTERM\n%s", s.logTail())
	}
}

// logTail is the end of the server's log, for error messages.
func (s *server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b[max(0, len(b)-4000):])
}

// redact hides a password in a store URL.
func redact(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}
