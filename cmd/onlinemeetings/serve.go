package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/onlinemeetings/onlinemeetings/auth"
	"github.com/onlinemeetings/onlinemeetings/auth/devissuer"
	"github.com/onlinemeetings/onlinemeetings/handlers"
	"github.com/onlinemeetings/onlinemeetings/metrics"
	"github.com/onlinemeetings/onlinemeetings/policy"
	"github.com/onlinemeetings/onlinemeetings/store"
	"github.com/onlinemeetings/onlinemeetings/store/memory"
	"github.com/onlinemeetings/onlinemeetings/store/postgres"
	"github.com/onlinemeetings/onlinemeetings/store/sqlite"
)

// HTTP server limits: slow or oversized clients cannot hold the server.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
)

// serveConfig is the validated configuration of `serve`.
type serveConfig struct {
	addr            string
	storeURL        string
	pg              pgConfig // --pg-* settings of a postgres:// store
	issuer          string
	audience        string
	publicURL       string
	dataDir         string
	logLevel        slog.Level
	logFormat       string
	shutdownTimeout time.Duration
	shutdownDelay   time.Duration
	audio           *handlers.AudioConferencing
	accessPolicy    string // path of the application access policy file
	rateLimitUser   float64
	rateLimitApp    float64
	createQuota     int    // meetings per organizer per UTC month; 0: off
	metricsAddr     string // empty: no metrics
}

// devMode reports whether the built-in dev token issuer is used.
func (c *serveConfig) devMode() bool { return c.issuer == "" }

const serveSummary = `Runs the onlineMeeting API server under /v1.0, with /healthz and /readyz.

Without --issuer the server runs in dev mode: it creates a signing key and a default
user in --data-dir, serves its own token issuer under {public-url}/dev-issuer, listens
on 127.0.0.1:8080 by default, and prints a ready-to-paste curl command. Dev mode is for
local use only. With --issuer (and --audience) it verifies tokens of that OpenID Connect
issuer (Microsoft Entra ID, Keycloak, ...) instead.`

func parseServeConfig(args []string, getenv func(string) string, stdout io.Writer) (*serveConfig, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	setUsage(fs, serveSummary)
	var c serveConfig
	var logLevel, tollNumber, tollFreeNumber, dialinURL string
	fs.StringVar(&c.addr, "addr", "", "listen address host:port (default :8080, or 127.0.0.1:8080 in dev mode)")
	fs.StringVar(&c.storeURL, "store", "", "where meetings are kept: sqlite://PATH, postgres://USER@HOST/DB?PARAMS (or postgresql://) or memory: (default sqlite://{data-dir}/onlinemeetings.db)")
	fs.IntVar(&c.pg.MaxConns, "pg-max-conns", 0, "PostgreSQL store: most pooled connections; overrides the URL's pool_max_conns (0 = the URL's, else 4 x GOMAXPROCS, which serve sets to CPUs + 1)")
	fs.DurationVar(&c.pg.StatementTimeout, "pg-statement-timeout", 0, fmt.Sprintf("PostgreSQL store: statement_timeout of every query; overrides the URL's (0 = the URL's, else %v)", postgres.DefaultStatementTimeout))
	fs.DurationVar(&c.pg.ConnectTimeout, "pg-connect-timeout", 0, fmt.Sprintf("PostgreSQL store: limit on dialling, and on waiting for a pooled connection; overrides the URL's connect_timeout (0 = the URL's, else %v)", postgres.DefaultConnectTimeout))
	fs.StringVar(&c.issuer, "issuer", "", "OpenID Connect issuer URL of the tokens to accept; empty = built-in dev issuer")
	fs.StringVar(&c.audience, "audience", "", "required token audience (aud); required with --issuer (dev default "+devissuer.DefaultAudience+")")
	fs.StringVar(&c.publicURL, "public-url", "", "external base URL of this server, used in @odata.context (default http://localhost:{port})")
	fs.StringVar(&c.dataDir, "data-dir", "./data", "folder for the SQLite database and the dev issuer's key and user")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight requests may take to finish on SIGTERM/SIGINT")
	fs.DurationVar(&c.shutdownDelay, "shutdown-delay", 0, "on SIGTERM/SIGINT, how long to go on serving with /readyz answering 503 before the drain closes the port, so a load balancer stops sending requests first (0 = drain at once)")
	fs.StringVar(&tollNumber, "audio-toll-number", "", "dial-in toll number added to every meeting's audioConferencing (empty = none)")
	fs.StringVar(&tollFreeNumber, "audio-toll-free-number", "", "dial-in toll-free number added to every meeting's audioConferencing")
	fs.StringVar(&dialinURL, "audio-dialin-url", "", "dial-in information page; ?id={conferenceId} is appended")
	fs.StringVar(&c.accessPolicy, "access-policy", "", "JSON or YAML file of application access policies: which apps may use app-only tokens for which users (none = no app may); reread on SIGHUP")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "listen address host:port for Prometheus metrics at /metrics, apart from the API (empty = off)")
	fs.Float64Var(&c.rateLimitUser, "rate-limit-user", 0, "requests per second allowed per user (tenant, oid) in this process; 0 = no limit")
	fs.Float64Var(&c.rateLimitApp, "rate-limit-app", 0, "requests per second allowed per app (tenant, client id) in this process; 0 = no limit")
	fs.IntVar(&c.createQuota, "create-quota-per-month", 0, "meetings each user (tenant, oid) may create per calendar month (UTC), counted in the store, so across replicas and restarts (Graph allows 2000); 0 = no quota")
	if err := parseFlags(fs, args, getenv, stdout); err != nil {
		return nil, err
	}
	if c.rateLimitUser < 0 || c.rateLimitApp < 0 || math.IsNaN(c.rateLimitUser) || math.IsNaN(c.rateLimitApp) ||
		math.IsInf(c.rateLimitUser, 0) || math.IsInf(c.rateLimitApp, 0) {
		return nil, usagef("--rate-limit-user and --rate-limit-app must be 0 (off) or a positive number of requests per second")
	}
	if c.createQuota < 0 {
		return nil, usagef("--create-quota-per-month must be 0 (off) or a positive number of meetings")
	}
	if err := c.logLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", logLevel)
	}
	if c.logFormat != "text" && c.logFormat != "json" {
		return nil, usagef("--log-format %q: want text or json", c.logFormat)
	}
	if c.shutdownTimeout <= 0 {
		return nil, usagef("--shutdown-timeout must be positive")
	}
	if c.shutdownDelay < 0 {
		return nil, usagef("--shutdown-delay must not be negative")
	}
	if c.issuer != "" {
		if err := checkURL("--issuer", c.issuer); err != nil {
			return nil, err
		}
		if c.audience == "" {
			return nil, usagef("--audience is required with --issuer")
		}
	} else if c.audience == "" {
		c.audience = devissuer.DefaultAudience
	}
	if c.addr == "" {
		c.addr = ":8080"
		if c.devMode() {
			c.addr = "127.0.0.1:8080"
		}
	}
	if err := checkListenAddr("--addr", c.addr); err != nil {
		return nil, err
	}
	if c.metricsAddr != "" {
		if err := checkListenAddr("--metrics-addr", c.metricsAddr); err != nil {
			return nil, err
		}
		if c.metricsAddr == c.addr {
			return nil, usagef("--metrics-addr must differ from --addr: metrics are never served on the API port")
		}
	}
	if c.publicURL != "" {
		if err := checkURL("--public-url", c.publicURL); err != nil {
			return nil, err
		}
		c.publicURL = strings.TrimRight(c.publicURL, "/")
	}
	if c.dataDir == "" {
		return nil, usagef("--data-dir must not be empty")
	}
	if c.storeURL == "" {
		c.storeURL = "sqlite://" + filepath.Join(c.dataDir, "onlinemeetings.db")
	}
	if _, err := parseStoreURL(c.storeURL); err != nil {
		return nil, err
	}
	if c.pg.MaxConns < 0 || c.pg.StatementTimeout < 0 || c.pg.ConnectTimeout < 0 {
		return nil, usagef("--pg-max-conns, --pg-statement-timeout and --pg-connect-timeout must not be negative")
	}
	if tollNumber != "" || tollFreeNumber != "" || dialinURL != "" {
		if dialinURL != "" {
			if err := checkURL("--audio-dialin-url", dialinURL); err != nil {
				return nil, err
			}
		}
		c.audio = &handlers.AudioConferencing{TollNumber: tollNumber, TollFreeNumber: tollFreeNumber, DialinURL: dialinURL}
	}
	return &c, nil
}

// checkListenAddr reports a listen address that net.Listen would refuse as
// a usage error, so it fails before the server starts rather than when it
// listens: host:port, the port a number from 0 to 65535 or a service name
// (net.LookupPort reads /etc/services; it asks no server).
func checkListenAddr(flagName, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("%s %q: %v", flagName, addr, err)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return usagef("%s %q: invalid port %q", flagName, addr, port)
	}
	return nil
}

func checkURL(flagName, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("%s %q: want an absolute http(s) URL", flagName, s)
	}
	return nil
}

// storeLocation is a parsed --store URL.
type storeLocation struct {
	kind string // "sqlite", "postgres" or "memory"
	path string // for sqlite
	url  string // for postgres: the whole URL, for pgx
}

// parseStoreURL reads sqlite://PATH (everything after sqlite:// is the path,
// verbatim: sqlite://./data/x.db, sqlite:///var/lib/x.db), a PostgreSQL URL
// (postgres:// or postgresql://, parsed by pgx when the store opens) or
// memory:.
func parseStoreURL(s string) (storeLocation, error) {
	switch {
	case s == "memory:" || s == "memory://":
		return storeLocation{kind: "memory"}, nil
	case strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://"):
		// Read as pgx (libpq) reads it, not by net/url, whose rules differ.
		if err := postgres.CheckURL(s); err != nil { // its errors show no password
			return storeLocation{}, usagef("--store %s: %v", redactURL(s), err)
		}
		return storeLocation{kind: "postgres", url: s}, nil
	case strings.HasPrefix(s, "sqlite://"):
		p := strings.TrimPrefix(s, "sqlite://")
		if p == "" {
			return storeLocation{}, usagef("--store %q: the SQLite path is empty", s)
		}
		return storeLocation{kind: "sqlite", path: p}, nil
	}
	return storeLocation{}, usagef("--store %q: want sqlite://PATH, postgres://... or memory:", redactURL(s))
}

// pgConfig holds the --pg-* flags; a zero keeps the URL's setting, or the
// store's default. (Exported fields, so tests can compare serveConfigs.)
type pgConfig struct {
	MaxConns         int
	StatementTimeout time.Duration
	ConnectTimeout   time.Duration
}

func (c pgConfig) options() []postgres.Option {
	return []postgres.Option{
		postgres.WithMaxConns(c.MaxConns),
		postgres.WithStatementTimeout(c.StatementTimeout),
		postgres.WithConnectTimeout(c.ConnectTimeout),
	}
}

// redactURL is s with any password replaced, for logs and messages. A
// PostgreSQL URL is read as pgx reads it (see postgres.RedactURL): net/url
// finds no password in some URLs pgx takes one from.
func redactURL(s string) string {
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		return postgres.RedactURL(s)
	}
	u, err := url.Parse(s)
	if err != nil {
		if strings.Contains(s, "@") {
			return "(a URL that does not parse)"
		}
		return s
	}
	q := u.Query()
	if !q.Has("password") && u.User == nil {
		return s
	}
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// openStore opens the store loc names; pg configures a PostgreSQL one.
func openStore(ctx context.Context, loc storeLocation, pg pgConfig) (store.Store, error) {
	switch loc.kind {
	case "memory":
		return memory.New(), nil
	case "postgres":
		st, err := postgres.Open(ctx, loc.url, pg.options()...)
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	return sqlite.Open(ctx, loc.path)
}

func newLogger(c *serveConfig, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.logLevel}
	if c.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// runServe runs the server until ctx is canceled (SIGINT/SIGTERM), then
// drains: /readyz turns 503, the listener closes, in-flight requests get
// --shutdown-timeout to finish, and the store closes last.
func runServe(ctx context.Context, args []string, env *environment, stdout, stderr io.Writer) (err error) {
	getenv := env.get
	c, err := parseServeConfig(args, getenv, stdout)
	if err != nil {
		return err
	}
	log := newLogger(c, stderr)
	if c.logFormat == "json" {
		// A log pipeline that reads JSON lines gets the reason the server
		// stopped as one too, not as main's plain line.
		defer func() {
			if err != nil {
				log.LogAttrs(context.Background(), slog.LevelError, "serve failed", slog.String("error", err.Error()))
				err = &loggedError{err: err}
			}
		}()
	}
	// Every flag's variable has been read by now: the ones left are no
	// setting of serve (a misspelling, or a token flag's).
	names, suggestions := env.unread()
	for i, name := range names {
		attrs := []slog.Attr{slog.String("variable", name)}
		if suggestions[i] != "" {
			attrs = append(attrs, slog.String("did_you_mean", suggestions[i]))
		}
		log.LogAttrs(ctx, slog.LevelWarn, "environment variable ignored: no serve flag reads it", attrs...)
	}
	// SIGHUP rereads the access policy (below). Taken over from the start,
	// with or without a policy: its default action ends the process at
	// once, without the drain, and `kill -HUP` is what a supervisor's
	// reload (systemd's ExecReload) sends. A signal that arrives before
	// the server answers waits in the channel.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	loc, err := parseStoreURL(c.storeURL) // parseServeConfig has checked it
	if err != nil {
		return err
	}
	gogc := tuneGC(getenv, loc.kind != "memory")
	procs := tuneProcs(getenv)

	var accessPolicy *policy.File
	if c.accessPolicy != "" {
		if accessPolicy, err = policy.Load(c.accessPolicy); err != nil {
			return usagef("--access-policy: %v", err)
		}
	}

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.addr, err)
	}
	defer ln.Close()
	if c.publicURL == "" {
		c.publicURL = defaultPublicURL(ln.Addr())
	}

	var m *metrics.Metrics
	if c.metricsAddr != "" {
		mln, err := net.Listen("tcp", c.metricsAddr)
		if err != nil {
			return fmt.Errorf("listen on %s (--metrics-addr): %w", c.metricsAddr, err)
		}
		m = metrics.New()
		msrv := metricsServer(m, log)
		go func() { _ = msrv.Serve(mln) }()
		defer msrv.Close() // after the API server has drained (defers run last-in first-out)
		log.Info("serving metrics", slog.String("addr", mln.Addr().String()))
	}

	st, err := openStore(ctx, loc, c.pg)
	if err != nil {
		return fmt.Errorf("open store %s: %w", redactURL(c.storeURL), err)
	}
	defer st.Close()

	vcfg := auth.Config{Issuer: c.issuer, Audience: c.audience, Logger: log}
	var dev *devissuer.Issuer
	if c.devMode() {
		dev, err = devissuer.Open(c.dataDir)
		if err != nil {
			return fmt.Errorf("dev issuer: %w", err)
		}
		vcfg.Issuer = devissuer.IssuerURL(c.publicURL)
		vcfg.HTTPClient = dev.HTTPClient(vcfg.Issuer)
	}
	verifier := auth.NewVerifier(vcfg)
	vctx, stopVerifier := context.WithCancel(context.WithoutCancel(ctx))
	defer stopVerifier()
	verifier.Start(vctx)

	hcfg := handlers.Config{
		Store:               st,
		Verifier:            verifier,
		PublicURL:           c.publicURL,
		Logger:              log,
		AudioConferencing:   c.audio,
		RateLimitUser:       c.rateLimitUser,
		RateLimitApp:        c.rateLimitApp,
		CreateQuotaPerMonth: c.createQuota,
		Metrics:             m,
	}
	if accessPolicy != nil {
		hcfg.AccessPolicy = accessPolicy
	}
	if dev != nil {
		hcfg.DevIssuer = dev.Handler(vcfg.Issuer)
	}
	h, err := handlers.New(hcfg)
	if err != nil {
		return err
	}
	conns := newConnTracker()
	srv := &http.Server{
		Handler:           h,
		ConnState:         conns.connState,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}

	log.Info("listening", slog.String("addr", ln.Addr().String()), slog.String("public_url", c.publicURL),
		slog.String("store", redactURL(c.storeURL)), slog.Bool("dev_issuer", dev != nil), slog.String("version", version),
		slog.Int("gogc", gogc), slog.Int("gomaxprocs", procs))
	if accessPolicy != nil {
		log.Info("access policy loaded", slog.String("path", c.accessPolicy), slog.Int("entries", accessPolicy.Policy().Len()))
	}
	rctx, stopReload := context.WithCancel(ctx)
	defer stopReload()
	go reloadOnSignal(rctx, hup, accessPolicy, log)
	if dev != nil {
		printDevHint(stdout, dev, vcfg.Issuer, c)
	}

	// With a shutdown delay, a second SIGTERM/SIGINT (an operator who will
	// not wait) cuts it short. The channel sees every signal from here on,
	// the first one (which cancels ctx) included, so the delay counts two:
	// registered only once the first had arrived, it could miss a second
	// that came right after.
	var signals chan os.Signal
	if c.shutdownDelay > 0 {
		signals = make(chan os.Signal, 2)
		signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(signals)
	}

	drained := make(chan struct{})
	defer close(drained)
	conns.closeOnShutdown(srv, drained, 50*time.Millisecond)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	h.StartDraining()
	if c.shutdownDelay > 0 {
		// Still serving everything; only /readyz says 503, so load
		// balancers that poll it take this replica out before the port
		// closes and refuses their connections. (ctx may also end without
		// a signal, as in tests; then only the delay ends it.)
		log.Info("draining: /readyz answers 503, still serving", slog.Duration("delay", c.shutdownDelay))
		timer := time.NewTimer(c.shutdownDelay)
		defer timer.Stop()
	delay:
		for n := 0; n < 2; {
			select {
			case <-timer.C:
				break delay
			case <-signals:
				n++
			case err := <-serveErr:
				return fmt.Errorf("serve: %w", err)
			}
		}
	}
	log.Info("shutting down", slog.Duration("timeout", c.shutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutdown: requests still running after %s were cut off: %w", c.shutdownTimeout, err)
	}
	log.Info("stopped")
	return nil
}

// metricsServer serves m at /metrics (and nothing else) with the same
// timeouts as the API server.
func metricsServer(m *metrics.Metrics, log *slog.Logger) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	return &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// defaultPublicURL is http://localhost:{port} for the address we listen on.
func defaultPublicURL(addr net.Addr) string {
	port := "8080"
	if ta, ok := addr.(*net.TCPAddr); ok {
		port = fmt.Sprint(ta.Port)
	}
	return "http://localhost:" + port
}

// printDevHint prints, on stdout and not through the logger, a curl command
// with a fresh dev token, so a newcomer can try the API at once.
func printDevHint(w io.Writer, dev *devissuer.Issuer, issuerURL string, c *serveConfig) {
	tok, err := dev.Mint(issuerURL, c.audience, devissuer.TokenOptions{})
	if err != nil {
		fmt.Fprintf(w, "dev issuer: could not mint a token: %v\n", err)
		return
	}
	u := dev.DefaultUser()
	fmt.Fprintf(w, `
onlinemeetings is running in dev mode (built-in token issuer; for local use only).
Signed in as %s (oid %s, tenant %s). Try:

  curl -sS -X POST '%s/v1.0/me/onlineMeetings' \
    -H 'Authorization: Bearer %s' \
    -H 'Content-Type: application/json' \
    -d '{"subject":"User Token Meeting"}'

More tokens: %s token --data-dir %s --public-url %s

`, u.UPN, u.OID, u.TID, c.publicURL, tok, selfCommand(os.Args[0]), c.dataDir, c.publicURL)
}

// selfCommand is how the user ran this program (./bin/onlinemeetings, or
// onlinemeetings from PATH), so the hint's token command runs as pasted;
// plain onlinemeetings when that is no help: a path with characters a shell
// would take apart, or go run's temporary binary, gone when it exits.
func selfCommand(arg0 string) string {
	if arg0 == "" || strings.ContainsAny(arg0, " '\"$`") || strings.Contains(filepath.ToSlash(arg0), "/go-build") {
		return "onlinemeetings"
	}
	return arg0
}

// reloadOnSignal rereads the access policy file on every signal from sig
// until ctx ends. A bad file is logged and the policy in force stays.
// Without a policy file (f nil) there is nothing to reread: the signal is
// logged and the server goes on serving.
func reloadOnSignal(ctx context.Context, sig <-chan os.Signal, f *policy.File, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
		}
		if f == nil {
			log.Info("SIGHUP ignored: no --access-policy to reload")
			continue
		}
		if err := f.Reload(); err != nil {
			log.Error("access policy not reloaded, keeping the previous one", slog.String("path", f.Path()), slog.Any("error", err))
			continue
		}
		log.Info("access policy reloaded", slog.String("path", f.Path()), slog.Int("entries", f.Policy().Len()))
	}
}
