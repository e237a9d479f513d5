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
// instead of failing at once) and _txlock=immediate (every transaction takes
// the write lock at BEGIN, so it cannot fail later on a lock upgrade). Reads
// use their own pool whose connections are also query_only; writes use a
// pool of one connection owned by the writer goroutine.
//
// # Group commit
//
// Create must not return before its meeting is durable, and a durable
// commit costs an fsync: a few milliseconds on real disks, far more than
// the INSERT. SQLite also admits one writer at a time. One transaction per
// Create would therefore serialise requests on fsyncs and cap the server at
// a few hundred creates per second however many arrive together.
//
// Instead Create queues its meeting and waits. A single writer goroutine
// takes the first queued request, then every other request already queued
// (up to a cap, 256 by default) without waiting for more, and runs them as
// one BEGIN IMMEDIATE ... COMMIT: one fsync for the whole batch. While it
// commits, new requests queue up and form the next batch, so batches grow
// with load and a lone request is never delayed.
//
// Requests in a batch must not affect each other:
//   - A constraint violation (ID or JoinMeetingID taken) aborts only its own
//     INSERT statement; SQLite keeps the transaction and the other rows, so
//     only that caller gets ErrIDTaken or ErrJoinMeetingIDTaken.
//   - Any other failure of one INSERT may have rolled back the whole
//     transaction, so the writer rolls back, gives that request its error,
//     and runs the rest of the batch again in a new transaction.
//   - If BEGIN or COMMIT fails, every request of the batch gets the error:
//     none of them is stored.
//
// Every caller is answered only after COMMIT returned, so a nil error (and
// the 201 the handler sends for it) always means the meeting is on disk.
// A caller whose context ends while its request is still queued gets the
// context's error and the writer skips the request; once the writer has
// taken it, the caller waits for the outcome, so the error it returns always
// tells the truth about what was stored.
//
// Reads (Get, Ping) do not go through the writer: in WAL mode they run on
// the read pool alongside the commit in progress.
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
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/onlinemeetings/onlinemeetings/store"
)

// dsnParams configures every connection; see the package documentation.
const dsnParams = "_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_txlock=immediate"

// Option changes a default of Open.
type Option func(*options)

type options struct {
	maxBatch  int
	readConns int
}

// WithMaxBatch sets how many Creates at most share one transaction
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
// Create goes through a single writer goroutine that commits concurrent
// Creates together (group commit, see the package documentation); Get and
// Ping read directly.
type Store struct {
	rdb *sql.DB // read pool: query_only connections
	wdb *sql.DB // write pool: one connection, used by the writer only

	maxBatch int
	// mu is held for reading while a Create sends to reqs and for writing
	// while Close closes it, so no Create ever sends on a closed channel.
	mu     sync.RWMutex
	closed atomic.Bool
	reqs   chan *createReq
	// writerDone is closed when the writer has answered every request and
	// exited.
	writerDone chan struct{}
	// commits counts the transactions the writer committed, so tests can
	// see group commit at work.
	commits atomic.Int64
}

var _ store.Store = (*Store)(nil)

// Open opens the SQLite database at path, creating the file (mode 0600) and
// its parent directory (mode 0700) if missing, applies any pending schema
// migrations, and starts the writer. ctx bounds the opening and migrating
// only; the caller must Close the store.
func Open(ctx context.Context, path string, opts ...Option) (_ *Store, err error) {
	o := options{maxBatch: 256, readConns: max(4, runtime.GOMAXPROCS(0))}
	for _, opt := range opts {
		opt(&o)
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
	f.Close()

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
	wdb, err := sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	dbs = append(dbs, wdb)
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	if err := migrateRetry(ctx, wdb, ms); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}

	rdb, err := sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	dbs = append(dbs, rdb)
	rdb.SetMaxOpenConns(o.readConns)
	rdb.SetMaxIdleConns(o.readConns)
	if err := rdb.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, mapErr(ctx, err))
	}

	s := &Store{
		rdb:        rdb,
		wdb:        wdb,
		maxBatch:   o.maxBatch,
		reqs:       make(chan *createReq, o.maxBatch),
		writerDone: make(chan struct{}),
	}
	go s.writeLoop()
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
		if err == nil || attempt == 20 || !errors.Is(err, store.ErrUnavailable) {
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
// absolute path. The path becomes a file: URI, so '?', '#' and '%' in it
// are escaped instead of starting the query or a fragment.
func dsn(abs string, readOnly bool) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: dsnParams}
	if readOnly {
		u.RawQuery += "&_pragma=query_only(1)"
	}
	return u.String()
}

// Meeting times are stored as int64 Unix nanoseconds, which cover 1678 to
// 2262; Create rejects times outside that range instead of storing garbage.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// Create stores m and returns once the transaction holding it has
// committed (see Group commit in the package documentation). It returns
// ErrIDTaken or ErrJoinMeetingIDTaken when those are in use, an error
// wrapping ErrUnavailable when the database stays locked beyond the busy
// timeout, ctx's error when ctx ends before the writer took the request,
// and ErrClosed after Close. Only a nil error means m is stored. Create
// does not keep m: the caller may reuse it once Create returns.
func (s *Store) Create(ctx context.Context, m *store.Meeting) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m == nil {
		return errors.New("sqlite: create: nil meeting")
	}
	if t := m.CreationDateTime; t.Before(minTime) || t.After(maxTime) {
		return fmt.Errorf("sqlite: create: creation time %v out of range", t)
	}
	r := &createReq{m: *m, done: make(chan error, 1)}

	s.mu.RLock()
	if s.closed.Load() {
		s.mu.RUnlock()
		return fmt.Errorf("sqlite: create: %w", store.ErrClosed)
	}
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	s.mu.RUnlock()

	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return ctx.Err()
		}
		return <-r.done // taken: the outcome is on its way
	}
}

// Get returns owner's meeting with the given id, or ErrNotFound when there
// is none (including when the id belongs to another owner). Any string is a
// valid id to look up.
func (s *Store) Get(ctx context.Context, owner store.Owner, id string) (*store.Meeting, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("sqlite: get: %w", store.ErrClosed)
	}
	m := &store.Meeting{ID: id, Owner: owner}
	var (
		externalID sql.NullString
		created    int64
	)
	err := s.rdb.QueryRowContext(ctx, `SELECT external_id, join_meeting_id, join_web_url, creation_date_time, resource
		FROM meetings WHERE id = ? AND tenant_id = ? AND user_id = ?`, id, owner.TenantID, owner.UserID).
		Scan(&externalID, &m.JoinMeetingID, &m.JoinWebURL, &created, &m.Resource)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, store.ErrNotFound
	case err != nil:
		return nil, s.readErr(ctx, "get", err)
	}
	m.ExternalID = externalID.String
	m.CreationDateTime = time.Unix(0, created).UTC()
	return m, nil
}

// Ping returns nil when the database answers a query on the read pool, an
// error wrapping ErrUnavailable when it is locked, and ErrClosed after
// Close.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("sqlite: ping: %w", store.ErrClosed)
	}
	var version int
	if err := s.rdb.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&version); err != nil {
		return s.readErr(ctx, "ping", err)
	}
	return nil
}

// readErr maps an error of Get or Ping, reporting ErrClosed when Close ran
// while the query was in flight.
func (s *Store) readErr(ctx context.Context, op string, err error) error {
	if s.closed.Load() {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrClosed)
	}
	return fmt.Errorf("sqlite: %s: %w", op, mapErr(ctx, err))
}

// Close stops accepting Creates, lets the writer commit and answer every
// request already queued, then closes the database. Calls after Close,
// including Close, return ErrClosed.
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
	return errors.Join(s.rdb.Close(), s.wdb.Close())
}

// mapErr translates a driver error by its SQLite result code, never its
// text: SQLITE_BUSY and SQLITE_LOCKED (the lock is still held after the busy
// timeout) wrap ErrUnavailable, so the handlers answer 503 and the client
// retries. If ctx has ended, the error is ctx's, whatever the driver said
// (it reports an interrupted statement in its own words).
func mapErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	switch resultCode(err) & 0xff { // primary code of an extended one
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
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
