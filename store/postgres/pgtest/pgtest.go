// Package pgtest gives tests a PostgreSQL database to themselves: a fresh
// schema in the database ONLINEMEETINGS_TEST_POSTGRES_URL names, dropped
// when the test ends. Without the variable the tests skip (CI always sets
// it, in .ci/run).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the variable that points the tests at a database, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvURL = "ONLINEMEETINGS_TEST_POSTGRES_URL"

// URL returns the test database's URL, or skips the test when EnvURL is
// not set.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		t.Skipf("%s is not set: set it to a PostgreSQL URL such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run the tests that need PostgreSQL (CI always does)", EnvURL)
	}
	return u
}

// Schema creates an empty schema om_test_<random> in the test database,
// drops it (with everything in it) when the test ends, and returns the
// database URL with search_path set to it. It skips the test as URL does.
func Schema(t testing.TB) string {
	t.Helper()
	base := URL(t)
	b := make([]byte, 8)
	rand.Read(b)
	schema := "om_test_" + hex.EncodeToString(b)
	if err := exec(base, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		if err := exec(base, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: not a URL", EnvURL) // url's error would show a password
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// exec runs one statement without parameters on a connection of its own.
func exec(connString, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}
