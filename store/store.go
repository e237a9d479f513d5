// Package store defines how onlineMeetings persists meetings: one Store
// contract, its Meeting type and sentinel errors. Implementations live in
// subpackages (memory, sqlite, postgres) and all pass the conformance suite
// in store/storetest, so the handlers can rely on the behaviour described
// here whichever implementation is configured.
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
	// ErrExternalIDTaken means the owner already has a meeting with the
	// same ExternalID (Create only; CreateOrGet returns that meeting).
	ErrExternalIDTaken = errors.New("store: external id already in use by this owner")
	// ErrImmutable means an Update's function changed a field the store
	// keys on (ID, Owner, ExternalID, JoinMeetingID, JoinWebURL,
	// CreationDateTime); nothing is stored.
	ErrImmutable = errors.New("store: immutable meeting field changed")
	// ErrClosed means the store has been closed.
	ErrClosed = errors.New("store: closed")
	// ErrQuotaExceeded means the meeting's owner has already created
	// Quota.PerMonth meetings in the UTC month of its CreationDateTime
	// (Create and CreateOrGet, when they would store a meeting); nothing
	// is stored and nothing is counted.
	ErrQuotaExceeded = errors.New("store: monthly creation quota exceeded")
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
// The store indexes the fields it needs to answer queries (ID, Owner,
// ExternalID, JoinMeetingID, JoinWebURL, CreationDateTime, Attendees),
// enforces uniqueness where this contract says so, and keeps the whole
// resource, as the handlers render it, in Resource. The store treats
// Resource as opaque bytes: it never parses it.
type Meeting struct {
	// ID is the Graph id of the meeting, unique across the store.
	ID string
	// Owner is the organizer.
	Owner Owner
	// ExternalID is the createOrGet key; empty for meetings made by create.
	ExternalID string
	// JoinMeetingID is the numeric meeting id users dial, unique across the store.
	JoinMeetingID string
	// JoinWebURL is the join link. The handlers build it from the thread id
	// inside ID, so it is unique in practice; the store does not enforce
	// that (Find returns every match).
	JoinWebURL string
	// CreationDateTime is when the meeting was created, in UTC.
	CreationDateTime time.Time
	// Attendees are the invited attendees who may read the meeting (Get by
	// Find, and the $filter lookups) besides its owner: each user's tenant
	// and object id, tenant filled in by the handlers. Order is kept;
	// nil and empty are the same.
	Attendees []Owner
	// Resource is the onlineMeeting resource as JSON.
	Resource []byte
}

// Lookup selects meetings for Find by exactly one of its fields.
type Lookup struct {
	ID            string
	JoinWebURL    string
	JoinMeetingID string
}

// Cursor is a position in an owner's list of meetings, ordered newest first:
// by CreationDateTime descending, then ID descending (byte order).
type Cursor struct {
	CreationDateTime time.Time
	ID               string
}

// Page asks List for at most Limit meetings, starting right after After
// (from the newest when After is nil).
type Page struct {
	Limit int
	After *Cursor
}

// Quota limits how many meetings one owner may create per calendar month
// (UTC), as Microsoft Graph caps meeting creations per user per month. The
// store enforces it when it stores a meeting, in the same transaction as
// the insert, so concurrent creations (on several replicas too) never
// exceed it, and it keeps the count (see Store.Creations), so the limit
// holds across restarts.
//
// Every meeting Create or CreateOrGet stores under a quota counts, in the
// month of its CreationDateTime; a CreateOrGet that returns an existing
// meeting does not count, and Delete gives nothing back.
type Quota struct {
	// PerMonth is the most meetings an owner may create in one month. 0
	// means no quota: nothing is enforced and nothing is counted, so a
	// server without a quota pays nothing for it, and a quota turned on
	// mid-month counts from then on.
	PerMonth int
}

// Store persists meetings. All methods are safe for concurrent use.
type Store interface {
	// Create stores m. It returns only once the meeting is durably committed
	// (it survives a crash of the process), so a caller may acknowledge it.
	// It returns ErrIDTaken if a meeting with m.ID exists,
	// ErrJoinMeetingIDTaken if another meeting has m.JoinMeetingID,
	// ErrExternalIDTaken if m.ExternalID is set and the owner has a meeting
	// with it, and ErrQuotaExceeded if q.PerMonth > 0 and m.Owner has
	// created q.PerMonth meetings in the month of m.CreationDateTime; in
	// all cases nothing is stored and nothing is counted. Otherwise, under
	// a quota, the meeting counts in that month (see Quota).
	Create(ctx context.Context, m *Meeting, q Quota) error

	// Get returns owner's meeting with the given id, or ErrNotFound when
	// there is none (including when the id belongs to another owner or is
	// not a valid id at all, e.g. holds a NUL byte).
	Get(ctx context.Context, owner Owner, id string) (*Meeting, error)

	// CreateOrGet stores m unless owner m.Owner already has a meeting with
	// m.ExternalID (which must not be empty). It returns the stored meeting
	// and created=true when it stored m, or the existing meeting unchanged
	// and created=false. Concurrent calls with one (owner, ExternalID) all
	// return the same meeting, exactly one of them with created=true: the
	// store decides by a unique constraint, never check-then-insert, and is
	// still right when the meeting is deleted between its steps.
	// ErrIDTaken and ErrJoinMeetingIDTaken as for Create; durable as Create.
	// Under a quota q, storing m counts as Create does, and ErrQuotaExceeded
	// is returned only when m would be stored: an existing meeting is
	// returned whatever the count, and does not count.
	CreateOrGet(ctx context.Context, m *Meeting, q Quota) (stored *Meeting, created bool, err error)

	// Creations returns how many meetings owner created under a quota (see
	// Quota) in the UTC calendar month that contains month; 0 when none.
	// It is the count Create and CreateOrGet compare with Quota.PerMonth,
	// read without changing it, so callers can refuse a creation early
	// (Graph answers an over-quota caller 429 before reading the body).
	Creations(ctx context.Context, owner Owner, month time.Time) (int, error)

	// Find returns the meetings that match q and that viewer owns or is
	// listed in Attendees of, newest first (as List orders them); an empty
	// slice when there are none. q must set exactly one field.
	Find(ctx context.Context, viewer Owner, q Lookup) ([]*Meeting, error)

	// List returns up to p.Limit (1..1000) of owner's meetings after
	// p.After, newest first (see Cursor), by keyset, never by offset: a
	// meeting created or deleted between two pages neither shifts nor
	// repeats the others.
	List(ctx context.Context, owner Owner, p Page) ([]*Meeting, error)

	// Update reads owner's meeting id, calls fn with a copy of it, and
	// stores what fn leaves there, in one transaction: concurrent Updates of
	// one meeting are serialised (each fn sees the previous one's result),
	// so changes to different parts of the resource all persist. fn may
	// change Resource and Attendees only (else ErrImmutable); if fn returns
	// an error, nothing is stored and Update returns that error as is. fn
	// may be called more than once (on retry) and must not block. Returns
	// the stored meeting once durable; ErrNotFound as Get.
	Update(ctx context.Context, owner Owner, id string, fn func(*Meeting) error) (*Meeting, error)

	// Delete removes owner's meeting id, durably before it returns, or
	// returns ErrNotFound as Get does. Its ExternalID becomes free again.
	Delete(ctx context.Context, owner Owner, id string) error

	// Key returns the secret stored under name, 32 random bytes made on the
	// first call and the same for every later call and every process that
	// opens the same store (replicas), e.g. to sign paging tokens.
	Key(ctx context.Context, name string) ([]byte, error)

	// Ping reports whether the store can answer queries; nil means ready.
	Ping(ctx context.Context) error

	// Close releases the store's resources. Calls after Close return ErrClosed.
	Close() error
}
