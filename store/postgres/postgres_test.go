package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/onlinemeetings/onlinemeetings/store"
	"github.com/onlinemeetings/onlinemeetings/store/postgres"
	"github.com/onlinemeetings/onlinemeetings/store/postgres/pgtest"
	"github.com/onlinemeetings/onlinemeetings/store/storetest"
)

// open opens a store on connString that is closed when the test ends.
func open(t testing.TB, connString string, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), connString, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() }) // ErrClosed if the test closed it
	return s
}

func TestConformance(t *testing.T) {
	pgtest.URL(t)
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, pgtest.Schema(t)) })
}

// serverDefaults are what a fresh schema's URL is given so that the
// store's sessions start with another default transaction isolation, as
// ALTER DATABASE or ALTER ROLE ... SET default_transaction_isolation (or
// PGOPTIONS) gives them on a real server. The tests of what replicas do
// together run under each: the store's statements are written for READ
// COMMITTED, and a stricter default must not turn their waits into
// serialisation failures.
var serverDefaults = []struct{ name, suffix string }{
	{"ServerDefault", ""},
	{"RepeatableReadDefault", "&options=-c%20default_transaction_isolation%3Drepeatable%5C%20read"}, // -c name=repeatable\ read
	{"SerializableDefault", "&options=-c%20default_transaction_isolation%3Dserializable"},
}

// TestConcurrentOpen opens one fresh schema from many goroutines at once,
// as replicas starting together do: every Open must succeed, and the
// migrations must have run once.
func TestConcurrentOpen(t *testing.T) {
	for _, d := range serverDefaults {
		t.Run(d.name, func(t *testing.T) { testConcurrentOpen(t, pgtest.Schema(t)+d.suffix) })
	}
}

func testConcurrentOpen(t *testing.T, u string) {
	const n = 8
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			s, err := postgres.Open(t.Context(), u)
			if err != nil {
				t.Errorf("Open #%d: %v", i, err)
				return
			}
			s.Close()
		})
	}
	close(start)
	wg.Wait()

	conn, err := pgx.Connect(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var rows, versions int
	if err := conn.QueryRow(t.Context(), `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows != 3 || versions != 3 {
		t.Errorf("schema_migrations has %d rows of %d versions, want 3 of 3", rows, versions)
	}

	// Opening again finds nothing to do.
	s := open(t, u)
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping() = %v", err)
	}
}

// TestNewerSchema checks that Open refuses a schema migrated by a newer
// program.
func TestNewerSchema(t *testing.T) {
	u := pgtest.Schema(t)
	open(t, u).Close()
	conn, err := pgx.Connect(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), `INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future.sql')`); err != nil {
		t.Fatal(err)
	}
	if s, err := postgres.Open(t.Context(), u); err == nil {
		s.Close()
		t.Errorf("Open(schema at version 9999) = nil error, want an error")
	}
}

var (
	alice = store.Owner{TenantID: "7c3f1e52-5d0b-4c8e-9a51-0f1c2d3e4a5b", UserID: "a1111111-1111-4111-8111-111111111111"}
	bob   = store.Owner{TenantID: alice.TenantID, UserID: "b2222222-2222-4222-8222-222222222222"}
)

// TestBadText checks strings PostgreSQL cannot hold as text (NUL bytes,
// invalid UTF-8): lookups by them find nothing, writes of them in a text
// column are refused with an error that is not a 503, and attendees and
// key names, which are bytea, hold them.
func TestBadText(t *testing.T) {
	s := open(t, pgtest.Schema(t))
	ctx := t.Context()
	m := storetest.NewMeeting(alice, 1)
	m.ExternalID = "ext"
	if err := s.Create(ctx, m, store.Quota{}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	for _, bad := range []string{"\x00", m.ID + "\x00", "\xff\xfe"} {
		t.Run(fmt.Sprintf("%q", bad), func(t *testing.T) {
			badOwner := store.Owner{TenantID: alice.TenantID, UserID: bad}
			if _, err := s.Get(ctx, badOwner, m.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get(owner %q) = %v, want ErrNotFound", bad, err)
			}
			if _, err := s.Update(ctx, alice, bad, func(*store.Meeting) error { return nil }); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Update(%q) = %v, want ErrNotFound", bad, err)
			}
			if err := s.Delete(ctx, alice, bad); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Delete(%q) = %v, want ErrNotFound", bad, err)
			}
			for _, q := range []store.Lookup{{ID: bad}, {JoinWebURL: bad}, {JoinMeetingID: bad}} {
				if got, err := s.Find(ctx, alice, q); err != nil || got == nil || len(got) != 0 {
					t.Errorf("Find(%+v) = %v, %v; want an empty slice", q, got, err)
				}
			}
			if got, err := s.Find(ctx, badOwner, store.Lookup{ID: m.ID}); err != nil || len(got) != 0 {
				t.Errorf("Find(viewer %+v) = %v, %v; want an empty slice", badOwner, got, err)
			}
			if got, err := s.List(ctx, badOwner, store.Page{Limit: 10}); err != nil || got == nil || len(got) != 0 {
				t.Errorf("List(%+v) = %v, %v; want an empty slice", badOwner, got, err)
			}

			for name, change := range map[string]func(*store.Meeting){
				"ID":            func(m *store.Meeting) { m.ID = bad },
				"UserID":        func(m *store.Meeting) { m.Owner.UserID = bad },
				"ExternalID":    func(m *store.Meeting) { m.ExternalID = "x" + bad },
				"JoinMeetingID": func(m *store.Meeting) { m.JoinMeetingID = bad },
				"JoinWebURL":    func(m *store.Meeting) { m.JoinWebURL += bad },
			} {
				w := storetest.NewMeeting(alice, 2)
				w.ExternalID = "x"
				change(w)
				err := s.Create(ctx, w, store.Quota{})
				if err == nil || errors.Is(err, store.ErrUnavailable) {
					t.Errorf("Create(%s %q) = %v, want an error other than ErrUnavailable", name, bad, err)
				}
				_, _, err = s.CreateOrGet(ctx, w, store.Quota{})
				if err == nil || errors.Is(err, store.ErrUnavailable) {
					t.Errorf("CreateOrGet(%s %q) = %v, want an error other than ErrUnavailable", name, bad, err)
				}
			}

			// An attendee with such ids is stored, found, and finds.
			odd := store.Owner{TenantID: "t" + bad, UserID: bad}
			a := storetest.NewMeeting(bob, 4)
			a.Attendees = []store.Owner{odd, alice}
			if err := s.Create(ctx, a, store.Quota{}); err != nil {
				t.Fatalf("Create(attendee %+v) = %v", odd, err)
			}
			got, err := s.Find(ctx, odd, store.Lookup{JoinMeetingID: a.JoinMeetingID})
			if err != nil || len(got) != 1 || got[0].Attendees[0] != odd {
				t.Errorf("Find(viewer %+v) = %v, %v; want the meeting with its attendees", odd, got, err)
			}
			if k, err := s.Key(ctx, bad); err != nil || len(k) != 32 {
				t.Errorf("Key(%q) = %x, %v", bad, k, err)
			}
		})
	}
	// A NUL inside the resource is just a byte.
	m2 := storetest.NewMeeting(alice, 3)
	m2.Resource = []byte(`{"subject":"a\u0000b"}` + "\x00")
	if err := s.Create(ctx, m2, store.Quota{}); err != nil {
		t.Fatalf("Create(resource with NULs) = %v", err)
	}
	got, err := s.Get(ctx, alice, m2.ID)
	if err != nil || string(got.Resource) != string(m2.Resource) {
		t.Errorf("Get(%q) = %v, %v; want resource %q", m2.ID, got, err, m2.Resource)
	}
}

// TestAttendeesAndFind checks what only the SQL does: attendees keep their
// order, @> matches a whole (tenant, user) pair and never a swapped one.
func TestAttendeesAndFind(t *testing.T) {
	s := open(t, pgtest.Schema(t))
	ctx := t.Context()
	carol := store.Owner{TenantID: "c-tenant", UserID: "c-user"}
	m := storetest.NewMeeting(alice, 1)
	m.Attendees = []store.Owner{carol, bob}
	if err := s.Create(ctx, m, store.Quota{}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		viewer store.Owner
		want   int
	}{
		{alice, 1}, {bob, 1}, {carol, 1},
		{store.Owner{TenantID: carol.UserID, UserID: carol.TenantID}, 0},
		{store.Owner{TenantID: carol.TenantID, UserID: bob.UserID}, 0},
		{store.Owner{TenantID: carol.TenantID}, 0},
		{store.Owner{}, 0},
	} {
		got, err := s.Find(ctx, tt.viewer, store.Lookup{JoinWebURL: m.JoinWebURL})
		if err != nil || len(got) != tt.want {
			t.Errorf("Find(%+v) = %d meetings, %v; want %d", tt.viewer, len(got), err, tt.want)
			continue
		}
		if tt.want == 1 && (len(got[0].Attendees) != 2 || got[0].Attendees[0] != carol || got[0].Attendees[1] != bob) {
			t.Errorf("Find(%+v).Attendees = %+v, want [carol bob]", tt.viewer, got[0].Attendees)
		}
	}
}

// TestKeyReplicas checks that two stores on one database (two replicas)
// get the same key.
func TestKeyReplicas(t *testing.T) {
	for _, d := range serverDefaults {
		t.Run(d.name, func(t *testing.T) { testKeyReplicas(t, pgtest.Schema(t)+d.suffix) })
	}
}

func testKeyReplicas(t *testing.T, u string) {
	a, b := open(t, u), open(t, u)
	var wg sync.WaitGroup
	keys := make([][]byte, 16)
	for i := range keys {
		wg.Go(func() {
			s := a
			if i%2 == 1 {
				s = b
			}
			k, err := s.Key(t.Context(), "paging")
			if err != nil {
				t.Errorf("Key: %v", err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for i, k := range keys {
		if len(k) != 32 || string(k) != string(keys[0]) {
			t.Fatalf("Key #%d = %x, want 32 bytes equal to #0's %x", i, k, keys[0])
		}
	}
	other, err := a.Key(t.Context(), "other")
	if err != nil || string(other) == string(keys[0]) {
		t.Errorf("Key(other) = %x, %v; want a different key", other, err)
	}
}

// TestQuotaReplicas races Create and CreateOrGet, some with one shared
// externalId and some with their own, for one owner on two stores (two
// pools, as two replicas have) on one database, under a quota. The
// creations stop at the quota exactly; every caller of the shared
// externalId that is not refused gets the same meeting; nothing deadlocks
// (the statement timeout would turn a deadlock into errors).
func TestQuotaReplicas(t *testing.T) {
	for _, d := range serverDefaults {
		t.Run(d.name, func(t *testing.T) { testQuotaReplicas(t, pgtest.Schema(t)+d.suffix) })
	}
}

func testQuotaReplicas(t *testing.T, u string) {
	a, b := open(t, u), open(t, u)
	owner := store.Owner{TenantID: "6a1d9b3e-0f4c-4e8a-9b7d-2c5e8f1a3b40", UserID: "3f2b8c1d-7e4a-4b9c-8d6e-1a2b3c4d5e6f"}
	const quota, n = 12, 48
	q := store.Quota{PerMonth: quota}
	var (
		wg                         sync.WaitGroup
		mu                         sync.Mutex
		created, refused, existing int
		sharedIDs                  = map[string]bool{}
	)
	for i := range n {
		wg.Go(func() {
			s := a
			if i%2 == 1 {
				s = b
			}
			m := storetest.NewMeeting(owner, i)
			var (
				isNew  bool
				stored *store.Meeting
				err    error
			)
			switch i % 3 {
			case 0:
				err, isNew = s.Create(t.Context(), m, q), true
			case 1:
				m.ExternalID = "shared"
				stored, isNew, err = s.CreateOrGet(t.Context(), m, q)
			default:
				m.ExternalID = fmt.Sprintf("own-%d", i)
				stored, isNew, err = s.CreateOrGet(t.Context(), m, q)
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, store.ErrQuotaExceeded):
				refused++
			case err != nil:
				t.Errorf("#%d: %v", i, err)
			case isNew:
				created++
			default:
				existing++
			}
			if err == nil && i%3 == 1 {
				sharedIDs[stored.ID] = true
			}
		})
	}
	wg.Wait()
	if created != quota || created+refused+existing != n {
		t.Errorf("created %d, refused %d, existing %d of %d under a quota of %d; want exactly %d created", created, refused, existing, n, quota, quota)
	}
	if len(sharedIDs) > 1 {
		t.Errorf("the shared externalId got %d different meetings: %v", len(sharedIDs), sharedIDs)
	}
	for _, s := range []*postgres.Store{a, b} {
		if got, err := s.Creations(t.Context(), owner, storetest.NewMeeting(owner, 0).CreationDateTime); err != nil || got != quota {
			t.Errorf("Creations = %d, %v; want %d", got, err, quota)
		}
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// withHost returns connString with its host and port replaced by addr.
func withHost(t *testing.T, connString, addr string) string {
	t.Helper()
	u, err := url.Parse(connString)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	return u.String()
}

// within fails the test unless err wraps ErrUnavailable and took at most
// limit since start.
func within(t *testing.T, what string, start time.Time, limit time.Duration, err error) {
	t.Helper()
	if took := time.Since(start); took > limit {
		t.Errorf("%s took %v, want at most %v", what, took, limit)
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("%s = %v, want ErrUnavailable", what, err)
	}
}

// TestUnavailable checks that a database that is not there makes Open fail
// fast with ErrUnavailable, whether the port refuses connections or accepts
// them and never answers.
func TestUnavailable(t *testing.T) {
	base := pgtest.URL(t)
	t.Run("ClosedPort", func(t *testing.T) {
		start := time.Now()
		s, err := postgres.Open(t.Context(), withHost(t, base, closedPort(t)))
		if err == nil {
			s.Close()
		}
		within(t, "Open(closed port)", start, 3*time.Second, err)
	})
	t.Run("Silent", func(t *testing.T) {
		ln := silentListener(t)
		start := time.Now()
		s, err := postgres.Open(t.Context(), withHost(t, base, ln.Addr().String()))
		if err == nil {
			s.Close()
		}
		within(t, "Open(silent server)", start, 3*time.Second, err)
	})
}

// silentListener listens on a port of 127.0.0.1 that accepts connections
// and never answers (a database host that hangs), until the test ends.
func silentListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return ln
}

// TestOpenFirstHostSilent opens a store whose URL lists two hosts, the
// first of which accepts connections and never answers (a primary that
// failed without closing its port), as libpq URLs for a replicated
// database do: Open must go on to the second host, which answers, rather
// than give up after the first host's connect timeout.
func TestOpenFirstHostSilent(t *testing.T) {
	u := pgtest.Schema(t)
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	ln := silentListener(t)
	const connectTimeout = 500 * time.Millisecond
	s := open(t, withHost(t, u, ln.Addr().String()+","+pu.Host), postgres.WithConnectTimeout(connectTimeout))
	m := storetest.NewMeeting(alice, 1)
	if err := s.Create(t.Context(), m, store.Quota{}); err != nil {
		t.Errorf("Create through the second host = %v", err)
	}
}

// proxy forwards TCP connections from its address to a target. It can be
// stopped and started again on the same address (a database that goes away
// and comes back), or frozen (a network partition: nothing gets through,
// nothing is closed).
type proxy struct {
	t      *testing.T
	addr   string
	target string
	frozen atomic.Bool

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	p := &proxy{t: t, addr: "127.0.0.1:0", target: target}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) start() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy listen: %v", err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.track(c)
			if !p.frozen.Load() {
				go p.forward(c)
			}
		}
	}()
}

func (p *proxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
}

func (p *proxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.track(up)
	go p.pipe(up, c)
	p.pipe(c, up)
}

// pipe copies src to dst, dropping what it reads while frozen.
func (p *proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		if p.frozen.Load() {
			continue
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

// stop closes the listener and every connection: the database is gone.
func (p *proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// proxiedStore opens a store in a schema of its own through a proxy of
// its own, with opts, and stores one meeting of alice's in it.
func proxiedStore(t *testing.T, opts ...postgres.Option) (*proxy, *postgres.Store, *store.Meeting) {
	t.Helper()
	u := pgtest.Schema(t)
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, pu.Host)
	s := open(t, withHost(t, u, p.addr), opts...)
	m := storetest.NewMeeting(alice, 1)
	if err := s.Create(t.Context(), m, store.Quota{}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	return p, s, m
}

// TestOutage runs a store through a proxy, takes the "database" away and
// brings it back: while it is away every call fails with ErrUnavailable
// within 3 s, and afterwards the store works again by itself.
func TestOutage(t *testing.T) {
	p, s, m := proxiedStore(t)
	ctx := t.Context()

	p.stop()
	calls := []struct {
		name string
		call func() error
	}{
		{"Ping", func() error { return s.Ping(ctx) }},
		{"Get", func() error { _, err := s.Get(ctx, alice, m.ID); return err }},
		{"Create", func() error { return s.Create(ctx, storetest.NewMeeting(alice, 2), store.Quota{}) }},
		{"CreateOrGet", func() error {
			w := storetest.NewMeeting(alice, 3)
			w.ExternalID = "e"
			_, _, err := s.CreateOrGet(ctx, w, store.Quota{})
			return err
		}},
		{"Find", func() error { _, err := s.Find(ctx, alice, store.Lookup{ID: m.ID}); return err }},
		{"List", func() error { _, err := s.List(ctx, alice, store.Page{Limit: 5}); return err }},
		{"Update", func() error {
			_, err := s.Update(ctx, alice, m.ID, func(*store.Meeting) error { return nil })
			return err
		}},
		{"Delete", func() error { return s.Delete(ctx, alice, "nope") }},
		{"Key", func() error { _, err := s.Key(ctx, "k"); return err }},
	}
	for _, c := range calls {
		for range 2 { // the first may meet a pooled connection, the second dials
			start := time.Now()
			within(t, c.name+" while the database is down", start, 3*time.Second, c.call())
		}
	}

	p.start()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := s.Get(ctx, alice, m.ID)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get after the database came back = %v 5 s later, want nil", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range calls[:3] {
		if err := c.call(); err != nil {
			t.Errorf("%s after the database came back = %v, want nil", c.name, err)
		}
	}
}

// TestRestart restarts the "database" (every connection closed, the port
// answering again at once), as a failover or a restart of PostgreSQL does,
// right after the pool's connections were used: reads made straight after
// it succeed on a fresh connection rather than failing with ErrUnavailable
// on the dead one (the pool pings only connections idle for a second), and
// a write either succeeds or fails without having been stored twice.
func TestRestart(t *testing.T) {
	p, s, m := proxiedStore(t)
	ctx := t.Context()
	reads := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, alice, m.ID); return err }},
		{"Find", func() error { _, err := s.Find(ctx, alice, store.Lookup{ID: m.ID}); return err }},
		{"List", func() error { _, err := s.List(ctx, alice, store.Page{Limit: 5}); return err }},
		{"Ping", func() error { return s.Ping(ctx) }},
	}
	for _, r := range reads {
		t.Run(r.name, func(t *testing.T) {
			// Several connections in use within the last second.
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					if err := r.call(); err != nil {
						t.Errorf("%s before the restart: %v", r.name, err)
					}
				})
			}
			wg.Wait()
			p.stop()
			p.start()
			for i := range 4 {
				if err := r.call(); err != nil {
					t.Errorf("%s #%d right after the restart = %v, want nil", r.name, i+1, err)
				}
			}
		})
	}
	t.Run("Create", func(t *testing.T) {
		if _, err := s.Get(ctx, alice, m.ID); err != nil {
			t.Fatalf("Get before the restart: %v", err)
		}
		p.stop()
		p.start()
		w := storetest.NewMeeting(alice, 2)
		err := s.Create(ctx, w, store.Quota{})
		if err != nil && !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("Create right after the restart = %v, want nil or ErrUnavailable", err)
		}
		got, gerr := s.Find(ctx, alice, store.Lookup{ID: w.ID})
		if gerr != nil {
			t.Fatalf("Find: %v", gerr)
		}
		if want := map[bool]int{true: 1, false: 0}[err == nil]; len(got) != want {
			t.Errorf("Create = %v and %d meetings stored, want %d", err, len(got), want)
		}
	})
}

// TestPartition checks the client-side backstop: when the network silently
// drops everything, no answer (not even statement_timeout's) arrives, and
// calls still end with ErrUnavailable after the connect timeout plus twice
// the statement timeout plus a second.
func TestPartition(t *testing.T) {
	p, s, m := proxiedStore(t,
		postgres.WithStatementTimeout(200*time.Millisecond), postgres.WithConnectTimeout(500*time.Millisecond))
	ctx := t.Context()
	p.frozen.Store(true)
	const limit = 500*time.Millisecond + 2*200*time.Millisecond + time.Second + 500*time.Millisecond
	start := time.Now()
	_, err := s.Get(ctx, alice, m.ID)
	within(t, "Get during a partition", start, limit, err)
	start = time.Now()
	err = s.Create(ctx, storetest.NewMeeting(alice, 2), store.Quota{})
	within(t, "Create during a partition", start, limit, err)
	// Heal the partition before Close, which otherwise waits up to 15 s
	// (pgxpool's limit) for each frozen connection to say goodbye.
	p.stop()
}

// TestStatementTimeout checks that WithStatementTimeout reaches the server
// and that its cancellation (57014) is ErrUnavailable: an Update waits for
// a row lock another transaction holds.
func TestStatementTimeout(t *testing.T) {
	u := pgtest.Schema(t)
	s := open(t, u+"&statement_timeout=60000", postgres.WithStatementTimeout(300*time.Millisecond))
	ctx := t.Context()
	m := storetest.NewMeeting(alice, 1)
	if err := s.Create(ctx, m, store.Quota{}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `SELECT 1 FROM meetings WHERE id = $1 FOR UPDATE`, m.ID); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.Update(ctx, alice, m.ID, func(*store.Meeting) error { return nil })
	within(t, "Update of a locked row", start, 2*time.Second, err)
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Errorf("Update of a locked row failed after %v, want about the 300ms statement timeout", took)
	}
}

// BenchmarkCreate measures Create with many calls in flight, as on a busy
// server (16 goroutines per GOMAXPROCS), through pools of several sizes;
// "default" is DefaultMaxConns. The quota variant counts every creation
// under a quota never reached: the two owners' counter rows queue their
// creations, so it shows what --create-quota-per-month costs when a few
// users create most meetings.
func BenchmarkCreate(b *testing.B) {
	for _, conns := range []int{0, 2, 32} {
		name := fmt.Sprint("conns=", conns)
		if conns == 0 {
			name = fmt.Sprint("conns=default(", postgres.DefaultMaxConns(), ")")
		}
		b.Run(name, func(b *testing.B) { benchmarkCreate(b, store.Quota{}, postgres.WithMaxConns(conns)) })
	}
	b.Run("conns=default,quota", func(b *testing.B) { benchmarkCreate(b, store.Quota{PerMonth: 1 << 30}) })
}

func benchmarkCreate(b *testing.B, q store.Quota, opts ...postgres.Option) {
	s := open(b, pgtest.Schema(b), opts...)
	owners := []store.Owner{alice, bob}
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if err := s.Create(b.Context(), storetest.NewMeeting(owners[i%2], i), q); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkGet measures Get of random meetings among 1000.
func BenchmarkGet(b *testing.B) {
	s := open(b, pgtest.Schema(b))
	ms := make([]*store.Meeting, 1000)
	for i := range ms {
		ms[i] = storetest.NewMeeting(alice, i)
		if err := s.Create(b.Context(), ms[i], store.Quota{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m := ms[rand.IntN(len(ms))]
			if _, err := s.Get(b.Context(), alice, m.ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
