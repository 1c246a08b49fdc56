package dev.crmsync.sync;

import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.springframework.jdbc.core.namedparam.MapSqlParameterSource;
import org.springframework.jdbc.core.namedparam.NamedParameterJdbcTemplate;
import org.springframework.stereotype.Component;

/** The conflict table: fields both sides changed (decided by policy, kept for review) and possible duplicates. */
@Component
public class Conflicts {

    private static final String COLUMNS = "id, kind, contact_id, other_contact_id, field, hub_value, hub_system, "
            + "remote_value, remote_system, rule, winner, state, created_at, resolved_at, resolved_by, object_type, external_id, "
            + "reason";

    /** How much of a refused value or id a data-quality entry shows. */
    static final int DISPLAY = 120;

    private final NamedParameterJdbcTemplate jdbc;
    private final ObjectMapper json;
    private final Clock clock;

    public Conflicts(NamedParameterJdbcTemplate jdbc, ObjectMapper json, Clock clock) {
        this.jdbc = jdbc;
        this.json = json;
        this.clock = clock;
    }

    public void field(String contactId, String field, Object hubValue, String hubSystem, Object remoteValue,
                      String remoteSystem, String rule, String winner) {
        insert(new MapSqlParameterSource().addValue("kind", "field").addValue("contact", contactId)
                .addValue("other", null).addValue("field", field)
                .addValue("hubValue", write(hubValue)).addValue("hubSystem", hubSystem)
                .addValue("remoteValue", write(remoteValue)).addValue("remoteSystem", remoteSystem)
                .addValue("rule", rule).addValue("winner", winner));
    }

    /** Two contacts that look like one person (same name and company): recorded, never merged automatically. */
    public void possibleDuplicate(String contactId, String otherContactId, String system, String reason) {
        insert(new MapSqlParameterSource().addValue("kind", "possible-duplicate").addValue("contact", contactId)
                .addValue("other", otherContactId).addValue("field", reason)
                .addValue("hubValue", null).addValue("hubSystem", null).addValue("remoteValue", null)
                .addValue("remoteSystem", system).addValue("rule", "review").addValue("winner", null));
    }

    /**
     * A system holds one person twice: the record {@code otherExternalId} matches a contact already
     * linked to {@code linkedExternalId} there. Recorded once for review; the hub keeps its link.
     */
    public void duplicateInSystem(String contactId, String system, String linkedExternalId, String otherExternalId) {
        Integer open = jdbc.queryForObject("SELECT COUNT(*) FROM conflict WHERE kind = 'possible-duplicate' AND state = 'open' "
                        + "AND contact_id = :contact AND remote_system = :system AND remote_value = :other",
                new MapSqlParameterSource("contact", contactId).addValue("system", system).addValue("other", otherExternalId),
                Integer.class);
        if (open != null && open > 0) {
            return;
        }
        insert(new MapSqlParameterSource().addValue("kind", "possible-duplicate").addValue("contact", contactId)
                .addValue("other", null).addValue("field", "two records of one person in that system")
                .addValue("hubValue", linkedExternalId).addValue("hubSystem", system).addValue("remoteValue", otherExternalId)
                .addValue("remoteSystem", system).addValue("rule", "review").addValue("winner", null));
    }

    /**
     * A value (or an id) from a CRM that the hub cannot hold, left out of what it took from the record:
     * a {@code data-quality} entry naming the system, the record, the field, the value (cut for display)
     * and the reason, for an operator to fix at its source. One entry per system, record, field and
     * value however often the CRM sends it again (each retry, each poll); {@code contactId} is null for a
     * record refused as a whole (an id too long to store). Returns whether the entry is new.
     */
    public boolean dataQuality(String contactId, String system, String objectType, String externalId, String field,
                               Object value, String reason) {
        String key = sha256(String.join("\u0000", system, objectType, String.valueOf(externalId), field,
                write(value)));
        return jdbc.update("INSERT INTO conflict (kind, contact_id, field, remote_value, remote_system, rule, object_type, "
                + "external_id, reason, entry_key, created_at) VALUES ('data-quality', :contact, :field, :value, :system, "
                + "'left-out', :object, :record, :reason, :key, :now) ON CONFLICT DO NOTHING",
                new MapSqlParameterSource("contact", contactId).addValue("field", cut(field, 64))
                        .addValue("value", write(display(value))).addValue("system", system).addValue("object", objectType)
                        .addValue("record", externalId == null ? null : cut(externalId, 255))
                        .addValue("reason", cut(reason, 1000)).addValue("key", key)
                        .addValue("now", Links.at(clock.instant()))) == 1;
    }

    private static String sha256(String text) {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                    .digest(text.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this Java runtime", e);
        }
    }

    /** A value as a data-quality entry shows it: text cut to {@value #DISPLAY} characters, marked where cut. */
    static Object display(Object value) {
        if (value == null || value instanceof Number || value instanceof Boolean) {
            return value;
        }
        String text = value instanceof String s ? s : String.valueOf(value);
        return text.length() <= DISPLAY ? text : text.substring(0, DISPLAY) + "… (" + text.length() + " characters)";
    }

    private static String cut(String text, int max) {
        return text == null || text.length() <= max ? text : text.substring(0, max - 1) + "…";
    }

    /** A conflict as the API shows it. */
    public record Conflict(long id, String kind, String contactId, String otherContactId, String field, String hubValue,
                           String hubSystem, String remoteValue, String remoteSystem, String rule, String winner,
                           String state) {
    }

    /** Reads a conflict and holds its row lock until the transaction ends, so two resolutions of it queue up. */
    public Optional<Conflict> findForUpdate(long id) {
        return jdbc.query("SELECT * FROM conflict WHERE id = :id FOR UPDATE", Map.of("id", id),
                (rs, n) -> new Conflict(rs.getLong("id"), rs.getString("kind"), rs.getString("contact_id"),
                        rs.getString("other_contact_id"), rs.getString("field"), rs.getString("hub_value"),
                        rs.getString("hub_system"), rs.getString("remote_value"), rs.getString("remote_system"),
                        rs.getString("rule"), rs.getString("winner"), rs.getString("state"))).stream().findFirst();
    }

    /** Closes an open conflict: {@code resolved} (with the side or value that won) or {@code dismissed}. */
    public void close(long id, String state, String winner, String by) {
        jdbc.update("UPDATE conflict SET state = :state, winner = COALESCE(:winner, winner), resolved_by = :by, "
                        + "resolved_at = :now WHERE id = :id AND state = 'open'",
                new MapSqlParameterSource("id", id).addValue("state", state).addValue("winner", winner)
                        .addValue("by", by).addValue("now", Links.at(clock.instant())));
    }

    public Optional<Map<String, Object>> find(long id) {
        return jdbc.queryForList("SELECT " + COLUMNS + " FROM conflict WHERE id = :id", Map.of("id", id)).stream().findFirst();
    }

    public List<Map<String, Object>> list(String state, String kind, int limit) {
        MapSqlParameterSource parameters = new MapSqlParameterSource("limit", limit).addValue("state", state)
                .addValue("kind", kind);
        List<String> filters = new java.util.ArrayList<>();
        if (state != null) {
            filters.add("state = :state");
        }
        if (kind != null) {
            filters.add("kind = :kind");
        }
        String where = filters.isEmpty() ? "" : " WHERE " + String.join(" AND ", filters);
        return jdbc.queryForList("SELECT " + COLUMNS + " FROM conflict" + where + " ORDER BY id DESC LIMIT :limit", parameters);
    }

    private void insert(MapSqlParameterSource parameters) {
        jdbc.update("INSERT INTO conflict (kind, contact_id, other_contact_id, field, hub_value, hub_system, remote_value, "
                + "remote_system, rule, winner, created_at) VALUES (:kind, :contact, :other, :field, :hubValue, :hubSystem, "
                + ":remoteValue, :remoteSystem, :rule, :winner, :now)", parameters.addValue("now", Links.at(clock.instant())));
    }

    private String write(Object value) {
        try {
            return value == null ? null : json.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(e);
        }
    }
}
