-- createOrGet's key, the external id, may be 1024 characters long (the
-- API's limit), up to 4 KB in UTF-8: more than an entry of a btree index
-- can hold (2704 bytes), so the unique index of 0001 on the id itself made
-- such inserts fail (54000, program_limit_exceeded). It now keys on the
-- SHA-256 of the external id's UTF-8 bytes, 32 bytes whatever its length,
-- which the store computes and sends with every insert. The index keeps
-- its name, by which the store maps a violation to its error.
ALTER TABLE meetings ADD COLUMN external_id_sha256 bytea;

-- The backfill rewrites every createOrGet row, about 50 µs a row on a small
-- VM (1 M rows: 49 s), while ADD COLUMN's lock keeps other replicas out of
-- the table: it runs without the migration's per-statement timeout, which
-- would otherwise roll the upgrade back on every start once the table is
-- large enough. The migration's timeout is back for the statements that
-- follow (kept in a setting of the transaction meanwhile).
SELECT set_config('onlinemeetings.migration_statement_timeout', current_setting('statement_timeout'), true);
SET LOCAL statement_timeout = 0;
UPDATE meetings SET external_id_sha256 = sha256(convert_to(external_id, 'UTF8'))
    WHERE external_id IS NOT NULL;
SELECT set_config('statement_timeout', current_setting('onlinemeetings.migration_statement_timeout'), true);

-- A meeting has both or neither: an insert without the digest (a program
-- that predates this file) fails instead of escaping the unique index.
ALTER TABLE meetings ADD CONSTRAINT meetings_external_id_sha256_paired
    CHECK ((external_id IS NULL) = (external_id_sha256 IS NULL));

DROP INDEX meetings_external_id_key;

CREATE UNIQUE INDEX meetings_external_id_key
    ON meetings (tenant_id, user_id, external_id_sha256)
    WHERE external_id_sha256 IS NOT NULL;
