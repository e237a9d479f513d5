-- 0002 adds what Find, Update and Key need (attendees, the join web URL
-- hash, the keys table) and reshapes the indexes for write speed: the
-- writer is the server's bottleneck, and most of what it writes is index
-- pages, since every index on a random key dirties a page of its own per
-- insert.
--
-- SQLite cannot drop a column constraint, so the table is rebuilt (rows
-- copied in their order) rather than altered. join_web_url_hash is filled
-- in by Go code in the same transaction (migrate.go): SQLite has no
-- SHA-256.
CREATE TABLE meetings_v2 (
    -- The table keeps its rowid, assigned in insertion order, so inserts
    -- append to the table b-tree; meetings_id below enforces unique ids.
    id                 TEXT    NOT NULL,
    tenant_id          TEXT    NOT NULL,
    user_id            TEXT    NOT NULL,
    -- The createOrGet key. NULL, not '', for meetings made by create, so
    -- the partial unique index below leaves them out.
    external_id        TEXT,
    join_meeting_id    TEXT    NOT NULL,
    -- Not unique: the handlers make it so in practice, by building it from
    -- the thread id inside id.
    join_web_url       TEXT    NOT NULL,
    -- The first 8 bytes of the SHA-256 of join_web_url, big-endian, as a
    -- signed integer: a compact key for Find, which compares the full URL
    -- in the rows it selects.
    join_web_url_hash  INTEGER NOT NULL,
    -- Unix time in nanoseconds (UTC): exact for Graph's 100 ns precision,
    -- and sorts as the time does.
    creation_date_time INTEGER NOT NULL,
    -- The invited attendees who may read the meeting, in order: for each,
    -- the tenant id and then the user id, each a uvarint byte length and
    -- the bytes. NULL when there are none. Find reads it from the rows its
    -- key selects, so it needs no index.
    attendees          BLOB,
    resource           BLOB    NOT NULL
) STRICT;

INSERT INTO meetings_v2 (id, tenant_id, user_id, external_id, join_meeting_id, join_web_url,
        join_web_url_hash, creation_date_time, attendees, resource)
    SELECT id, tenant_id, user_id, external_id, join_meeting_id, join_web_url,
        0, creation_date_time, NULL, resource
    FROM meetings ORDER BY rowid;

DROP TABLE meetings;
ALTER TABLE meetings_v2 RENAME TO meetings;

CREATE UNIQUE INDEX meetings_id ON meetings (id);
CREATE UNIQUE INDEX meetings_join_meeting_id ON meetings (join_meeting_id);
CREATE INDEX meetings_join_web_url_hash ON meetings (join_web_url_hash);
-- Only meetings made by createOrGet have an external id; plain creates pay
-- nothing for this index. CreateOrGet's ON CONFLICT names it, WHERE and all.
CREATE UNIQUE INDEX meetings_external_id ON meetings (tenant_id, user_id, external_id)
    WHERE external_id IS NOT NULL;
-- List's keyset query walks this backwards: newest first, then id
-- descending.
CREATE INDEX meetings_owner_created ON meetings (tenant_id, user_id, creation_date_time, id);

-- Secrets made on first use by Key.
CREATE TABLE keys (
    name  TEXT NOT NULL PRIMARY KEY,
    value BLOB NOT NULL
) STRICT, WITHOUT ROWID;
