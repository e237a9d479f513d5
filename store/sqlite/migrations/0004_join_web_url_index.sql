-- 0004 indexes join_web_url itself instead of its hash, and drops the hash.
--
-- The handlers now build thread ids from time-ordered GUIDs, so the join
-- URLs of meetings made in the same few milliseconds share a long prefix:
-- an index on the URL takes a batch of creates into one or two pages,
-- where the hash, being random, dirtied a page of its own for every
-- meeting. Find still compares the whole URL, as before.
DROP INDEX meetings_join_web_url_hash;
ALTER TABLE meetings DROP COLUMN join_web_url_hash;
CREATE INDEX meetings_join_web_url ON meetings (join_web_url);
