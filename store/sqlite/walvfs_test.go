package sqlite

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/onlinemeetings/onlinemeetings/store"
	"github.com/onlinemeetings/onlinemeetings/store/storetest"
)

// TestWALVFSGathersWrites checks that the store's commits go through the
// WAL VFS and that it hands each commit's frames to the file in a few
// writes, not two per page.
func TestWALVFSGathersWrites(t *testing.T) {
	s, path := openTest(t)
	ctx := t.Context()
	writes, flushes := walStats.writes.Load(), walStats.flushes.Load()

	var wg sync.WaitGroup
	ms := make([]*store.Meeting, 32)
	for i := range ms {
		ms[i] = storetest.NewMeeting(owner, i)
		wg.Go(func() {
			if err := s.Create(ctx, ms[i], store.Quota{}); err != nil {
				t.Errorf("Create %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	commits := s.commits.Load()

	dw, df := walStats.writes.Load()-writes, walStats.flushes.Load()-flushes
	// Each commit changes at least a page of the table and one of each of
	// its four indexes: ten writes of SQLite's, a header and a page each.
	if dw < 10*commits {
		t.Errorf("%d commits made %d writes through the WAL VFS, want at least %d: are the store's files opened through it?", commits, dw, 10*commits)
	}
	// Other tests may commit meanwhile, each with its own flush or two;
	// without the buffer there would be one flush per write.
	if df*4 > dw {
		t.Errorf("%d writes reached the file in %d writes, want at most a quarter", dw, df)
	}
	// The read pool's connections see every commit: its frames were in
	// the file before the wal-index listed them.
	for _, m := range ms {
		if _, err := s.Get(ctx, owner, m.ID); err != nil {
			t.Errorf("Get(%s): %v", m.ID, err)
		}
	}
	s2 := reopen(t, s, path)
	for _, m := range ms {
		if _, err := s2.Get(ctx, owner, m.ID); err != nil {
			t.Errorf("Get(%s) after reopen: %v", m.ID, err)
		}
	}
}

// reopen closes s and opens the database at path again.
func reopen(t *testing.T, s *Store, path string) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	return s2
}

// TestWALVFSSpill runs transactions larger than the page cache, so SQLite
// writes frames to the WAL before the commit, reads some of them back, and
// overwrites some in place when it changes their pages again (writes that
// do not continue the buffered run), and larger than the buffer, so it is
// written out in several chunks. Every row must read back as written, from
// another connection and after a reopen, and the database must pass
// integrity_check.
func TestWALVFSSpill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spill.db")
	open := func() *sql.DB { return openRaw(t, path, "&_pragma=cache_size(8)") }
	ctx := t.Context()
	db := open()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL)`); err != nil {
		t.Fatal(err)
	}

	const rows = 1500
	want := make(map[int64][]byte, rows)
	value := func(k int64) []byte {
		b := make([]byte, 900+k%300)
		rand.Read(b)
		want[k] = b
		return b
	}
	writes := walStats.writes.Load()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k := range int64(rows) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO t (k, v) VALUES (?, ?)`, k, value(k)); err != nil {
			t.Fatal(err)
		}
	}
	// Change every third row again: most of their pages were already
	// spilled to the WAL in this transaction.
	for k := int64(0); k < rows; k += 3 {
		if _, err := tx.ExecContext(ctx, `UPDATE t SET v = ? WHERE k = ?`, value(k), k); err != nil {
			t.Fatal(err)
		}
	}
	// Read everything back inside the transaction, spilled pages included.
	checkRows(t, tx, want)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// At about four rows a page, 1500 rows are 1.5 MB of frames: more than
	// the buffer holds.
	if got := walStats.writes.Load() - writes; got < 2*rows/4 {
		t.Errorf("the transaction made %d writes through the WAL VFS, want at least %d", got, 2*rows/4)
	}

	other := open()
	checkRows(t, other, want)
	other.Close()
	db.Close() // checkpoints and removes the WAL

	// Once the WAL has been emptied, the next transaction starts it over
	// and writes its header at offset 0, which does not continue whatever
	// the buffer held.
	db = open()
	if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k := int64(1); k < rows; k += 5 {
		if _, err := tx.ExecContext(ctx, `UPDATE t SET v = ? WHERE k = ?`, value(k), k); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	db.Close()

	db = open()
	defer db.Close()
	checkRows(t, db, want)
	var ok string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Errorf("integrity_check = %q, %v", ok, err)
	}
}

// openRaw opens a pool of one connection to the database at path with the
// store's DSN plus extra, outside any Store.
func openRaw(t *testing.T, path, extra string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(path, false, busyTimeout, defaultCheckpointConfig.walSizeLimit)+extra)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// fillRows creates table t with n rows of 900 bytes and empties the WAL
// into the database, so the next transaction writes from its start.
func fillRows(t *testing.T, db *sql.DB, n int) map[int64][]byte {
	t.Helper()
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	want := make(map[int64][]byte, n)
	for k := range int64(n) {
		want[k] = make([]byte, 900)
		if _, err := db.ExecContext(ctx, `INSERT INTO t (k, v) VALUES (?, ?)`, k, want[k]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	return want
}

// spill inserts 300 rows of random bytes into t in tx, more than the page
// cache of a connection opened with cache_size(8) holds, so SQLite writes
// frames to the WAL before the commit.
func spill(t *testing.T, tx *sql.Tx) {
	t.Helper()
	for k := int64(1000); k < 1300; k++ {
		if _, err := tx.ExecContext(t.Context(), `INSERT INTO t (k, v) VALUES (?, randomblob(900))`, k); err != nil {
			t.Fatal(err)
		}
	}
}

// spillAndRollBack runs a transaction on db that spills (see spill) and
// rolls it back.
func spillAndRollBack(t *testing.T, db *sql.DB) {
	t.Helper()
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	spill(t, tx)
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
}

// checkIntegrity fails t unless PRAGMA integrity_check passes on db.
func checkIntegrity(t *testing.T, db querier) {
	t.Helper()
	var ok string
	rows, err := db.QueryContext(t.Context(), `PRAGMA integrity_check`)
	if err == nil {
		defer rows.Close()
		if rows.Next() {
			err = rows.Scan(&ok)
		}
	}
	if err != nil || ok != "ok" {
		t.Errorf("integrity_check = %.300q, %v", ok, err)
	}
}

// TestWALVFSRollbackDropsBuffer: a transaction spills frames into the
// buffer and rolls back; another connection (as another process might)
// then commits frames at the same offsets of the WAL. The first
// connection's buffer must never reach the file, not when it closes and not
// when it writes again.
func TestWALVFSRollbackDropsBuffer(t *testing.T) {
	for _, then := range []string{"close", "write"} {
		t.Run(then, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "rollback.db")
			ctx := t.Context()
			a := openRaw(t, path, "&_pragma=cache_size(8)")
			want := fillRows(t, a, 200)
			b := openRaw(t, path, "")
			checkRows(t, b, want) // b's connection is open from here on

			dropped := walStats.dropped.Load()
			spillAndRollBack(t, a)
			if walStats.dropped.Load() == dropped {
				t.Error("the rollback left nothing in the buffer to drop: did the transaction spill?")
			}

			v := bytes.Repeat([]byte{0xab}, 900)
			if _, err := b.ExecContext(ctx, `UPDATE t SET v = ?`, v); err != nil {
				t.Fatal(err)
			}
			for k := range want {
				want[k] = v
			}
			switch then {
			case "close":
				a.Close()
			case "write":
				if _, err := a.ExecContext(ctx, `INSERT INTO t (k, v) VALUES (5000, ?)`, v); err != nil {
					t.Fatal(err)
				}
				want[5000] = v
			}
			c := openRaw(t, path, "")
			checkIntegrity(t, c)
			checkRows(t, c, want)
		})
	}
}

// TestWALVFSFailedReadFlush: writing the buffer out fails with a full disk
// while SQLite reads the WAL in the middle of a transaction. SQLite treats a
// full disk on a read as the statement's failure alone and would go on with
// the transaction, without the frames the buffer held; the transaction must
// fail instead, and the database stay as it was.
func TestWALVFSFailedReadFlush(t *testing.T) {
	path := filepath.Join(t.TempDir(), "full.db")
	ctx := t.Context()
	db := openRaw(t, path, "&_pragma=cache_size(8)")
	want := fillRows(t, db, 400)

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	spill(t, tx)
	var fails atomic.Int32
	fault := func(string) int32 {
		if fails.Add(1) == 1 {
			return sqlite3.SQLITE_FULL
		}
		return sqlite3.SQLITE_OK
	}
	walFault.Store(&fault)
	_, uerr := tx.ExecContext(ctx, `UPDATE t SET v = randomblob(900) WHERE k >= 1000 AND k < 1003`)
	walFault.Store(nil)
	if fails.Load() == 0 {
		t.Fatal("the statement wrote nothing out: did the transaction spill?")
	}
	if uerr == nil {
		t.Error("the statement whose write-out failed succeeded")
	}
	if err := tx.Commit(); err == nil {
		t.Error("COMMIT after a failed write-out succeeded")
	}

	other := openRaw(t, path, "")
	checkIntegrity(t, other)
	checkRows(t, other, want)
	// The connection works again once the transaction is over.
	if _, err := db.ExecContext(ctx, `INSERT INTO t (k, v) VALUES (9000, x'00')`); err != nil {
		t.Errorf("INSERT after the failed transaction: %v", err)
	}
	want[9000] = []byte{0}
	checkRows(t, other, want)
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// checkRows checks that table t holds exactly want.
func checkRows(t *testing.T, q querier, want map[int64][]byte) {
	t.Helper()
	rows, err := q.QueryContext(t.Context(), `SELECT k, v FROM t ORDER BY k`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			k int64
			v []byte
		)
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(v, want[k]) {
			t.Fatalf("row %d: %x… (sha256 %x), want %x…", k, v[:8], sha256.Sum256(v), want[k][:8])
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("%d rows, want %d", n, len(want))
	}
}

// TestWALVFSWriteFails makes the WAL file fail when the buffer is written
// out: the commit must fail, store nothing, and leave the store working once
// the file works again.
func TestWALVFSWriteFails(t *testing.T) {
	s, path := openTest(t)
	ctx := t.Context()
	before := storetest.NewMeeting(owner, 1)
	if err := s.Create(ctx, before, store.Quota{}); err != nil {
		t.Fatal(err)
	}

	wal := path + "-wal"
	var failed sync.Map
	fault := func(p string) int32 {
		if p != wal {
			return sqlite3.SQLITE_OK
		}
		failed.Store(p, true)
		return sqlite3.SQLITE_IOERR_WRITE
	}
	walFault.Store(&fault)
	lost := storetest.NewMeeting(owner, 2)
	err := s.Create(ctx, lost, store.Quota{})
	walFault.Store(nil)
	if _, ok := failed.Load(wal); !ok {
		t.Fatal("the fault was never asked about the store's WAL file")
	}
	if err == nil {
		t.Fatal("Create with a failing WAL succeeded")
	}
	if errors.Is(err, store.ErrIDTaken) || errors.Is(err, store.ErrJoinMeetingIDTaken) {
		t.Fatalf("Create with a failing WAL = %v, want an I/O error", err)
	}

	after := storetest.NewMeeting(owner, 3)
	if err := s.Create(ctx, after, store.Quota{}); err != nil {
		t.Fatalf("Create once the WAL works again: %v", err)
	}
	s2 := reopen(t, s, path)
	for _, tt := range []struct {
		m      *store.Meeting
		stored bool
	}{{before, true}, {lost, false}, {after, true}} {
		_, err := s2.Get(ctx, owner, tt.m.ID)
		if tt.stored != (err == nil) {
			t.Errorf("Get(%s) after reopen = %v, want stored %v", tt.m.ID, err, tt.stored)
		}
	}
	var ok string
	if err := s2.rdb.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Errorf("integrity_check = %q, %v", ok, err)
	}
}

// TestWALVFSLinks checks which files the WAL VFS wraps and how it ties them
// together: the store's WAL file buffers, knows the Wal object that opened
// it, and is known to the main database file of the same connection, whose
// xShmLock drops what a rolled-back transaction left in the buffer.
func TestWALVFSLinks(t *testing.T) {
	s, path := openTest(t)
	if err := s.Create(t.Context(), storetest.NewMeeting(owner, 1), store.Quota{}); err != nil {
		t.Fatal(err)
	}
	walNamesMu.Lock()
	defer walNamesMu.Unlock()
	n := 0
	for pFile, name := range walNames {
		if name != path+"-wal" {
			continue
		}
		n++
		st := state(pFile)
		wal := (*sqliteWal)(cPointer(st.link))
		if st.kind != fileWAL || wal.FpWalFd != pFile {
			t.Errorf("WAL file %#x: kind %d, its Wal's file %#x", pFile, st.kind, wal.FpWalFd)
			continue
		}
		if main := state(wal.FpDbFd); main.kind != fileMain || main.link != pFile {
			t.Errorf("WAL file %#x: main file kind %d links %#x", pFile, main.kind, main.link)
		}
	}
	// The writer's, the checkpointer's and at least one reader's.
	if n < 3 {
		t.Errorf("%d wrapped WAL files named %s-wal, want at least 3", n, path)
	}
}

// TestWALVFSUnbufferedModes: in exclusive locking mode SQLite takes no shm
// locks, so nothing would tell the buffer that a transaction rolled back,
// and with power-safe overwrite off it writes the end of a commit's last
// frame after the commit's sync; in both the WAL file must write through.
// Each case spills a transaction, rolls it back, lets another connection
// commit over the same part of the WAL, and then reads everything back.
func TestWALVFSUnbufferedModes(t *testing.T) {
	for _, tt := range []struct{ name, extra string }{
		{"exclusive", ""},
		{"psow=0", "&psow=0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mode.db")
			ctx := t.Context()
			a := openRaw(t, path, "&_pragma=cache_size(8)"+tt.extra)
			want := fillRows(t, a, 200)
			if tt.name == "exclusive" {
				// Entered after the WAL, so that it can be left again.
				if _, err := a.ExecContext(ctx, `PRAGMA locking_mode=EXCLUSIVE`); err != nil {
					t.Fatal(err)
				}
			}
			spillAndRollBack(t, a)
			if tt.name == "exclusive" {
				// Give the file back so another connection can write.
				if _, err := a.ExecContext(ctx, `PRAGMA locking_mode=NORMAL`); err != nil {
					t.Fatal(err)
				}
				checkRows(t, a, want)
			}
			b := openRaw(t, path, tt.extra)
			v := bytes.Repeat([]byte{0xcd}, 900)
			if _, err := b.ExecContext(ctx, `UPDATE t SET v = ?`, v); err != nil {
				t.Fatal(err)
			}
			for k := range want {
				want[k] = v
			}
			checkRows(t, a, want)
			checkRows(t, b, want)
			a.Close()
			checkIntegrity(t, b)
			checkRows(t, b, want)
		})
	}
}

// TestWALVFSSynchronousNormal: without synchronous=FULL SQLite publishes a
// commit without syncing the WAL first, so the buffer must be written out
// at the commit frame itself, or other connections read frames that are not
// in the file.
func TestWALVFSSynchronousNormal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "normal.db")
	ctx := t.Context()
	w := openRaw(t, path, "&_pragma=synchronous(NORMAL)")
	if _, err := w.ExecContext(ctx, `CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	r := openRaw(t, path, "")
	want := map[int64][]byte{}
	for k := range int64(5) {
		want[k] = bytes.Repeat([]byte{byte(k)}, 3000)
		if _, err := w.ExecContext(ctx, `INSERT INTO t (k, v) VALUES (?, ?)`, k, want[k]); err != nil {
			t.Fatal(err)
		}
		checkRows(t, r, want)
	}
	checkIntegrity(t, r)
}
