package dev.crmsync.sync;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.jdbc.core.namedparam.MapSqlParameterSource;
import org.springframework.jdbc.core.namedparam.NamedParameterJdbcTemplate;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Transactional;

/**
 * The durable inbox: every change from a webhook or a poll is a row here, committed before its
 * sender is answered, and applied by the engine exactly once in effect.
 */
@Component
public class Inbox {

    /**
     * A change waiting to be applied: the remote record as it came, where from, and the sync run that
     * read it, if any. {@code readAt} is when the service received the record (null: read just now).
     * {@code fieldTimes}: when each canonical field was last set, as the event that brought the record
     * says (see {@link dev.crmsync.mapping.Mapping#datedByEvent}), or null.
     */
    public record Change(long id, String sourceSystem, String objectType, String externalId, String operation,
                         String payload, Instant remoteModifiedAt, int attempts, String runId, Instant readAt,
                         Map<String, Instant> fieldTimes) {

        /** The same change now holding the record it named (a webhook's id-only change, read just now). */
        public Change resolved(String resolvedPayload, Instant modifiedAt) {
            return new Change(id, sourceSystem, objectType, externalId, "update", resolvedPayload, modifiedAt, attempts, runId,
                    null, null);
        }

        /** Changes of one remote record are applied in order; different records are independent. */
        public String recordKey() {
            return sourceSystem + "/" + objectType + "/" + externalId;
        }
    }

    private static final int EXPIRE_BATCH = 5000;

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The longest record id the hub keeps (inbox.external_id, contact_link.external_id, sync_cursor.last_id). */
    public static final int MAX_ID = 255;

    /** The longest idempotency key (inbox.idempotency_key). */
    public static final int MAX_KEY = 512;

    private final NamedParameterJdbcTemplate jdbc;
    private final Conflicts conflicts;
    private final Clock clock;
    private final Duration retention;

    public Inbox(NamedParameterJdbcTemplate jdbc, Conflicts conflicts, Clock clock,
                 @Value("${crmsync.sync.inbox-retention:P14D}") Duration retention) {
        this.jdbc = jdbc;
        this.conflicts = conflicts;
        this.clock = clock;
        this.retention = retention;
    }

    /**
     * Why an id from a CRM (a record's, an event's) cannot be stored, or empty. Intake checks every id
     * before it stores anything of a request or page, so a CRM's over-long id is refused, not a
     * column overflow.
     */
    public static Optional<String> idRefusal(String id) {
        return id != null && id.length() > MAX_ID
                ? Optional.of("is " + id.length() + " characters long; the hub keeps ids of at most " + MAX_ID)
                : Optional.empty();
    }

    /**
     * A record or event refused for its id before anything of it was stored: a data-quality entry
     * (system, record, field, reason) instead of work, once however often the CRM sends it again.
     */
    public void refuse(String system, String objectType, String id, String field, String reason) {
        conflicts.dataQuality(null, system, objectType, id, field, id, reason);
    }

    /**
     * Stores a change unless one with the same key is already there. The key is the event id for a
     * webhook, else system, object, id and modification time. Returns whether it was new.
     */
    @Transactional
    public boolean accept(String key, String system, String objectType, String externalId, String operation,
                          String payload, Instant remoteModifiedAt) {
        return accept(key, system, objectType, externalId, operation, payload, remoteModifiedAt, null);
    }

    /** {@link #accept}, for a change a sync run read: its outcome is counted on the run. */
    @Transactional
    public boolean accept(String key, String system, String objectType, String externalId, String operation,
                          String payload, Instant remoteModifiedAt, String runId) {
        return accept(key, system, objectType, externalId, operation, payload, remoteModifiedAt, runId, null);
    }

    /** {@link #accept}, for a record whose event dates its fields (see {@link Change#fieldTimes()}). */
    @Transactional
    public boolean accept(String key, String system, String objectType, String externalId, String operation,
                          String payload, Instant remoteModifiedAt, String runId, Map<String, Instant> fieldTimes) {
        if (idRefusal(externalId).isPresent() || key.length() > MAX_KEY) {
            // intake checks ids first; this only keeps a missed one from becoming a database error
            throw new IllegalArgumentException(system + " " + objectType + " id or key too long to store ("
                    + key.length() + " characters of key; ids of at most " + MAX_ID + ")");
        }
        int inserted = jdbc.update("INSERT INTO inbox (idempotency_key, source_system, object_type, external_id, operation, "
                        + "payload, remote_modified_at, received_at, run_id, field_times) VALUES (:key, :system, :object, :id, "
                        + ":operation, :payload, :modified, :now, :run, :times) ON CONFLICT DO NOTHING",
                new MapSqlParameterSource().addValue("key", key).addValue("system", system).addValue("object", objectType)
                        .addValue("id", externalId).addValue("operation", operation).addValue("payload", payload)
                        .addValue("modified", Links.at(remoteModifiedAt)).addValue("now", Links.at(clock.instant()))
                        .addValue("run", runId).addValue("times", fieldTimes == null ? null : write(fieldTimes)));
        return inserted == 1;
    }

    /** Whether the change stored under this key waits to be applied (pending or claimed). */
    public boolean waiting(String key) {
        return jdbc.queryForObject("SELECT COUNT(*) FROM inbox WHERE idempotency_key = :key AND state IN ('pending', 'claimed')",
                Map.of("key", key), Integer.class) > 0;
    }

    /** Whether a change of this record waits to be applied (pending or claimed). */
    public boolean waiting(String system, String objectType, String externalId) {
        return jdbc.queryForObject("SELECT COUNT(*) FROM inbox WHERE source_system = :system AND object_type = :object "
                        + "AND external_id = :id AND state IN ('pending', 'claimed')",
                Map.of("system", system, "object", objectType, "id", externalId), Integer.class) > 0;
    }

    /**
     * Claims up to {@code limit} pending changes that are due, oldest first. A claim older than
     * {@code lease} (its worker died) is taken again: applying a change and marking it done share one
     * transaction, so a change taken twice still takes effect once. A change whose record has an
     * earlier change waiting (backing off, or claimed by a live worker) waits too: changes of one
     * record apply in order.
     */
    @Transactional
    public List<Change> claim(int limit, String worker, Duration lease) {
        Instant now = clock.instant();
        List<Long> ids = jdbc.queryForList("SELECT id FROM inbox i WHERE ((i.state = 'pending' AND (i.next_attempt_at IS NULL "
                        + "OR i.next_attempt_at <= :now)) OR (i.state = 'claimed' AND i.claimed_at < :expired)) "
                        + "AND NOT EXISTS (SELECT 1 FROM inbox e WHERE e.source_system = i.source_system "
                        + "AND e.object_type = i.object_type AND e.external_id = i.external_id AND e.id < i.id "
                        + "AND ((e.state = 'pending' AND e.next_attempt_at > :now) OR (e.state = 'claimed' AND e.claimed_at >= :expired))) "
                        + "ORDER BY id LIMIT :limit FOR UPDATE",
                new MapSqlParameterSource("limit", limit).addValue("now", Links.at(now))
                        .addValue("expired", Links.at(now.minus(lease))), Long.class);
        if (ids.isEmpty()) {
            return List.of();
        }
        jdbc.update("UPDATE inbox SET state = 'claimed', claimed_by = :worker, claimed_at = :now, attempts = attempts + 1 "
                + "WHERE id IN (:ids)", Map.of("worker", worker, "now", Links.at(now), "ids", ids));
        return jdbc.query("SELECT * FROM inbox WHERE id IN (:ids) ORDER BY id", Map.of("ids", ids),
                (rs, n) -> new Change(rs.getLong("id"), rs.getString("source_system"), rs.getString("object_type"),
                        rs.getString("external_id"), rs.getString("operation"), rs.getString("payload"),
                        Links.instant(rs, "remote_modified_at"), rs.getInt("attempts"), rs.getString("run_id"),
                        Links.instant(rs, "received_at"), read(rs.getString("field_times"))));
    }

    /** Locks a change for applying it; false when it is already done. */
    public boolean lockPending(long id) {
        return jdbc.queryForList("SELECT state FROM inbox WHERE id = :id FOR UPDATE", Map.of("id", id), String.class)
                .stream().anyMatch(state -> !state.equals("done"));
    }

    /** A change that named an id only now holds the record it stands for. */
    @Transactional
    public void resolve(long id, String operation, String payload, Instant remoteModifiedAt) {
        jdbc.update("UPDATE inbox SET operation = :operation, payload = :payload, remote_modified_at = :modified, "
                        + "field_times = NULL WHERE id = :id",
                new MapSqlParameterSource("id", id).addValue("operation", operation).addValue("payload", payload)
                        .addValue("modified", Links.at(remoteModifiedAt)));
    }

    /** Marks a change done without applying it (an echo, a record gone). */
    public void done(long id) {
        done(id, null);
    }

    /** Marks a change applied, with the engine's outcome; called inside the transaction that applied it. */
    public void done(long id, String outcome) {
        jdbc.update("UPDATE inbox SET state = 'done', processed_at = :now, last_error = NULL, outcome = :outcome WHERE id = :id",
                new MapSqlParameterSource("id", id).addValue("now", Links.at(clock.instant())).addValue("outcome", outcome));
    }

    /** Drops what a change carried of a remote record (its personal data), keeping that it came and was handled. */
    public void forgetPayload(long id) {
        jdbc.update("UPDATE inbox SET payload = NULL WHERE id = :id", Map.of("id", id));
    }

    /** Gives a change back for another try, or ends it as failed (it then also goes to dead letters). */
    @Transactional
    public void failed(long id, String error, boolean retry) {
        jdbc.update("UPDATE inbox SET state = :state, claimed_by = NULL, last_error = :error WHERE id = :id",
                Map.of("id", id, "state", retry ? "pending" : "failed", "error", error));
    }

    /**
     * A change that failed for a reason another try can help waits until {@code at}. A try not spent (its
     * provider was paused, so nothing was called) is given back; a spent one starts the change's retry
     * clock ({@code first_failed_at}) if it is not running yet.
     */
    @Transactional
    public void retryAt(long id, String error, Instant at, boolean trySpent) {
        jdbc.update("UPDATE inbox SET state = 'pending', claimed_by = NULL, last_error = :error, next_attempt_at = :at, "
                        + (trySpent ? "first_failed_at = COALESCE(first_failed_at, :now)" : "attempts = attempts - 1")
                        + " WHERE id = :id",
                new MapSqlParameterSource("id", id).addValue("error", error).addValue("at", Links.at(at))
                        .addValue("now", Links.at(clock.instant())));
    }

    /** When the change first failed (its retry clock), or null. */
    public Instant firstFailedAt(long id) {
        return jdbc.query("SELECT first_failed_at FROM inbox WHERE id = :id", Map.of("id", id),
                rs -> rs.next() ? Links.instant(rs, "first_failed_at") : null);
    }

    /** Later changes of a record whose earlier change waits: given back untried, they are claimed after it. */
    @Transactional
    public void waitFor(long earlier, List<Long> later) {
        if (later.isEmpty()) {
            return;
        }
        jdbc.update("UPDATE inbox SET state = 'pending', claimed_by = NULL, attempts = attempts - 1, last_error = :why "
                + "WHERE id IN (:ids) AND state = 'claimed'", Map.of("ids", later, "why", "waiting for change " + earlier));
    }

    /**
     * Gives a worker's claims back: a stopping worker's, or at start-up those its previous life left
     * (see {@link Instance}). Their try stays counted. Answers how many.
     */
    public int release(String worker) {
        return jdbc.update("UPDATE inbox SET state = 'pending', claimed_by = NULL WHERE state = 'claimed' AND claimed_by = :worker",
                Map.of("worker", worker));
    }

    /**
     * For the inbox-retention route: forgets applied changes older than {@code crmsync.sync.inbox-retention},
     * whose payloads hold people's data. Their keys no longer turn away a replay of the same webhook
     * or record, so the retention outlasts the systems' retries (days); a record read again after it
     * is applied again and found unchanged. Failed changes stay with their dead letters. Answers how many.
     */
    public int expire() {
        Instant before = clock.instant().minus(retention);
        int total = 0;
        int deleted;
        do {
            // in batches: one statement over millions of rows (after an initial sync) would hold its locks for long
            deleted = jdbc.update("DELETE FROM inbox WHERE id IN (SELECT id FROM inbox WHERE state = 'done' "
                    + "AND processed_at < :before ORDER BY id LIMIT :batch)",
                    Map.of("before", Links.at(before), "batch", EXPIRE_BATCH));
            total += deleted;
        } while (deleted == EXPIRE_BATCH);
        return total;
    }

    private static String write(Map<String, Instant> fieldTimes) {
        Map<String, String> text = new LinkedHashMap<>();
        fieldTimes.forEach((field, at) -> text.put(field, at.toString()));
        try {
            return JSON.writeValueAsString(text);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Map<String, Instant> read(String fieldTimes) {
        if (fieldTimes == null) {
            return null;
        }
        try {
            Map<String, Instant> times = new LinkedHashMap<>();
            JSON.readValue(fieldTimes, new TypeReference<Map<String, String>>() { })
                    .forEach((field, at) -> times.put(field, Instant.parse(at)));
            return times;
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("inbox.field_times is not a JSON object of field to instant: " + fieldTimes, e);
        }
    }

    /** Changes not yet applied. */
    public long backlog() {
        return jdbc.queryForObject("SELECT COUNT(*) FROM inbox WHERE state IN ('pending', 'claimed')", Map.of(), Long.class);
    }
}
