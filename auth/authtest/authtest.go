// Package authtest runs an OpenID Connect issuer for tests: discovery, a
// JWKS with freshly generated keys, and helpers that sign tokens shaped like
// Microsoft Entra ID v2 access tokens. Keys live only in memory; nothing is
// ever committed.
//
// Typical use in another package's test:
//
//	iss := authtest.NewIssuer(t)
//	v := auth.NewVerifier(auth.Config{Issuer: iss.URL(), Audience: authtest.Audience})
//	v.Start(t.Context())
//	tok := iss.UserToken(t, authtest.UserOpts{})
package authtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Defaults used by the token helpers. They are fixed so that tests can
// assert on owners (tid, oid) without reading them back from the token.
const (
	// Audience is the aud of every token unless a test overrides it.
	Audience = "api://onlinemeetings-test"
	// TenantID is the default tid.
	TenantID = "6a1d9b3e-0f4c-4e8a-9b7d-2c5e8f1a3b40"
	// UserObjectID is the default oid of UserToken.
	UserObjectID = "3f2b8c1d-7e4a-4b9c-8d6e-1a2b3c4d5e6f"
	// AppObjectID is the default oid (the service principal) of AppToken.
	AppObjectID = "9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
	// ClientID is the default azp: the calling application.
	ClientID = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
	// UserName is the default name claim of UserToken.
	UserName = "Test User"
	// UserUPN is the default upn and preferred_username of UserToken.
	UserUPN = "test.user@contoso.example"
	// DefaultScope is the default scp of UserToken.
	DefaultScope = "OnlineMeetings.ReadWrite"
	// DefaultRole is the default roles entry of AppToken.
	DefaultRole = "OnlineMeetings.ReadWrite.All"
	// TokenTTL is the default lifetime: exp = now + TokenTTL.
	TokenTTL = time.Hour
)

// Issuer is a running test issuer. Its methods are safe for concurrent use.
type Issuer struct {
	mu      sync.Mutex
	srv     *httptest.Server
	addr    string
	rsaKey  *rsa.PrivateKey
	rsaKID  string
	ecKey   *ecdsa.PrivateKey
	ecKID   string
	stopped bool

	down             atomic.Bool
	jwksFetches      atomic.Int64
	discoveryFetches atomic.Int64
}

// NewIssuer starts an issuer on a loopback port with a new RSA-2048 key
// (RS256) and a new P-256 key (ES256). It is stopped when the test ends.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	iss := &Issuer{}
	iss.rotate(t)
	iss.srv = httptest.NewServer(http.HandlerFunc(iss.serveHTTP))
	iss.addr = iss.srv.Listener.Addr().String()
	t.Cleanup(iss.Stop)
	return iss
}

// URL returns the issuer URL: the iss of its tokens and the base of its
// discovery document. It stays the same across Stop and Restart.
func (iss *Issuer) URL() string { return "http://" + iss.addr }

// JWKSURL returns the URL of the key set.
func (iss *Issuer) JWKSURL() string { return iss.URL() + "/keys" }

// JWKSFetches returns how many requests reached the key set endpoint,
// including those answered 503 by SetDown.
func (iss *Issuer) JWKSFetches() int { return int(iss.jwksFetches.Load()) }

// DiscoveryFetches returns how many requests reached the discovery
// endpoint, including those answered 503 by SetDown.
func (iss *Issuer) DiscoveryFetches() int { return int(iss.discoveryFetches.Load()) }

// SetDown makes discovery and the key set answer 503 (true) or work again
// (false), to test issuer outages without closing the listener.
func (iss *Issuer) SetDown(down bool) { iss.down.Store(down) }

// Stop closes the listener: connections are refused until Restart.
func (iss *Issuer) Stop() {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	if !iss.stopped {
		iss.stopped = true
		iss.srv.Close()
	}
}

// Restart listens again on the same address after Stop.
func (iss *Issuer) Restart(t testing.TB) {
	t.Helper()
	iss.mu.Lock()
	defer iss.mu.Unlock()
	if !iss.stopped {
		return
	}
	l, err := net.Listen("tcp", iss.addr)
	if err != nil {
		t.Fatalf("authtest: listen again on %s: %v", iss.addr, err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(iss.serveHTTP))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	iss.srv = srv
	iss.stopped = false
}

// RotateKeys replaces both signing keys with new ones. The key set then
// publishes only the new keys, and tokens are signed with them.
func (iss *Issuer) RotateKeys(t testing.TB) {
	t.Helper()
	iss.rotate(t)
}

func (iss *Issuer) rotate(t testing.TB) {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("authtest: generate RSA key: %v", err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("authtest: generate EC key: %v", err)
	}
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.rsaKey, iss.rsaKID = rk, thumbprint(t, &rk.PublicKey)
	iss.ecKey, iss.ecKID = ek, thumbprint(t, &ek.PublicKey)
}

// KeyIDs returns the kid of the current RSA key and of the current EC key.
func (iss *Issuer) KeyIDs() (rsaKID, ecKID string) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return iss.rsaKID, iss.ecKID
}

func thumbprint(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	jwk := jose.JSONWebKey{Key: pub}
	b, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatalf("authtest: thumbprint: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (iss *Issuer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		iss.discoveryFetches.Add(1)
		if iss.down.Load() {
			http.Error(w, "issuer down", http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, map[string]any{
			"issuer":                                iss.URL(),
			"jwks_uri":                              iss.JWKSURL(),
			"authorization_endpoint":                iss.URL() + "/authorize",
			"token_endpoint":                        iss.URL() + "/token",
			"response_types_supported":              []string{"code", "token"},
			"subject_types_supported":               []string{"pairwise"},
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		})
	case "/keys":
		iss.jwksFetches.Add(1)
		if iss.down.Load() {
			http.Error(w, "issuer down", http.StatusServiceUnavailable)
			return
		}
		iss.mu.Lock()
		set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &iss.rsaKey.PublicKey, KeyID: iss.rsaKID, Algorithm: string(jose.RS256), Use: "sig"},
			{Key: &iss.ecKey.PublicKey, KeyID: iss.ecKID, Algorithm: string(jose.ES256), Use: "sig"},
		}}
		iss.mu.Unlock()
		writeJSON(w, set)
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Token signs claims with the issuer's RSA key (RS256, header kid set).
// Defaults are added first and claims override them: iss = URL(),
// aud = Audience, iat = nbf = now, exp = now + TokenTTL. A claim whose value
// is nil is removed, e.g. {"exp": nil} for a token without exp.
func (iss *Issuer) Token(t testing.TB, claims map[string]any) string {
	t.Helper()
	iss.mu.Lock()
	key, kid := iss.rsaKey, iss.rsaKID
	iss.mu.Unlock()
	return Sign(t, jose.RS256, key, kid, iss.withDefaults(claims))
}

// TokenES256 is Token signed with the issuer's P-256 key (ES256).
func (iss *Issuer) TokenES256(t testing.TB, claims map[string]any) string {
	t.Helper()
	iss.mu.Lock()
	key, kid := iss.ecKey, iss.ecKID
	iss.mu.Unlock()
	return Sign(t, jose.ES256, key, kid, iss.withDefaults(claims))
}

// ForgedToken is Token signed by a fresh RSA key that is not in the key
// set, under header kid. An empty kid means the issuer's current RSA kid:
// a bad signature under a known kid. Any other kid is unknown to the issuer.
func (iss *Issuer) ForgedToken(t testing.TB, kid string, claims map[string]any) string {
	t.Helper()
	if kid == "" {
		kid, _ = iss.KeyIDs()
	}
	return Sign(t, jose.RS256, forgeKey(t), kid, iss.withDefaults(claims))
}

var (
	forgeOnce sync.Once
	forged    *rsa.PrivateKey
	forgeErr  error
)

// forgeKey returns one RSA key per test binary that no issuer publishes.
func forgeKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	forgeOnce.Do(func() { forged, forgeErr = rsa.GenerateKey(rand.Reader, 2048) })
	if forgeErr != nil {
		t.Fatalf("authtest: generate key: %v", forgeErr)
	}
	return forged
}

func (iss *Issuer) withDefaults(claims map[string]any) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": iss.URL(),
		"aud": Audience,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(TokenTTL).Unix(),
	}
	maps.Copy(c, claims)
	maps.DeleteFunc(c, func(_ string, v any) bool { return v == nil })
	return c
}

// Sign signs claims as a compact JWS with key (an *rsa.PrivateKey or
// *ecdsa.PrivateKey) and alg, setting header kid (when not empty) and typ
// "JWT". It adds no claims.
func Sign(t testing.TB, alg jose.SignatureAlgorithm, key crypto.Signer, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatalf("authtest: new signer: %v", err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatalf("authtest: marshal claims: %v", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatalf("authtest: sign: %v", err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatalf("authtest: serialize: %v", err)
	}
	return s
}

// UserOpts shapes a delegated (user) token. Zero fields take the package
// defaults.
type UserOpts struct {
	// OID and TID are the user's object id and tenant id
	// (default UserObjectID and TenantID).
	OID, TID string
	// Name is the name claim (default UserName).
	Name string
	// UPN is both upn and preferred_username (default UserUPN).
	UPN string
	// Scopes become scp, space-separated. nil means [DefaultScope]; an
	// empty non-nil slice leaves scp out.
	Scopes []string
	// Roles, when set, become the roles claim (users can hold app roles too).
	Roles []string
	// AppID is azp (default ClientID).
	AppID string
	// IDType, when set, becomes idtyp. Entra delegated tokens usually have
	// none, so the default leaves it out.
	IDType string
	// TTL sets exp = now + TTL (default TokenTTL; negative gives an
	// expired token).
	TTL time.Duration
	// Extra claims are applied last; a nil value removes a claim.
	Extra map[string]any
}

// UserToken returns an RS256 token shaped like an Entra ID v2 delegated
// access token: iss, aud, iat, nbf, exp, sub, oid, tid, name,
// preferred_username, upn, scp, azp, azpacr, ver "2.0", plus roles and idtyp
// when set in o.
func (iss *Issuer) UserToken(t testing.TB, o UserOpts) string {
	t.Helper()
	oid, tid := or(o.OID, UserObjectID), or(o.TID, TenantID)
	upn, appID := or(o.UPN, UserUPN), or(o.AppID, ClientID)
	scopes := o.Scopes
	if scopes == nil {
		scopes = []string{DefaultScope}
	}
	c := map[string]any{
		"sub":                pairwiseSub(oid, appID),
		"oid":                oid,
		"tid":                tid,
		"name":               or(o.Name, UserName),
		"preferred_username": upn,
		"upn":                upn,
		"azp":                appID,
		"azpacr":             "0",
		"ver":                "2.0",
	}
	if len(scopes) > 0 {
		c["scp"] = strings.Join(scopes, " ")
	}
	if o.Roles != nil {
		c["roles"] = o.Roles
	}
	if o.IDType != "" {
		c["idtyp"] = o.IDType
	}
	iss.setTTL(c, o.TTL)
	maps.Copy(c, o.Extra)
	return iss.Token(t, c)
}

// AppOpts shapes an application (client credentials) token. Zero fields
// take the package defaults.
type AppOpts struct {
	// OID is the service principal's object id (default AppObjectID).
	OID string
	// TID is the tenant id (default TenantID).
	TID string
	// AppID is azp (default ClientID).
	AppID string
	// Roles become the roles claim. nil means [DefaultRole].
	Roles []string
	// TTL sets exp = now + TTL (default TokenTTL).
	TTL time.Duration
	// Extra claims are applied last; a nil value removes a claim.
	Extra map[string]any
}

// AppToken returns an RS256 token shaped like an Entra ID v2 app-only
// access token: no scp, roles, idtyp "app", azp, oid of the service
// principal, ver "2.0".
func (iss *Issuer) AppToken(t testing.TB, o AppOpts) string {
	t.Helper()
	oid, appID := or(o.OID, AppObjectID), or(o.AppID, ClientID)
	roles := o.Roles
	if roles == nil {
		roles = []string{DefaultRole}
	}
	c := map[string]any{
		"sub":    oid,
		"oid":    oid,
		"tid":    or(o.TID, TenantID),
		"roles":  roles,
		"azp":    appID,
		"azpacr": "1",
		"idtyp":  "app",
		"ver":    "2.0",
	}
	iss.setTTL(c, o.TTL)
	maps.Copy(c, o.Extra)
	return iss.Token(t, c)
}

func (iss *Issuer) setTTL(c map[string]any, ttl time.Duration) {
	if ttl == 0 {
		return
	}
	now := time.Now()
	c["exp"] = now.Add(ttl).Unix()
	if ttl < 0 {
		c["nbf"] = now.Add(ttl - time.Hour).Unix()
		c["iat"] = now.Add(ttl - time.Hour).Unix()
	}
}

// pairwiseSub imitates Entra's sub: opaque and different per app.
func pairwiseSub(oid, appID string) string {
	h := sha256.Sum256([]byte(oid + "|" + appID))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
