package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// principalFromClaims turns the claims of a token whose signature, issuer,
// audience and lifetime were already checked into a Principal. It is pure
// and never panics on unexpected JSON types: a claim of the wrong type makes
// the token invalid. The rules:
//
//   - oid and tid are required GUIDs (canonical 8-4-4-4-12 hex), lower-cased.
//   - UPN is upn, else preferred_username, else nil; DisplayName is name, else
//     nil (empty strings count as absent).
//   - AppID is azp, else appid.
//   - Scopes is scp split on spaces; Roles is the roles array of strings.
//   - exp, nbf and iat, when present, are JSON numbers (RFC 7519
//     NumericDate): go-oidc also takes them quoted, and checks the values.
//   - A token is app-only when it has no (or an empty) scp and a non-empty
//     roles; a token with neither is refused.
//   - idtyp, when present, must agree: "app" for app-only, "user" for
//     delegated. Entra delegated tokens usually carry no idtyp.
func principalFromClaims(c map[string]any) (*Principal, error) {
	bad := func(format string, args ...any) (*Principal, error) {
		return nil, invalid(ReasonClaims, fmt.Errorf(format, args...))
	}

	for _, name := range []string{"exp", "nbf", "iat"} {
		if v, ok := c[name]; ok && !isNumber(v) {
			return bad("claim %s is %T, want a number", name, v)
		}
	}

	oid, err := guidClaim(c, "oid")
	if err != nil {
		return nil, err
	}
	tid, err := guidClaim(c, "tid")
	if err != nil {
		return nil, err
	}
	p := &Principal{TenantID: tid, ObjectID: oid}

	upn, err := optionalString(c, "upn")
	if err != nil {
		return nil, err
	}
	if upn == "" {
		if upn, err = optionalString(c, "preferred_username"); err != nil {
			return nil, err
		}
	}
	if upn != "" {
		p.UPN = &upn
	}
	name, err := optionalString(c, "name")
	if err != nil {
		return nil, err
	}
	if name != "" {
		p.DisplayName = &name
	}

	azp, err := optionalString(c, "azp")
	if err != nil {
		return nil, err
	}
	if azp == "" {
		if azp, err = optionalString(c, "appid"); err != nil {
			return nil, err
		}
	}
	p.AppID = azp

	scp, err := optionalString(c, "scp")
	if err != nil {
		return nil, err
	}
	// Split on spaces only, as RFC 6749 §3.3 and Entra write scp: any
	// other character, a tab or a no-break space, is part of a scope name,
	// so "A\u00a0OnlineMeetings.ReadWrite" grants neither scope.
	for s := range strings.SplitSeq(scp, " ") {
		if s != "" {
			p.Scopes = append(p.Scopes, s)
		}
	}

	if v, ok := c["roles"]; ok && v != nil {
		arr, ok := v.([]any)
		if !ok {
			return bad("claim roles is %T, want an array of strings", v)
		}
		for i, r := range arr {
			s, ok := r.(string)
			if !ok {
				return bad("claim roles[%d] is %T, want a string", i, r)
			}
			if s != "" {
				p.Roles = append(p.Roles, s)
			}
		}
	}

	switch {
	case len(p.Scopes) > 0:
		p.AppOnly = false
	case len(p.Roles) > 0:
		p.AppOnly = true
	default:
		return bad("token has neither scp nor roles")
	}

	idtyp, err := optionalString(c, "idtyp")
	if err != nil {
		return nil, err
	}
	if _, present := c["idtyp"]; present {
		want := "user"
		if p.AppOnly {
			want = "app"
		}
		if idtyp != want {
			return bad("claim idtyp is %q, want %q for this token", idtyp, want)
		}
	}
	return p, nil
}

// optionalString returns claim name as a string, "" when it is absent or
// null, and an invalid-token error when it has another type.
func optionalString(c map[string]any, name string) (string, error) {
	v, ok := c[name]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", invalid(ReasonClaims, fmt.Errorf("claim %s is %T, want a string", name, v))
	}
	return s, nil
}

// guidClaim returns the required GUID claim name, lower-cased.
func guidClaim(c map[string]any, name string) (string, error) {
	s, err := optionalString(c, name)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", invalid(ReasonClaims, errors.New("claim "+name+" is missing"))
	}
	if !IsGUID(s) {
		return "", invalid(ReasonClaims, fmt.Errorf("claim %s is not a GUID", name))
	}
	return strings.ToLower(s), nil
}

// IsGUID reports whether s is a GUID in canonical 8-4-4-4-12 hex form
// (either case, no braces or prefix).
func IsGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// isNumber reports whether v, a decoded JSON value, is a number.
func isNumber(v any) bool {
	switch v.(type) {
	case float64, json.Number:
		return true
	}
	return false
}
