package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/onlinemeetings/onlinemeetings/store"
)

// Months the quota tests create meetings in: November 2026 (where
// NewMeeting's times fall) and the month after it.
var (
	november = time.Date(2026, time.November, 15, 12, 0, 0, 0, time.UTC)
	december = time.Date(2026, time.December, 15, 12, 0, 0, 0, time.UTC)
)

// createdAt returns NewMeeting(owner, i) created at t.
func createdAt(owner store.Owner, i int, t time.Time) *store.Meeting {
	m := NewMeeting(owner, i)
	m.CreationDateTime = t
	return m
}

// checkCreations fails the test unless Creations(owner, month) is want.
func checkCreations(t *testing.T, s store.Store, owner store.Owner, month time.Time, want int) {
	t.Helper()
	got, err := s.Creations(t.Context(), owner, month)
	if err != nil || got != want {
		t.Errorf("Creations(%+v, %s) = %d, %v; want %d, nil", owner, month.Format(time.RFC3339Nano), got, err, want)
	}
}

// mustCreateUnder stores m under q and fails the test if that does not
// succeed.
func mustCreateUnder(t *testing.T, s store.Store, m *store.Meeting, q store.Quota) {
	t.Helper()
	if err := s.Create(t.Context(), clone(m), q); err != nil {
		t.Fatalf("Create(%q, %+v) = %v, want nil", m.ID, q, err)
	}
}

// checkQuotaExceeded fails the test unless Create(m, q) is refused with
// ErrQuotaExceeded and stores nothing.
func checkQuotaExceeded(t *testing.T, s store.Store, m *store.Meeting, q store.Quota) {
	t.Helper()
	if err := s.Create(t.Context(), clone(m), q); !errors.Is(err, store.ErrQuotaExceeded) {
		t.Errorf("Create(%q, %+v) over the quota = %v, want ErrQuotaExceeded", m.ID, q, err)
	}
	checkNotFound(t, s, m.Owner, m.ID)
}

// testQuotaCounts checks what counts under a quota: every meeting Create
// and CreateOrGet store, never an existing meeting CreateOrGet returns, a
// refused Create, nor anything without a quota; Delete gives nothing back.
func testQuotaCounts(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	q := store.Quota{PerMonth: 100}
	checkCreations(t, s, alice, november, 0)

	first := createdAt(alice, 1, november)
	mustCreateUnder(t, s, first, q)
	checkCreations(t, s, alice, november, 1)
	mustCreateUnder(t, s, createdAt(alice, 2, november), q)
	checkCreations(t, s, alice, november, 2)

	keyed := createdAt(alice, 3, november)
	keyed.ExternalID = "key"
	if _, created, err := s.CreateOrGet(ctx, clone(keyed), q); err != nil || !created {
		t.Fatalf("CreateOrGet(new key) = created %v, %v; want created, nil", created, err)
	}
	checkCreations(t, s, alice, november, 3)
	again := createdAt(alice, 4, november)
	again.ExternalID = "key"
	for range 2 {
		got, created, err := s.CreateOrGet(ctx, clone(again), q)
		if err != nil || created || got == nil || got.ID != keyed.ID {
			t.Fatalf("CreateOrGet(existing key) = %v, created %v, %v; want %q, not created", got, created, err, keyed.ID)
		}
	}
	checkCreations(t, s, alice, november, 3)

	// Refused creates count nothing.
	dupID := createdAt(alice, 5, november)
	dupID.ID = first.ID
	dupJoin := createdAt(alice, 6, november)
	dupJoin.JoinMeetingID = first.JoinMeetingID
	dupKey := createdAt(alice, 7, november)
	dupKey.ExternalID = "key"
	for _, m := range []*store.Meeting{dupID, dupJoin, dupKey} {
		if err := s.Create(ctx, clone(m), q); err == nil {
			t.Fatalf("Create(%q, taken keys) = nil, want an error", m.ID)
		}
	}
	if _, _, err := s.CreateOrGet(ctx, func() *store.Meeting { m := clone(dupID); m.ExternalID = "other"; return m }(), q); !errors.Is(err, store.ErrIDTaken) {
		t.Fatalf("CreateOrGet(taken id) = %v, want ErrIDTaken", err)
	}
	checkCreations(t, s, alice, november, 3)

	// Deleting gives nothing back.
	for _, id := range []string{first.ID, keyed.ID} {
		if err := s.Delete(ctx, alice, id); err != nil {
			t.Fatalf("Delete(%q) = %v", id, err)
		}
	}
	checkCreations(t, s, alice, november, 3)

	// Without a quota nothing is counted.
	mustCreateUnder(t, s, createdAt(alice, 8, november), store.Quota{})
	if _, created, err := s.CreateOrGet(ctx, newMeetingWithKey(alice, 9, "no quota"), store.Quota{}); err != nil || !created {
		t.Fatalf("CreateOrGet(new key, no quota) = created %v, %v; want created, nil", created, err)
	}
	checkCreations(t, s, alice, november, 3)

	// Nobody else's count moved, and odd owners have none.
	for _, o := range []store.Owner{bob, aliceElsewhere, {}, {TenantID: alice.UserID, UserID: alice.TenantID},
		{TenantID: "\x00", UserID: "\xff\xfe"}, {TenantID: alice.TenantID, UserID: alice.UserID + "\x00"}} {
		checkCreations(t, s, o, november, 0)
	}
}

// testQuotaLimit checks that a full quota refuses new meetings, with
// ErrQuotaExceeded and nothing stored or counted, while CreateOrGet still
// returns existing ones.
func testQuotaLimit(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	q := store.Quota{PerMonth: 2}
	keyed := createdAt(alice, 1, november)
	keyed.ExternalID = "key"
	if _, created, err := s.CreateOrGet(ctx, clone(keyed), q); err != nil || !created {
		t.Fatalf("CreateOrGet(new key) = created %v, %v; want created, nil", created, err)
	}
	second := createdAt(alice, 2, november)
	mustCreateUnder(t, s, second, q)
	checkCreations(t, s, alice, november, 2)

	refused := createdAt(alice, 3, november)
	checkQuotaExceeded(t, s, refused, q)
	checkQuotaExceeded(t, s, refused, store.Quota{PerMonth: 1}) // a lowered quota
	newKey := createdAt(alice, 4, november)
	newKey.ExternalID = "new key"
	if got, created, err := s.CreateOrGet(ctx, clone(newKey), q); !errors.Is(err, store.ErrQuotaExceeded) || got != nil || created {
		t.Errorf("CreateOrGet(new key) over the quota = %v, created %v, %v; want nil, ErrQuotaExceeded", got, created, err)
	}
	checkNotFound(t, s, alice, newKey.ID)
	// An existing meeting is returned whatever the count.
	existing := createdAt(alice, 5, november)
	existing.ExternalID = "key"
	if got, created, err := s.CreateOrGet(ctx, clone(existing), q); err != nil || created || got == nil || got.ID != keyed.ID {
		t.Errorf("CreateOrGet(existing key) over the quota = %v, created %v, %v; want %q, not created", got, created, err, keyed.ID)
	}
	checkCreations(t, s, alice, november, 2)
	if got := listAll(t, s, alice, 10); len(got) != 2 {
		t.Errorf("List after refused creations = %q, want the 2 created", ids(got))
	}

	// Deleting frees no place.
	if err := s.Delete(ctx, alice, second.ID); err != nil {
		t.Fatal(err)
	}
	checkQuotaExceeded(t, s, refused, q)

	// Nothing of the refused meetings was kept: their ids and key are free
	// under a larger quota, which counts on from 2.
	mustCreateUnder(t, s, refused, store.Quota{PerMonth: 3})
	checkStored(t, s, refused)
	checkCreations(t, s, alice, november, 3)
	if got, created, err := s.CreateOrGet(ctx, clone(newKey), store.Quota{PerMonth: 4}); err != nil || !created {
		t.Errorf("CreateOrGet(refused key, larger quota) = %v, created %v, %v; want created", got, created, err)
	}
	checkStored(t, s, newKey)
	checkCreations(t, s, alice, november, 4)
	// No quota at all lets anyone create, uncounted.
	mustCreateUnder(t, s, createdAt(alice, 6, november), store.Quota{})
	checkCreations(t, s, alice, november, 4)
}

// testQuotaMonths checks that each UTC calendar month has a count of its
// own, decided by the meeting's CreationDateTime.
func testQuotaMonths(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	q := store.Quota{PerMonth: 1}
	lastInstant := time.Date(2026, time.December, 1, 0, 0, 0, 0, time.UTC).Add(-100 * time.Nanosecond)
	mustCreateUnder(t, s, createdAt(alice, 1, lastInstant), q)
	checkQuotaExceeded(t, s, createdAt(alice, 2, november), q)

	// 2026-11-30T23:30-01:00 is in December in UTC.
	west := time.FixedZone("UTC-1", -3600)
	dec := createdAt(alice, 3, time.Date(2026, time.November, 30, 23, 30, 0, 0, west))
	mustCreateUnder(t, s, dec, q)
	checkStored(t, s, dec)
	checkQuotaExceeded(t, s, createdAt(alice, 4, december), q)
	mustCreateUnder(t, s, createdAt(alice, 5, time.Date(2027, time.January, 1, 0, 0, 0, 0, time.UTC)), q)
	mustCreateUnder(t, s, createdAt(alice, 6, time.Date(2025, time.November, 10, 0, 0, 0, 0, time.UTC)), q) // a year earlier

	// Creations takes any instant of the month, in any zone.
	east := time.FixedZone("UTC+5:30", 5*3600+1800)
	for _, c := range []struct {
		month time.Time
		want  int
	}{
		{time.Date(2026, time.November, 1, 0, 0, 0, 0, time.UTC), 1},
		{lastInstant, 1},
		{time.Date(2026, time.December, 1, 3, 0, 0, 0, east), 1}, // 2026-11-30T21:30Z
		{time.Date(2026, time.December, 1, 0, 0, 0, 0, time.UTC), 1},
		{time.Date(2026, time.December, 31, 23, 59, 59, 0, time.UTC), 1},
		{time.Date(2027, time.January, 31, 0, 0, 0, 0, time.UTC), 1},
		{time.Date(2025, time.November, 30, 0, 0, 0, 0, time.UTC), 1},
		{time.Date(2026, time.October, 31, 0, 0, 0, 0, time.UTC), 0},
		{time.Date(2027, time.November, 15, 0, 0, 0, 0, time.UTC), 0},
	} {
		checkCreations(t, s, alice, c.month, c.want)
	}
}

// testQuotaOwners checks that every owner has a count of their own: another
// user of the tenant, and the same user id in another tenant.
func testQuotaOwners(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	q := store.Quota{PerMonth: 1}
	mustCreateUnder(t, s, createdAt(alice, 1, november), q)
	checkQuotaExceeded(t, s, createdAt(alice, 2, november), q)
	for i, o := range []store.Owner{bob, aliceElsewhere, bobElsewhere} {
		mustCreateUnder(t, s, createdAt(o, 10+i, november), q)
		checkQuotaExceeded(t, s, createdAt(o, 20+i, november), q)
		keyed := createdAt(o, 30+i, november)
		keyed.ExternalID = "key"
		if _, _, err := s.CreateOrGet(ctx, keyed, q); !errors.Is(err, store.ErrQuotaExceeded) {
			t.Errorf("CreateOrGet(%+v over the quota) = %v, want ErrQuotaExceeded", o, err)
		}
	}
	for _, o := range []store.Owner{alice, bob, aliceElsewhere, bobElsewhere} {
		checkCreations(t, s, o, november, 1)
	}
	checkCreations(t, s, carol, november, 0)
	mustCreateUnder(t, s, createdAt(carol, 40, november), q)
}

// testQuotaConcurrent races Creates of one owner under a quota: exactly
// the quota's number succeed and the rest are refused, storing nothing,
// while another owner racing alongside is not held back.
func testQuotaConcurrent(t *testing.T, open func(t *testing.T) store.Store) {
	const goroutines, perMonth, others = 40, 10, 10
	s := open(t)
	q := store.Quota{PerMonth: perMonth}
	type attempt struct {
		m   *store.Meeting
		err error
	}
	var all []*attempt
	for i := range goroutines {
		all = append(all, &attempt{m: createdAt(alice, i, november)})
	}
	for i := range others {
		all = append(all, &attempt{m: createdAt(bob, 100+i, november)})
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, a := range all {
		wg.Go(func() {
			<-start
			a.err = s.Create(t.Context(), clone(a.m), q)
		})
	}
	close(start)
	wg.Wait()

	ok := 0
	for _, a := range all {
		switch {
		case a.m.Owner == bob && a.err != nil:
			t.Errorf("Create(bob's %q, within his quota) = %v, want nil", a.m.ID, a.err)
		case a.err == nil:
			ok++
			checkStored(t, s, a.m)
		case errors.Is(a.err, store.ErrQuotaExceeded):
			checkNotFound(t, s, a.m.Owner, a.m.ID)
		default:
			t.Errorf("Create(%q) = %v, want nil or ErrQuotaExceeded", a.m.ID, a.err)
		}
	}
	if want := perMonth + others; ok != want {
		t.Errorf("%d concurrent Creates succeeded, want %d (%d of alice's %d, all %d of bob's)", ok, want, perMonth, goroutines, others)
	}
	checkCreations(t, s, alice, november, perMonth)
	checkCreations(t, s, bob, november, others)
	if got := listAll(t, s, alice, 1000); len(got) != perMonth {
		t.Errorf("List(alice) = %d meetings, want %d", len(got), perMonth)
	}
}

// testQuotaCreateOrGetConcurrent races CreateOrGet under a quota: with one
// key, one call creates and every other one gets that meeting, even once
// the creation filled the quota; with different keys, exactly the quota's
// number create.
func testQuotaCreateOrGetConcurrent(t *testing.T, open func(t *testing.T) store.Store) {
	const goroutines = 40
	type result struct {
		m       *store.Meeting
		got     *store.Meeting
		created bool
		err     error
	}
	race := func(s store.Store, q store.Quota, key func(i int) string) []*result {
		results := make([]*result, goroutines)
		for i := range results {
			m := createdAt(alice, i, november)
			m.ExternalID = key(i)
			results[i] = &result{m: m}
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, r := range results {
			wg.Go(func() {
				<-start
				r.got, r.created, r.err = s.CreateOrGet(t.Context(), clone(r.m), q)
			})
		}
		close(start)
		wg.Wait()
		return results
	}

	t.Run("OneKey", func(t *testing.T) {
		s := open(t)
		results := race(s, store.Quota{PerMonth: 1}, func(int) string { return "shared" })
		var winner *store.Meeting
		for _, r := range results {
			if r.err != nil {
				t.Errorf("CreateOrGet(%q, shared key, quota 1) = %v, want nil", r.m.ID, r.err)
				continue
			}
			if r.created {
				if winner != nil {
					t.Errorf("CreateOrGet: both %q and %q created", winner.ID, r.m.ID)
				}
				winner = r.m
			}
		}
		if winner == nil {
			t.Fatalf("CreateOrGet: none of %d calls created", goroutines)
		}
		for _, r := range results {
			if r.err == nil {
				checkMeeting(t, fmt.Sprintf("CreateOrGet(%q)", r.m.ID), winner, r.got)
			}
		}
		checkCreations(t, s, alice, november, 1)
	})
	t.Run("OneKeyQuotaFull", func(t *testing.T) {
		s := open(t)
		mustCreateUnder(t, s, createdAt(alice, 100, november), store.Quota{PerMonth: 1})
		results := race(s, store.Quota{PerMonth: 1}, func(int) string { return "shared" })
		for _, r := range results {
			if !errors.Is(r.err, store.ErrQuotaExceeded) || r.got != nil || r.created {
				t.Errorf("CreateOrGet(%q, new key, quota full) = %v, created %v, %v; want ErrQuotaExceeded", r.m.ID, r.got, r.created, r.err)
			}
		}
		checkCreations(t, s, alice, november, 1)
		if got := listAll(t, s, alice, 1000); len(got) != 1 {
			t.Errorf("List(alice) = %d meetings, want 1", len(got))
		}
	})
	t.Run("ManyKeys", func(t *testing.T) {
		const perMonth = 10
		s := open(t)
		results := race(s, store.Quota{PerMonth: perMonth}, func(i int) string { return fmt.Sprint("key-", i) })
		created := 0
		for _, r := range results {
			switch {
			case r.err == nil && r.created:
				created++
				checkStored(t, s, r.m)
			case errors.Is(r.err, store.ErrQuotaExceeded):
				checkNotFound(t, s, alice, r.m.ID)
			default:
				t.Errorf("CreateOrGet(%q, own key) = created %v, %v; want created or ErrQuotaExceeded", r.m.ID, r.created, r.err)
			}
		}
		if created != perMonth {
			t.Errorf("%d of %d CreateOrGet calls with their own keys created, want %d", created, goroutines, perMonth)
		}
		checkCreations(t, s, alice, november, perMonth)
	})
}
