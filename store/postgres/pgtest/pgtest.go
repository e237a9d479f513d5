// Package pgtest gives tests a PostgreSQL database to themselves: a fresh
// schema in the database ONLINEMEETINGS_TEST_POSTGRES_URL names, dropped
// when the test ends. Without the variable the tests skip (CI always sets
// it, in .ci/run).
package pgtest

import (
	"os"
	"testing"

	"github.com/onlinemeetings/onlinemeetings/store/postgres/pgschema"
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
	u, drop, err := pgschema.New(URL(t), "om_test")
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Error(err)
		}
	})
	return u
}
