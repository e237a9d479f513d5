// Package auth verifies bearer tokens shaped like Microsoft Entra ID v2
// access tokens and turns their claims into a Principal.
package auth

import (
	"context"
	"slices"
)

// PersonalAccountsTenantID is the tenant id of personal Microsoft accounts
// (MSA). Graph does not support online meetings for them.
const PersonalAccountsTenantID = "9188040d-6c67-4c5b-b112-36a304b66dad"

// Principal is the verified caller of a request.
type Principal struct {
	// TenantID is the tid claim (a GUID).
	TenantID string
	// ObjectID is the oid claim (a GUID): the user, or the app's service
	// principal for app-only tokens.
	ObjectID string
	// DisplayName is the name claim, or nil when the token has none.
	DisplayName *string
	// UPN is the upn claim, else preferred_username, or nil when neither is present.
	UPN *string
	// Scopes are the delegated scopes (the scp claim split on spaces).
	Scopes []string
	// Roles are the application roles (the roles claim).
	Roles []string
	// AppID is the client application (azp, else appid).
	AppID string
	// AppOnly is true for application (client credentials) tokens: no scp
	// and a non-empty roles claim.
	AppOnly bool
}

// HasScope reports whether the delegated token carries scope s as a whole
// word (never a substring match).
func (p *Principal) HasScope(s string) bool { return slices.Contains(p.Scopes, s) }

// HasRole reports whether the app-only token carries role r.
func (p *Principal) HasRole(r string) bool { return slices.Contains(p.Roles, r) }

// IsPersonalAccount reports whether the token belongs to a personal Microsoft account.
func (p *Principal) IsPersonalAccount() bool { return p.TenantID == PersonalAccountsTenantID }

type principalKey struct{}

// NewContext returns a copy of ctx that carries p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal stored in ctx, or nil.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
