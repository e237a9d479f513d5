package auth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// Defaults for the zero values of Config.
const (
	// DefaultKeyRefreshInterval is how often the key set is downloaded in
	// the background, to pick up new and drop retired keys.
	DefaultKeyRefreshInterval = 10 * time.Minute
	// DefaultMinKeyRefetchInterval is the least time between two key set
	// downloads triggered by tokens with an unknown kid; it stops forged
	// kids from turning into traffic to the issuer.
	DefaultMinKeyRefetchInterval = 30 * time.Second
)

// Discovery retry delays: exponential with jitter between these bounds.
const (
	defaultMinRetryDelay = 250 * time.Millisecond
	defaultMaxRetryDelay = 30 * time.Second
)

// nbfLeeway is go-oidc's fixed leeway on nbf; only used to label errors.
const nbfLeeway = 5 * time.Minute

// Config configures a Verifier.
type Config struct {
	// Issuer is the exact issuer URL: discovery is fetched from
	// Issuer + "/.well-known/openid-configuration", and tokens must carry
	// iss == Issuer (string equality, trailing slash included).
	Issuer string
	// Audience must be one of the token's aud values (for Graph-shaped
	// tokens "https://graph.microsoft.com" or the API's app id URI).
	Audience string
	// HTTPClient fetches discovery and the key set. nil means a client with
	// a 10 s timeout; a client without a timeout gets one. Response bodies
	// are capped at 1 MiB either way.
	HTTPClient *http.Client
	// Logger receives discovery and key set failures. nil discards them.
	Logger *slog.Logger
	// Now is the clock for token lifetimes (exp, nbf) and the token cache.
	// (Retry and refresh timers use the real clock.)
	// nil means time.Now. Tests set it; a deployment wanting leeway on exp
	// may set it to a slightly earlier clock.
	Now func() time.Time
	// KeyRefreshInterval is how often the key set is downloaded in the
	// background. 0 means DefaultKeyRefreshInterval.
	KeyRefreshInterval time.Duration
	// MinKeyRefetchInterval is the least time between two downloads caused
	// by unknown kids (measured on the real clock, not Now). 0 means
	// DefaultMinKeyRefetchInterval.
	MinKeyRefetchInterval time.Duration
	// TokenCacheSize bounds the verified-token cache. 0 means
	// DefaultTokenCacheSize; a negative value disables the cache.
	TokenCacheSize int
}

// Verifier checks bearer tokens from one issuer for one audience and turns
// them into Principals. Build it with NewVerifier, call Start once, then
// call Verify from any number of goroutines.
type Verifier struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger
	cache  *tokenCache // nil when disabled

	started atomic.Bool
	state   atomic.Pointer[readyState] // nil until discovery succeeded

	minRetryDelay, maxRetryDelay time.Duration // tests shorten them
}

// readyState is what discovery produces.
type readyState struct {
	oidc *oidc.IDTokenVerifier
	keys *keySet
}

// NewVerifier returns a Verifier for cfg with defaults filled in. It does
// no I/O; call Start to begin discovery.
func NewVerifier(cfg Config) *Verifier {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.KeyRefreshInterval <= 0 {
		cfg.KeyRefreshInterval = DefaultKeyRefreshInterval
	}
	if cfg.MinKeyRefetchInterval <= 0 {
		cfg.MinKeyRefetchInterval = DefaultMinKeyRefetchInterval
	}
	if cfg.TokenCacheSize == 0 {
		cfg.TokenCacheSize = DefaultTokenCacheSize
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	v := &Verifier{
		cfg:           cfg,
		client:        metadataClient(cfg.HTTPClient),
		log:           log,
		minRetryDelay: defaultMinRetryDelay,
		maxRetryDelay: defaultMaxRetryDelay,
	}
	if cfg.TokenCacheSize > 0 {
		v.cache = newTokenCache(cfg.TokenCacheSize)
	}
	return v
}

// Start begins issuer discovery in the background and returns at once.
// Discovery (the discovery document, then the first key set download) is
// retried with exponential backoff and jitter, from 250 ms up to 30 s,
// logging each failure, until it succeeds or ctx ends; Ready reports
// success. After that the key set is refreshed every KeyRefreshInterval
// until ctx ends. Calls after the first do nothing.
func (v *Verifier) Start(ctx context.Context) {
	if !v.started.CompareAndSwap(false, true) {
		return
	}
	go v.run(ctx)
}

// Ready reports whether discovery has succeeded, i.e. whether Verify can
// check tokens. Until then Verify returns ErrNotReady and /readyz should
// answer 503.
func (v *Verifier) Ready() bool { return v.state.Load() != nil }

func (v *Verifier) run(ctx context.Context) {
	delay := v.minRetryDelay
	var st *readyState
	for attempt := 1; ; attempt++ {
		var err error
		st, err = v.discover(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		wait := jitter(delay)
		v.log.Warn("auth: issuer discovery failed; retrying",
			"issuer", v.cfg.Issuer, "attempt", attempt, "retry_in", wait, "err", truncate(err.Error(), 512))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(delay*2, v.maxRetryDelay)
	}
	v.state.Store(st)
	v.log.Info("auth: issuer discovery succeeded",
		"issuer", v.cfg.Issuer, "jwks_uri", st.keys.url, "keys", st.keys.len())

	t := time.NewTicker(v.cfg.KeyRefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = st.keys.refresh() // failures are logged; cached keys stay
		}
	}
}

// jitter returns d ± 25%.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d - d/4 + rand.N(d/2+1)
}

// discover fetches the discovery document and the key set.
func (v *Verifier) discover(ctx context.Context) (*readyState, error) {
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, v.client), v.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, fmt.Errorf("decoding discovery document: %w", err)
	}
	u, err := url.Parse(meta.JWKSURI)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("discovery document has no usable jwks_uri (%q)", truncate(meta.JWKSURI, 200))
	}
	ks := newKeySet(ctx, meta.JWKSURI, v.client, v.log, v.cfg.MinKeyRefetchInterval)
	if err := ks.refresh(); err != nil {
		return nil, err
	}
	ov := oidc.NewVerifier(v.cfg.Issuer, ks, &oidc.Config{
		ClientID:             v.cfg.Audience,
		SupportedSigningAlgs: []string{oidc.RS256, oidc.ES256},
		Now:                  v.cfg.Now,
	})
	return &readyState{oidc: ov, keys: ks}, nil
}

// Verify checks raw (the token alone, as returned by BearerToken) and
// returns its Principal. Before discovery succeeded it returns ErrNotReady;
// a refused token gives a *TokenError matching ErrInvalidToken.
//
// Checks, in order: size; the verified-token cache (a hit, valid until the
// token's exp and while its key is still published, skips everything
// below); compact JWS shape and alg RS256/ES256; signature under the key
// named by kid; then go-oidc's iss, aud, exp and nbf checks; then our claim
// rules (see principalFromClaims). The returned Principal is the caller's
// own copy.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Principal, error) {
	st := v.state.Load()
	if st == nil {
		return nil, ErrNotReady
	}
	if raw == "" {
		return nil, ErrNoToken
	}
	if len(raw) > MaxTokenBytes {
		return nil, invalid(ReasonOversized, errors.New("token too long"))
	}
	now := v.cfg.Now()
	var key [32]byte
	if v.cache != nil {
		key = sha256.Sum256([]byte(raw))
		if e, ok := v.cache.get(key, now); ok {
			if st.keys.has(e.kid) {
				return clonePrincipal(e.p), nil
			}
			v.cache.remove(key) // its key was retired: check it again
		}
	}

	if !isCompactJWS(raw) {
		return nil, invalid(ReasonMalformed, errors.New("not a compact JWS"))
	}
	jws, err := jose.ParseSignedCompact(raw, signingAlgs)
	if err != nil {
		if _, ok := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); ok {
			return nil, invalid(ReasonAlgorithm, err)
		}
		return nil, invalid(ReasonMalformed, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, invalid(ReasonMalformed, errors.New("token must have exactly one signature"))
	}

	vs := &verifyState{jws: jws}
	tok, err := st.oidc.Verify(context.WithValue(ctx, verifyStateKey{}, vs), raw)
	if err != nil {
		return nil, v.classify(err, vs)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, invalid(ReasonClaims, err)
	}
	p, err := principalFromClaims(claims)
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		v.cache.put(key, cacheEntry{p: p, exp: tok.Expiry, kid: vs.kid}, now)
		return clonePrincipal(p), nil
	}
	return p, nil
}

// classify turns a go-oidc error into a *TokenError with a reason. The
// decision to refuse is go-oidc's; this only labels it, from what the key
// set recorded and, after a good signature, from the verified claims.
func (v *Verifier) classify(err error, vs *verifyState) error {
	if vs.err != nil {
		return vs.err
	}
	if !vs.verified {
		return invalid(ReasonMalformed, err)
	}
	if _, ok := errors.AsType[*oidc.TokenExpiredError](err); ok {
		return invalid(ReasonExpired, err)
	}
	return invalid(v.claimsReason(vs.payload), err)
}

// claimsReason says which standard claim made go-oidc refuse a token whose
// signature was good.
func (v *Verifier) claimsReason(payload []byte) string {
	var c struct {
		Iss any `json:"iss"`
		Aud any `json:"aud"`
		Nbf any `json:"nbf"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return ReasonClaims
	}
	if iss, _ := c.Iss.(string); iss != v.cfg.Issuer {
		return ReasonIssuer
	}
	switch aud := c.Aud.(type) {
	case string:
		if aud != v.cfg.Audience {
			return ReasonAudience
		}
	case []any:
		if !slices.ContainsFunc(aud, func(a any) bool { s, _ := a.(string); return s == v.cfg.Audience }) {
			return ReasonAudience
		}
	default:
		return ReasonAudience
	}
	if nbf, ok := c.Nbf.(float64); ok {
		if v.cfg.Now().Add(nbfLeeway).Before(time.Unix(int64(nbf), 0)) {
			return ReasonNotYetValid
		}
	}
	return ReasonClaims
}
