package auth

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	testOID = "3f2b8c1d-7e4a-4b9c-8d6e-1a2b3c4d5e6f"
	testTID = "6a1d9b3e-0f4c-4e8a-9b7d-2c5e8f1a3b40"
)

func ptr(s string) *string { return &s }

func TestPrincipalFromClaims(t *testing.T) {
	// base is a minimal delegated token; each case edits a copy.
	base := map[string]any{"oid": testOID, "tid": testTID, "scp": "OnlineMeetings.ReadWrite"}
	with := func(kv ...any) map[string]any {
		c := maps.Clone(base)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
				continue
			}
			c[kv[i].(string)] = kv[i+1]
		}
		return c
	}
	tests := []struct {
		name    string
		claims  map[string]any
		want    *Principal
		wantErr bool
	}{
		{
			name:   "minimal delegated",
			claims: base,
			want:   &Principal{TenantID: testTID, ObjectID: testOID, Scopes: []string{"OnlineMeetings.ReadWrite"}},
		},
		{
			name: "full delegated",
			claims: with("upn", "a@contoso.example", "preferred_username", "p@contoso.example", "name", "Ann",
				"azp", "azp-id", "appid", "appid-id", "scp", "OnlineMeetings.Read  User.Read ", "roles", []any{"Admin"}),
			want: &Principal{TenantID: testTID, ObjectID: testOID, DisplayName: ptr("Ann"), UPN: ptr("a@contoso.example"),
				Scopes: []string{"OnlineMeetings.Read", "User.Read"}, Roles: []string{"Admin"}, AppID: "azp-id"},
		},
		{
			name:   "scp splits on spaces only",
			claims: with("scp", "User.Read\u00a0OnlineMeetings.ReadWrite\tX  Y"),
			want:   &Principal{TenantID: testTID, ObjectID: testOID, Scopes: []string{"User.Read\u00a0OnlineMeetings.ReadWrite\tX", "Y"}},
		},
		{name: "exp as a string", claims: with("exp", "4102444800"), wantErr: true},
		{name: "nbf as a string", claims: with("nbf", "1700000000"), wantErr: true},
		{name: "iat as a bool", claims: with("iat", true), wantErr: true},
		{
			name:   "NumericDates as numbers",
			claims: with("exp", float64(4102444800), "nbf", float64(1700000000), "iat", json.Number("1700000000")),
			want:   &Principal{TenantID: testTID, ObjectID: testOID, Scopes: []string{"OnlineMeetings.ReadWrite"}},
		},
		{
			name:   "upper-case GUIDs are lower-cased",
			claims: with("oid", "3F2B8C1D-7E4A-4B9C-8D6E-1A2B3C4D5E6F", "tid", "6A1D9B3E-0F4C-4E8A-9B7D-2C5E8F1A3B40"),
			want:   &Principal{TenantID: testTID, ObjectID: testOID, Scopes: []string{"OnlineMeetings.ReadWrite"}},
		},
		{
			name:   "preferred_username when no upn",
			claims: with("preferred_username", "p@contoso.example", "upn", ""),
			want:   &Principal{TenantID: testTID, ObjectID: testOID, UPN: ptr("p@contoso.example"), Scopes: []string{"OnlineMeetings.ReadWrite"}},
		},
		{
			name:   "appid when no azp",
			claims: with("appid", "appid-id"),
			want:   &Principal{TenantID: testTID, ObjectID: testOID, AppID: "appid-id", Scopes: []string{"OnlineMeetings.ReadWrite"}},
		},
		{
			name:   "idtyp user on delegated",
			claims: with("idtyp", "user"),
			want:   &Principal{TenantID: testTID, ObjectID: testOID, Scopes: []string{"OnlineMeetings.ReadWrite"}},
		},
		{
			name:   "app-only",
			claims: with("scp", nil, "roles", []any{"OnlineMeetings.ReadWrite.All", "Calendars.Read"}, "idtyp", "app", "azp", "client"),
			want: &Principal{TenantID: testTID, ObjectID: testOID, AppID: "client",
				Roles: []string{"OnlineMeetings.ReadWrite.All", "Calendars.Read"}, AppOnly: true},
		},
		{
			name:   "app-only with empty scp and no idtyp",
			claims: with("scp", "", "roles", []any{"R"}),
			want:   &Principal{TenantID: testTID, ObjectID: testOID, Roles: []string{"R"}, AppOnly: true},
		},
		{
			name:   "null optional claims are absent",
			claims: with("name", nilJSON{}, "upn", nilJSON{}),
			want:   &Principal{TenantID: testTID, ObjectID: testOID, Scopes: []string{"OnlineMeetings.ReadWrite"}},
		},
		{name: "idtyp app on delegated", claims: with("idtyp", "app"), wantErr: true},
		{name: "idtyp user on app-only", claims: with("scp", nil, "roles", []any{"R"}, "idtyp", "user"), wantErr: true},
		{name: "idtyp device", claims: with("idtyp", "device"), wantErr: true},
		{name: "idtyp not a string", claims: with("idtyp", 1.0), wantErr: true},
		{name: "neither scp nor roles", claims: with("scp", nil), wantErr: true},
		{name: "blank scp and empty roles", claims: with("scp", "  ", "roles", []any{}), wantErr: true},
		{name: "roles of empty strings", claims: with("scp", nil, "roles", []any{""}), wantErr: true},
		{name: "missing oid", claims: with("oid", nil), wantErr: true},
		{name: "missing tid", claims: with("tid", nil), wantErr: true},
		{name: "oid not a GUID", claims: with("oid", "not-a-guid"), wantErr: true},
		{name: "oid with braces", claims: with("oid", "{3f2b8c1d-7e4a-4b9c-8d6e-1a2b3c4d5e6f}"), wantErr: true},
		{name: "oid without dashes", claims: with("oid", "3f2b8c1d7e4a4b9c8d6e1a2b3c4d5e6f"), wantErr: true},
		{name: "oid non-hex", claims: with("oid", "3f2b8c1d-7e4a-4b9c-8d6e-1a2b3c4d5e6g"), wantErr: true},
		{name: "oid urn form", claims: with("oid", "urn:uuid:3f2b8c1d-7e4a-4b9c-8d6e-1a2b3c4d5e6f"), wantErr: true},
		{name: "tid not a GUID", claims: with("tid", "contoso.onmicrosoft.com"), wantErr: true},
		{name: "oid a number", claims: with("oid", 42.0), wantErr: true},
		{name: "scp a number", claims: with("scp", 5.0), wantErr: true},
		{name: "scp an array", claims: with("scp", []any{"OnlineMeetings.ReadWrite"}), wantErr: true},
		{name: "roles a string", claims: with("scp", nil, "roles", "R"), wantErr: true},
		{name: "roles with a number", claims: with("scp", nil, "roles", []any{"R", 1.0}), wantErr: true},
		{name: "roles an object", claims: with("roles", map[string]any{"a": "b"}), wantErr: true},
		{name: "name a bool", claims: with("name", true), wantErr: true},
		{name: "upn an object", claims: with("upn", map[string]any{}), wantErr: true},
		{name: "preferred_username a number", claims: with("preferred_username", 1.0), wantErr: true},
		{name: "azp a number", claims: with("azp", 1.0), wantErr: true},
		{name: "appid an array", claims: with("appid", []any{}), wantErr: true},
		{name: "no claims", claims: map[string]any{}, wantErr: true},
		{name: "nil map", claims: nil, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := principalFromClaims(nullify(tt.claims))
			if tt.wantErr {
				if err == nil || Reason(err) != ReasonClaims {
					t.Fatalf("principalFromClaims() = %+v, %v; want a %q error", got, err, ReasonClaims)
				}
				return
			}
			if err != nil {
				t.Fatalf("principalFromClaims() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("principalFromClaims() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// nilJSON marks a claim whose JSON value is null (a nil in the table would
// mean "delete").
type nilJSON struct{}

func nullify(c map[string]any) map[string]any {
	if c == nil {
		return nil
	}
	out := make(map[string]any, len(c))
	for k, v := range c {
		if _, ok := v.(nilJSON); ok {
			v = nil
		}
		out[k] = v
	}
	return out
}

func TestScopesAreWholeWords(t *testing.T) {
	p, err := principalFromClaims(map[string]any{"oid": testOID, "tid": testTID, "scp": "OnlineMeetings.ReadWrite.All OnlineMeetings.ReadX"})
	if err != nil {
		t.Fatalf("principalFromClaims() error = %v", err)
	}
	for _, s := range []string{"OnlineMeetings.Read", "OnlineMeetings.ReadWrite", "OnlineMeetings", "ReadWrite.All", ""} {
		if p.HasScope(s) {
			t.Errorf("HasScope(%q) = true, want false (scp is %q)", s, "OnlineMeetings.ReadWrite.All OnlineMeetings.ReadX")
		}
	}
	if !p.HasScope("OnlineMeetings.ReadWrite.All") {
		t.Errorf("HasScope(%q) = false, want true", "OnlineMeetings.ReadWrite.All")
	}
}
