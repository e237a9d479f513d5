package memory_test

import (
	"context"
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

// BenchmarkCreate measures Create alone and from many goroutines, for
// comparison with the SQLite store's group commit. Building the meeting is
// part of the measured loop, as in the SQLite benchmark.
func BenchmarkCreate(b *testing.B) {
	owner := store.Owner{TenantID: "tenant", UserID: "user"}
	b.Run("Sequential", func(b *testing.B) {
		s := memory.New()
		defer s.Close()
		for i := 0; b.Loop(); i++ {
			if err := s.Create(context.Background(), storetest.NewMeeting(owner, i)); err != nil {
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
				if err := s.Create(context.Background(), storetest.NewMeeting(owner, 0)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
