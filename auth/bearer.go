package auth

import (
	"errors"
	"net/http"
	"strings"
)

// MaxTokenBytes is the longest token accepted. Entra ID access tokens are a
// few KiB; anything longer is refused before any parsing or cryptography so
// that huge headers cannot buy expensive work.
const MaxTokenBytes = 16 << 10

// BearerToken extracts the token from an Authorization header value.
//
// An empty value, or the "Bearer" scheme with nothing after it, gives
// ErrNoToken. The scheme is compared case-insensitively (RFC 7235). Any
// other scheme, a value that is not a single RFC 6750 b64token, or a token
// longer than MaxTokenBytes gives an error matching ErrInvalidToken; none of
// these is parsed further.
func BearerToken(header string) (string, error) {
	h := strings.Trim(header, " \t")
	if h == "" {
		return "", ErrNoToken
	}
	if len(h) > len("Bearer ")+MaxTokenBytes+64 {
		// Refuse huge values before looking at them at all; the exact
		// token length is checked below.
		return "", invalid(ReasonOversized, errors.New("authorization header too long"))
	}
	scheme, rest, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", invalid(ReasonMalformed, errors.New("authorization scheme is not Bearer"))
	}
	tok := strings.TrimLeft(rest, " ")
	if tok == "" {
		return "", ErrNoToken
	}
	if len(tok) > MaxTokenBytes {
		return "", invalid(ReasonOversized, errors.New("token too long"))
	}
	if !isB64Token(tok) {
		return "", invalid(ReasonMalformed, errors.New("token has characters outside the RFC 6750 b64token set"))
	}
	return tok, nil
}

// BearerTokenFrom extracts the token from the Authorization header of a
// request, as BearerToken does. Authorization is not a list header (RFC
// 9110 §5.3), so a request with more than one gives an error matching
// ErrInvalidToken: a proxy or firewall in front that reads another of them
// than this server would judge another credential.
func BearerTokenFrom(h http.Header) (string, error) {
	values := h.Values("Authorization")
	switch len(values) {
	case 0:
		return "", ErrNoToken
	case 1:
		return BearerToken(values[0])
	}
	return "", invalid(ReasonMalformed, errors.New("more than one Authorization header"))
}

// isB64Token reports whether s matches RFC 6750's
// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		switch c {
		case '-', '.', '_', '~', '+', '/':
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// isCompactJWS reports whether s looks like a JWS in compact serialization:
// three base64url parts separated by dots. It keeps the JSON serialization
// (which go-jose would also parse) and stray characters out.
func isCompactJWS(s string) bool {
	dots := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		case c == '.':
			dots++
		default:
			return false
		}
	}
	return dots == 2
}
