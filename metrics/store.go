package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/onlinemeetings/onlinemeetings/store"
)

var errorsIs = errors.Is

// timedStore is a store.Store that times every call of the one it wraps.
type timedStore struct {
	st store.Store
	m  *Metrics
}

var _ store.Store = (*timedStore)(nil)

func (s *timedStore) Create(ctx context.Context, m *store.Meeting, q store.Quota) (err error) {
	defer func(start time.Time) { s.m.observeStore("Create", start, err) }(time.Now())
	return s.st.Create(ctx, m, q)
}

func (s *timedStore) Get(ctx context.Context, owner store.Owner, id string) (_ *store.Meeting, err error) {
	defer func(start time.Time) { s.m.observeStore("Get", start, err) }(time.Now())
	return s.st.Get(ctx, owner, id)
}

func (s *timedStore) CreateOrGet(ctx context.Context, m *store.Meeting, q store.Quota) (_ *store.Meeting, _ bool, err error) {
	defer func(start time.Time) { s.m.observeStore("CreateOrGet", start, err) }(time.Now())
	return s.st.CreateOrGet(ctx, m, q)
}

func (s *timedStore) Creations(ctx context.Context, owner store.Owner, month time.Time) (_ int, err error) {
	defer func(start time.Time) { s.m.observeStore("Creations", start, err) }(time.Now())
	return s.st.Creations(ctx, owner, month)
}

func (s *timedStore) Find(ctx context.Context, viewer store.Owner, q store.Lookup) (_ []*store.Meeting, err error) {
	defer func(start time.Time) { s.m.observeStore("Find", start, err) }(time.Now())
	return s.st.Find(ctx, viewer, q)
}

func (s *timedStore) List(ctx context.Context, owner store.Owner, p store.Page) (_ []*store.Meeting, err error) {
	defer func(start time.Time) { s.m.observeStore("List", start, err) }(time.Now())
	return s.st.List(ctx, owner, p)
}

func (s *timedStore) Update(ctx context.Context, owner store.Owner, id string, fn func(*store.Meeting) error) (_ *store.Meeting, err error) {
	defer func(start time.Time) { s.m.observeStore("Update", start, err) }(time.Now())
	return s.st.Update(ctx, owner, id, fn)
}

func (s *timedStore) Delete(ctx context.Context, owner store.Owner, id string) (err error) {
	defer func(start time.Time) { s.m.observeStore("Delete", start, err) }(time.Now())
	return s.st.Delete(ctx, owner, id)
}

func (s *timedStore) Key(ctx context.Context, name string) (_ []byte, err error) {
	defer func(start time.Time) { s.m.observeStore("Key", start, err) }(time.Now())
	return s.st.Key(ctx, name)
}

func (s *timedStore) Ping(ctx context.Context) (err error) {
	defer func(start time.Time) { s.m.observeStore("Ping", start, err) }(time.Now())
	return s.st.Ping(ctx)
}

func (s *timedStore) Close() error { return s.st.Close() }
