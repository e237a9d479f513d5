-- 0005 stores resources compressed (see codec.go): resource_codec says how
-- a row's resource is encoded, NULL for as is. Adding a column with no
-- default other than NULL leaves the existing rows as they are: they read
-- as NULL, which is what they are.
ALTER TABLE meetings ADD COLUMN resource_codec INTEGER;
