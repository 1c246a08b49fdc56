package dev.crmsync.contact;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crmsync.contact.Contact.ContactFields;
import org.springframework.jdbc.core.RowMapper;
import org.springframework.jdbc.core.namedparam.MapSqlParameterSource;
import org.springframework.jdbc.core.namedparam.NamedParameterJdbcTemplate;
import org.springframework.stereotype.Repository;

/** The contact and contact_history tables. Callers bring the transaction. */
@Repository
public class ContactStore {

    /** V2's match keys, computed by the database as the lookups that use them are. */
    private static final String EMAIL_LOWER = "LOWER(CAST(:email AS VARCHAR))";
    private static final String NAME_KEY = "LOWER(CAST(:firstName AS VARCHAR)) || '|' || LOWER(CAST(:lastName AS VARCHAR)) "
            + "|| '|' || LOWER(CAST(:company AS VARCHAR))";

    private static final String COLUMNS = "id, email, first_name, last_name, phone, company, title, tags, custom, "
            + "version, created_at, updated_at, deleted_at, merged_into";

    private final NamedParameterJdbcTemplate jdbc;
    private final ObjectMapper json;
    private final RowMapper<Contact> contactRow = this::contact;

    public ContactStore(NamedParameterJdbcTemplate jdbc, ObjectMapper json) {
        this.jdbc = jdbc;
        this.json = json;
    }

    /** A change to one contact as contact_history keeps it: field to {from, to}. */
    public record HistoryEntry(String contactId, long version, String operation, String sourceSystem, String actor,
                               Map<String, Map<String, Object>> changes, Instant changedAt) {
    }

    /** A page request of {@link #list}: filters, then the keyset position (updatedAt, id) to continue after. */
    public record ListQuery(String emailKey, String text, Instant updatedSince, Instant afterUpdatedAt, String afterId,
                            int limit) {
    }

    public Optional<Contact> find(String id) {
        return jdbc.query("SELECT " + COLUMNS + " FROM contact WHERE id = :id", Map.of("id", id), contactRow)
                .stream().findFirst();
    }

    /** Several contacts by id, in one query; ids not found are absent. */
    public Map<String, Contact> findAll(java.util.Collection<String> ids) {
        if (ids.isEmpty()) {
            return Map.of();
        }
        Map<String, Contact> found = new java.util.HashMap<>();
        jdbc.query("SELECT " + COLUMNS + " FROM contact WHERE id IN (:ids)", Map.of("ids", ids), contactRow)
                .forEach(contact -> found.put(contact.id(), contact));
        return found;
    }

    /** Reads the contact and holds its row lock until the transaction ends, so writes to one contact queue up. */
    public Optional<Contact> findForUpdate(String id) {
        return jdbc.query("SELECT " + COLUMNS + " FROM contact WHERE id = :id FOR UPDATE", Map.of("id", id), contactRow)
                .stream().findFirst();
    }

    public Optional<String> findLiveIdByEmail(String emailKey) {
        return jdbc.queryForList("SELECT id FROM contact WHERE email_key = :key", Map.of("key", emailKey), String.class)
                .stream().findFirst();
    }

    /** A live contact with this E.164 phone, the second way a remote record is matched. */
    public Optional<String> findLiveIdByPhone(String phone) {
        return jdbc.queryForList("SELECT id FROM contact WHERE phone = :phone AND deleted_at IS NULL ORDER BY created_at, id",
                Map.of("phone", phone), String.class).stream().findFirst();
    }

    /** The latest tombstone with this email: a stale remote record of a deleted person matches it. */
    public Optional<String> findTombstoneIdByEmail(String email) {
        return jdbc.queryForList("SELECT id FROM contact WHERE email_lower = " + EMAIL_LOWER + " AND deleted_at IS NOT NULL "
                + "ORDER BY deleted_at DESC, id", Map.of("email", email), String.class).stream().findFirst();
    }

    /** Live contacts other than {@code id} with the same first name, last name and company: possible duplicates. */
    public List<String> findLiveIdsByNameAndCompany(String id, String firstName, String lastName, String company) {
        if (firstName == null || lastName == null || company == null) {
            // the key of such a contact is null, and a comparison with null makes H2 scan every contact
            return List.of();
        }
        return jdbc.queryForList("SELECT id FROM contact WHERE name_key = " + NAME_KEY + " AND deleted_at IS NULL AND id <> :id",
                new MapSqlParameterSource().addValue("id", id).addValue("firstName", firstName).addValue("lastName", lastName)
                        .addValue("company", company), String.class);
    }

    /**
     * Which system last set a field, and when. {@code bounded}: {@code at} is the date of the record's
     * latest change of any field (a record read without per-field dates), so the field was set then
     * or earlier; otherwise the field's own date.
     */
    public record FieldStamp(String source, Instant at,
                             @JsonInclude(JsonInclude.Include.NON_DEFAULT) boolean bounded) {

        public FieldStamp(String source, Instant at) {
            this(source, at, false);
        }
    }

    /** The field stamps of a contact, by canonical field name. */
    public Map<String, FieldStamp> fieldStamps(String id) {
        String text = jdbc.queryForList("SELECT field_meta FROM contact WHERE id = :id", Map.of("id", id), String.class)
                .stream().findFirst().orElse("{}");
        return read(text, new TypeReference<Map<String, FieldStamp>>() {
        });
    }

    /** Merges stamps into a contact's field_meta; the caller holds the contact's row lock. */
    public void stampFields(String id, Map<String, FieldStamp> stamps) {
        Map<String, FieldStamp> all = new java.util.TreeMap<>(fieldStamps(id));
        all.putAll(stamps);
        jdbc.update("UPDATE contact SET field_meta = :meta WHERE id = :id", Map.of("id", id, "meta", write(all)));
    }

    public void insert(Contact contact) {
        jdbc.update("INSERT INTO contact (" + COLUMNS + ", email_key, email_lower, name_key) VALUES (:id, :email, "
                + ":firstName, :lastName, :phone, :company, :title, :tags, :custom, :version, :createdAt, :updatedAt, "
                + ":deletedAt, :mergedInto, :emailKey, " + EMAIL_LOWER + ", " + NAME_KEY + ")", parameters(contact));
    }

    /** Writes the new state of a contact read with {@link #findForUpdate}; its version must be the next one. */
    public void update(Contact contact) {
        int rows = jdbc.update("UPDATE contact SET email = :email, email_key = :emailKey, first_name = :firstName, "
                + "last_name = :lastName, phone = :phone, company = :company, title = :title, tags = :tags, "
                + "custom = :custom, version = :version, updated_at = :updatedAt, deleted_at = :deletedAt, "
                + "merged_into = :mergedInto, email_lower = " + EMAIL_LOWER + ", name_key = " + NAME_KEY
                + " WHERE id = :id AND version = :version - 1", parameters(contact));
        if (rows != 1) {
            throw new IllegalStateException("contact " + contact.id() + " changed underneath version " + contact.version());
        }
    }

    public List<Contact> list(ListQuery query) {
        StringBuilder sql = new StringBuilder("SELECT " + COLUMNS + " FROM contact WHERE deleted_at IS NULL");
        MapSqlParameterSource parameters = new MapSqlParameterSource("limit", query.limit());
        if (query.emailKey() != null) {
            sql.append(" AND email_key = :emailKey");
            parameters.addValue("emailKey", query.emailKey());
        }
        if (query.text() != null) {
            // lower-cased by the database on both sides: Java and PostgreSQL differ beyond ASCII
            sql.append(" AND (LOWER(email) LIKE LOWER(:text) ESCAPE '\\' OR LOWER(first_name) LIKE LOWER(:text) ESCAPE '\\'"
                    + " OR LOWER(last_name) LIKE LOWER(:text) ESCAPE '\\' OR LOWER(company) LIKE LOWER(:text) ESCAPE '\\')");
            String escaped = query.text()
                    .replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_");
            parameters.addValue("text", "%" + escaped + "%");
        }
        if (query.updatedSince() != null) {
            sql.append(" AND updated_at >= :since");
            parameters.addValue("since", timestamp(query.updatedSince()));
        }
        if (query.afterId() != null) {
            sql.append(" AND (updated_at > :afterAt OR (updated_at = :afterAt AND id > :afterId))");
            parameters.addValue("afterAt", timestamp(query.afterUpdatedAt())).addValue("afterId", query.afterId());
        }
        sql.append(" ORDER BY updated_at, id LIMIT :limit");
        return jdbc.query(sql.toString(), parameters, contactRow);
    }

    public void appendHistory(HistoryEntry entry) {
        jdbc.update("INSERT INTO contact_history (contact_id, version, operation, source_system, actor, changes, changed_at) "
                + "VALUES (:contactId, :version, :operation, :source, :actor, :changes, :changedAt)",
                new MapSqlParameterSource()
                        .addValue("contactId", entry.contactId())
                        .addValue("version", entry.version())
                        .addValue("operation", entry.operation())
                        .addValue("source", entry.sourceSystem())
                        .addValue("actor", entry.actor())
                        .addValue("changes", write(entry.changes()))
                        .addValue("changedAt", timestamp(entry.changedAt())));
    }

    public List<HistoryEntry> history(String contactId) {
        return jdbc.query("SELECT contact_id, version, operation, source_system, actor, changes, changed_at "
                        + "FROM contact_history WHERE contact_id = :id ORDER BY version",
                Map.of("id", contactId),
                (rs, n) -> new HistoryEntry(rs.getString("contact_id"), rs.getLong("version"), rs.getString("operation"),
                        rs.getString("source_system"), rs.getString("actor"),
                        read(rs.getString("changes"), new TypeReference<>() {
                        }), instant(rs, "changed_at")));
    }

    private MapSqlParameterSource parameters(Contact contact) {
        ContactFields values = contact.values();
        return new MapSqlParameterSource()
                .addValue("id", contact.id())
                .addValue("email", values.email())
                .addValue("emailKey", contact.isDeleted() ? null : values.emailKey())
                .addValue("firstName", values.firstName())
                .addValue("lastName", values.lastName())
                .addValue("phone", values.phone())
                .addValue("company", values.company())
                .addValue("title", values.title())
                .addValue("tags", write(values.tags()))
                .addValue("custom", write(values.custom()))
                .addValue("version", contact.version())
                .addValue("createdAt", timestamp(contact.createdAt()))
                .addValue("updatedAt", timestamp(contact.updatedAt()))
                .addValue("deletedAt", timestamp(contact.deletedAt()))
                .addValue("mergedInto", contact.mergedInto());
    }

    private Contact contact(ResultSet rs, int row) throws SQLException {
        ContactFields values = new ContactFields(rs.getString("email"), rs.getString("first_name"),
                rs.getString("last_name"), rs.getString("phone"), rs.getString("company"), rs.getString("title"),
                read(rs.getString("tags"), new TypeReference<List<String>>() {
                }),
                read(rs.getString("custom"), new TypeReference<Map<String, Object>>() {
                }));
        return new Contact(rs.getString("id"), values, rs.getLong("version"), instant(rs, "created_at"),
                instant(rs, "updated_at"), instant(rs, "deleted_at"), rs.getString("merged_into"));
    }

    static OffsetDateTime timestamp(Instant instant) {
        return instant == null ? null : instant.atOffset(ZoneOffset.UTC);
    }

    static Instant instant(ResultSet rs, String column) throws SQLException {
        OffsetDateTime value = rs.getObject(column, OffsetDateTime.class);
        return value == null ? null : value.toInstant();
    }

    private String write(Object value) {
        try {
            return json.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot store as JSON: " + value, e);
        }
    }

    private <T> T read(String text, TypeReference<T> type) {
        try {
            return json.readValue(text, type);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("stored JSON is unreadable: " + text, e);
        }
    }
}
