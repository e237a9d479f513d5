package devissuer_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinemeetings/onlinemeetings/auth"
	"github.com/onlinemeetings/onlinemeetings/auth/devissuer"
)

// publicURL is deliberately unresolvable: everything must go through
// HTTPClient's in-process transport.
const publicURL = "https://onlinemeetings.invalid:8443/"

func TestOpenCreatesFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	iss, err := devissuer.Open(dir)
	if err != nil {
		t.Fatalf("Open() error = %v", err)
	}
	if runtime.GOOS != "windows" {
		for _, tc := range []struct {
			path string
			want os.FileMode
		}{
			{dir, 0o700},
			{filepath.Join(dir, devissuer.KeyFile), 0o600},
			{filepath.Join(dir, devissuer.UserFile), 0o600},
		} {
			fi, err := os.Stat(tc.path)
			if err != nil {
				t.Fatalf("Stat(%s) error = %v", tc.path, err)
			}
			if got := fi.Mode().Perm(); got != tc.want {
				t.Errorf("mode of %s = %#o, want %#o", filepath.Base(tc.path), got, tc.want)
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temp file %s left behind", e.Name())
		}
	}
	u := iss.DefaultUser()
	if u.Name != "Dev User" || u.UPN != "dev.user@onlinemeetings.local" {
		t.Errorf("DefaultUser() = %+v, want Dev User / dev.user@onlinemeetings.local", u)
	}
	if len(u.OID) != 36 || len(u.TID) != 36 || u.OID == u.TID || u.OID != strings.ToLower(u.OID) {
		t.Errorf("DefaultUser() oid/tid = %q/%q, want two distinct lower-case GUIDs", u.OID, u.TID)
	}
}

func TestReopenLoadsSameKeyAndUser(t *testing.T) {
	dir := t.TempDir()
	first, err := devissuer.Open(dir)
	if err != nil {
		t.Fatalf("Open() error = %v", err)
	}
	second, err := devissuer.Open(dir)
	if err != nil {
		t.Fatalf("second Open() error = %v", err)
	}
	if first.KeyID() != second.KeyID() {
		t.Errorf("KeyID() after reopen = %q, want %q", second.KeyID(), first.KeyID())
	}
	if diff := cmp.Diff(first.DefaultUser(), second.DefaultUser()); diff != "" {
		t.Errorf("DefaultUser() after reopen mismatch (-want +got):\n%s", diff)
	}
	// A token minted by the first instance verifies with the second's key set.
	issuerURL := devissuer.IssuerURL(publicURL)
	tok, err := first.Mint(issuerURL, devissuer.DefaultAudience, devissuer.TokenOptions{})
	if err != nil {
		t.Fatalf("Mint() error = %v", err)
	}
	v := startVerifier(t, second, issuerURL)
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Errorf("Verify(token from first instance) error = %v", err)
	}

	other, err := devissuer.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if other.KeyID() == first.KeyID() || other.DefaultUser().OID == first.DefaultUser().OID {
		t.Errorf("two data folders share a key or a user")
	}
}

func TestOpenRefusesLooseKeyFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("permission bits are not checked on Windows")
	}
	dir := t.TempDir()
	if _, err := devissuer.Open(dir); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, devissuer.KeyFile)
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660} {
		if err := os.Chmod(key, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := devissuer.Open(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("Open() with key mode %#o error = %v, want a refusal mentioning chmod 600", mode, err)
		}
	}
	if err := os.Chmod(key, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := devissuer.Open(dir); err != nil {
		t.Errorf("Open() with key mode 0400 error = %v", err)
	}
}

func TestOpenRejectsBadFiles(t *testing.T) {
	tests := []struct {
		name string
		file string
		data string
	}{
		{"key not PEM", devissuer.KeyFile, "hello"},
		{"user not JSON", devissuer.UserFile, "{"},
		{"user oid not a GUID", devissuer.UserFile, `{"oid":"x","tid":"6a1d9b3e-0f4c-4e8a-9b7d-2c5e8f1a3b40","name":"a","upn":"b"}`},
		{"user without name", devissuer.UserFile, `{"oid":"6a1d9b3e-0f4c-4e8a-9b7d-2c5e8f1a3b41","tid":"6a1d9b3e-0f4c-4e8a-9b7d-2c5e8f1a3b40","upn":"b"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, tt.file), []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := devissuer.Open(dir); err == nil {
				t.Errorf("Open() with a bad %s succeeded", tt.file)
			}
		})
	}
}

func TestIssuerURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://example.com", "https://example.com/dev-issuer"},
		{"https://example.com/", "https://example.com/dev-issuer"},
		{"http://127.0.0.1:8080/base/", "http://127.0.0.1:8080/base/dev-issuer"},
	}
	for _, tt := range tests {
		if got := devissuer.IssuerURL(tt.in); got != tt.want {
			t.Errorf("IssuerURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func startVerifier(t *testing.T, iss *devissuer.Issuer, issuerURL string) *auth.Verifier {
	t.Helper()
	v := auth.NewVerifier(auth.Config{
		Issuer:     issuerURL,
		Audience:   devissuer.DefaultAudience,
		HTTPClient: iss.HTTPClient(issuerURL),
	})
	v.Start(t.Context())
	deadline := time.Now().Add(10 * time.Second)
	for !v.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("verifier never became ready")
		}
		time.Sleep(2 * time.Millisecond)
	}
	return v
}

func TestMintVerifiesEndToEnd(t *testing.T) {
	iss, err := devissuer.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	issuerURL := devissuer.IssuerURL(publicURL)
	v := startVerifier(t, iss, issuerURL)
	u := iss.DefaultUser()
	ptr := func(s string) *string { return &s }

	tests := []struct {
		name string
		opts devissuer.TokenOptions
		want *auth.Principal
	}{
		{
			name: "default user",
			want: &auth.Principal{TenantID: u.TID, ObjectID: u.OID, DisplayName: ptr(u.Name), UPN: ptr(u.UPN),
				Scopes: []string{devissuer.DefaultScope}, AppID: devissuer.DefaultAppID},
		},
		{
			name: "other user and scopes",
			opts: devissuer.TokenOptions{OID: "AAAAAAAA-0000-4000-8000-000000000001", TID: "bbbbbbbb-0000-4000-8000-000000000002",
				Name: "Other", UPN: "other@x.example", Scopes: []string{"OnlineMeetings.Read", "User.Read"}, AppID: "my-app"},
			want: &auth.Principal{TenantID: "bbbbbbbb-0000-4000-8000-000000000002", ObjectID: "aaaaaaaa-0000-4000-8000-000000000001",
				DisplayName: ptr("Other"), UPN: ptr("other@x.example"), Scopes: []string{"OnlineMeetings.Read", "User.Read"}, AppID: "my-app"},
		},
		{
			name: "app-only",
			opts: devissuer.TokenOptions{Roles: []string{"OnlineMeetings.ReadWrite.All"}, AppID: "daemon"},
			want: &auth.Principal{TenantID: u.TID, ObjectID: u.OID, Roles: []string{"OnlineMeetings.ReadWrite.All"}, AppID: "daemon", AppOnly: true},
		},
		{
			name: "delegated with roles",
			opts: devissuer.TokenOptions{Scopes: []string{"OnlineMeetings.ReadWrite"}, Roles: []string{"Admin"}},
			want: &auth.Principal{TenantID: u.TID, ObjectID: u.OID, DisplayName: ptr(u.Name), UPN: ptr(u.UPN),
				Scopes: []string{"OnlineMeetings.ReadWrite"}, Roles: []string{"Admin"}, AppID: devissuer.DefaultAppID},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := iss.Mint(issuerURL, devissuer.DefaultAudience, tt.opts)
			if err != nil {
				t.Fatalf("Mint() error = %v", err)
			}
			got, err := v.Verify(t.Context(), tok)
			if err != nil {
				t.Fatalf("Verify() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Verify(Mint()) mismatch (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("wrong audience refused", func(t *testing.T) {
		tok, err := iss.Mint(issuerURL, "api://other", devissuer.TokenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(t.Context(), tok); auth.Reason(err) != auth.ReasonAudience {
			t.Errorf("Verify() error = %v, want reason %q", err, auth.ReasonAudience)
		}
	})
	t.Run("other data folder refused", func(t *testing.T) {
		other, err := devissuer.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		tok, err := other.Mint(issuerURL, devissuer.DefaultAudience, devissuer.TokenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(t.Context(), tok); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("Verify(token from another dev issuer) error = %v, want ErrInvalidToken", err)
		}
	})
}

func TestMintClaims(t *testing.T) {
	iss, err := devissuer.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	issuerURL := devissuer.IssuerURL(publicURL)
	claimsOf := func(t *testing.T, o devissuer.TokenOptions) (header, claims map[string]any) {
		t.Helper()
		tok, err := iss.Mint(issuerURL, devissuer.DefaultAudience, o)
		if err != nil {
			t.Fatalf("Mint() error = %v", err)
		}
		parts := strings.Split(tok, ".")
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

	h, c := claimsOf(t, devissuer.TokenOptions{TTL: 5 * time.Minute})
	if h["alg"] != "RS256" || h["kid"] != iss.KeyID() || h["typ"] != "JWT" {
		t.Errorf("header = %v, want alg RS256, kid %s, typ JWT", h, iss.KeyID())
	}
	for _, name := range []string{"iss", "aud", "exp", "nbf", "iat", "sub", "oid", "tid", "name", "upn", "preferred_username", "scp", "azp", "ver", "uti"} {
		if _, ok := c[name]; !ok {
			t.Errorf("delegated token lacks claim %s", name)
		}
	}
	for _, name := range []string{"idtyp", "roles"} {
		if _, ok := c[name]; ok {
			t.Errorf("delegated token has claim %s", name)
		}
	}
	if c["iss"] != "https://onlinemeetings.invalid:8443/dev-issuer" || c["aud"] != devissuer.DefaultAudience || c["ver"] != "2.0" {
		t.Errorf("iss/aud/ver = %v/%v/%v", c["iss"], c["aud"], c["ver"])
	}
	if ttl := c["exp"].(float64) - c["iat"].(float64); ttl != 300 {
		t.Errorf("exp - iat = %v, want 300", ttl)
	}

	_, c = claimsOf(t, devissuer.TokenOptions{Roles: []string{"R"}})
	if c["idtyp"] != "app" {
		t.Errorf("app-only idtyp = %v, want app", c["idtyp"])
	}
	for _, name := range []string{"scp", "name", "upn", "preferred_username"} {
		if _, ok := c[name]; ok {
			t.Errorf("app-only token has claim %s", name)
		}
	}

	if _, err := iss.Mint(issuerURL, devissuer.DefaultAudience, devissuer.TokenOptions{OID: "nope"}); err == nil {
		t.Errorf("Mint() with a non-GUID oid succeeded")
	}
	if _, err := iss.Mint("", devissuer.DefaultAudience, devissuer.TokenOptions{}); err == nil {
		t.Errorf("Mint() without an issuer URL succeeded")
	}
}

func TestHandlerAndHTTPClient(t *testing.T) {
	iss, err := devissuer.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	issuerURL := devissuer.IssuerURL(publicURL)

	t.Run("mounted handler", func(t *testing.T) {
		mux := http.NewServeMux()
		mux.Handle(devissuer.MountPath+"/", http.StripPrefix(devissuer.MountPath, iss.Handler(issuerURL)))
		srv := httptest.NewServer(mux)
		defer srv.Close()
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		getJSON(t, srv.Client(), srv.URL+"/dev-issuer/.well-known/openid-configuration", &doc)
		if doc.Issuer != issuerURL || doc.JWKSURI != issuerURL+"/keys" {
			t.Errorf("discovery = %+v, want issuer %s and jwks_uri %s/keys", doc, issuerURL, issuerURL)
		}
		var jwks struct {
			Keys []map[string]any `json:"keys"`
		}
		getJSON(t, srv.Client(), srv.URL+"/dev-issuer/keys", &jwks)
		if len(jwks.Keys) != 1 || jwks.Keys[0]["kid"] != iss.KeyID() || jwks.Keys[0]["kty"] != "RSA" {
			t.Fatalf("JWKS = %v, want one RSA key with kid %s", jwks, iss.KeyID())
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := jwks.Keys[0][private]; ok {
				t.Errorf("JWKS publishes private member %q", private)
			}
		}
		resp, err := srv.Client().Post(srv.URL+"/dev-issuer/keys", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST /keys status = %d, want 405", resp.StatusCode)
		}
	})

	t.Run("in-process client", func(t *testing.T) {
		c := iss.HTTPClient(issuerURL)
		var jwks struct {
			Keys []map[string]any `json:"keys"`
		}
		getJSON(t, c, issuerURL+"/keys", &jwks)
		if len(jwks.Keys) != 1 {
			t.Errorf("JWKS via HTTPClient has %d keys, want 1", len(jwks.Keys))
		}
		resp, err := c.Get(issuerURL + "/nope")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET unknown path status = %d, want 404", resp.StatusCode)
		}
		for _, u := range []string{
			"https://example.com/keys",
			"https://onlinemeetings.invalid:8443/keys",
			"https://onlinemeetings.invalid:8443/dev-issuerX/keys",
			"http://onlinemeetings.invalid:8443/dev-issuer/keys",
			"https://onlinemeetings.invalid:9999/dev-issuer/keys",
		} {
			if resp, err := c.Get(u); err == nil {
				resp.Body.Close()
				t.Errorf("HTTPClient GET %s succeeded, want an error", u)
			}
		}
	})
}

func getJSON(t *testing.T, c *http.Client, url string, v any) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s Content-Type = %q", url, ct)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// TestOpenRemovesStaleTempFiles checks that Open removes the temp files a
// process killed in the middle of writing the key or the user left behind
// (kill -9 between the link and the removal leaves a second copy of the
// private key), and leaves young ones alone: they may be another process's,
// starting at the same time.
func TestOpenRemovesStaleTempFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := devissuer.Open(dir); err != nil {
		t.Fatalf("Open() error = %v", err)
	}
	stale := []string{"." + devissuer.KeyFile + ".123.tmp", "." + devissuer.UserFile + ".456.tmp"}
	young := "." + devissuer.KeyFile + ".789.tmp"
	other := ".unrelated.123.tmp"
	old := time.Now().Add(-time.Hour)
	for _, name := range append(stale, young, other) {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if name != young {
			if err := os.Chtimes(path, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := devissuer.Open(dir); err != nil {
		t.Fatalf("Open() again error = %v", err)
	}
	for _, name := range stale {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale temp file %s: Stat error = %v, want it removed", name, err)
		}
	}
	for _, name := range []string{young, other} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: Stat error = %v, want it kept", name, err)
		}
	}
}
