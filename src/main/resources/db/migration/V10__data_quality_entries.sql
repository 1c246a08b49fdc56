-- Data-quality entries: a value or an identifier from a CRM that the hub cannot hold (an invalid
-- email or phone, a value longer than its column, an id too long to be stored), left out of the
-- merge and listed with the conflicts for an operator. A record refused for its id names no contact.
ALTER TABLE conflict DROP CONSTRAINT conflict_kind;
ALTER TABLE conflict ADD CONSTRAINT conflict_kind CHECK (kind IN ('field', 'possible-duplicate', 'data-quality'));
ALTER TABLE conflict ALTER COLUMN contact_id DROP NOT NULL;
ALTER TABLE conflict ADD CONSTRAINT conflict_names_contact CHECK (contact_id IS NOT NULL OR kind = 'data-quality');
ALTER TABLE conflict ADD COLUMN object_type VARCHAR(64);
-- the record's external id, cut to the column for display when it is the id that was refused
ALTER TABLE conflict ADD COLUMN external_id VARCHAR(255);
ALTER TABLE conflict ADD COLUMN reason VARCHAR(1000);
-- a hash of system, object, record, field and value: one entry however often the CRM sends it again
ALTER TABLE conflict ADD COLUMN entry_key VARCHAR(64);
ALTER TABLE conflict ADD CONSTRAINT conflict_entry_once UNIQUE (entry_key);
