package postgres

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinemeetings/onlinemeetings/store"
	"github.com/onlinemeetings/onlinemeetings/store/postgres/pgtest"
	"github.com/onlinemeetings/onlinemeetings/store/storetest"
)

// TestMigrateExternalIDSum upgrades a database that an earlier version
// (schema 2) filled with createOrGet meetings: migration 3 must give each
// the digest the store computes, so that createOrGet still finds them by
// their external ids (ASCII and not), and Create still refuses to reuse one.
func TestMigrateExternalIDSum(t *testing.T) {
	u := pgtest.Schema(t)
	ms, err := readMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	c, err := pool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	if err := migrate(t.Context(), c, ms[:2]); err != nil {
		t.Fatalf("migrate to version 2: %v", err)
	}
	owner := store.Owner{TenantID: "7c3f1e52-5d0b-4c8e-9a51-0f1c2d3e4a5b", UserID: "a1111111-1111-4111-8111-111111111111"}
	var old []*store.Meeting
	for i, ext := range []string{"7eb8263f-d0e0-4149-bb1c-1f0476083c56", "外部-ключ-🔑"} {
		m := storetest.NewMeeting(owner, i)
		m.ExternalID = ext
		args := meetingArgs(m)
		if _, err := c.Exec(t.Context(), `INSERT INTO meetings (`+columns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			args[:10]...); err != nil {
			t.Fatalf("insert at version 2: %v", err)
		}
		old = append(old, m)
	}

	s, err := Open(t.Context(), u)
	if err != nil {
		t.Fatalf("Open (migrating to the latest version): %v", err)
	}
	defer s.Close()
	for i, m := range old {
		again := storetest.NewMeeting(owner, 10+i)
		again.ExternalID = m.ExternalID
		got, created, err := s.CreateOrGet(t.Context(), again, store.Quota{})
		if err != nil || created || got.ID != m.ID {
			t.Errorf("CreateOrGet(external id %q) = %v, created %v, %v; want the meeting %q stored before the upgrade", m.ExternalID, got, created, err, m.ID)
		}
		if err := s.Create(t.Context(), again, store.Quota{}); !errors.Is(err, store.ErrExternalIDTaken) {
			t.Errorf("Create(external id %q) = %v, want ErrExternalIDTaken", m.ExternalID, err)
		}
	}
}
