package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/onlinemeetings/onlinemeetings/auth"
	"github.com/onlinemeetings/onlinemeetings/store"
)

// Error is a Microsoft Graph error: the HTTP status, the Graph error code and
// message, and the extra headers that go with it. Anything in the request
// path may return one; errorHandler writes it as Graph's error JSON.
type Error struct {
	Status  int
	Code    string
	Message string
	// Header holds extra response headers (WWW-Authenticate, Retry-After).
	Header http.Header
	// Err is the underlying cause, logged but never sent to the client.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Graph error messages used in more than one place.
const (
	msgUnreadableJSON = "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."
	msgNoToken        = "Access token is empty."
	msgInvalidToken   = "Access token validation failure."
	msgNotAvailable   = "The service is temporarily unavailable. Please retry after the time given in the Retry-After header."
	msgInternal       = "An unexpected error occurred on the server. Use the request-id to find details in the server log."
)

// retryAfterSeconds is the Retry-After sent with 503 answers.
const retryAfterSeconds = 5

func newError(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

func badRequest(message string) *Error { return newError(http.StatusBadRequest, "BadRequest", message) }

func bodyReadError(message string) *Error {
	return newError(http.StatusBadRequest, "RequestBodyRead", message)
}

func unavailable(cause error) *Error {
	e := newError(http.StatusServiceUnavailable, "serviceNotAvailable", msgNotAvailable)
	e.Header = http.Header{"Retry-After": {strconv.Itoa(retryAfterSeconds)}}
	e.Err = cause
	return e
}

// errorMapping turns the sentinel errors of the store and auth packages into
// Graph errors. Everything not listed (and not already an *Error) is a 500.
var errorMapping = []struct {
	err  error
	make func(error) *Error
}{
	{store.ErrNotFound, func(err error) *Error {
		return &Error{Status: http.StatusNotFound, Code: "NotFound", Message: "The requested onlineMeeting was not found.", Err: err}
	}},
	{store.ErrUnavailable, unavailable},
	{store.ErrClosed, unavailable},
	{auth.ErrNotReady, unavailable},
	{auth.ErrNoToken, func(err error) *Error {
		return &Error{Status: http.StatusUnauthorized, Code: "InvalidAuthenticationToken", Message: msgNoToken,
			Header: http.Header{"WWW-Authenticate": {`Bearer`}}, Err: err}
	}},
	{auth.ErrInvalidToken, func(err error) *Error {
		return &Error{Status: http.StatusUnauthorized, Code: "InvalidAuthenticationToken", Message: msgInvalidToken,
			Header: http.Header{"WWW-Authenticate": {`Bearer error="invalid_token"`}}, Err: err}
	}},
	{context.DeadlineExceeded, unavailable},
	{context.Canceled, func(err error) *Error {
		// The client went away; nobody reads this answer.
		return &Error{Status: statusClientClosedRequest, Code: "ClientClosedRequest", Message: "The client closed the request.", Err: err}
	}},
}

// statusClientClosedRequest is logged (never seen by a client) when the
// client gave up before the answer, as nginx's 499 is.
const statusClientClosedRequest = 499

// toGraphError maps any error that reached Echo for a request to path to a
// Graph error.
func toGraphError(err error, path string) *Error {
	var ge *Error
	if errors.As(err, &ge) {
		return ge
	}
	for _, m := range errorMapping {
		if errors.Is(err, m.err) {
			return m.make(err)
		}
	}
	var sc echo.HTTPStatusCoder // v5's router errors are not *echo.HTTPError
	if errors.As(err, &sc) {
		return fromEchoError(err, sc.StatusCode(), path)
	}
	return &Error{Status: http.StatusInternalServerError, Code: "generalException", Message: msgInternal, Err: err}
}

// unknownSegment is Graph's answer to a path under /v1.0 that names nothing:
// 400 naming the segment it could not resolve.
func unknownSegment(segment string, cause error) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "BadRequest",
		Message: fmt.Sprintf("Resource not found for the segment '%s'.", segment), Err: cause}
}

// fromEchoError maps Echo's own errors (router 404/405, binder, body limit).
func fromEchoError(err error, code int, path string) *Error {
	cause := err
	if inner := errors.Unwrap(err); inner != nil {
		cause = inner
	}
	switch code {
	case http.StatusNotFound:
		// Graph answers an unknown segment under /v1.0 with 400 BadRequest
		// naming the segment; anything else is a plain 404.
		if rest, ok := strings.CutPrefix(path, apiBasePath+"/"); ok && rest != "" {
			segment := rest[strings.LastIndex(strings.TrimSuffix(rest, "/"), "/")+1:]
			return unknownSegment(strings.TrimSuffix(segment, "/"), cause)
		}
		return &Error{Status: http.StatusNotFound, Code: "NotFound", Message: "The requested resource does not exist.", Err: cause}
	case http.StatusMethodNotAllowed:
		return &Error{Status: code, Code: "MethodNotAllowed", Message: "The HTTP method is not allowed on this resource.", Err: cause}
	case http.StatusRequestEntityTooLarge:
		return requestTooLarge()
	case http.StatusBadRequest:
		// The generated wrappers run after validation, and their own 400s
		// (a header parameter sent twice, a parameter they cannot bind)
		// are answered before them by checkHeaderParams and the validator,
		// so a failure here means a body the validator accepted but Go
		// could not decode.
		return &Error{Status: code, Code: "BadRequest", Message: msgUnreadableJSON, Err: cause}
	case http.StatusUnsupportedMediaType:
		return unsupportedMediaType()
	}
	if code >= 400 && code < 500 {
		return &Error{Status: code, Code: "BadRequest", Message: http.StatusText(code), Err: cause}
	}
	return &Error{Status: http.StatusInternalServerError, Code: "generalException", Message: msgInternal, Err: cause}
}

func requestTooLarge() *Error {
	return newError(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
		fmt.Sprintf("The request body is larger than the limit of %d bytes.", MaxBodyBytes))
}

// requestTimeout answers a request whose body did not arrive before the
// server's read timeout: 408, not the 400 of a malformed body, so that
// operators and clients can tell a slow or stalled upload from a bad one.
func requestTimeout(cause error) *Error {
	return &Error{Status: http.StatusRequestTimeout, Code: "RequestTimeout",
		Message: "The request body was not received in time.", Err: cause}
}

func unsupportedMediaType() *Error {
	return newError(http.StatusUnsupportedMediaType, "UnsupportedMediaType",
		"The Content-Type of the request is not supported. Use application/json.")
}

// graphErrorBody is the JSON shape of every error answer.
type graphErrorBody struct {
	Error graphErrorMain `json:"error"`
}

type graphErrorMain struct {
	Code       string          `json:"code"`
	Message    string          `json:"message"`
	InnerError graphInnerError `json:"innerError"`
}

type graphInnerError struct {
	Date            string `json:"date"`
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id"`
}

// errorHandler is Echo's HTTPErrorHandler: the one place where errors become
// responses. It logs server-side failures with the request id and writes
// Graph's error JSON with the correlation headers.
func (a *app) errorHandler(c *echo.Context, err error) {
	ge := toGraphError(err, c.Request().URL.Path)
	req := c.Request()
	ids := requestIDsFrom(req.Context())
	if ge.Status >= 500 {
		a.log.LogAttrs(req.Context(), slog.LevelError, "request failed",
			slog.String("request_id", ids.requestID), slog.Int("status", ge.Status), slog.Any("error", err))
	} else if ge.Err != nil {
		a.log.LogAttrs(req.Context(), slog.LevelDebug, "request rejected",
			slog.String("request_id", ids.requestID), slog.Int("status", ge.Status), slog.Any("error", ge.Err))
	}
	c.Set(ctxKeyErrorCode, ge.Code)
	if r, uerr := echo.UnwrapResponse(c.Response()); uerr == nil && r.Committed {
		return
	}
	h := c.Response().Header()
	for k, vs := range ge.Header {
		h[k] = vs
	}
	body := graphErrorBody{Error: graphErrorMain{
		Code:    ge.Code,
		Message: ge.Message,
		InnerError: graphInnerError{
			Date:            a.now().UTC().Format("2006-01-02T15:04:05"),
			RequestID:       ids.requestID,
			ClientRequestID: ids.clientRequestID,
		},
	}}
	if req.Method == http.MethodHead {
		_ = c.NoContent(ge.Status)
		return
	}
	if werr := writeJSON(c.Response(), ge.Status, errorContentType, body); werr != nil {
		a.log.LogAttrs(req.Context(), slog.LevelDebug, "writing error response failed",
			slog.String("request_id", ids.requestID), slog.Any("error", werr))
	}
}

// now is the clock used in error bodies; tests may replace it.
func (a *app) now() time.Time {
	if a.cfg.Now != nil {
		return a.cfg.Now()
	}
	return time.Now()
}
