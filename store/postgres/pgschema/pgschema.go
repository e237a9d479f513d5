// Package pgschema makes throwaway PostgreSQL schemas: an empty schema with a
// random name in an existing database, and that database's URL with
// search_path set to it, so a test or a load run works in a database of its
// own without creating databases. It does not import testing, so programs
// (cmd/loadtest) use it as well as tests (store/postgres/pgtest).
package pgschema

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
)

// New creates an empty schema prefix_<16 hex digits> in the database base
// names, and returns base with search_path set to it and a function that
// drops the schema with everything in it.
func New(base, prefix string) (connString string, drop func() error, err error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, errors.New("not a postgres:// URL") // url's error would show a password
	}
	b := make([]byte, 8)
	rand.Read(b)
	schema := prefix + "_" + hex.EncodeToString(b)
	if err := exec(base, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, errors.Join(errors.New("create schema "+schema), err)
	}
	drop = func() error {
		if err := exec(base, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			return errors.Join(errors.New("drop schema "+schema), err)
		}
		return nil
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
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
