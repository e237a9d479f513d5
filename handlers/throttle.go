package handlers

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/onlinemeetings/onlinemeetings/auth"
)

// Throttling like Graph's: token buckets per user (tenant, oid of a
// delegated token) and per app (tenant, client id, for every token the app
// presents), answered with 429 activityLimitReached and Retry-After. The
// buckets live in this process, so each replica throttles on its own: N
// replicas behind a load balancer allow up to N times the configured rate.
//
// Keys come from verified tokens only, never from headers such as
// X-Forwarded-For, so a client cannot pick its own bucket.

// throttleSweepInterval is how often idle buckets are dropped, which bounds
// memory by the number of principals active in the last interval.
const throttleSweepInterval = time.Minute

// limiterSet is the buckets of one kind (users or apps).
type limiterSet struct {
	limit rate.Limit
	burst int

	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	lastSweep time.Time
}

// newLimiterSet returns buckets allowing perSecond requests per second with
// bursts of up to max(1, ⌈perSecond⌉); nil when perSecond ≤ 0 (off).
func newLimiterSet(perSecond float64) *limiterSet {
	if perSecond <= 0 {
		return nil
	}
	return &limiterSet{
		limit:   rate.Limit(perSecond),
		burst:   max(1, int(math.Ceil(perSecond))),
		buckets: make(map[string]*rate.Limiter),
	}
}

// take spends one request from key's bucket. It returns the reservation
// (to give the request back if another bucket refuses it) and 0 when
// allowed, else how long until a request would be; a refused request
// spends nothing.
func (s *limiterSet) take(key string, now time.Time) (*rate.Reservation, time.Duration) {
	s.mu.Lock()
	if now.Sub(s.lastSweep) >= throttleSweepInterval {
		for k, l := range s.buckets {
			if l.TokensAt(now) >= float64(s.burst) { // idle long enough to be full
				delete(s.buckets, k)
			}
		}
		s.lastSweep = now
	}
	l := s.buckets[key]
	if l == nil {
		l = rate.NewLimiter(s.limit, s.burst)
		s.buckets[key] = l
	}
	s.mu.Unlock()

	r := l.ReserveN(now, 1)
	if !r.OK() {
		return nil, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return nil, d
	}
	return r, 0
}

// throttle is the rate limiting of the pipeline.
type throttle struct {
	users, apps *limiterSet
}

// check answers 429 when p is over its user's or its app's rate.
func (t throttle) check(p *auth.Principal, now time.Time) error {
	var (
		userRes *rate.Reservation
		wait    time.Duration
	)
	if t.users != nil && !p.AppOnly {
		userRes, wait = t.users.take(p.TenantID+"/"+p.ObjectID, now)
	}
	if wait == 0 && t.apps != nil && p.AppID != "" {
		if _, wait = t.apps.take(p.TenantID+"/"+p.AppID, now); wait > 0 && userRes != nil {
			userRes.CancelAt(now) // refused after all: the user's request is given back
		}
	}
	if wait == 0 {
		return nil
	}
	return throttled(wait, "The request has been throttled because too many requests were made. Retry after the time given in the Retry-After header.")
}

// throttled is the 429 activityLimitReached of the rate limits and the
// creation quota, with Retry-After: wait in whole seconds, rounded up, at
// least 1.
func throttled(wait time.Duration, msg string) *Error {
	secs := max(1, int64(math.Ceil(wait.Seconds())))
	e := newError(http.StatusTooManyRequests, "activityLimitReached", msg)
	e.Header = http.Header{"Retry-After": {strconv.FormatInt(secs, 10)}}
	return e
}
