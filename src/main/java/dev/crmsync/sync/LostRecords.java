package dev.crmsync.sync;

import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.springframework.jdbc.core.namedparam.MapSqlParameterSource;
import org.springframework.jdbc.core.namedparam.NamedParameterJdbcTemplate;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Transactional;

/**
 * Records a system lost without deleting them: the link to the lost record goes, a create of the
 * person is on its way to that system, and a {@code lost_record} row keeps the event for the
 * contact's sync status and the reconcile's report.
 */
@Component
public class LostRecords {

    /** The event as {@code GET /api/contacts/{id}/sync} names it. */
    public static final String RECREATED = "recreated";

    /** One lost record: which, how it was noticed, when. */
    public record Lost(String system, String objectType, String externalId, RecordLoss detectedBy, String runId,
                       Instant detectedAt) {

        Map<String, Object> describe() {
            Map<String, Object> event = new LinkedHashMap<>();
            event.put("event", RECREATED);
            event.put("reason", "record lost by " + system);
            event.put("detectedBy", detectedBy.column());
            event.put("objectType", objectType);
            event.put("lostExternalId", externalId);
            event.put("runId", runId);
            event.put("at", detectedAt.toString());
            return event;
        }
    }

    private final NamedParameterJdbcTemplate jdbc;
    private final Links links;
    private final Clock clock;

    public LostRecords(NamedParameterJdbcTemplate jdbc, Links links, Clock clock) {
        this.jdbc = jdbc;
        this.links = links;
        this.clock = clock;
    }

    /**
     * The system lost this record of the contact. {@code outboxId}, the update that found it missing,
     * is claimed again at once: with no link left it is a create. Without one (a reconcile) a create
     * is queued unless a delivery to that system is already on its way.
     */
    @Transactional
    public void recreate(String system, String objectType, String externalId, String contactId, RecordLoss detectedBy,
                         String runId, Long outboxId) {
        Instant now = clock.instant();
        links.delete(system, objectType, externalId);
        MapSqlParameterSource row = new MapSqlParameterSource("contact", contactId).addValue("system", system)
                .addValue("object", objectType).addValue("external", externalId).addValue("by", detectedBy.column())
                .addValue("run", runId).addValue("now", Links.at(now));
        jdbc.update("INSERT INTO lost_record (contact_id, system, object_type, external_id, detected_by, run_id, detected_at) "
                + "VALUES (:contact, :system, :object, :external, :by, :run, :now)", row);
        if (outboxId != null) {
            jdbc.update("UPDATE outbox SET state = 'pending', claimed_by = NULL, next_attempt_at = :now, outcome = 'lost', last_error = :why "
                    + "WHERE id = :id", row.addValue("id", outboxId).addValue("why", "the record was lost by " + system
                    + " without a deletion: it is created again"));
            return;
        }
        jdbc.update("INSERT INTO outbox (contact_id, target_system, object_type, operation, contact_version, next_attempt_at, "
                + "created_at) SELECT c.id, :system, :object, 'create', c.version, :now, :now FROM contact c WHERE c.id = :contact "
                + "AND c.deleted_at IS NULL AND c.merged_into IS NULL AND NOT EXISTS (SELECT 1 FROM outbox o "
                + "WHERE o.contact_id = c.id AND o.target_system = :system AND o.state IN ('pending', 'claimed'))", row);
    }

    /** The contact's lost records, oldest first. */
    public List<Lost> ofContact(String contactId) {
        return jdbc.query("SELECT system, object_type, external_id, detected_by, run_id, detected_at FROM lost_record "
                        + "WHERE contact_id = :contact ORDER BY id", Map.of("contact", contactId),
                (rs, n) -> new Lost(rs.getString("system"), rs.getString("object_type"), rs.getString("external_id"),
                        RecordLoss.ofColumn(rs.getString("detected_by")), rs.getString("run_id"),
                        Links.instant(rs, "detected_at")));
    }

    /** How many records a run found lost. */
    public long ofRun(String runId) {
        return jdbc.queryForObject("SELECT COUNT(*) FROM lost_record WHERE run_id = :run", Map.of("run", runId), Long.class);
    }
}
