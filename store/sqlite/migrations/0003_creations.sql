-- 0003 counts meeting creations per owner and calendar month (UTC) for the
-- monthly creation quota (store.Quota, serve --create-quota-per-month), as
-- Microsoft Graph caps creations per user per month. The count is kept
-- apart from the meetings, because deleting a meeting gives nothing back.
-- Create and CreateOrGet add to it in the savepoint of their insert, only
-- while it is below the quota, so the count and the meetings never
-- disagree; nothing is counted without a quota.
CREATE TABLE creations (
    tenant_id TEXT    NOT NULL,
    user_id   TEXT    NOT NULL,
    -- 'YYYY-MM' of the meetings' creation_date_time, in UTC.
    month     TEXT    NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id, month)
) STRICT, WITHOUT ROWID;
