package dev.crmsync.sync;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.springframework.jdbc.core.namedparam.MapSqlParameterSource;
import org.springframework.jdbc.core.namedparam.NamedParameterJdbcTemplate;
import org.springframework.stereotype.Component;

/**
 * What became of one version of a contact in each target system, read from its outbox rows: what
 * POST /api/sync/contact waits for. Each call is a few short queries, outside any transaction.
 */
@Component
public class DeliveryResults {

    /** {@code outcome}: pending, failed, created, updated, deleted, unchanged, linked or gone. */
    public record Result(String outcome, String error) {

        static final Result PENDING = new Result("pending", null);
        static final Result UNCHANGED = new Result("unchanged", null);

        public boolean settled() {
            return !outcome.equals("pending");
        }

        public boolean failed() {
            return outcome.equals("failed");
        }
    }

    private record Row(long id, String target, String operation, long version, String state, Instant claimedAt,
                       DeliveryOutcome outcome, String note) {
    }

    private final NamedParameterJdbcTemplate jdbc;

    public DeliveryResults(NamedParameterJdbcTemplate jdbc) {
        this.jdbc = jdbc;
    }

    /**
     * Per target, what its outbox row for {@code version} came to. A target without such a row had
     * nothing to receive: unchanged. {@code written} says the caller wrote that version; when it did
     * not (its values were already the contact's), whatever was sent was someone else's change, so a
     * settled row is reported as unchanged, while pending and failed rows are still reported as such.
     */
    public Map<String, Result> of(String contactId, long version, boolean written, List<String> targets) {
        // the rows of this version and every later row of the contact, which may have superseded them
        List<Row> rows = jdbc.query("SELECT id, target_system, operation, contact_version, state, claimed_at, outcome, last_error "
                        + "FROM outbox WHERE contact_id = :contact AND id >= (SELECT MIN(id) FROM outbox "
                        + "WHERE contact_id = :contact AND contact_version = :version) ORDER BY id",
                new MapSqlParameterSource("contact", contactId).addValue("version", version),
                (rs, n) -> new Row(rs.getLong("id"), rs.getString("target_system"), rs.getString("operation"),
                        rs.getLong("contact_version"), rs.getString("state"), Links.instant(rs, "claimed_at"),
                        DeliveryOutcome.of(rs.getString("outcome")), rs.getString("last_error")));
        Map<String, List<Row>> byTarget = new HashMap<>();
        rows.forEach(row -> byTarget.computeIfAbsent(row.target(), t -> new ArrayList<>()).add(row));
        Map<String, Instant> linked = null;
        Map<String, Result> results = new LinkedHashMap<>();
        for (String target : targets) {
            List<Row> ofTarget = byTarget.getOrDefault(target, List.of());
            Row row = effective(ofTarget, version);
            Result result;
            if (row == null) {
                result = Result.UNCHANGED;
            } else if (!row.state().equals("delivered")) {
                result = row.state().equals("dead") ? new Result("failed", row.note()) : Result.PENDING;
            } else {
                if (linked == null && row.claimedAt() != null) {
                    linked = linkCreated(contactId);
                }
                result = delivered(row, linked == null ? null : linked.get(target));
            }
            results.put(target, written || !result.settled() || result.failed() ? result : Result.UNCHANGED);
        }
        return results;
    }

    /**
     * The row whose fate is the version's: its latest row in the target (a replayed dead letter or a
     * re-send by the engine repeats a version), followed past rows a later change superseded, since
     * delivery sends the contact as it is when it sends. Null when the version has no row there.
     */
    private static Row effective(List<Row> ofTarget, long version) {
        int at = -1;
        for (int i = 0; i < ofTarget.size(); i++) {
            if (ofTarget.get(i).version() == version) {
                at = i;
            }
        }
        if (at < 0) {
            return null;
        }
        while (at + 1 < ofTarget.size() && ofTarget.get(at).outcome() == DeliveryOutcome.SUPERSEDED) {
            at++;
        }
        return ofTarget.get(at);
    }

    /**
     * A delivered row: its outcome tells how it settled without a write of its own; a row never claimed
     * had nothing to send (the system already held those values, or a delete of a record it never
     * had). A claimed one wrote: a create when the link appeared after the claim.
     */
    private static Result delivered(Row row, Instant linkCreated) {
        if (row.outcome() == DeliveryOutcome.FOUND) {
            return new Result("linked", null);
        }
        if (row.outcome() == DeliveryOutcome.GONE) {
            return new Result("gone", null);
        }
        if (row.claimedAt() == null || row.outcome() == DeliveryOutcome.SUPERSEDED) {
            return Result.UNCHANGED;
        }
        if (row.operation().equals("delete")) {
            return new Result("deleted", null);
        }
        boolean created = linkCreated == null || !linkCreated.isBefore(row.claimedAt());
        return new Result(created ? "created" : "updated", null);
    }

    /** When each system's newest link of the contact was made. */
    private Map<String, Instant> linkCreated(String contactId) {
        Map<String, Instant> created = new HashMap<>();
        jdbc.query("SELECT system, MAX(created_at) AS created_at FROM contact_link WHERE contact_id = :contact GROUP BY system",
                Map.of("contact", contactId), rs -> {
                    created.put(rs.getString("system"), Links.instant(rs, "created_at"));
                });
        return created;
    }
}
