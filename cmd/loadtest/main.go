// Command loadtest measures create throughput over loopback: it starts the
// real server binary (dev issuer, a fresh data folder) and a bare Echo
// handler that answers the same request with a canned 201 body, drives each
// with the same closed-loop load, and prints both and their ratio. The two
// are measured in the same run because this machine is noisy: compare the
// ratio, not the absolute numbers.
//
//	go run ./cmd/loadtest -bin bin/onlinemeetings [-conns 16] [-duration 10s] [-store sqlite|memory]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

const requestBody = `{"startDateTime":"2019-07-12T14:30:34.2444915-07:00","endDateTime":"2019-07-12T15:00:34.2464912-07:00","subject":"User Token Meeting"}`

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	bin := fs.String("bin", "bin/onlinemeetings", "server binary to measure")
	conns := fs.Int("conns", 16, "concurrent connections (closed loop)")
	duration := fs.Duration("duration", 10*time.Second, "measuring time per target")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured load before each measurement")
	stores := fs.String("store", "sqlite,memory", "comma-separated stores to measure the server with: sqlite, memory")
	bareAddr := fs.String("bare-serve", "", "internal: serve the bare handler on this address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *bareAddr != "" {
		return serveBare(*bareAddr)
	}

	bare, stopBare, err := startBare()
	if err != nil {
		return err
	}
	defer stopBare()
	bareResult, err := measure(bare+"/v1.0/me/onlineMeetings", "", *conns, *warmup, *duration)
	if err != nil {
		return fmt.Errorf("bare handler: %w", err)
	}
	fmt.Printf("%-28s %s\n", "bare Echo handler:", bareResult)
	for _, st := range strings.Split(*stores, ",") {
		url, token, stop, err := startServer(*bin, strings.TrimSpace(st))
		if err != nil {
			return err
		}
		res, err := measure(url+"/v1.0/me/onlineMeetings", token, *conns, *warmup, *duration)
		stop()
		if err != nil {
			return fmt.Errorf("server (%s): %w", st, err)
		}
		fmt.Printf("%-28s %s  ratio %.3f× of bare\n", "server ("+st+"):", res, res.rps/bareResult.rps)
	}
	return nil
}

// result is one measurement.
type result struct {
	rps      float64
	requests int
	errors   int
	p50, p99 time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("%8.0f req/s  (%d requests, %d errors, p50 %v, p99 %v)", r.rps, r.requests, r.errors, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond))
}

// measure runs conns closed-loop clients against url: warmup, then duration.
func measure(url, token string, conns int, warmup, duration time.Duration) (result, error) {
	var measuring atomic.Bool
	var mu sync.Mutex
	var latencies []time.Duration
	var errCount atomic.Int64
	var firstErr atomic.Value
	ctx, cancel := context.WithTimeout(context.Background(), warmup+duration)
	defer cancel()
	var wg sync.WaitGroup
	var start time.Time
	for range conns {
		wg.Go(func() {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			var local []time.Duration
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(requestBody))
				req.Header.Set("Content-Type", "application/json")
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				t0 := time.Now()
				res, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusCreated {
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
	start = time.Now()
	measuring.Store(true)
	wg.Wait()
	elapsed := time.Since(start)
	if len(latencies) == 0 {
		return result{}, fmt.Errorf("no successful request (first error: %v)", firstErr.Load())
	}
	slices.Sort(latencies)
	return result{
		rps:      float64(len(latencies)) / elapsed.Seconds(),
		requests: len(latencies),
		errors:   int(errCount.Load()),
		p50:      latencies[len(latencies)/2],
		p99:      latencies[len(latencies)*99/100],
	}, nil
}

// startServer runs the real binary in dev mode on a free loopback port with a
// fresh data folder and returns its URL, a dev token and a stop function.
func startServer(bin, storeKind string) (string, string, func(), error) {
	dir, err := os.MkdirTemp("", "onlinemeetings-load-")
	if err != nil {
		return "", "", nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return "", "", nil, err
	}
	url := "http://" + addr
	storeURL := "sqlite://" + filepath.Join(dir, "meetings.db")
	if storeKind == "memory" {
		storeURL = "memory:"
	}
	cmd := exec.Command(bin, "serve", "--addr", addr, "--public-url", url, "--data-dir", dir, "--store", storeURL, "--log-level", "error")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return "", "", nil, err
	}
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		_ = os.RemoveAll(dir)
	}
	if err := waitReady(url + "/readyz"); err != nil {
		stop()
		return "", "", nil, err
	}
	out, err := exec.Command(bin, "token", "--data-dir", dir, "--public-url", url).Output()
	if err != nil {
		stop()
		return "", "", nil, fmt.Errorf("minting a token: %w", err)
	}
	return url, strings.TrimSpace(string(out)), stop, nil
}

// startBare re-runs this program as the bare handler in its own process, as
// the real server runs in its own.
func startBare() (string, func(), error) {
	addr, err := freeAddr()
	if err != nil {
		return "", nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(self, "-bare-serve", addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	if err := waitReady("http://" + addr + "/readyz"); err != nil {
		stop()
		return "", nil, err
	}
	return "http://" + addr, stop, nil
}

// serveBare answers POST /v1.0/me/onlineMeetings with a canned meeting: the
// cost of HTTP and Echo alone, the baseline of every ratio.
func serveBare(addr string) error {
	canned := []byte(`{"@odata.context":"http://localhost/v1.0/$metadata#users('3f2b8c1d-7e4a-4b9c-8d6e-1a2b3c4d5e6f')/onlineMeetings/$entity","id":"MSozZjJiOGMxZC03ZTRhLTRiOWMtOGQ2ZS0xYTJiM2M0ZDVlNmYqMCoqMTk6bWVldGluZ19aR1k0T0RZMFpUUXRNemcyTmkwME1UWTNMV0ZoTlRndE5ERmhaR1kwWVRRek5qQTRAdGhyZWFkLnYy","subject":"User Token Meeting","startDateTime":"2019-07-12T21:30:34.2444915Z","endDateTime":"2019-07-12T22:00:34.2464912Z"}`)
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/readyz", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	e.POST("/v1.0/me/onlineMeetings", func(c echo.Context) error {
		_, _ = io.Copy(io.Discard, c.Request().Body)
		return c.Blob(http.StatusCreated, "application/json", canned)
	})
	return e.Start(addr)
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
