package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/onlinemeetings/onlinemeetings/store"
	"github.com/onlinemeetings/onlinemeetings/store/storetest"
)

var owner = store.Owner{TenantID: "tenant", UserID: "user"}

func openTest(t *testing.T, opts ...Option) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "meetings.db")
	s, err := Open(t.Context(), path, opts...)
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// TestPragmas checks that the DSN configures every pooled connection, not
// just the first one: in particular that the writer never checkpoints in
// its COMMIT (wal_autocheckpoint=0).
func TestPragmas(t *testing.T) {
	s, _ := openTest(t, WithReadConns(4))
	ctx := t.Context()

	check := func(t *testing.T, c *sql.Conn, busyTimeout time.Duration, queryOnly int) {
		t.Helper()
		var got struct {
			JournalMode       string
			Synchronous       int
			BusyTimeout       int
			ForeignKeys       int
			QueryOnly         int
			WALAutocheckpoint int
			JournalSizeLimit  int64
			TempStore         int
		}
		for _, p := range []struct {
			pragma string
			dest   any
		}{
			{"journal_mode", &got.JournalMode},
			{"synchronous", &got.Synchronous},
			{"busy_timeout", &got.BusyTimeout},
			{"foreign_keys", &got.ForeignKeys},
			{"query_only", &got.QueryOnly},
			{"wal_autocheckpoint", &got.WALAutocheckpoint},
			{"journal_size_limit", &got.JournalSizeLimit},
			{"temp_store", &got.TempStore},
		} {
			if err := c.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(p.dest); err != nil {
				t.Fatalf("PRAGMA %s: %v", p.pragma, err)
			}
		}
		want := got
		want.JournalMode, want.Synchronous, want.BusyTimeout, want.ForeignKeys, want.QueryOnly = "wal", 2, int(busyTimeout.Milliseconds()), 1, queryOnly
		want.WALAutocheckpoint, want.JournalSizeLimit = 0, defaultCheckpointConfig.walSizeLimit
		want.TempStore = 2 // MEMORY: statement journals and savepoints' undo stay off the disk
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("pragmas mismatch (-want +got):\n%s", diff)
		}
	}

	// Hold every read connection at once so each is a distinct one.
	var conns []*sql.Conn
	for range 4 {
		c, err := s.rdb.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for i, c := range conns {
		t.Run("Read"+string(rune('0'+i)), func(t *testing.T) { check(t, c, busyTimeout, 1) })
	}
	if got := s.rdb.Stats().OpenConnections; got != 4 {
		t.Errorf("read pool has %d open connections, want 4", got)
	}

	w, err := s.wdb.Conn(ctx) // the writer is idle: no Create is running
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	t.Run("Write", func(t *testing.T) { check(t, w, busyTimeout, 0) })

	c, err := s.cdb.Conn(ctx) // the checkpointer is idle: nothing was committed
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Run("Checkpoint", func(t *testing.T) { check(t, c, defaultCheckpointConfig.busyTimeout, 0) })
}

// TestReadPoolIsReadOnly checks that the read pool cannot change the
// database, whatever a future query might try.
func TestReadPoolIsReadOnly(t *testing.T) {
	s, _ := openTest(t)
	_, err := s.rdb.ExecContext(t.Context(), `DELETE FROM meetings`)
	if err == nil {
		t.Fatal("DELETE on the read pool succeeded, want an error")
	}
}

// TestMigrationsRecorded checks that re-opening does not apply a migration
// twice, and that Open refuses a schema newer than it knows.
func TestMigrationsRecorded(t *testing.T) {
	s, path := openTest(t)
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for range 2 {
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}

	db, err := sql.Open("sqlite", dsn(path, false, busyTimeout, defaultCheckpointConfig.walSizeLimit))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var versions []int
	rows, err := db.QueryContext(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var want []int
	for _, m := range ms {
		want = append(want, m.version)
	}
	if diff := cmp.Diff(want, versions); diff != "" {
		t.Errorf("schema_migrations mismatch (-want +got):\n%s", diff)
	}

	if _, err := db.ExecContext(t.Context(), `INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(t.Context(), path); err == nil || !strings.Contains(err.Error(), "newer") {
		if err == nil {
			s.Close()
		}
		t.Errorf("Open(database from a newer version) = %v, want a schema version error", err)
	}
}

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		want    []int
		wantErr bool
	}{
		{"Sorted", fstest.MapFS{"m/0002_b.sql": file("B"), "m/0001_a.sql": file("A"), "m/README": file("")}, []int{1, 2}, false},
		{"NoNumber", fstest.MapFS{"m/init.sql": file("")}, nil, true},
		{"Zero", fstest.MapFS{"m/0000_a.sql": file("")}, nil, true},
		{"Duplicate", fstest.MapFS{"m/0001_a.sql": file(""), "m/0001_b.sql": file("")}, nil, true},
		{"UnevenWidth", fstest.MapFS{"m/10_a.sql": file(""), "m/9_b.sql": file("")}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := loadMigrations(tt.fsys, "m")
			if (err != nil) != tt.wantErr {
				t.Fatalf("loadMigrations() error = %v, want error: %v", err, tt.wantErr)
			}
			var got []int
			for _, m := range ms {
				got = append(got, m.version)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("versions mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := loadMigrations(migrationFiles, "migrations"); err != nil {
		t.Errorf("embedded migrations: %v", err)
	}
}

// TestDSN checks that the path is escaped in the file: URI and that every
// parameter is present.
func TestDSN(t *testing.T) {
	got := dsn("/data/we?ird #dir %41/m.db", false, 2*time.Second, 1234)
	want := "file:///data/we%3Fird%20%23dir%20%2541/m.db?" + dsnParams + "&_pragma=busy_timeout(2000)&_pragma=journal_size_limit(1234)"
	if got != want {
		t.Errorf("dsn() = %q, want %q", got, want)
	}
	if got := dsn("/m.db", true, 2*time.Second, 1234); !strings.HasSuffix(got, "&_pragma=query_only(1)") {
		t.Errorf("dsn(readOnly) = %q, want query_only", got)
	}
}

// TestBatchIsolation drives one batch by hand: requests that hit a unique
// constraint, and one whose INSERT rolls back the whole transaction, must
// leave the others stored. Without a quota each create runs as a single
// statement without a savepoint (writeReq.oneStatement), with one in a
// savepoint with its count; both must isolate the same way.
func TestBatchIsolation(t *testing.T) {
	for _, q := range []store.Quota{{}, {PerMonth: 1000}} {
		t.Run(fmt.Sprintf("quota=%d", q.PerMonth), func(t *testing.T) { testBatchIsolation(t, q) })
	}
}

func testBatchIsolation(t *testing.T, q store.Quota) {
	s, _ := openTest(t)
	ctx := t.Context()
	// RAISE(ROLLBACK) ends the whole transaction, as an I/O error might.
	if _, err := s.wdb.ExecContext(ctx, `CREATE TRIGGER fail_insert BEFORE INSERT ON meetings
		WHEN NEW.id LIKE 'rollback-%' BEGIN SELECT RAISE(ROLLBACK, 'injected failure'); END`); err != nil {
		t.Fatal(err)
	}
	existing := storetest.NewMeeting(owner, 0)
	if err := s.Create(ctx, existing, store.Quota{}); err != nil {
		t.Fatal(err)
	}

	a := storetest.NewMeeting(owner, 1)
	idTaken := storetest.NewMeeting(owner, 2)
	idTaken.ID = existing.ID
	rollback := storetest.NewMeeting(owner, 3)
	rollback.ID = "rollback-" + rollback.ID
	b := storetest.NewMeeting(owner, 4)
	joinTaken := storetest.NewMeeting(owner, 5) // collides with a, earlier in the batch
	joinTaken.JoinMeetingID = a.JoinMeetingID
	urlTaken := storetest.NewMeeting(owner, 6)
	urlTaken.JoinWebURL = existing.JoinWebURL
	extA := storetest.NewMeeting(owner, 7)
	extA.ExternalID = "ext"
	extTaken := storetest.NewMeeting(owner, 8)
	extTaken.ExternalID = "ext"
	c := storetest.NewMeeting(owner, 9)

	tests := []struct {
		m      *store.Meeting
		stored bool
		check  func(error) bool
	}{
		{a, true, isNil},
		{idTaken, false, is(store.ErrIDTaken)},
		{rollback, false, func(err error) bool { return err != nil && strings.Contains(err.Error(), "injected failure") }},
		{b, true, isNil},
		{joinTaken, false, is(store.ErrJoinMeetingIDTaken)},
		{urlTaken, true, isNil}, // join web urls need not be unique
		{extA, true, isNil},
		{extTaken, false, is(store.ErrExternalIDTaken)},
		{c, true, isNil},
	}
	var batch []*writeReq
	for _, tt := range tests {
		r := createReq(tt.m, q)
		if r.oneStatement != (q.PerMonth == 0) {
			t.Fatalf("createReq(quota %d).oneStatement = %v", q.PerMonth, r.oneStatement)
		}
		r.done = make(chan error, 1)
		r.state.Store(reqTaken)
		batch = append(batch, r)
	}
	s.commit(batch)
	for i, tt := range tests {
		err := <-batch[i].done
		if !tt.check(err) {
			t.Errorf("request %d (%s): err = %v", i, tt.m.ID, err)
		}
		if _, wrapped := err.(undone); wrapped {
			t.Errorf("request %d (%s): err %v reached the caller still marked undone", i, tt.m.ID, err)
		}
		_, gerr := s.Get(ctx, owner, tt.m.ID)
		if tt.stored != (gerr == nil) && tt.m.ID != existing.ID {
			t.Errorf("request %d (%s): Get = %v, want stored %v", i, tt.m.ID, gerr, tt.stored)
		}
	}
}

func isNil(err error) bool { return err == nil }

func is(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

// TestQueuedRequestCanceled holds the write lock from another connection so
// the writer is stuck in BEGIN with one request, and checks both sides of
// the hand-over: a request still queued when its caller gives up is skipped,
// one the writer took is carried out and its caller told the outcome.
func TestQueuedRequestCanceled(t *testing.T) {
	s, path := openTest(t)
	ctx := t.Context()

	lock := holdWriteLock(t, path)

	taken, queued := storetest.NewMeeting(owner, 1), storetest.NewMeeting(owner, 2)
	takenCtx, cancelTaken := context.WithCancel(ctx)
	takenErr := make(chan error, 1)
	go func() { takenErr <- s.Create(takenCtx, taken, store.Quota{}) }()
	waitFor(t, func() bool { return len(s.reqs) == 0 && s.wdb.Stats().InUse == 1 }) // the writer holds it

	queuedCtx, cancelQueued := context.WithCancel(ctx)
	queuedErr := make(chan error, 1)
	go func() { queuedErr <- s.Create(queuedCtx, queued, store.Quota{}) }()
	waitFor(t, func() bool { return len(s.reqs) == 1 })

	cancelQueued()
	select {
	case err := <-queuedErr:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Create(queued, canceled) = %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Create(queued, canceled) did not return while the writer was blocked")
	}
	cancelTaken()
	select {
	case err := <-takenErr:
		t.Fatalf("Create(taken, canceled) = %v before the commit, want it to wait", err)
	case <-time.After(50 * time.Millisecond):
	}

	if _, err := lock.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := <-takenErr; err != nil {
		t.Errorf("Create(taken, canceled) = %v, want nil (it was committed)", err)
	}
	if _, err := s.Get(ctx, owner, taken.ID); err != nil {
		t.Errorf("Get(taken) = %v, want nil", err)
	}
	waitFor(t, func() bool { return len(s.reqs) == 0 && s.wdb.Stats().InUse == 0 })
	if _, err := s.Get(ctx, owner, queued.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(queued) = %v, want ErrNotFound", err)
	}
}

// TestBusyIsUnavailable checks that a real SQLITE_BUSY maps to
// ErrUnavailable, by its code.
func TestBusyIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	c1, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c1.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	_, err = c2.ExecContext(ctx, "BEGIN IMMEDIATE")
	if err == nil {
		t.Fatal("second BEGIN IMMEDIATE succeeded, want SQLITE_BUSY")
	}
	if got := mapErr(ctx, err); !errors.Is(got, store.ErrUnavailable) {
		t.Errorf("mapErr(%v) = %v, want ErrUnavailable", err, got)
	}
	if got := mapErr(ctx, errors.New("other")); errors.Is(got, store.ErrUnavailable) {
		t.Errorf("mapErr(other) = %v, want not ErrUnavailable", got)
	}
}

// TestStorageErrorsAreUnavailable checks, with real driver errors, which
// failures mapErr reports as ErrUnavailable: a full disk, an I/O error, a
// read-only file and a file that cannot be opened are the operator's to
// fix, and the client should retry (503 with Retry-After, as the
// PostgreSQL store answers disk full and I/O errors), not get a 500 that
// reads as a bug; a constraint violation stays what it is. It also checks
// a Create whose commit cannot be written, as on a full disk, end to end.
func TestStorageErrorsAreUnavailable(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	rawDB := func(t *testing.T, name, params string) *sql.DB {
		t.Helper()
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, name)+params)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	tests := []struct {
		name            string
		fail            func(t *testing.T) error
		wantUnavailable bool
	}{
		{"disk full", func(t *testing.T) error {
			db := rawDB(t, "full.db", "?_pragma=max_page_count(8)")
			if _, err := db.ExecContext(ctx, `CREATE TABLE t (b BLOB)`); err != nil {
				t.Fatal(err)
			}
			_, err := db.ExecContext(ctx, `INSERT INTO t VALUES (zeroblob(100000))`)
			return err
		}, true},
		{"read-only file", func(t *testing.T) error {
			if _, err := rawDB(t, "ro.db", "").ExecContext(ctx, `CREATE TABLE t (x)`); err != nil {
				t.Fatal(err)
			}
			_, err := rawDB(t, "ro.db", "?mode=ro").ExecContext(ctx, `INSERT INTO t VALUES (1)`)
			return err
		}, true},
		{"cannot open", func(t *testing.T) error {
			return rawDB(t, "missing/x.db", "").PingContext(ctx)
		}, true},
		{"WAL write fails in a commit", func(t *testing.T) error {
			s, path := openTest(t)
			fault := func(name string) int32 {
				if name == path+"-wal" {
					return sqlite3.SQLITE_FULL
				}
				return sqlite3.SQLITE_OK
			}
			walFault.Store(&fault)
			defer walFault.Store(nil)
			return s.Create(ctx, storetest.NewMeeting(owner, 1), store.Quota{})
		}, true},
		{"constraint", func(t *testing.T) error {
			db := rawDB(t, "unique.db", "")
			if _, err := db.ExecContext(ctx, `CREATE TABLE t (x UNIQUE); INSERT INTO t VALUES (1)`); err != nil {
				t.Fatal(err)
			}
			_, err := db.ExecContext(ctx, `INSERT INTO t VALUES (1)`)
			return err
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.fail(t)
			if err == nil {
				t.Fatal("the operation succeeded, want a driver error")
			}
			if got := errors.Is(mapErr(ctx, err), store.ErrUnavailable); got != tt.wantUnavailable {
				t.Errorf("errors.Is(mapErr(%v), ErrUnavailable) = %v, want %v", err, got, tt.wantUnavailable)
			}
		})
	}
}

// waitFor polls cond until it holds, failing the test after a while.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGroupCommit checks that requests queued while a commit is in progress
// share the next transaction: with the writer stuck in BEGIN on one
// request, 63 more queue up, and once the lock is free the 64 take exactly
// two transactions.
func TestGroupCommit(t *testing.T) {
	s, path := openTest(t)
	ctx := t.Context()
	lock := holdWriteLock(t, path)

	errs := make(chan error, 64)
	create := func() { errs <- s.Create(ctx, storetest.NewMeeting(owner, 0), store.Quota{}) }
	go create()
	waitFor(t, func() bool { return len(s.reqs) == 0 && s.wdb.Stats().InUse == 1 })
	for range 63 {
		go create()
	}
	waitFor(t, func() bool { return len(s.reqs) == 63 })

	before := s.commits.Load()
	if _, err := lock.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	for range 64 {
		if err := <-errs; err != nil {
			t.Errorf("Create = %v, want nil", err)
		}
	}
	if got := s.commits.Load() - before; got != 2 {
		t.Errorf("64 Creates took %d transactions, want 2", got)
	}
}

// holdWriteLock takes the database's write lock from a connection of its
// own and returns that connection; ROLLBACK on it releases the lock.
func holdWriteLock(t *testing.T, path string) *sql.Conn {
	t.Helper()
	ctx := t.Context()
	db, err := sql.Open("sqlite", dsn(path, false, busyTimeout, defaultCheckpointConfig.walSizeLimit))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	return c
}
