package sqlite

import (
	"bytes"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/onlinemeetings/onlinemeetings/store"
	"github.com/onlinemeetings/onlinemeetings/store/storetest"
)

// runBatch hands reqs to the writer as one batch, bypassing the queue, and
// returns each request's error.
func runBatch(s *Store, reqs ...*writeReq) []error {
	for _, r := range reqs {
		r.done = make(chan error, 1)
		r.state.Store(reqTaken)
	}
	s.commit(reqs)
	errs := make([]error, len(reqs))
	for i, r := range reqs {
		errs[i] = <-r.done
	}
	return errs
}

// TestSavepointIsolation runs, in one batch, a request that writes twice
// and then fails: its savepoint must undo both writes while the requests
// around it are stored.
func TestSavepointIsolation(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	before, after := storetest.NewMeeting(owner, 1), storetest.NewMeeting(owner, 2)
	first, second := storetest.NewMeeting(owner, 3), storetest.NewMeeting(owner, 4)
	second.ID = before.ID // fails after first was inserted
	twice := &writeReq{op: "test", run: func(w *writeTx) error {
		if err := w.insert("test", first, encodeResource(first.Resource)); err != nil {
			return err
		}
		return w.insert("test", second, encodeResource(second.Resource))
	}}
	errs := runBatch(s, createReq(before, store.Quota{}), twice, createReq(after, store.Quota{}))
	if errs[0] != nil || !errors.Is(errs[1], store.ErrIDTaken) || errs[2] != nil {
		t.Fatalf("batch errors = %v, want nil, ErrIDTaken, nil", errs)
	}
	for _, m := range []*store.Meeting{before, after} {
		if _, err := s.Get(ctx, owner, m.ID); err != nil {
			t.Errorf("Get(%q) = %v, want nil", m.ID, err)
		}
	}
	if _, err := s.Get(ctx, owner, first.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(first write of the failed request) = %v, want ErrNotFound", err)
	}
}

// TestQuotaInBatch runs, in one batch, creations under a quota of 2 mixed
// with a failing one and another owner's: each refusal undoes only its own
// request (its savepoint), and the counts are exactly what was stored.
func TestQuotaInBatch(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	q := store.Quota{PerMonth: 2}
	other := store.Owner{TenantID: owner.TenantID, UserID: "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a"}
	ms := []*store.Meeting{
		storetest.NewMeeting(owner, 1), storetest.NewMeeting(owner, 2), storetest.NewMeeting(owner, 3),
		storetest.NewMeeting(owner, 4), storetest.NewMeeting(other, 5), storetest.NewMeeting(owner, 6),
	}
	ms[1].ID = ms[0].ID // taken: refused before the quota is looked at
	want := []error{nil, store.ErrIDTaken, nil, store.ErrQuotaExceeded, nil, store.ErrQuotaExceeded}
	reqs := make([]*writeReq, len(ms))
	for i, m := range ms {
		reqs[i] = createReq(m, q)
	}
	errs := runBatch(s, reqs...)
	for i, err := range errs {
		if want[i] == nil && err != nil || want[i] != nil && !errors.Is(err, want[i]) {
			t.Errorf("request %d: %v, want %v", i, err, want[i])
		}
	}
	for i, m := range ms {
		if i == 1 {
			continue // same id as ms[0]
		}
		_, err := s.Get(ctx, m.Owner, m.ID)
		if stored := err == nil; stored != (want[i] == nil) {
			t.Errorf("request %d: Get = %v, stored %v, want stored %v", i, err, stored, want[i] == nil)
		}
	}
	for _, c := range []struct {
		o    store.Owner
		want int
	}{{owner, 2}, {other, 1}} {
		if n, err := s.Creations(ctx, c.o, ms[0].CreationDateTime); err != nil || n != c.want {
			t.Errorf("Creations(%s) = %d, %v; want %d", c.o.UserID, n, err, c.want)
		}
	}
}

// TestUpdatePanics checks that a panic in an Update's function fails that
// Update only: the requests batched with it are stored and the writer
// goes on.
func TestUpdatePanics(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	m := storetest.NewMeeting(owner, 1)
	if err := s.Create(ctx, m, store.Quota{}); err != nil {
		t.Fatal(err)
	}
	a, b := storetest.NewMeeting(owner, 2), storetest.NewMeeting(owner, 3)
	update := func(fn func(*store.Meeting) error) *writeReq {
		return &writeReq{op: "update", run: func(w *writeTx) error {
			_, err := w.update(owner, m.ID, fn)
			return err
		}}
	}
	errs := runBatch(s, createReq(a, store.Quota{}),
		update(func(u *store.Meeting) error { u.Resource = []byte("lost"); panic("boom") }),
		createReq(b, store.Quota{}))
	if errs[0] != nil || errs[1] == nil || !strings.Contains(errs[1].Error(), "boom") || errs[2] != nil {
		t.Fatalf("batch errors = %v, want nil, the panic, nil", errs)
	}
	for _, id := range []string{a.ID, b.ID} {
		if _, err := s.Get(ctx, owner, id); err != nil {
			t.Errorf("Get(%q) = %v, want nil", id, err)
		}
	}
	if got, _ := s.Get(ctx, owner, m.ID); !bytes.Equal(got.Resource, m.Resource) {
		t.Errorf("Resource after the panicking Update = %q, want it unchanged", got.Resource)
	}

	// Through the queue too, and the writer still answers afterwards.
	if _, err := s.Update(ctx, owner, m.ID, func(*store.Meeting) error { panic(errors.New("boom")) }); err == nil {
		t.Error("Update(fn panics) = nil, want an error")
	}
	got, err := s.Update(ctx, owner, m.ID, func(u *store.Meeting) error { u.Resource = []byte("{}"); return nil })
	if err != nil || string(got.Resource) != "{}" {
		t.Errorf("Update after a panic = %v, %v; want it stored", got, err)
	}
}

// TestDurableAcrossReopen checks that what Update, Delete and Key commit is
// there after Close and Open, and that Key keeps its value.
func TestDurableAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meetings.db")
	ctx := t.Context()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	updated, deleted := storetest.NewMeeting(owner, 1), storetest.NewMeeting(owner, 2)
	for _, m := range []*store.Meeting{updated, deleted} {
		if err := s.Create(ctx, m, store.Quota{}); err != nil {
			t.Fatal(err)
		}
	}
	attendee := store.Owner{TenantID: "t", UserID: "attendee"}
	if _, err := s.Update(ctx, owner, updated.ID, func(m *store.Meeting) error {
		m.Resource, m.Attendees = []byte(`{"v":2}`), []store.Owner{attendee}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, owner, deleted.ID); err != nil {
		t.Fatal(err)
	}
	key, err := s.Key(ctx, "paging")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.Key(ctx, "paging"); err != nil || !bytes.Equal(got, key) {
		t.Errorf("Key after reopen = %x, %v; want %x", got, err, key)
	}
	got, err := s.Find(ctx, attendee, store.Lookup{JoinWebURL: updated.JoinWebURL})
	if err != nil || len(got) != 1 || string(got[0].Resource) != `{"v":2}` {
		t.Errorf("Find(attendee) after reopen = %v, %v; want the updated meeting", got, err)
	}
	if _, err := s.Get(ctx, owner, deleted.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(deleted) after reopen = %v, want ErrNotFound", err)
	}
}

// openAtVersion creates a database with only the first version migrations
// applied, for a test to fill before Open migrates the rest; the caller
// closes db.
func openAtVersion(t *testing.T, version int) (path string, db *sql.DB) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "meetings.db")
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	db, err = sql.Open("sqlite", dsn(path, false, busyTimeout, defaultCheckpointConfig.walSizeLimit))
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(t.Context(), db, ms[:version]); err != nil {
		t.Fatal(err)
	}
	return path, db
}

// TestMigrateFrom1 opens a database that has only migration 1 applied, with
// meetings in it, and checks they come through migration 2 intact: found by
// every field, the external id still unique per owner, the join web URL no
// longer unique.
func TestMigrateFrom1(t *testing.T) {
	ctx := t.Context()
	path, db := openAtVersion(t, 1)
	old := []*store.Meeting{storetest.NewMeeting(owner, 1), storetest.NewMeeting(owner, 2)}
	old[1].ExternalID = "key"
	for _, m := range old {
		var ext any
		if m.ExternalID != "" {
			ext = m.ExternalID
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO meetings
			(id, tenant_id, user_id, external_id, join_meeting_id, join_web_url, creation_date_time, resource)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, m.ID, m.Owner.TenantID, m.Owner.UserID, ext,
			m.JoinMeetingID, m.JoinWebURL, m.CreationDateTime.UnixNano(), m.Resource); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open(database at version 1) = %v", err)
	}
	defer s.Close()
	for _, m := range old {
		for _, q := range []store.Lookup{{ID: m.ID}, {JoinWebURL: m.JoinWebURL}, {JoinMeetingID: m.JoinMeetingID}} {
			got, err := s.Find(ctx, owner, q)
			if err != nil || len(got) != 1 || got[0].ID != m.ID || !bytes.Equal(got[0].Resource, m.Resource) ||
				!got[0].CreationDateTime.Equal(m.CreationDateTime) || got[0].ExternalID != m.ExternalID || got[0].Attendees != nil {
				t.Errorf("Find(%+q) after migration = %v, %v; want %q as it was", q, got, err, m.ID)
			}
		}
	}
	if page, err := s.List(ctx, owner, store.Page{Limit: 10}); err != nil || len(page) != 2 || page[0].ID != old[1].ID {
		t.Errorf("List after migration = %v, %v; want both, newest first", page, err)
	}
	dup := storetest.NewMeeting(owner, 3)
	dup.ExternalID = "key"
	if err := s.Create(ctx, dup, store.Quota{}); !errors.Is(err, store.ErrExternalIDTaken) {
		t.Errorf("Create(migrated meeting's external id) = %v, want ErrExternalIDTaken", err)
	}
	dup = storetest.NewMeeting(owner, 4)
	dup.JoinWebURL = old[0].JoinWebURL
	if err := s.Create(ctx, dup, store.Quota{}); err != nil {
		t.Errorf("Create(migrated meeting's join web url) = %v, want nil", err)
	}
	got, _, err := s.CreateOrGet(ctx, func() *store.Meeting { m := storetest.NewMeeting(owner, 5); m.ExternalID = "key"; return m }(), store.Quota{})
	if err != nil || got.ID != old[1].ID {
		t.Errorf("CreateOrGet(migrated key) = %v, %v; want the migrated meeting", got, err)
	}
}

// TestQueryPlans checks that every query is answered from an index: List
// by walking the owner index in its order (no temporary b-tree for the
// ORDER BY), the others by a search (creations by its primary key), never
// a scan of the table.
func TestQueryPlans(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	tests := []struct {
		name, query, index string
		args               []any
	}{
		{"Get", readSQL.get, "meetings_id", []any{"id", "t", "u"}},
		{"FindByID", readSQL.findByID, "meetings_id", []any{"id"}},
		{"FindByJoinID", readSQL.findByJoinID, "meetings_join_meeting_id", []any{"1"}},
		{"FindByURL", readSQL.findByURL, "meetings_join_web_url", []any{"u"}},
		{"List", readSQL.list, "meetings_owner_created", []any{"t", "u", 10}},
		{"ListAfter", readSQL.listAfter, "meetings_owner_created", []any{"t", "u", 1, "id", 10}},
		{"ByExternal", writeSQL.byExternal, "meetings_external_id", []any{"t", "u", "e"}},
		{"Delete", writeSQL.delete, "meetings_id", []any{"id", "t", "u"}},
		{"Update", writeSQL.update, "meetings_id", []any{nil, []byte{}, nil, "id"}},
		{"Creations", readSQL.creations, "PRIMARY KEY", []any{"t", "u", "2026-11"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := s.wdb.QueryContext(ctx, "EXPLAIN QUERY PLAN "+tt.query, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			all := strings.Join(plan, "; ")
			if !strings.Contains(all, "USING INDEX "+tt.index) && !strings.Contains(all, "USING COVERING INDEX "+tt.index) &&
				!strings.Contains(all, "USING "+tt.index) {
				t.Errorf("plan %q does not use %s", all, tt.index)
			}
			if strings.Contains(all, "TEMP B-TREE") || strings.Contains(all, "SCAN meetings ") || strings.HasSuffix(all, "SCAN meetings") {
				t.Errorf("plan %q sorts or scans", all)
			}
		})
	}
}

// TestMigrateFrom3 opens a database at version 3, whose join web URLs are
// indexed by hash, and checks migration 4 keeps every meeting findable by
// its URL (two meetings sharing one included) through the new index, with
// the hash column gone.
func TestMigrateFrom3(t *testing.T) {
	ctx := t.Context()
	path, db := openAtVersion(t, 3)
	old := []*store.Meeting{storetest.NewMeeting(owner, 1), storetest.NewMeeting(owner, 2), storetest.NewMeeting(owner, 3)}
	old[2].JoinWebURL = old[1].JoinWebURL
	for i, m := range old { // any hash will do: migration 4 drops it
		if _, err := db.ExecContext(ctx, `INSERT INTO meetings
			(id, tenant_id, user_id, join_meeting_id, join_web_url, join_web_url_hash, creation_date_time, resource)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, m.ID, m.Owner.TenantID, m.Owner.UserID,
			m.JoinMeetingID, m.JoinWebURL, int64(i), m.CreationDateTime.UnixNano(), m.Resource); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open(database at version 3) = %v", err)
	}
	defer s.Close()
	for i, want := range [][]string{{old[0].ID}, {old[1].ID, old[2].ID}} {
		got, err := s.Find(ctx, owner, store.Lookup{JoinWebURL: old[i].JoinWebURL})
		var ids []string
		for _, m := range got {
			ids = append(ids, m.ID)
		}
		slices.Sort(ids)
		slices.Sort(want)
		if err != nil || !slices.Equal(ids, want) {
			t.Errorf("Find(URL %d) after migration = %q, %v; want %q", i, ids, err, want)
		}
	}
	var hashCols int
	if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('meetings') WHERE name = 'join_web_url_hash'`).Scan(&hashCols); err != nil || hashCols != 0 {
		t.Errorf("join_web_url_hash columns after migration = %d, %v; want 0", hashCols, err)
	}
	m := storetest.NewMeeting(owner, 4)
	if err := s.Create(ctx, m, store.Quota{}); err != nil {
		t.Fatalf("Create after migration = %v", err)
	}
	if got, err := s.Find(ctx, owner, store.Lookup{JoinWebURL: m.JoinWebURL}); err != nil || len(got) != 1 || got[0].ID != m.ID {
		t.Errorf("Find(new meeting's URL) = %v, %v", got, err)
	}
}

// TestAttendeesEncoding round-trips attendee lists through the column
// encoding and rejects truncated columns.
func TestAttendeesEncoding(t *testing.T) {
	for _, as := range [][]store.Owner{
		nil,
		{{}},
		{{TenantID: "t", UserID: "u"}, {TenantID: "", UserID: strings.Repeat("x", 300)}, {TenantID: "\x00\xff", UserID: "会議"}},
	} {
		b := encodeAttendees(as)
		got, err := decodeAttendees(b)
		if err != nil || len(got) != len(as) {
			t.Errorf("decode(encode(%q)) = %q, %v", as, got, err)
			continue
		}
		for i := range as {
			if got[i] != as[i] {
				t.Errorf("decode(encode(%q))[%d] = %q", as, i, got[i])
			}
		}
		for n := 1; n < len(b); n++ {
			if _, err := decodeAttendees(b[:n]); err == nil && n < len(b) {
				// A cut that lands between two attendees decodes to fewer.
				if got, _ := decodeAttendees(b[:n]); len(got) == len(as) {
					t.Errorf("decode(%q cut to %d bytes) = all %d attendees", as, n, len(as))
				}
			}
		}
	}
	if _, err := decodeAttendees([]byte{5, 'a'}); err == nil {
		t.Error("decode(length past the end) = nil error")
	}
}

// TestKeyWhenPresent checks that Key reads an existing key from the read
// pool without a write.
func TestKeyWhenPresent(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	k, err := s.Key(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	before := s.commits.Load()
	for range 3 {
		if got, err := s.Key(ctx, "k"); err != nil || !bytes.Equal(got, k) {
			t.Fatalf("Key = %x, %v; want %x", got, err, k)
		}
	}
	if n := s.commits.Load() - before; n != 0 {
		t.Errorf("Key of an existing name took %d commits, want 0", n)
	}
}
