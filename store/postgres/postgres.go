// Package postgres is the store.Store for several replicas sharing one
// PostgreSQL database, through pgx v5 and its connection pool (pgxpool).
//
// # Connections and timeouts
//
// Open takes a postgres:// or postgresql:// URL; its parameters (pgx's and
// PostgreSQL's runtime parameters such as search_path) apply, and the
// Options override three of them:
//
//   - Pool size (pool_max_conns, WithMaxConns), default 4 × GOMAXPROCS and
//     at least 4. A call holds a connection only for its round trips, and
//     most of that time is spent waiting on the network and on PostgreSQL's
//     WAL flush at COMMIT, not on this process's CPU; a few connections per
//     core keep commits in flight together (PostgreSQL flushes concurrent
//     commits in one write) without letting a handful of replicas use up
//     the server's max_connections (100 by default: 2-core replicas take 8
//     each).
//   - Connect timeout (connect_timeout, WithConnectTimeout), default 2 s.
//     It also bounds how long a call waits to acquire a pooled connection,
//     so when PostgreSQL is down or every connection is busy, a call fails
//     within about that long instead of queueing until its caller gives up.
//     With several hosts in the URL (postgres://db1,db2/om), each is tried
//     for up to the connect timeout in turn, and Open waits for all of them.
//   - Statement timeout (statement_timeout, WithStatementTimeout), default
//     5 s, enforced by the server for every statement (including waits for
//     row locks). idle_in_transaction_session_timeout is set to the same
//     unless the URL sets it, so a client that vanished mid-transaction
//     cannot hold a row lock for long. As a backstop against a network that
//     silently drops packets, where no answer from the server ever comes,
//     every call also has a client-side deadline of the connect timeout
//     plus twice the statement timeout plus one second.
//
// The pool needs no help to recover: connections that fail are discarded,
// idle ones are pinged before use, and new ones are dialled on demand, so
// once the database answers again calls succeed again.
//
// Every statement that carries a value sends it as a $n parameter over the
// extended protocol; Open refuses default_query_exec_mode=simple_protocol.
// Only constant statements without values (BEGIN, COMMIT and the embedded
// migration files) travel as simple queries.
//
// # Isolation
//
// Every connection runs at READ COMMITTED, whatever default the database or
// role sets (default_transaction_isolation is sent at connect; a URL that
// asks for another level is refused). The statements rely on it: an INSERT
// ... ON CONFLICT that meets a row another transaction is committing, or
// an UPDATE of a row another transaction has locked, waits for it and then
// sees its outcome, and the migration's transaction, once it holds the
// lock, sees what the replica before it committed. Under REPEATABLE READ or
// SERIALIZABLE each of these fails instead (40001, or a migration applied
// twice).
//
// # Migrations
//
// The schema is in numbered files embedded in the binary (migrations/) and
// brought up to date by Open, inside one transaction that first takes
// pg_advisory_xact_lock (keyed by the schema): replicas starting together
// queue on the lock, the first applies what is missing, and the rest find
// schema_migrations up to date. A transaction lock is released by COMMIT or
// ROLLBACK whatever happens; a session lock on a pooled connection could
// outlive the attempt that took it.
//
// # Errors
//
// Driver errors are mapped by SQLSTATE, never by message text. A
// unique_violation (23505) becomes ErrIDTaken, ErrJoinMeetingIDTaken or
// ErrExternalIDTaken according to its constraint name. Connection failures,
// timeouts (the pool's acquire deadline, statement_timeout 57014, the
// backstop deadline), class 08 (connection exception), class 53
// (insufficient resources, e.g. 53300 too_many_connections), 57P01-57P03
// (shutdown, starting up), the idle session timeouts, 40001/40P01
// (serialisation failure, deadlock), 55P03 (lock not available), 55000 (a
// standby not ready), 25006 (a read-only standby after a failover) and
// 58030 (I/O error) wrap store.ErrUnavailable: the handlers answer 503 with
// Retry-After. A caller whose context was canceled gets an error wrapping
// context.Canceled. Anything else is a plain error (a 500).
//
// # Text and bytes
//
// Ids, owners, external ids and join values are text columns with the "C"
// collation, so equality and order are byte for byte. PostgreSQL rejects
// NUL bytes and invalid UTF-8 in text, and no meeting can hold them there:
// Get, Update, Delete, Find and List answer ErrNotFound (or nothing) for
// such values without asking the database, and Create and CreateOrGet
// refuse such meetings with an error that is neither a sentinel nor
// ErrUnavailable. A List cursor may hold any bytes: it is replaced by the
// least id a meeting could have that is not below it, which selects the
// same meetings. Attendees and Key names are bytea and hold any bytes; Find
// compares the viewer with owners and attendees as bytes.
//
// # Writes
//
// Create is a single INSERT, committed (flushed to the WAL, with the default
// synchronous_commit=on) before it returns. Under a quota (store.Quota) the
// INSERT and an upsert of the owner's row in creations, which adds one only
// while the count is below the quota, run in one transaction, rolled back
// with ErrQuotaExceeded when the upsert changed no row. The upsert's row
// lock queues one owner's concurrent creations, on every replica, for as
// long as each takes to commit; other owners' creations do not wait. Every
// write takes the counter row last, after the meeting's unique index
// entries, so two creations never wait for each other in a cycle. Once a
// write has started, the caller's cancellation no longer stops it: it runs
// to its outcome (bounded by the timeouts above), so an error means nothing
// was stored, except when the connection was lost (or the backstop deadline
// cut it) while COMMIT was on its way, when no client can know the outcome.
//
// CreateOrGet never checks before inserting: it runs INSERT ... ON CONFLICT
// (tenant_id, user_id, external_id_sha256) WHERE external_id_sha256 IS NOT
// NULL DO NOTHING, keyed on the SHA-256 of the external id, which may be
// longer than a btree index entry can hold (migrations/0003). A concurrent
// insert of the same key makes it wait for that transaction, then do
// nothing; one caller stores, every other one reads the stored meeting with
// a SELECT (a new snapshot in READ COMMITTED, so it sees the winner). If
// that meeting was deleted between the two statements, it tries again.
// Under a quota the INSERT and the count of a meeting it stored share a
// transaction, as in Create; a meeting it finds is not counted.
//
// Update reads the row with SELECT ... FOR UPDATE in a transaction, so
// concurrent Updates of one meeting queue on the row lock and each sees the
// result of the one before.
package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinemeetings/onlinemeetings/store"
)

// Defaults for the settings that neither the URL nor an Option sets (see
// the package documentation).
const (
	DefaultConnectTimeout   = 2 * time.Second
	DefaultStatementTimeout = 5 * time.Second
)

// DefaultMaxConns is the pool size used when neither pool_max_conns nor
// WithMaxConns sets one: 4 × GOMAXPROCS, at least 4.
func DefaultMaxConns() int { return max(4, 4*runtime.GOMAXPROCS(0)) }

// maxListLimit is the largest Page.Limit List accepts.
const maxListLimit = 1000

// createOrGetAttempts bounds CreateOrGet's loop: each further attempt needs
// another meeting with the key created and deleted between two statements.
const createOrGetAttempts = 100

// updateAttempts bounds Update's retries after a serialisation failure or
// deadlock.
const updateAttempts = 3

// Option changes a setting of Open. A zero value keeps the URL's setting
// (or the default).
type Option func(*settings)

type settings struct {
	maxConns         int
	statementTimeout time.Duration
	connectTimeout   time.Duration
}

// WithMaxConns sets the most connections the pool opens (pool_max_conns).
func WithMaxConns(n int) Option { return func(s *settings) { s.maxConns = n } }

// WithStatementTimeout sets PostgreSQL's statement_timeout for every
// connection. It is sent in milliseconds.
func WithStatementTimeout(d time.Duration) Option {
	return func(s *settings) { s.statementTimeout = d }
}

// WithConnectTimeout sets how long dialling a connection, and waiting for
// a pooled one, may take (connect_timeout).
func WithConnectTimeout(d time.Duration) Option {
	return func(s *settings) { s.connectTimeout = d }
}

// config is what Open derives from the URL and the Options.
type config struct {
	pool             *pgxpool.Config
	statementTimeout time.Duration // 0: none
	acquireTimeout   time.Duration
	openTimeout      time.Duration // acquiring Open's first connection
	callTimeout      time.Duration // 0: none
}

// newConfig parses connString and applies opts over its parameters.
func newConfig(connString string, opts []Option) (*config, error) {
	var set settings
	for _, o := range opts {
		o(&set)
	}
	switch {
	case set.maxConns < 0 || set.maxConns > math.MaxInt32:
		return nil, fmt.Errorf("postgres: max conns %d out of range", set.maxConns)
	case set.statementTimeout < 0:
		return nil, fmt.Errorf("postgres: negative statement timeout %v", set.statementTimeout)
	case set.connectTimeout < 0:
		return nil, fmt.Errorf("postgres: negative connect timeout %v", set.connectTimeout)
	}
	// The URL is read by pgx alone, whose parser follows libpq's rules;
	// net/url's differ and would refuse URLs libpq takes (a Unix socket
	// directory as a percent-encoded host, several hosts with and without
	// ports, IPv6 hosts in a list, unencoded punctuation in a password).
	if !strings.HasPrefix(connString, "postgres://") && !strings.HasPrefix(connString, "postgresql://") {
		return nil, errors.New("postgres: want a postgres:// or postgresql:// URL")
	}
	// pgconn keeps the parameters it does not know (pgxpool's among them)
	// as runtime parameters, so they tell which ones the URL sets.
	raw, err := pgconn.ParseConfig(connString) // its errors mask the password
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	inURL := func(name string) bool { _, ok := raw.RuntimeParams[name]; return ok }
	pc, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	cc := pc.ConnConfig
	if cc.DefaultQueryExecMode == pgx.QueryExecModeSimpleProtocol {
		return nil, errors.New("postgres: default_query_exec_mode=simple_protocol is not allowed: values must travel as parameters")
	}

	if set.maxConns > 0 {
		pc.MaxConns = int32(set.maxConns)
	} else if !inURL("pool_max_conns") {
		pc.MaxConns = int32(min(DefaultMaxConns(), math.MaxInt32))
	}
	if !inURL("pool_max_conn_lifetime_jitter") {
		// Connections opened together (at start, after an outage) are not
		// all replaced at the same moment.
		pc.MaxConnLifetimeJitter = pc.MaxConnLifetime / 10
	}

	if set.connectTimeout > 0 {
		cc.ConnectTimeout = set.connectTimeout
	} else if cc.ConnectTimeout == 0 { // neither connect_timeout nor PGCONNECT_TIMEOUT
		cc.ConnectTimeout = DefaultConnectTimeout
	}

	st := DefaultStatementTimeout
	if v, ok := cc.RuntimeParams["statement_timeout"]; ok {
		if st, err = parseSettingDuration(v); err != nil {
			return nil, fmt.Errorf("postgres: statement_timeout=%q: %w", v, err)
		}
	}
	if set.statementTimeout > 0 {
		st = set.statementTimeout
	}
	cc.RuntimeParams["statement_timeout"] = milliseconds(st)
	if _, ok := cc.RuntimeParams["idle_in_transaction_session_timeout"]; !ok && st > 0 {
		cc.RuntimeParams["idle_in_transaction_session_timeout"] = milliseconds(st)
	}

	// Every statement and transaction here is written for READ COMMITTED
	// (see the package documentation); a default of REPEATABLE READ or
	// SERIALIZABLE set on the database or role (ALTER DATABASE ... SET
	// default_transaction_isolation) would turn the waits they rely on into
	// serialisation failures. A startup parameter outranks those defaults.
	if v, ok := cc.RuntimeParams["default_transaction_isolation"]; ok && !strings.EqualFold(strings.TrimSpace(v), readCommitted) {
		return nil, fmt.Errorf("postgres: default_transaction_isolation=%q: the store needs %q", v, readCommitted)
	}
	cc.RuntimeParams["default_transaction_isolation"] = readCommitted

	c := &config{pool: pc, statementTimeout: st, acquireTimeout: cc.ConnectTimeout,
		openTimeout: cc.ConnectTimeout * time.Duration(hostCount(cc.Config))}
	if st > 0 {
		c.callTimeout = c.acquireTimeout + 2*st + time.Second
	}
	return c, nil
}

// hostCount is how many addresses a connection may be tried at in turn,
// each for up to the connect timeout (pgx, as libpq, gives every host of a
// URL such as postgres://db1,db2/om its own): the primary's, and each of
// the fallbacks' that differs from the one before (sslmode=prefer tries
// one address twice, with and without TLS, within one timeout).
func hostCount(c pgconn.Config) int {
	n := 1
	prev := [2]any{c.Host, c.Port}
	for _, f := range c.Fallbacks {
		if addr := [2]any{f.Host, f.Port}; addr != prev {
			n, prev = n+1, addr
		}
	}
	return n
}

// readCommitted is the isolation level every connection runs at.
const readCommitted = "read committed"

// milliseconds formats d as PostgreSQL reads a setting in milliseconds,
// rounding a positive d up to at least 1 (0 would turn the timeout off).
func milliseconds(d time.Duration) string {
	ms := d.Milliseconds()
	if d > 0 && time.Duration(ms)*time.Millisecond < d {
		ms++
	}
	return strconv.FormatInt(ms, 10)
}

// settingUnits are the time units PostgreSQL accepts in settings.
var settingUnits = map[string]time.Duration{
	"": time.Millisecond, "us": time.Microsecond, "ms": time.Millisecond,
	"s": time.Second, "min": time.Minute, "h": time.Hour, "d": 24 * time.Hour,
}

// parseSettingDuration reads a time setting as PostgreSQL does: a number,
// in milliseconds unless followed by one of its units ("5000", "5s",
// "1.5 min").
func parseSettingDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	i := strings.IndexFunc(v, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		i = len(v)
	}
	n, err := strconv.ParseFloat(v[:i], 64)
	unit, ok := settingUnits[strings.TrimSpace(v[i:])]
	if err != nil || !ok || n < 0 {
		return 0, errors.New("want milliseconds, or a number with a unit of us, ms, s, min, h or d")
	}
	d := n * float64(unit)
	if d > math.MaxInt64 {
		return 0, errors.New("too large")
	}
	return time.Duration(d), nil
}

// CheckURL reports whether Open would accept connString and opts as
// settings, without connecting: nil, or an error that shows no password.
func CheckURL(connString string, opts ...Option) error {
	_, err := newConfig(connString, opts)
	return err
}

// RedactURL returns connString with its passwords masked, for logs and
// messages: the user info's and those of the password and sslpassword
// parameters. It finds them where pgx's parser, which follows libpq's
// rules, takes them from, not where net/url would: in
// postgres://om:12#pw@db/om the password is "12#pw", while net/url reads a
// host om, a port 12 and a fragment, no password at all.
func RedactURL(connString string) string {
	// pgx masks the passwords of the strings its parse errors quote, with a
	// redactor that walks the string as its parser does: borrow it.
	const prefix, suffix = "cannot parse `", "`: "
	msg := pgconn.NewParseConfigError(connString, "", nil).Error()
	if r, ok := strings.CutPrefix(msg, prefix); ok {
		if r, ok := strings.CutSuffix(r, suffix); ok {
			return r
		}
	}
	return "(a PostgreSQL URL)" // pgx changed its message: show nothing
}

// Store is a store.Store in a PostgreSQL database. Its methods are safe for
// concurrent use.
type Store struct {
	pool           *pgxpool.Pool
	acquireTimeout time.Duration
	callTimeout    time.Duration
	closed         atomic.Bool

	keysMu sync.Mutex
	keys   map[string][]byte // Key's answers; a stored key never changes
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at connString (postgres://... or
// postgresql://...) and brings its schema up to date. It fails, with an
// error wrapping store.ErrUnavailable, when the database does not answer
// within the connect timeout.
func Open(ctx context.Context, connString string, opts ...Option) (*Store, error) {
	cfg, err := newConfig(connString, opts)
	if err != nil {
		return nil, err
	}
	ms, err := readMigrations(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg.pool)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{
		pool:           pool,
		acquireTimeout: cfg.acquireTimeout,
		callTimeout:    cfg.callTimeout,
		keys:           map[string][]byte{},
	}
	// Not through do: the migration sets its own, longer statement timeout.
	// Opening waits for a connection long enough for every host of the URL
	// to be tried (see hostCount): a first host that never answers (a
	// failed primary) must not keep a replica from starting on the next.
	// Later calls wait only the connect timeout, as the pool's connection
	// attempts go on after a call gave up, and their connections serve the
	// calls that follow.
	c, err := s.acquireWithin(ctx, cfg.openTimeout)
	if err == nil {
		err = migrate(ctx, c, ms)
		c.Release()
	}
	if err != nil {
		pool.Close()
		return nil, mapErr("migrate", err)
	}
	return s, nil
}

// do runs fn on a pooled connection and maps its error (see mapErr).
//
// Acquiring the connection is bounded by the acquire timeout and stops when
// ctx ends. For a write, once it has a connection, fn runs to its outcome
// even if ctx ends meanwhile, so that an error tells the caller nothing was
// stored; the call deadline bounds it instead. A call whose connection
// turns out dead is run once more on another connection when that is safe
// (below).
func (s *Store) do(ctx context.Context, op string, write bool, fn func(context.Context, *pgxpool.Conn) error) error {
	if s.closed.Load() {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrClosed)
	}
	for attempt := 1; ; attempt++ {
		c, err := s.acquire(ctx)
		if err != nil {
			return mapErr(op, err)
		}
		err = s.call(ctx, write, c, fn)
		// pgx also closes a connection whose call ran out of time: that is
		// not a dead connection, and the deadline is the caller's answer.
		dead := err != nil && c.Conn().IsClosed() && !pgconn.Timeout(err)
		c.Release()
		// A connection that died under the call (a database restart or
		// failover closes every pooled connection, and the pool pings only
		// those idle for a second or more before handing them out) costs
		// the call nothing when the call changed nothing: a read, or a
		// write that never reached the server. It runs again on another
		// connection instead of failing with ErrUnavailable; the pool drops
		// the dead one, so after at most as many tries as the pool holds
		// connections, it dials a fresh one.
		if dead && attempt <= int(s.pool.Config().MaxConns) && ctx.Err() == nil && (!write || pgconn.SafeToRetry(err)) {
			continue
		}
		return mapErr(op, err)
	}
}

// call runs fn on c under the call deadline; a write runs to its outcome
// even if ctx ends meanwhile (see do).
func (s *Store) call(ctx context.Context, write bool, c *pgxpool.Conn, fn func(context.Context, *pgxpool.Conn) error) error {
	if s.callTimeout > 0 {
		if write {
			ctx = context.WithoutCancel(ctx)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.callTimeout)
		defer cancel()
	}
	return fn(ctx, c)
}

// acquire takes a connection from the pool, waiting at most the acquire
// timeout for one.
func (s *Store) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	return s.acquireWithin(ctx, s.acquireTimeout)
}

// acquireWithin takes a connection from the pool, waiting at most d.
func (s *Store) acquireWithin(ctx context.Context, d time.Duration) (*pgxpool.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	c, err := s.pool.Acquire(ctx)
	if err != nil && s.closed.Load() {
		return nil, store.ErrClosed // the pool was closed while we waited
	}
	return c, err
}

// checkOpen returns ErrClosed once Close was called.
func (s *Store) checkOpen(op string) error {
	if s.closed.Load() {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrClosed)
	}
	return nil
}

// columns are the meetings columns scanMeeting reads, in its order.
const columns = `id, tenant_id, user_id, external_id, join_meeting_id, join_web_url, creation_date_time,
	attendee_tenant_ids, attendee_user_ids, resource`

// insertMeeting stores one meeting; its arguments are meetingArgs.
const insertMeeting = `INSERT INTO meetings (` + columns + `, external_id_sha256)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`

// meetingArgs are insertMeeting's arguments for m, which checkMeeting
// accepted.
func meetingArgs(m *store.Meeting) []any {
	var ext, extSum any // NULL for no external id
	if m.ExternalID != "" {
		ext, extSum = m.ExternalID, externalIDSum(m.ExternalID)
	}
	resource := m.Resource
	if resource == nil {
		resource = []byte{} // pgx sends a nil slice as NULL
	}
	tenants, users := attendeeArgs(m.Attendees)
	return []any{m.ID, m.Owner.TenantID, m.Owner.UserID, ext, m.JoinMeetingID, m.JoinWebURL,
		m.CreationDateTime.UnixNano(), tenants, users, resource, extSum}
}

// externalIDSum is the external_id_sha256 of a meeting with external id
// ext: createOrGet's unique index keys on it rather than on ext, which may
// be longer than an index entry can be (see migrations/0003).
func externalIDSum(ext string) []byte {
	sum := sha256.Sum256([]byte(ext))
	return sum[:]
}

// attendeeArgs are the attendee_tenant_ids and attendee_user_ids values for
// a: never nil, which pgx would send as NULL.
func attendeeArgs(a []store.Owner) (tenants, users [][]byte) {
	tenants, users = make([][]byte, 0, len(a)), make([][]byte, 0, len(a))
	for _, o := range a {
		tenants, users = append(tenants, []byte(o.TenantID)), append(users, []byte(o.UserID))
	}
	return tenants, users
}

// scanMeeting reads a row of columns.
func scanMeeting(row pgx.Row) (*store.Meeting, error) {
	var (
		m              store.Meeting
		ext            pgtype.Text
		created        int64
		tenants, users [][]byte
	)
	if err := row.Scan(&m.ID, &m.Owner.TenantID, &m.Owner.UserID, &ext, &m.JoinMeetingID, &m.JoinWebURL,
		&created, &tenants, &users, &m.Resource); err != nil {
		return nil, err
	}
	if len(tenants) != len(users) { // the table's CHECK prevents it
		return nil, fmt.Errorf("meeting %q: %d attendee tenant ids but %d user ids", m.ID, len(tenants), len(users))
	}
	m.ExternalID = ext.String
	m.CreationDateTime = time.Unix(0, created).UTC()
	for i := range tenants {
		m.Attendees = append(m.Attendees, store.Owner{TenantID: string(tenants[i]), UserID: string(users[i])})
	}
	return &m, nil
}

// collectMeetings reads every row of rows; never nil.
func collectMeetings(rows pgx.Rows, err error) ([]*store.Meeting, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.Meeting, error) { return scanMeeting(row) })
}

// clone returns a deep copy of m as the store returns meetings: no
// attendees as nil, no resource as empty.
func clone(m *store.Meeting) *store.Meeting {
	c := *m
	c.Attendees = nil
	if len(m.Attendees) > 0 {
		c.Attendees = slices.Clone(m.Attendees)
	}
	c.Resource = slices.Clone(m.Resource)
	if c.Resource == nil {
		c.Resource = []byte{}
	}
	return &c
}

// Times the creation_date_time column (Unix nanoseconds in an int64) holds:
// the years 1677 to 2262.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// checkMeeting returns an error if m cannot be stored as it is.
func checkMeeting(m *store.Meeting) error {
	if m == nil {
		return errors.New("nil meeting")
	}
	if !validText(m.ID, m.Owner.TenantID, m.Owner.UserID, m.ExternalID, m.JoinMeetingID, m.JoinWebURL) {
		return errBadText
	}
	if t := m.CreationDateTime; t.Before(minTime) || t.After(maxTime) {
		return fmt.Errorf("creation time %v outside the years 1678 to 2261", t)
	}
	return nil
}

// countCreation adds one to the creations of an owner ($1, $2) in a month
// ($3) unless the count has reached the quota ($4): then it changes no row.
// The first creation of a month inserts the row with 1, which any quota
// allows. A concurrent call for the same row waits for this transaction's
// row lock and then sees its count (READ COMMITTED re-checks the WHERE on
// the latest row version), so no two can both take the last place.
const countCreation = `INSERT INTO creations (tenant_id, user_id, month, n) VALUES ($1, $2, $3, 1)
	ON CONFLICT (tenant_id, user_id, month) DO UPDATE SET n = creations.n + 1 WHERE creations.n < $4`

// monthOf is the creations.month of t: its UTC year and month.
func monthOf(t time.Time) string { return t.UTC().Format("2006-01") }

// count adds m to its owner's creations in the month of its creation time,
// in tx, or returns ErrQuotaExceeded when the owner already has q.PerMonth
// there; the caller then rolls tx back. It runs after the meeting's insert,
// so the counter row stays locked only until the commit that follows.
func count(ctx context.Context, tx pgx.Tx, m *store.Meeting, q store.Quota) error {
	tag, err := tx.Exec(ctx, countCreation, m.Owner.TenantID, m.Owner.UserID, monthOf(m.CreationDateTime), q.PerMonth)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrQuotaExceeded
	}
	return nil
}

// Create stores m, durably, or returns ErrIDTaken, ErrJoinMeetingIDTaken,
// ErrExternalIDTaken or ErrQuotaExceeded (see store.Store). Without a quota
// it is a single INSERT; under one, the INSERT and count in one
// transaction.
func (s *Store) Create(ctx context.Context, m *store.Meeting, q store.Quota) error {
	if err := s.checkOpen("create"); err != nil {
		return err
	}
	if err := checkMeeting(m); err != nil {
		return fmt.Errorf("postgres: create: %w", err)
	}
	args := meetingArgs(m)
	return s.do(ctx, "create", true, func(ctx context.Context, c *pgxpool.Conn) error {
		if q.PerMonth <= 0 {
			_, err := c.Exec(ctx, insertMeeting, args...)
			return err
		}
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, insertMeeting, args...); err != nil {
				return err
			}
			return count(ctx, tx, m, q)
		})
	})
}

// Creations returns owner's count of creations in the UTC month of month;
// 0 when there is no row.
func (s *Store) Creations(ctx context.Context, owner store.Owner, month time.Time) (int, error) {
	if err := s.checkOpen("creations"); err != nil {
		return 0, err
	}
	if !validText(owner.TenantID, owner.UserID) {
		return 0, nil // no meeting can have such an owner
	}
	var n int64
	err := s.do(ctx, "creations", false, func(ctx context.Context, c *pgxpool.Conn) error {
		err := c.QueryRow(ctx, `SELECT n FROM creations WHERE tenant_id = $1 AND user_id = $2 AND month = $3`,
			owner.TenantID, owner.UserID, monthOf(month)).Scan(&n)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// Get returns owner's meeting id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, owner store.Owner, id string) (*store.Meeting, error) {
	if err := s.checkOpen("get"); err != nil {
		return nil, err
	}
	if !validText(id, owner.TenantID, owner.UserID) {
		return nil, fmt.Errorf("postgres: get: %w", store.ErrNotFound)
	}
	var m *store.Meeting
	err := s.do(ctx, "get", false, func(ctx context.Context, c *pgxpool.Conn) (err error) {
		m, err = scanMeeting(c.QueryRow(ctx,
			`SELECT `+columns+` FROM meetings WHERE id = $1 AND tenant_id = $2 AND user_id = $3`,
			id, owner.TenantID, owner.UserID))
		return err
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// CreateOrGet stores m unless its owner has a meeting with m.ExternalID,
// which it then returns (see store.Store). Under a quota, the INSERT and
// the count of a meeting it stores share a transaction, as in Create.
func (s *Store) CreateOrGet(ctx context.Context, m *store.Meeting, q store.Quota) (*store.Meeting, bool, error) {
	if err := s.checkOpen("create or get"); err != nil {
		return nil, false, err
	}
	if err := checkMeeting(m); err != nil {
		return nil, false, fmt.Errorf("postgres: create or get: %w", err)
	}
	if m.ExternalID == "" {
		return nil, false, errors.New("postgres: create or get: empty external id")
	}
	args := meetingArgs(m)
	var (
		stored  *store.Meeting
		created bool
	)
	err := s.do(ctx, "create or get", true, func(ctx context.Context, c *pgxpool.Conn) error {
		for range createOrGetAttempts {
			inserted, err := insertOrNothing(ctx, c, m, args, q)
			if err != nil {
				return err
			}
			if inserted {
				stored, created = clone(m), true
				return nil
			}
			stored, err = scanMeeting(c.QueryRow(ctx,
				`SELECT `+columns+` FROM meetings WHERE tenant_id = $1 AND user_id = $2 AND external_id_sha256 = $3`,
				m.Owner.TenantID, m.Owner.UserID, externalIDSum(m.ExternalID)))
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			// Deleted since the INSERT saw it: the key is free again.
		}
		return fmt.Errorf("%w: the meeting with this external id was deleted %d times while being read",
			store.ErrUnavailable, createOrGetAttempts)
	})
	if err != nil {
		return nil, false, err
	}
	return stored, created, nil
}

// insertOrNothing runs CreateOrGet's INSERT ... ON CONFLICT DO NOTHING of
// m (whose meetingArgs are args) and reports whether it stored m. Under a
// quota it runs in a transaction with the count of the stored meeting, and
// returns ErrQuotaExceeded, storing nothing, when the count is full; a
// meeting that was there already is not counted, whatever the count.
func insertOrNothing(ctx context.Context, c *pgxpool.Conn, m *store.Meeting, args []any, q store.Quota) (inserted bool, err error) {
	const insert = insertMeeting + `
		ON CONFLICT (tenant_id, user_id, external_id_sha256) WHERE external_id_sha256 IS NOT NULL DO NOTHING`
	if q.PerMonth <= 0 {
		tag, err := c.Exec(ctx, insert, args...)
		return err == nil && tag.RowsAffected() == 1, err
	}
	err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, insert, args...)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		inserted = true
		return count(ctx, tx, m, q)
	})
	return inserted && err == nil, err
}

// findQueries select the meetings with one field equal to $1 that the
// viewer ($2, $3, as bytes) owns or attends, in List's order. The owner
// columns are compared as bytes too, so that any viewer can be asked about
// (the rows are few: the lookup column's index finds them).
var findQueries = map[string]string{
	"id":              findQuery("id"),
	"join_web_url":    findQuery("join_web_url"),
	"join_meeting_id": findQuery("join_meeting_id"),
}

func findQuery(column string) string {
	return `SELECT ` + columns + ` FROM meetings
		WHERE ` + column + ` = $1
		AND ((convert_to(tenant_id, 'UTF8') = $2 AND convert_to(user_id, 'UTF8') = $3)
			OR EXISTS (SELECT FROM unnest(attendee_tenant_ids, attendee_user_ids) AS a (tenant_id, user_id)
				WHERE a.tenant_id = $2 AND a.user_id = $3))
		ORDER BY creation_date_time DESC, id DESC`
}

// Find returns the meetings matching q that viewer owns or attends.
func (s *Store) Find(ctx context.Context, viewer store.Owner, q store.Lookup) ([]*store.Meeting, error) {
	if err := s.checkOpen("find"); err != nil {
		return nil, err
	}
	var column, value string
	n := 0
	for _, f := range []struct{ column, value string }{
		{"id", q.ID}, {"join_web_url", q.JoinWebURL}, {"join_meeting_id", q.JoinMeetingID},
	} {
		if f.value != "" {
			column, value = f.column, f.value
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("postgres: find: the lookup sets %d fields, want exactly one", n)
	}
	if !validText(value) {
		return []*store.Meeting{}, nil
	}
	var ms []*store.Meeting
	err := s.do(ctx, "find", false, func(ctx context.Context, c *pgxpool.Conn) (err error) {
		ms, err = collectMeetings(c.Query(ctx, findQueries[column], value, []byte(viewer.TenantID), []byte(viewer.UserID)))
		return err
	})
	if err != nil {
		return nil, err
	}
	return ms, nil
}

// List returns up to p.Limit of owner's meetings after p.After, newest
// first, by keyset.
func (s *Store) List(ctx context.Context, owner store.Owner, p store.Page) ([]*store.Meeting, error) {
	if err := s.checkOpen("list"); err != nil {
		return nil, err
	}
	if p.Limit < 1 || p.Limit > maxListLimit {
		return nil, fmt.Errorf("postgres: list: limit %d outside 1..%d", p.Limit, maxListLimit)
	}
	if !validText(owner.TenantID, owner.UserID) {
		return []*store.Meeting{}, nil
	}
	var (
		query = `SELECT ` + columns + ` FROM meetings WHERE tenant_id = $1 AND user_id = $2
			ORDER BY creation_date_time DESC, id DESC LIMIT $3`
		args = []any{owner.TenantID, owner.UserID, p.Limit}
	)
	if a := p.After; a != nil {
		// The cursor need not be any meeting's position, nor one a meeting
		// could have: move it to an equivalent one the columns can hold.
		switch id, ok := textCeil(a.ID); {
		case a.CreationDateTime.Before(minTime):
			return []*store.Meeting{}, nil // no meeting is older
		case a.CreationDateTime.After(maxTime):
			// Every meeting is older: list from the newest.
		case ok:
			// For any id a meeting can have, id < a.ID exactly when id < ceil.
			query = `SELECT ` + columns + ` FROM meetings WHERE tenant_id = $1 AND user_id = $2
				AND (creation_date_time, id) < ($4, $5)
				ORDER BY creation_date_time DESC, id DESC LIMIT $3`
			args = append(args, a.CreationDateTime.UnixNano(), id)
		default:
			// Every id a meeting can have is below a.ID.
			query = `SELECT ` + columns + ` FROM meetings WHERE tenant_id = $1 AND user_id = $2
				AND creation_date_time <= $4
				ORDER BY creation_date_time DESC, id DESC LIMIT $3`
			args = append(args, a.CreationDateTime.UnixNano())
		}
	}
	var ms []*store.Meeting
	err := s.do(ctx, "list", false, func(ctx context.Context, c *pgxpool.Conn) (err error) {
		ms, err = collectMeetings(c.Query(ctx, query, args...))
		return err
	})
	if err != nil {
		return nil, err
	}
	return ms, nil
}

// errUpdateFunc marks, inside Update's transaction, that fn failed; Update
// then returns fn's error as it is.
var errUpdateFunc = errors.New("update function failed")

// Update changes owner's meeting id through fn in one transaction (see
// store.Store).
func (s *Store) Update(ctx context.Context, owner store.Owner, id string, fn func(*store.Meeting) error) (*store.Meeting, error) {
	if err := s.checkOpen("update"); err != nil {
		return nil, err
	}
	if !validText(id, owner.TenantID, owner.UserID) {
		return nil, fmt.Errorf("postgres: update: %w", store.ErrNotFound)
	}
	var (
		updated *store.Meeting
		fnErr   error
	)
	err := s.do(ctx, "update", true, func(ctx context.Context, c *pgxpool.Conn) error {
		for attempt := 1; ; attempt++ {
			var err error
			updated, fnErr, err = updateOnce(ctx, c, owner, id, fn)
			if attempt < updateAttempts && retryable(err) {
				continue
			}
			return err
		}
	})
	if fnErr != nil {
		return nil, fnErr
	}
	if err != nil {
		return nil, err
	}
	return updated, nil
}

// updateOnce is one attempt of Update. fn's error is returned apart from
// the transaction's.
func updateOnce(ctx context.Context, c *pgxpool.Conn, owner store.Owner, id string, fn func(*store.Meeting) error) (updated *store.Meeting, fnErr, err error) {
	err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		old, err := scanMeeting(tx.QueryRow(ctx,
			`SELECT `+columns+` FROM meetings WHERE id = $1 AND tenant_id = $2 AND user_id = $3 FOR UPDATE`,
			id, owner.TenantID, owner.UserID))
		if err != nil {
			return err
		}
		m := clone(old)
		if err := fn(m); err != nil {
			fnErr = err
			return errUpdateFunc
		}
		if m.ID != old.ID || m.Owner != old.Owner || m.ExternalID != old.ExternalID ||
			m.JoinMeetingID != old.JoinMeetingID || m.JoinWebURL != old.JoinWebURL ||
			!m.CreationDateTime.Equal(old.CreationDateTime) {
			return store.ErrImmutable
		}
		if m.Resource == nil {
			m.Resource = []byte{}
		}
		tenants, users := attendeeArgs(m.Attendees)
		if _, err := tx.Exec(ctx, `UPDATE meetings
			SET attendee_tenant_ids = $2, attendee_user_ids = $3, resource = $4 WHERE id = $1`,
			id, tenants, users, m.Resource); err != nil {
			return err
		}
		updated = clone(m)
		updated.CreationDateTime = old.CreationDateTime // m's may be in another location
		return nil
	})
	return updated, fnErr, err
}

// Delete removes owner's meeting id, or returns ErrNotFound.
func (s *Store) Delete(ctx context.Context, owner store.Owner, id string) error {
	if err := s.checkOpen("delete"); err != nil {
		return err
	}
	if !validText(id, owner.TenantID, owner.UserID) {
		return fmt.Errorf("postgres: delete: %w", store.ErrNotFound)
	}
	return s.do(ctx, "delete", true, func(ctx context.Context, c *pgxpool.Conn) error {
		tag, err := c.Exec(ctx, `DELETE FROM meetings WHERE id = $1 AND tenant_id = $2 AND user_id = $3`,
			id, owner.TenantID, owner.UserID)
		if err == nil && tag.RowsAffected() == 0 {
			err = store.ErrNotFound
		}
		return err
	})
}

// keySize is the length of the secrets Key makes.
const keySize = 32

// Key returns the secret stored under name, making it on first use. Every
// replica gets the same: the first INSERT wins, and everyone reads what it
// stored.
func (s *Store) Key(ctx context.Context, name string) ([]byte, error) {
	if err := s.checkOpen("key"); err != nil {
		return nil, err
	}
	s.keysMu.Lock()
	k, ok := s.keys[name]
	s.keysMu.Unlock()
	if ok {
		return slices.Clone(k), nil
	}
	fresh := make([]byte, keySize)
	rand.Read(fresh) // never fails (crypto/rand)
	err := s.do(ctx, "key", true, func(ctx context.Context, c *pgxpool.Conn) error {
		if _, err := c.Exec(ctx, `INSERT INTO keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
			[]byte(name), fresh); err != nil {
			return err
		}
		return c.QueryRow(ctx, `SELECT value FROM keys WHERE name = $1`, []byte(name)).Scan(&k)
	})
	if err != nil {
		return nil, err
	}
	s.keysMu.Lock()
	s.keys[name] = k
	s.keysMu.Unlock()
	return slices.Clone(k), nil
}

// Ping reports whether the database answers, within the acquire timeout
// when it is down.
func (s *Store) Ping(ctx context.Context) error {
	return s.do(ctx, "ping", false, func(ctx context.Context, c *pgxpool.Conn) error {
		return c.Ping(ctx)
	})
}

// Close closes the pool, after the calls in progress have returned their
// connections. Later calls return ErrClosed.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return fmt.Errorf("postgres: close: %w", store.ErrClosed)
	}
	s.pool.Close()
	return nil
}
