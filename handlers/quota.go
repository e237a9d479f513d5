package handlers

import (
	"context"
	"errors"
	"time"

	"github.com/onlinemeetings/onlinemeetings/metrics"
	"github.com/onlinemeetings/onlinemeetings/store"
)

// The monthly creation quota (Config.CreateQuotaPerMonth), like Graph's cap
// on the meetings one user may create per month. The store counts and
// enforces it, per organizer and UTC calendar month, in the transaction
// that stores the meeting (store.Quota), so it holds across replicas and
// restarts and concurrent creations never pass it. The pipeline also
// checks the count before it reads the body of a create, so that an
// authenticated, authorized caller over the quota gets 429 even for a body
// that would be refused (401 → 429 → 400); createOrGet is left to the
// store, since only the body's externalId says whether it would create a
// meeting at all: one that finds its meeting answers 200 over the quota too.

// quotaOperations are the operations the pipeline checks the quota for
// before reading the body.
var quotaOperations = map[string]bool{
	"createOnlineMeeting":     true,
	"createUserOnlineMeeting": true,
}

// checkQuota is the pipeline's early check for operation id: 429 when the
// organizer of the meeting it would create (the caller, or the user in the
// path) has used up this month's quota. It only reads the count; the store
// enforces the quota again when it stores the meeting. ctx carries the
// authorized principal; params are the path parameters.
func (a *app) checkQuota(ctx context.Context, id string, params map[string]string) error {
	if a.quota.PerMonth <= 0 || !quotaOperations[id] {
		return nil
	}
	var (
		t   target
		err error
	)
	if userID, ok := params["userId"]; ok {
		t, err = userTarget(ctx, userID)
	} else {
		t, err = meTarget(ctx)
	}
	if err != nil {
		return err
	}
	now := a.now()
	n, err := a.store.Creations(ctx, t.owner(), now)
	if err != nil {
		return err
	}
	if n >= a.quota.PerMonth {
		return quotaExceeded(now, now, store.ErrQuotaExceeded)
	}
	return nil
}

// countQuotaRefusal records err in the throttling metrics when it refuses a
// creation for the quota, whichever check refused it, and returns err.
func (a *app) countQuotaRefusal(err error) error {
	if errors.Is(err, store.ErrQuotaExceeded) {
		a.cfg.Metrics.Throttled(metrics.ThrottledQuota)
	}
	return err
}

// quotaExceeded is the answer to a creation refused because its organizer
// has used up the quota of the UTC month containing month: 429
// activityLimitReached, as the rate limits answer, with Retry-After in the
// whole seconds from now until the next month starts (at least 1). cause
// wraps store.ErrQuotaExceeded.
func quotaExceeded(month, now time.Time, cause error) *Error {
	y, m, _ := month.UTC().Date()
	next := time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
	e := throttled(next.Sub(now),
		"The request has been throttled because the user has reached the limit of online meetings that can be created this month. Retry after the time given in the Retry-After header.")
	e.Err = cause
	return e
}

// quotaErr turns the store's ErrQuotaExceeded for a meeting created at
// created into quotaExceeded, answered now, and passes every other error on.
func quotaErr(err error, created, now time.Time) error {
	if errors.Is(err, store.ErrQuotaExceeded) {
		return quotaExceeded(created, now, err)
	}
	return err
}
