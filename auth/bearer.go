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
// three base64url parts separated by dots, each in its one canonical
// encoding. It keeps the JSON serialization (which go-jose would also parse)
// and stray characters out, and makes a token's string as unique as its
// bytes: go-jose decodes leniently, so changing the unused low bits of a
// part's last character would otherwise give a second string for the same
// token, a second entry in the verified-token cache and a way past anything
// that tracks tokens by their string.
func isCompactJWS(s string) bool {
	parts := 0
	for part := range strings.SplitSeq(s, ".") {
		parts++
		if parts > 3 || !isCanonicalB64URL(part) {
			return false
		}
	}
	return parts == 3
}

// isCanonicalB64URL reports whether s is unpadded base64url whose last
// character leaves the bits past the data zero, as RFC 4648 §3.5 has an
// encoder write them. An empty part (an unsigned payload, say) is allowed
// here; go-jose and the checks after it judge the content.
func isCanonicalB64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		if b64URLValue(s[i]) < 0 {
			return false
		}
	}
	switch len(s) % 4 {
	case 1: // 6 bits: not even one byte
		return false
	case 2: // 12 bits: one byte, 4 unused
		return b64URLValue(s[len(s)-1])&0x0f == 0
	case 3: // 18 bits: two bytes, 2 unused
		return b64URLValue(s[len(s)-1])&0x03 == 0
	}
	return true
}

// b64URLValue is the 6-bit value of the base64url character c, or -1.
func b64URLValue(c byte) int {
	switch {
	case 'A' <= c && c <= 'Z':
		return int(c - 'A')
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 26
	case '0' <= c && c <= '9':
		return int(c-'0') + 52
	case c == '-':
		return 62
	case c == '_':
		return 63
	}
	return -1
}
