package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/onlinemeetings/onlinemeetings/store"
)

// States of a writeReq. The writer moves a request from queued to taken,
// a caller whose context ends moves it from queued to abandoned; whichever
// compare-and-swap wins decides whether the request runs.
const (
	reqQueued int32 = iota
	reqTaken
	reqAbandoned
)

// writeReq is one write (Create, CreateOrGet, Update, Delete, or making a
// Key) waiting for the writer.
type writeReq struct {
	// op names the Store method, for error messages.
	op string
	// run does the request's work in the writer's transaction, inside a
	// savepoint of its own, and returns the caller's error. It may run
	// more than once (when the batch's transaction has to be redone), so
	// it sets every result it has on each run; the caller reads them only
	// after done delivered nil.
	run func(w *writeTx) error
	// oneStatement says run executes a single statement whose failure
	// leaves nothing behind: SQLite undoes a failed statement by itself (a
	// unique violation, under the default ON CONFLICT ABORT, aborts the
	// statement, not the transaction), so the writer runs it without a
	// savepoint, saving two of its three statements. A plain Create without
	// a quota is such a request.
	oneStatement bool
	state        atomic.Int32
	done         chan error // buffered: the writer never blocks on a caller
}

// writeTx is the writer's view of one batch transaction: the transaction
// and the statements prepared for the write connection, bound to it on
// first use.
type writeTx struct {
	ctx   context.Context
	tx    *sql.Tx
	stmts *writeStmts
	bound map[*sql.Stmt]*sql.Stmt
}

// stmt returns the transaction's instance of s, a statement prepared on the
// write pool. database/sql reuses the connection's prepared statement, so
// this costs no SQLite prepare after the first transaction.
func (w *writeTx) stmt(s *sql.Stmt) *sql.Stmt {
	b := w.bound[s]
	if b == nil {
		b = w.tx.StmtContext(w.ctx, s)
		w.bound[s] = b
	}
	return b
}

// exec runs the prepared statement s with args in the transaction.
func (w *writeTx) exec(s *sql.Stmt, args ...any) (sql.Result, error) {
	return w.stmt(s).ExecContext(w.ctx, args...)
}

// queryRow runs the prepared statement s with args in the transaction.
func (w *writeTx) queryRow(s *sql.Stmt, args ...any) *sql.Row {
	return w.stmt(s).QueryRowContext(w.ctx, args...)
}

// close releases the transaction's statements (not the connection's
// prepared ones).
func (w *writeTx) close() {
	for _, b := range w.bound {
		b.Close()
	}
}

// submit queues r for the writer and waits for its outcome. It returns
// ctx's error if ctx ends before the writer took r (r then never runs),
// and ErrClosed after Close; once the writer has taken r it waits for the
// commit, so the error it returns always tells what was stored.
func (s *Store) submit(ctx context.Context, r *writeReq) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.done = make(chan error, 1)

	s.mu.RLock()
	if s.closed.Load() {
		s.mu.RUnlock()
		return fmt.Errorf("sqlite: %s: %w", r.op, store.ErrClosed)
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

// writeLoop is the writer goroutine: it commits queued requests in batches
// until Close closes reqs and every queued request has been answered.
//
// It keeps an OS thread of its own (runtime.LockOSThread) for its whole
// life. Under the load script (sqlite create, 8 alternating rounds) that
// cut the server's CPU per create from 163 to 151 µs and raised the ratio
// to the bare handler from 0.149× to 0.157×; raising the thread's priority
// as well (nice -10) gained nothing more. The likely reason, not measured
// apart: the writer spends about half its time blocked in fsync, and
// without its own thread it resumes after each one on whichever thread the
// scheduler has free, away from the caches that hold SQLite's pages and
// its own state.
func (s *Store) writeLoop() {
	defer close(s.writerDone)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	batch := make([]*writeReq, 0, s.maxBatch)
	for r := range s.reqs {
		batch = take(batch[:0], r)
	gather:
		for len(batch) < s.maxBatch {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break gather
				}
				batch = take(batch, r)
			default: // nothing else queued: do not wait for more
				break gather
			}
		}
		if len(batch) > 0 {
			s.commit(batch)
		}
		clear(batch) // drop references to answered requests
	}
}

// take appends r to batch unless its caller has already given up.
func take(batch []*writeReq, r *writeReq) []*writeReq {
	if r.state.CompareAndSwap(reqQueued, reqTaken) {
		batch = append(batch, r)
	}
	return batch
}

// commit runs batch in as few transactions as it can and answers every
// request once its fate is sealed. Normally that is one transaction; see
// the package documentation for how one request's failure is kept from the
// others.
func (s *Store) commit(batch []*writeReq) {
	errs := make([]error, len(batch))
	pending := make([]int, len(batch)) // indexes into batch still to run
	for i := range pending {
		pending[i] = i
	}
	for len(pending) > 0 {
		failed, err := s.tryCommit(batch, pending, errs)
		if err == nil {
			break
		}
		if failed < 0 { // BEGIN or COMMIT failed: nothing was stored
			for _, i := range pending {
				errs[i] = err
			}
			break
		}
		errs[pending[failed]] = err
		pending = slices.Delete(pending, failed, failed+1)
	}
	for i, r := range batch {
		r.done <- errs[i]
	}
}

// tryCommit runs the requests batch[pending] in one transaction, each in a
// savepoint, and sets their entries in errs to what each returned: a
// request that fails is rolled back to its savepoint, leaving the others'
// work in place. It returns a nil error once the transaction has
// committed. Otherwise it has rolled back and returns either the position
// in pending of the request whose failure took the transaction with it
// (SQLite rolls back the whole transaction on some errors, such as I/O
// errors or RAISE(ROLLBACK); the savepoint is then gone), or -1 when BEGIN
// or COMMIT failed, or the database file is no longer at its path
// (checkFile), when nothing was stored.
//
// The writer's statements run under context.Background: they serve many
// callers, none of whom may cancel the others' work; lock waits are bounded
// by busy_timeout.
func (s *Store) tryCommit(batch []*writeReq, pending []int, errs []error) (failed int, err error) {
	s.txMu.Lock() // see Store.checkpoint
	defer s.txMu.Unlock()
	if err := s.checkFile(); err != nil {
		return -1, fmt.Errorf("sqlite: write: %w", err)
	}
	ctx := context.Background()
	tx, err := s.wdb.BeginTx(ctx, nil) // BEGIN IMMEDIATE, from the DSN
	if err != nil {
		return -1, fmt.Errorf("sqlite: write: begin: %w", mapErr(ctx, err))
	}
	w := &writeTx{ctx: ctx, tx: tx, stmts: &s.stmts, bound: make(map[*sql.Stmt]*sql.Stmt)}
	defer w.close()
	defer func() {
		if err != nil {
			tx.Rollback() // may fail when SQLite already rolled back; nothing to do
		}
	}()

	for k, i := range pending {
		r := batch[i]
		if r.oneStatement {
			rerr := run(r, w)
			var u undone
			if rerr != nil && !errors.As(rerr, &u) {
				// Without a savepoint the writer cannot tell whether
				// SQLite took the transaction with the statement (an I/O
				// error might); it assumes so and runs the rest again.
				return k, rerr
			}
			errs[i] = unwrapUndone(rerr)
			continue
		}
		if _, err := w.exec(s.stmts.savepoint); err != nil {
			return k, fmt.Errorf("sqlite: %s: savepoint: %w", r.op, mapErr(ctx, err))
		}
		rerr := run(r, w)
		if rerr != nil {
			if _, err := w.exec(s.stmts.rollbackTo); err != nil {
				// The transaction is gone with the savepoint.
				return k, rerr
			}
		}
		if _, err := w.exec(s.stmts.release); err != nil {
			return k, fmt.Errorf("sqlite: %s: release savepoint: %w", r.op, mapErr(ctx, err))
		}
		errs[i] = unwrapUndone(rerr)
	}
	if err := tx.Commit(); err != nil {
		return -1, fmt.Errorf("sqlite: write: commit: %w", mapErr(ctx, err))
	}
	s.commits.Add(1)
	s.signalCheckpoint()
	return -1, nil
}

// undone wraps the error of a statement that SQLite rolled back by itself,
// leaving the transaction as it was (a unique violation): a oneStatement
// request that fails with it lets the writer go on with the batch. The
// writer unwraps it before the caller sees it.
type undone struct{ error }

func (u undone) Unwrap() error { return u.error }

// unwrapUndone returns err without an undone wrapper.
func unwrapUndone(err error) error {
	if u, ok := err.(undone); ok {
		return u.error
	}
	return err
}

// run runs r in w, returning a panic (of an Update's function, say) as
// r's error so the writer goes on serving the others.
func run(r *writeReq, w *writeTx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("sqlite: %s: panic: %v", r.op, v)
		}
	}()
	return r.run(w)
}

// isUniqueViolation reports whether err is SQLite rejecting a row for a
// PRIMARY KEY or UNIQUE constraint. With the default ON CONFLICT ABORT these
// undo only the failing statement, never the transaction.
func isUniqueViolation(err error) bool {
	switch resultCode(err) {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return true
	}
	return false
}
