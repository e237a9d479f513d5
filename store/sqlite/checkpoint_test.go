package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onlinemeetings/onlinemeetings/store"
	"github.com/onlinemeetings/onlinemeetings/store/storetest"
)

// bigMeeting returns a meeting whose resource spans a few pages even
// compressed (12 KiB of random hex: S2 finds nothing to repeat in it), so
// tests fill the WAL with fewer commits.
func bigMeeting(i int) *store.Meeting {
	m := storetest.NewMeeting(owner, i)
	pad := make([]byte, 6<<10)
	rand.Read(pad)
	m.Resource = append(m.Resource, hex.EncodeToString(pad)...)
	return m
}

// walSize returns the size of the database's -wal file, 0 when there is
// none.
func walSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path + "-wal")
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// frameSize returns the size of one WAL frame: a page and its header.
func frameSize(t *testing.T, s *Store) int64 {
	t.Helper()
	var pageSize int64
	if err := s.rdb.QueryRowContext(t.Context(), "PRAGMA page_size").Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	return pageSize + 24
}

// createAll creates n big meetings from 16 goroutines and returns their ids.
func createAll(t *testing.T, s *Store, n int) []string {
	t.Helper()
	ids := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				m := bigMeeting(i)
				if err := s.Create(t.Context(), m, store.Quota{}); err != nil {
					t.Errorf("Create = %v", err)
					return
				}
				ids[i] = m.ID
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return ids
}

// checkNoCheckpointErrors fails the test if a checkpoint failed.
func checkNoCheckpointErrors(t *testing.T, s *Store) checkpointStats {
	t.Helper()
	st, err := s.checkpointState()
	if err != nil || st.errors > 0 {
		t.Errorf("checkpointer: %d errors, last %v", st.errors, err)
	}
	return st
}

// TestWriterDoesNotCheckpoint checks that commits leave the WAL alone: with
// the checkpointer held back, the WAL grows well past the 1000 pages at
// which SQLite would otherwise checkpoint inside the writer's COMMIT.
func TestWriterDoesNotCheckpoint(t *testing.T) {
	// The first commit is checkpointed at once, the next ones not for an
	// hour.
	cfg := defaultCheckpointConfig
	cfg.interval = time.Hour
	s, path := openTest(t, withCheckpoints(cfg))
	createAll(t, s, 1000) // about 4 pages each
	if got, min := walSize(t, path), 2000*frameSize(t, s); got < min {
		t.Errorf("WAL is %d bytes after 1000 Creates, want over %d: something checkpointed", got, min)
	}
	if st := checkNoCheckpointErrors(t, s); st.passive > 1 {
		t.Errorf("%d checkpoints, want at most 1", st.passive)
	}
}

// TestRestartCheckpoint drives the checkpointer by hand through the case
// PASSIVE checkpoints cannot handle: a reader pins an old snapshot, so the
// checkpoint cannot copy the whole WAL and the WAL would never start over.
// The RESTART checkpoint that follows must hold the writer off, wait for the
// reader, and leave the WAL to restart, and be truncated, at the next
// commit.
func TestRestartCheckpoint(t *testing.T) {
	const restartFrames, sizeLimit = 200, 256 << 10
	cfg := defaultCheckpointConfig
	cfg.interval, cfg.restartFrames, cfg.walSizeLimit = time.Hour, restartFrames, sizeLimit
	cfg.busyTimeout = 10 * time.Second // the reader below keeps the RESTART waiting
	s, path := openTest(t, withCheckpoints(cfg))
	ctx := t.Context()
	reader, ids := pinSnapshot(t, s, path)

	done := make(chan struct{})
	go func() {
		s.checkpoint()
		close(done)
	}()
	waitFor(t, func() bool { st, _ := s.checkpointState(); return st.passive == 2 })
	if st, _ := s.checkpointState(); st.lastCheckpointed >= st.lastLog {
		t.Fatalf("PASSIVE checkpoint copied %d of %d frames past a pinned snapshot", st.lastCheckpointed, st.lastLog)
	}
	waitFor(t, func() bool { // until the RESTART holds the writer off
		if s.txMu.TryLock() {
			s.txMu.Unlock()
			return false
		}
		return true
	})
	// RESTART waits for the reader, and the writer waits for RESTART.
	created := make(chan error, 1)
	go func() { created <- s.Create(ctx, bigMeeting(0), store.Quota{}) }()
	select {
	case <-done:
		t.Fatal("RESTART checkpoint did not wait for the reader")
	case err := <-created:
		t.Fatalf("Create = %v during the RESTART checkpoint, want it to wait", err)
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := reader.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	<-done
	st := checkNoCheckpointErrors(t, s)
	if st.restarts != 1 || st.busy != 0 || st.lastCheckpointed != st.lastLog {
		t.Errorf("after RESTART: %+v, want 1 restart, not busy, every frame copied", st)
	}
	if err := <-created; err != nil {
		t.Fatal(err)
	}
	// That commit started the WAL over and truncated the file.
	if got := walSize(t, path); got > sizeLimit {
		t.Errorf("WAL is %d bytes after the restart, want at most %d", got, sizeLimit)
	}
	getAll(t, s, ids)
}

// pinSnapshot sets the checkpointer up for a RESTART checkpoint it cannot
// do with PASSIVE alone: after a first checkpoint, a read transaction pins a
// snapshot, then the WAL grows to twice restartFrames. It returns the
// reader's connection, in its transaction, and the ids created.
func pinSnapshot(t *testing.T, s *Store, path string) (*sql.Conn, []string) {
	t.Helper()
	ctx := t.Context()
	createAll(t, s, 10)
	waitFor(t, func() bool { st, _ := s.checkpointState(); return st.passive == 1 }) // then it waits an hour

	reader, err := s.rdb.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reader.Close() })
	if _, err := reader.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reader.ExecContext(context.Background(), "ROLLBACK") })
	var n int
	if err := reader.QueryRowContext(ctx, "SELECT count(*) FROM meetings").Scan(&n); err != nil {
		t.Fatal(err)
	}
	ids := createAll(t, s, 200)
	if got, min := walSize(t, path), int64(2*s.ckpt.restartFrames)*frameSize(t, s); got < min {
		t.Fatalf("WAL is %d bytes, want over %d to test a restart", got, min)
	}
	return reader, ids
}

// TestRestartBusy checks that a RESTART checkpoint that cannot finish,
// because a reader keeps its snapshot beyond the checkpointer's busy
// timeout, gives up without an error, lets the writer go on, and is not
// tried again before its backoff.
func TestRestartBusy(t *testing.T) {
	cfg := defaultCheckpointConfig
	cfg.interval, cfg.restartFrames, cfg.walSizeLimit = time.Hour, 200, 256<<10
	cfg.busyTimeout, cfg.minBackoff = 50*time.Millisecond, time.Hour
	s, path := openTest(t, withCheckpoints(cfg))
	ctx := t.Context()
	reader, _ := pinSnapshot(t, s, path)

	start := time.Now()
	s.checkpoint()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("checkpoint took %v with a %v busy timeout", d, cfg.busyTimeout)
	}
	st := checkNoCheckpointErrors(t, s)
	if st.passive != 2 || st.restarts != 1 || st.busy != 1 {
		t.Errorf("after a RESTART blocked by a reader: %+v, want 2 passive, 1 restart, busy", st)
	}
	if err := s.Create(ctx, bigMeeting(0), store.Quota{}); err != nil {
		t.Fatal(err)
	}
	s.checkpoint() // the WAL is still too long, but RESTART backs off
	if st := checkNoCheckpointErrors(t, s); st.passive != 3 || st.restarts != 1 {
		t.Errorf("checkpoint during the backoff: %+v, want 3 passive, still 1 restart", st)
	}
	if _, err := reader.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
}

// TestWALBoundedUnderLoad writes many times the WAL's restart length from
// 16 goroutines at once, with the checkpointer running on its own, and
// checks the -wal file never grows far beyond it; then that everything
// written reads back after Close and Open, and that Close emptied the WAL.
func TestWALBoundedUnderLoad(t *testing.T) {
	const restartFrames, sizeLimit = 256, 1 << 20
	cfg := defaultCheckpointConfig
	cfg.interval, cfg.restartFrames, cfg.walSizeLimit = 2*time.Millisecond, restartFrames, sizeLimit
	s, path := openTest(t, withCheckpoints(cfg))
	frame := frameSize(t, s)

	var maxWAL atomic.Int64
	stop := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Microsecond):
			}
			fi, err := os.Stat(path + "-wal")
			if err == nil && fi.Size() > maxWAL.Load() {
				maxWAL.Store(fi.Size())
			}
		}
	}()
	start := time.Now()
	ids := createAll(t, s, 3000) // about 12000 frames
	close(stop)
	<-polled
	st := checkNoCheckpointErrors(t, s)
	t.Logf("%d Creates in %v, %d commits; checkpoints: %+v; largest WAL %d bytes (%d frames)",
		len(ids), time.Since(start), s.commits.Load(), st, maxWAL.Load(), maxWAL.Load()/frame)

	// Frames committed while a checkpoint runs come on top of the restart
	// length; allow a generous multiple, still far below the ~50 MB
	// written.
	if bound := 12 * int64(restartFrames) * frame; maxWAL.Load() > max(bound, sizeLimit) {
		t.Errorf("WAL grew to %d bytes, want at most %d", maxWAL.Load(), bound)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := walSize(t, path); got != 0 {
		t.Errorf("WAL is %d bytes after Close, want 0", got)
	}
	s2, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	getAll(t, s2, ids)
}

// getAll fails the test unless every meeting in ids reads back.
func getAll(t *testing.T, s *Store, ids []string) {
	t.Helper()
	missing := 0
	for _, id := range ids {
		if _, err := s.Get(t.Context(), owner, id); err != nil {
			if missing++; missing <= 5 {
				t.Errorf("Get(%q) = %v, want nil", id, err)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d meetings missing", missing, len(ids))
	}
}
