package postgres

import (
	"cmp"
	"context"
	"errors"
	"io"
	mathrand "math/rand/v2"
	"net"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/onlinemeetings/onlinemeetings/store"
)

func TestNewConfig(t *testing.T) {
	const base = "postgres://u:secret@db.example:5432/om?sslmode=disable"
	tests := []struct {
		name             string
		url              string
		opts             []Option
		maxConns         int32
		connectTimeout   time.Duration
		openTimeout      time.Duration // 0: the connect timeout
		statementTimeout string
		idleInTx         string
	}{
		{name: "Defaults", url: base, maxConns: int32(DefaultMaxConns()), connectTimeout: 2 * time.Second,
			statementTimeout: "5000", idleInTx: "5000"},
		{name: "PostgresqlScheme", url: "postgresql://u@db.example/om", maxConns: int32(DefaultMaxConns()),
			connectTimeout: 2 * time.Second, statementTimeout: "5000", idleInTx: "5000"},
		{name: "FromURL", url: base + "&pool_max_conns=7&connect_timeout=9&statement_timeout=1234&idle_in_transaction_session_timeout=60000",
			maxConns: 7, connectTimeout: 9 * time.Second, statementTimeout: "1234", idleInTx: "60000"},
		{name: "URLUnits", url: base + "&statement_timeout=1.5min", maxConns: int32(DefaultMaxConns()),
			connectTimeout: 2 * time.Second, statementTimeout: "90000", idleInTx: "90000"},
		{name: "URLOff", url: base + "&statement_timeout=0", maxConns: int32(DefaultMaxConns()),
			connectTimeout: 2 * time.Second, statementTimeout: "0"},
		{name: "OptionsOverrideURL",
			url:  base + "&pool_max_conns=7&connect_timeout=9&statement_timeout=1234",
			opts: []Option{WithMaxConns(3), WithConnectTimeout(1500 * time.Millisecond), WithStatementTimeout(250 * time.Microsecond)},
			// 250µs rounds up to 1 ms: 0 would turn the timeout off.
			maxConns: 3, connectTimeout: 1500 * time.Millisecond, statementTimeout: "1", idleInTx: "1"},
		{name: "ZeroOptionsKeepURL", url: base + "&pool_max_conns=7&connect_timeout=9&statement_timeout=1234",
			opts:     []Option{WithMaxConns(0), WithConnectTimeout(0), WithStatementTimeout(0)},
			maxConns: 7, connectTimeout: 9 * time.Second, statementTimeout: "1234", idleInTx: "1234"},
		{name: "URLReadCommitted", url: base + "&default_transaction_isolation=READ%20COMMITTED", maxConns: int32(DefaultMaxConns()),
			connectTimeout: 2 * time.Second, statementTimeout: "5000", idleInTx: "5000"},
		// Open waits for each host in turn (sslmode=prefer's second try of
		// a host is not another host).
		{name: "TwoHosts", url: "postgres://u@db1,db2:5433/om?connect_timeout=3", maxConns: int32(DefaultMaxConns()),
			connectTimeout: 3 * time.Second, openTimeout: 6 * time.Second, statementTimeout: "5000", idleInTx: "5000"},
		{name: "ThreeHostsNoTLS", url: "postgres://u@db1:5432,db2,db3/om?sslmode=disable", maxConns: int32(DefaultMaxConns()),
			connectTimeout: 2 * time.Second, openTimeout: 6 * time.Second, statementTimeout: "5000", idleInTx: "5000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PGCONNECT_TIMEOUT", "")
			c, err := newConfig(tt.url, tt.opts)
			if err != nil {
				t.Fatalf("newConfig(%q) error = %v", tt.url, err)
			}
			rp := c.pool.ConnConfig.RuntimeParams
			if c.pool.MaxConns != tt.maxConns || c.pool.ConnConfig.ConnectTimeout != tt.connectTimeout ||
				rp["statement_timeout"] != tt.statementTimeout || rp["idle_in_transaction_session_timeout"] != tt.idleInTx {
				t.Errorf("newConfig(%q) = max conns %d, connect timeout %v, statement_timeout %q, idle_in_transaction_session_timeout %q; want %d, %v, %q, %q",
					tt.url, c.pool.MaxConns, c.pool.ConnConfig.ConnectTimeout, rp["statement_timeout"], rp["idle_in_transaction_session_timeout"],
					tt.maxConns, tt.connectTimeout, tt.statementTimeout, tt.idleInTx)
			}
			// Whatever the database's or role's default, the store's
			// statements run at the level they are written for.
			if got := rp["default_transaction_isolation"]; got != "read committed" {
				t.Errorf("newConfig(%q) default_transaction_isolation = %q, want %q", tt.url, got, "read committed")
			}
			if c.acquireTimeout != tt.connectTimeout {
				t.Errorf("acquire timeout = %v, want the connect timeout %v", c.acquireTimeout, tt.connectTimeout)
			}
			if want := cmp.Or(tt.openTimeout, tt.connectTimeout); c.openTimeout != want {
				t.Errorf("open timeout = %v, want %v", c.openTimeout, want)
			}
			if tt.statementTimeout == "0" && c.callTimeout != 0 {
				t.Errorf("call timeout = %v with statement_timeout off, want none", c.callTimeout)
			}
		})
	}
}

// TestNewConfigLibpqURLs checks that URLs libpq (and pgx) take, but
// net/url refuses, are taken: the store reads its URL as pgx does.
func TestNewConfigLibpqURLs(t *testing.T) {
	for _, tt := range []struct {
		url, host, password string
		maxConns            int32
	}{
		{url: "postgres://om@%2Fvar%2Frun%2Fpostgresql/om", host: "/var/run/postgresql"},
		{url: "postgres://om@db1:5433,db2/om?target_session_attrs=read-write&pool_max_conns=7", host: "db1", maxConns: 7},
		{url: "postgres://om@[::1]:5432,[::2]:5432/om", host: "::1"},
		{url: "postgres://om:p|w[0]@db/om", host: "db", password: "p|w[0]"},
		{url: "postgres://om:12#pw@db/om", host: "db", password: "12#pw"},
	} {
		c, err := newConfig(tt.url, nil)
		if err != nil {
			t.Errorf("newConfig(%q) error = %v", tt.url, err)
			continue
		}
		cc := c.pool.ConnConfig
		if cc.Host != tt.host || cc.Password != tt.password {
			t.Errorf("newConfig(%q) = host %q, password %q; want %q, %q", tt.url, cc.Host, cc.Password, tt.host, tt.password)
		}
		if want := cmp.Or(tt.maxConns, int32(DefaultMaxConns())); c.pool.MaxConns != want {
			t.Errorf("newConfig(%q) max conns = %d, want %d", tt.url, c.pool.MaxConns, want)
		}
	}
}

// TestRedactURL checks that every password pgx would send is masked,
// including where net/url sees none (it reads postgres://om:12#pw@db as
// host om, port 12 and a fragment), and nothing else is changed.
func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://om:s3cret@db/om?sslmode=disable":                 "postgres://om:xxxxx@db/om?sslmode=disable",
		"postgresql://om@db/om":                                      "postgresql://om@db/om",
		"postgres://db/om?password=s3cret&user=om":                   "postgres://db/om?password=xxxxx&user=om",
		"postgres://om@db/om?sslmode=verify-full&sslpassword=s3cret": "postgres://om@db/om?sslmode=verify-full&sslpassword=xxxxx",
		"postgres://om:12#s3cret@db/om":                              "postgres://om:xxxxx@db/om",
		"postgres://om:1?s3cret@db/om":                               "postgres://om:xxxxx@db/om",
		"postgres://om:s3|cret@db1:5432,db2/om":                      "postgres://om:xxxxx@db1:5432,db2/om",
		"postgres://om:s3cret@db:bad/om":                             "postgres://om:xxxxx@db:bad/om",
	} {
		got := RedactURL(in)
		if got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
		if c, err := newConfig(in, nil); err == nil && c.pool.ConnConfig.Password != "" && strings.Contains(got, c.pool.ConnConfig.Password) {
			t.Errorf("RedactURL(%q) = %q shows the password %q", in, got, c.pool.ConnConfig.Password)
		}
	}
}

func TestNewConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		url  string
		opts []Option
	}{
		{url: "mysql://db/om"},
		{url: "sqlite://x.db"},
		{url: "host=db dbname=om"},
		{url: "postgres://u:secret@db/om?default_query_exec_mode=simple_protocol"},
		{url: "postgres://u:secret@db/om?statement_timeout=soon"},
		{url: "postgres://u:secret@db/om?statement_timeout=5parsecs"},
		{url: "postgres://u:secret@db/om?pool_max_conns=0"},
		{url: "postgres://u:secret@db/om?connect_timeout=x"},
		{url: "postgres://u:secret@db/om?default_transaction_isolation=serializable"},
		{url: "postgres://u:secret@db/om?default_transaction_isolation=repeatable%20read"},
		{url: "postgres://u:secret@db/om", opts: []Option{WithMaxConns(-1)}},
		{url: "postgres://u:secret@db/om", opts: []Option{WithStatementTimeout(-time.Second)}},
		{url: "postgres://u:secret@db/om", opts: []Option{WithConnectTimeout(-time.Second)}},
	} {
		_, err := newConfig(tt.url, tt.opts)
		if err == nil {
			t.Errorf("newConfig(%q) = nil error, want an error", tt.url)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("newConfig(%q) error %q shows the password", tt.url, err)
		}
	}
}

func TestParseSettingDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0": 0, "5000": 5 * time.Second, "5s": 5 * time.Second, "5 s": 5 * time.Second, "250ms": 250 * time.Millisecond,
		"1.5min": 90 * time.Second, "2h": 2 * time.Hour, "1d": 24 * time.Hour, "100us": 100 * time.Microsecond,
	} {
		if got, err := parseSettingDuration(in); err != nil || got != want {
			t.Errorf("parseSettingDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "s", "-5", "5 m", "5sec", "1e999"} {
		if got, err := parseSettingDuration(in); err == nil {
			t.Errorf("parseSettingDuration(%q) = %v, want an error", in, got)
		}
	}
}

func TestMapErr(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want error // nil: a plain error
	}{
		{"IDTaken", &pgconn.PgError{Code: "23505", ConstraintName: "meetings_pkey"}, store.ErrIDTaken},
		{"JoinMeetingIDTaken", &pgconn.PgError{Code: "23505", ConstraintName: "meetings_join_meeting_id_key"}, store.ErrJoinMeetingIDTaken},
		{"ExternalIDTaken", &pgconn.PgError{Code: "23505", ConstraintName: "meetings_external_id_key"}, store.ErrExternalIDTaken},
		{"OtherUnique", &pgconn.PgError{Code: "23505", ConstraintName: "other"}, nil},
		{"AdminShutdown", &pgconn.PgError{Code: "57P01"}, store.ErrUnavailable},
		{"TooManyConnections", &pgconn.PgError{Code: "53300"}, store.ErrUnavailable},
		{"ConnectionFailure", &pgconn.PgError{Code: "08006"}, store.ErrUnavailable},
		{"StatementTimeout", &pgconn.PgError{Code: "57014"}, store.ErrUnavailable},
		{"ReadOnly", &pgconn.PgError{Code: "25006"}, store.ErrUnavailable},
		{"Syntax", &pgconn.PgError{Code: "42601"}, nil},
		{"BadEncoding", &pgconn.PgError{Code: "22021"}, nil},
		{"Deadline", context.DeadlineExceeded, store.ErrUnavailable},
		{"Canceled", context.Canceled, context.Canceled},
		{"ConnClosed", pgconn.ErrConnClosed, store.ErrUnavailable},
		{"EOF", io.ErrUnexpectedEOF, store.ErrUnavailable},
		{"Refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, store.ErrUnavailable},
		{"Other", errors.New("boom"), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := mapErr("op", tt.err)
			if !errors.Is(got, tt.err) && tt.want != nil && !errors.Is(tt.want, store.ErrIDTaken) &&
				!errors.Is(tt.want, store.ErrJoinMeetingIDTaken) && !errors.Is(tt.want, store.ErrExternalIDTaken) {
				t.Errorf("mapErr(%v) = %v, want the original error kept", tt.err, got)
			}
			if tt.want == nil {
				for _, s := range []error{store.ErrUnavailable, store.ErrIDTaken, store.ErrNotFound} {
					if errors.Is(got, s) {
						t.Errorf("mapErr(%v) = %v, want a plain error", tt.err, got)
					}
				}
				return
			}
			if !errors.Is(got, tt.want) {
				t.Errorf("mapErr(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestReadMigrations(t *testing.T) {
	ms, err := readMigrations(migrationFiles, "migrations")
	if err != nil || len(ms) == 0 || ms[0].version != 1 {
		t.Fatalf("readMigrations(embedded) = %v, %v; want version 1 first", ms, err)
	}
	good := fstest.MapFS{
		"m/0010_b.sql": {Data: []byte("b")},
		"m/0002_a.sql": {Data: []byte("a")},
		"m/README":     {Data: []byte("not sql")},
	}
	ms, err = readMigrations(good, "m")
	if err != nil || len(ms) != 2 || ms[0].version != 2 || ms[1].version != 10 {
		t.Errorf("readMigrations = %+v, %v; want versions 2, 10", ms, err)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"NoNumber":  {"m/init.sql": {}},
		"Zero":      {"m/0000_x.sql": {}},
		"Duplicate": {"m/1_a.sql": {}, "m/0001_b.sql": {}},
	} {
		if ms, err := readMigrations(fsys, "m"); err == nil {
			t.Errorf("readMigrations(%s) = %+v, want an error", name, ms)
		}
	}
}

func TestTextCeil(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"abc", "abc", true},
		{"会議", "会議", true},
		{"a\x00", "a\x01", true},
		{"a\x00zzz", "a\x01", true},
		{"a\x80", "a\u0080", true},
		{"a\xc1\xbf", "a\u0080", true},     // overlong
		{"a\xed\xa0\x80", "a\ue000", true}, // surrogate
		{"a\xe4\xbc", "a\u4f00", true},     // truncated: U+4F00 is E4 BC 80
		{"a\xf4\x90\x80\x80", "b", true},   // above U+10FFFF
		{"a\xff", "b", true},
		{"\xff", "", false},
		{"\U0010ffff\xff", "", false},
		{"a\U0010ffff\xff", "b", true},
		{"\ud7ff\xff", "\ue000", true},
	} {
		got, ok := textCeil(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("textCeil(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestTextCeilProperty checks textCeil's promise on random strings: the
// ceiling is valid text, not below s, and splits valid texts as s does.
func TestTextCeilProperty(t *testing.T) {
	alphabet := []string{"", "\x00", "\x01", "a", "z", "\x7f", "\x80", "\xbf", "\xc0", "\xc2", "\xc2\x80", "\xdf\xbf",
		"\xe0", "\xe0\x80", "\xe0\xa0\x80", "\xed\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbf",
		"\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "\xf4\x90", "\xf5", "\xff", "é", "会"}
	rng := mathrand.New(mathrand.NewPCG(1, 2))
	randString := func(n int) string {
		var b strings.Builder
		for range rng.IntN(n) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	for range 20000 {
		s := randString(5)
		ceil, ok := textCeil(s)
		if ok && (!validText(ceil) || ceil < s) {
			t.Fatalf("textCeil(%q) = %q: invalid or below", s, ceil)
		}
		for range 20 {
			v := strings.ToValidUTF8(strings.ReplaceAll(randString(5), "\x00", ""), "")
			if below := v < s; ok && below != (v < ceil) {
				t.Fatalf("textCeil(%q) = %q: %q < s is %v but %q < ceil is %v", s, ceil, v, below, v, !below)
			} else if !ok && !below {
				t.Fatalf("textCeil(%q) = none, but valid %q is not below it", s, v)
			}
		}
	}
}
