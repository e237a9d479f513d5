package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/onlinemeetings/onlinemeetings/store"
	"github.com/onlinemeetings/onlinemeetings/store/postgres"
	"github.com/onlinemeetings/onlinemeetings/store/postgres/pgtest"
)

func TestParseServeConfigPostgres(t *testing.T) {
	const pgURL = "postgres://om@db.example/om?sslmode=disable&pool_max_conns=50"
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want pgConfig
	}{
		{name: "none", args: []string{"--store", pgURL}},
		{
			name: "flags",
			args: []string{"--store", pgURL, "--pg-max-conns", "3", "--pg-statement-timeout", "1500ms", "--pg-connect-timeout", "1s"},
			want: pgConfig{MaxConns: 3, StatementTimeout: 1500 * time.Millisecond, ConnectTimeout: time.Second},
		},
		{
			name: "env",
			env: map[string]string{
				"ONLINEMEETINGS_STORE":                pgURL,
				"ONLINEMEETINGS_PG_MAX_CONNS":         "12",
				"ONLINEMEETINGS_PG_STATEMENT_TIMEOUT": "10s",
				"ONLINEMEETINGS_PG_CONNECT_TIMEOUT":   "3s",
			},
			want: pgConfig{MaxConns: 12, StatementTimeout: 10 * time.Second, ConnectTimeout: 3 * time.Second},
		},
		{
			name: "flag wins over env",
			args: []string{"--pg-max-conns", "2"},
			env:  map[string]string{"ONLINEMEETINGS_STORE": pgURL, "ONLINEMEETINGS_PG_MAX_CONNS": "12"},
			want: pgConfig{MaxConns: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseServeConfig(tt.args, env(tt.env), io.Discard)
			if err != nil {
				t.Fatalf("parseServeConfig(%q) error = %v", tt.args, err)
			}
			if c.storeURL != pgURL || c.pg != tt.want {
				t.Errorf("parseServeConfig(%q) = store %q, pg %+v; want %q, %+v", tt.args, c.storeURL, c.pg, pgURL, tt.want)
			}
		})
	}
	for _, args := range [][]string{
		{"--pg-max-conns", "-1"},
		{"--pg-max-conns", "many"},
		{"--pg-statement-timeout", "-1s"},
		{"--pg-connect-timeout", "5"},
	} {
		var ue *usageError
		if _, err := parseServeConfig(args, noEnv, io.Discard); !errors.As(err, &ue) {
			t.Errorf("parseServeConfig(%q) error = %v, want a *usageError", args, err)
		}
	}
}

// TestOpenStorePostgresFlagsOverride checks that the --pg-* flags reach
// the store and win over the URL's parameters: against a server that
// accepts connections and never answers, the URL's 30 s connect timeout
// would hold Open for 30 s, the flag's 300 ms does not.
func TestOpenStorePostgresFlagsOverride(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	u := "postgres://om:s3cret@" + ln.Addr().String() + "/om?sslmode=disable&connect_timeout=30"
	start := time.Now()
	st, err := openStore(t.Context(), storeLocation{kind: "postgres", url: u}, pgConfig{ConnectTimeout: 300 * time.Millisecond})
	if err == nil {
		st.Close()
		t.Fatalf("openStore(silent server) = nil error")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("openStore(silent server, --pg-connect-timeout 300ms) took %v, want the flag to override the URL's 30 s", took)
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("openStore(silent server) = %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("openStore error %q shows the password", err)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://om:s3cret@db/om?sslmode=disable": "postgres://om:xxxxx@db/om?sslmode=disable",
		"postgres://om@db/om":                        "postgres://om@db/om",
		"postgres://db/om?password=s3cret&user=om":   "postgres://db/om?password=xxxxx&user=om",
		"sqlite://data dir/x?.db":                    "sqlite://data dir/x?.db",
		"memory:":                                    "memory:",
		"postgres://om:s3cret@db:bad/om":             "postgres://om:xxxxx@db:bad/om",
		// Passwords pgx takes from where net/url sees none.
		"postgres://om:12#s3cret@db/om":          "postgres://om:xxxxx@db/om",
		"postgres://om:1?s3cret@db/om":           "postgres://om:xxxxx@db/om",
		"postgres://om@db/om?sslpassword=s3cret": "postgres://om@db/om?sslpassword=xxxxx",
		"postgres://om:s3|cret@db1:5432,db2/om":  "postgres://om:xxxxx@db1:5432,db2/om",
		"mysql://om:s3cret@db/om":                "mysql://om:xxxxx@db/om",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestServePostgres runs the server on the PostgreSQL store (in a fresh
// schema) and creates and reads a meeting over HTTP. It runs when
// ONLINEMEETINGS_TEST_POSTGRES_URL is set, as in CI.
func TestServePostgres(t *testing.T) {
	u := pgtest.Schema(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	dir := t.TempDir()
	s := startServe(t, "--data-dir", dir, "--store", u, "--pg-max-conns", "2", "--pg-statement-timeout", "3s")
	addr := strings.TrimPrefix(s.url, "http://")
	_, port, _ := net.SplitHostPort(addr)
	token := mintToken(t, "--data-dir", dir, "--public-url", "http://localhost:"+port)
	m := createMeeting(t, s.url, token, "on postgres")

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/v1.0/me/onlineMeetings/"+url.PathEscape(m.ID), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"subject":"on postgres"`) {
		t.Errorf("GET meeting = %d %s, want 200 with the subject", resp.StatusCode, body)
	}
	s.stop(t)

	// The meeting is in the database, where a second replica would find it.
	st, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	org := m.Participants.Organizer.Identity.User
	if _, err := st.Get(ctx, store.Owner{TenantID: org.TenantID, UserID: org.ID}, m.ID); err != nil {
		t.Errorf("Get(%q) from the database = %v", m.ID, err)
	}
}
