package authtest_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinemeetings/onlinemeetings/auth/authtest"
)

func decode(t *testing.T, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims
}

func TestTokenDefaults(t *testing.T) {
	iss := authtest.NewIssuer(t)
	rsaKID, ecKID := iss.KeyIDs()

	h, c := decode(t, iss.Token(t, map[string]any{"x": "y", "nbf": nil}))
	if diff := cmp.Diff(map[string]any{"alg": "RS256", "kid": rsaKID, "typ": "JWT"}, h); diff != "" {
		t.Errorf("header mismatch (-want +got):\n%s", diff)
	}
	if c["iss"] != iss.URL() || c["aud"] != authtest.Audience || c["x"] != "y" {
		t.Errorf("claims = %v", c)
	}
	if _, ok := c["nbf"]; ok {
		t.Errorf("nil nbf was not removed: %v", c)
	}
	if ttl := c["exp"].(float64) - c["iat"].(float64); ttl != authtest.TokenTTL.Seconds() {
		t.Errorf("exp - iat = %v, want %v", ttl, authtest.TokenTTL.Seconds())
	}

	h, _ = decode(t, iss.TokenES256(t, nil))
	if h["alg"] != "ES256" || h["kid"] != ecKID {
		t.Errorf("ES256 header = %v", h)
	}

	_, c = decode(t, iss.UserToken(t, authtest.UserOpts{}))
	for k, want := range map[string]any{
		"oid": authtest.UserObjectID, "tid": authtest.TenantID, "name": authtest.UserName,
		"upn": authtest.UserUPN, "preferred_username": authtest.UserUPN, "scp": authtest.DefaultScope,
		"azp": authtest.ClientID, "ver": "2.0",
	} {
		if c[k] != want {
			t.Errorf("UserToken claim %s = %v, want %v", k, c[k], want)
		}
	}
	if _, ok := c["idtyp"]; ok {
		t.Errorf("UserToken has idtyp by default")
	}

	_, c = decode(t, iss.AppToken(t, authtest.AppOpts{}))
	if c["idtyp"] != "app" || c["oid"] != authtest.AppObjectID || c["scp"] != nil {
		t.Errorf("AppToken claims = %v", c)
	}
	if diff := cmp.Diff([]any{authtest.DefaultRole}, c["roles"]); diff != "" {
		t.Errorf("AppToken roles mismatch (-want +got):\n%s", diff)
	}

	_, c = decode(t, iss.UserToken(t, authtest.UserOpts{TTL: -time.Minute}))
	if exp := int64(c["exp"].(float64)); exp >= time.Now().Unix() {
		t.Errorf("negative TTL gave exp %d, not in the past", exp)
	}

	h, _ = decode(t, iss.ForgedToken(t, "", nil))
	if h["kid"] != rsaKID {
		t.Errorf("ForgedToken kid = %v, want the known kid %s", h["kid"], rsaKID)
	}
}

func TestStopRestartSetDown(t *testing.T) {
	iss := authtest.NewIssuer(t)
	url := iss.URL()
	get := func() (int, error) {
		resp, err := http.Get(iss.JWKSURL())
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := get(); err != nil || code != http.StatusOK {
		t.Fatalf("GET keys = %d, %v", code, err)
	}
	iss.SetDown(true)
	if code, err := get(); err != nil || code != http.StatusServiceUnavailable {
		t.Errorf("GET keys while down = %d, %v; want 503", code, err)
	}
	iss.SetDown(false)
	iss.Stop()
	if _, err := get(); err == nil {
		t.Errorf("GET keys after Stop succeeded")
	}
	iss.Restart(t)
	if iss.URL() != url {
		t.Errorf("URL() after Restart = %s, want %s", iss.URL(), url)
	}
	if code, err := get(); err != nil || code != http.StatusOK {
		t.Errorf("GET keys after Restart = %d, %v", code, err)
	}
	if got := iss.JWKSFetches(); got != 3 {
		t.Errorf("JWKSFetches() = %d, want 3 (the refused one never arrived)", got)
	}
	old, _ := iss.KeyIDs()
	iss.RotateKeys(t)
	if now, _ := iss.KeyIDs(); now == old {
		t.Errorf("RotateKeys kept kid %s", old)
	}
}
