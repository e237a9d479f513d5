package handlers_test

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onlinemeetings/onlinemeetings/auth/authtest"
	"github.com/onlinemeetings/onlinemeetings/handlers"
)

// testClock is a settable clock for handlers.Config.Now.
type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *testClock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *testClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestThrottling(t *testing.T) {
	clock := newTestClock()
	h := newHarness(t, storeKinds[0].open(t), func(c *handlers.Config) {
		c.RateLimitUser = 2
		c.RateLimitApp = 5
		c.Now = clock.now
		c.AccessPolicy = policy{authtest.TenantID + "/" + authtest.ClientID + "/*": true}
	})
	tok := h.userToken()
	const path = "/v1.0/me/onlineMeetings"

	// A burst of 2 per user, then 429 with an integer Retry-After ≥ 1.
	mustStatus(t, h.call(http.MethodPost, path, tok, `{}`), http.StatusCreated)
	mustStatus(t, h.call(http.MethodGet, path, tok, ""), http.StatusOK)
	before := h.store.creates.Load()
	r := h.call(http.MethodPost, path, tok, `{}`)
	graphError(t, r, http.StatusTooManyRequests, "activityLimitReached", "throttled")
	if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("Retry-After = %q, want an integer ≥ 1", r.header.Get("Retry-After"))
	}
	if h.store.creates.Load() != before {
		t.Error("a throttled create stored a meeting")
	}
	// Order: 401 before 429, 429 before 400 and 403.
	graphError(t, h.call(http.MethodPost, path, "", `{}`), http.StatusUnauthorized, "InvalidAuthenticationToken", "")
	graphError(t, h.call(http.MethodPost, path, tok, `{"nope":1}`), http.StatusTooManyRequests, "activityLimitReached", "")
	readOnly := h.iss.UserToken(t, authtest.UserOpts{Scopes: []string{"OnlineMeetings.Read"}})
	graphError(t, h.call(http.MethodPost, path, readOnly, `{}`), http.StatusTooManyRequests, "activityLimitReached", "")

	// Another user has a bucket of their own; the app's bucket (5) is shared.
	bob := h.iss.UserToken(t, authtest.UserOpts{OID: bobOID})
	mustStatus(t, h.call(http.MethodGet, path, bob, ""), http.StatusOK)

	// Refills with time.
	clock.advance(time.Second)
	mustStatus(t, h.call(http.MethodGet, path, tok, ""), http.StatusOK)

	// App-only tokens count against the app's bucket only.
	app := h.iss.AppToken(t, authtest.AppOpts{})
	users := "/v1.0/users/" + targetUser + "/onlineMeetings"
	clock.advance(10 * time.Second)
	for i := range 5 {
		if r := h.call(http.MethodGet, users, app, ""); r.status != http.StatusOK {
			t.Fatalf("app request %d: %d %s", i, r.status, r.body)
		}
	}
	graphError(t, h.call(http.MethodGet, users, app, ""), http.StatusTooManyRequests, "activityLimitReached", "")
	other := h.iss.AppToken(t, authtest.AppOpts{AppID: otherAppID})
	if r := h.call(http.MethodGet, users, other, ""); r.status == http.StatusTooManyRequests {
		t.Error("another app shares the first app's bucket")
	}
}

func TestThrottlingOffByDefault(t *testing.T) {
	h := newHarness(t, storeKinds[0].open(t))
	tok := h.userToken()
	for i := range 50 {
		if r := h.call(http.MethodGet, "/v1.0/me/onlineMeetings", tok, ""); r.status != http.StatusOK {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
}
