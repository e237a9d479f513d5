package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationFiles holds the schema, one file per version, named
// NNNN_description.sql. A released file never changes: a schema change is a
// new file with the next number.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one schema version.
type migration struct {
	version int
	name    string
	sql     string
}

// migrationName is what a migration file must be called.
var migrationName = regexp.MustCompile(`^(\d+)_[^/]+\.sql$`)

// readMigrations returns the .sql files of dir in fsys ordered by version,
// or an error for a misnamed file or a version used twice.
func readMigrations(fsys fs.FS, dir string) ([]migration, error) {
	names, err := fs.Glob(fsys, dir+"/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, p := range names {
		name := p[len(dir)+1:]
		sub := migrationName.FindStringSubmatch(name)
		if sub == nil {
			return nil, fmt.Errorf("migration %s: want a name like 0001_description.sql", name)
		}
		v, err := strconv.Atoi(sub[1])
		if err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: version must be a positive number", name)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s have the same version", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// migrationLockClass is the first key of the advisory lock migrations hold
// ("om" in ASCII); the second is a hash of the schema, so stores in
// different schemas of one database (tests, tenants) do not wait for each
// other.
const migrationLockClass = 0x6f6d

// migrationStatementTimeout replaces the per-statement timeout while
// migrating: the lock may be held for a while by the replica that migrates,
// and a migration may rewrite a large table.
const migrationStatementTimeout = "1min"

// migrate brings the schema in the search path to the latest of ms.
//
// Everything happens in one transaction that first takes a transaction
// level advisory lock: replicas starting together queue on the lock, the
// first applies what is missing and commits, and the others then find
// schema_migrations up to date. The lock is released by COMMIT or ROLLBACK
// whatever happens, which a session lock taken on a pooled connection
// would not guarantee. DDL is transactional in PostgreSQL, so a failed
// migration leaves no trace. A schema newer than ms (a newer binary ran
// first) is refused rather than used blind.
func migrate(ctx context.Context, c *pgxpool.Conn, ms []migration) error {
	if len(ms) == 0 {
		return fmt.Errorf("no migrations")
	}
	return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('statement_timeout', $1, true)`, migrationStatementTimeout); err != nil {
			return fmt.Errorf("set statement_timeout: %w", err)
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))`, migrationLockClass); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer NOT NULL PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if latest := ms[len(ms)-1].version; current > latest {
			return fmt.Errorf("database schema version %d is newer than this program's %d", current, latest)
		}
		for _, m := range ms {
			if m.version <= current {
				continue
			}
			// A migration is a constant file of several statements with no
			// parameters, which only the simple query protocol runs (pgx
			// uses it for Exec without arguments).
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
				return fmt.Errorf("record migration %s: %w", m.name, err)
			}
		}
		return nil
	})
}
