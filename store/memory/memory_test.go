package memory_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/onlinemeetings/onlinemeetings/store"
	"github.com/onlinemeetings/onlinemeetings/store/memory"
	"github.com/onlinemeetings/onlinemeetings/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := memory.New()
		t.Cleanup(func() { s.Close() }) // ErrClosed when the test closed it
		return s
	})
}

// TestUpdatePanics checks that a panic in Update's function becomes
// Update's error, stores nothing, and leaves the store usable (its mutex
// unlocked).
func TestUpdatePanics(t *testing.T) {
	s := memory.New()
	defer s.Close()
	ctx := t.Context()
	owner := store.Owner{TenantID: "tenant", UserID: "user"}
	m := storetest.NewMeeting(owner, 0)
	if err := s.Create(ctx, m, store.Quota{}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Update(ctx, owner, m.ID, func(u *store.Meeting) error {
		u.Resource = []byte("lost")
		panic("boom")
	})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Update(fn panics) = %v, want an error with the panic", err)
	}
	got, err := s.Get(ctx, owner, m.ID)
	if err != nil || !bytes.Equal(got.Resource, m.Resource) {
		t.Fatalf("Get after the panic = %v, %v; want the meeting unchanged", got, err)
	}
	if _, err := s.Update(ctx, owner, m.ID, func(u *store.Meeting) error { u.Resource = []byte("{}"); return nil }); err != nil {
		t.Errorf("Update after a panic = %v, want nil", err)
	}
}

// BenchmarkCreate measures Create alone and from many goroutines, for
// comparison with the SQLite store's group commit. Building the meeting is
// part of the measured loop, as in the SQLite benchmark.
func BenchmarkCreate(b *testing.B) {
	owner := store.Owner{TenantID: "tenant", UserID: "user"}
	b.Run("Sequential", func(b *testing.B) {
		s := memory.New()
		defer s.Close()
		for i := 0; b.Loop(); i++ {
			if err := s.Create(context.Background(), storetest.NewMeeting(owner, i), store.Quota{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		s := memory.New()
		defer s.Close()
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.Create(context.Background(), storetest.NewMeeting(owner, 0), store.Quota{}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
