-- When a merge last moved the record from the merged person to the contact it is linked to now. A
-- change the record had before then is the merged person's: it only fills what the survivor lacks.
ALTER TABLE contact_link ADD COLUMN moved_at TIMESTAMP WITH TIME ZONE;
