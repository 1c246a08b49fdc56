-- A run's changes carry its id, and each applied change the engine's outcome (committed with it):
-- a run's counters add them up, and the run knows when the last of its changes has been applied.
ALTER TABLE inbox ADD COLUMN run_id VARCHAR(36);
ALTER TABLE inbox ADD COLUMN outcome VARCHAR(16);
-- (the outcome too: a run's counters are read from the index alone)
CREATE INDEX inbox_by_run ON inbox (run_id, state, outcome);

-- A reconcile marks each linked record it reads; a live contact's link it did not mark names a
-- record the system no longer has.
ALTER TABLE contact_link ADD COLUMN seen_by_run VARCHAR(36);

-- What a reconcile repaired: {"missed": changes the hub had not seen, "remoteDeleted": records gone
-- from the system, "resent": hub contacts the system lacked}.
ALTER TABLE sync_run ADD COLUMN repaired VARCHAR NOT NULL DEFAULT '{}';
