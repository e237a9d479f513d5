package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
)

func jwkJSON(t *testing.T, k jose.JSONWebKey) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseJWKS(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := jwkJSON(t, jose.JSONWebKey{Key: &rk.PublicKey, KeyID: "rsa", Use: "sig"})
	goodEC := jwkJSON(t, jose.JSONWebKey{Key: &ek.PublicKey, KeyID: "ec", Algorithm: "ES256"})
	set := func(keys ...json.RawMessage) []byte {
		b, _ := json.Marshal(map[string]any{"keys": keys})
		return b
	}
	tests := []struct {
		name     string
		body     []byte
		wantKIDs []string
		wantErr  bool
	}{
		{name: "RSA and EC", body: set(good, goodEC), wantKIDs: []string{"ec", "rsa"}},
		{name: "unknown kty skipped", body: set(good, json.RawMessage(`{"kty":"OKP","crv":"Ed448","kid":"x","x":"AA"}`)), wantKIDs: []string{"rsa"}},
		{name: "symmetric key skipped", body: set(good, jwkJSON(t, jose.JSONWebKey{Key: []byte("secret-secret-secret"), KeyID: "oct"})), wantKIDs: []string{"rsa"}},
		{name: "private key skipped", body: set(good, jwkJSON(t, jose.JSONWebKey{Key: rk, KeyID: "priv"})), wantKIDs: []string{"rsa"}},
		{name: "short RSA key skipped", body: set(good, jwkJSON(t, jose.JSONWebKey{Key: &small.PublicKey, KeyID: "small"})), wantKIDs: []string{"rsa"}},
		{name: "encryption key skipped", body: set(good, jwkJSON(t, jose.JSONWebKey{Key: &rk.PublicKey, KeyID: "enc", Use: "enc"})), wantKIDs: []string{"rsa"}},
		{name: "other alg skipped", body: set(good, jwkJSON(t, jose.JSONWebKey{Key: &rk.PublicKey, KeyID: "ps", Algorithm: "PS256"})), wantKIDs: []string{"rsa"}},
		{name: "no kid skipped", body: set(good, jwkJSON(t, jose.JSONWebKey{Key: &ek.PublicKey})), wantKIDs: []string{"rsa"}},
		{name: "duplicate kid keeps the first", body: set(good, jwkJSON(t, jose.JSONWebKey{Key: &ek.PublicKey, KeyID: "rsa"})), wantKIDs: []string{"rsa"}},
		{name: "entry not an object skipped", body: set(good, json.RawMessage(`"x"`)), wantKIDs: []string{"rsa"}},
		{name: "no usable keys", body: set(json.RawMessage(`{"kty":"RSA","kid":"x"}`)), wantErr: true},
		{name: "empty set", body: []byte(`{"keys":[]}`), wantErr: true},
		{name: "no keys member", body: []byte(`{}`), wantErr: true},
		{name: "not JSON", body: []byte(`<html>`), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := parseJWKS(tt.body, slog.New(slog.DiscardHandler))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseJWKS() = %d keys, want an error", len(keys))
				}
				return
			}
			if err != nil {
				t.Fatalf("parseJWKS() error = %v", err)
			}
			var kids []string
			for kid := range keys {
				kids = append(kids, kid)
			}
			slices.Sort(kids)
			if diff := cmp.Diff(tt.wantKIDs, kids); diff != "" {
				t.Errorf("parseJWKS() kids mismatch (-want +got):\n%s", diff)
			}
			if k, ok := keys["rsa"]; ok {
				if _, isRSA := k.Key.(*rsa.PublicKey); !isRSA {
					t.Errorf("kid rsa holds %T, want *rsa.PublicKey", k.Key)
				}
			}
		})
	}
}

func TestMetadataBodyIsBounded(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		discovery int // bytes of padding in the discovery document
		jwks      int // bytes of padding in the key set
		wantReady bool
	}{
		{name: "small documents", discovery: 1000, jwks: 1000, wantReady: true},
		{name: "oversized discovery", discovery: maxMetadataBytes + 1},
		{name: "oversized key set", jwks: maxMetadataBytes + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hits atomic.Int64
			var srv *httptest.Server
			srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if r.URL.Path == "/keys" {
					if tt.jwks > maxMetadataBytes {
						hits.Add(1)
					}
					_ = json.NewEncoder(w).Encode(map[string]any{
						"keys":    []jose.JSONWebKey{{Key: &rk.PublicKey, KeyID: "k", Use: "sig"}},
						"padding": strings.Repeat("x", tt.jwks),
					})
					return
				}
				if tt.discovery > maxMetadataBytes {
					hits.Add(1)
				}
				_ = json.NewEncoder(w).Encode(map[string]any{
					"issuer":   srv.URL,
					"jwks_uri": srv.URL + "/keys",
					"padding":  strings.Repeat("x", tt.discovery),
				})
			}))
			defer srv.Close()
			v := NewVerifier(Config{Issuer: srv.URL, Audience: "a"})
			v.minRetryDelay, v.maxRetryDelay = time.Millisecond, 5*time.Millisecond
			v.Start(t.Context())
			if tt.wantReady {
				waitReady(t, v)
				return
			}
			// A second request for the oversized document means the first
			// attempt failed.
			waitFor(t, "a retry", func() bool { return hits.Load() >= 2 })
			if v.Ready() {
				t.Errorf("Ready() = true with a document over %d bytes", maxMetadataBytes)
			}
		})
	}
}

func TestHTTPClientAlwaysHasTimeout(t *testing.T) {
	tests := []struct {
		name   string
		client *http.Client
		want   time.Duration
	}{
		{"nil", nil, defaultHTTPTimeout},
		{"no timeout", &http.Client{}, defaultHTTPTimeout},
		{"own timeout", &http.Client{Timeout: 3 * time.Second}, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := NewVerifier(Config{HTTPClient: tt.client})
			if v.client.Timeout != tt.want {
				t.Errorf("client timeout = %v, want %v", v.client.Timeout, tt.want)
			}
			if _, ok := v.client.Transport.(*limitTransport); !ok {
				t.Errorf("client transport is %T, want *limitTransport", v.client.Transport)
			}
			if tt.client != nil && tt.client.Transport != nil {
				t.Errorf("caller's client was modified")
			}
		})
	}
}
