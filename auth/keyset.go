package auth

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// signingAlgs are the only algorithms a token may use. go-jose refuses any
// other alg header (none, HS256, …) while parsing, before key lookup.
var signingAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

// minRSABits is the smallest RSA modulus accepted in a key set.
const minRSABits = 2048

// errRefetchLimited is returned when a token's kid is unknown and the key
// set was already refetched for an unknown kid less than
// MinKeyRefetchInterval ago.
var errRefetchLimited = errors.New("key set refetch rate-limited")

// verifyStateKey is the context key under which Verify hands the parsed
// token to the key set and gets the outcome of the signature check back
// (go-oidc flattens the key set's error into text).
type verifyStateKey struct{}

// verifyState is the per-call scratch space shared by Verify and
// keySet.VerifySignature; both run on the same goroutine.
type verifyState struct {
	jws *jose.JSONWebSignature // parsed by Verify, so the key set need not parse again

	err      error  // the key set's *TokenError, when it refused the token
	verified bool   // the signature verified
	payload  []byte // the verified payload
	kid      string // the key that verified it
}

// keySet is our oidc.KeySet: a JWKS cache keyed by kid.
//
// Unlike go-oidc's RemoteKeySet, which downloads the JWKS again for every
// token that fails to verify, it refetches only for an unknown kid, at most
// once per minRefetch (concurrent misses share one download), and never for
// a bad signature under a known kid. A background loop (run by Verifier)
// refreshes it periodically; when a download fails the cached keys stay in
// use.
type keySet struct {
	url        string
	client     *http.Client
	log        *slog.Logger
	minRefetch time.Duration
	ctx        context.Context // bounds downloads; the Verifier's Start context

	keys atomic.Pointer[map[string]jose.JSONWebKey]

	mu           sync.Mutex
	inflight     *fetchCall // the download in progress, if any
	lastOnDemand time.Time  // start of the last unknown-kid download

	verifyCalls atomic.Int64 // VerifySignature calls; tests use it to see cache hits
}

// fetchCall is one key set download that several goroutines may wait for.
type fetchCall struct {
	done chan struct{}
	err  error // valid after done is closed
}

func newKeySet(ctx context.Context, url string, client *http.Client, log *slog.Logger, minRefetch time.Duration) *keySet {
	return &keySet{url: url, client: client, log: log, minRefetch: minRefetch, ctx: ctx}
}

// VerifySignature implements oidc.KeySet. It checks the token's signature
// with the cached key named by its kid and returns the payload. The
// algorithm allow-list was already applied when the token was parsed.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	k.verifyCalls.Add(1)
	st, _ := ctx.Value(verifyStateKey{}).(*verifyState)
	if st == nil {
		st = &verifyState{}
	}
	fail := func(reason string, err error) ([]byte, error) {
		st.err = invalid(reason, err)
		return nil, st.err
	}
	jws := st.jws
	if jws == nil {
		var err error
		if jws, err = jose.ParseSignedCompact(raw, signingAlgs); err != nil {
			return fail(ReasonMalformed, err)
		}
	}
	if len(jws.Signatures) != 1 {
		return fail(ReasonMalformed, errors.New("token must have exactly one signature"))
	}
	h := jws.Signatures[0].Header
	if h.KeyID == "" {
		return fail(ReasonUnknownKey, errors.New("token header has no kid"))
	}
	key, ok := k.lookup(h.KeyID)
	if !ok {
		err := k.refetchForUnknownKID(ctx)
		if key, ok = k.lookup(h.KeyID); !ok {
			if err == nil {
				err = errors.New("kid not in the issuer's key set")
			}
			return fail(ReasonUnknownKey, fmt.Errorf("kid %q: %w", truncate(h.KeyID, 64), err))
		}
	}
	if key.Algorithm != "" && key.Algorithm != h.Algorithm {
		return fail(ReasonSignature, fmt.Errorf("key %q is for %s, token uses %s", truncate(h.KeyID, 64), key.Algorithm, h.Algorithm))
	}
	payload, err := jws.Verify(key.Key)
	if err != nil {
		return fail(ReasonSignature, err)
	}
	st.verified, st.payload, st.kid = true, payload, h.KeyID
	return payload, nil
}

// lookup returns the cached key with the given kid.
func (k *keySet) lookup(kid string) (jose.JSONWebKey, bool) {
	m := k.keys.Load()
	if m == nil {
		return jose.JSONWebKey{}, false
	}
	key, ok := (*m)[kid]
	return key, ok
}

// has reports whether kid is still in the key set.
func (k *keySet) has(kid string) bool {
	_, ok := k.lookup(kid)
	return ok
}

// len returns the number of cached keys.
func (k *keySet) len() int {
	if m := k.keys.Load(); m != nil {
		return len(*m)
	}
	return 0
}

// refetchForUnknownKID waits for a key set download: the one in progress,
// or a new one when none ran for an unknown kid within minRefetch.
func (k *keySet) refetchForUnknownKID(ctx context.Context) error {
	k.mu.Lock()
	call := k.inflight
	if call == nil {
		now := time.Now()
		if !k.lastOnDemand.IsZero() && now.Sub(k.lastOnDemand) < k.minRefetch {
			k.mu.Unlock()
			return errRefetchLimited
		}
		k.lastOnDemand = now
		call = k.startFetchLocked()
	}
	k.mu.Unlock()
	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// refresh downloads the key set now (or joins a download in progress) and
// waits for the result. It is not rate-limited: only the Verifier's
// start-up and its periodic refresh call it.
func (k *keySet) refresh() error {
	k.mu.Lock()
	call := k.inflight
	if call == nil {
		call = k.startFetchLocked()
	}
	k.mu.Unlock()
	select {
	case <-call.done:
		return call.err
	case <-k.ctx.Done():
		return k.ctx.Err()
	}
}

// startFetchLocked starts a download in its own goroutine, so that a
// caller giving up (its request was cancelled) does not cancel it for the
// others. k.mu must be held.
func (k *keySet) startFetchLocked() *fetchCall {
	call := &fetchCall{done: make(chan struct{})}
	k.inflight = call
	go func() {
		err := k.fetch()
		k.mu.Lock()
		k.inflight = nil
		k.mu.Unlock()
		call.err = err
		close(call.done)
	}()
	return call
}

// fetch downloads and parses the key set and replaces the cached keys. On
// any failure the cached keys are kept.
func (k *keySet) fetch() error {
	req, err := http.NewRequestWithContext(k.ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return k.fetchFailed(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes+1))
	if err != nil {
		return k.fetchFailed(err)
	}
	if len(body) > maxMetadataBytes {
		return k.fetchFailed(fmt.Errorf("key set larger than %d bytes", maxMetadataBytes))
	}
	if resp.StatusCode != http.StatusOK {
		return k.fetchFailed(fmt.Errorf("key set: HTTP %s", resp.Status))
	}
	keys, err := parseJWKS(body, k.log)
	if err != nil {
		return k.fetchFailed(err)
	}
	k.keys.Store(&keys)
	k.log.Debug("auth: key set loaded", "jwks_uri", k.url, "keys", len(keys))
	return nil
}

func (k *keySet) fetchFailed(err error) error {
	err = fmt.Errorf("fetching key set %s: %w", k.url, err)
	k.log.Warn("auth: key set download failed; keeping cached keys",
		"jwks_uri", k.url, "cached_keys", k.len(), "err", err)
	return err
}

// parseJWKS parses a JWK Set and keeps the public RSA (>= 2048 bits) and EC
// signing keys that have a kid and, when they name one, an allowed alg.
// Other keys are skipped (RFC 7517 §5 says to ignore what one does not
// understand); a set without any usable key is an error, so that a broken
// download never empties the cache.
func parseJWKS(body []byte, log *slog.Logger) (map[string]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("decoding key set: %w", err)
	}
	keys := make(map[string]jose.JSONWebKey, len(set.Keys))
	for i, raw := range set.Keys {
		skip := func(why string) { log.Debug("auth: skipping key set entry", "index", i, "reason", why) }
		var meta struct {
			Kid string `json:"kid"`
			Use string `json:"use"`
			Alg string `json:"alg"`
		}
		if err := json.Unmarshal(raw, &meta); err != nil {
			skip(err.Error())
			continue
		}
		switch {
		case meta.Kid == "":
			skip("no kid")
			continue
		case meta.Use != "" && meta.Use != "sig":
			skip("use is " + meta.Use)
			continue
		case meta.Alg != "" && meta.Alg != string(jose.RS256) && meta.Alg != string(jose.ES256):
			skip("alg is " + meta.Alg)
			continue
		}
		if _, dup := keys[meta.Kid]; dup {
			skip("duplicate kid")
			continue
		}
		var jwk jose.JSONWebKey
		if err := json.Unmarshal(raw, &jwk); err != nil {
			skip(err.Error())
			continue
		}
		if !jwk.IsPublic() || !jwk.Valid() {
			skip("not a valid public key")
			continue
		}
		if pub, ok := jwk.Key.(*rsa.PublicKey); ok && pub.N.BitLen() < minRSABits {
			skip("RSA key shorter than 2048 bits")
			continue
		}
		keys[meta.Kid] = jwk
	}
	if len(keys) == 0 {
		return nil, errors.New("key set has no usable signing keys")
	}
	return keys, nil
}

// truncate shortens s to at most n bytes for logging.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
