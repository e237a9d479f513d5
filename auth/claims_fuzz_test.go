package auth

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// FuzzPrincipalFromClaims decodes arbitrary token payloads the way Verify
// does (go-oidc's Claims: encoding/json into a map) and checks what
// principalFromClaims promises beyond not panicking:
//
//   - a refusal is an invalid-token error with reason "claims" (a 401
//     invalid_token answer, never a 500);
//   - an accepted token has a lower-case canonical GUID tenant and object id
//     equal to its tid and oid claims, is exactly one of delegated (scopes,
//     each a non-empty word) and app-only (roles, no scopes), and carries
//     no empty UPN, display name or role;
//   - the result depends on the claims alone: the same payload always gives
//     the same answer.
func FuzzPrincipalFromClaims(f *testing.F) {
	const oid, tid = "5A7E6C1D-2B3C-4D5E-8F90-A1B2C3D4E5F6", "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
	for _, s := range []string{
		`{"oid":"` + oid + `","tid":"` + tid + `","scp":"OnlineMeetings.ReadWrite","upn":"ada@contoso.com","name":"Ada"}`,
		`{"oid":"` + oid + `","tid":"` + tid + `","scp":"  OnlineMeetings.Read\tUser.Read ","preferred_username":"ada@contoso.com","idtyp":"user"}`,
		`{"oid":"` + oid + `","tid":"` + tid + `","roles":["OnlineMeetings.ReadWrite.All",""],"azp":"6e2b9a51-3c1d-4f7e-9a0b-8c5d4e3f2a10","idtyp":"app"}`,
		`{"oid":"` + oid + `","tid":"` + tid + `","roles":["OnlineMeetings.Read.All"],"appid":"x","idtyp":"user"}`,
		`{"oid":"` + oid + `","tid":"` + tid + `","scp":"","roles":[]}`,
		`{"oid":"` + oid + `","tid":"` + tid + `","scp":5,"roles":"OnlineMeetings.Read.All"}`,
		`{"oid":"{` + oid + `}","tid":"` + tid + `","scp":"a"}`,
		`{"oid":null,"tid":"` + tid + `","scp":"a","upn":""}`,
		`{"oid":"` + oid + `","tid":"` + tid + `","scp":"a","name":["x"],"roles":[1]}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var claims map[string]any
		if json.Unmarshal(payload, &claims) != nil {
			t.Skip() // go-oidc refuses the token before claims are read
		}
		p, err := principalFromClaims(claims)
		p2, err2 := principalFromClaims(claims)
		if (err == nil) != (err2 == nil) || err == nil && !samePrincipal(p, p2) {
			t.Fatalf("two calls disagree: %+v, %v and %+v, %v", p, err, p2, err2)
		}
		if err != nil {
			if p != nil {
				t.Fatalf("principal %+v with error %v", p, err)
			}
			if Reason(err) != ReasonClaims {
				t.Fatalf("error %v has reason %q, want %q", err, Reason(err), ReasonClaims)
			}
			return
		}
		for _, id := range []struct{ name, got string }{{"tid", p.TenantID}, {"oid", p.ObjectID}} {
			claim, _ := claims[id.name].(string)
			if !IsGUID(id.got) || id.got != strings.ToLower(id.got) || id.got != strings.ToLower(claim) {
				t.Fatalf("%s = %q from claim %q, want the claim lower-cased, a GUID", id.name, id.got, claim)
			}
		}
		if p.AppOnly == (len(p.Scopes) > 0) || p.AppOnly && len(p.Roles) == 0 {
			t.Fatalf("AppOnly = %v with scopes %q and roles %q", p.AppOnly, p.Scopes, p.Roles)
		}
		// scp splits on spaces only: a tab or a no-break space is part of
		// a scope name, never a separator.
		scp, _ := claims["scp"].(string)
		if want := strings.FieldsFunc(scp, func(r rune) bool { return r == ' ' }); !slices.Equal(p.Scopes, want) && len(want) > 0 {
			t.Fatalf("scopes %q from scp %q, want %q", p.Scopes, scp, want)
		}
		if slices.Contains(p.Roles, "") {
			t.Fatalf("empty role in %q", p.Roles)
		}
		if p.UPN != nil && *p.UPN == "" || p.DisplayName != nil && *p.DisplayName == "" {
			t.Fatalf("empty UPN or display name: %+v", p)
		}
	})
}

func samePrincipal(a, b *Principal) bool {
	str := func(s *string) string {
		if s == nil {
			return "\x00nil"
		}
		return *s
	}
	return a.TenantID == b.TenantID && a.ObjectID == b.ObjectID && str(a.UPN) == str(b.UPN) &&
		str(a.DisplayName) == str(b.DisplayName) && slices.Equal(a.Scopes, b.Scopes) &&
		slices.Equal(a.Roles, b.Roles) && a.AppID == b.AppID && a.AppOnly == b.AppOnly
}
