package sqlite

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/onlinemeetings/onlinemeetings/store"
)

// meetingCols are the columns scanMeeting reads, in its order.
const meetingCols = `id, tenant_id, user_id, external_id, join_meeting_id, join_web_url, creation_date_time, attendees, resource, resource_codec`

// insertCols and insertValues store one meeting; args gives their values.
const (
	insertCols   = `(id, tenant_id, user_id, external_id, join_meeting_id, join_web_url, creation_date_time, attendees, resource, resource_codec)`
	insertValues = `VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// writeSQL are the writer's statements, prepared once on its connection.
var writeSQL = struct {
	savepoint, release, rollbackTo string
	insert, upsert                 string
	conflicts                      string
	byExternal, owned              string
	update, delete                 string
	keyInsert, keySelect           string
	countCreation                  string
}{
	savepoint:  `SAVEPOINT req`,
	release:    `RELEASE req`,
	rollbackTo: `ROLLBACK TO req`,
	insert:     `INSERT INTO meetings ` + insertCols + ` ` + insertValues,
	// The conflict target names the partial unique index, WHERE and all:
	// only that constraint does nothing; the id and join meeting id ones
	// still fail the statement.
	upsert: `INSERT INTO meetings ` + insertCols + ` ` + insertValues + `
		ON CONFLICT (tenant_id, user_id, external_id) WHERE external_id IS NOT NULL DO NOTHING`,
	conflicts: `SELECT
		EXISTS (SELECT 1 FROM meetings WHERE id = ?),
		EXISTS (SELECT 1 FROM meetings WHERE join_meeting_id = ?),
		EXISTS (SELECT 1 FROM meetings WHERE tenant_id = ? AND user_id = ? AND external_id = ?)`,
	byExternal: `SELECT ` + meetingCols + ` FROM meetings
		WHERE tenant_id = ? AND user_id = ? AND external_id = ?`,
	owned: `SELECT ` + meetingCols + ` FROM meetings
		WHERE id = ? AND tenant_id = ? AND user_id = ?`,
	update:    `UPDATE meetings SET attendees = ?, resource = ?, resource_codec = ? WHERE id = ?`,
	delete:    `DELETE FROM meetings WHERE id = ? AND tenant_id = ? AND user_id = ?`,
	keyInsert: `INSERT OR IGNORE INTO keys (name, value) VALUES (?, ?)`,
	keySelect: `SELECT value FROM keys WHERE name = ?`,
	// Adds one creation to the owner's month unless that reaches past the
	// quota (the last parameter): then the statement changes no row. The
	// first creation of a month inserts the row with 1, which any quota
	// allows.
	countCreation: `INSERT INTO creations (tenant_id, user_id, month, n) VALUES (?, ?, ?, 1)
		ON CONFLICT (tenant_id, user_id, month) DO UPDATE SET n = n + 1 WHERE n < ?`,
}

// writeStmts are writeSQL's statements prepared on the write pool.
type writeStmts struct {
	savepoint, release, rollbackTo *sql.Stmt
	insert, upsert                 *sql.Stmt
	conflicts                      *sql.Stmt
	byExternal, owned              *sql.Stmt
	update, delete                 *sql.Stmt
	keyInsert, keySelect           *sql.Stmt
	countCreation                  *sql.Stmt
}

// readSQL are the read pool's statements. List's keyset condition is a
// row-value comparison, which SQLite answers from the owner index in its
// order (checked by TestQueryPlans).
var readSQL = struct {
	get                               string
	findByID, findByJoinID, findByURL string
	list, listAfter                   string
	key, ping                         string
	creations                         string
}{
	get:          writeSQL.owned,
	findByID:     `SELECT ` + meetingCols + ` FROM meetings WHERE id = ?`,
	findByJoinID: `SELECT ` + meetingCols + ` FROM meetings WHERE join_meeting_id = ?`,
	findByURL:    `SELECT ` + meetingCols + ` FROM meetings WHERE join_web_url = ?`,
	list: `SELECT ` + meetingCols + ` FROM meetings
		WHERE tenant_id = ? AND user_id = ?
		ORDER BY creation_date_time DESC, id DESC LIMIT ?`,
	listAfter: `SELECT ` + meetingCols + ` FROM meetings
		WHERE tenant_id = ? AND user_id = ? AND (creation_date_time, id) < (?, ?)
		ORDER BY creation_date_time DESC, id DESC LIMIT ?`,
	key:       writeSQL.keySelect,
	ping:      `SELECT max(version) FROM schema_migrations`,
	creations: `SELECT n FROM creations WHERE tenant_id = ? AND user_id = ? AND month = ?`,
}

// readStmts are readSQL's statements prepared on the read pool (on each
// connection as it first runs them).
type readStmts struct {
	get                               *sql.Stmt
	findByID, findByJoinID, findByURL *sql.Stmt
	list, listAfter                   *sql.Stmt
	key, ping                         *sql.Stmt
	creations                         *sql.Stmt
}

// prepare prepares each pair's query on db into its destination.
func prepare(ctx context.Context, db *sql.DB, pairs ...stmtPair) error {
	for _, p := range pairs {
		st, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.query, err)
		}
		*p.dst = st
	}
	return nil
}

// stmtPair is one statement to prepare: its text and where it goes.
type stmtPair struct {
	dst   **sql.Stmt
	query string
}

// prepareAll prepares the writer's and the readers' statements.
func (s *Store) prepareAll(ctx context.Context) error {
	w, r := &s.stmts, &s.rstmts
	q, rq := &writeSQL, &readSQL
	if err := prepare(ctx, s.wdb,
		stmtPair{&w.savepoint, q.savepoint}, stmtPair{&w.release, q.release}, stmtPair{&w.rollbackTo, q.rollbackTo},
		stmtPair{&w.insert, q.insert}, stmtPair{&w.upsert, q.upsert}, stmtPair{&w.conflicts, q.conflicts},
		stmtPair{&w.byExternal, q.byExternal}, stmtPair{&w.owned, q.owned},
		stmtPair{&w.update, q.update}, stmtPair{&w.delete, q.delete},
		stmtPair{&w.keyInsert, q.keyInsert}, stmtPair{&w.keySelect, q.keySelect},
		stmtPair{&w.countCreation, q.countCreation},
	); err != nil {
		return err
	}
	return prepare(ctx, s.rdb,
		stmtPair{&r.get, rq.get}, stmtPair{&r.findByID, rq.findByID}, stmtPair{&r.findByJoinID, rq.findByJoinID},
		stmtPair{&r.findByURL, rq.findByURL}, stmtPair{&r.list, rq.list}, stmtPair{&r.listAfter, rq.listAfter},
		stmtPair{&r.key, rq.key}, stmtPair{&r.ping, rq.ping}, stmtPair{&r.creations, rq.creations},
	)
}

// encodeAttendees returns the attendees column for as: nil (NULL) when
// there are none, else each tenant and user id as a uvarint length and the
// bytes, in order. Unlike JSON this keeps any string exactly, invalid UTF-8
// included.
func encodeAttendees(as []store.Owner) []byte {
	if len(as) == 0 {
		return nil
	}
	var b []byte
	for _, a := range as {
		b = binary.AppendUvarint(b, uint64(len(a.TenantID)))
		b = append(b, a.TenantID...)
		b = binary.AppendUvarint(b, uint64(len(a.UserID)))
		b = append(b, a.UserID...)
	}
	return b
}

// decodeAttendees reverses encodeAttendees; nil for none.
func decodeAttendees(b []byte) ([]store.Owner, error) {
	var as []store.Owner
	next := func() (string, error) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return "", errors.New("sqlite: corrupt attendees column")
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, nil
	}
	for len(b) > 0 {
		t, err := next()
		if err != nil {
			return nil, err
		}
		u, err := next()
		if err != nil {
			return nil, err
		}
		as = append(as, store.Owner{TenantID: t, UserID: u})
	}
	return as, nil
}

// scanMeeting reads one row of meetingCols.
func scanMeeting(scan func(dest ...any) error) (*store.Meeting, error) {
	var (
		m          store.Meeting
		externalID sql.NullString
		created    int64
		attendees  []byte
		resource   []byte
		codec      sql.NullInt64
	)
	err := scan(&m.ID, &m.Owner.TenantID, &m.Owner.UserID, &externalID, &m.JoinMeetingID, &m.JoinWebURL,
		&created, &attendees, &resource, &codec)
	if err != nil {
		return nil, err
	}
	m.ExternalID = externalID.String
	m.CreationDateTime = time.Unix(0, created).UTC()
	if m.Attendees, err = decodeAttendees(attendees); err != nil {
		return nil, err
	}
	if m.Resource, err = decodeResource(resource, codec); err != nil {
		return nil, fmt.Errorf("meeting %q: %w", m.ID, err)
	}
	return &m, nil
}

// insertArgs returns the values of insertCols for m, whose resource is
// stored as res (encodeResource of m.Resource). An empty ExternalID is
// stored as NULL, so the partial unique index leaves it out.
func insertArgs(m *store.Meeting, res storedResource) []any {
	var externalID any // NULL
	if m.ExternalID != "" {
		externalID = m.ExternalID
	}
	return []any{m.ID, m.Owner.TenantID, m.Owner.UserID, externalID, m.JoinMeetingID, m.JoinWebURL,
		m.CreationDateTime.UnixNano(), encodeAttendees(m.Attendees), res.blob, res.codec}
}

// checkNew returns an error if m cannot be stored at all.
func checkNew(m *store.Meeting) error {
	if m == nil {
		return errors.New("nil meeting")
	}
	if t := m.CreationDateTime; t.Before(minTime) || t.After(maxTime) {
		return fmt.Errorf("creation time %v out of range", t)
	}
	return nil
}

// clone returns a deep copy of m as the store returns it: UTC time, nil
// for no attendees, a non-nil Resource.
func clone(m *store.Meeting) *store.Meeting {
	c := cloneKeys(m)
	c.Resource = bytes.Clone(m.Resource)
	if c.Resource == nil {
		c.Resource = []byte{}
	}
	return c
}

// cloneKeys is clone without the Resource, which it leaves nil.
func cloneKeys(m *store.Meeting) *store.Meeting {
	c := *m
	c.CreationDateTime = m.CreationDateTime.UTC()
	c.Resource = nil
	c.Attendees = nil
	if len(m.Attendees) > 0 {
		c.Attendees = slices.Clone(m.Attendees)
	}
	return &c
}

// insert stores m in w's transaction, mapping a unique violation to the
// contract's sentinel.
func (w *writeTx) insert(op string, m *store.Meeting, res storedResource) error {
	_, err := w.exec(w.stmts.insert, insertArgs(m, res)...)
	if err != nil {
		return w.insertErr(op, m, err)
	}
	return nil
}

// monthOf is the creations.month of t: its UTC year and month.
func monthOf(t time.Time) string { return t.UTC().Format("2006-01") }

// count adds m to its owner's creations in the month of its creation time,
// in w's transaction, or returns ErrQuotaExceeded when the owner already
// has q.PerMonth there. Without a quota it does nothing. The caller has
// inserted m in the same savepoint, which the writer rolls back on the
// error, so a refused meeting is neither stored nor counted.
func (w *writeTx) count(op string, m *store.Meeting, q store.Quota) error {
	if q.PerMonth <= 0 {
		return nil
	}
	res, err := w.exec(w.stmts.countCreation, m.Owner.TenantID, m.Owner.UserID, monthOf(m.CreationDateTime), q.PerMonth)
	if err != nil {
		return fmt.Errorf("sqlite: %s: count creation: %w", op, mapErr(w.ctx, err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: %s: count creation: %w", op, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: %s %q: %w", op, m.ID, store.ErrQuotaExceeded)
	}
	return nil
}

// insertErr maps the error of an INSERT of m. A unique violation aborted
// that statement only; the driver's result code says only that some unique
// constraint failed (its message names columns in prose we will not
// parse), so insertErr asks the table which, in the writer's transaction:
// it holds the write lock and sees the batch's earlier rows, so the answer
// is exact.
func (w *writeTx) insertErr(op string, m *store.Meeting, err error) error {
	if !isUniqueViolation(err) {
		return fmt.Errorf("sqlite: %s: %w", op, mapErr(w.ctx, err))
	}
	var idTaken, joinIDTaken, externalTaken bool
	qerr := w.queryRow(w.stmts.conflicts, m.ID, m.JoinMeetingID, m.Owner.TenantID, m.Owner.UserID, m.ExternalID).
		Scan(&idTaken, &joinIDTaken, &externalTaken)
	switch {
	case qerr != nil:
		return fmt.Errorf("sqlite: %s: %w (after %w)", op, mapErr(w.ctx, qerr), err)
	case idTaken:
		return undone{fmt.Errorf("sqlite: %s %q: %w", op, m.ID, store.ErrIDTaken)}
	case joinIDTaken:
		return undone{fmt.Errorf("sqlite: %s %q: %w", op, m.ID, store.ErrJoinMeetingIDTaken)}
	case externalTaken:
		return undone{fmt.Errorf("sqlite: %s %q: %w", op, m.ID, store.ErrExternalIDTaken)}
	default:
		return undone{fmt.Errorf("sqlite: %s: %w", op, err)}
	}
}

// Create stores m and returns once the transaction holding it has
// committed (see Group commit in the package documentation). It returns
// ErrIDTaken, ErrJoinMeetingIDTaken or ErrExternalIDTaken when those are
// in use, ErrQuotaExceeded when m's owner has used up q in its month, an
// error wrapping ErrUnavailable when the database stays locked beyond the
// busy timeout, ctx's error when ctx ends before the writer took the
// request, and ErrClosed after Close. Only a nil error means m is stored
// (and, under a quota, counted). Create does not keep m: the caller may
// reuse it once Create returns.
func (s *Store) Create(ctx context.Context, m *store.Meeting, q store.Quota) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkNew(m); err != nil {
		return fmt.Errorf("sqlite: create: %w", err)
	}
	return s.submit(ctx, createReq(m, q))
}

// createReq returns the writer's request to store a copy of m under q.
// The resource is compressed here, in the caller's goroutine, so the
// writer does none of that work.
func createReq(m *store.Meeting, q store.Quota) *writeReq {
	res := encodeResource(m.Resource)
	c := cloneKeys(m) // nothing reads c.Resource: the row gets res
	// Without a quota a create is the INSERT alone.
	return &writeReq{op: "create", oneStatement: q.PerMonth <= 0, run: func(w *writeTx) error {
		if err := w.insert("create", c, res); err != nil {
			return err
		}
		return w.count("create", c, q)
	}}
}

// CreateOrGet stores m unless its owner has a meeting with m.ExternalID,
// in the writer's transaction: INSERT ... ON CONFLICT DO NOTHING on the
// owner's external id, then, if that stored nothing, SELECT the meeting
// that is there. The writer is the only one writing, so nothing can come
// between the two. A stored meeting counts under q as Create's does; when
// the quota refuses it, the savepoint's rollback takes the row away again.
func (s *Store) CreateOrGet(ctx context.Context, m *store.Meeting, q store.Quota) (stored *store.Meeting, created bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if err := checkNew(m); err != nil {
		return nil, false, fmt.Errorf("sqlite: create or get: %w", err)
	}
	if m.ExternalID == "" {
		return nil, false, errors.New("sqlite: create or get: empty external id")
	}
	c := clone(m)
	enc := encodeResource(c.Resource)
	const op = "create or get"
	err = s.submit(ctx, &writeReq{op: op, run: func(w *writeTx) error {
		stored, created = nil, false
		res, err := w.exec(w.stmts.upsert, insertArgs(c, enc)...)
		if err != nil {
			if isUniqueViolation(err) { // id or join meeting id, unless the owner's meeting is there too
				if existing, gerr := w.byExternal(c); gerr == nil {
					stored = existing
					return nil
				}
			}
			return w.insertErr(op, c, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		} else if n == 1 {
			if err := w.count(op, c, q); err != nil {
				return err
			}
			stored, created = clone(c), true
			return nil
		}
		existing, err := w.byExternal(c)
		if err != nil {
			return fmt.Errorf("sqlite: %s: read existing meeting: %w", op, mapErr(w.ctx, err))
		}
		stored = existing
		return nil
	}})
	if err != nil {
		return nil, false, err
	}
	return stored, created, nil
}

// byExternal reads the owner's meeting with m's external id.
func (w *writeTx) byExternal(m *store.Meeting) (*store.Meeting, error) {
	return scanMeeting(w.queryRow(w.stmts.byExternal, m.Owner.TenantID, m.Owner.UserID, m.ExternalID).Scan)
}

// Update reads owner's meeting, calls fn and writes the result, all in the
// writer's transaction: fn runs in the writer goroutine, so it must be
// quick and must not block. Updates of one meeting are serialised by the
// writer itself. fn's error is returned as is, a panic in fn as an error of
// this Update only; either way its savepoint is rolled back.
func (s *Store) Update(ctx context.Context, owner store.Owner, id string, fn func(*store.Meeting) error) (*store.Meeting, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var stored *store.Meeting
	err := s.submit(ctx, &writeReq{op: "update", run: func(w *writeTx) (err error) {
		stored, err = w.update(owner, id, fn)
		return err
	}})
	if err != nil {
		return nil, err
	}
	return stored, nil
}

// update is Update's work in the writer's transaction.
func (w *writeTx) update(owner store.Owner, id string, fn func(*store.Meeting) error) (*store.Meeting, error) {
	const op = "update"
	old, err := scanMeeting(w.queryRow(w.stmts.owned, id, owner.TenantID, owner.UserID).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, mapErr(w.ctx, err))
	}
	c := clone(old)
	if err := fn(c); err != nil {
		return nil, err
	}
	if !sameKeys(old, c) {
		return nil, fmt.Errorf("sqlite: %s %q: %w", op, id, store.ErrImmutable)
	}
	c = clone(c) // fn may keep references to what it set
	res := encodeResource(c.Resource)
	if _, err := w.exec(w.stmts.update, encodeAttendees(c.Attendees), res.blob, res.codec, id); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, mapErr(w.ctx, err))
	}
	return c, nil
}

// sameKeys reports whether a and b agree on every field Update must not
// change.
func sameKeys(a, b *store.Meeting) bool {
	return a.ID == b.ID && a.Owner == b.Owner && a.ExternalID == b.ExternalID &&
		a.JoinMeetingID == b.JoinMeetingID && a.JoinWebURL == b.JoinWebURL &&
		a.CreationDateTime.Equal(b.CreationDateTime)
}

// Delete removes owner's meeting id through the writer, so it is durable
// when Delete returns nil; ErrNotFound when owner has no such meeting.
func (s *Store) Delete(ctx context.Context, owner store.Owner, id string) error {
	return s.submit(ctx, &writeReq{op: "delete", run: func(w *writeTx) error {
		res, err := w.exec(w.stmts.delete, id, owner.TenantID, owner.UserID)
		if err != nil {
			return fmt.Errorf("sqlite: delete: %w", mapErr(w.ctx, err))
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: delete: %w", err)
		} else if n == 0 {
			return store.ErrNotFound
		}
		return nil
	}})
}

// Key returns the secret stored under name from the read pool, or, the
// first time, has the writer store 32 random bytes with INSERT OR IGNORE
// and read back what is there: whichever process or call inserted first,
// every caller gets the same key.
func (s *Store) Key(ctx context.Context, name string) ([]byte, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("sqlite: key: %w", store.ErrClosed)
	}
	var key []byte
	err := s.rstmts.key.QueryRowContext(ctx, name).Scan(&key)
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, s.readErr(ctx, "key", err)
	}
	fresh := make([]byte, 32)
	rand.Read(fresh) // never fails
	err = s.submit(ctx, &writeReq{op: "key", run: func(w *writeTx) error {
		key = nil
		if _, err := w.exec(w.stmts.keyInsert, name, fresh); err != nil {
			return fmt.Errorf("sqlite: key: %w", mapErr(w.ctx, err))
		}
		if err := w.queryRow(w.stmts.keySelect, name).Scan(&key); err != nil {
			return fmt.Errorf("sqlite: key: %w", mapErr(w.ctx, err))
		}
		return nil
	}})
	if err != nil {
		return nil, err
	}
	return key, nil
}

// Creations reads owner's count of creations in the UTC month of month
// from the read pool; 0 when there is no row.
func (s *Store) Creations(ctx context.Context, owner store.Owner, month time.Time) (int, error) {
	if s.closed.Load() {
		return 0, fmt.Errorf("sqlite: creations: %w", store.ErrClosed)
	}
	var n int
	err := s.rstmts.creations.QueryRowContext(ctx, owner.TenantID, owner.UserID, monthOf(month)).Scan(&n)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, s.readErr(ctx, "creations", err)
	}
	return n, nil
}

// Get returns owner's meeting with the given id, or ErrNotFound when there
// is none (including when the id belongs to another owner). Any string is a
// valid id to look up.
func (s *Store) Get(ctx context.Context, owner store.Owner, id string) (*store.Meeting, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("sqlite: get: %w", store.ErrClosed)
	}
	m, err := scanMeeting(s.rstmts.get.QueryRowContext(ctx, id, owner.TenantID, owner.UserID).Scan)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, store.ErrNotFound
	case err != nil:
		return nil, s.readErr(ctx, "get", err)
	}
	return m, nil
}

// Find looks the meetings up by the one field q sets, through its index
// (for JoinWebURL, the index of its hash, comparing the full URL in the
// row), and keeps those viewer owns or attends, newest first.
func (s *Store) Find(ctx context.Context, viewer store.Owner, q store.Lookup) ([]*store.Meeting, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("sqlite: find: %w", store.ErrClosed)
	}
	var (
		st   *sql.Stmt
		args []any
		n    int
	)
	if q.ID != "" {
		st, args, n = s.rstmts.findByID, []any{q.ID}, n+1
	}
	if q.JoinMeetingID != "" {
		st, args, n = s.rstmts.findByJoinID, []any{q.JoinMeetingID}, n+1
	}
	if q.JoinWebURL != "" {
		st, args, n = s.rstmts.findByURL, []any{q.JoinWebURL}, n+1
	}
	if n != 1 {
		return nil, fmt.Errorf("sqlite: find: lookup must set exactly one field, has %d", n)
	}
	ms, err := s.query(ctx, "find", st, args...)
	if err != nil {
		return nil, err
	}
	found := ms[:0]
	for _, m := range ms {
		if m.Owner == viewer || slices.Contains(m.Attendees, viewer) {
			found = append(found, m)
		}
	}
	slices.SortFunc(found, func(a, b *store.Meeting) int {
		if c := b.CreationDateTime.Compare(a.CreationDateTime); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID) // byte order, as SQLite's BINARY collation
	})
	return found, nil
}

// List returns up to p.Limit of owner's meetings after p.After, newest
// first, by a keyset query on the owner index.
func (s *Store) List(ctx context.Context, owner store.Owner, p store.Page) ([]*store.Meeting, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("sqlite: list: %w", store.ErrClosed)
	}
	if p.Limit < 1 || p.Limit > 1000 {
		return nil, fmt.Errorf("sqlite: list: limit %d not in 1..1000", p.Limit)
	}
	switch {
	case p.After == nil || p.After.CreationDateTime.After(maxTime): // every stored meeting is older
		return s.query(ctx, "list", s.rstmts.list, owner.TenantID, owner.UserID, p.Limit)
	case p.After.CreationDateTime.Before(minTime): // none is
		return []*store.Meeting{}, nil
	}
	return s.query(ctx, "list", s.rstmts.listAfter, owner.TenantID, owner.UserID,
		p.After.CreationDateTime.UnixNano(), p.After.ID, p.Limit)
}

// query runs st on the read pool and returns the meetings of its rows,
// never nil.
func (s *Store) query(ctx context.Context, op string, st *sql.Stmt, args ...any) ([]*store.Meeting, error) {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, s.readErr(ctx, op, err)
	}
	defer rows.Close()
	ms := []*store.Meeting{}
	for rows.Next() {
		m, err := scanMeeting(rows.Scan)
		if err != nil {
			return nil, s.readErr(ctx, op, err)
		}
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, s.readErr(ctx, op, err)
	}
	return ms, nil
}
