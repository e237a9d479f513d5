package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/onlinemeetings/onlinemeetings/store"
)

// uniqueConstraints maps the names of the unique constraints and indexes
// of the meetings table (see migrations/) to the store's errors.
var uniqueConstraints = map[string]error{
	"meetings_pkey":                store.ErrIDTaken,
	"meetings_join_meeting_id_key": store.ErrJoinMeetingIDTaken,
	"meetings_external_id_key":     store.ErrExternalIDTaken,
}

// mapErr turns an error of operation op into what the store promises (see
// the package documentation): store sentinels pass through, no rows becomes
// ErrNotFound, a unique violation its sentinel, a transient failure an
// error wrapping ErrUnavailable, and the rest a plain error. All are
// prefixed with "postgres: op: " and keep the original error in the chain.
func mapErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if pgErr.Code == "23505" { // unique_violation
			if sentinel, ok := uniqueConstraints[pgErr.ConstraintName]; ok {
				return fmt.Errorf("postgres: %s: %w", op, sentinel)
			}
			return fmt.Errorf("postgres: %s: %w", op, err)
		}
		if transientState(pgErr.Code) {
			return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrUnavailable, err)
		}
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	if errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("postgres: %s: %w", op, err) // the caller gave up
	}
	if connectionLost(err) {
		return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// transientState reports whether an error with SQLSTATE code may not
// recur when the call is retried a little later.
func transientState(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), // connection exception
		strings.HasPrefix(code, "53"): // insufficient resources: too many connections, disk full, out of memory
		return true
	}
	switch code {
	case "57014", // query_canceled: statement_timeout
		"57P01", // admin_shutdown
		"57P02", // crash_shutdown
		"57P03", // cannot_connect_now: starting up or shutting down
		"57P05", // idle_session_timeout
		"25P03", // idle_in_transaction_session_timeout
		"40001", // serialization_failure
		"40P01", // deadlock_detected
		"55P03", // lock_not_available
		"55000", // object_not_in_prerequisite_state, e.g. a hot standby not yet accepting
		"25006", // read_only_sql_transaction: connected to a standby after a failover
		"58030": // io_error
		return true
	}
	return false
}

// retryable reports whether err is a serialisation failure or deadlock,
// after which the whole transaction may simply run again.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// connectionLost reports whether err means the database could not be
// reached or the connection broke: timeouts (dial, acquire, deadline),
// connect failures and network errors.
func connectionLost(err error) bool {
	var (
		connectErr *pgconn.ConnectError
		netErr     net.Error
	)
	return errors.Is(err, context.DeadlineExceeded) ||
		pgconn.Timeout(err) ||
		pgconn.SafeToRetry(err) ||
		errors.As(err, &connectErr) ||
		errors.As(err, &netErr) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}
