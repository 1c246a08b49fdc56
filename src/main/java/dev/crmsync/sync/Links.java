package dev.crmsync.sync;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.springframework.jdbc.core.namedparam.MapSqlParameterSource;
import org.springframework.jdbc.core.namedparam.NamedParameterJdbcTemplate;
import org.springframework.stereotype.Component;

/**
 * contact_link: which record in which system is which hub contact, and what was last exchanged
 * with it (the merge base and the echo guard's hash).
 */
@Component
public class Links {

    /**
     * A hub contact's record in one system. {@code syncedValues} are canonical values, keyed by
     * canonical name; null while the hub has not merged the record yet (a link found, not synced).
     * {@code movedAt}: when a merge last moved the record from the merged person to this one.
     */
    public record Link(String system, String objectType, String externalId, String contactId,
                       Map<String, Object> syncedValues, String syncedHash, Instant remoteModifiedAt, Instant lastSyncedAt,
                       Instant writtenAt, Instant movedAt) {
    }

    private final NamedParameterJdbcTemplate jdbc;
    private final ObjectMapper json;

    public Links(NamedParameterJdbcTemplate jdbc, ObjectMapper json) {
        this.jdbc = jdbc;
        this.json = json;
    }

    public Optional<Link> find(String system, String objectType, String externalId) {
        return jdbc.query("SELECT * FROM contact_link WHERE system = :system AND object_type = :object AND external_id = :id",
                Map.of("system", system, "object", objectType, "id", externalId), this::link).stream().findFirst();
    }

    public Optional<Link> forContact(String contactId, String system, String objectType) {
        return jdbc.query("SELECT * FROM contact_link WHERE contact_id = :contact AND system = :system AND object_type = :object",
                Map.of("contact", contactId, "system", system, "object", objectType), this::link).stream().findFirst();
    }

    public List<Link> ofContact(String contactId) {
        return jdbc.query("SELECT * FROM contact_link WHERE contact_id = :contact ORDER BY system, object_type",
                Map.of("contact", contactId), this::link);
    }

    /** The links of one system for several contacts, in one query, by contact id. */
    public Map<String, List<Link>> inSystem(String system, java.util.Collection<String> contactIds) {
        if (contactIds.isEmpty()) {
            return Map.of();
        }
        Map<String, List<Link>> byContact = new java.util.HashMap<>();
        jdbc.query("SELECT * FROM contact_link WHERE system = :system AND contact_id IN (:contacts)",
                        Map.of("system", system, "contacts", contactIds), this::link)
                .forEach(link -> byContact.computeIfAbsent(link.contactId(), id -> new java.util.ArrayList<>()).add(link));
        return byContact;
    }

    /**
     * Records what a system now holds for a contact: {@code synced}, its canonical values (the next
     * merge base), and {@code hash}, the hash of the remote payload the hub's values make, or null
     * when the remote is known to differ from the hub (so the next delivery is not skipped).
     */
    public void save(String system, String objectType, String externalId, String contactId, Map<String, Object> synced,
                     String hash, Instant remoteModifiedAt, Instant now) {
        saveAll(List.of(new Write(system, objectType, externalId, contactId, synced, hash, remoteModifiedAt)), now);
    }

    /** What {@link #save} records, for {@link #saveAll}. */
    public record Write(String system, String objectType, String externalId, String contactId, Map<String, Object> synced,
                        String hash, Instant remoteModifiedAt) {
    }

    /** Several saves in two batched statements (update, then insert what was not there). */
    public void saveAll(List<Write> writes, Instant now) {
        if (writes.isEmpty()) {
            return;
        }
        MapSqlParameterSource[] parameters = writes.stream().map(w -> new MapSqlParameterSource()
                .addValue("system", w.system()).addValue("object", w.objectType()).addValue("id", w.externalId())
                .addValue("contact", w.contactId()).addValue("values", write(w.synced())).addValue("hash", w.hash())
                .addValue("modified", at(w.remoteModifiedAt())).addValue("now", at(now))).toArray(MapSqlParameterSource[]::new);
        int[] updated = jdbc.batchUpdate("UPDATE contact_link SET contact_id = :contact, synced_values = :values, "
                + "synced_hash = :hash, remote_modified_at = COALESCE(:modified, remote_modified_at), last_synced_at = :now "
                + "WHERE system = :system AND object_type = :object AND external_id = :id", parameters);
        List<MapSqlParameterSource> missing = new java.util.ArrayList<>();
        for (int i = 0; i < updated.length; i++) {
            if (updated[i] == 0) {
                missing.add(parameters[i]);
            }
        }
        if (!missing.isEmpty()) {
            // the engine may link the same record meanwhile (its webhook came before our answer did): then
            // the insert yields, and that link is the one kept
            jdbc.batchUpdate("INSERT INTO contact_link (system, object_type, external_id, contact_id, synced_values, synced_hash, "
                    + "remote_modified_at, last_synced_at, created_at) VALUES (:system, :object, :id, :contact, :values, "
                    + ":hash, :modified, :now, :now) ON CONFLICT DO NOTHING", missing.toArray(MapSqlParameterSource[]::new));
        }
    }

    /** Notes that deliveries wrote these records, as their answers came ({@link Link#writtenAt()}). */
    public void markWritten(List<Write> writes, Instant now) {
        if (writes.isEmpty()) {
            return;
        }
        jdbc.batchUpdate("UPDATE contact_link SET written_at = :now WHERE system = :system AND object_type = :object "
                + "AND external_id = :id", writes.stream().map(w -> new MapSqlParameterSource("now", at(now))
                .addValue("system", w.system()).addValue("object", w.objectType()).addValue("id", w.externalId()))
                .toArray(MapSqlParameterSource[]::new));
    }

    /** Notes that a merge moved the record to the contact it is now linked to (null: forgets it). */
    public void moved(String system, String objectType, String externalId, Instant now) {
        jdbc.update("UPDATE contact_link SET moved_at = :now WHERE system = :system AND object_type = :object "
                + "AND external_id = :id", new MapSqlParameterSource("now", at(now)).addValue("system", system)
                .addValue("object", objectType).addValue("id", externalId));
    }

    public void delete(String system, String objectType, String externalId) {
        jdbc.update("DELETE FROM contact_link WHERE system = :system AND object_type = :object AND external_id = :id",
                Map.of("system", system, "object", objectType, "id", externalId));
    }

    /** A stable hash of a remote payload: equal content, equal hash, whatever the order of its fields. */
    public String hash(com.fasterxml.jackson.databind.JsonNode payload) {
        try {
            Object sorted = json.treeToValue(payload, TreeMap.class);
            byte[] digest = java.security.MessageDigest.getInstance("SHA-256").digest(json.writeValueAsBytes(sorted));
            return HexFormat.of().formatHex(digest);
        } catch (JsonProcessingException | java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("cannot hash " + payload, e);
        }
    }

    private Link link(ResultSet rs, int row) throws SQLException {
        String values = rs.getString("synced_values");
        return new Link(rs.getString("system"), rs.getString("object_type"), rs.getString("external_id"),
                rs.getString("contact_id"), values == null ? null : read(values), rs.getString("synced_hash"),
                instant(rs, "remote_modified_at"), instant(rs, "last_synced_at"), instant(rs, "written_at"),
                instant(rs, "moved_at"));
    }

    private Map<String, Object> read(String text) {
        try {
            return json.readValue(text, new TypeReference<>() {
            });
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("unreadable synced values: " + text, e);
        }
    }

    private String write(Map<String, Object> values) {
        if (values == null) {
            return null;
        }
        try {
            return json.writeValueAsString(new TreeMap<>(values));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot store " + values, e);
        }
    }

    static OffsetDateTime at(Instant instant) {
        return instant == null ? null : instant.atOffset(ZoneOffset.UTC);
    }

    static Instant instant(ResultSet rs, String column) throws SQLException {
        OffsetDateTime value = rs.getObject(column, OffsetDateTime.class);
        return value == null ? null : value.toInstant();
    }
}
