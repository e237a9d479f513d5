package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinemeetings/onlinemeetings/store"
)

// lookups returns the three Lookups that select m, one per field.
func lookups(m *store.Meeting) []struct {
	name string
	q    store.Lookup
} {
	return []struct {
		name string
		q    store.Lookup
	}{
		{"ID", store.Lookup{ID: m.ID}},
		{"JoinWebURL", store.Lookup{JoinWebURL: m.JoinWebURL}},
		{"JoinMeetingID", store.Lookup{JoinMeetingID: m.JoinMeetingID}},
	}
}

// ids returns the IDs of ms, in order, for comparisons and messages.
func ids(ms []*store.Meeting) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// checkFind fails the test unless Find(viewer, q) returns exactly want, in
// order, as a non-nil slice.
func checkFind(t *testing.T, s store.Store, viewer store.Owner, q store.Lookup, want ...*store.Meeting) {
	t.Helper()
	got, err := s.Find(t.Context(), viewer, q)
	if err != nil {
		t.Errorf("Find(%+v, %+q) = %v, want nil", viewer, q, err)
		return
	}
	if got == nil {
		t.Errorf("Find(%+v, %+q) = nil slice, want an empty one", viewer, q)
	}
	if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
		t.Errorf("Find(%+v, %+q) IDs mismatch (-want +got):\n%s", viewer, q, diff)
		return
	}
	for i := range want {
		checkMeeting(t, fmt.Sprintf("Find(%+v, %+q)[%d]", viewer, q, i), want[i], got[i])
	}
}

// testFind checks who may find a meeting: its owner and the users listed in
// Attendees, by each of the three fields, and nobody else.
func testFind(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	m := NewMeeting(alice, 1)
	m.ExternalID = "find-me"
	// bob is invited; carol only in another tenant's form.
	m.Attendees = []store.Owner{bob, {TenantID: aliceElsewhere.TenantID, UserID: carol.UserID}}
	mustCreate(t, s, clone(m))
	other := NewMeeting(bob, 2) // bob's own, which alice is not invited to
	mustCreate(t, s, clone(other))

	tests := []struct {
		name   string
		viewer store.Owner
		sees   bool
	}{
		{"Owner", alice, true},
		{"Attendee", bob, true},
		{"AttendeeInOtherTenant", store.Owner{TenantID: aliceElsewhere.TenantID, UserID: carol.UserID}, true},
		{"OtherUser", carol, false},
		{"OwnerIDInOtherTenant", aliceElsewhere, false},
		{"AttendeeIDInOtherTenant", bobElsewhere, false},
		{"EmptyViewer", store.Owner{}, false},
		{"SwappedOwner", store.Owner{TenantID: alice.UserID, UserID: alice.TenantID}, false},
	}
	for _, tt := range tests {
		for _, l := range lookups(m) {
			t.Run(tt.name+"/"+l.name, func(t *testing.T) {
				if tt.sees {
					checkFind(t, s, tt.viewer, l.q, m)
				} else {
					checkFind(t, s, tt.viewer, l.q)
				}
			})
		}
	}
	t.Run("NotInvitedToOthers", func(t *testing.T) {
		for _, l := range lookups(other) {
			checkFind(t, s, alice, l.q)
			checkFind(t, s, bob, l.q, other)
		}
	})
	t.Run("Unknown", func(t *testing.T) {
		checkFind(t, s, alice, store.Lookup{ID: "MSpdoesnotexist"})
		checkFind(t, s, alice, store.Lookup{JoinWebURL: "https://teams.example.com/l/meetup-join/none"})
		checkFind(t, s, alice, store.Lookup{JoinMeetingID: "9999999999999"})
	})
	t.Run("AfterUpdate", func(t *testing.T) {
		// Updating Attendees changes who may find the meeting.
		got, err := s.Update(t.Context(), alice, m.ID, func(u *store.Meeting) error {
			u.Attendees = []store.Owner{carol}
			return nil
		})
		if err != nil {
			t.Fatalf("Update(Attendees) = %v, want nil", err)
		}
		for _, l := range lookups(m) {
			checkFind(t, s, carol, l.q, got)
			checkFind(t, s, bob, l.q)
			checkFind(t, s, alice, l.q, got)
		}
	})
}

// testFindExact checks that Find compares whole values byte for byte: no
// case folding, no prefix matching, and '%' and '_' are plain characters,
// not LIKE wildcards.
func testFindExact(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	m := NewMeeting(alice, 1)
	m.ID = "MSp_Wild%Card_" + m.ID
	m.JoinWebURL = "https://teams.example.com/l/meetup-join/19%3ameeting_Abc%40thread.v2/0?context=%7b%22Tid%22%7d&x=" + m.ID
	mustCreate(t, s, clone(m))
	// A meeting of alice's whose values match m's under LIKE or case
	// folding; Find of m's values must not return it, nor it m.
	lookalike := NewMeeting(alice, 2)
	lookalike.ID = strings.Replace(m.ID, "_", "x", 1)
	mustCreate(t, s, clone(lookalike))

	for _, l := range lookups(m) {
		checkFind(t, s, alice, l.q, m)
	}
	mutants := []struct {
		name string
		f    func(string) string
	}{
		{"Upper", strings.ToUpper},
		{"Lower", strings.ToLower},
		{"Prefix", func(v string) string { return v[:len(v)-1] }},
		{"PrefixPercent", func(v string) string { return v[:len(v)-1] + "%" }},
		{"AllPercent", func(string) string { return "%" }},
		{"Underscores", func(v string) string { return v[:len(v)-1] + "_" }},
		{"UnderscoreForChar", func(v string) string { return "_" + v[1:] }},
		{"LeadingSpace", func(v string) string { return " " + v }},
		{"TrailingSpace", func(v string) string { return v + " " }},
		{"TrailingNUL", func(v string) string { return v + "\x00" }},
		{"Star", func(string) string { return "*" }},
	}
	for _, mu := range mutants {
		t.Run(mu.name, func(t *testing.T) {
			for _, q := range []store.Lookup{
				{ID: mu.f(m.ID)},
				{JoinWebURL: mu.f(m.JoinWebURL)},
				{JoinMeetingID: mu.f(m.JoinMeetingID)},
			} {
				var want []*store.Meeting
				if q == (store.Lookup{ID: lookalike.ID}) {
					want = append(want, lookalike)
				}
				if q.ID == m.ID || q.JoinWebURL == m.JoinWebURL || q.JoinMeetingID == m.JoinMeetingID {
					continue // the mutant did not change the value
				}
				checkFind(t, s, alice, q, want...)
			}
		})
	}
	// '_' matches any one character under LIKE, so this would find m.
	checkFind(t, s, alice, store.Lookup{ID: strings.ReplaceAll(m.ID, "W", "_")})
}

// testFindOrder checks that Find returns every match newest first, as
// List orders them, ties broken by ID descending in byte order.
func testFindOrder(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	url := NewMeeting(alice, 0).JoinWebURL
	tie := baseTime.Add(time.Hour)
	var ms []*store.Meeting
	for i, c := range []struct {
		id string
		at time.Time
	}{
		{"MSp-b", tie}, {"MSp-B", tie}, {"MSp-a", tie}, {"MSp-é", tie},
		{"MSp-old", baseTime}, {"MSp-new", tie.Add(time.Nanosecond * 100)},
	} {
		m := NewMeeting(alice, i)
		m.ID, m.JoinWebURL, m.CreationDateTime = c.id, url, c.at
		if i%2 == 1 {
			m.Owner, m.Attendees = carol, []store.Owner{alice} // found as an attendee
		}
		mustCreate(t, s, clone(m))
		ms = append(ms, m)
	}
	want := slices.Clone(ms)
	slices.SortFunc(want, newestFirst)
	checkFind(t, s, alice, store.Lookup{JoinWebURL: url}, want...)
}

// newestFirst is the contract's order: CreationDateTime descending, then
// ID descending in byte order.
func newestFirst(a, b *store.Meeting) int {
	if c := b.CreationDateTime.Compare(a.CreationDateTime); c != 0 {
		return c
	}
	return strings.Compare(b.ID, a.ID)
}

// testFindBadLookup checks that a Lookup that does not set exactly one
// field is refused rather than answered.
func testFindBadLookup(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	m := NewMeeting(alice, 1)
	mustCreate(t, s, clone(m))
	for _, q := range []store.Lookup{
		{},
		{ID: m.ID, JoinWebURL: m.JoinWebURL},
		{ID: m.ID, JoinMeetingID: m.JoinMeetingID},
		{JoinWebURL: m.JoinWebURL, JoinMeetingID: m.JoinMeetingID},
		{ID: m.ID, JoinWebURL: m.JoinWebURL, JoinMeetingID: m.JoinMeetingID},
	} {
		if got, err := s.Find(t.Context(), alice, q); err == nil {
			t.Errorf("Find(%+q) = %d meetings, nil; want an error", q, len(got))
		}
	}
}

// listAll pages through owner's meetings limit at a time and returns them
// all, failing the test if paging does not end.
func listAll(t *testing.T, s store.Store, owner store.Owner, limit int) []*store.Meeting {
	t.Helper()
	var all []*store.Meeting
	p := store.Page{Limit: limit}
	for range 10000 {
		page, err := s.List(t.Context(), owner, p)
		if err != nil {
			t.Fatalf("List(%+v, %+v) = %v, want nil", owner, p, err)
		}
		if len(page) > limit {
			t.Fatalf("List(limit %d) returned %d meetings", limit, len(page))
		}
		all = append(all, page...)
		if len(page) < limit {
			return all
		}
		last := page[len(page)-1]
		p.After = &store.Cursor{CreationDateTime: last.CreationDateTime, ID: last.ID}
	}
	t.Fatal("List never returned a short page")
	return nil
}

// createMany stores n meetings of owner, several sharing each
// CreationDateTime (so paging must break ties by ID), in random order, and
// returns them newest first.
func createMany(t *testing.T, s store.Store, owner store.Owner, n int) []*store.Meeting {
	t.Helper()
	ms := make([]*store.Meeting, n)
	for i := range ms {
		m := NewMeeting(owner, i)
		m.CreationDateTime = baseTime.Add(time.Duration(i/3) * time.Second)
		switch i % 4 { // IDs that sort differently by bytes than by case or collation
		case 1:
			m.ID = "a" + m.ID
		case 2:
			m.ID = "B" + m.ID
		case 3:
			m.ID = "é" + m.ID
		}
		ms[i] = m
	}
	rand.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
	for _, m := range ms {
		mustCreate(t, s, clone(m))
	}
	slices.SortFunc(ms, newestFirst)
	return ms
}

// testList checks List's order and that it returns only the owner's
// meetings.
func testList(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	want := createMany(t, s, alice, 40)
	// Others' meetings, one inviting alice: List shows only her own.
	for _, o := range []store.Owner{bob, aliceElsewhere, carol} {
		m := NewMeeting(o, 0)
		m.Attendees = []store.Owner{alice}
		mustCreate(t, s, m)
	}
	got, err := s.List(t.Context(), alice, store.Page{Limit: 1000})
	if err != nil {
		t.Fatalf("List(alice) = %v, want nil", err)
	}
	if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
		t.Fatalf("List(alice) IDs mismatch (-want +got):\n%s", diff)
	}
	for i := range want {
		checkMeeting(t, fmt.Sprintf("List(alice)[%d]", i), want[i], got[i])
	}
	for _, o := range []store.Owner{bob, aliceElsewhere, carol} {
		if got := listAll(t, s, o, 10); len(got) != 1 || got[0].Owner != o {
			t.Errorf("List(%+v) = %q, want its one meeting", o, ids(got))
		}
	}
	if got := listAll(t, s, bobElsewhere, 10); len(got) != 0 {
		t.Errorf("List(owner without meetings) = %q, want none", ids(got))
	}
}

// testListPaging pages through meetings with various limits, including
// pages that end inside a run of equal CreationDateTimes, and with cursors
// that are not any meeting's position.
func testListPaging(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	want := createMany(t, s, alice, 50)
	for _, limit := range []int{1, 2, 3, 7, 49, 50, 51, 1000} {
		t.Run(fmt.Sprint("Limit", limit), func(t *testing.T) {
			got := listAll(t, s, alice, limit)
			if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
				t.Errorf("paging by %d: IDs mismatch (-want +got):\n%s", limit, diff)
			}
		})
	}
	cursors := []struct {
		name  string
		after store.Cursor
		want  []*store.Meeting
	}{
		{"BeforeAll", store.Cursor{CreationDateTime: want[0].CreationDateTime.Add(time.Hour)}, want},
		{"AfterAll", store.Cursor{CreationDateTime: want[len(want)-1].CreationDateTime.Add(-time.Nanosecond * 100)}, nil},
		{"SameTimeEmptyID", store.Cursor{CreationDateTime: want[0].CreationDateTime}, nil},
		{"SameTimeHighID", store.Cursor{CreationDateTime: want[3].CreationDateTime, ID: "\U0010FFFF"}, nil},
		{"BetweenTimes", store.Cursor{CreationDateTime: want[3].CreationDateTime.Add(-time.Millisecond), ID: "zzz"}, nil},
		{"NotUTC", store.Cursor{CreationDateTime: want[5].CreationDateTime.In(time.FixedZone("X", -7*3600)), ID: want[5].ID}, want[6:]},
		{"Year1", store.Cursor{CreationDateTime: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), ID: "x"}, nil},
		{"Year9999", store.Cursor{CreationDateTime: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), ID: "x"}, want},
	}
	for i := range cursors {
		c := &cursors[i]
		if c.want == nil {
			for _, m := range want {
				if newestFirst(m, &store.Meeting{ID: c.after.ID, CreationDateTime: c.after.CreationDateTime}) > 0 {
					c.want = append(c.want, m)
				}
			}
		}
	}
	for _, c := range cursors {
		t.Run("After"+c.name, func(t *testing.T) {
			got, err := s.List(t.Context(), alice, store.Page{Limit: 1000, After: &c.after})
			if err != nil {
				t.Fatalf("List(after %+v) = %v, want nil", c.after, err)
			}
			if diff := cmp.Diff(ids(c.want), ids(got)); diff != "" {
				t.Errorf("List(after %+v) IDs mismatch (-want +got):\n%s", c.after, diff)
			}
		})
	}
}

// testListChangesBetweenPages creates and deletes meetings between pages:
// every meeting not touched is listed exactly once; a deleted one is listed
// once if its page came before the delete, else never; a new one is
// listed once if it sorts after the cursor, else never.
func testListChangesBetweenPages(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ms := createMany(t, s, alice, 30)
	ctx := t.Context()

	const limit = 4
	seen := make(map[string]int)
	want := make(map[string]int) // how often each meeting must be listed
	for _, m := range ms {
		want[m.ID] = 1
	}
	p := store.Page{Limit: limit}
	for page := 0; ; page++ {
		got, err := s.List(ctx, alice, p)
		if err != nil {
			t.Fatalf("page %d: List = %v", page, err)
		}
		for _, m := range got {
			seen[m.ID]++
		}
		if len(got) < limit {
			break
		}
		last := got[len(got)-1]
		p.After = &store.Cursor{CreationDateTime: last.CreationDateTime, ID: last.ID}

		// Delete the meeting listed last and one still to come.
		pos := slices.IndexFunc(ms, func(m *store.Meeting) bool { return m.ID == last.ID })
		for _, victim := range []int{pos, pos + 2} {
			if victim < 0 || victim >= len(ms) {
				continue
			}
			if err := s.Delete(ctx, alice, ms[victim].ID); errors.Is(err, store.ErrNotFound) {
				continue // deleted on an earlier page
			} else if err != nil {
				t.Fatalf("Delete = %v", err)
			}
			want[ms[victim].ID] = seen[ms[victim].ID]
		}
		// Create meetings at the cursor's time on both sides of its ID,
		// one newer than anything, and one older than anything, even
		// those created for earlier pages. IDs end in hex digits, above
		// '-'.
		for i, c := range []struct {
			at     time.Time
			id     string
			listed int
		}{
			{last.CreationDateTime, last.ID + "+", 0},
			{last.CreationDateTime, last.ID[:len(last.ID)-1], 1},
			{ms[0].CreationDateTime.Add(time.Hour), "new", 0},
			{ms[len(ms)-1].CreationDateTime.Add(-time.Hour - time.Duration(page)*time.Second), "old", 1},
		} {
			m := NewMeeting(alice, 1000+page*10+i)
			m.ID, m.CreationDateTime = fmt.Sprint(c.id, "-", page, "-", m.ID), c.at
			mustCreate(t, s, clone(m))
			want[m.ID] = c.listed
		}
	}
	for id, n := range want {
		if seen[id] != n {
			t.Errorf("meeting %q listed %d times, want %d", id, seen[id], n)
		}
	}
	for id, n := range seen {
		if _, ok := want[id]; !ok {
			t.Errorf("unknown meeting %q listed %d times", id, n)
		}
	}
}

// testListBadLimit checks that List refuses a limit outside 1..1000.
func testListBadLimit(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	mustCreate(t, s, NewMeeting(alice, 1))
	for _, limit := range []int{0, -1, 1001} {
		if got, err := s.List(t.Context(), alice, store.Page{Limit: limit}); err == nil {
			t.Errorf("List(Limit %d) = %d meetings, nil; want an error", limit, len(got))
		}
	}
	for _, limit := range []int{1, 1000} {
		if got, err := s.List(t.Context(), alice, store.Page{Limit: limit}); err != nil || len(got) != 1 {
			t.Errorf("List(Limit %d) = %d meetings, %v; want 1, nil", limit, len(got), err)
		}
	}
}

// errFn is the error testUpdate's functions return, to check Update returns
// it as is.
var errFn = errors.New("storetest: update function failed")
