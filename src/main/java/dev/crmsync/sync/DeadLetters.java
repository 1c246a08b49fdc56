package dev.crmsync.sync;

import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import dev.crmsync.sync.Inbox.Change;
import io.micrometer.core.instrument.MeterRegistry;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.jdbc.core.namedparam.MapSqlParameterSource;
import org.springframework.jdbc.core.namedparam.NamedParameterJdbcTemplate;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Transactional;

/**
 * Where a change ends when its retries are spent: the dead_letter table, with its payload, error,
 * attempts and route, never only a log line. A replay sends it back through the outbox (or the inbox).
 */
@Component("deadLetters")
public class DeadLetters {

    private static final Logger LOG = LoggerFactory.getLogger(DeadLetters.class);

    private final NamedParameterJdbcTemplate jdbc;
    private final Clock clock;
    private final MeterRegistry meters;

    public DeadLetters(NamedParameterJdbcTemplate jdbc, Clock clock, MeterRegistry meters) {
        this.jdbc = jdbc;
        this.clock = clock;
        this.meters = meters;
    }

    /** The dead-letter channel's endpoint: a delivery whose retries are spent. */
    @Transactional
    public void record(Exchange exchange) {
        Exception error = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Exception.class);
        Object body = exchange.getMessage().getBody();
        int attempts = exchange.getProperty(DeliveryRetry.ATTEMPTS, 1, Integer.class);
        String route = exchange.getFromRouteId();
        if (body instanceof Delivery delivery) {
            record(route, delivery, error, attempts);
        } else if (body instanceof List<?> batch && !batch.isEmpty() && batch.get(0) instanceof Delivery) {
            // a batch call that kept failing as a whole: each of its records is a dead letter of its own
            batch.forEach(delivery -> record(route, (Delivery) delivery, error, attempts));
        } else {
            insert(route, null, null, null, null, null, body == null ? null : body.toString(), error, attempts);
        }
    }

    private void record(String route, Delivery delivery, Exception error, int attempts) {
        insert(route, delivery.getSystem(), delivery.getContactId(), delivery.getOutboxId(), null,
                delivery.getOperation(), delivery.getPayload() == null ? null : delivery.getPayload().toString(),
                error, attempts);
        jdbc.update("UPDATE outbox SET state = 'dead', outcome = 'refused', last_error = :error WHERE id = :id",
                Map.of("id", delivery.getOutboxId(), "error", describe(error)));
    }

    /** A change from a system that could not be applied to the hub. */
    @Transactional
    public void recordInbox(Change change, Exception error) {
        insert("inbox-process", change.sourceSystem(), null, null, change.id(), change.operation(), change.payload(),
                error, change.attempts());
    }

    private void insert(String route, String system, String contactId, Long outboxId, Long inboxId, String operation,
                        String payload, Exception error, int attempts) {
        jdbc.update("INSERT INTO dead_letter (route_id, system, contact_id, outbox_id, inbox_id, operation, payload, "
                        + "error_type, error_message, attempts, failed_at) VALUES (:route, :system, :contact, :outbox, :inbox, "
                        + ":operation, :payload, :type, :message, :attempts, :now)",
                new MapSqlParameterSource().addValue("route", route == null ? "unknown" : route).addValue("system", system)
                        .addValue("contact", contactId).addValue("outbox", outboxId).addValue("inbox", inboxId)
                        .addValue("operation", operation).addValue("payload", payload)
                        .addValue("type", error == null ? null : error.getClass().getName())
                        .addValue("message", describe(error)).addValue("attempts", attempts)
                        .addValue("now", Links.at(clock.instant())));
        meters.counter("crmsync.dead-letters", "system", system == null ? "none" : system).increment();
        LOG.warn("Dead letter from {} ({} {} of contact {}) after {} attempts: {}", route, operation, system, contactId,
                attempts, describe(error));
    }

    public List<Map<String, Object>> list(String system, int limit) {
        MapSqlParameterSource parameters = new MapSqlParameterSource("limit", limit);
        String where = " WHERE replayed_at IS NULL";
        if (system != null) {
            where += " AND system = :system";
            parameters.addValue("system", system);
        }
        return jdbc.queryForList("SELECT id, route_id, system, contact_id, outbox_id, inbox_id, operation, payload, "
                + "error_type, error_message, attempts, failed_at FROM dead_letter" + where + " ORDER BY id LIMIT :limit", parameters);
    }

    public Optional<Map<String, Object>> find(long id) {
        return jdbc.queryForList("SELECT * FROM dead_letter WHERE id = :id", Map.of("id", id)).stream().findFirst();
    }

    /**
     * Sends a dead letter back: a delivery as a new outbox row (so the contact as it is now is sent), a
     * failed inbox change as pending again. Returns false when it was already replayed.
     */
    @Transactional
    public boolean replay(long id) {
        int marked = jdbc.update("UPDATE dead_letter SET replayed_at = :now WHERE id = :id AND replayed_at IS NULL",
                Map.of("id", id, "now", Links.at(clock.instant())));
        if (marked == 0) {
            return false;
        }
        Map<String, Object> letter = jdbc.queryForMap("SELECT * FROM dead_letter WHERE id = :id", Map.of("id", id));
        if (letter.get("outbox_id") != null) {
            jdbc.update("INSERT INTO outbox (contact_id, target_system, object_type, operation, contact_version, payload, "
                    + "next_attempt_at, created_at) SELECT contact_id, target_system, object_type, operation, contact_version, "
                    + "payload, :now, :now FROM outbox WHERE id = :outbox",
                    Map.of("outbox", letter.get("outbox_id"), "now", Links.at(clock.instant())));
        } else if (letter.get("inbox_id") != null) {
            jdbc.update("UPDATE inbox SET state = 'pending', attempts = 0, claimed_by = NULL, next_attempt_at = NULL, "
                    + "first_failed_at = NULL WHERE id = :inbox",
                    Map.of("inbox", letter.get("inbox_id")));
        }
        return true;
    }

    /** Replays every dead letter of a system not yet replayed; returns how many. */
    @Transactional
    public int replayAll(String system) {
        List<Long> ids = jdbc.queryForList("SELECT id FROM dead_letter WHERE replayed_at IS NULL AND system = :system ORDER BY id",
                Map.of("system", system), Long.class);
        ids.forEach(this::replay);
        return ids.size();
    }

    @Transactional
    public boolean delete(long id) {
        return jdbc.update("DELETE FROM dead_letter WHERE id = :id", Map.of("id", id)) == 1;
    }

    private static String describe(Exception error) {
        if (error == null) {
            return null;
        }
        String message = error.getMessage() == null ? error.getClass().getSimpleName() : error.getMessage();
        return message.length() > 4000 ? message.substring(0, 4000) : message;
    }
}
