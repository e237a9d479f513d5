-- creations counts meeting creations per owner and calendar month (UTC)
-- for the monthly creation quota (store.Quota, serve
-- --create-quota-per-month), as Microsoft Graph caps creations per user
-- per month. It is kept apart from meetings because deleting a meeting
-- gives nothing back. Create and CreateOrGet add to it in the transaction
-- of their insert, with INSERT ... ON CONFLICT DO UPDATE ... WHERE n <
-- quota: the row lock serialises one owner's concurrent creations (on every
-- replica), so the count never passes the quota and never disagrees with
-- the meetings stored. Nothing is counted without a quota.
CREATE TABLE creations (
    tenant_id text COLLATE "C" NOT NULL,
    user_id   text COLLATE "C" NOT NULL,
    -- 'YYYY-MM' of the meetings' creation_date_time, in UTC.
    month     text COLLATE "C" NOT NULL,
    n         bigint NOT NULL,
    CONSTRAINT creations_pkey PRIMARY KEY (tenant_id, user_id, month)
);
