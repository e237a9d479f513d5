// Command loadtest measures create and get throughput over loopback: it
// starts the real server binary (dev issuer, a fresh data folder, one or two
// replicas) and a bare Echo handler that answers the same requests with
// canned bodies, drives each with the same closed-loop load, and prints both
// and their ratio. The two are measured in the same run because this machine
// is noisy: compare the ratio, not the absolute numbers.
//
// Operations (-op, comma list, default create,get):
//   - create: POST /v1.0/me/onlineMeetings, expecting 201 (bare: a canned
//     201 with a whole meeting, the size of the real answer).
//   - get: one meeting is created first on the server under test, then
//     GET /v1.0/me/onlineMeetings/{id} expecting 200 (bare: the same canned
//     meeting with 200).
//
// Stores (-store, comma list, default sqlite,memory):
//   - sqlite, memory: one server process with a fresh data folder.
//   - postgres: one server process on a fresh schema om_load_<random> in the
//     database -pg-url names (default $ONLINEMEETINGS_TEST_POSTGRES_URL),
//     passed to the server as the URL's search_path; dropped at the end.
//   - postgres2: two server processes on one such schema, with the same
//     --data-dir and --public-url so both accept the same token; the -conns
//     connections are split evenly between them (the same total load as one
//     replica).
//
// Each (store, op) prints one line: req/s, errors, p50/p99, the CPU time
// the target's processes used per request (Linux; for PostgreSQL without
// the database's own) and the ratio to the bare handler for the same op.
// With -rounds N everything is measured N times, bare handler and servers
// alternating (each round a fresh server and database), and the last lines
// give the median and range of each ratio and CPU time: on a noisy machine
// one round's ratio moves by a tenth or more, the median of five far less.
//
// -bin takes a comma list to compare builds of the server (a change against
// its base, say): every round measures each of them, in an order rotated
// from round to round, against that round's bare handler.
//
//	go run ./cmd/loadtest -bin bin/onlinemeetings [-conns 16] [-duration 10s] [-warmup 2s] \
//	  [-store sqlite,memory,postgres,postgres2] [-op create,get] [-rounds 1] [-pg-url postgres://…]
//
// For example, with PostgreSQL:
//
//	ONLINEMEETINGS_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' \
//	  go run ./cmd/loadtest -bin bin/onlinemeetings -store sqlite,memory,postgres,postgres2 -op create,get
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v5"
	"github.com/onlinemeetings/onlinemeetings/store/postgres/pgschema"
)

const requestBody = `{"startDateTime":"2019-07-12T14:30:34.2444915-07:00","endDateTime":"2019-07-12T15:00:34.2464912-07:00","subject":"User Token Meeting"}`

// envPGURL is the variable the PostgreSQL tests read too (store/postgres/pgtest).
const envPGURL = "ONLINEMEETINGS_TEST_POSTGRES_URL"

const collection = "/v1.0/me/onlineMeetings"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// op is one measured request: method, path below the target's base URL, body
// and the status that counts as success.
type op struct {
	name   string
	method string
	path   string
	body   string
	want   int
}

func run(args []string) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	bins := fs.String("bin", "bin/onlinemeetings", "server binary to measure; a comma list compares builds: each round measures every one against that round's bare handler, in an order that rotates from round to round")
	conns := fs.Int("conns", 16, "concurrent connections (closed loop); split evenly between replicas")
	duration := fs.Duration("duration", 10*time.Second, "measuring time per target and op")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured load before each measurement")
	stores := fs.String("store", "sqlite,memory", "comma-separated stores to measure the server with: sqlite, memory, postgres (one replica), postgres2 (two replicas on one database)")
	ops := fs.String("op", "create,get", "comma-separated operations to measure: create (POST, 201), get (GET one meeting, 200)")
	pgURL := fs.String("pg-url", os.Getenv(envPGURL), "PostgreSQL URL for -store postgres/postgres2; each run uses a fresh schema in it (default $"+envPGURL+")")
	rounds := fs.Int("rounds", 1, "measure everything this many times, alternating bare handler and server, and end with the median of each ratio (this machine is noisy)")
	bareAddr := fs.String("bare-serve", "", "internal: serve the bare handler on this address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *bareAddr != "" {
		return serveBare(*bareAddr)
	}

	opNames, err := list(*ops, "create", "get")
	if err != nil {
		return fmt.Errorf("-op: %w", err)
	}
	storeKinds, err := list(*stores, "sqlite", "memory", "postgres", "postgres2")
	if err != nil {
		return fmt.Errorf("-store: %w", err)
	}
	if *conns < 1 {
		return errors.New("-conns must be at least 1")
	}
	if *rounds < 1 {
		return errors.New("-rounds must be at least 1")
	}
	binList, err := list(*bins)
	if err != nil {
		return fmt.Errorf("-bin: %w", err)
	}
	for _, st := range storeKinds {
		if strings.HasPrefix(st, "postgres") && *pgURL == "" {
			return fmt.Errorf("-store %s needs a PostgreSQL database: pass -pg-url or set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", st, envPGURL)
		}
	}

	bare, barePID, stopBare, err := startBare()
	if err != nil {
		return err
	}
	defer stopBare()
	// Each round's ratio and CPU time per request, by target ("store" or,
	// comparing builds, "store, bin") and op.
	ratios := map[string][]float64{}
	cpus := map[string][]float64{} // µs per request
	var order []string
	for round := 1; round <= *rounds; round++ {
		if *rounds > 1 {
			fmt.Printf("round %d of %d\n", round, *rounds)
		}
		bareResults := map[string]result{}
		for _, name := range opNames {
			o := op{name: "create", method: http.MethodPost, path: collection, body: requestBody, want: http.StatusCreated}
			if name == "get" {
				o = op{name: "get", method: http.MethodGet, path: collection + "/" + url.PathEscape(bareMeetingID), want: http.StatusOK}
			}
			res, err := measure([]string{bare}, []int{barePID}, "", o, *conns, *warmup, *duration)
			if err != nil {
				return fmt.Errorf("bare handler, %s: %w", name, err)
			}
			bareResults[name] = res
			fmt.Printf("%-28s %s\n", "bare Echo handler "+name+":", res)
		}
		for i := range binList {
			bin := binList[(i+round-1)%len(binList)]
			for _, st := range storeKinds {
				target := st
				if len(binList) > 1 {
					target += ", " + bin
				}
				got, err := measureStore(bin, st, target, *pgURL, opNames, bareResults, *conns, *warmup, *duration)
				if err != nil {
					return err
				}
				for _, name := range opNames {
					key := target + ") " + name
					if !slices.Contains(order, key) {
						order = append(order, key)
					}
					ratios[key] = append(ratios[key], got[name].rps/bareResults[name].rps)
					cpus[key] = append(cpus[key], float64(got[name].cpu)/float64(time.Microsecond))
				}
			}
		}
	}
	if *rounds > 1 {
		fmt.Printf("median of %d rounds (min–max):\n", *rounds)
		for _, key := range order {
			r := slices.Sorted(slices.Values(ratios[key]))
			c := slices.Sorted(slices.Values(cpus[key]))
			fmt.Printf("  %-26s ratio %.3f× of bare (%.3f–%.3f), target CPU %.0fµs/req (%.0f–%.0f)\n",
				"server ("+key+":", median(r), r[0], r[len(r)-1], median(c), c[0], c[len(c)-1])
		}
	}
	return nil
}

// median returns the middle of sorted values, or the mean of the two in
// the middle.
func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// measureStore starts the server(s) of bin for one store kind, measures
// every op against them, prints each result with its ratio to the bare
// handler's, and stops them. target names them in what it prints.
func measureStore(bin, kind, target, pgURL string, opNames []string, bare map[string]result, conns int, warmup, duration time.Duration) (map[string]result, error) {
	urls, pids, token, stop, err := startTarget(bin, kind, pgURL)
	if err != nil {
		return nil, fmt.Errorf("server (%s): %w", target, err)
	}
	defer stop()
	results := map[string]result{}
	for _, name := range opNames {
		o := op{name: "create", method: http.MethodPost, path: collection, body: requestBody, want: http.StatusCreated}
		if name == "get" {
			id, err := createOne(urls[0], token)
			if err != nil {
				return nil, fmt.Errorf("server (%s): creating the meeting to get: %w", target, err)
			}
			o = op{name: "get", method: http.MethodGet, path: collection + "/" + url.PathEscape(id), want: http.StatusOK}
		}
		res, err := measure(urls, pids, token, o, conns, warmup, duration)
		if err != nil {
			return nil, fmt.Errorf("server (%s), %s: %w", target, name, err)
		}
		results[name] = res
		fmt.Printf("%-28s %s  ratio %.3f× of bare\n", "server ("+target+") "+name+":", res, res.rps/bare[name].rps)
	}
	return results, nil
}

// list splits a comma list, trims it and checks every item is allowed
// (anything is, when allowed is empty).
func list(s string, allowed ...string) ([]string, error) {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if len(allowed) > 0 && !slices.Contains(allowed, item) {
			return nil, fmt.Errorf("unknown %q (want one of %s)", item, strings.Join(allowed, ", "))
		}
		out = append(out, item)
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	return out, nil
}

// result is one measurement.
type result struct {
	rps      float64
	requests int
	errors   int
	p50, p99 time.Duration
	// cpu is the CPU time the target's processes used per answered
	// request while measuring (user and system, from /proc), 0 when it
	// could not be read. For postgres and postgres2 it leaves out the
	// database server's own.
	cpu time.Duration
}

func (r result) String() string {
	s := fmt.Sprintf("%8.0f req/s  (%d requests, %d errors, p50 %v, p99 %v", r.rps, r.requests, r.errors, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond))
	if r.cpu > 0 {
		s += fmt.Sprintf(", target CPU %v/req", r.cpu.Round(100*time.Nanosecond))
	}
	return s + ")"
}

// measure runs conns closed-loop clients, connection i against
// bases[i%len(bases)], each repeating o: warmup, then duration. pids are the
// target's processes, whose CPU time it reads around the measured part.
func measure(bases []string, pids []int, token string, o op, conns int, warmup, duration time.Duration) (result, error) {
	var measuring atomic.Bool
	var mu sync.Mutex
	var latencies []time.Duration
	var errCount atomic.Int64
	var firstErr atomic.Value
	ctx, cancel := context.WithTimeout(context.Background(), warmup+duration)
	defer cancel()
	var wg sync.WaitGroup
	var start time.Time
	for i := range conns {
		target := bases[i%len(bases)] + o.path
		wg.Go(func() {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			var local []time.Duration
			for ctx.Err() == nil {
				var body io.Reader
				if o.body != "" {
					body = strings.NewReader(o.body)
				}
				req, _ := http.NewRequestWithContext(ctx, o.method, target, body)
				if o.body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				t0 := time.Now()
				res, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != o.want {
						err = fmt.Errorf("status %d", res.StatusCode)
					}
				}
				if ctx.Err() != nil {
					break
				}
				if !measuring.Load() {
					continue
				}
				if err != nil {
					errCount.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		})
	}
	time.Sleep(warmup)
	cpu0, cpuOK := cpuTime(pids)
	start = time.Now()
	measuring.Store(true)
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, cpuOK1 := cpuTime(pids)
	if len(latencies) == 0 {
		return result{}, fmt.Errorf("no successful request (first error: %v)", firstErr.Load())
	}
	slices.Sort(latencies)
	res := result{
		rps:      float64(len(latencies)) / elapsed.Seconds(),
		requests: len(latencies),
		errors:   int(errCount.Load()),
		p50:      latencies[len(latencies)/2],
		p99:      latencies[len(latencies)*99/100],
	}
	// The clients stop with the context, a little after the window: the
	// CPU read after wg.Wait covers their last requests, which are not
	// counted, so this errs a little high.
	if cpuOK && cpuOK1 {
		res.cpu = (cpu1 - cpu0) / time.Duration(len(latencies))
	}
	return res, nil
}

// clockTick is the unit of the CPU times in /proc/PID/stat (USER_HZ): 100
// per second on every Linux this runs on.
const clockTick = 10 * time.Millisecond

// cpuTime returns the user and system CPU time the processes pids have
// used, from /proc/PID/stat (Linux); false when any cannot be read.
func cpuTime(pids []int) (time.Duration, bool) {
	var total time.Duration
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, false
		}
		// The command name (field 2) is in parentheses and may hold
		// spaces; utime and stime are fields 14 and 15.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			return 0, false
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			return 0, false
		}
		for _, v := range f[11:13] {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, false
			}
			total += time.Duration(n) * clockTick
		}
	}
	return total, true
}

// createOne creates a meeting on base and returns its id.
func createOne(base, token string) (string, error) {
	req, _ := http.NewRequest(http.MethodPost, base+collection, strings.NewReader(requestBody))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("status %d: %s", res.StatusCode, b)
	}
	var m struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.ID == "" {
		return "", fmt.Errorf("no id in the 201 body: %s", b)
	}
	return m.ID, nil
}

// startTarget runs the real binary in dev mode for one store kind: one
// replica, or two for postgres2, on free loopback ports, sharing one fresh
// data folder and public URL (so one dev token works on both). It returns the
// replicas' URLs and process ids, a dev token and a stop function that also drops the
// PostgreSQL schema.
func startTarget(bin, kind, pgURL string) (urls []string, pids []int, token string, stop func(), err error) {
	var cleanups []func()
	// cleanup, not the named result stop, which every error return sets
	// to nil before this deferred call runs.
	cleanup := func() {
		for _, f := range slices.Backward(cleanups) {
			f()
		}
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	dir, err := os.MkdirTemp("", "onlinemeetings-load-")
	if err != nil {
		return nil, nil, "", nil, err
	}
	cleanups = append(cleanups, func() { _ = os.RemoveAll(dir) })
	replicas := 1
	var storeURL string
	switch kind {
	case "sqlite":
		storeURL = "sqlite://" + filepath.Join(dir, "meetings.db")
	case "memory":
		storeURL = "memory:"
	case "postgres", "postgres2":
		if kind == "postgres2" {
			replicas = 2
		}
		u, drop, err := pgschema.New(pgURL, "om_load")
		if err != nil {
			return nil, nil, "", nil, fmt.Errorf("-pg-url: %w", err)
		}
		cleanups = append(cleanups, func() {
			if err := drop(); err != nil {
				fmt.Fprintf(os.Stderr, "loadtest: %v\n", err)
			}
		})
		storeURL = u
	default:
		return nil, nil, "", nil, fmt.Errorf("unknown store %q", kind)
	}
	addrs := make([]string, replicas)
	for i := range addrs {
		if addrs[i], err = freeAddr(); err != nil {
			return nil, nil, "", nil, err
		}
	}
	// Every replica gets the first one's URL as --public-url, as replicas
	// behind one load balancer share its address.
	publicURL := "http://" + addrs[0]
	for _, addr := range addrs {
		cmd := exec.Command(bin, "serve", "--addr", addr, "--public-url", publicURL, "--data-dir", dir, "--store", storeURL, "--log-level", "error")
		cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
		if err := cmd.Start(); err != nil {
			return nil, nil, "", nil, err
		}
		pids = append(pids, cmd.Process.Pid)
		cleanups = append(cleanups, func() {
			_ = cmd.Process.Signal(os.Interrupt)
			_ = cmd.Wait()
		})
		u := "http://" + addr
		// One at a time: the first creates the dev issuer key in dir, the
		// second reads it.
		if err := waitReady(u + "/readyz"); err != nil {
			return nil, nil, "", nil, err
		}
		urls = append(urls, u)
	}
	out, err := exec.Command(bin, "token", "--data-dir", dir, "--public-url", publicURL).Output()
	if err != nil {
		return nil, nil, "", nil, fmt.Errorf("minting a token: %w", err)
	}
	return urls, pids, strings.TrimSpace(string(out)), cleanup, nil
}

// startBare re-runs this program as the bare handler in its own process, as
// the real server runs in its own, and returns its URL and process id.
func startBare() (base string, pid int, stop func(), err error) {
	addr, err := freeAddr()
	if err != nil {
		return "", 0, nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return "", 0, nil, err
	}
	cmd := exec.Command(self, "-bare-serve", addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	stop = func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	if err := waitReady("http://" + addr + "/readyz"); err != nil {
		stop()
		return "", 0, nil, err
	}
	return "http://" + addr, cmd.Process.Pid, stop, nil
}

// bareMeetingID is the id in the bare handler's canned meeting.
const bareMeetingID = "MSpjNWI4MWJjNC0zZTllLTQzMDktYTJiYS0wZTM3NTNkNzg1NTIqMCoqMTk6bWVldGluZ19OMlk1TlRRM04yVXRPV0poTUMwME0yWXhMV0l5TnpRdE5qVXhObVl6WVdNek56bGpAdGhyZWFkLnYy"

// cannedMeeting is a whole meeting as the real server renders it (about
// 2.2 KB, captured from a dev-mode server), the bare handler's answer to
// both POST and GET, so each ratio compares responses of the same size.
const cannedMeeting = `{"@odata.context":"http://localhost/v1.0/$metadata#users('c5b81bc4-3e9e-4309-a2ba-0e3753d78552')/onlineMeetings/$entity","allowAttendeeToEnableCamera":true,"allowAttendeeToEnableMic":true,"allowBreakoutRooms":null,"allowCopyingAndSharingMeetingContent":null,"allowLiveShare":null,"allowMeetingChat":"enabled","allowParticipantsToChangeName":false,"allowPowerPointSharing":null,"allowRecording":null,"allowTeamworkReactions":true,"allowTranscription":null,"allowWhiteboard":null,"allowedLobbyAdmitters":null,"allowedPresenters":"everyone","attendeeReport":null,"audioConferencing":null,"broadcastSettings":null,"chatInfo":{"messageId":"0","replyChainMessageId":null,"threadId":"19:meeting_N2Y5NTQ3N2UtOWJhMC00M2YxLWIyNzQtNjUxNmYzYWMzNzlj@thread.v2"},"chatRestrictions":null,"cloudVideoInteropInfo":null,"creationDateTime":"2026-11-27T01:41:58.8382138Z","endDateTime":"2019-07-12T22:00:34.2464912Z","expiryDateTime":null,"externalId":null,"id":"MSpjNWI4MWJjNC0zZTllLTQzMDktYTJiYS0wZTM3NTNkNzg1NTIqMCoqMTk6bWVldGluZ19OMlk1TlRRM04yVXRPV0poTUMwME0yWXhMV0l5TnpRdE5qVXhObVl6WVdNek56bGpAdGhyZWFkLnYy","isBroadcast":null,"isEndToEndEncryptionEnabled":null,"isEntryExitAnnounced":true,"joinInformation":null,"joinMeetingIdSettings":{"isPasscodeRequired":false,"joinMeetingId":"7423394621329","passcode":null},"joinWebUrl":"https://teams.microsoft.com/l/meetup-join/19%3ameeting_N2Y5NTQ3N2UtOWJhMC00M2YxLWIyNzQtNjUxNmYzYWMzNzlj%40thread.v2/0?context=%7b%22Tid%22%3a%22a555303d-11d1-4531-8789-52fdfec8dc34%22%2c%22Oid%22%3a%22c5b81bc4-3e9e-4309-a2ba-0e3753d78552%22%7d","lobbyBypassSettings":{"isDialInBypassEnabled":false,"scope":"organization"},"meetingOptionsWebUrl":null,"meetingSpokenLanguageTag":null,"meetingTemplateId":null,"meetingType":null,"participants":{"attendees":[],"organizer":{"identity":{"user":{"displayName":"Dev User","id":"c5b81bc4-3e9e-4309-a2ba-0e3753d78552","identityProvider":"AAD","tenantId":"a555303d-11d1-4531-8789-52fdfec8dc34"}},"role":"presenter","upn":"dev.user@onlinemeetings.local"}},"recordAutomatically":false,"sensitivityLabelAssignment":null,"shareMeetingChatHistoryDefault":null,"startDateTime":"2019-07-12T21:30:34.2444915Z","subject":"User Token Meeting","videoTeleconferenceId":null,"watermarkProtection":null}`

// serveBare answers POST /v1.0/me/onlineMeetings with a canned meeting (201,
// after reading the body) and GET /v1.0/me/onlineMeetings/{id} with the same
// meeting (200): the cost of HTTP and Echo alone, the baseline of every
// ratio.
func serveBare(addr string) error {
	meeting := []byte(cannedMeeting)
	e := echo.New()
	e.GET("/readyz", func(c *echo.Context) error { return c.NoContent(http.StatusOK) })
	e.POST(collection, func(c *echo.Context) error {
		_, _ = io.Copy(io.Discard, c.Request().Body)
		return c.Blob(http.StatusCreated, "application/json", meeting)
	})
	e.GET(collection+"/:id", func(c *echo.Context) error {
		return c.Blob(http.StatusOK, "application/json", meeting)
	})
	return echo.StartConfig{Address: addr, HideBanner: true, HidePort: true}.Start(context.Background(), e)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitReady(url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("server at " + url + " never became ready")
}
