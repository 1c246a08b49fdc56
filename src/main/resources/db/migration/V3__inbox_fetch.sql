-- A webhook that names an id only (HubSpot's) is stored as a 'fetch' change: the inbox processor
-- reads the records of a batch of them at once and turns each into an 'update'.
ALTER TABLE inbox DROP CONSTRAINT inbox_operation;
ALTER TABLE inbox ADD CONSTRAINT inbox_operation
    CHECK (operation IN ('create', 'update', 'delete', 'merge', 'restore', 'fetch'));
