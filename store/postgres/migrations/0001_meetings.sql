-- meetings holds one row per online meeting. The columns the store queries
-- or keeps unique are real columns; the rest of the resource, as the
-- handlers render it, is the opaque resource column.
--
-- Every text column is COLLATE "C": comparisons are byte comparisons, so
-- List's "ID descending (byte order)" holds whatever the database's default
-- collation is, and equality never depends on a locale.
CREATE TABLE meetings (
    id                  text COLLATE "C" NOT NULL,
    -- Tenant and user object ids are text, not uuid: a malformed id in a
    -- lookup then simply matches nothing instead of failing with 22P02.
    tenant_id           text COLLATE "C" NOT NULL,
    user_id             text COLLATE "C" NOT NULL,
    -- The createOrGet key. NULL, not '', for meetings made by create, so the
    -- partial unique index below never sees them.
    external_id         text COLLATE "C",
    join_meeting_id     text COLLATE "C" NOT NULL,
    -- Unique in practice but not enforced: Find returns every match.
    join_web_url        text COLLATE "C" NOT NULL,
    -- Unix time in nanoseconds (UTC). timestamptz keeps only microseconds;
    -- Graph times have 100 ns precision. Sorts as the time does.
    creation_date_time  bigint NOT NULL,
    -- Attendees in the caller's order: the nth tenant id goes with the nth
    -- user id. bytea, because the contract lets attendees hold any bytes
    -- (text refuses NUL and invalid UTF-8).
    attendee_tenant_ids bytea[] NOT NULL DEFAULT '{}',
    attendee_user_ids   bytea[] NOT NULL DEFAULT '{}',
    -- The resource exactly as the handlers gave it: bytea keeps every byte
    -- (jsonb would reorder keys and reject \u0000).
    resource            bytea NOT NULL,
    -- The store maps unique violations to its errors by these names.
    CONSTRAINT meetings_pkey PRIMARY KEY (id),
    CONSTRAINT meetings_join_meeting_id_key UNIQUE (join_meeting_id),
    CONSTRAINT meetings_attendees_paired
        CHECK (cardinality(attendee_tenant_ids) = cardinality(attendee_user_ids))
);

-- createOrGet's arbiter: one external id per owner, meetings without one
-- left out.
CREATE UNIQUE INDEX meetings_external_id_key
    ON meetings (tenant_id, user_id, external_id)
    WHERE external_id IS NOT NULL;

-- Find by joinWebUrl.
CREATE INDEX meetings_join_web_url ON meetings (join_web_url);

-- List: an owner's meetings newest first, with the id as tiebreaker, read
-- by keyset ((creation_date_time, id) < cursor).
CREATE INDEX meetings_owner_created
    ON meetings (tenant_id, user_id, creation_date_time DESC, id DESC);

-- keys holds the secrets Key returns: made once, shared by every replica.
-- The name is bytea: any string is a valid name.
CREATE TABLE keys (
    name  bytea NOT NULL PRIMARY KEY,
    value bytea NOT NULL
);
