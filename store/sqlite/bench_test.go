package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onlinemeetings/onlinemeetings/store"
	"github.com/onlinemeetings/onlinemeetings/store/storetest"
)

// BenchmarkCreate measures Create one at a time, and from many goroutines
// (32 per CPU with and without group commit, and 16 in all). Every Create
// is a durable commit (synchronous=FULL), so the numbers depend on the
// disk's fsync latency. The Prefilled variants start from a database of
// benchPrefill meetings of many owners with random join meeting ids, as a
// server's database is after a while: there every random-key index dirties
// a page of its own per insert, which a small fresh database hides. The
// Quota variant also counts every creation under a quota never reached.
func BenchmarkCreate(b *testing.B) {
	b.Run("Sequential", func(b *testing.B) {
		s := openBench(b)
		for i := 0; b.Loop(); i++ {
			if err := s.Create(context.Background(), storetest.NewMeeting(owner, i), store.Quota{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	tmpl := newTemplate(b)
	parallel := func(callers int, prefilled bool, q store.Quota, newMeeting func(int) *store.Meeting, opts ...Option) func(b *testing.B) {
		return func(b *testing.B) {
			var s *Store
			if prefilled {
				s, _ = tmpl.open(b, opts...)
			} else {
				s = openBench(b, opts...)
			}
			// RunParallel starts parallelism × GOMAXPROCS goroutines.
			b.SetParallelism(max(1, callers/runtime.GOMAXPROCS(0)))
			before := s.commits.Load()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := s.Create(context.Background(), newMeeting(0), q); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/float64(s.commits.Load()-before), "creates/commit")
		}
	}
	plain := func(i int) *store.Meeting { return storetest.NewMeeting(owner, i) }
	// 32 callers per CPU, far more than a server's connection count.
	none := store.Quota{}
	b.Run("Parallel", parallel(32*runtime.GOMAXPROCS(0), false, none, plain))
	b.Run("ParallelNoGroupCommit", parallel(32*runtime.GOMAXPROCS(0), false, none, plain, WithMaxBatch(1)))
	// 16 concurrent callers (exactly, when GOMAXPROCS divides 16), like a
	// load test with 16 connections.
	b.Run("Parallel16", parallel(16, false, none, plain))
	b.Run("Parallel16Quota", parallel(16, false, store.Quota{PerMonth: 1 << 30}, plain))
	b.Run("ParallelPrefilled", parallel(32*runtime.GOMAXPROCS(0), true, none, benchMeeting))
	b.Run("Parallel16Prefilled", parallel(16, true, none, benchMeeting))
	b.Run("Parallel16PrefilledQuota", parallel(16, true, store.Quota{PerMonth: 1 << 30}, benchMeeting))
}

// BenchmarkUpdate measures Updates that rewrite a meeting's resource, of
// random meetings of a prefilled database, one at a time and from 32
// goroutines per CPU.
func BenchmarkUpdate(b *testing.B) {
	update := func(m *store.Meeting) error {
		m.Resource = append(m.Resource[:len(m.Resource)-1], ` `...)
		m.Resource = append(m.Resource, '}')
		return nil
	}
	tmpl := newTemplate(b)
	run := func(callers int) func(b *testing.B) {
		return func(b *testing.B) {
			s, ms := tmpl.open(b)
			var next atomic.Int64
			b.SetParallelism(max(1, callers/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					m := ms[scatter(next.Add(1))%int64(len(ms))]
					if _, err := s.Update(context.Background(), m.Owner, m.ID, update); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
	}
	b.Run("Sequential", run(1))
	b.Run("Parallel", run(32*runtime.GOMAXPROCS(0)))
}

// BenchmarkGet measures Get of random meetings of a prefilled database
// from 32 goroutines per CPU, and List of one owner's first page.
func BenchmarkGet(b *testing.B) {
	s, ms := newTemplate(b).open(b)
	b.Run("Parallel", func(b *testing.B) {
		var next atomic.Int64
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m := ms[scatter(next.Add(1))%int64(len(ms))]
				if _, err := s.Get(context.Background(), m.Owner, m.ID); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("List", func(b *testing.B) {
		var next atomic.Int64
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m := ms[scatter(next.Add(1))%int64(len(ms))]
				if _, err := s.List(context.Background(), m.Owner, store.Page{Limit: 20}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkWAL measures what the writer writes: the WAL frames (pages) one
// Create, and one Update, adds to the WAL, in batches of 32 in a prefilled
// database. Unlike the time a commit takes, which depends on the disk's
// fsync and whatever else the machine does, the frame counts are exact, so
// they compare schemas even on a busy machine. Each op is one batch.
func BenchmarkWAL(b *testing.B) {
	const batchSize = 32
	tmpl := newTemplate(b)
	cfg := defaultCheckpointConfig
	cfg.interval = time.Hour // the frames are counted and reset by hand
	run := func(b *testing.B, req func(i int, ms []*store.Meeting) *writeReq) {
		s, ms := tmpl.open(b, withCheckpoints(cfg))
		frames := 0
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			if _, err := s.walCheckpoint("TRUNCATE"); err != nil {
				b.Fatal(err)
			}
			reqs := make([]*writeReq, batchSize)
			for k := range reqs {
				reqs[k] = req(i*batchSize+k, ms)
			}
			b.StartTimer()
			for _, err := range runBatch(s, reqs...) {
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			r, err := s.walCheckpoint("PASSIVE")
			if err != nil {
				b.Fatal(err)
			}
			frames += r.log
			b.StartTimer()
		}
		b.ReportMetric(float64(frames)/float64(b.N*batchSize), "frames/write")
	}
	b.Run("Create", func(b *testing.B) {
		run(b, func(int, []*store.Meeting) *writeReq { return createReq(benchMeeting(0), store.Quota{}) })
	})
	b.Run("Update", func(b *testing.B) {
		run(b, func(i int, ms []*store.Meeting) *writeReq {
			m := ms[scatter(int64(i))%int64(len(ms))]
			return &writeReq{op: "update", run: func(w *writeTx) error {
				_, err := w.update(m.Owner, m.ID, func(u *store.Meeting) error {
					u.Resource = append(u.Resource[:len(u.Resource)-1], " }"...)
					return nil
				})
				return err
			}}
		})
	})
}

// benchPrefill is the number of meetings the Prefilled benchmarks start
// with.
const benchPrefill = 100_000

// benchOwners is how many owners benchMeeting spreads meetings over.
const benchOwners = 1000

var benchSeq atomic.Int64

// scatter maps n one to one onto [0, 10^13) in an order that looks random,
// as the handlers' join meeting ids are: 10^13 and the odd multiplier,
// not a multiple of 5, are coprime.
func scatter(n int64) int64 {
	const mod = 10_000_000_000_000
	return int64((uint64(n) * 0x5851F42D4C957F2D % mod))
}

// benchMeeting returns a meeting of one of benchOwners owners with a
// random-looking join meeting id, as a server's meetings are.
func benchMeeting(int) *store.Meeting {
	n := benchSeq.Add(1)
	o := store.Owner{TenantID: owner.TenantID, UserID: fmt.Sprintf("user-%04d", scatter(n)%benchOwners)}
	m := storetest.NewMeeting(o, int(n))
	m.JoinMeetingID = fmt.Sprintf("%013d", scatter(n))
	return m
}

// template is a database of benchPrefill benchMeetings that benchmarks
// copy, so that each starts from the same state without waiting for the
// fill.
type template struct {
	path string
	ms   []*store.Meeting
}

// newTemplate fills a template in b's temporary directory, in large
// transactions and with a large page cache, quicker than Create would.
func newTemplate(b *testing.B) *template {
	b.Helper()
	t := &template{path: filepath.Join(b.TempDir(), "template.db")}
	s, err := Open(context.Background(), t.path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.wdb.Exec("PRAGMA cache_size = -262144"); err != nil { // 256 MiB, on the one write connection
		b.Fatal(err)
	}
	for i := range benchPrefill {
		t.ms = append(t.ms, benchMeeting(i))
	}
	for start := 0; start < len(t.ms); start += 5000 {
		var batch []*writeReq
		for _, m := range t.ms[start:min(len(t.ms), start+5000)] {
			r := createReq(m, store.Quota{})
			r.done = make(chan error, 1)
			r.state.Store(reqTaken)
			batch = append(batch, r)
		}
		s.commit(batch)
		for _, r := range batch {
			if err := <-r.done; err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil { // checkpoints: everything is in the file
		b.Fatal(err)
	}
	return t
}

// open opens a copy of the template and returns it with the template's
// meetings.
func (t *template) open(b *testing.B, opts ...Option) (*Store, []*store.Meeting) {
	b.Helper()
	data, err := os.ReadFile(t.path)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "meetings.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	s, err := Open(context.Background(), path, opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, t.ms
}

func openBench(b *testing.B, opts ...Option) *Store {
	b.Helper()
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "meetings.db"), opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}
