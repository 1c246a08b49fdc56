-- Keys for the two lookups the engine makes for every contact it creates, so each is an index
-- look-up instead of a scan of every contact (a scan made an initial load slow down as it grew):
-- a tombstone by email (any case), and live contacts with the same name and company (possible
-- duplicates). Both are computed by the database with LOWER, as the queries that use them are, so
-- Java's and the database's lower-casing never differ.
ALTER TABLE contact ADD COLUMN email_lower VARCHAR(254);
ALTER TABLE contact ADD COLUMN name_key VARCHAR(800);
UPDATE contact SET email_lower = LOWER(email),
                   name_key = LOWER(first_name) || '|' || LOWER(last_name) || '|' || LOWER(company);
CREATE INDEX contact_email_lower ON contact (email_lower);
CREATE INDEX contact_name_key ON contact (name_key);
