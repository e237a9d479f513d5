package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/onlinemeetings/onlinemeetings/store"
)

// States of a createReq. The writer moves a request from queued to taken,
// a caller whose context ends moves it from queued to abandoned; whichever
// compare-and-swap wins decides whether the request runs.
const (
	reqQueued int32 = iota
	reqTaken
	reqAbandoned
)

// createReq is one Create waiting for the writer.
type createReq struct {
	m     store.Meeting
	state atomic.Int32
	done  chan error // buffered: the writer never blocks on a caller
}

// writeLoop is the writer goroutine: it commits queued requests in batches
// until Close closes reqs and every queued request has been answered.
func (s *Store) writeLoop() {
	defer close(s.writerDone)
	batch := make([]*createReq, 0, s.maxBatch)
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
func take(batch []*createReq, r *createReq) []*createReq {
	if r.state.CompareAndSwap(reqQueued, reqTaken) {
		batch = append(batch, r)
	}
	return batch
}

// commit stores batch in as few transactions as it can and answers every
// request once its fate is sealed. Normally that is one transaction; see
// the package documentation for how one request's failure is kept from the
// others.
func (s *Store) commit(batch []*createReq) {
	errs := make([]error, len(batch))
	pending := make([]int, len(batch)) // indexes into batch still to store
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

// insertSQL stores one meeting. An empty ExternalID is stored as NULL (see
// the schema).
const insertSQL = `INSERT INTO meetings
	(id, tenant_id, user_id, external_id, join_meeting_id, join_web_url, creation_date_time, resource)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

// tryCommit runs one transaction inserting the meetings of batch[pending]
// and sets their entries in errs: nil when stored, the sentinel when a
// unique constraint rejected the meeting. It returns a nil error once the
// transaction has committed. Otherwise it has rolled back and returns
// either the position in pending of the request whose INSERT failed for
// another reason, or -1 when the transaction as a whole failed.
//
// The writer's statements run under context.Background: they serve many
// callers, none of whom may cancel the others' work; lock waits are bounded
// by busy_timeout.
func (s *Store) tryCommit(batch []*createReq, pending []int, errs []error) (failed int, err error) {
	s.txMu.Lock() // see Store.checkpoint
	defer s.txMu.Unlock()
	ctx := context.Background()
	tx, err := s.wdb.BeginTx(ctx, nil) // BEGIN IMMEDIATE, from the DSN
	if err != nil {
		return -1, fmt.Errorf("sqlite: create: begin: %w", mapErr(ctx, err))
	}
	defer func() {
		if err != nil {
			tx.Rollback() // may fail when SQLite already rolled back; nothing to do
		}
	}()
	insert, err := tx.PrepareContext(ctx, insertSQL)
	if err != nil {
		return -1, fmt.Errorf("sqlite: create: %w", mapErr(ctx, err))
	}
	defer insert.Close()

	for k, i := range pending {
		m := &batch[i].m
		var externalID any // NULL
		if m.ExternalID != "" {
			externalID = m.ExternalID
		}
		resource := m.Resource
		if resource == nil {
			resource = []byte{} // NOT NULL; nil would bind as NULL
		}
		_, err := insert.ExecContext(ctx, m.ID, m.Owner.TenantID, m.Owner.UserID, externalID,
			m.JoinMeetingID, m.JoinWebURL, m.CreationDateTime.UnixNano(), resource)
		if err == nil {
			errs[i] = nil
			continue
		}
		if !isUniqueViolation(err) {
			return k, fmt.Errorf("sqlite: create: %w", mapErr(ctx, err))
		}
		// SQLite aborted this statement only; the transaction goes on.
		conflict, qerr := whichConflict(ctx, tx, m)
		if qerr != nil {
			return k, fmt.Errorf("sqlite: create: %w (after %w)", mapErr(ctx, qerr), err)
		}
		errs[i] = conflict
	}
	if err := tx.Commit(); err != nil {
		return -1, fmt.Errorf("sqlite: create: commit: %w", mapErr(ctx, err))
	}
	s.commits.Add(1)
	s.signalCheckpoint()
	return -1, nil
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

// whichConflict tells which unique value of m is taken, after its INSERT
// failed on a unique constraint. The driver's result code says only that
// some unique constraint failed (and its message names columns in prose we
// will not parse), so it asks the table. It runs in the writer's
// transaction, which holds the write lock and sees the batch's earlier
// rows, so the answer is exact.
func whichConflict(ctx context.Context, tx *sql.Tx, m *store.Meeting) (error, error) {
	var idTaken, joinIDTaken, urlTaken bool
	err := tx.QueryRowContext(ctx, `SELECT
			EXISTS (SELECT 1 FROM meetings WHERE id = ?),
			EXISTS (SELECT 1 FROM meetings WHERE join_meeting_id = ?),
			EXISTS (SELECT 1 FROM meetings WHERE join_web_url = ?)`,
		m.ID, m.JoinMeetingID, m.JoinWebURL).Scan(&idTaken, &joinIDTaken, &urlTaken)
	switch {
	case err != nil:
		return nil, err
	case idTaken:
		return fmt.Errorf("sqlite: create: %w", store.ErrIDTaken), nil
	case joinIDTaken:
		return fmt.Errorf("sqlite: create: %w", store.ErrJoinMeetingIDTaken), nil
	case urlTaken:
		return errors.New("sqlite: create: join web url already in use"), nil
	default: // the only other unique key
		return errors.New("sqlite: create: external id already in use by this owner"), nil
	}
}
