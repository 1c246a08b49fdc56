-- An inbox change that failed for a reason another try can help (a system unreachable, 5xx, 429, a
-- paused provider) waits until next_attempt_at before it is claimed again; first_failed_at is when it
-- first failed, from which crmsync.sync.max-retry-duration counts before it goes to dead letters.
ALTER TABLE inbox ADD COLUMN next_attempt_at TIMESTAMP WITH TIME ZONE;
ALTER TABLE inbox ADD COLUMN first_failed_at TIMESTAMP WITH TIME ZONE;
