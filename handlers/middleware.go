package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v5"

	"github.com/onlinemeetings/onlinemeetings/auth"
	"github.com/onlinemeetings/onlinemeetings/metrics"
)

// Echo context keys set by the pipeline and read by the access log.
const (
	ctxKeyOperation = "onlinemeetings.operation"
	ctxKeyErrorCode = "onlinemeetings.errorCode"
)

// maxClientRequestIDLength bounds the client-request-id we echo back.
const maxClientRequestIDLength = 128

type requestIDsKey struct{}

// requestIDPair is the correlation data of one request.
type requestIDPair struct {
	requestID       string
	clientRequestID string
}

func requestIDsFrom(ctx context.Context) requestIDPair {
	ids, _ := ctx.Value(requestIDsKey{}).(requestIDPair)
	return ids
}

// requestIDs gives every request a new request-id and echoes an acceptable
// client-request-id (otherwise client-request-id equals request-id), on every
// response, as Graph does.
func requestIDs(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		req := c.Request()
		ids := requestIDPair{requestID: randomGUID()}
		ids.clientRequestID = ids.requestID
		if v := req.Header.Get("client-request-id"); validClientRequestID(v) {
			ids.clientRequestID = v
		}
		h := c.Response().Header()
		h.Set("request-id", ids.requestID)
		h.Set("client-request-id", ids.clientRequestID)
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), requestIDsKey{}, ids)))
		return next(c)
	}
}

// validClientRequestID accepts 1–128 characters of [A-Za-z0-9-].
func validClientRequestID(s string) bool {
	if s == "" || len(s) > maxClientRequestIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// accessLog writes one structured line per request (never the token). It
// renders errors itself so that the line carries the final status.
func (a *app) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Echo().HTTPErrorHandler(c, err)
		}
		req := c.Request()
		status := 0
		if r, err := echo.UnwrapResponse(c.Response()); err == nil {
			status = r.Status
		}
		op, _ := c.Get(ctxKeyOperation).(string)
		attrs := []slog.Attr{
			slog.String("request_id", requestIDsFrom(req.Context()).requestID),
			slog.String("method", req.Method),
			slog.String("path", req.URL.Path),
			slog.String("operation", op),
			slog.Int("status", status),
			slog.Duration("duration", time.Since(start)),
		}
		if code, ok := c.Get(ctxKeyErrorCode).(string); ok {
			attrs = append(attrs, slog.String("error_code", code))
		}
		a.cfg.Metrics.ObserveRequest(op, status, time.Since(start))
		a.log.LogAttrs(req.Context(), slog.LevelInfo, "request", attrs...)
		return nil
	}
}

// recoverPanics turns a panic in a handler into a 500 Graph error (logged with
// its stack) so the server keeps serving and the client gets an answer.
func (a *app) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				a.log.LogAttrs(c.Request().Context(), slog.LevelError, "panic serving request",
					slog.String("request_id", requestIDsFrom(c.Request().Context()).requestID),
					slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next(c)
	}
}

// limitBody answers 413 for a body announced larger than MaxBodyBytes, before
// anything else looks at the request, and caps chunked bodies as they are read.
func limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		req := c.Request()
		if req.ContentLength > MaxBodyBytes {
			return requestTooLarge()
		}
		if req.Body != nil && req.Body != http.NoBody {
			req.Body = http.MaxBytesReader(c.Response(), req.Body, MaxBodyBytes)
		}
		return next(c)
	}
}

// operation is the per-operation pipeline that runs before a generated
// handler, in the order the stack can deliver: authenticate (401), throttle
// (429), authorize against the operation's security requirements in the spec
// (403, and 400 for an app-only token on /me), the monthly creation quota
// of a create (429), Content-Type (415), read the body (413) and validate it
// against the spec (400). Mounting it per operation keeps Echo's own routing
// (404/405) and means no API route can skip it.
func (a *app) operation(id string, route *routers.Route) echo.MiddlewareFunc {
	security := route.Spec.Security
	if route.Operation.Security != nil {
		security = *route.Operation.Security
	}
	hasBody := route.Operation.RequestBody != nil
	// ValidateRequest checks the security requirements too, which would
	// run authorize a second time and copy the body once per alternative;
	// they are checked below first, so it gets the route with an operation
	// that has none.
	validateRoute := *route
	validateOp := *route.Operation
	validateOp.Security = &openapi3.SecurityRequirements{}
	validateRoute.Operation = &validateOp
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			c.Set(ctxKeyOperation, id)
			req := c.Request()
			if seg, ok := subPath(c); ok {
				return unknownSegment(seg, nil)
			}
			p, err := a.authenticate(req)
			if err != nil {
				a.cfg.Metrics.TokenRejected(auth.Reason(err))
				return err
			}
			if err := a.throttle.check(p, a.now()); err != nil {
				a.cfg.Metrics.Throttled(metrics.ThrottledRate)
				return err
			}
			req = req.WithContext(auth.NewContext(req.Context(), p))
			c.SetRequest(req)

			params := make(map[string]string, len(c.PathValues()))
			for _, pv := range c.PathValues() {
				params[pv.Name] = pv.Value
			}
			input := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: &a.validation}
			// kin-openapi buffers the body for each AuthenticationFunc call;
			// ours never reads it, so keep the body out of the security check
			// (no buffering before authorization, and 413 stays a 413).
			body := req.Body
			req.Body = http.NoBody
			err = openapi3filter.ValidateSecurityRequirements(req.Context(), input, security)
			req.Body = body
			if err != nil {
				return securityError(err)
			}
			if err := a.checkQuota(req.Context(), id, params); err != nil {
				return a.countQuotaRefusal(err)
			}
			if hasBody {
				if err := checkBodyHeaders(req); err != nil {
					return err
				}
				raw, err := bufferJSONBody(req)
				if err != nil {
					return err
				}
				req = req.WithContext(context.WithValue(req.Context(), rawBodyKey{}, raw))
				c.SetRequest(req)
				input.Request = req
			}
			if err := checkQueryOptions(req, route); err != nil {
				return err
			}
			if err := checkHeaderParams(req, route); err != nil {
				return err
			}
			input.Route = &validateRoute
			if err := openapi3filter.ValidateRequest(req.Context(), input); err != nil {
				var ge *Error
				if errors.As(err, &ge) {
					return ge
				}
				return a.validationError(err)
			}
			return a.countQuotaRefusal(next(c))
		}
	}
}

// authenticate verifies the bearer token of req.
func (a *app) authenticate(req *http.Request) (*auth.Principal, error) {
	raw, err := auth.BearerTokenFrom(req.Header)
	if err != nil {
		return nil, err
	}
	return a.cfg.Verifier.Verify(req.Context(), raw)
}

// authorize is kin-openapi's AuthenticationFunc: it checks the verified
// principal against one security requirement of the spec (one alternative:
// the delegated scopes or the application roles it lists), Graph's account
// rules, and, on /users/{userId}, whose meetings the caller may touch.
//
// kin-openapi calls it once per alternative and fails the request only when
// every alternative failed; securityError then picks the answer. An
// alternative of the wrong kind for the token (app roles for a delegated
// token and the other way round) fails with errWrongTokenKind, which never
// becomes the answer when a requirement of the right kind has something
// more specific to say.
func (a *app) authorize(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	rvi := in.RequestValidationInput
	p := auth.FromContext(rvi.Request.Context())
	if p == nil {
		return auth.ErrNoToken
	}
	if p.IsPersonalAccount() {
		return newError(http.StatusForbidden, "Forbidden", "Personal Microsoft accounts are not supported for online meetings.")
	}
	onMe := rvi.Route != nil && (strings.HasPrefix(rvi.Route.Path, "/me/") || rvi.Route.Path == "/me")
	if p.AppOnly && onMe {
		return badRequest("/me request is only valid with delegated authentication flow.")
	}
	appReq := len(in.Scopes) > 0 && a.appRoles[in.Scopes[0]]
	if appReq != p.AppOnly {
		return errWrongTokenKind
	}
	for _, s := range in.Scopes {
		if p.AppOnly && !p.HasRole(s) || !p.AppOnly && !p.HasScope(s) {
			return &missingPermission{required: in.Scopes, appOnly: p.AppOnly, granted: p.Scopes, roles: p.Roles}
		}
	}
	userID, onUser := rvi.PathParams["userId"]
	if !onUser {
		return nil
	}
	// Graph takes the user's object id here; anything else names no user.
	if !auth.IsGUID(userID) {
		return userNotFound(userID)
	}
	if !p.AppOnly {
		if !strings.EqualFold(userID, p.ObjectID) {
			return newError(http.StatusForbidden, "Forbidden",
				"A delegated token may only act on the signed-in user's own online meetings; use /me or the user's own id.")
		}
		return nil
	}
	if a.cfg.AccessPolicy == nil || !a.cfg.AccessPolicy.Allows(strings.ToLower(p.TenantID), strings.ToLower(p.AppID), strings.ToLower(userID)) {
		return newError(http.StatusForbidden, "Forbidden", "No application access policy found for this app")
	}
	return nil
}

// errWrongTokenKind fails a security alternative meant for the other kind
// of token (delegated or app-only).
var errWrongTokenKind = errors.New("security requirement is for the other kind of token")

// missingPermission fails a security alternative whose scopes (delegated)
// or roles (app-only) the token lacks.
type missingPermission struct {
	required []string
	appOnly  bool
	granted  []string
	roles    []string
}

func (e *missingPermission) Error() string {
	return "missing permission " + strings.Join(e.required, " ")
}

// securityError picks the answer for a request that failed every security
// alternative: a Graph error one of them made (first in the spec's order),
// else 401 for a missing or bad token, else a 403 that lists every
// permission that would have been enough.
func securityError(err error) error {
	var sre *openapi3filter.SecurityRequirementsError
	if !errors.As(err, &sre) {
		return newError(http.StatusForbidden, "Forbidden", "The caller is not allowed to perform this operation.")
	}
	for _, e := range sre.Errors {
		var ge *Error
		if errors.As(e, &ge) {
			return ge
		}
	}
	for _, e := range sre.Errors {
		if errors.Is(e, auth.ErrNoToken) || errors.Is(e, auth.ErrInvalidToken) {
			return e
		}
	}
	var needed []string
	var last *missingPermission
	for _, e := range sre.Errors {
		var mp *missingPermission
		if errors.As(e, &mp) {
			needed = append(needed, strings.Join(mp.required, " "))
			last = mp
		}
	}
	if last == nil {
		return newError(http.StatusForbidden, "Forbidden", "The caller is not allowed to perform this operation.")
	}
	if last.appOnly {
		return newError(http.StatusForbidden, "Forbidden", fmt.Sprintf(
			"Missing role permissions on the request. API requires one of '%s'. Roles on the request '%s'.",
			strings.Join(needed, ", "), strings.Join(last.roles, " ")))
	}
	return newError(http.StatusForbidden, "Forbidden", fmt.Sprintf(
		"Missing scope permissions on the request. API requires one of '%s'. Scopes on the request '%s'.",
		strings.Join(needed, ", "), strings.Join(last.granted, " ")))
}

// checkBodyHeaders enforces Graph's body rules before the body is read: a
// JSON Content-Type (absent → 400 as Graph answers, anything else → 415) and
// no Content-Encoding other than identity (→ 415).
func checkBodyHeaders(req *http.Request) error {
	// Every Content-Encoding field counts (they are a list); two
	// Content-Type fields leave the media type unknown.
	for _, ce := range req.Header.Values("Content-Encoding") {
		if ce != "" && !strings.EqualFold(strings.TrimSpace(ce), "identity") {
			return newError(http.StatusUnsupportedMediaType, "UnsupportedMediaType",
				fmt.Sprintf("Content-Encoding '%s' is not supported; send the body uncompressed.", ce))
		}
	}
	if len(req.Header.Values("Content-Type")) > 1 {
		return unsupportedMediaType()
	}
	ct := req.Header.Get("Content-Type")
	if strings.TrimSpace(ct) == "" {
		return badRequest(msgUnreadableJSON)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return unsupportedMediaType()
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return unsupportedMediaType()
	}
	// kin-openapi matches the media type literally; give it the canonical one.
	req.Header.Set("Content-Type", "application/json")
	return nil
}

// bufferJSONBody reads the (size-limited) body, rejects anything that is not
// exactly one JSON value (trailing data included), and puts the bytes back
// for the validator and the binder. It returns the bytes.
func bufferJSONBody(req *http.Request) ([]byte, error) {
	data, err := io.ReadAll(req.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, requestTooLarge()
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// The server's read timeout ended a body sent too slowly:
			// the client's request was fine as far as it got.
			return nil, requestTimeout(err)
		}
		ge := badRequest(msgUnreadableJSON)
		ge.Err = err
		return nil, ge
	}
	if len(bytes.TrimSpace(data)) == 0 || !json.Valid(data) {
		return nil, badRequest(msgUnreadableJSON)
	}
	req.Body = io.NopCloser(bytes.NewReader(data))
	req.ContentLength = int64(len(data))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	return data, nil
}

// subPath reports whether a path parameter took in an unescaped '/', and
// the segment that names nothing: the router gives the last parameter of a
// route whatever follows it, so /me/onlineMeetings/{id}/attendanceReports
// would otherwise look up a meeting with the id "{id}/attendanceReports".
// Such a path gets what the router gives any other unknown path, before the
// token is looked at, naming the first segment past the id (an empty one
// for a doubled slash). An id holding an escaped slash (%2F) arrives
// escaped and is not affected, and trimTrailingSlash has already dropped a
// trailing one.
func subPath(c *echo.Context) (string, bool) {
	for _, pv := range c.PathValues() {
		first, rest, found := strings.Cut(pv.Value, "/")
		if !found {
			continue
		}
		if first == "" {
			return "", true
		}
		seg, _, _ := strings.Cut(rest, "/")
		return seg, true
	}
	return "", false
}

// trimTrailingSlash drops one trailing slash from a path under /v1.0/ (in
// its raw form too, which the router uses when the path has escapes), so
// that /v1.0/me/onlineMeetings/ is the collection and …/{id}/ the meeting,
// as OData services take them.
func trimTrailingSlash(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		u := c.Request().URL
		if len(u.Path) > len(apiBasePath)+1 && strings.HasPrefix(u.Path, apiBasePath+"/") && strings.HasSuffix(u.Path, "/") {
			u.Path = u.Path[:len(u.Path)-1]
			u.RawPath = strings.TrimSuffix(u.RawPath, "/")
		}
		return next(c)
	}
}

// checkHeaderParams handles a header parameter of the operation sent more
// than once, which the generated wrappers would refuse with a message about
// the JSON payload: Prefer lines are folded into one (RFC 7240 lets a client
// split its preferences over several), any other gets a 400 naming it.
func checkHeaderParams(req *http.Request, route *routers.Route) error {
	for p := range routeParams(route, "header") {
		values := req.Header.Values(p.Name)
		if len(values) < 2 {
			continue
		}
		if !strings.EqualFold(p.Name, "Prefer") {
			return badRequest(fmt.Sprintf("The header '%s' must be sent at most once.", p.Name))
		}
		req.Header.Set(p.Name, strings.Join(values, ", "))
	}
	return nil
}

// checkQueryOptions answers 400 for an OData system query option ($…) that
// the operation does not declare in the spec ($expand, $count, $orderby,
// $search, …), instead of silently ignoring it, and for one given more than
// once, with OData's message, before the generated wrapper refuses it with
// the message for a malformed payload. Names are checked in sorted order, so
// a request with both problems always gets the same answer.
func checkQueryOptions(req *http.Request, route *routers.Route) error {
	if !strings.Contains(req.URL.RawQuery, "$") && !strings.Contains(req.URL.RawQuery, "%24") {
		return nil
	}
	query := req.URL.Query()
	for _, name := range slices.Sorted(maps.Keys(query)) {
		if !strings.HasPrefix(name, "$") {
			continue
		}
		if !declaredParam(route, "query", name) {
			return badRequest(fmt.Sprintf("Query option '%s' is not supported on this request.", name))
		}
		if len(query[name]) > 1 {
			return badRequest(fmt.Sprintf("Query option '%s' was specified more than once, but it must be specified at most once.", name))
		}
	}
	return nil
}

// routeParams yields the parameters in location in ("query", "header",
// "path") that the route's operation declares, then those of its path.
func routeParams(route *routers.Route, in string) iter.Seq[*openapi3.Parameter] {
	return func(yield func(*openapi3.Parameter) bool) {
		for _, params := range []openapi3.Parameters{route.Operation.Parameters, route.PathItem.Parameters} {
			for _, p := range params {
				if p.Value != nil && p.Value.In == in && !yield(p.Value) {
					return
				}
			}
		}
	}
}

// declaredParam reports whether the route declares a parameter named name
// in location in.
func declaredParam(route *routers.Route, in, name string) bool {
	for p := range routeParams(route, in) {
		if p.Name == name {
			return true
		}
	}
	return false
}
