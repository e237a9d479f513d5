// Package sqlite is the store.Store for a single process: one SQLite file,
// through modernc.org/sqlite (pure Go, no cgo).
//
// # Durability and connections
//
// Every connection is configured by its DSN, because PRAGMAs are per
// connection and database/sql pools connections: WAL journal (readers never
// block the writer or each other), synchronous=FULL (the WAL is fsynced at
// every commit, so a commit survives power loss, not only a crash of the
// process), busy_timeout=5000 (wait for a lock held by another process
// instead of failing at once; the checkpointer's is shorter),
// _txlock=immediate (every transaction takes the write lock at BEGIN, so it
// cannot fail later on a lock upgrade), temp_store=MEMORY (the undo
// records of savepoints and statements stay in memory instead of going
// through a temporary file, a pwrite per page, which was most of the
// writer's system calls), and wal_autocheckpoint=0 with a
// journal_size_limit (see Checkpoints). Every connection opens its files
// through the WAL VFS (walvfs.go), which hands SQLite's writes to the WAL
// to the file together, before each fsync, instead of two system calls per
// page. Reads use their own pool whose connections are also query_only;
// writes use a pool of one connection owned by the writer goroutine, and
// checkpoints one owned by the checkpointer goroutine.
//
// # Group commit
//
// Every write (Create, CreateOrGet, Update, Delete, and making a Key) must
// not return before it is durable, and a durable commit costs an fsync: a
// few milliseconds on real disks, far more than the statements. SQLite
// also admits one writer at a time. One transaction per write would
// therefore serialise requests on fsyncs and cap the server at a few
// hundred writes per second however many arrive together.
//
// Instead each write queues a request and waits. A single writer goroutine
// takes the first queued request, then every other request already queued
// (up to a cap, 256 by default) without waiting for more, and runs them as
// one BEGIN IMMEDIATE ... COMMIT: one fsync for the whole batch. While it
// commits, new requests queue up and form the next batch, so batches grow
// with load and a lone request is never delayed. Requests of every kind
// share a batch, in the order they were queued; since the writer runs
// them one after another on the one connection that writes, two writes of
// one meeting are serialised without any locking of their own.
//
// # Savepoints
//
// Requests in a batch must not affect each other, so the writer runs each
// inside SAVEPOINT req ... RELEASE req:
//   - A request that fails (a unique constraint, ErrNotFound, an Update
//     whose function returned an error, changed an immutable field or
//     panicked) is rolled back to its savepoint: whatever it wrote is
//     undone, the batch's other work stays, and only that caller gets the
//     error.
//   - Some errors (I/O errors, a full disk, RAISE(ROLLBACK)) make SQLite
//     roll back the whole transaction, savepoints and all. Then ROLLBACK TO
//     fails, and the writer gives that request its error and runs the rest
//     of the batch again in a new transaction; a request may thus run more
//     than once (which is why Update's function may be called again), but
//     only one run is ever committed.
//   - If BEGIN or COMMIT fails, every request of the batch gets the error:
//     none of them is stored.
//
// A request that is a single statement (a Create without a quota: one
// INSERT) runs without the savepoint, which would be two statements of
// three: SQLite undoes a statement that fails on a constraint by itself.
// Any other error of such a request is taken as if it had ended the
// transaction: that request gets it and the rest of the batch runs again.
//
// Every caller is answered only after COMMIT returned, so a nil error (and
// the 201 or 204 the handler sends for it) always means the change is on
// disk. A caller whose context ends while its request is still queued gets
// the context's error and the writer skips the request; once the writer
// has taken it, the caller waits for the outcome, so the error it returns
// always tells the truth about what was stored.
//
// The writes themselves:
//   - Create is one INSERT. When it fails on a unique constraint, SQLite's
//     result code does not say which, so the writer asks the table, in the
//     same transaction, which of id, join meeting id and the owner's
//     external id is taken. Under a quota (store.Quota), an upsert of the
//     owner's row in creations then adds one unless the count has reached
//     the quota; when it changed no row, the request fails with
//     ErrQuotaExceeded and its savepoint's rollback removes the meeting.
//     The writer runs requests one after another, so concurrent creations
//     can never pass the quota together.
//   - CreateOrGet is INSERT ... ON CONFLICT DO NOTHING on the owner's
//     external id, then, when that inserted nothing, a SELECT of the
//     meeting that has it. Both run in the writer, which alone writes, so
//     nothing can come between them: concurrent calls are decided by the
//     unique index, in queue order. A meeting it inserts is counted as
//     Create's is; one it finds is not.
//   - Update reads the meeting, calls the function in the writer goroutine
//     (it must be quick and must not block: the whole batch waits for it),
//     checks it changed only Resource and Attendees, and writes those back.
//     A panic in the function is recovered and becomes that request's
//     error.
//   - Delete is one DELETE; no row means ErrNotFound.
//   - Key reads the key on the read pool; only when it is missing does the
//     writer INSERT OR IGNORE 32 random bytes and read back whatever is
//     there, so every caller, and every process, gets the first one stored.
//
// Reads (Get, Find, List, Creations, Ping, and Key when the key exists) do
// not go through the writer: in WAL mode they run on the read pool
// alongside the commit in progress. All statements are prepared once per
// connection.
//
// # Schema
//
// The writer is the server's bottleneck, and most of what it writes to the
// WAL is index pages: each index on a random key dirties a page of its own
// per insert. So the schema keeps indexes few, and off random keys where
// it can (see migrations/0002_find_update_keys.sql and 0004): the table
// keeps its rowid, so inserts append to it; the id and join meeting id
// have unique indexes; the join web URL is not unique and has a plain
// index. The handlers build ids and join URLs from time-ordered thread
// GUIDs, so the meetings of one batch share a long prefix of either and
// land in the same pages of those two indexes; only the join meeting id,
// 13 random digits, still costs a page per meeting. The owner's external id has a partial unique index over the rows
// that have one, which plain creates do not touch; attendees are a column
// that Find checks in the rows its key selected, with no index; and List
// walks the owner index (tenant, user, creation time, id) backwards from
// its keyset cursor. Only under a quota does a creation also write a row of
// creations (one per owner and month, see migrations/0003_creations.sql).
//
// The resource column holds the meeting compressed with S2 against a
// built-in dictionary of typical meetings, with a checksum (see codec.go):
// about 2.2 KB of JSON takes 300 to 450 bytes, so four or more rows share
// a table page where each took one of its own, and the writer has fewer
// pages to write to the WAL per batch. resource_codec says how each row is
// stored: NULL for as is, as rows written before migration 0005 are until
// they are next updated, and resources compression would not shrink.
//
// # Checkpoints
//
// In WAL mode a commit appends pages to the -wal file; a checkpoint copies
// them into the database file (and fsyncs it once it has copied them all)
// so that the WAL can start over. By default SQLite checkpoints inside the
// COMMIT that takes the WAL past 1000 pages, on the committing connection.
// Here that is the writer, so the whole batch, and every request queued
// behind it, would wait for the copy and its fsyncs: profiles of the server
// under load showed the writer spending over a quarter of its time there.
//
// So no connection checkpoints on its own (wal_autocheckpoint=0), and a
// checkpointer goroutine with a connection of its own does it instead. The
// writer signals it after each commit, without ever blocking; the
// checkpointer waits until at least 100 ms have passed since its previous
// checkpoint, then runs wal_checkpoint(PASSIVE), which copies every frame no
// reader still needs while the writer goes on committing. Signals that
// arrive meanwhile coalesce, so under load each checkpoint copies the pages
// of many commits at once, and an idle store does not checkpoint at all.
//
// PASSIVE checkpoints alone do not bound the WAL under continuous load:
// SQLite starts the WAL over only when a write transaction begins with
// every frame already copied, and while commits land during each
// checkpoint that never happens, so the file would grow without end. When
// a checkpoint leaves the WAL longer than 16384 frames (64 MiB of 4 KiB
// pages), the checkpointer therefore runs wal_checkpoint(RESTART) at once.
// It holds the writer off between two transactions (through a mutex the
// writer takes for each one, so neither side polls for SQLite's lock),
// copies the frames committed since the PASSIVE checkpoint began, and
// waits for readers to leave the WAL, so that the writer's next commit
// starts it from the beginning. That pause comes once per 64 MiB of WAL
// instead of once per 1000 pages. It is mostly the fsync of the database
// file, which writes out what the PASSIVE checkpoints copied since the
// last restart (SQLite fsyncs the database only at the end of a checkpoint
// that reached the end of the WAL, which under load they never do): 10 to
// 30 ms on a fast disk under full load. A smaller limit shortens each
// pause but multiplies them; at 1024 frames the writer lost all it had
// gained.
//
// A reader that keeps an old snapshot (a backup, an interactive sqlite3)
// would keep the RESTART, and with it the writer, waiting. So the
// checkpointer's busy_timeout is only 100 ms, after which the RESTART gives
// up, and it is not tried again for a while (250 ms, doubling up to 10 s
// while it keeps failing). Meanwhile the WAL grows, as it would with
// SQLite's own checkpoints.
//
// When the WAL starts over the writer overwrites the file from its start.
// journal_size_limit (72 MiB) has it truncate the file then, so a burst
// that outran the checkpointer does not leave a bigger file behind, while
// below the limit the file keeps its size (overwriting a file is cheaper to
// fsync than extending it).
//
// None of this weakens durability: a commit is durable once its frames
// are fsynced into the WAL (synchronous=FULL), whether or not a checkpoint
// has copied them yet; a checkpoint fsyncs the database file before SQLite
// lets the WAL be overwritten, and after a crash during one SQLite recovers
// from the WAL. A failed or busy checkpoint only lets the WAL grow until
// the next one, which retries. Close stops the checkpointer once the writer
// has answered every request, then runs wal_checkpoint(TRUNCATE), best
// effort, before closing the connections.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/onlinemeetings/onlinemeetings/store"
)

// dsnParams configures every connection; see the package documentation.
// dsn adds busy_timeout and journal_size_limit, and query_only for reads.
const dsnParams = "_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(0)&_txlock=immediate&vfs=" + walVFSName

// busyTimeout is how long the readers and the writer wait for a lock that
// another connection holds, before they fail with SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// Option changes a default of Open.
type Option func(*options)

type options struct {
	maxBatch   int
	readConns  int
	checkpoint checkpointConfig
}

// withCheckpoints replaces the checkpointer's settings, so tests can see
// the WAL bounded without writing a hundred megabytes.
func withCheckpoints(c checkpointConfig) Option {
	return func(o *options) { o.checkpoint = c }
}

// WithMaxBatch sets how many writes at most share one transaction
// (default 256). A larger cap amortises the fsync over more requests but
// holds the write lock longer; 1 turns group commit off.
func WithMaxBatch(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxBatch = n
		}
	}
}

// WithReadConns sets the size of the read pool (default the larger of 4 and
// GOMAXPROCS). Each SQLite connection keeps its own page cache, so the pool
// is bounded rather than grown with the number of concurrent requests.
func WithReadConns(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.readConns = n
		}
	}
}

// Store is a store.Store in one SQLite file. It is safe for concurrent use.
// Writes go through a single writer goroutine that commits concurrent
// writes together (group commit, see the package documentation); reads go
// to the read pool directly. A checkpointer goroutine copies the WAL into the
// database file behind the writer's back (see Checkpoints).
type Store struct {
	// path is the database file's absolute path and file what was there
	// when Open opened it; see checkFile.
	path string
	file os.FileInfo

	rdb *sql.DB // read pool: query_only connections
	wdb *sql.DB // write pool: one connection, used by the writer only
	cdb *sql.DB // checkpoint pool: one connection, used by the checkpointer only

	maxBatch int
	// mu is held for reading while a write sends to reqs and for writing
	// while Close closes it, so no write ever sends on a closed channel.
	mu     sync.RWMutex
	closed atomic.Bool
	reqs   chan *writeReq
	// writerDone is closed when the writer has answered every request and
	// exited.
	writerDone chan struct{}
	// commits counts the transactions the writer committed, so tests can
	// see group commit at work.
	commits atomic.Int64

	// txMu is held by the writer for each transaction, and by the
	// checkpointer for a RESTART checkpoint, which must not overlap one.
	txMu sync.Mutex
	ckpt checkpointer

	stmts  writeStmts // prepared on wdb, for the writer
	rstmts readStmts  // prepared on rdb
}

var _ store.Store = (*Store)(nil)

// Open opens the SQLite database at path, creating the file (mode 0600) and
// its parent directory (mode 0700) if missing, applies any pending schema
// migrations, and starts the writer and the checkpointer. ctx bounds the
// opening and migrating only; the caller must Close the store.
func Open(ctx context.Context, path string, opts ...Option) (_ *Store, err error) {
	o := options{
		maxBatch:   256,
		readConns:  max(4, runtime.GOMAXPROCS(0)),
		checkpoint: defaultCheckpointConfig,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if err := registerWALVFS(); err != nil {
		return nil, err
	}
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// SQLite would create the file with 0644; meetings are private. The
	// -wal and -shm files take the database file's mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	file, err := f.Stat()
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}

	var dbs []*sql.DB
	defer func() {
		if err != nil {
			for _, db := range dbs {
				db.Close()
			}
		}
	}()
	// The write pool opens first: its first connection switches the file to
	// WAL, which the query_only read connections could not do.
	wdb, err := sql.Open("sqlite", dsn(abs, false, busyTimeout, o.checkpoint.walSizeLimit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	dbs = append(dbs, wdb)
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	if err := migrateRetry(ctx, wdb, ms); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}

	rdb, err := sql.Open("sqlite", dsn(abs, true, busyTimeout, o.checkpoint.walSizeLimit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	dbs = append(dbs, rdb)
	rdb.SetMaxOpenConns(o.readConns)
	rdb.SetMaxIdleConns(o.readConns)
	if err := rdb.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, mapErr(ctx, err))
	}

	// Not query_only: a checkpoint writes the database file and the WAL
	// header, though it changes no data.
	cdb, err := sql.Open("sqlite", dsn(abs, false, o.checkpoint.busyTimeout, o.checkpoint.walSizeLimit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	dbs = append(dbs, cdb)
	cdb.SetMaxOpenConns(1)
	cdb.SetMaxIdleConns(1)
	if err := cdb.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, mapErr(ctx, err))
	}

	s := &Store{
		path:       abs,
		file:       file,
		rdb:        rdb,
		wdb:        wdb,
		cdb:        cdb,
		maxBatch:   o.maxBatch,
		reqs:       make(chan *writeReq, o.maxBatch),
		writerDone: make(chan struct{}),
		ckpt: checkpointer{
			checkpointConfig: o.checkpoint,
			signal:           make(chan struct{}, 1),
			stop:             make(chan struct{}),
			done:             make(chan struct{}),
		},
	}
	if err := s.prepareAll(ctx); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, mapErr(ctx, err))
	}
	go s.writeLoop()
	go s.checkpointLoop()
	return s, nil
}

// migrateRetry runs migrate, retrying while the database is busy. While a
// new file is switched to WAL, SQLite fails a competing BEGIN IMMEDIATE at
// once with SQLITE_BUSY, without waiting out busy_timeout (it would risk a
// deadlock between the two journal modes), so two processes creating the
// same file together need this; once the file is in WAL mode, busy_timeout
// does the waiting.
func migrateRetry(ctx context.Context, db *sql.DB, ms []migration) error {
	for attempt := 1; ; attempt++ {
		err := mapErr(ctx, migrate(ctx, db, ms))
		if err == nil || attempt == 20 || !isBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * 5 * time.Millisecond):
		}
	}
}

// dsn returns the data source name for the database file at abs, an
// absolute path, with busy_timeout set to busy (in whole milliseconds) and
// journal_size_limit to walSizeLimit bytes. The path becomes a file: URI,
// so '?', '#' and '%' in it are escaped instead of starting the query or a
// fragment.
func dsn(abs string, readOnly bool, busy time.Duration, walSizeLimit int64) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: dsnParams}
	u.RawQuery += "&_pragma=busy_timeout(" + strconv.FormatInt(busy.Milliseconds(), 10) + ")" +
		"&_pragma=journal_size_limit(" + strconv.FormatInt(walSizeLimit, 10) + ")"
	if readOnly {
		u.RawQuery += "&_pragma=query_only(1)"
	}
	return u.String()
}

// Meeting times are stored as int64 Unix nanoseconds, which cover 1678 to
// 2262; Create and CreateOrGet reject times outside that range instead of
// storing garbage, and List treats cursors outside it as before or after
// every meeting.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// Ping returns nil when the database answers a query on the read pool, an
// error wrapping ErrUnavailable when it is locked or its file is no longer
// at its path (see checkFile), and ErrClosed after Close.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("sqlite: ping: %w", store.ErrClosed)
	}
	if err := s.checkFile(); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	var version int
	if err := s.rstmts.ping.QueryRowContext(ctx).Scan(&version); err != nil {
		return s.readErr(ctx, "ping", err)
	}
	return nil
}

// checkFile returns an error wrapping ErrUnavailable when the file at the
// database's path is gone or is another file than Open opened: deleted,
// moved aside or replaced while the store runs. SQLite goes on with the
// file it has open, so without this check every later commit would be
// acknowledged into a file that the next start never sees, and /readyz
// would still say ready. The store cannot recover by itself (the server
// must be restarted on the right file), but it stops acknowledging writes
// it would lose. It costs one stat per check; the writer checks once per
// transaction.
func (s *Store) checkFile() error {
	fi, err := os.Stat(s.path)
	if err == nil && os.SameFile(fi, s.file) {
		return nil
	}
	if err == nil {
		err = errors.New("another file has replaced it")
	}
	return fmt.Errorf("%w: the database file %s is no longer the one opened at start; restart the server: %w",
		store.ErrUnavailable, s.path, err)
}

// readErr maps an error of a read on the read pool, reporting ErrClosed when Close ran
// while the query was in flight.
func (s *Store) readErr(ctx context.Context, op string, err error) error {
	if s.closed.Load() {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrClosed)
	}
	return fmt.Errorf("sqlite: %s: %w", op, mapErr(ctx, err))
}

// Close stops accepting writes, lets the writer commit and answer every
// request already queued, stops the checkpointer, copies the WAL into the
// database file as far as it can, then closes the database. Calls after
// Close, including Close, return ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return fmt.Errorf("sqlite: close: %w", store.ErrClosed)
	}
	s.closed.Store(true)
	close(s.reqs)
	s.mu.Unlock()

	<-s.writerDone
	close(s.ckpt.stop)
	<-s.ckpt.done
	// Best effort: everything committed is durable in the WAL already, and
	// closing the last connection checkpoints too. This also empties the
	// WAL, if no reader holds it, while another process keeps the database
	// open.
	r, err := s.walCheckpoint("TRUNCATE")
	s.ckpt.record("TRUNCATE", r, err)
	return errors.Join(s.rdb.Close(), s.wdb.Close(), s.cdb.Close())
}

// mapErr translates a driver error by its SQLite result code, never its
// text: SQLITE_BUSY and SQLITE_LOCKED (the lock is still held after the busy
// timeout) wrap ErrUnavailable, so the handlers answer 503 and the client
// retries. So do the storage failures an operator fixes without touching
// the data: SQLITE_FULL, SQLITE_IOERR (a full disk or a file size limit
// shows as SQLITE_IOERR_WRITE through the WAL VFS), SQLITE_READONLY (the
// file system went read-only) and SQLITE_CANTOPEN, as the PostgreSQL store
// maps disk full (class 53) and I/O errors (58030); the failed transaction
// stored nothing. If ctx has ended, the error is ctx's, whatever the driver
// said (it reports an interrupted statement in its own words).
func mapErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	switch resultCode(err) & 0xff { // primary code of an extended one
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED,
		sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN:
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// isBusy reports whether err is SQLITE_BUSY or SQLITE_LOCKED: another
// connection holds the lock, and waiting may help (unlike the storage
// failures mapErr also reports as ErrUnavailable).
func isBusy(err error) bool {
	switch resultCode(err) & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

// resultCode returns the extended SQLite result code carried by err, or 0
// if err does not come from SQLite. The driver enables extended codes on
// every connection.
func resultCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}
