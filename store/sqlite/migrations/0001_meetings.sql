-- meetings holds one row per online meeting. The columns the store queries
-- or keeps unique are real columns; the rest of the resource, as the
-- handlers render it, is the opaque resource blob.
CREATE TABLE meetings (
    id                 TEXT    NOT NULL PRIMARY KEY,
    tenant_id          TEXT    NOT NULL,
    user_id            TEXT    NOT NULL,
    -- The createOrGet key. NULL, not '', for meetings made by create, so
    -- the UNIQUE constraint below never matches them.
    external_id        TEXT,
    join_meeting_id    TEXT    NOT NULL UNIQUE,
    join_web_url       TEXT    NOT NULL UNIQUE,
    -- Unix time in nanoseconds (UTC): exact for Graph's 100 ns precision,
    -- and sorts as the time does.
    creation_date_time INTEGER NOT NULL,
    resource           BLOB    NOT NULL,
    UNIQUE (tenant_id, user_id, external_id)
) STRICT;

-- Listing an owner's meetings, newest first, with the id as tiebreaker for
-- stable paging.
CREATE INDEX meetings_owner_created
    ON meetings (tenant_id, user_id, creation_date_time DESC, id);
