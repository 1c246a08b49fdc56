-- When each canonical field of a change's record was last set, where the event that brought it says
-- (a Pipedrive v2 webhook names the fields it changed): a JSON object of field name to instant. NULL:
-- the record's fields are dated by the record, or by the dates the mapping reads from it.
ALTER TABLE inbox ADD COLUMN field_times VARCHAR;
