// Package memory is a store.Store kept in process memory: fast, with no
// setup, for tests and local development. Nothing survives a restart, so it
// does not keep the durability half of the Create contract across a crash
// and must not back a deployment that acknowledges meetings to real users.
package memory

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/onlinemeetings/onlinemeetings/store"
)

// externalKey is the createOrGet key: ExternalID is unique per owner.
type externalKey struct {
	owner      store.Owner
	externalID string
}

// creationKey is one owner's month, as Quota counts creations.
type creationKey struct {
	owner store.Owner
	month string // "2006-01", UTC
}

// creationKeyOf is the key of owner's creations in t's UTC month.
func creationKeyOf(owner store.Owner, t time.Time) creationKey {
	return creationKey{owner, t.UTC().Format("2006-01")}
}

// Store is a map-based store.Store guarded by one mutex. It copies meetings
// on the way in and out, so callers can never change stored state through
// a pointer they hold.
type Store struct {
	mu         sync.RWMutex
	closed     bool
	byID       map[string]*store.Meeting
	joinIDs    map[string]string              // JoinMeetingID -> ID
	joinURLs   map[string]map[string]struct{} // JoinWebURL -> IDs (not unique)
	externalID map[externalKey]string
	byOwner    map[store.Owner]map[string]struct{} // owner -> IDs
	keys       map[string][]byte
	creations  map[creationKey]int // under a quota; never decreases
}

var _ store.Store = (*Store)(nil)

// New returns an empty, open Store.
func New() *Store {
	return &Store{
		byID:       make(map[string]*store.Meeting),
		joinIDs:    make(map[string]string),
		joinURLs:   make(map[string]map[string]struct{}),
		externalID: make(map[externalKey]string),
		byOwner:    make(map[store.Owner]map[string]struct{}),
		keys:       make(map[string][]byte),
		creations:  make(map[creationKey]int),
	}
}

// clone returns a deep copy of m with CreationDateTime in UTC, as the
// SQLite store returns it, and empty Attendees as nil.
func clone(m *store.Meeting) *store.Meeting {
	c := *m
	c.CreationDateTime = m.CreationDateTime.UTC()
	c.Resource = bytes.Clone(m.Resource)
	c.Attendees = nil
	if len(m.Attendees) > 0 {
		c.Attendees = slices.Clone(m.Attendees)
	}
	return &c
}

// Create stores a copy of m. It returns ErrIDTaken, ErrJoinMeetingIDTaken,
// ErrExternalIDTaken or ErrQuotaExceeded as the contract says, and ctx's
// error if ctx is already done; in all those cases nothing is stored.
func (s *Store) Create(ctx context.Context, m *store.Meeting, q store.Quota) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m == nil {
		return errors.New("memory: create: nil meeting")
	}
	c := clone(m)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	if c.ExternalID != "" && s.externalID[externalKey{c.Owner, c.ExternalID}] != "" {
		return fmt.Errorf("memory: create %q: %w", c.ID, store.ErrExternalIDTaken)
	}
	if err := s.insertLocked(c, q); err != nil {
		return fmt.Errorf("memory: create %q: %w", c.ID, err)
	}
	return nil
}

// CreateOrGet stores a copy of m unless its owner already has a meeting
// with m.ExternalID, which it then returns unchanged with created=false.
// The lock makes the check, the quota and the insert one step.
func (s *Store) CreateOrGet(ctx context.Context, m *store.Meeting, q store.Quota) (*store.Meeting, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if m == nil {
		return nil, false, errors.New("memory: create or get: nil meeting")
	}
	if m.ExternalID == "" {
		return nil, false, errors.New("memory: create or get: empty external id")
	}
	c := clone(m)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false, store.ErrClosed
	}
	if id := s.externalID[externalKey{c.Owner, c.ExternalID}]; id != "" {
		return clone(s.byID[id]), false, nil
	}
	if err := s.insertLocked(c, q); err != nil {
		return nil, false, fmt.Errorf("memory: create or get %q: %w", c.ID, err)
	}
	return clone(c), true, nil
}

// insertLocked adds c, which the store then owns, to every map after
// checking the store-wide unique keys and the owner's quota q, and counts
// it under q; the caller holds the write lock and has checked the owner's
// ExternalID.
func (s *Store) insertLocked(c *store.Meeting, q store.Quota) error {
	switch {
	case s.byID[c.ID] != nil:
		return store.ErrIDTaken
	case s.joinIDs[c.JoinMeetingID] != "":
		return store.ErrJoinMeetingIDTaken
	}
	if q.PerMonth > 0 {
		k := creationKeyOf(c.Owner, c.CreationDateTime)
		if s.creations[k] >= q.PerMonth {
			return store.ErrQuotaExceeded
		}
		s.creations[k]++
	}
	s.byID[c.ID] = c
	s.joinIDs[c.JoinMeetingID] = c.ID
	addTo(s.joinURLs, c.JoinWebURL, c.ID)
	addTo(s.byOwner, c.Owner, c.ID)
	if c.ExternalID != "" {
		s.externalID[externalKey{c.Owner, c.ExternalID}] = c.ID
	}
	return nil
}

// addTo adds id to the set m[k], making the set if needed.
func addTo[K comparable](m map[K]map[string]struct{}, k K, id string) {
	set := m[k]
	if set == nil {
		set = make(map[string]struct{})
		m[k] = set
	}
	set[id] = struct{}{}
}

// removeFrom removes id from the set m[k], dropping the set once empty.
func removeFrom[K comparable](m map[K]map[string]struct{}, k K, id string) {
	delete(m[k], id)
	if len(m[k]) == 0 {
		delete(m, k)
	}
}

// Creations returns how many meetings owner created under a quota in the
// UTC month of month.
func (s *Store) Creations(ctx context.Context, owner store.Owner, month time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, store.ErrClosed
	}
	return s.creations[creationKeyOf(owner, month)], nil
}

// Get returns a copy of owner's meeting with the given id, or ErrNotFound
// when there is none (including when the id belongs to another owner).
func (s *Store) Get(ctx context.Context, owner store.Owner, id string) (*store.Meeting, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	m := s.ownedLocked(owner, id)
	if m == nil {
		return nil, store.ErrNotFound
	}
	return clone(m), nil
}

// ownedLocked returns owner's stored meeting id, or nil; the caller holds
// the lock.
func (s *Store) ownedLocked(owner store.Owner, id string) *store.Meeting {
	if m := s.byID[id]; m != nil && m.Owner == owner {
		return m
	}
	return nil
}

// Find returns copies of the meetings matching q that viewer owns or
// attends, newest first; an empty slice when there are none.
func (s *Store) Find(ctx context.Context, viewer store.Owner, q store.Lookup) ([]*store.Meeting, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkLookup(q); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	var ids []string
	switch {
	case q.ID != "":
		ids = []string{q.ID}
	case q.JoinMeetingID != "":
		ids = []string{s.joinIDs[q.JoinMeetingID]}
	default:
		for id := range s.joinURLs[q.JoinWebURL] {
			ids = append(ids, id)
		}
	}
	found := []*store.Meeting{}
	for _, id := range ids {
		if m := s.byID[id]; m != nil && mayView(m, viewer) {
			found = append(found, clone(m))
		}
	}
	slices.SortFunc(found, newestFirst)
	return found, nil
}

// checkLookup returns an error unless q sets exactly one field.
func checkLookup(q store.Lookup) error {
	n := 0
	for _, f := range []string{q.ID, q.JoinWebURL, q.JoinMeetingID} {
		if f != "" {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("memory: find: lookup must set exactly one field, has %d", n)
	}
	return nil
}

// mayView reports whether viewer owns m or is one of its attendees.
func mayView(m *store.Meeting, viewer store.Owner) bool {
	return m.Owner == viewer || slices.Contains(m.Attendees, viewer)
}

// newestFirst orders meetings as List returns them: by CreationDateTime
// descending, then ID descending.
func newestFirst(a, b *store.Meeting) int {
	if c := b.CreationDateTime.Compare(a.CreationDateTime); c != 0 {
		return c
	}
	return cmp.Compare(b.ID, a.ID)
}

// List returns copies of up to p.Limit of owner's meetings after p.After,
// newest first. It sorts the owner's meetings on every call: simple, and
// fast enough for the tests and development this store is for.
func (s *Store) List(ctx context.Context, owner store.Owner, p store.Page) ([]*store.Meeting, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if p.Limit < 1 || p.Limit > 1000 {
		return nil, fmt.Errorf("memory: list: limit %d not in 1..1000", p.Limit)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	var all []*store.Meeting
	for id := range s.byOwner[owner] {
		m := s.byID[id]
		if p.After == nil || newestFirst(m, &store.Meeting{ID: p.After.ID, CreationDateTime: p.After.CreationDateTime}) > 0 {
			all = append(all, m)
		}
	}
	slices.SortFunc(all, newestFirst)
	page := make([]*store.Meeting, 0, min(p.Limit, len(all)))
	for _, m := range all[:min(p.Limit, len(all))] {
		page = append(page, clone(m))
	}
	return page, nil
}

// Update calls fn on a copy of owner's meeting id under the write lock and
// stores the copy if fn succeeds and changed only Resource and Attendees.
// A panic in fn is returned as an error; the lock is released either way.
func (s *Store) Update(ctx context.Context, owner store.Owner, id string, fn func(*store.Meeting) error) (*store.Meeting, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	old := s.ownedLocked(owner, id)
	if old == nil {
		return nil, store.ErrNotFound
	}
	c := clone(old)
	if err := callUpdate(fn, c); err != nil {
		return nil, err
	}
	if !sameKeys(old, c) {
		return nil, fmt.Errorf("memory: update %q: %w", id, store.ErrImmutable)
	}
	c = clone(c) // fn may keep a reference to what it changed
	s.byID[id] = c
	return clone(c), nil
}

// sameKeys reports whether a and b agree on every field Update must not
// change.
func sameKeys(a, b *store.Meeting) bool {
	return a.ID == b.ID && a.Owner == b.Owner && a.ExternalID == b.ExternalID &&
		a.JoinMeetingID == b.JoinMeetingID && a.JoinWebURL == b.JoinWebURL &&
		a.CreationDateTime.Equal(b.CreationDateTime)
}

// callUpdate calls fn(m), turning a panic into an error.
func callUpdate(fn func(*store.Meeting) error, m *store.Meeting) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("memory: update %q: panic in update function: %v", m.ID, v)
		}
	}()
	return fn(m)
}

// Delete removes owner's meeting id, or returns ErrNotFound.
func (s *Store) Delete(ctx context.Context, owner store.Owner, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	m := s.ownedLocked(owner, id)
	if m == nil {
		return store.ErrNotFound
	}
	delete(s.byID, id)
	delete(s.joinIDs, m.JoinMeetingID)
	removeFrom(s.joinURLs, m.JoinWebURL, id)
	removeFrom(s.byOwner, m.Owner, id)
	if m.ExternalID != "" {
		delete(s.externalID, externalKey{m.Owner, m.ExternalID})
	}
	return nil
}

// Key returns the 32 random bytes stored under name, made on the first
// call. They live as long as the Store: another process, or a new Store,
// has other keys.
func (s *Store) Key(ctx context.Context, name string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	k := s.keys[name]
	if k == nil {
		k = make([]byte, 32)
		rand.Read(k) // never fails
		s.keys[name] = k
	}
	return bytes.Clone(k), nil
}

// Ping returns nil while the store is open and ErrClosed after Close.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	return nil
}

// Close drops every meeting. It returns ErrClosed if the store is already
// closed, as every other call after Close does.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	s.closed = true
	s.byID, s.joinIDs, s.joinURLs, s.externalID, s.byOwner, s.keys, s.creations = nil, nil, nil, nil, nil, nil, nil
	return nil
}
