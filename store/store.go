// Package store defines how onlineMeetings persists meetings: one Store
// contract, its Meeting type and sentinel errors. Implementations live in
// subpackages (memory, sqlite) and all pass the conformance suite in
// store/storetest, so the handlers can rely on the behaviour described here
// whichever implementation is configured.
//
// The store never imports the API types (gen) or Echo: the handlers translate
// between the wire format and Meeting.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors returned by every Store implementation. Callers match them
// with errors.Is; implementations may wrap them with more detail.
var (
	// ErrNotFound means no meeting matched (unknown id, or another owner's).
	ErrNotFound = errors.New("store: meeting not found")
	// ErrIDTaken means a meeting with the same ID already exists.
	ErrIDTaken = errors.New("store: meeting id already in use")
	// ErrJoinMeetingIDTaken means another meeting already has the same
	// JoinMeetingID; the caller draws a new one and retries.
	ErrJoinMeetingIDTaken = errors.New("store: join meeting id already in use")
	// ErrUnavailable means the store could not answer now (busy, locked,
	// down); the request may succeed when retried. It maps to HTTP 503.
	ErrUnavailable = errors.New("store: temporarily unavailable")
	// ErrClosed means the store has been closed.
	ErrClosed = errors.New("store: closed")
)

// Owner identifies whose meeting it is: the organizer's tenant id and user
// object id (Entra ID's tid and oid claims). Two users, or one oid in two
// tenants, never see each other's meetings.
type Owner struct {
	TenantID string
	UserID   string
}

// Meeting is one stored online meeting.
//
// The store indexes and enforces uniqueness on the fields it needs to answer
// queries (ID, Owner, ExternalID, JoinMeetingID, JoinWebURL,
// CreationDateTime) and keeps the whole resource, as the handlers render it,
// in Resource. The store treats Resource as opaque bytes: it never parses it.
type Meeting struct {
	// ID is the Graph id of the meeting, unique across the store.
	ID string
	// Owner is the organizer.
	Owner Owner
	// ExternalID is the createOrGet key; empty for meetings made by create.
	ExternalID string
	// JoinMeetingID is the numeric meeting id users dial, unique across the store.
	JoinMeetingID string
	// JoinWebURL is the join link, unique across the store.
	JoinWebURL string
	// CreationDateTime is when the meeting was created, in UTC.
	CreationDateTime time.Time
	// Resource is the onlineMeeting resource as JSON.
	Resource []byte
}

// Store persists meetings. All methods are safe for concurrent use.
type Store interface {
	// Create stores m. It returns only once the meeting is durably committed
	// (it survives a crash of the process), so a caller may acknowledge it.
	// It returns ErrIDTaken if a meeting with m.ID exists, and
	// ErrJoinMeetingIDTaken if another meeting has m.JoinMeetingID; in both
	// cases nothing is stored.
	Create(ctx context.Context, m *Meeting) error

	// Get returns owner's meeting with the given id, or ErrNotFound when
	// there is none (including when the id belongs to another owner).
	Get(ctx context.Context, owner Owner, id string) (*Meeting, error)

	// Ping reports whether the store can answer queries; nil means ready.
	Ping(ctx context.Context) error

	// Close releases the store's resources. Calls after Close return ErrClosed.
	Close() error
}
