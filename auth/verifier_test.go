package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/onlinemeetings/onlinemeetings/auth/authtest"
)

// startVerifier returns a started, ready Verifier for iss; mod may change
// the config first.
func startVerifier(t testing.TB, iss *authtest.Issuer, mod func(*Config)) *Verifier {
	t.Helper()
	v := newTestVerifier(iss, mod)
	v.Start(t.Context())
	waitReady(t, v)
	return v
}

func newTestVerifier(iss *authtest.Issuer, mod func(*Config)) *Verifier {
	cfg := Config{Issuer: iss.URL(), Audience: authtest.Audience}
	if mod != nil {
		mod(&cfg)
	}
	v := NewVerifier(cfg)
	v.minRetryDelay, v.maxRetryDelay = 5*time.Millisecond, 20*time.Millisecond
	return v
}

func waitReady(t testing.TB, v *Verifier) {
	t.Helper()
	waitFor(t, "Ready()", v.Ready)
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// keySetCalls returns how often v's key set was asked to check a signature.
func keySetCalls(v *Verifier) int64 { return v.state.Load().keys.verifyCalls.Load() }

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// unsignedToken builds a token with the given header and an alg "none"
// style empty signature.
func unsignedToken(header, claims map[string]any) string {
	return b64(header) + "." + b64(claims) + "."
}

// hs256Token signs claims with HMAC-SHA256: the RS→HS confusion attack.
func hs256Token(kid string, claims map[string]any, secret []byte) string {
	in := b64(map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}) + "." + b64(claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func userClaims(iss *authtest.Issuer, extra map[string]any) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": iss.URL(), "aud": authtest.Audience,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"oid": authtest.UserObjectID, "tid": authtest.TenantID, "scp": "OnlineMeetings.ReadWrite",
	}
	maps.Copy(c, extra) // nil values stay: Issuer.Token removes those claims
	return c
}

func TestVerify(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v := startVerifier(t, iss, nil)
	rsaKID, _ := iss.KeyIDs()
	now := time.Now()

	wantUser := &Principal{
		TenantID: authtest.TenantID, ObjectID: authtest.UserObjectID,
		DisplayName: ptr(authtest.UserName), UPN: ptr(authtest.UserUPN),
		Scopes: []string{authtest.DefaultScope}, AppID: authtest.ClientID,
	}
	tests := []struct {
		name       string
		token      string
		want       *Principal
		wantReason string
	}{
		{name: "RS256 user", token: iss.UserToken(t, authtest.UserOpts{}), want: wantUser},
		{
			name:  "ES256",
			token: iss.TokenES256(t, map[string]any{"oid": authtest.UserObjectID, "tid": authtest.TenantID, "scp": "OnlineMeetings.Read"}),
			want:  &Principal{TenantID: authtest.TenantID, ObjectID: authtest.UserObjectID, Scopes: []string{"OnlineMeetings.Read"}},
		},
		{
			name:  "app-only",
			token: iss.AppToken(t, authtest.AppOpts{}),
			want: &Principal{TenantID: authtest.TenantID, ObjectID: authtest.AppObjectID, AppID: authtest.ClientID,
				Roles: []string{authtest.DefaultRole}, AppOnly: true},
		},
		{
			name:  "aud array containing ours",
			token: iss.Token(t, userClaims(iss, map[string]any{"aud": []string{"other", authtest.Audience}})),
			want:  &Principal{TenantID: authtest.TenantID, ObjectID: authtest.UserObjectID, Scopes: []string{"OnlineMeetings.ReadWrite"}},
		},
		{
			name:  "nbf within leeway",
			token: iss.Token(t, userClaims(iss, map[string]any{"nbf": now.Add(2 * time.Minute).Unix()})),
			want:  &Principal{TenantID: authtest.TenantID, ObjectID: authtest.UserObjectID, Scopes: []string{"OnlineMeetings.ReadWrite"}},
		},
		{name: "expired", token: iss.UserToken(t, authtest.UserOpts{TTL: -time.Minute}), wantReason: ReasonExpired},
		{name: "no exp", token: iss.Token(t, userClaims(iss, map[string]any{"exp": nil})), wantReason: ReasonExpired},
		{name: "nbf in future", token: iss.Token(t, userClaims(iss, map[string]any{"nbf": now.Add(10 * time.Minute).Unix()})), wantReason: ReasonNotYetValid},
		{name: "wrong aud", token: iss.Token(t, userClaims(iss, map[string]any{"aud": "https://graph.microsoft.com"})), wantReason: ReasonAudience},
		{name: "aud array without ours", token: iss.Token(t, userClaims(iss, map[string]any{"aud": []string{"a", "b"}})), wantReason: ReasonAudience},
		{name: "no aud", token: iss.Token(t, userClaims(iss, map[string]any{"aud": nil})), wantReason: ReasonAudience},
		{name: "wrong iss", token: iss.Token(t, userClaims(iss, map[string]any{"iss": "https://login.microsoftonline.com/x/v2.0"})), wantReason: ReasonIssuer},
		{name: "iss with trailing slash", token: iss.Token(t, userClaims(iss, map[string]any{"iss": iss.URL() + "/"})), wantReason: ReasonIssuer},
		{name: "exp a string", token: iss.Token(t, userClaims(iss, map[string]any{"exp": "tomorrow"})), wantReason: ReasonClaims},
		{name: "non-GUID oid", token: iss.UserToken(t, authtest.UserOpts{OID: "not-a-guid"}), wantReason: ReasonClaims},
		{name: "neither scp nor roles", token: iss.UserToken(t, authtest.UserOpts{Scopes: []string{}}), wantReason: ReasonClaims},
		{name: "idtyp app with scp", token: iss.UserToken(t, authtest.UserOpts{IDType: "app"}), wantReason: ReasonClaims},
		{name: "scp a number", token: iss.Token(t, userClaims(iss, map[string]any{"scp": 5})), wantReason: ReasonClaims},
		{
			name:       "alg none",
			token:      unsignedToken(map[string]any{"alg": "none", "kid": rsaKID}, userClaims(iss, nil)),
			wantReason: ReasonAlgorithm,
		},
		{
			name:       "HS256 keyed with a public value",
			token:      hs256Token(rsaKID, userClaims(iss, nil), []byte(rsaKID)),
			wantReason: ReasonAlgorithm,
		},
		{name: "garbage", token: "not-a-token", wantReason: ReasonMalformed},
		{name: "three garbage parts", token: "aaa.bbb.ccc", wantReason: ReasonMalformed},
		{name: "JSON serialization", token: `{"payload":"e30","signatures":[]}`, wantReason: ReasonMalformed},
		{name: "oversized", token: strings.Repeat("a", MaxTokenBytes+1), wantReason: ReasonOversized},
		{name: "no kid", token: authtest.Sign(t, jose.RS256, mustRSAKey(t), "", userClaims(iss, nil)), wantReason: ReasonUnknownKey},
		{name: "bad signature under known kid", token: iss.ForgedToken(t, "", userClaims(iss, nil)), wantReason: ReasonSignature},
		{name: "tampered payload", token: tamper(t, iss.UserToken(t, authtest.UserOpts{})), wantReason: ReasonSignature},
		{name: "signature in a non-canonical encoding", token: uncanonical(t, iss.UserToken(t, authtest.UserOpts{})), wantReason: ReasonMalformed},
		{name: "known RSA kid with ES256", token: esTokenWithKID(t, iss, rsaKID), wantReason: ReasonSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(t.Context(), tt.token)
			if tt.wantReason != "" {
				if !errors.Is(err, ErrInvalidToken) || got != nil {
					t.Fatalf("Verify() = %+v, %v; want ErrInvalidToken", got, err)
				}
				if r := Reason(err); r != tt.wantReason {
					t.Errorf("Reason(%v) = %q, want %q", err, r, tt.wantReason)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Verify() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// mustRSAKey returns a throwaway signing key (the kid-less token's key is
// irrelevant: it is refused before any key is used).
func mustRSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// tamper changes the payload of a signed token without re-signing it.
func tamper(t testing.TB, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	c["oid"] = "00000000-0000-0000-0000-000000000001"
	parts[1] = b64(c)
	return strings.Join(parts, ".")
}

// uncanonical sets one of the unused low bits of the last character of
// tok's signature: the same signature bytes to a lenient decoder (checked
// here), another string.
func uncanonical(t testing.TB, tok string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	v := strings.IndexByte(alphabet, tok[len(tok)-1])
	out := tok[:len(tok)-1] + string(alphabet[v|1])
	sig := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s[strings.LastIndexByte(s, '.')+1:])
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if out == tok || !bytes.Equal(sig(out), sig(tok)) {
		t.Fatalf("uncanonical(%q) = %q: not another encoding of the same signature", tok, out)
	}
	return out
}

// esTokenWithKID signs with the issuer's EC key's algorithm but names the
// RSA key: key type and alg disagree.
func esTokenWithKID(t testing.TB, iss *authtest.Issuer, kid string) string {
	t.Helper()
	tok := iss.TokenES256(t, map[string]any{"oid": authtest.UserObjectID, "tid": authtest.TenantID, "scp": "s"})
	parts := strings.Split(tok, ".")
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h map[string]any
	_ = json.Unmarshal(hdr, &h)
	h["kid"] = kid
	parts[0] = b64(h)
	return strings.Join(parts, ".")
}

func TestVerifyNotReady(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v := newTestVerifier(iss, nil)
	if _, err := v.Verify(t.Context(), iss.UserToken(t, authtest.UserOpts{})); !errors.Is(err, ErrNotReady) {
		t.Errorf("Verify() before Start error = %v, want ErrNotReady", err)
	}
	if got := Reason(ErrNotReady); got != ReasonNotReady {
		t.Errorf("Reason(ErrNotReady) = %q", got)
	}
}

func TestDiscoveryRetries(t *testing.T) {
	tests := []struct {
		name    string
		outage  func(*authtest.Issuer)
		recover func(testing.TB, *authtest.Issuer)
	}{
		{
			name:    "503",
			outage:  func(iss *authtest.Issuer) { iss.SetDown(true) },
			recover: func(_ testing.TB, iss *authtest.Issuer) { iss.SetDown(false) },
		},
		{
			name:    "connection refused",
			outage:  func(iss *authtest.Issuer) { iss.Stop() },
			recover: func(t testing.TB, iss *authtest.Issuer) { iss.Restart(t) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := authtest.NewIssuer(t)
			tok := iss.UserToken(t, authtest.UserOpts{})
			tt.outage(iss)
			v := newTestVerifier(iss, nil)
			v.Start(t.Context())
			v.Start(t.Context()) // a second Start does nothing

			time.Sleep(50 * time.Millisecond) // several failed attempts
			if v.Ready() {
				t.Fatalf("Ready() = true while the issuer is down")
			}
			if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrNotReady) {
				t.Fatalf("Verify() during outage error = %v, want ErrNotReady", err)
			}

			tt.recover(t, iss)
			waitReady(t, v)
			if _, err := v.Verify(t.Context(), tok); err != nil {
				t.Errorf("Verify() after recovery error = %v", err)
			}
		})
	}
}

func TestDiscoveryStopsWithContext(t *testing.T) {
	iss := authtest.NewIssuer(t)
	iss.SetDown(true)
	v := newTestVerifier(iss, nil)
	ctx, cancel := context.WithCancel(t.Context())
	v.Start(ctx)
	waitFor(t, "a discovery attempt", func() bool { return iss.DiscoveryFetches() > 0 })
	cancel()
	time.Sleep(30 * time.Millisecond)
	n := iss.DiscoveryFetches()
	time.Sleep(60 * time.Millisecond)
	if got := iss.DiscoveryFetches(); got != n {
		t.Errorf("discovery attempts went on after cancel: %d → %d", n, got)
	}
}

func TestBadSignatureUnderKnownKIDNeverFetches(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v := startVerifier(t, iss, func(c *Config) { c.MinKeyRefetchInterval = time.Nanosecond })
	before := iss.JWKSFetches()
	for i := range 20 {
		tok := iss.ForgedToken(t, "", userClaims(iss, map[string]any{"n": i}))
		if _, err := v.Verify(t.Context(), tok); Reason(err) != ReasonSignature {
			t.Fatalf("Verify(forged) error = %v, want reason %q", err, ReasonSignature)
		}
	}
	if got := iss.JWKSFetches() - before; got != 0 {
		t.Errorf("JWKS fetches after 20 forged tokens under a known kid = %d, want 0", got)
	}
}

func TestUnknownKIDRefetchIsRateLimited(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v := startVerifier(t, iss, nil)
	before := iss.JWKSFetches()

	var wg sync.WaitGroup
	var accepted atomic.Int64
	for i := range 50 {
		tok := iss.ForgedToken(t, fmt.Sprintf("random-kid-%d-%d", i, time.Now().UnixNano()), userClaims(iss, nil))
		wg.Go(func() {
			_, err := v.Verify(t.Context(), tok)
			if err == nil {
				accepted.Add(1)
			} else if Reason(err) != ReasonUnknownKey {
				t.Errorf("Verify(unknown kid) error = %v, want reason %q", err, ReasonUnknownKey)
			}
		})
	}
	wg.Wait()
	for i := range 10 { // and sequentially, after the concurrent burst
		tok := iss.ForgedToken(t, fmt.Sprintf("later-kid-%d", i), userClaims(iss, nil))
		if _, err := v.Verify(t.Context(), tok); Reason(err) != ReasonUnknownKey {
			t.Errorf("Verify(unknown kid) error = %v, want reason %q", err, ReasonUnknownKey)
		}
	}
	if accepted.Load() != 0 {
		t.Errorf("%d forged tokens accepted", accepted.Load())
	}
	if got := iss.JWKSFetches() - before; got > 1 {
		t.Errorf("JWKS fetches for 60 unknown kids = %d, want <= 1", got)
	}
	// Good tokens are unaffected.
	if _, err := v.Verify(t.Context(), iss.UserToken(t, authtest.UserOpts{})); err != nil {
		t.Errorf("Verify(good token) error = %v", err)
	}
}

func TestKeyRotation(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v := startVerifier(t, iss, nil)
	old := iss.UserToken(t, authtest.UserOpts{})
	if _, err := v.Verify(t.Context(), old); err != nil {
		t.Fatalf("Verify(old) error = %v", err)
	}
	before := iss.JWKSFetches()

	iss.RotateKeys(t)
	for _, tok := range []string{iss.UserToken(t, authtest.UserOpts{}), iss.TokenES256(t, userClaims(iss, nil))} {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatalf("Verify(token under new key) error = %v", err)
		}
	}
	if got := iss.JWKSFetches() - before; got != 1 {
		t.Errorf("JWKS fetches for the rotation = %d, want 1", got)
	}
	// The old key is gone from the key set, so the old token is refused,
	// even though it is in the token cache.
	if _, err := v.Verify(t.Context(), old); Reason(err) != ReasonUnknownKey {
		t.Errorf("Verify(token under retired key) error = %v, want reason %q", err, ReasonUnknownKey)
	}
}

func TestCachedKeysSurviveJWKSOutage(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v := startVerifier(t, iss, func(c *Config) {
		c.KeyRefreshInterval = 5 * time.Millisecond
		c.TokenCacheSize = -1
	})
	iss.SetDown(true)
	n := iss.JWKSFetches()
	waitFor(t, "failed background refreshes", func() bool { return iss.JWKSFetches() >= n+3 })
	for _, tok := range []string{iss.UserToken(t, authtest.UserOpts{}), iss.TokenES256(t, userClaims(iss, nil))} {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Errorf("Verify() during JWKS outage error = %v", err)
		}
	}
	if _, err := v.Verify(t.Context(), iss.ForgedToken(t, "unknown", userClaims(iss, nil))); Reason(err) != ReasonUnknownKey {
		t.Errorf("Verify(unknown kid) during outage error = %v, want reason %q", err, ReasonUnknownKey)
	}

	iss.Stop() // connection refused is an outage too
	time.Sleep(20 * time.Millisecond)
	if _, err := v.Verify(t.Context(), iss.UserToken(t, authtest.UserOpts{})); err != nil {
		t.Errorf("Verify() with the issuer stopped error = %v", err)
	}

	// The issuer comes back with new keys: the verifier picks them up by
	// itself (background refresh, or the unknown kid's refetch), and the
	// retired key stops working.
	old := iss.UserToken(t, authtest.UserOpts{})
	iss.Restart(t)
	iss.SetDown(false)
	iss.RotateKeys(t)
	fresh := iss.UserToken(t, authtest.UserOpts{})
	waitFor(t, "a token under the new key to verify", func() bool {
		_, err := v.Verify(t.Context(), fresh)
		return err == nil
	})
	waitFor(t, "the retired key to be dropped", func() bool {
		_, err := v.Verify(t.Context(), old)
		return Reason(err) == ReasonUnknownKey
	})
}

// testClock is a settable clock for Config.Now.
type testClock struct{ ns atomic.Int64 }

func (c *testClock) Now() time.Time       { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Set(t time.Time)      { c.ns.Store(t.UnixNano()) }
func (c *testClock) Add(d time.Duration)  { c.ns.Add(int64(d)) }
func newTestClock(t time.Time) *testClock { c := &testClock{}; c.Set(t); return c }

func TestTokenCache(t *testing.T) {
	iss := authtest.NewIssuer(t)
	t0 := time.Now().Truncate(time.Second)
	clock := newTestClock(t0)
	v := startVerifier(t, iss, func(c *Config) { c.Now = clock.Now })
	exp := t0.Add(10 * time.Minute)
	tok := iss.Token(t, userClaims(iss, map[string]any{"iat": t0.Unix(), "nbf": t0.Unix(), "exp": exp.Unix()}))

	steps := []struct {
		name       string
		at         time.Time
		wantCalls  int64 // key set calls so far
		wantReason string
	}{
		{name: "first verify checks the signature", at: t0, wantCalls: 1},
		{name: "second verify is a cache hit", at: t0, wantCalls: 1},
		{name: "hit just before exp", at: exp.Add(-time.Second), wantCalls: 1},
		{name: "no hit at exp", at: exp, wantCalls: 2},
		{name: "expired after exp", at: exp.Add(time.Second), wantCalls: 3, wantReason: ReasonExpired},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			clock.Set(s.at)
			p, err := v.Verify(t.Context(), tok)
			if s.wantReason == "" && err != nil {
				t.Fatalf("Verify() error = %v", err)
			}
			if s.wantReason != "" && Reason(err) != s.wantReason {
				t.Fatalf("Verify() error = %v, want reason %q", err, s.wantReason)
			}
			if got := keySetCalls(v); got != s.wantCalls {
				t.Errorf("key set calls = %d, want %d", got, s.wantCalls)
			}
			if p != nil {
				p.Scopes[0] = "changed by the caller" // must not leak into the cache
			}
		})
	}

	clock.Set(t0)
	tok2 := iss.Token(t, userClaims(iss, map[string]any{"iat": t0.Unix(), "nbf": t0.Unix(), "exp": exp.Unix(), "name": "Two"}))
	for range 3 {
		p, err := v.Verify(t.Context(), tok2)
		if err != nil {
			t.Fatalf("Verify(tok2) error = %v", err)
		}
		if diff := cmp.Diff([]string{"OnlineMeetings.ReadWrite"}, p.Scopes); diff != "" {
			t.Fatalf("cached Scopes mismatch (-want +got):\n%s", diff)
		}
		p.Scopes[0] = "changed by the caller"
	}
}

func TestTokenCacheDisabled(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v := startVerifier(t, iss, func(c *Config) { c.TokenCacheSize = -1 })
	tok := iss.UserToken(t, authtest.UserOpts{})
	for range 3 {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatalf("Verify() error = %v", err)
		}
	}
	if got := keySetCalls(v); got != 3 {
		t.Errorf("key set calls with the cache disabled = %d, want 3", got)
	}
}

func TestVerifyConcurrent(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v := startVerifier(t, iss, func(c *Config) { c.TokenCacheSize = 20 })
	toks := make([]string, 40)
	for i := range toks {
		toks[i] = iss.UserToken(t, authtest.UserOpts{Name: fmt.Sprintf("User %d", i)})
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				tok := toks[(g*7+i)%len(toks)]
				p, err := v.Verify(t.Context(), tok)
				if err != nil {
					t.Errorf("Verify() error = %v", err)
					return
				}
				p.Scopes = append(p.Scopes, "x")
			}
		})
	}
	wg.Wait()
}

func TestMetadataBodiesAreBounded(t *testing.T) {
	body := &limitedBody{rc: io.NopCloser(strings.NewReader(strings.Repeat("x", 100))), remaining: 10, max: 10}
	buf := make([]byte, 1000)
	var total int
	var err error
	for err == nil {
		var n int
		n, err = body.Read(buf)
		total += n
	}
	if err == nil || errors.Is(err, io.EOF) || total > 10 {
		t.Errorf("reading 100 bytes through a 10-byte limit: %d bytes, err %v; want <= 10 bytes and a size error", total, err)
	}

	exact := &limitedBody{rc: io.NopCloser(strings.NewReader(strings.Repeat("x", 10))), remaining: 10, max: 10}
	total, err = 0, nil
	for err == nil {
		var n int
		n, err = exact.Read(buf)
		total += n
	}
	if !errors.Is(err, io.EOF) || total != 10 {
		t.Errorf("reading 10 bytes through a 10-byte limit: %d bytes, err %v; want 10 and EOF", total, err)
	}
}

func BenchmarkVerify(b *testing.B) {
	iss := authtest.NewIssuer(b)
	for _, bc := range []struct {
		name  string
		cache int
		es256 bool
	}{
		{name: "RS256/cold", cache: -1},
		{name: "ES256/cold", cache: -1, es256: true},
		{name: "RS256/cached", cache: 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			v := startVerifier(b, iss, func(c *Config) { c.TokenCacheSize = bc.cache })
			tok := iss.UserToken(b, authtest.UserOpts{})
			if bc.es256 {
				tok = iss.TokenES256(b, userClaims(iss, nil))
			}
			ctx := context.Background()
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
