// Package handlers serves the onlineMeeting API: the Echo application, the
// request pipeline (request ids, body limit, authentication, authorization,
// Content-Type and schema validation), the implementation of the generated
// strict-server interface, and the one error path that writes Graph's error
// JSON.
package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v5"

	"github.com/onlinemeetings/onlinemeetings/auth"
	"github.com/onlinemeetings/onlinemeetings/gen"
	"github.com/onlinemeetings/onlinemeetings/metrics"
	"github.com/onlinemeetings/onlinemeetings/store"
)

// MaxBodyBytes is the largest request body accepted (4 MiB); larger bodies
// get 413, whether announced by Content-Length or sent chunked.
const MaxBodyBytes = 4 << 20

// apiBasePath is where the API is mounted, as the spec's relative server URL says.
const apiBasePath = "/v1.0"

// TokenVerifier checks bearer tokens. *auth.Verifier implements it.
type TokenVerifier interface {
	// Verify returns the principal of a valid token; errors wrap
	// auth.ErrInvalidToken or auth.ErrNotReady.
	Verify(ctx context.Context, raw string) (*auth.Principal, error)
	// Ready reports whether the verifier can verify tokens (issuer discovered).
	Ready() bool
}

// Config is what the API needs from the outside world.
type Config struct {
	// Store persists meetings.
	Store store.Store
	// Verifier checks bearer tokens.
	Verifier TokenVerifier
	// PublicURL is the server's external base URL, without a trailing slash
	// (e.g. https://meetings.example.com); it is used in @odata.context and
	// never taken from the request's Host header.
	PublicURL string
	// Logger receives one line per request and every server-side failure.
	Logger *slog.Logger
	// AudioConferencing, when set, is added to every new meeting.
	AudioConferencing *AudioConferencing
	// DevIssuer, when set, is served under /dev-issuer (the built-in token
	// issuer for local use).
	DevIssuer http.Handler
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ReadyTimeout bounds the store check of /readyz (default 2 s).
	ReadyTimeout time.Duration
	// RateLimitUser and RateLimitApp are requests per second allowed per
	// user (tenant, oid) and per app (tenant, client id) in this process;
	// 0 turns a limit off. Over the limit: 429 activityLimitReached.
	RateLimitUser, RateLimitApp float64
	// Metrics, when set, records requests, store calls, token rejections
	// and throttling (served elsewhere: never on the API port).
	Metrics *metrics.Metrics
	// AccessPolicy decides which apps may act for which users with
	// app-only tokens on /users/{userId}/onlineMeetings (Graph's
	// application access policies). nil grants no app anything.
	AccessPolicy AccessPolicy
	// CreateQuotaPerMonth is how many meetings one organizer (tenant, user)
	// may create per calendar month (UTC), as Graph caps creations per user
	// per month; 0 turns the quota off. The store counts and enforces it, so
	// it holds across replicas and restarts. Over it: 429
	// activityLimitReached with Retry-After until the next month.
	CreateQuotaPerMonth int
}

// AccessPolicy is Graph's application access policy: whether the app appID
// of tenant tenantID may act on behalf of the user userID. It is consulted
// on every app-only request, so it must be fast and safe for concurrent
// use; the policy file implementation swaps its rules atomically on reload.
type AccessPolicy interface {
	Allows(tenantID, appID, userID string) bool
}

// app holds the wiring of one Echo application.
type app struct {
	cfg        Config
	log        *slog.Logger
	spec       *openapi3.T
	routes     map[string]*routers.Route // by operation id
	validation openapi3filter.Options
	types      graphTypes
	// appRoles are the application roles of the oauth2 scheme (its
	// clientCredentials flow); every other name in a security requirement
	// is a delegated scope.
	appRoles map[string]bool
	throttle throttle
	// store is cfg.Store as the handlers use it (timed when metrics are
	// on); quota is the monthly creation quota.
	store store.Store
	quota store.Quota
	// ping is the store Ping that readiness checks are waiting for, nil
	// when none runs (see pingStore); pingMu guards it.
	pingMu sync.Mutex
	ping   *pingCall
}

// Handler is the HTTP handler of the whole server, with a switch to report
// not-ready while shutting down.
type Handler struct {
	*echo.Echo
	draining chan struct{}
}

// StartDraining makes /readyz answer 503 from now on, so load balancers stop
// sending new requests while in-flight ones finish.
func (h *Handler) StartDraining() {
	select {
	case <-h.draining:
	default:
		close(h.draining)
	}
}

// New builds the server's HTTP handler: the API under /v1.0 (every route
// generated from openapi.yaml), /healthz, /readyz and, in dev mode, the
// built-in token issuer.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil || cfg.Verifier == nil {
		return nil, errors.New("handlers: Store and Verifier are required")
	}
	if cfg.CreateQuotaPerMonth < 0 {
		return nil, errors.New("handlers: CreateQuotaPerMonth must not be negative")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 2 * time.Second
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	spec, err := gen.GetSpec()
	if err != nil {
		return nil, fmt.Errorf("handlers: loading embedded spec: %w", err)
	}
	a := &app{cfg: cfg, log: cfg.Logger, spec: spec, routes: map[string]*routers.Route{}, types: newGraphTypes(spec), appRoles: appRoles(spec),
		throttle: throttle{users: newLimiterSet(cfg.RateLimitUser), apps: newLimiterSet(cfg.RateLimitApp)},
		store:    cfg.Metrics.Store(cfg.Store), quota: store.Quota{PerMonth: cfg.CreateQuotaPerMonth}}
	a.validation = openapi3filter.Options{
		AuthenticationFunc: a.authorize,
		KeepValidatedValue: true,
		MultiError:         false,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{
			// The map form: kin-openapi applies options on every
			// validation, and the single-validator form makes a new map
			// each time.
			openapi3.WithStringFormatValidators(stringFormats),
			// A schema error's text would otherwise hold the schema and
			// the offending part of the body, siblings included (a
			// round-tripped meeting's passcode, attendees' addresses),
			// and it reaches the log as the cause of the 400. The
			// answer is built from the error's fields, never its text.
			openapi3.DisableSchemaErrorDetails(),
		},
	}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			a.routes[op.OperationID] = &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: op}
		}
	}

	e := echo.New()
	e.IPExtractor = echo.ExtractIPDirect()
	e.HTTPErrorHandler = a.errorHandler
	h := &Handler{Echo: e, draining: make(chan struct{})}

	e.Pre(trimTrailingSlash)
	e.Use(requestIDs, a.accessLog, a.recoverPanics, limitBody)

	e.GET("/healthz", func(c *echo.Context) error {
		c.Set(ctxKeyOperation, "healthz")
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/readyz", func(c *echo.Context) error {
		c.Set(ctxKeyOperation, "readyz")
		return a.readyz(c, h.draining)
	})
	if cfg.DevIssuer != nil {
		e.Any("/dev-issuer/*", echo.WrapHandler(http.StripPrefix("/dev-issuer", cfg.DevIssuer)))
	}

	mw := make(map[string][]echo.MiddlewareFunc, len(a.routes))
	for id, r := range a.routes {
		mw[id] = []echo.MiddlewareFunc{a.operation(id, r)}
	}
	server := &Server{store: a.store, quota: a.quota, publicURL: cfg.PublicURL, now: a.now, audio: cfg.AudioConferencing}
	gen.RegisterHandlersWithOptions(e, gen.NewStrictHandler(server, nil), gen.RegisterHandlersOptions{
		BaseURL:              apiBasePath,
		OperationMiddlewares: mw,
	})
	return h, nil
}

// readyz answers 200 when the server can take traffic: not shutting down,
// token issuer discovered and store answering.
func (a *app) readyz(c *echo.Context, draining <-chan struct{}) error {
	select {
	case <-draining:
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
	default:
	}
	if !a.cfg.Verifier.Ready() {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "token issuer not discovered yet"})
	}
	if err := a.pingStore(c.Request().Context()); err != nil {
		a.log.LogAttrs(c.Request().Context(), slog.LevelWarn, "readiness check: store not answering",
			slog.String("request_id", requestIDsFrom(c.Request().Context()).requestID), slog.Any("error", err))
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "store not answering"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// errPingStuck fails a readiness check while a store Ping started more
// than ReadyTimeout ago has still not returned.
var errPingStuck = errors.New("the store's ping has not returned within the readiness timeout")

// pingCall is one store Ping that concurrent readiness checks share.
type pingCall struct {
	start time.Time
	done  chan struct{} // closed when err is set
	err   error
}

// pingStore runs the store's Ping and gives up after ReadyTimeout even when
// Ping does not return: a driver blocked in a system call (a hung or
// frozen disk under SQLite) never sees its context end, and a probe that
// hangs instead of failing leaves a load balancer to its own timeout.
// Checks that arrive while a Ping runs wait for its result rather than
// start another (probes from several load balancers overlap), so at most
// one Ping runs and a stuck store costs one goroutine; once that Ping has
// outlived ReadyTimeout, checks fail at once. The Ping runs under its own
// deadline, not the first caller's request context, whose end must not
// fail the others.
func (a *app) pingStore(ctx context.Context) error {
	a.pingMu.Lock()
	c := a.ping
	switch {
	case c == nil:
		c = &pingCall{start: time.Now(), done: make(chan struct{})}
		a.ping = c
		go func() {
			pctx, cancel := context.WithTimeout(context.Background(), a.cfg.ReadyTimeout)
			defer cancel()
			err := a.cfg.Store.Ping(pctx)
			a.pingMu.Lock()
			a.ping = nil
			a.pingMu.Unlock()
			c.err = err
			close(c.done)
		}()
	case time.Since(c.start) > a.cfg.ReadyTimeout:
		a.pingMu.Unlock()
		return errPingStuck
	}
	a.pingMu.Unlock()
	t := time.NewTimer(a.cfg.ReadyTimeout)
	defer t.Stop()
	select {
	case <-c.done:
		return c.err
	case <-t.C:
		return fmt.Errorf("store ping: %w", context.DeadlineExceeded)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// appRoles lists the scopes of the clientCredentials flows of the spec's
// OAuth 2 schemes: the application roles an app-only token carries.
func appRoles(spec *openapi3.T) map[string]bool {
	roles := map[string]bool{}
	for _, ref := range spec.Components.SecuritySchemes {
		if ref.Value == nil || ref.Value.Flows == nil || ref.Value.Flows.ClientCredentials == nil {
			continue
		}
		for name := range ref.Value.Flows.ClientCredentials.Scopes {
			roles[name] = true
		}
	}
	return roles
}
