// Package memory is a store.Store kept in process memory: fast, with no
// setup, for tests and local development. Nothing survives a restart, so it
// does not keep the durability half of the Create contract across a crash
// and must not back a deployment that acknowledges meetings to real users.
package memory

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/onlinemeetings/onlinemeetings/store"
)

// externalKey is the createOrGet key: ExternalID is unique per owner.
type externalKey struct {
	owner      store.Owner
	externalID string
}

// Store is a map-based store.Store guarded by one mutex. It copies meetings
// on the way in and out, so callers can never change stored state through
// a pointer they hold.
type Store struct {
	mu         sync.RWMutex
	closed     bool
	byID       map[string]*store.Meeting
	joinIDs    map[string]string // JoinMeetingID -> ID
	joinURLs   map[string]string // JoinWebURL -> ID
	externalID map[externalKey]string
}

var _ store.Store = (*Store)(nil)

// New returns an empty, open Store.
func New() *Store {
	return &Store{
		byID:       make(map[string]*store.Meeting),
		joinIDs:    make(map[string]string),
		joinURLs:   make(map[string]string),
		externalID: make(map[externalKey]string),
	}
}

// clone returns a deep copy of m with CreationDateTime in UTC, as the
// SQLite store returns it.
func clone(m *store.Meeting) *store.Meeting {
	c := *m
	c.CreationDateTime = m.CreationDateTime.UTC()
	c.Resource = bytes.Clone(m.Resource)
	return &c
}

// Create stores a copy of m. It returns ErrIDTaken or ErrJoinMeetingIDTaken
// as the contract says, an unwrapped error when the JoinWebURL or the
// owner's ExternalID is in use, and ctx's error if ctx is already done; in
// all those cases nothing is stored.
func (s *Store) Create(ctx context.Context, m *store.Meeting) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m == nil {
		return fmt.Errorf("memory: create: nil meeting")
	}
	c := clone(m)
	ext := externalKey{c.Owner, c.ExternalID}

	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return store.ErrClosed
	case s.byID[c.ID] != nil:
		return fmt.Errorf("memory: create %q: %w", c.ID, store.ErrIDTaken)
	case s.joinIDs[c.JoinMeetingID] != "":
		return fmt.Errorf("memory: create %q: %w", c.ID, store.ErrJoinMeetingIDTaken)
	case s.joinURLs[c.JoinWebURL] != "":
		return fmt.Errorf("memory: create %q: join web url already in use", c.ID)
	case c.ExternalID != "" && s.externalID[ext] != "":
		return fmt.Errorf("memory: create %q: external id already in use by this owner", c.ID)
	}
	s.byID[c.ID] = c
	s.joinIDs[c.JoinMeetingID] = c.ID
	s.joinURLs[c.JoinWebURL] = c.ID
	if c.ExternalID != "" {
		s.externalID[ext] = c.ID
	}
	return nil
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
	m := s.byID[id]
	if m == nil || m.Owner != owner {
		return nil, store.ErrNotFound
	}
	return clone(m), nil
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
	s.byID, s.joinIDs, s.joinURLs, s.externalID = nil, nil, nil, nil
	return nil
}
