package handlers_test

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/onlinemeetings/onlinemeetings/auth/authtest"
	"github.com/onlinemeetings/onlinemeetings/handlers"
	"github.com/onlinemeetings/onlinemeetings/store"
)

// forEachStoreWith runs f against a fresh server configured by opts on
// every store implementation.
func forEachStoreWith(t *testing.T, f func(t *testing.T, h *harness), opts ...func(*handlers.Config)) {
	t.Helper()
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) { f(t, newHarness(t, k.open(t), opts...)) })
	}
}

// withQuota sets CreateQuotaPerMonth.
func withQuota(n int) func(*handlers.Config) {
	return func(c *handlers.Config) { c.CreateQuotaPerMonth = n }
}

// withClock sets the server's clock, which also dates new meetings.
func withClock(c *testClock) func(*handlers.Config) {
	return func(cfg *handlers.Config) { cfg.Now = c.now }
}

// quotaRefused checks that r is the quota's 429: Graph's error JSON with
// activityLimitReached and Retry-After, in whole seconds, of wantRetry.
func quotaRefused(t *testing.T, r response, wantRetry int) {
	t.Helper()
	graphError(t, r, http.StatusTooManyRequests, "activityLimitReached", "limit of online meetings")
	if got, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || got != wantRetry {
		t.Errorf("Retry-After = %q, want %d", r.header.Get("Retry-After"), wantRetry)
	}
}

// creations returns the store's count of owner's creations this month.
func (h *harness) creations(t *testing.T, tenantID, userID string, month time.Time) int {
	t.Helper()
	n, err := h.store.Creations(t.Context(), store.Owner{TenantID: tenantID, UserID: userID}, month)
	if err != nil {
		t.Fatalf("Creations = %v", err)
	}
	return n
}

// TestCreateQuota walks one user to the monthly creation quota and checks
// what is refused there, what is not, and in which order.
func TestCreateQuota(t *testing.T) {
	clock := newTestClock() // 2026-11-27T12:00:00Z
	const toNextMonth = 3*24*3600 + 12*3600
	forEachStoreWith(t, func(t *testing.T, h *harness) {
		const (
			me       = "/v1.0/me/onlineMeetings"
			orGet    = "/v1.0/me/onlineMeetings/createOrGet"
			mine     = "/v1.0/users/" + authtest.UserObjectID + "/onlineMeetings"
			minePath = mine + "/createOrGet"
		)
		tok := h.userToken()
		created := mustStatus(t, h.call(http.MethodPost, me, tok, `{"subject":"one"}`), http.StatusCreated)
		mustStatus(t, h.call(http.MethodPost, orGet, tok, `{"externalId":"kept"}`), http.StatusCreated)
		if n := h.creations(t, authtest.TenantID, authtest.UserObjectID, clock.now()); n != 2 {
			t.Fatalf("Creations after two creations = %d, want 2", n)
		}

		before := h.store.creates.Load()
		quotaRefused(t, h.call(http.MethodPost, me, tok, `{"subject":"three"}`), toNextMonth)

		readOnly := h.iss.UserToken(t, authtest.UserOpts{Scopes: []string{"OnlineMeetings.Read"}})
		tests := []struct {
			name, method, path, token, body string
			header                          []string
			status                          int // 429: the quota's answer
		}{
			{"invalid body", http.MethodPost, me, tok, `{"nope":1}`, nil, http.StatusTooManyRequests},
			{"malformed JSON", http.MethodPost, me, tok, `{"subject":`, nil, http.StatusTooManyRequests},
			{"wrong Content-Type", http.MethodPost, me, tok, `{}`, []string{"Content-Type", "text/plain"}, http.StatusTooManyRequests},
			{"own /users path", http.MethodPost, mine, tok, `{}`, nil, http.StatusTooManyRequests},
			{"createOrGet of a new externalId", http.MethodPost, orGet, tok, `{"externalId":"new"}`, nil, http.StatusTooManyRequests},
			{"createOrGet on /users of a new externalId", http.MethodPost, minePath, tok, `{"externalId":"new"}`, nil, http.StatusTooManyRequests},
			// Not refused for the quota:
			{"no token", http.MethodPost, me, "", `{}`, nil, http.StatusUnauthorized},
			{"scope missing", http.MethodPost, me, readOnly, `{"nope":1}`, nil, http.StatusForbidden},
			{"createOrGet of an existing externalId", http.MethodPost, orGet, tok, `{"externalId":"kept","subject":"ignored"}`, nil, http.StatusOK},
			// createOrGet is checked when the store would create, after
			// the body: only the body says whether it would.
			{"createOrGet with an invalid body", http.MethodPost, orGet, tok, `{"externalId":"new","nope":1}`, nil, http.StatusBadRequest},
			{"list", http.MethodGet, me, tok, "", nil, http.StatusOK},
			{"get", http.MethodGet, meetingPath(me, created["id"].(string)), tok, "", nil, http.StatusOK},
			{"update", http.MethodPatch, meetingPath(me, created["id"].(string)), tok, `{"subject":"renamed"}`, nil, http.StatusOK},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := h.call(tt.method, tt.path, tt.token, tt.body, tt.header...)
				if tt.status == http.StatusTooManyRequests {
					quotaRefused(t, r, toNextMonth)
				} else if r.status != tt.status {
					t.Errorf("%s %s = %d, want %d; body %s", tt.method, tt.path, r.status, tt.status, r.body)
				}
			})
		}
		if got := h.store.creates.Load(); got != before {
			t.Errorf("%d meetings created over the quota", got-before)
		}
		if n := h.creations(t, authtest.TenantID, authtest.UserObjectID, clock.now()); n != 2 {
			t.Errorf("Creations after refused creations = %d, want 2", n)
		}
		list := mustStatus(t, h.call(http.MethodGet, me, tok, ""), http.StatusOK)
		if v, _ := list["value"].([]any); len(v) != 2 {
			t.Errorf("the user has %d meetings, want the 2 created", len(v))
		}

		// A delete gives nothing back.
		mustStatus(t, h.call(http.MethodDelete, meetingPath(me, created["id"].(string)), tok, ""), http.StatusNoContent)
		quotaRefused(t, h.call(http.MethodPost, me, tok, `{}`), toNextMonth)

		// Other users, and the same user id in another tenant, count apart.
		for _, o := range []authtest.UserOpts{{OID: bobOID}, {TID: otherTenant}} {
			other := h.iss.UserToken(t, o)
			mustStatus(t, h.call(http.MethodPost, me, other, `{}`), http.StatusCreated)
			mustStatus(t, h.call(http.MethodPost, orGet, other, `{"externalId":"new"}`), http.StatusCreated)
			quotaRefused(t, h.call(http.MethodPost, me, other, `{"nope":1}`), toNextMonth)
		}
	}, withQuota(2), withClock(clock))
}

// TestCreateQuotaAppOnly checks that an app creating for a user on
// /users/{userId} uses up that user's quota, not its own, and is refused
// before its body is read.
func TestCreateQuotaAppOnly(t *testing.T) {
	clock := newTestClock()
	forEachStoreWith(t, func(t *testing.T, h *harness) {
		app := h.iss.AppToken(t, authtest.AppOpts{})
		users := "/v1.0/users/" + targetUser + "/onlineMeetings"
		mustStatus(t, h.call(http.MethodPost, users, app, `{}`), http.StatusCreated)
		mustStatus(t, h.call(http.MethodPost, users+"/createOrGet", app, `{"externalId":"e"}`), http.StatusCreated)
		quotaRefused(t, h.call(http.MethodPost, users, app, `{"nope":1}`), 3*24*3600+12*3600)
		if n := h.creations(t, authtest.TenantID, targetUser, clock.now()); n != 2 {
			t.Errorf("Creations(target user) = %d, want 2", n)
		}
		// The user's own creations count against the same quota.
		user := h.iss.UserToken(t, authtest.UserOpts{OID: targetUser})
		quotaRefused(t, h.call(http.MethodPost, "/v1.0/me/onlineMeetings", user, `{}`), 3*24*3600+12*3600)
		// The app acts for another user, whose quota is untouched.
		mustStatus(t, h.call(http.MethodPost, "/v1.0/users/"+bobOID+"/onlineMeetings", app, `{}`), http.StatusCreated)
		// An app without a policy for the user is refused for that first.
		other := h.iss.AppToken(t, authtest.AppOpts{AppID: otherAppID})
		graphError(t, h.call(http.MethodPost, users, other, `{}`), http.StatusForbidden, "Forbidden", "application access policy")
	}, withQuota(2), withClock(clock), withPolicy(policy{authtest.TenantID + "/" + authtest.ClientID + "/*": true}))
}

// TestCreateQuotaMonths checks Retry-After up to the end of the month and
// that a new month starts a new count.
func TestCreateQuotaMonths(t *testing.T) {
	clock := newTestClock()
	h := newHarness(t, storeKinds[0].open(t), withQuota(1), withClock(clock))
	tok := h.userToken()
	const path = "/v1.0/me/onlineMeetings"
	mustStatus(t, h.call(http.MethodPost, path, tok, `{}`), http.StatusCreated)
	// 2026-11-30T23:59:58.5Z: 1.5 s to go, rounded up.
	clock.advance(3*24*time.Hour + 12*time.Hour - 1500*time.Millisecond)
	quotaRefused(t, h.call(http.MethodPost, path, tok, `{}`), 2)
	clock.advance(time.Second) // 0.5 s to go
	quotaRefused(t, h.call(http.MethodPost, path, tok, `{}`), 1)
	clock.advance(500 * time.Millisecond) // 2026-12-01T00:00:00Z
	mustStatus(t, h.call(http.MethodPost, path, tok, `{}`), http.StatusCreated)
	quotaRefused(t, h.call(http.MethodPost, path, tok, `{}`), 31*24*3600)
	// Across the year: 2026-12-31T23:59:59Z, then 2027-01-01T00:00:00Z.
	clock.advance(31*24*time.Hour - time.Second)
	quotaRefused(t, h.call(http.MethodPost, path, tok, `{}`), 1)
	clock.advance(time.Second)
	mustStatus(t, h.call(http.MethodPost, path, tok, `{}`), http.StatusCreated)
	quotaRefused(t, h.call(http.MethodPost, path, tok, `{}`), 31*24*3600)
}

// TestCreateQuotaRace creates concurrently for one user: exactly the quota
// is created, by create and createOrGet alike, and every other request
// gets the quota's 429.
func TestCreateQuotaRace(t *testing.T) {
	const quota, n = 5, 24
	forEachStoreWith(t, func(t *testing.T, h *harness) {
		tok := h.userToken()
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			statuses = map[int]int{}
		)
		for i := range n {
			wg.Go(func() {
				path, body := "/v1.0/me/onlineMeetings", `{}`
				if i%2 == 1 {
					path, body = "/v1.0/me/onlineMeetings/createOrGet", fmt.Sprintf(`{"externalId":"race-%d"}`, i)
				}
				r := h.call(http.MethodPost, path, tok, body)
				mu.Lock()
				defer mu.Unlock()
				statuses[r.status]++
				if r.status == http.StatusTooManyRequests && r.header.Get("Retry-After") == "" {
					t.Errorf("429 without Retry-After: %s", r.body)
				}
			})
		}
		wg.Wait()
		if statuses[http.StatusCreated] != quota || statuses[http.StatusTooManyRequests] != n-quota {
			t.Errorf("%d concurrent creations under a quota of %d: statuses %v, want %d × 201 and %d × 429", n, quota, statuses, quota, n-quota)
		}
		list := mustStatus(t, h.call(http.MethodGet, "/v1.0/me/onlineMeetings", tok, ""), http.StatusOK)
		if v, _ := list["value"].([]any); len(v) != quota {
			t.Errorf("the user has %d meetings, want %d", len(v), quota)
		}
	}, withQuota(quota))
}

// TestCreateQuotaOff checks that without a quota nothing is refused and
// nothing is counted.
func TestCreateQuotaOff(t *testing.T) {
	clock := newTestClock()
	h := newHarness(t, storeKinds[0].open(t), withClock(clock))
	tok := h.userToken()
	for range 3 {
		mustStatus(t, h.call(http.MethodPost, "/v1.0/me/onlineMeetings", tok, `{}`), http.StatusCreated)
	}
	if n := h.creations(t, authtest.TenantID, authtest.UserObjectID, clock.now()); n != 0 {
		t.Errorf("Creations without a quota = %d, want 0", n)
	}
}

// TestCreateQuotaNegative checks that handlers.New refuses a negative
// quota.
func TestCreateQuotaNegative(t *testing.T) {
	st := storeKinds[0].open(t)
	defer st.Close()
	if _, err := handlers.New(handlers.Config{Store: st, Verifier: neverReady{}, CreateQuotaPerMonth: -1}); err == nil {
		t.Error("handlers.New(CreateQuotaPerMonth: -1) = nil error, want an error")
	}
}
