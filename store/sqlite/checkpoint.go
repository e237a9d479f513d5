package sqlite

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// checkpointConfig holds the checkpointer's settings; see Checkpoints in
// the package documentation.
type checkpointConfig struct {
	// interval is the least time between two checkpoints. Commits made in
	// between are checkpointed together, so under load each checkpoint
	// copies a large chunk of pages.
	interval time.Duration
	// restartFrames is the WAL length, in frames, above which a RESTART
	// checkpoint follows the PASSIVE one.
	restartFrames int
	// walSizeLimit is the journal_size_limit, in bytes: the size the writer
	// truncates the WAL file to when it starts the WAL over.
	walSizeLimit int64
	// busyTimeout is the checkpointer connection's busy_timeout: how long a
	// RESTART checkpoint, which holds the writer off meanwhile, waits for
	// readers (and for writers in other processes) before it gives up.
	busyTimeout time.Duration
	// minBackoff and maxBackoff bound how long the checkpointer waits
	// before it tries RESTART again after one failed or gave up; the wait
	// doubles with each failure in a row.
	minBackoff, maxBackoff time.Duration
}

// defaultCheckpointConfig is what Open uses.
var defaultCheckpointConfig = checkpointConfig{
	interval: 100 * time.Millisecond,
	// 16384 frames of 4 KiB pages: 64 MiB.
	restartFrames: 16384,
	// A little above restartFrames frames, so under steady load the writer
	// reuses the file it has rather than shrinking and regrowing it
	// (extending a file makes its fsyncs dearer); it trims only what a
	// burst wrote beyond that.
	walSizeLimit: 72 << 20,
	// Readers in this process hold their snapshot for one query.
	busyTimeout: 100 * time.Millisecond,
	minBackoff:  250 * time.Millisecond,
	maxBackoff:  10 * time.Second,
}

// checkpointer is the state of the checkpointer goroutine.
type checkpointer struct {
	checkpointConfig

	// signal carries the writer's "committed since the last checkpoint"
	// (buffered 1: the writer never blocks on it, and signals coalesce).
	signal chan struct{}
	// stop is closed by Close once the writer has exited; done is closed
	// when the checkpointer has.
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	stats   checkpointStats
	lastErr error // the latest failure of a checkpoint, kept for tests
	// backoff is the current wait after a RESTART checkpoint failed or
	// gave up, zero after one succeeded; no RESTART runs before
	// nextRestart.
	backoff     time.Duration
	nextRestart time.Time
}

// checkpointStats counts the checkpointer's work, for tests.
type checkpointStats struct {
	passive   int // PASSIVE checkpoints run
	restarts  int // RESTART checkpoints run
	truncates int // TRUNCATE checkpoints run (by Close)
	busy      int // checkpoints SQLite reported busy (not all frames copied or reset)
	errors    int // checkpoints that failed
	// lastLog and lastCheckpointed are the WAL length and the frames
	// copied to the database, in frames, after the last checkpoint; -1
	// when SQLite could not tell.
	lastLog, lastCheckpointed int
}

// walResult is the row of PRAGMA wal_checkpoint.
type walResult struct {
	busy         bool // the checkpoint could not copy every frame, or could not reset the WAL
	log          int  // frames in the WAL, or -1
	checkpointed int  // frames of the WAL copied to the database, or -1
}

// signalCheckpoint tells the checkpointer that the writer has committed. It
// never blocks: a signal already pending covers this commit too.
func (s *Store) signalCheckpoint() {
	select {
	case s.ckpt.signal <- struct{}{}:
	default:
	}
}

// checkpointLoop is the checkpointer goroutine. After each signal from the
// writer it waits until interval has passed since the previous checkpoint,
// then checkpoints every commit made so far, until Close stops it.
func (s *Store) checkpointLoop() {
	c := &s.ckpt
	defer close(c.done)
	var last time.Time // of the previous checkpoint; zero: none yet
	for {
		select {
		case <-c.stop:
			return
		case <-c.signal:
		}
		if wait := c.interval - time.Since(last); wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-c.stop:
				timer.Stop()
				return
			case <-timer.C:
			}
		}
		// The checkpoint below covers every commit signalled so far; a
		// commit made while it runs signals again.
		select {
		case <-c.signal:
		default:
		}
		s.checkpoint()
		last = time.Now()
	}
}

// checkpoint copies the WAL into the database with a PASSIVE checkpoint,
// which runs alongside the writer's commits. If the WAL is still longer than
// restartFrames afterwards it runs a RESTART checkpoint, so the writer
// starts the WAL over at its next commit; see the package documentation for
// why PASSIVE alone does not bound the WAL. Failures are recorded, not
// returned: a later checkpoint retries, and commits never depend on one.
func (s *Store) checkpoint() {
	c := &s.ckpt
	r, err := s.walCheckpoint("PASSIVE")
	c.record("PASSIVE", r, err)
	if err != nil || r.log <= c.restartFrames || !c.mayRestart() {
		return
	}
	// The writer takes txMu for each transaction, so holding it makes the
	// RESTART wait for the commit in progress, here in Go, and keeps the
	// writer from starting another until the WAL is reset. Without it the
	// RESTART could only poll for the write lock through busy_timeout,
	// which a busy writer, releasing it for microseconds between
	// transactions, might never let it win.
	s.txMu.Lock()
	r, err = s.walCheckpoint("RESTART")
	s.txMu.Unlock()
	c.record("RESTART", r, err)
}

// walCheckpoint runs PRAGMA wal_checkpoint(mode) on the checkpointer's
// connection. SQLite reports a checkpoint that could not finish because of
// other connections as busy, not as an error.
//
// It runs under context.Background: a PASSIVE checkpoint never waits for
// locks, and RESTART and TRUNCATE wait at most the checkpointer's
// busy_timeout.
func (s *Store) walCheckpoint(mode string) (walResult, error) {
	var (
		r    walResult
		busy int
	)
	err := s.cdb.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint("+mode+")").
		Scan(&busy, &r.log, &r.checkpointed)
	if err != nil {
		return walResult{log: -1, checkpointed: -1}, fmt.Errorf("sqlite: checkpoint (%s): %w", mode, mapErr(context.Background(), err))
	}
	r.busy = busy != 0
	return r, nil
}

// mayRestart reports whether the backoff after the last failed RESTART
// checkpoint, if any, is over.
func (c *checkpointer) mayRestart() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !time.Now().Before(c.nextRestart)
}

// record notes the outcome of one checkpoint in mode. A RESTART
// checkpoint that failed or gave up (busy) backs the next one off: while a
// reader holds an old snapshot, as a backup tool or an interactive sqlite3
// might, every RESTART would hold the writer off for the whole busy
// timeout and still fail.
func (c *checkpointer) record(mode string, r walResult, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch mode {
	case "PASSIVE":
		c.stats.passive++
	case "RESTART":
		c.stats.restarts++
		if err != nil || r.busy {
			c.backoff = min(max(2*c.backoff, c.minBackoff), c.maxBackoff)
			c.nextRestart = time.Now().Add(c.backoff)
		} else {
			c.backoff, c.nextRestart = 0, time.Time{}
		}
	case "TRUNCATE":
		c.stats.truncates++
	}
	if err != nil {
		c.stats.errors++
		c.lastErr = err
		return
	}
	if r.busy {
		c.stats.busy++
	}
	c.stats.lastLog, c.stats.lastCheckpointed = r.log, r.checkpointed
}

// checkpointState returns the checkpointer's counters and its last error.
func (s *Store) checkpointState() (checkpointStats, error) {
	s.ckpt.mu.Lock()
	defer s.ckpt.mu.Unlock()
	return s.ckpt.stats, s.ckpt.lastErr
}
