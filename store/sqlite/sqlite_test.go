package sqlite_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onlinemeetings/onlinemeetings/store"
	"github.com/onlinemeetings/onlinemeetings/store/sqlite"
	"github.com/onlinemeetings/onlinemeetings/store/storetest"
)

// crashHelperEnv, when set, makes the test binary run crashHelper on the
// database path it holds instead of the tests (see TestKillDurability).
const crashHelperEnv = "ONLINEMEETINGS_SQLITE_CRASH_HELPER_DB"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashHelperEnv); path != "" {
		crashHelper(path)
		return
	}
	os.Exit(m.Run())
}

var owner = store.Owner{TenantID: "7c3f1e52-5d0b-4c8e-9a51-0f1c2d3e4a5b", UserID: "a1111111-1111-4111-8111-111111111111"}

// openTemp opens a store in a new temporary directory, in a subdirectory
// Open must create, and closes it when the test ends.
func openTemp(t *testing.T, opts ...sqlite.Option) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "meetings.db")
	s, err := sqlite.Open(t.Context(), path, opts...)
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	t.Cleanup(func() { s.Close() }) // ErrClosed when the test closed it
	return s, path
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := openTemp(t)
		return s
	})
}

// TestStoreNoGroupCommit runs the suite with batches of one, so the
// one-transaction-per-Create path stays correct too.
func TestStoreNoGroupCommit(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := openTemp(t, sqlite.WithMaxBatch(1))
		return s
	})
}

// getAll fails the test unless every meeting in want reads back.
func getAll(t *testing.T, s store.Store, owner store.Owner, ids []string) {
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

// TestReopen checks that migrations are idempotent and that data persists
// across Close and Open.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meetings.db")
	var ids []string
	for round := range 3 {
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatalf("round %d: Open(%q) = %v", round, path, err)
		}
		getAll(t, s, owner, ids)
		for i := range 3 {
			m := storetest.NewMeeting(owner, i)
			if err := s.Create(t.Context(), m, store.Quota{}); err != nil {
				t.Fatalf("round %d: Create = %v", round, err)
			}
			ids = append(ids, m.ID)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("round %d: Close = %v", round, err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("database file mode = %v, want 0600", mode)
	}
}

// TestFileRemovedOrReplaced takes the database file away from its path
// while the store is open, as an operator's rm, mv or restore from backup
// does: SQLite would go on writing to the file it has open, so every create
// would be acknowledged and then lost at the next start. Instead writes and
// Ping must fail with ErrUnavailable (a 503 with Retry-After, and /readyz
// 503), and the meeting must not be in the file the next start opens.
func TestFileRemovedOrReplaced(t *testing.T) {
	tests := []struct {
		name string
		do   func(t *testing.T, path string)
	}{
		{"removed", func(t *testing.T, path string) {
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
					t.Fatal(err)
				}
			}
		}},
		{"moved aside", func(t *testing.T, path string) {
			if err := os.Rename(path, path+".old"); err != nil {
				t.Fatal(err)
			}
		}},
		{"replaced", func(t *testing.T, path string) {
			other := filepath.Join(filepath.Dir(path), "other.db")
			o, err := sqlite.Open(t.Context(), other)
			if err != nil {
				t.Fatal(err)
			}
			if err := o.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(other, path); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := openTemp(t)
			before := storetest.NewMeeting(owner, 0)
			if err := s.Create(t.Context(), before, store.Quota{}); err != nil {
				t.Fatalf("Create before = %v", err)
			}
			tt.do(t, path)

			after := storetest.NewMeeting(owner, 1)
			if err := s.Create(t.Context(), after, store.Quota{}); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("Create after the file was %s = %v, want ErrUnavailable", tt.name, err)
			}
			if err := s.Ping(t.Context()); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("Ping after the file was %s = %v, want ErrUnavailable", tt.name, err)
			}
			if _, err := s.Get(t.Context(), owner, before.ID); err != nil {
				t.Errorf("Get of a meeting stored before = %v, want it (reads go on)", err)
			}
			s.Close()

			r, err := sqlite.Open(t.Context(), path)
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer r.Close()
			if _, err := r.Get(t.Context(), owner, after.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("after reopening, Get of the refused meeting = %v, want ErrNotFound", err)
			}
		})
	}
}

// TestOpenConcurrently opens one new file from several goroutines at once:
// the migration must run once and every Open must succeed.
func TestOpenConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meetings.db")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s, err := sqlite.Open(t.Context(), path)
			if err != nil {
				t.Errorf("Open = %v", err)
				return
			}
			defer s.Close()
			m := storetest.NewMeeting(owner, 0)
			if err := s.Create(t.Context(), m, store.Quota{}); err != nil {
				t.Errorf("Create = %v", err)
			}
		})
	}
	wg.Wait()
}

// TestOpenPath checks paths that are awkward in a file: URI.
func TestOpenPath(t *testing.T) {
	tests := []struct{ name, rel string }{
		{"Plain", "meetings.db"},
		{"Nested", "a/b/c/meetings.db"},
		{"URISyntax", "we?ird #dir %41&x=y/m;e?e#t.db"},
		{"Unicode", "données/会議.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tt.rel)
			s, err := sqlite.Open(t.Context(), path)
			if err != nil {
				t.Fatalf("Open(%q) = %v", path, err)
			}
			m := storetest.NewMeeting(owner, 0)
			if err := s.Create(t.Context(), m, store.Quota{}); err != nil {
				t.Fatalf("Create = %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close = %v", err)
			}
			fi, err := os.Stat(path)
			if err != nil || fi.Size() == 0 {
				t.Fatalf("Stat(%q) = %v, %v; want the database there", path, fi, err)
			}
			parent, err := os.Stat(filepath.Dir(path))
			if err != nil {
				t.Fatal(err)
			}
			if mode := parent.Mode().Perm(); filepath.Dir(path) != dir && mode != 0o700 {
				t.Errorf("created directory mode = %v, want 0700", mode)
			}
			// Nothing went to a file named after a cut-off path.
			var stray []string
			filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() && p != path {
					stray = append(stray, p)
				}
				return nil
			})
			if len(stray) > 0 {
				t.Errorf("unexpected files %q", stray)
			}
		})
	}
}

// TestCloseWhileCreating closes the store under load: every Create returns
// nil or ErrClosed, and every nil is on disk.
func TestCloseWhileCreating(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meetings.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		created []string
		wg      sync.WaitGroup
	)
	started := make(chan struct{}, 32)
	for g := range 32 {
		wg.Go(func() {
			for i := 0; ; i++ {
				m := storetest.NewMeeting(owner, g*1000+i)
				err := s.Create(t.Context(), m, store.Quota{})
				if i == 0 {
					started <- struct{}{}
				}
				switch {
				case err == nil:
					mu.Lock()
					created = append(created, m.ID)
					mu.Unlock()
				case errors.Is(err, store.ErrClosed):
					return
				default:
					t.Errorf("Create = %v, want nil or ErrClosed", err)
					return
				}
			}
		})
	}
	for range 32 {
		<-started
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	wg.Wait()

	s, err = sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	getAll(t, s, owner, created)
}

// TestCanceledContext checks that Get with a done context reports the
// context's error.
func TestCanceledContext(t *testing.T) {
	s, _ := openTemp(t)
	m := storetest.NewMeeting(owner, 0)
	if err := s.Create(t.Context(), m, store.Quota{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Get(ctx, owner, m.ID); !errors.Is(err, context.Canceled) {
		t.Errorf("Get(canceled ctx) = %v, want context.Canceled", err)
	}
	if err := s.Create(ctx, storetest.NewMeeting(owner, 1), store.Quota{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Create(canceled ctx) = %v, want context.Canceled", err)
	}
}

// TestKillDurability checks that every acknowledged write survives kill -9.
// It runs this test binary again as a child (see TestMain) that creates,
// updates and deletes meetings from many goroutines and prints each write
// as soon as it returns nil; after enough acknowledgements it kills the
// child with SIGKILL, reopens the file and checks every write the child
// printed.
func TestKillDurability(t *testing.T) {
	const acks = 400
	path := filepath.Join(t.TempDir(), "meetings.db")
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), crashHelperEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill the child whatever happens: on time-out, and if the test fails.
	timeout := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer timeout.Stop()
	t.Cleanup(func() { cmd.Process.Kill() })

	var (
		created []string
		plans   = make(map[string]string) // id -> what the child will do with it
		updated = make(map[string]bool)
		deleted = make(map[string]bool)
		n       int
	)
	r := bufio.NewReader(stdout)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			break // EOF after the kill; a line without its newline was not acknowledged
		}
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "ack" {
			continue
		}
		switch id := f[2]; f[1] {
		case "create":
			created = append(created, id)
			plans[id] = f[3]
		case "update":
			updated[id] = true
		case "delete":
			deleted[id] = true
		}
		if n++; n == acks {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
				t.Fatal(err)
			}
		}
	}
	waitErr := cmd.Wait()
	if n < acks {
		t.Fatalf("child acknowledged %d writes, want %d; exit: %v; stderr:\n%s", n, acks, waitErr, stderr.Bytes())
	}
	t.Logf("child acknowledged %d creates, %d updates, %d deletes before it died (%v)", len(created), len(updated), len(deleted), waitErr)

	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open after kill = %v", err)
	}
	defer s.Close()
	var kept []string
	for _, id := range created {
		got, err := s.Get(t.Context(), owner, id)
		switch {
		case deleted[id]:
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get(acknowledged delete %q) = %v, want ErrNotFound", id, err)
			}
		case plans[id] == "delete": // the delete may or may not have committed
		case err != nil:
			kept = append(kept, id)
		case updated[id] && string(got.Resource) != crashUpdate:
			t.Errorf("Get(acknowledged update %q).Resource = %q, want %q", id, got.Resource, crashUpdate)
		}
	}
	getAll(t, s, owner, kept) // reports the missing ones
}

// crashUpdate is the Resource the crash helper's updates store.
const crashUpdate = `{"updated":true}`

// crashHelper is the child of TestKillDurability: it creates meetings until
// it is killed, updates every second one and then deletes every second one
// of those, printing "ack create ID PLAN" (PLAN saying which of that it
// will do), "ack update ID" and "ack delete ID" once each call has
// returned nil.
func crashHelper(path string) {
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	ack := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(os.Stdout, format, args...) // one write, unbuffered
		mu.Unlock()
	}
	fail := func(op string, err error) {
		fmt.Fprintln(os.Stderr, op+":", err)
		os.Exit(3)
	}
	ctx := context.Background()
	for g := range 32 {
		go func() {
			for i := 0; ; i++ {
				m := storetest.NewMeeting(owner, g*1_000_000+i)
				plan := [...]string{"delete", "keep", "update", "keep"}[i%4]
				if err := s.Create(ctx, m, store.Quota{}); err != nil {
					fail("create", err)
				}
				ack("ack create %s %s\n", m.ID, plan)
				if plan == "keep" {
					continue
				}
				if _, err := s.Update(ctx, owner, m.ID, func(u *store.Meeting) error {
					u.Resource = []byte(crashUpdate)
					return nil
				}); err != nil {
					fail("update", err)
				}
				ack("ack update %s\n", m.ID)
				if plan == "delete" {
					if err := s.Delete(ctx, owner, m.ID); err != nil {
						fail("delete", err)
					}
					ack("ack delete %s\n", m.ID)
				}
			}
		}()
	}
	select {} // until killed
}
