package auth

import "errors"

// Sentinel errors returned by BearerToken and (*Verifier).Verify. Match them
// with errors.Is; the wrapped text says why, for logs only (never send it to
// clients).
var (
	// ErrNoToken means the request carried no bearer token at all (no
	// Authorization header, or "Bearer" with nothing after it). The server
	// answers 401 with "Access token is empty."
	ErrNoToken = errors.New("auth: no bearer token")

	// ErrInvalidToken means a token was present but was refused: malformed,
	// oversized, badly signed, expired, for another audience or issuer, or
	// with claims that do not make a valid Principal. Every such error is a
	// *TokenError, whose Reason says which check failed. The server answers
	// 401.
	ErrInvalidToken = errors.New("auth: invalid token")

	// ErrNotReady means issuer discovery (and the first key set download) has
	// not succeeded yet, so no token can be checked. The server answers 503:
	// the caller's token may well be fine.
	ErrNotReady = errors.New("auth: token issuer not ready")
)

// Reasons reported by Reason, one per kind of rejection. They are stable,
// short and lower case so that metrics can use them as label values.
const (
	// ReasonNoToken is the reason for ErrNoToken.
	ReasonNoToken = "no_token"
	// ReasonNotReady is the reason for ErrNotReady.
	ReasonNotReady = "not_ready"
	// ReasonMalformed: not a Bearer credential, not a compact JWS, bad
	// base64 or JSON in the header, or more than one signature.
	ReasonMalformed = "malformed"
	// ReasonOversized: the token is longer than MaxTokenBytes; it was refused
	// before any parsing.
	ReasonOversized = "oversized"
	// ReasonAlgorithm: the alg header is not RS256 or ES256 (for example
	// "none" or "HS256").
	ReasonAlgorithm = "algorithm"
	// ReasonUnknownKey: the token has no kid, or its kid is not in the
	// issuer's key set (even after the rate-limited refetch).
	ReasonUnknownKey = "unknown_key"
	// ReasonSignature: the kid is known but the signature does not verify
	// under that key.
	ReasonSignature = "signature"
	// ReasonExpired: exp is missing or in the past.
	ReasonExpired = "expired"
	// ReasonNotYetValid: nbf is more than go-oidc's 5 minute leeway in the
	// future.
	ReasonNotYetValid = "not_yet_valid"
	// ReasonIssuer: iss is not the configured issuer.
	ReasonIssuer = "issuer"
	// ReasonAudience: aud does not contain the configured audience.
	ReasonAudience = "audience"
	// ReasonClaims: the signature and standard claims are fine but the
	// token's claims break one of our rules (GUID oid/tid, scp/roles/idtyp,
	// claim types).
	ReasonClaims = "claims"
	// ReasonOther is reported for errors that are none of the above.
	ReasonOther = "other"
)

// TokenError is the error for a refused token. It matches ErrInvalidToken
// with errors.Is and unwraps to the underlying cause, so logs keep the
// detail while callers only need the sentinel.
type TokenError struct {
	// Reason is one of the Reason* constants.
	Reason string
	// Err is the underlying cause, or nil.
	Err error
}

// Error returns a log-friendly description that names the reason.
func (e *TokenError) Error() string {
	if e.Err == nil {
		return "auth: invalid token (" + e.Reason + ")"
	}
	return "auth: invalid token (" + e.Reason + "): " + e.Err.Error()
}

// Is reports whether target is ErrInvalidToken, so that
// errors.Is(err, ErrInvalidToken) holds for every *TokenError.
func (e *TokenError) Is(target error) bool { return target == ErrInvalidToken }

// Unwrap returns the underlying cause.
func (e *TokenError) Unwrap() error { return e.Err }

// invalid returns a *TokenError with the given reason and cause.
func invalid(reason string, err error) error {
	return &TokenError{Reason: reason, Err: err}
}

// Reason returns a short, stable label for why err refused a request: the
// Reason of a *TokenError, ReasonNoToken, ReasonNotReady, "" for a nil
// error and ReasonOther for anything else. It exists so that rejections can
// be counted by reason without parsing error text.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	var te *TokenError
	switch {
	case errors.As(err, &te):
		return te.Reason
	case errors.Is(err, ErrNoToken):
		return ReasonNoToken
	case errors.Is(err, ErrNotReady):
		return ReasonNotReady
	}
	return ReasonOther
}
