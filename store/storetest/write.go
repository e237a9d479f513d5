package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onlinemeetings/onlinemeetings/store"
)

// createOrGet calls CreateOrGet with a copy of m and fails the test unless
// it succeeds with created as given; it returns the meeting it got.
func createOrGet(t *testing.T, s store.Store, m *store.Meeting, wantCreated bool) *store.Meeting {
	t.Helper()
	got, created, err := s.CreateOrGet(t.Context(), clone(m), store.Quota{})
	if err != nil || created != wantCreated {
		t.Fatalf("CreateOrGet(%q, external id %q) = created %v, %v; want created %v, nil", m.ID, m.ExternalID, created, err, wantCreated)
	}
	return got
}

func testCreateOrGet(t *testing.T, open func(t *testing.T) store.Store) {
	withKey := func(owner store.Owner, i int, key string) *store.Meeting {
		m := NewMeeting(owner, i)
		m.ExternalID = key
		m.Attendees = []store.Owner{carol}
		return m
	}
	t.Run("Created", func(t *testing.T) {
		s := open(t)
		m := withKey(alice, 1, "key")
		want := clone(m)
		got := createOrGet(t, s, m, true)
		checkMeeting(t, "CreateOrGet", want, got)
		checkStored(t, s, want)
	})
	t.Run("Existing", func(t *testing.T) {
		s := open(t)
		first := withKey(alice, 1, "key")
		createOrGet(t, s, first, true)
		// Everything but owner and key differs, and is ignored.
		second := withKey(alice, 2, "key")
		second.Attendees, second.Resource = []store.Owner{bob}, []byte(`{"other":true}`)
		for range 2 {
			got := createOrGet(t, s, second, false)
			checkMeeting(t, "CreateOrGet(existing)", first, got)
		}
		checkStored(t, s, first)
		checkNotFound(t, s, alice, second.ID)
		// Nothing of second was stored: its join meeting id is free.
		free := NewMeeting(alice, 3)
		free.JoinMeetingID = second.JoinMeetingID
		mustCreate(t, s, free)
	})
	t.Run("LongKey", func(t *testing.T) {
		// As long as the API allows, and two that differ only at the end.
		s := open(t)
		first := withKey(alice, 1, longExternalID('a'))
		createOrGet(t, s, first, true)
		checkMeeting(t, "CreateOrGet(existing long key)", first, createOrGet(t, s, withKey(alice, 2, first.ExternalID), false))
		other := withKey(alice, 3, longExternalID('b'))
		checkMeeting(t, "CreateOrGet(other long key)", other, createOrGet(t, s, other, true))
		if err := s.Create(t.Context(), withKey(alice, 4, other.ExternalID), store.Quota{}); !errors.Is(err, store.ErrExternalIDTaken) {
			t.Errorf("Create(taken long external id) = %v, want ErrExternalIDTaken", err)
		}
	})
	t.Run("ExistingFromCreate", func(t *testing.T) {
		s := open(t)
		first := withKey(alice, 1, "key")
		mustCreate(t, s, clone(first))
		got := createOrGet(t, s, withKey(alice, 2, "key"), false)
		checkMeeting(t, "CreateOrGet(existing)", first, got)
	})
	t.Run("ExistingAfterUpdate", func(t *testing.T) {
		s := open(t)
		first := withKey(alice, 1, "key")
		createOrGet(t, s, first, true)
		updated, err := s.Update(t.Context(), alice, first.ID, func(m *store.Meeting) error {
			m.Resource = []byte(`{"updated":true}`)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got := createOrGet(t, s, withKey(alice, 2, "key"), false)
		checkMeeting(t, "CreateOrGet(existing)", updated, got)
	})
	t.Run("OtherOwners", func(t *testing.T) {
		s := open(t)
		first := withKey(alice, 1, "key")
		createOrGet(t, s, first, true)
		for i, o := range []store.Owner{bob, aliceElsewhere, bobElsewhere} {
			m := withKey(o, 2+i, "key")
			checkMeeting(t, "CreateOrGet(other owner)", m, createOrGet(t, s, m, true))
			checkStored(t, s, m)
		}
		checkMeeting(t, "CreateOrGet(alice again)", first, createOrGet(t, s, withKey(alice, 9, "key"), false))
	})
	t.Run("KeyIsExact", func(t *testing.T) {
		s := open(t)
		createOrGet(t, s, withKey(alice, 1, "Key_%"), true)
		for i, k := range []string{"key_%", "KEY_%", "Key_", "Key_%%", "Key__", "Key_% ", "Key"} {
			createOrGet(t, s, withKey(alice, 2+i, k), true)
		}
	})
	t.Run("AfterDelete", func(t *testing.T) {
		s := open(t)
		first := withKey(alice, 1, "key")
		createOrGet(t, s, first, true)
		if err := s.Delete(t.Context(), alice, first.ID); err != nil {
			t.Fatalf("Delete = %v", err)
		}
		second := withKey(alice, 2, "key")
		checkMeeting(t, "CreateOrGet(after delete)", second, createOrGet(t, s, second, true))
		checkStored(t, s, second)
		checkNotFound(t, s, alice, first.ID)
		// Create also sees the key taken again.
		if err := s.Create(t.Context(), withKey(alice, 3, "key"), store.Quota{}); !errors.Is(err, store.ErrExternalIDTaken) {
			t.Errorf("Create(key taken again) = %v, want ErrExternalIDTaken", err)
		}
	})
	t.Run("IDTaken", func(t *testing.T) {
		s := open(t)
		orig := NewMeeting(bob, 1)
		mustCreate(t, s, clone(orig))
		m := withKey(alice, 2, "key")
		m.ID = orig.ID
		if _, _, err := s.CreateOrGet(t.Context(), m, store.Quota{}); !errors.Is(err, store.ErrIDTaken) {
			t.Errorf("CreateOrGet(existing ID, new key) = %v, want ErrIDTaken", err)
		}
		checkStored(t, s, orig)
		m = withKey(alice, 3, "key") // the key was not taken
		createOrGet(t, s, m, true)
	})
	t.Run("JoinMeetingIDTaken", func(t *testing.T) {
		s := open(t)
		orig := NewMeeting(bob, 1)
		mustCreate(t, s, clone(orig))
		m := withKey(alice, 2, "key")
		m.JoinMeetingID = orig.JoinMeetingID
		if _, _, err := s.CreateOrGet(t.Context(), m, store.Quota{}); !errors.Is(err, store.ErrJoinMeetingIDTaken) {
			t.Errorf("CreateOrGet(existing JoinMeetingID, new key) = %v, want ErrJoinMeetingIDTaken", err)
		}
		checkNotFound(t, s, alice, m.ID)
		createOrGet(t, s, withKey(alice, 3, "key"), true)
	})
	t.Run("EmptyExternalID", func(t *testing.T) {
		s := open(t)
		m := NewMeeting(alice, 1)
		if got, _, err := s.CreateOrGet(t.Context(), clone(m), store.Quota{}); err == nil {
			t.Errorf("CreateOrGet(no external id) = %v, nil; want an error", got)
		}
		checkNotFound(t, s, alice, m.ID)
	})
	t.Run("DoesNotKeepArgument", func(t *testing.T) {
		s := open(t)
		m := withKey(alice, 1, "key")
		want := clone(m)
		got := createOrGet(t, s, m, true)
		m.Resource[0], m.Attendees[0] = 'X', bob
		got.Resource[1], got.Attendees[0] = 'Y', bob
		checkStored(t, s, want)
		checkMeeting(t, "CreateOrGet(existing)", want, createOrGet(t, s, withKey(alice, 2, "key"), false))
	})
}

// testCreateOrGetConcurrent races CreateOrGet calls with one (owner, key):
// exactly one stores its meeting, and every call returns that meeting. Other
// owners racing with the same key each get their own.
func testCreateOrGetConcurrent(t *testing.T, open func(t *testing.T) store.Store) {
	const perOwner = 40
	s := open(t)
	owners := []store.Owner{alice, bob, aliceElsewhere}
	type result struct {
		m       *store.Meeting
		got     *store.Meeting
		created bool
		err     error
	}
	results := make([]*result, 0, perOwner*len(owners))
	for i := range perOwner {
		for _, o := range owners {
			m := NewMeeting(o, i)
			m.ExternalID = "shared"
			results = append(results, &result{m: m})
		}
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, r := range results {
		wg.Go(func() {
			<-start
			r.got, r.created, r.err = s.CreateOrGet(t.Context(), clone(r.m), store.Quota{})
		})
	}
	close(start)
	wg.Wait()

	for _, o := range owners {
		var winner *store.Meeting
		for _, r := range results {
			if r.m.Owner != o {
				continue
			}
			if r.err != nil {
				t.Errorf("CreateOrGet(%+v, %q) = %v, want nil", o, r.m.ID, r.err)
				continue
			}
			if r.created {
				if winner != nil {
					t.Errorf("CreateOrGet(%+v): both %q and %q created", o, winner.ID, r.m.ID)
				}
				winner = r.m
			}
		}
		if winner == nil {
			t.Errorf("CreateOrGet(%+v): none of %d calls created", o, perOwner)
			continue
		}
		for _, r := range results {
			if r.m.Owner != o || r.err != nil {
				continue
			}
			checkMeeting(t, fmt.Sprintf("CreateOrGet(%+v, %q)", o, r.m.ID), winner, r.got)
			if r.m != winner {
				checkNotFound(t, s, o, r.m.ID)
			}
		}
		checkStored(t, s, winner)
		if got := listAll(t, s, o, 1000); len(got) != 1 {
			t.Errorf("List(%+v) = %d meetings, want 1", o, len(got))
		}
	}
}

// testCreateOrGetConcurrentDelete races CreateOrGet with Deletes of the
// meeting it returns: CreateOrGet must never fail or return a meeting
// that was never stored, however a Delete falls between its steps, and in
// the end the owner has at most one meeting with the key.
func testCreateOrGetConcurrentDelete(t *testing.T, open func(t *testing.T) store.Store) {
	const goroutines, rounds = 32, 8
	s := open(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	offered := make(map[string]bool) // IDs passed to CreateOrGet
	for g := range goroutines {
		wg.Go(func() {
			for i := range rounds {
				m := newMeetingWithKey(alice, g*rounds+i, "key")
				mu.Lock()
				offered[m.ID] = true
				mu.Unlock()
				got, created, err := s.CreateOrGet(t.Context(), clone(m), store.Quota{})
				if err != nil {
					t.Errorf("CreateOrGet during Deletes = %v, want nil", err)
					return
				}
				if created != (got.ID == m.ID) {
					t.Errorf("CreateOrGet(%q) = %q, created %v", m.ID, got.ID, created)
				}
				if got.ExternalID != "key" || got.Owner != alice {
					t.Errorf("CreateOrGet returned %q of %+v with key %q", got.ID, got.Owner, got.ExternalID)
				}
				if g%2 == 0 {
					if err := s.Delete(t.Context(), alice, got.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
						t.Errorf("Delete = %v, want nil or ErrNotFound", err)
					}
				}
			}
		})
	}
	wg.Wait()
	left := listAll(t, s, alice, 1000)
	if len(left) > 1 {
		t.Errorf("%d meetings left with one key, want at most 1", len(left))
	}
	for _, m := range left {
		if !offered[m.ID] {
			t.Errorf("stored meeting %q was never offered", m.ID)
		}
	}
}

// mustUpdate calls Update and fails the test unless it succeeds.
func mustUpdate(t *testing.T, s store.Store, owner store.Owner, id string, fn func(*store.Meeting) error) *store.Meeting {
	t.Helper()
	got, err := s.Update(t.Context(), owner, id, fn)
	if err != nil {
		t.Fatalf("Update(%+v, %q) = %v, want nil", owner, id, err)
	}
	return got
}

func testUpdate(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("ResourceAndAttendees", func(t *testing.T) {
		s := open(t)
		m := NewMeeting(alice, 1)
		m.ExternalID = "key"
		mustCreate(t, s, clone(m))
		var seen *store.Meeting
		got := mustUpdate(t, s, alice, m.ID, func(u *store.Meeting) error {
			seen = clone(u)
			u.Resource = []byte(`{"subject":"changed"}`)
			u.Attendees = []store.Owner{bob, aliceElsewhere, {TenantID: "t", UserID: `"],["'`}}
			return nil
		})
		checkMeeting(t, "Update's function argument", m, seen)
		want := clone(m)
		want.Resource = []byte(`{"subject":"changed"}`)
		want.Attendees = []store.Owner{bob, aliceElsewhere, {TenantID: "t", UserID: `"],["'`}}
		checkMeeting(t, "Update", want, got)
		checkStored(t, s, want)

		// The next Update sees the previous one's result; empty
		// attendees read back as nil.
		got = mustUpdate(t, s, alice, m.ID, func(u *store.Meeting) error {
			seen = clone(u)
			u.Attendees = []store.Owner{}
			return nil
		})
		checkMeeting(t, "second Update's function argument", want, seen)
		want.Attendees = nil
		checkMeeting(t, "Update", want, got)
		checkStored(t, s, want)

		// A function that changes nothing stores the meeting as it was.
		checkMeeting(t, "Update(no change)", want, mustUpdate(t, s, alice, m.ID, func(*store.Meeting) error { return nil }))
		checkStored(t, s, want)
	})
	t.Run("FunctionError", func(t *testing.T) {
		s := open(t)
		m := NewMeeting(alice, 1)
		mustCreate(t, s, clone(m))
		got, err := s.Update(t.Context(), alice, m.ID, func(u *store.Meeting) error {
			u.Resource = []byte(`{"subject":"lost"}`)
			u.Attendees = []store.Owner{bob}
			return errFn
		})
		if err != errFn || got != nil { //nolint:errorlint // the contract says "as is"
			t.Errorf("Update(fn fails) = %v, %v; want nil, errFn as is", got, err)
		}
		checkStored(t, s, m)
		// A sentinel too is returned as is, not taken for the store's own.
		wrapped := fmt.Errorf("wrapped: %w", store.ErrNotFound)
		if _, err := s.Update(t.Context(), alice, m.ID, func(*store.Meeting) error { return wrapped }); err != wrapped { //nolint:errorlint
			t.Errorf("Update(fn returns %v) = %v, want it as is", wrapped, err)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		m := NewMeeting(alice, 1)
		m.Attendees = []store.Owner{bob} // an attendee may read, not update
		mustCreate(t, s, clone(m))
		for _, c := range []struct {
			owner store.Owner
			id    string
		}{
			{bob, m.ID}, {aliceElsewhere, m.ID}, {store.Owner{}, m.ID}, {alice, "MSpdoesnotexist"}, {alice, ""},
		} {
			called := false
			got, err := s.Update(t.Context(), c.owner, c.id, func(u *store.Meeting) error {
				called = true
				u.Resource = []byte("{}")
				return nil
			})
			if !errors.Is(err, store.ErrNotFound) || got != nil {
				t.Errorf("Update(%+v, %q) = %v, %v; want nil, ErrNotFound", c.owner, c.id, got, err)
			}
			if called {
				t.Errorf("Update(%+v, %q) called its function", c.owner, c.id)
			}
		}
		checkStored(t, s, m)
	})
}

// testUpdateImmutable checks that Update refuses a function that changes a
// field the store keys on, storing nothing of what it did.
func testUpdateImmutable(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	m := NewMeeting(alice, 1)
	m.ExternalID = "key"
	mustCreate(t, s, clone(m))
	other := NewMeeting(alice, 2)
	tests := []struct {
		name   string
		change func(*store.Meeting)
	}{
		{"ID", func(u *store.Meeting) { u.ID = other.ID }},
		{"IDEmpty", func(u *store.Meeting) { u.ID = "" }},
		{"OwnerTenant", func(u *store.Meeting) { u.Owner.TenantID = aliceElsewhere.TenantID }},
		{"OwnerUser", func(u *store.Meeting) { u.Owner = bob }},
		{"ExternalID", func(u *store.Meeting) { u.ExternalID = "other" }},
		{"ExternalIDCleared", func(u *store.Meeting) { u.ExternalID = "" }},
		{"JoinMeetingID", func(u *store.Meeting) { u.JoinMeetingID = other.JoinMeetingID }},
		{"JoinWebURL", func(u *store.Meeting) { u.JoinWebURL = other.JoinWebURL }},
		{"CreationDateTime", func(u *store.Meeting) { u.CreationDateTime = u.CreationDateTime.Add(100 * time.Nanosecond) }},
		{"CreationDateTimeZero", func(u *store.Meeting) { u.CreationDateTime = time.Time{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Update(t.Context(), alice, m.ID, func(u *store.Meeting) error {
				tt.change(u)
				u.Resource = []byte(`{"subject":"lost"}`)
				u.Attendees = []store.Owner{bob}
				return nil
			})
			if !errors.Is(err, store.ErrImmutable) || got != nil {
				t.Errorf("Update(changes %s) = %v, %v; want nil, ErrImmutable", tt.name, got, err)
			}
			checkStored(t, s, m)
		})
	}
	// The same instant in another time zone is no change.
	got := mustUpdate(t, s, alice, m.ID, func(u *store.Meeting) error {
		u.CreationDateTime = u.CreationDateTime.In(time.FixedZone("X", 3600))
		return nil
	})
	checkMeeting(t, "Update(same instant, other zone)", m, got)
}

// testUpdateConcurrent has many goroutines each add their own marker to a
// list inside one meeting's Resource, and to its Attendees, by
// read-modify-write in Update's function: every marker must persist.
func testUpdateConcurrent(t *testing.T, open func(t *testing.T) store.Store) {
	const goroutines, perGoroutine = 40, 3
	s := open(t)
	m := NewMeeting(alice, 1)
	m.Resource = []byte(`{"markers":[]}`)
	mustCreate(t, s, clone(m))
	bystander := NewMeeting(alice, 2) // in the same batches, untouched
	mustCreate(t, s, clone(bystander))

	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			<-start
			for i := range perGoroutine {
				marker := fmt.Sprintf("g%d-%d", g, i)
				_, err := s.Update(t.Context(), alice, m.ID, func(u *store.Meeting) error {
					var r struct{ Markers []string }
					if err := json.Unmarshal(u.Resource, &r); err != nil {
						return err
					}
					r.Markers = append(r.Markers, marker)
					b, err := json.Marshal(map[string]any{"markers": r.Markers})
					if err != nil {
						return err
					}
					u.Resource = b
					u.Attendees = append(u.Attendees, store.Owner{TenantID: "t", UserID: marker})
					return nil
				})
				if err != nil {
					t.Errorf("Update(marker %s) = %v, want nil", marker, err)
				}
			}
		})
	}
	close(start)
	wg.Wait()

	got, err := s.Get(t.Context(), alice, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	var r struct{ Markers []string }
	if err := json.Unmarshal(got.Resource, &r); err != nil {
		t.Fatalf("stored Resource %s: %v", abbrev(got.Resource), err)
	}
	var fromAttendees []string
	for _, a := range got.Attendees {
		fromAttendees = append(fromAttendees, a.UserID)
	}
	if !slices.Equal(r.Markers, fromAttendees) {
		t.Errorf("markers in Resource and Attendees differ: %q, %q; want the same order", r.Markers, fromAttendees)
	}
	slices.Sort(r.Markers)
	var want []string
	for g := range goroutines {
		for i := range perGoroutine {
			want = append(want, fmt.Sprintf("g%d-%d", g, i))
		}
	}
	slices.Sort(want)
	if !slices.Equal(want, r.Markers) {
		t.Errorf("stored %d markers, want all %d (lost updates)", len(r.Markers), len(want))
	}
	checkStored(t, s, bystander)
}

// testUpdateConcurrentDelete races Updates of one meeting with its Delete:
// every Update succeeds or finds nothing, and none brings the meeting
// back.
func testUpdateConcurrentDelete(t *testing.T, open func(t *testing.T) store.Store) {
	const goroutines = 40
	s := open(t)
	m := NewMeeting(alice, 1)
	m.ExternalID = "key"
	mustCreate(t, s, clone(m))

	start := make(chan struct{})
	var wg sync.WaitGroup
	var deleteErr error
	for g := range goroutines {
		wg.Go(func() {
			<-start
			if g == goroutines/2 {
				deleteErr = s.Delete(t.Context(), alice, m.ID)
				return
			}
			for i := range 3 {
				got, err := s.Update(t.Context(), alice, m.ID, func(u *store.Meeting) error {
					u.Resource = fmt.Appendf(nil, `{"by":"g%d-%d"}`, g, i)
					return nil
				})
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					t.Errorf("Update during Delete = %v, want nil or ErrNotFound", err)
				}
				if err == nil && got == nil {
					t.Errorf("Update during Delete = nil meeting, nil error")
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if deleteErr != nil {
		t.Errorf("Delete during Updates = %v, want nil", deleteErr)
	}
	checkNotFound(t, s, alice, m.ID)
	if _, err := s.Update(t.Context(), alice, m.ID, func(*store.Meeting) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Update after Delete = %v, want ErrNotFound", err)
	}
	// The external id is free: the meeting is gone for good.
	createOrGet(t, s, newMeetingWithKey(alice, 2, "key"), true)
}

// newMeetingWithKey returns NewMeeting(owner, i) with ExternalID key, as
// the handlers build it for createOrGet.
func newMeetingWithKey(owner store.Owner, i int, key string) *store.Meeting {
	m := NewMeeting(owner, i)
	m.ExternalID = key
	return m
}

func testDelete(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	m := newMeetingWithKey(alice, 1, "key")
	m.Attendees = []store.Owner{bob}
	mustCreate(t, s, clone(m))
	keep := NewMeeting(alice, 2)
	mustCreate(t, s, clone(keep))

	for _, o := range []store.Owner{bob, aliceElsewhere, {}} {
		if err := s.Delete(ctx, o, m.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Delete(%+v, alice's meeting) = %v, want ErrNotFound", o, err)
		}
	}
	checkStored(t, s, m)

	if err := s.Delete(ctx, alice, m.ID); err != nil {
		t.Fatalf("Delete = %v, want nil", err)
	}
	checkNotFound(t, s, alice, m.ID)
	if err := s.Delete(ctx, alice, m.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
	for _, l := range lookups(m) {
		checkFind(t, s, alice, l.q)
		checkFind(t, s, bob, l.q)
	}
	if got := listAll(t, s, alice, 10); len(got) != 1 || got[0].ID != keep.ID {
		t.Errorf("List after Delete = %q, want only %q", ids(got), keep.ID)
	}
	checkStored(t, s, keep)
	// The external id is free again, for Create as for CreateOrGet.
	mustCreate(t, s, newMeetingWithKey(alice, 3, "key"))
}

// testDeleteConcurrent races Deletes of one meeting: exactly one succeeds.
func testDeleteConcurrent(t *testing.T, open func(t *testing.T) store.Store) {
	const goroutines = 32
	s := open(t)
	m := NewMeeting(alice, 1)
	mustCreate(t, s, clone(m))
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() { errs <- s.Delete(t.Context(), alice, m.ID) })
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("concurrent Delete = %v, want nil or ErrNotFound", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent Deletes succeeded, want 1", ok, goroutines)
	}
	checkNotFound(t, s, alice, m.ID)
}

// oddIDs are ids no meeting has, which some stores might reject with an
// error of their own (NUL bytes, invalid UTF-8, great length) instead of
// answering ErrNotFound.
var oddIDs = []struct{ name, id string }{
	{"Empty", ""},
	{"NULOnly", "\x00"},
	{"NULInside", "MSp\x00abc"},
	{"InvalidUTF8", "\xff\xfe\xfd"},
	{"Surrogate", "\xed\xa0\x80"},
	{"Long", strings.Repeat("a", 600)},
	{"VeryLong", strings.Repeat("MSp", 100_000)},
	{"SQLQuote", "' OR '1'='1"},
	{"Percent", "%"},
	{"Underscore", "_"},
}

// testOddIDs checks that every operation taking an id answers "not found"
// for odd ids, and that the store still works afterwards.
func testOddIDs(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	m := NewMeeting(alice, 1)
	mustCreate(t, s, clone(m))
	for _, tt := range oddIDs {
		t.Run(tt.name, func(t *testing.T) {
			checkNotFound(t, s, alice, tt.id)
			if _, err := s.Update(ctx, alice, tt.id, func(*store.Meeting) error { return nil }); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Update(%q) = %v, want ErrNotFound", abbrev([]byte(tt.id)), err)
			}
			if err := s.Delete(ctx, alice, tt.id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Delete(%q) = %v, want ErrNotFound", abbrev([]byte(tt.id)), err)
			}
			if tt.id == "" {
				return // an empty Lookup is a different error
			}
			for _, q := range []store.Lookup{{ID: tt.id}, {JoinWebURL: tt.id}, {JoinMeetingID: tt.id}} {
				got, err := s.Find(ctx, alice, q)
				if err != nil || len(got) != 0 {
					t.Errorf("Find(%q) = %d meetings, %v; want none, nil", abbrev([]byte(tt.id)), len(got), err)
				}
			}
		})
	}
	checkStored(t, s, m)
}

func testKey(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	names := []string{"paging", "other", "", "会議", "PAGING", "paging ", "pag%"}
	keys := make(map[string][]byte)
	for _, name := range names {
		k, err := s.Key(ctx, name)
		if err != nil {
			t.Fatalf("Key(%q) = %v, want nil", name, err)
		}
		if len(k) != 32 {
			t.Errorf("Key(%q) has %d bytes, want 32", name, len(k))
		}
		if bytes.Equal(k, make([]byte, 32)) {
			t.Errorf("Key(%q) is all zeros", name)
		}
		for other, ok := range keys {
			if bytes.Equal(k, ok) {
				t.Errorf("Key(%q) = Key(%q), want different keys", name, other)
			}
		}
		keys[name] = bytes.Clone(k)
		k[0] ^= 0xff // the caller's copy
	}
	for _, name := range names {
		k, err := s.Key(ctx, name)
		if err != nil || !bytes.Equal(k, keys[name]) {
			t.Errorf("second Key(%q) = %x, %v; want the first key %x", name, k, err, keys[name])
		}
	}
	// Meetings do not disturb keys, nor keys meetings.
	m := NewMeeting(alice, 1)
	mustCreate(t, s, clone(m))
	if k, err := s.Key(ctx, "paging"); err != nil || !bytes.Equal(k, keys["paging"]) {
		t.Errorf("Key after Create = %x, %v; want %x", k, err, keys["paging"])
	}
	checkStored(t, s, m)
}

// testKeyConcurrent races the first Key calls for one name: all get the
// same key.
func testKeyConcurrent(t *testing.T, open func(t *testing.T) store.Store) {
	const goroutines = 32
	s := open(t)
	keys := make([][]byte, goroutines)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			<-start
			k, err := s.Key(t.Context(), fmt.Sprint("name-", g%2))
			if err != nil {
				t.Errorf("Key = %v, want nil", err)
			}
			keys[g] = k
		})
	}
	close(start)
	wg.Wait()
	for g := 2; g < goroutines; g++ {
		if !bytes.Equal(keys[g], keys[g%2]) {
			t.Errorf("concurrent first Key calls returned different keys: %x, %x", keys[g], keys[g%2])
		}
	}
	if bytes.Equal(keys[0], keys[1]) {
		t.Errorf("two names share key %x", keys[0])
	}
}

// testCanceledContext checks the writes with a context already canceled, as
// testCreateCanceledContext does for Create: the store may refuse or do the
// work, but an error must mean nothing changed and nil that it did.
func testCanceledContext(t *testing.T, open func(t *testing.T) store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	t.Run("CreateOrGet", func(t *testing.T) {
		s := open(t)
		m := newMeetingWithKey(alice, 1, "key")
		if _, created, err := s.CreateOrGet(ctx, clone(m), store.Quota{}); err != nil {
			checkNotFound(t, s, alice, m.ID)
			createOrGet(t, s, m, true)
		} else if !created {
			t.Errorf("CreateOrGet(canceled, new key) = created false, nil; want created")
		}
		checkStored(t, s, m)
	})
	t.Run("Update", func(t *testing.T) {
		s := open(t)
		m := NewMeeting(alice, 1)
		mustCreate(t, s, clone(m))
		if _, err := s.Update(ctx, alice, m.ID, func(u *store.Meeting) error {
			u.Resource = []byte(`{"changed":true}`)
			return nil
		}); err == nil {
			m.Resource = []byte(`{"changed":true}`)
		}
		checkStored(t, s, m)
	})
	t.Run("Delete", func(t *testing.T) {
		s := open(t)
		m := NewMeeting(alice, 1)
		mustCreate(t, s, clone(m))
		if err := s.Delete(ctx, alice, m.ID); err != nil {
			checkStored(t, s, m)
		} else {
			checkNotFound(t, s, alice, m.ID)
		}
	})
	t.Run("Key", func(t *testing.T) {
		s := open(t)
		k, err := s.Key(ctx, "name")
		k2, err2 := s.Key(t.Context(), "name")
		if err2 != nil || len(k2) != 32 || (err == nil && !bytes.Equal(k, k2)) {
			t.Errorf("Key(canceled) = %x, %v, then Key = %x, %v; want one key", k, err, k2, err2)
		}
	})
}

// testReturnsCopies checks that meetings returned by every method, and the
// function argument of Update, are copies: changing them, even after the
// call, changes nothing stored.
func testReturnsCopies(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	m := newMeetingWithKey(alice, 1, "key")
	m.Attendees = []store.Owner{bob}
	want := clone(m)
	created := createOrGet(t, s, m, true)
	m.Attendees[0], m.Resource[0] = carol, 'X'
	scribble := func(got ...*store.Meeting) {
		for _, g := range got {
			g.Resource[0] = 'Z'
			if len(g.Attendees) > 0 {
				g.Attendees[0] = carol
			}
			g.Attendees = append(g.Attendees, carol)
			g.ExternalID = "changed"
		}
	}
	scribble(created)
	existing := createOrGet(t, s, newMeetingWithKey(alice, 2, "key"), false)
	scribble(existing)
	got, err := s.Get(ctx, alice, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	scribble(got)
	found, err := s.Find(ctx, bob, store.Lookup{ID: m.ID})
	if err != nil || len(found) != 1 {
		t.Fatalf("Find = %d, %v", len(found), err)
	}
	scribble(found...)
	listed, err := s.List(ctx, alice, store.Page{Limit: 10})
	if err != nil || len(listed) != 1 {
		t.Fatalf("List = %d, %v", len(listed), err)
	}
	scribble(listed...)
	var kept *store.Meeting
	updated := mustUpdate(t, s, alice, m.ID, func(u *store.Meeting) error {
		kept = u
		u.Resource = bytes.Clone(u.Resource)
		return nil
	})
	scribble(updated, kept)
	checkStored(t, s, want)
}
