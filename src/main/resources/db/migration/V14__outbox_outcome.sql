-- How an outbox row settled, or why it waits: for the code to read. last_error keeps the words for people.
ALTER TABLE outbox ADD COLUMN outcome VARCHAR(20);
ALTER TABLE outbox ADD CONSTRAINT outbox_outcome CHECK (outcome IN ('sent', 'nothing_to_send', 'superseded', 'found',
    'gone', 'changed_meanwhile', 'merged', 'deferred', 'held', 'lost', 'refused'));

-- rows settled or waiting before the column, from the notes that told it then
UPDATE outbox SET outcome = 'superseded' WHERE last_error = 'superseded by a later change of the same contact';
UPDATE outbox SET outcome = 'found' WHERE state = 'delivered' AND last_error LIKE 'found in %';
UPDATE outbox SET outcome = 'gone' WHERE state = 'delivered' AND last_error LIKE 'the record was deleted in %';
UPDATE outbox SET outcome = 'merged'
    WHERE last_error = 'the record''s change made meanwhile is merged: written without reading it again';
UPDATE outbox SET outcome = 'deferred' WHERE state = 'pending' AND last_error LIKE 'waiting for % to resume';
UPDATE outbox SET outcome = 'refused' WHERE state = 'dead';
