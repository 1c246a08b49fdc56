package dev.crmsync.sync;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.springframework.dao.DuplicateKeyException;
import org.springframework.jdbc.core.namedparam.MapSqlParameterSource;
import org.springframework.jdbc.core.namedparam.NamedParameterJdbcTemplate;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Transactional;

/**
 * The sync_run table: initial, incremental and reconcile runs of one system, their state and
 * counters. The database keeps one active run of a kind per system (active_key).
 */
@Component
public class SyncRuns {

    public static final List<String> TYPES = List.of("initial", "incremental", "reconcile");
    public static final List<String> STATES = List.of("queued", "fetching", "processing", "completed", "failed", "cancelled");
    private static final int KEPT_ERRORS = 100;

    public record Run(String id, String system, String type, String state, Map<String, Long> counters,
                      Map<String, Long> repaired, Double recordsPerSecond, String cursor, List<Map<String, Object>> errors,
                      String requestedBy, Instant createdAt, Instant startedAt, Instant endedAt) {

        public boolean active() {
            return endedAt == null;
        }

        public Map<String, Object> toJson(Instant now) {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("id", id);
            json.put("system", system);
            json.put("type", type);
            json.put("state", state);
            json.putAll(counters);
            if (type.equals("reconcile")) {
                json.put("repaired", repaired);
            }
            Double rate = recordsPerSecond;
            if (rate == null && startedAt != null) {
                // a running run's rate so far
                long millis = Duration.between(startedAt, now).toMillis();
                rate = millis > 0 ? counters.get("fetched") * 1000.0 / millis : null;
            }
            json.put("recordsPerSecond", rate == null ? null : Math.round(rate * 10) / 10.0);
            json.put("cursor", cursor);
            json.put("requestedBy", requestedBy);
            json.put("createdAt", text(createdAt));
            json.put("startedAt", text(startedAt));
            json.put("endedAt", text(endedAt));
            json.put("errors", errors);
            return json;
        }
    }

    private static String text(Instant at) {
        return at == null ? null : at.toString();
    }

    /** A run of that kind is already active for the system. */
    public static class ActiveRunException extends RuntimeException {
        private final String runId;

        ActiveRunException(String runId) {
            super("run " + runId + " is active");
            this.runId = runId;
        }

        public String runId() {
            return runId;
        }
    }

    private final NamedParameterJdbcTemplate jdbc;
    private final ObjectMapper json;
    private final Clock clock;

    public SyncRuns(NamedParameterJdbcTemplate jdbc, ObjectMapper json, Clock clock) {
        this.jdbc = jdbc;
        this.json = json;
        this.clock = clock;
    }

    /** Queues a run; throws {@link ActiveRunException} when one of that kind is active for the system. */
    public Run start(String system, String type, String requestedBy) {
        String id = UUID.randomUUID().toString();
        try {
            jdbc.update("INSERT INTO sync_run (id, system, run_type, state, active_key, requested_by, created_at) "
                    + "VALUES (:id, :system, :type, 'queued', :key, :by, :now)", new MapSqlParameterSource("id", id)
                    .addValue("system", system).addValue("type", type).addValue("key", system + ":" + type)
                    .addValue("by", requestedBy).addValue("now", Links.at(clock.instant())));
        } catch (DuplicateKeyException e) {
            throw new ActiveRunException(jdbc.queryForObject("SELECT id FROM sync_run WHERE active_key = :key",
                    Map.of("key", system + ":" + type), String.class));
        }
        return find(id).orElseThrow();
    }

    public Optional<Run> find(String id) {
        return jdbc.query("SELECT * FROM sync_run WHERE id = :id", Map.of("id", id), this::run).stream().findFirst()
                .map(this::withOutcomes);
    }

    /** Runs, newest first; system and state filter when given. */
    public List<Run> list(String system, String state, int limit) {
        MapSqlParameterSource parameters = new MapSqlParameterSource("limit", limit);
        List<String> where = new ArrayList<>();
        if (system != null) {
            where.add("system = :system");
            parameters.addValue("system", system);
        }
        if (state != null) {
            where.add("state = :state");
            parameters.addValue("state", state);
        }
        return jdbc.query("SELECT * FROM sync_run" + (where.isEmpty() ? "" : " WHERE " + String.join(" AND ", where))
                + " ORDER BY created_at DESC, id LIMIT :limit", parameters, this::run).stream().map(this::withOutcomes).toList();
    }

    /** Active runs, without their outcomes counted. */
    public List<Run> active() {
        return jdbc.query("SELECT * FROM sync_run WHERE active_key IS NOT NULL ORDER BY created_at", Map.of(), this::run);
    }

    /** Whether the run is still active (not ended, not cancelled): read before each page, so cheap. */
    public boolean isActive(String id) {
        return !jdbc.queryForList("SELECT id FROM sync_run WHERE id = :id AND active_key IS NOT NULL", Map.of("id", id),
                String.class).isEmpty();
    }

    /** Cancels an active run; false when it had already ended. */
    public boolean cancel(String id) {
        return end(id, "cancelled", null) == 1;
    }

    void fetching(String id) {
        jdbc.update("UPDATE sync_run SET state = 'fetching', started_at = COALESCE(started_at, :now) "
                + "WHERE id = :id AND state IN ('queued', 'fetching')", Map.of("id", id, "now", Links.at(clock.instant())));
    }

    /** A committed page: its counts and where the run resumes. Part of the page's transaction. */
    void page(String id, long fetched, long unchanged, long failed, String checkpoint) {
        jdbc.update("UPDATE sync_run SET fetched = fetched + :fetched, unchanged = unchanged + :unchanged, "
                        + "failed = failed + :failed, cursor_reached = :checkpoint WHERE id = :id",
                new MapSqlParameterSource("id", id).addValue("fetched", fetched).addValue("unchanged", unchanged)
                        .addValue("failed", failed).addValue("checkpoint", checkpoint));
    }

    /** Everything is read: the run waits for its changes to be applied. */
    void fetched(String id, Map<String, Long> repaired) {
        jdbc.update("UPDATE sync_run SET state = 'processing', repaired = :repaired WHERE id = :id AND state = 'fetching'",
                Map.of("id", id, "repaired", write(repaired)));
    }

    void failed(String id, String error) {
        error(id, null, error);
        end(id, "failed", null);
    }

    /**
     * Completes a processing run once none of its changes waits, adding the engine's outcomes to its
     * counters for good; true when it did.
     */
    @Transactional
    public boolean completeIfApplied(Run run) {
        Integer waiting = jdbc.queryForObject("SELECT COUNT(*) FROM inbox WHERE run_id = :id AND state IN ('pending', 'claimed')",
                Map.of("id", run.id()), Integer.class);
        if (waiting == null || waiting > 0) {
            return false;
        }
        MapSqlParameterSource parameters = new MapSqlParameterSource("id", run.id()).addValue("system", run.system())
                .addValue("started", Links.at(run.startedAt()));
        outcomes(run.id()).forEach(parameters::addValue);
        // conflicts: those recorded in that system's name while the run's changes were applied
        jdbc.update("UPDATE sync_run SET created = created + :created, updated = updated + :updated, deleted = deleted + :deleted, "
                + "unchanged = unchanged + :unchanged, failed = failed + :failed, conflicts = (SELECT COUNT(*) FROM conflict "
                + "WHERE remote_system = :system AND created_at >= :started) WHERE id = :id AND state = 'processing'", parameters);
        return end(run.id(), "completed", "processing") == 1;
    }

    /**
     * A run's counters: what it read (fetched, and unchanged or failed at intake) is counted as each
     * page commits; what the engine did with each change is on the change's inbox row until the run
     * completes and adds it up for good.
     */
    private Run withOutcomes(Run run) {
        if (run.state().equals("completed")) {
            return run;
        }
        Map<String, Long> counters = new LinkedHashMap<>(run.counters());
        outcomes(run.id()).forEach((counter, count) -> counters.merge(counter, count, Long::sum));
        return new Run(run.id(), run.system(), run.type(), run.state(), counters, run.repaired(), run.recordsPerSecond(),
                run.cursor(), run.errors(), run.requestedBy(), run.createdAt(), run.startedAt(), run.endedAt());
    }

    private Map<String, Long> outcomes(String runId) {
        Map<String, Long> outcomes = new LinkedHashMap<>(Map.of("created", 0L, "updated", 0L, "deleted", 0L, "unchanged", 0L,
                "failed", 0L));
        jdbc.query("SELECT state, outcome, COUNT(*) AS n FROM inbox WHERE run_id = :id AND state IN ('done', 'failed') "
                + "GROUP BY state, outcome", Map.of("id", runId), rs -> {
                    String counter = rs.getString("state").equals("failed") ? "failed" : switch (String.valueOf(rs.getString("outcome"))) {
                        case "created" -> "created";
                        case "updated", "merged" -> "updated";
                        case "deleted" -> "deleted";
                        default -> "unchanged";
                    };
                    outcomes.merge(counter, rs.getLong("n"), Long::sum);
                });
        return outcomes;
    }

    private int end(String id, String state, String from) {
        Instant now = clock.instant();
        Double rate = find(id).filter(run -> run.startedAt() != null)
                .map(run -> run.counters().get("fetched") * 1000.0 / Math.max(1, Duration.between(run.startedAt(), now).toMillis()))
                .orElse(null);
        return jdbc.update("UPDATE sync_run SET state = :state, active_key = NULL, ended_at = :now, records_per_second = :rate "
                        + "WHERE id = :id AND active_key IS NOT NULL" + (from == null ? "" : " AND state = :from"),
                new MapSqlParameterSource("id", id).addValue("state", state).addValue("now", Links.at(now))
                        .addValue("from", from).addValue("rate", rate));
    }

    /** Keeps a record's error on the run, the newest {@value #KEPT_ERRORS} of them. */
    @Transactional
    public void error(String id, String record, String message) {
        List<String> current = jdbc.queryForList("SELECT errors FROM sync_run WHERE id = :id FOR UPDATE", Map.of("id", id), String.class);
        if (current.isEmpty()) {
            return;
        }
        List<Map<String, Object>> errors = new ArrayList<>(read(current.get(0), new TypeReference<List<Map<String, Object>>>() { }));
        Map<String, Object> error = new LinkedHashMap<>();
        error.put("at", clock.instant().toString());
        error.put("record", record);
        error.put("error", message);
        errors.add(error);
        if (errors.size() > KEPT_ERRORS) {
            errors = new ArrayList<>(errors.subList(errors.size() - KEPT_ERRORS, errors.size()));
        }
        jdbc.update("UPDATE sync_run SET errors = :errors WHERE id = :id", Map.of("id", id, "errors", write(errors)));
    }

    private Run run(ResultSet rs, int row) throws SQLException {
        Map<String, Long> counters = new LinkedHashMap<>();
        for (String counter : List.of("fetched", "created", "updated", "deleted", "unchanged", "conflicts", "failed")) {
            counters.put(counter, rs.getLong(counter));
        }
        Double rate = rs.getObject("records_per_second") == null ? null : rs.getDouble("records_per_second");
        return new Run(rs.getString("id"), rs.getString("system"), rs.getString("run_type"), rs.getString("state"), counters,
                read(rs.getString("repaired"), new TypeReference<Map<String, Long>>() { }), rate,
                rs.getString("cursor_reached"), read(rs.getString("errors"), new TypeReference<List<Map<String, Object>>>() { }),
                rs.getString("requested_by"), Links.instant(rs, "created_at"), Links.instant(rs, "started_at"),
                Links.instant(rs, "ended_at"));
    }

    private <T> T read(String text, TypeReference<T> type) {
        try {
            return json.readValue(text, type);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("sync_run holds malformed JSON", e);
        }
    }

    private String write(Object value) {
        try {
            return json.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(e);
        }
    }
}
