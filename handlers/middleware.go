package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"

	"github.com/onlinemeetings/onlinemeetings/auth"
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
	return func(c echo.Context) error {
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
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		req := c.Request()
		op, _ := c.Get(ctxKeyOperation).(string)
		attrs := []slog.Attr{
			slog.String("request_id", requestIDsFrom(req.Context()).requestID),
			slog.String("method", req.Method),
			slog.String("path", req.URL.Path),
			slog.String("operation", op),
			slog.Int("status", c.Response().Status),
			slog.Duration("duration", time.Since(start)),
		}
		if code, ok := c.Get(ctxKeyErrorCode).(string); ok {
			attrs = append(attrs, slog.String("error_code", code))
		}
		a.log.LogAttrs(req.Context(), slog.LevelInfo, "request", attrs...)
		return nil
	}
}

// recoverPanics turns a panic in a handler into a 500 Graph error (logged with
// its stack) so the server keeps serving and the client gets an answer.
func (a *app) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
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
	return func(c echo.Context) error {
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
// handler, in the order the stack can deliver: authenticate (401), authorize
// against the operation's security requirements in the spec (403, and 400 for
// an app-only token on /me), Content-Type (415), read the body (413) and
// validate it against the spec (400). Mounting it per operation keeps Echo's
// own routing (404/405) and means no API route can skip it.
func (a *app) operation(id string, route *routers.Route) echo.MiddlewareFunc {
	security := route.Spec.Security
	if route.Operation.Security != nil {
		security = *route.Operation.Security
	}
	hasBody := route.Operation.RequestBody != nil
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Set(ctxKeyOperation, id)
			req := c.Request()
			p, err := a.authenticate(req)
			if err != nil {
				return err
			}
			req = req.WithContext(auth.NewContext(req.Context(), p))
			c.SetRequest(req)

			params := make(map[string]string, len(c.ParamNames()))
			for i, name := range c.ParamNames() {
				params[name] = c.ParamValues()[i]
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
			if hasBody {
				if err := checkBodyHeaders(req); err != nil {
					return err
				}
				if err := bufferJSONBody(req); err != nil {
					return err
				}
			}
			if err := openapi3filter.ValidateRequest(req.Context(), input); err != nil {
				var ge *Error
				if errors.As(err, &ge) {
					return ge
				}
				return a.types.validationError(err)
			}
			return next(c)
		}
	}
}

// authenticate verifies the bearer token of req.
func (a *app) authenticate(req *http.Request) (*auth.Principal, error) {
	raw, err := auth.BearerToken(req.Header.Get("Authorization"))
	if err != nil {
		return nil, err
	}
	return a.cfg.Verifier.Verify(req.Context(), raw)
}

// authorize is kin-openapi's AuthenticationFunc: it checks the verified
// principal against one security requirement of the spec (the scopes it
// lists) and Graph's account rules.
func (a *app) authorize(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	req := in.RequestValidationInput.Request
	p := auth.FromContext(req.Context())
	if p == nil {
		return auth.ErrNoToken
	}
	if p.IsPersonalAccount() {
		return newError(http.StatusForbidden, "Forbidden", "Personal Microsoft accounts are not supported for online meetings.")
	}
	if p.AppOnly {
		if route := in.RequestValidationInput.Route; route != nil && (strings.HasPrefix(route.Path, "/me/") || route.Path == "/me") {
			return badRequest("/me request is only valid with delegated authentication flow.")
		}
		return newError(http.StatusForbidden, "Forbidden", "Application permissions are not supported on this operation.")
	}
	for _, s := range in.Scopes {
		if !p.HasScope(s) {
			return newError(http.StatusForbidden, "Forbidden", fmt.Sprintf(
				"Missing scope permissions on the request. API requires '%s'. Scopes on the request '%s'.",
				strings.Join(in.Scopes, " "), strings.Join(p.Scopes, " ")))
		}
	}
	return nil
}

// securityError picks the Graph error out of a failed security check.
func securityError(err error) error {
	var sre *openapi3filter.SecurityRequirementsError
	if errors.As(err, &sre) {
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
	}
	return newError(http.StatusForbidden, "Forbidden", "The caller is not allowed to perform this operation.")
}

// checkBodyHeaders enforces Graph's body rules before the body is read: a
// JSON Content-Type (absent → 400 as Graph answers, anything else → 415) and
// no Content-Encoding other than identity (→ 415).
func checkBodyHeaders(req *http.Request) error {
	if ce := req.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(strings.TrimSpace(ce), "identity") {
		return newError(http.StatusUnsupportedMediaType, "UnsupportedMediaType",
			fmt.Sprintf("Content-Encoding '%s' is not supported; send the body uncompressed.", ce))
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
// for the validator and the binder.
func bufferJSONBody(req *http.Request) error {
	data, err := io.ReadAll(req.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return requestTooLarge()
		}
		ge := badRequest(msgUnreadableJSON)
		ge.Err = err
		return ge
	}
	if len(bytes.TrimSpace(data)) == 0 || !json.Valid(data) {
		return badRequest(msgUnreadableJSON)
	}
	req.Body = io.NopCloser(bytes.NewReader(data))
	req.ContentLength = int64(len(data))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	return nil
}
