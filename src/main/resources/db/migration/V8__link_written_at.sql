-- When a delivery last wrote to the linked record (answered and recorded). A change read from that
-- record before then cannot show the write, and against the merge base the write left it would read
-- as the system undoing it: the engine leaves it for the system's next read.
ALTER TABLE contact_link ADD COLUMN written_at TIMESTAMP WITH TIME ZONE;
