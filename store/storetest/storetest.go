// Package storetest is the conformance suite for store.Store. Every
// implementation's tests call Run, so the handlers can rely on the same
// behaviour whichever store is configured, and a behaviour the suite checks
// is one the contract in package store promises.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/onlinemeetings/onlinemeetings/store"
)

// Owners used by the suite: alice, bob and carol are users of one tenant;
// aliceElsewhere and bobElsewhere have alice's and bob's object ids in
// another tenant, which must not give them access to alice's or bob's
// meetings.
var (
	alice          = store.Owner{TenantID: "7c3f1e52-5d0b-4c8e-9a51-0f1c2d3e4a5b", UserID: "a1111111-1111-4111-8111-111111111111"}
	bob            = store.Owner{TenantID: alice.TenantID, UserID: "b2222222-2222-4222-8222-222222222222"}
	carol          = store.Owner{TenantID: alice.TenantID, UserID: "c3333333-3333-4333-8333-333333333333"}
	aliceElsewhere = store.Owner{TenantID: "e9d8c7b6-a5f4-4e3d-8c2b-1a0f9e8d7c6b", UserID: alice.UserID}
	bobElsewhere   = store.Owner{TenantID: aliceElsewhere.TenantID, UserID: bob.UserID}
)

// Run runs the conformance suite against the stores open returns.
//
// open is called once per subtest and must return a new, empty store that
// the subtest owns; it should register the store's Close with t.Cleanup.
// Some subtests close the store themselves, so that cleanup must ignore the
// ErrClosed a second Close returns.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, open func(t *testing.T) store.Store)
	}{
		{"CreateGet", testCreateGet},
		{"GetNotFound", testGetNotFound},
		{"Copies", testCopies},
		{"CreateIDTaken", testCreateIDTaken},
		{"CreateJoinMeetingIDTaken", testCreateJoinMeetingIDTaken},
		{"CreateBothTaken", testCreateBothTaken},
		{"JoinWebURLNotUnique", testJoinWebURLNotUnique},
		{"ExternalID", testExternalID},
		{"CreateCanceledContext", testCreateCanceledContext},
		{"ConcurrentCreates", testConcurrentCreates},
		{"ConcurrentJoinMeetingIDCollisions", testConcurrentCollisions},
		{"CreateOrGet", testCreateOrGet},
		{"CreateOrGetConcurrent", testCreateOrGetConcurrent},
		{"CreateOrGetConcurrentDelete", testCreateOrGetConcurrentDelete},
		{"Find", testFind},
		{"FindExact", testFindExact},
		{"FindOrder", testFindOrder},
		{"FindBadLookup", testFindBadLookup},
		{"List", testList},
		{"ListPaging", testListPaging},
		{"ListChangesBetweenPages", testListChangesBetweenPages},
		{"ListBadLimit", testListBadLimit},
		{"Update", testUpdate},
		{"UpdateImmutable", testUpdateImmutable},
		{"UpdateConcurrent", testUpdateConcurrent},
		{"UpdateConcurrentDelete", testUpdateConcurrentDelete},
		{"Delete", testDelete},
		{"DeleteConcurrent", testDeleteConcurrent},
		{"OddIDs", testOddIDs},
		{"Key", testKey},
		{"KeyConcurrent", testKeyConcurrent},
		{"CanceledContext", testCanceledContext},
		{"ReturnsCopies", testReturnsCopies},
		{"QuotaCounts", testQuotaCounts},
		{"QuotaLimit", testQuotaLimit},
		{"QuotaMonths", testQuotaMonths},
		{"QuotaOwners", testQuotaOwners},
		{"QuotaConcurrent", testQuotaConcurrent},
		{"QuotaCreateOrGetConcurrent", testQuotaCreateOrGetConcurrent},
		{"Ping", testPing},
		{"Closed", testClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, open) })
	}
}

// clone returns a deep copy of m, so a test keeps what it stored even if
// the store (wrongly) changed the caller's value.
func clone(m *store.Meeting) *store.Meeting {
	c := *m
	c.Resource = bytes.Clone(m.Resource)
	c.Attendees = slices.Clone(m.Attendees)
	return &c
}

// stored returns m as the store returns it: a deep copy with Attendees nil
// when empty (the contract makes nil and empty the same).
func stored(m *store.Meeting) *store.Meeting {
	c := clone(m)
	if len(c.Attendees) == 0 {
		c.Attendees = nil
	}
	return c
}

// mustCreate stores m and fails the test if that does not succeed.
func mustCreate(t *testing.T, s store.Store, m *store.Meeting) {
	t.Helper()
	if err := s.Create(t.Context(), m, store.Quota{}); err != nil {
		t.Fatalf("Create(%q) = %v, want nil", m.ID, err)
	}
}

// checkStored fails the test unless owner's meeting want.ID reads back
// exactly as want (empty Attendees as nil), with CreationDateTime in UTC.
func checkStored(t *testing.T, s store.Store, want *store.Meeting) {
	t.Helper()
	got, err := s.Get(t.Context(), want.Owner, want.ID)
	if err != nil {
		t.Errorf("Get(%+v, %q) = %v, want nil", want.Owner, want.ID, err)
		return
	}
	checkMeeting(t, fmt.Sprintf("Get(%+v, %q)", want.Owner, want.ID), want, got)
}

// checkMeeting fails the test unless got, which call returned, is want as
// the store returns it: empty Attendees as nil, CreationDateTime in UTC.
func checkMeeting(t *testing.T, call string, want, got *store.Meeting) {
	t.Helper()
	if got == nil {
		t.Errorf("%s = nil meeting, want %q", call, want.ID)
		return
	}
	if diff := cmp.Diff(stored(want), got, ignoreResource); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", call, diff)
	}
	if got.Attendees != nil && len(got.Attendees) == 0 {
		t.Errorf("%s.Attendees = empty, non-nil slice; want nil", call)
	}
	if !bytes.Equal(want.Resource, got.Resource) {
		t.Errorf("%s.Resource = %s, want %s", call, abbrev(got.Resource), abbrev(want.Resource))
	}
	// cmp compares times with Time.Equal, which ignores the location.
	if loc := got.CreationDateTime.Location(); loc != time.UTC {
		t.Errorf("%s.CreationDateTime location = %v, want UTC", call, loc)
	}
}

// ignoreResource leaves Resource to bytes.Equal: cmp walks a []byte one
// element at a time, which takes seconds for a megabyte under -race.
var ignoreResource = cmpopts.IgnoreFields(store.Meeting{}, "Resource")

// abbrev quotes b, cut short when long, for failure messages.
func abbrev(b []byte) string {
	const limit = 64
	if len(b) <= limit {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%q... (%d bytes)", b[:limit], len(b))
}

// checkNotFound fails the test unless Get(owner, id) returns ErrNotFound.
func checkNotFound(t *testing.T, s store.Store, owner store.Owner, id string) {
	t.Helper()
	got, err := s.Get(t.Context(), owner, id)
	switch {
	case got != nil:
		t.Errorf("Get(%+v, %q) = meeting %q of %+v, %v; want ErrNotFound", owner, id, got.ID, got.Owner, err)
	case !errors.Is(err, store.ErrNotFound):
		t.Errorf("Get(%+v, %q) = %v, want ErrNotFound", owner, id, err)
	}
}

func testCreateGet(t *testing.T, open func(t *testing.T) store.Store) {
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	tests := []struct {
		name   string
		change func(m *store.Meeting)
	}{
		{"Plain", func(m *store.Meeting) {}},
		{"ExternalID", func(m *store.Meeting) { m.ExternalID = "7eb8263f-d0e0-4149-bb1c-1f0476083c56" }},
		{"BinaryResource", func(m *store.Meeting) { m.Resource = []byte("\x00{\"a\":1}\xff\xfe\x00\n\r\t\x80") }},
		{"LargeResource", func(m *store.Meeting) { m.Resource = big }},
		{"Unicode", func(m *store.Meeting) {
			m.ID += "-会議-ünïcødé-🙂"
			m.ExternalID = "外部-ключ-🔑"
			m.JoinWebURL += "&s=会議"
		}},
		{"LongExternalID", func(m *store.Meeting) { m.ExternalID = longExternalID('🙂') }},
		{"SQLText", func(m *store.Meeting) {
			m.ID = "x'); DROP TABLE meetings; --" + m.ID
			m.ExternalID = `' OR '1'='1" --`
		}},
		{"EpochPlus100ns", func(m *store.Meeting) { m.CreationDateTime = time.Unix(0, 100).UTC() }},
		{"Year2199", func(m *store.Meeting) {
			m.CreationDateTime = time.Date(2199, time.December, 31, 23, 59, 59, 999999900, time.UTC)
		}},
		{"NotUTC", func(m *store.Meeting) {
			m.CreationDateTime = m.CreationDateTime.In(time.FixedZone("UTC+5:30", 5*3600+1800))
		}},
		{"Attendees", func(m *store.Meeting) { m.Attendees = []store.Owner{carol, bobElsewhere, bob} }},
		{"EmptyAttendees", func(m *store.Meeting) { m.Attendees = []store.Owner{} }},
		{"OddAttendees", func(m *store.Meeting) {
			m.Attendees = []store.Owner{{}, {TenantID: "t,u;v", UserID: `"],["x` + "\n"}, {TenantID: "会議", UserID: "🙂"}, bob, bob}
		}},
		{"EmptyResource", func(m *store.Meeting) { m.Resource = []byte{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			m := NewMeeting(alice, 1)
			tt.change(m)
			want := clone(m)
			mustCreate(t, s, m)
			if diff := cmp.Diff(want, m, ignoreResource); diff != "" {
				t.Errorf("Create changed its argument (-want +got):\n%s", diff)
			}
			if !bytes.Equal(want.Resource, m.Resource) {
				t.Errorf("Create changed its argument's Resource to %s", abbrev(m.Resource))
			}
			checkStored(t, s, want)
			checkStored(t, s, want) // a second read sees the same
		})
	}
}

func testGetNotFound(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	m := NewMeeting(alice, 1)
	mustCreate(t, s, m)
	tests := []struct {
		name  string
		owner store.Owner
		id    string
	}{
		{"OtherUser", bob, m.ID},
		{"OtherTenantSameUser", aliceElsewhere, m.ID},
		{"EmptyOwner", store.Owner{}, m.ID},
		{"SwappedOwner", store.Owner{TenantID: alice.UserID, UserID: alice.TenantID}, m.ID},
		{"UnknownID", alice, "MSpdoesnotexist"},
		{"EmptyID", alice, ""},
		{"IDPrefix", alice, m.ID[:len(m.ID)-1]},
		{"IDUpperCase", alice, strings.ToUpper(m.ID)},
		{"IDWithNUL", alice, m.ID + "\x00"},
		{"NULOnly", alice, "\x00"},
		{"NULInside", alice, "MSp\x00abc"},
		{"Long", alice, strings.Repeat("a", 600)},
		{"Unicode", alice, "会議-ünïcødé-🙂"},
		{"InvalidUTF8", alice, "\xff\xfe\xfd"},
		{"SQLQuote", alice, "' OR '1'='1"},
		{"SQLComment", alice, m.ID + "' --"},
		{"SQLDrop", alice, "x'); DROP TABLE meetings; --"},
		{"LikeWildcard", alice, "%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkNotFound(t, s, tt.owner, tt.id)
		})
	}
	checkStored(t, s, m) // the odd ids did not harm the store
}

// testCopies checks that callers cannot change stored state through the
// meetings they pass to Create or get back from Get.
func testCopies(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	m := NewMeeting(alice, 1)
	want := clone(m)
	mustCreate(t, s, m)

	m.Resource[0] = 'X'
	m.JoinWebURL = "changed"
	got, err := s.Get(t.Context(), alice, want.ID)
	if err != nil {
		t.Fatalf("Get(%q) = %v, want nil", want.ID, err)
	}
	got.Resource[0] = 'Y'
	got.ExternalID = "changed"
	checkStored(t, s, want)
}

func testCreateIDTaken(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name  string
		owner store.Owner
	}{
		{"SameOwner", alice},
		{"OtherUser", bob},
		{"OtherTenant", aliceElsewhere},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			orig := NewMeeting(alice, 1)
			mustCreate(t, s, clone(orig))

			dup := NewMeeting(tt.owner, 2)
			dup.ID = orig.ID
			if err := s.Create(t.Context(), dup, store.Quota{}); !errors.Is(err, store.ErrIDTaken) {
				t.Fatalf("Create(meeting with existing ID) = %v, want ErrIDTaken", err)
			}
			checkStored(t, s, orig)
			if tt.owner != alice {
				checkNotFound(t, s, tt.owner, orig.ID)
			}
			// Nothing of dup was stored: its join meeting id and URL are free.
			free := NewMeeting(tt.owner, 3)
			free.JoinMeetingID, free.JoinWebURL = dup.JoinMeetingID, dup.JoinWebURL
			mustCreate(t, s, clone(free))
			checkStored(t, s, free)
		})
	}
}

func testCreateJoinMeetingIDTaken(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name  string
		owner store.Owner
	}{
		{"SameOwner", alice},
		{"OtherUser", bob},
		{"OtherTenant", aliceElsewhere},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			orig := NewMeeting(alice, 1)
			mustCreate(t, s, clone(orig))

			dup := NewMeeting(tt.owner, 2)
			dup.JoinMeetingID = orig.JoinMeetingID
			if err := s.Create(t.Context(), dup, store.Quota{}); !errors.Is(err, store.ErrJoinMeetingIDTaken) {
				t.Fatalf("Create(meeting with existing JoinMeetingID) = %v, want ErrJoinMeetingIDTaken", err)
			}
			checkNotFound(t, s, tt.owner, dup.ID)
			checkStored(t, s, orig)

			// The caller draws a new join meeting id and retries; that works
			// because nothing of the first attempt was stored.
			retry := NewMeeting(tt.owner, 3)
			dup.JoinMeetingID = retry.JoinMeetingID
			mustCreate(t, s, clone(dup))
			checkStored(t, s, dup)
		})
	}
}

func testCreateBothTaken(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	orig := NewMeeting(alice, 1)
	mustCreate(t, s, clone(orig))

	dup := NewMeeting(alice, 2)
	dup.ID, dup.JoinMeetingID = orig.ID, orig.JoinMeetingID
	err := s.Create(t.Context(), dup, store.Quota{})
	if !errors.Is(err, store.ErrIDTaken) && !errors.Is(err, store.ErrJoinMeetingIDTaken) {
		t.Fatalf("Create(meeting with existing ID and JoinMeetingID) = %v, want ErrIDTaken or ErrJoinMeetingIDTaken", err)
	}
	checkStored(t, s, orig)
}

// testJoinWebURLNotUnique checks that the store does not enforce
// JoinWebURL uniqueness (the handlers make it unique in practice): a second
// meeting with the same URL is stored, and Find returns every match the
// viewer may see.
func testJoinWebURLNotUnique(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	orig := NewMeeting(alice, 1)
	mustCreate(t, s, clone(orig))
	for i, owner := range []store.Owner{bob, alice} {
		dup := NewMeeting(owner, 2+i)
		dup.JoinWebURL = orig.JoinWebURL
		mustCreate(t, s, clone(dup))
		checkStored(t, s, dup)
	}
	checkStored(t, s, orig)
	got, err := s.Find(t.Context(), alice, store.Lookup{JoinWebURL: orig.JoinWebURL})
	if err != nil || len(got) != 2 {
		t.Errorf("Find(alice, JoinWebURL shared by 2 of hers and 1 of bob's) = %d meetings, %v; want 2, nil", len(got), err)
	}
}

// testExternalID checks the createOrGet key: unique per owner when set, and
// no constraint at all when empty (meetings made by create).
func testExternalID(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("EmptyRepeats", func(t *testing.T) {
		s := open(t)
		for i := range 3 {
			m := NewMeeting(alice, i)
			mustCreate(t, s, clone(m))
			checkStored(t, s, m)
		}
	})
	t.Run("SameKeyOtherOwners", func(t *testing.T) {
		s := open(t)
		for i, owner := range []store.Owner{alice, bob, aliceElsewhere} {
			m := NewMeeting(owner, i)
			m.ExternalID = "shared-key"
			mustCreate(t, s, clone(m))
			checkStored(t, s, m)
		}
	})
	t.Run("SameKeySameOwner", func(t *testing.T) {
		s := open(t)
		orig := NewMeeting(alice, 1)
		orig.ExternalID = "key"
		mustCreate(t, s, clone(orig))

		dup := NewMeeting(alice, 2)
		dup.ExternalID = orig.ExternalID
		if err := s.Create(t.Context(), dup, store.Quota{}); !errors.Is(err, store.ErrExternalIDTaken) {
			t.Fatalf("Create(meeting with owner's existing ExternalID) = %v, want ErrExternalIDTaken", err)
		}
		checkNotFound(t, s, alice, dup.ID)
		checkStored(t, s, orig)
	})
}

// testCreateCanceledContext checks what the contract allows for a caller
// that gave up before calling Create: the store may refuse or store the
// meeting, but an error must mean nothing was stored and nil must mean it
// was.
func testCreateCanceledContext(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	m := NewMeeting(alice, 1)
	if err := s.Create(ctx, clone(m), store.Quota{}); err != nil {
		checkNotFound(t, s, alice, m.ID)
		// The attempt left nothing behind, so the same meeting can be stored.
		mustCreate(t, s, clone(m))
	}
	checkStored(t, s, m)
}

// testConcurrentCreates checks that many simultaneous Creates all succeed
// (a shared write path such as group commit must not drop or fail any).
func testConcurrentCreates(t *testing.T, open func(t *testing.T) store.Store) {
	const goroutines, perGoroutine = 64, 4
	s := open(t)
	owners := []store.Owner{alice, bob, aliceElsewhere}
	meetings := make([][]*store.Meeting, goroutines)
	for g := range meetings {
		for i := range perGoroutine {
			meetings[g] = append(meetings[g], NewMeeting(owners[(g+i)%len(owners)], g*perGoroutine+i))
		}
	}

	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			<-start
			for _, m := range meetings[g] {
				if err := s.Create(t.Context(), clone(m), store.Quota{}); err != nil {
					t.Errorf("Create(%q) = %v, want nil", m.ID, err)
				}
			}
		})
	}
	close(start)
	wg.Wait()

	for _, ms := range meetings {
		for _, m := range ms {
			checkStored(t, s, m)
		}
	}
}

// testConcurrentCollisions runs one burst of simultaneous Creates in which
// some meetings reuse a stored JoinMeetingID and some pairs share a new one.
// Exactly the colliding ones must fail with ErrJoinMeetingIDTaken while
// every other Create succeeds: a store that commits several Creates
// together must not let one failure spill over to the rest.
func testConcurrentCollisions(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	var existing []*store.Meeting
	for i := range 8 {
		m := NewMeeting(bob, i)
		mustCreate(t, s, clone(m))
		existing = append(existing, m)
	}

	type attempt struct {
		m   *store.Meeting
		err error
	}
	var (
		fresh    []*attempt    // want nil
		clashing []*attempt    // reuse an existing JoinMeetingID: want ErrJoinMeetingIDTaken
		pairs    [][2]*attempt // share a new JoinMeetingID: want one nil, one ErrJoinMeetingIDTaken
		all      []*attempt
	)
	for i := range 48 {
		a := &attempt{m: NewMeeting(alice, 100+i)}
		switch i % 3 {
		case 0, 1:
			fresh = append(fresh, a)
		case 2:
			a.m.JoinMeetingID = existing[i%len(existing)].JoinMeetingID
			clashing = append(clashing, a)
		}
		all = append(all, a)
	}
	for i := range 16 {
		a, b := &attempt{m: NewMeeting(alice, 200+i)}, &attempt{m: NewMeeting(bob, 300+i)}
		b.m.JoinMeetingID = a.m.JoinMeetingID
		pairs = append(pairs, [2]*attempt{a, b})
		all = append(all, a, b)
	}

	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, a := range all {
		wg.Go(func() {
			<-start
			a.err = s.Create(t.Context(), clone(a.m), store.Quota{})
		})
	}
	close(start)
	wg.Wait()

	for _, a := range fresh {
		if a.err != nil {
			t.Errorf("Create(%q, fresh join meeting id) = %v, want nil", a.m.ID, a.err)
			continue
		}
		checkStored(t, s, a.m)
	}
	for _, a := range clashing {
		if !errors.Is(a.err, store.ErrJoinMeetingIDTaken) {
			t.Errorf("Create(%q, existing join meeting id) = %v, want ErrJoinMeetingIDTaken", a.m.ID, a.err)
		}
		checkNotFound(t, s, a.m.Owner, a.m.ID)
	}
	for _, p := range pairs {
		win, lose := p[0], p[1]
		if win.err != nil {
			win, lose = lose, win
		}
		if win.err != nil || !errors.Is(lose.err, store.ErrJoinMeetingIDTaken) {
			t.Errorf("Create of two meetings sharing join meeting id %s = %v, %v; want nil and ErrJoinMeetingIDTaken in either order",
				p[0].m.JoinMeetingID, p[0].err, p[1].err)
			continue
		}
		checkStored(t, s, win.m)
		checkNotFound(t, s, lose.m.Owner, lose.m.ID)
	}
	for _, m := range existing {
		checkStored(t, s, m)
	}
}

func testPing(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping() = %v, want nil", err)
	}
	mustCreate(t, s, NewMeeting(alice, 1))
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping() after Create = %v, want nil", err)
	}
}

func testClosed(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	m := NewMeeting(alice, 1)
	m.ExternalID = "existing"
	mustCreate(t, s, m)
	if _, err := s.Key(t.Context(), "existing"); err != nil {
		t.Fatalf("Key() = %v, want nil", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}

	ctx := t.Context()
	calls := []struct {
		name string
		call func() error
	}{
		{"Create", func() error { return s.Create(ctx, NewMeeting(alice, 2), store.Quota{}) }},
		{"Get", func() error { _, err := s.Get(ctx, alice, m.ID); return err }},
		{"GetUnknown", func() error { _, err := s.Get(ctx, alice, "MSpdoesnotexist"); return err }},
		{"CreateOrGetExisting", func() error {
			o := NewMeeting(alice, 3)
			o.ExternalID = m.ExternalID
			_, _, err := s.CreateOrGet(ctx, o, store.Quota{})
			return err
		}},
		{"CreateOrGetNew", func() error {
			o := NewMeeting(alice, 4)
			o.ExternalID = "new"
			_, _, err := s.CreateOrGet(ctx, o, store.Quota{})
			return err
		}},
		{"Find", func() error { _, err := s.Find(ctx, alice, store.Lookup{ID: m.ID}); return err }},
		{"List", func() error { _, err := s.List(ctx, alice, store.Page{Limit: 10}); return err }},
		{"Update", func() error {
			_, err := s.Update(ctx, alice, m.ID, func(*store.Meeting) error { return nil })
			return err
		}},
		{"UpdateUnknown", func() error {
			_, err := s.Update(ctx, alice, "MSpdoesnotexist", func(*store.Meeting) error { return nil })
			return err
		}},
		{"Delete", func() error { return s.Delete(ctx, alice, m.ID) }},
		{"DeleteUnknown", func() error { return s.Delete(ctx, alice, "MSpdoesnotexist") }},
		{"CreateUnderQuota", func() error { return s.Create(ctx, NewMeeting(alice, 5), store.Quota{PerMonth: 10}) }},
		{"Creations", func() error { _, err := s.Creations(ctx, alice, m.CreationDateTime); return err }},
		{"KeyExisting", func() error { _, err := s.Key(ctx, "existing"); return err }},
		{"KeyNew", func() error { _, err := s.Key(ctx, "new"); return err }},
		{"Ping", func() error { return s.Ping(ctx) }},
		{"Close", s.Close},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); !errors.Is(err, store.ErrClosed) {
				t.Errorf("%s after Close = %v, want ErrClosed", c.name, err)
			}
		})
	}
}
