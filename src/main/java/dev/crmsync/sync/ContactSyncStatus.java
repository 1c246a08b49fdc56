package dev.crmsync.sync;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crmsync.config.CrmSyncProperties;
import dev.crmsync.contact.Contact;
import dev.crmsync.sync.Links.Link;
import org.springframework.jdbc.core.namedparam.NamedParameterJdbcTemplate;
import org.springframework.stereotype.Component;

/**
 * Where one contact stands in every connected system: its link there, what is still on its way,
 * and what went wrong last; and the conflicts about it still open for review.
 */
@Component
public class ContactSyncStatus {

    private final NamedParameterJdbcTemplate jdbc;
    private final Links links;
    private final CrmSyncProperties properties;
    private final ObjectMapper json;
    private final LostRecords lostRecords;

    public ContactSyncStatus(NamedParameterJdbcTemplate jdbc, Links links, CrmSyncProperties properties, ObjectMapper json,
                             LostRecords lostRecords) {
        this.lostRecords = lostRecords;
        this.jdbc = jdbc;
        this.links = links;
        this.properties = properties;
        this.json = json;
    }

    /** The enabled systems, by name: where deliveries go. */
    public List<String> systems() {
        return properties.providers().entrySet().stream().filter(p -> p.getValue().enabled())
                .map(Map.Entry::getKey).sorted().toList();
    }

    public Map<String, Object> of(Contact contact) {
        String id = contact.id();
        Map<String, List<Link>> linked = new HashMap<>();
        links.ofContact(id).forEach(link -> linked.computeIfAbsent(link.system(), s -> new ArrayList<>()).add(link));
        Map<String, List<Map<String, Object>>> pending = new HashMap<>();
        Map<String, LastError> deferred = new HashMap<>();
        jdbc.query("SELECT id, target_system, operation, contact_version, state, attempts, next_attempt_at, claimed_at, "
                + "created_at, last_error FROM outbox WHERE contact_id = :contact AND state IN ('pending', 'claimed') "
                + "ORDER BY id", Map.of("contact", id), rs -> {
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("outboxId", rs.getLong("id"));
                    row.put("operation", rs.getString("operation"));
                    row.put("contactVersion", rs.getLong("contact_version"));
                    row.put("state", rs.getString("state"));
                    row.put("attempts", rs.getInt("attempts"));
                    row.put("nextAttemptAt", text(Links.instant(rs, "next_attempt_at")));
                    row.put("lastError", rs.getString("last_error"));
                    String system = rs.getString("target_system");
                    pending.computeIfAbsent(system, s -> new ArrayList<>()).add(row);
                    if (rs.getString("last_error") != null) {
                        Instant at = Optional.ofNullable(Links.instant(rs, "claimed_at"))
                                .orElse(Links.instant(rs, "created_at"));
                        deferred.put(system, new LastError(rs.getString("last_error"), at, "outbox", rs.getLong("id")));
                    }
                });
        Map<String, LastError> deadLetters = new HashMap<>();
        jdbc.query("SELECT id, system, error_message, failed_at FROM dead_letter WHERE contact_id = :contact "
                + "AND replayed_at IS NULL ORDER BY failed_at, id", Map.of("contact", id), rs -> {
                    deadLetters.put(rs.getString("system"), new LastError(rs.getString("error_message"),
                            Links.instant(rs, "failed_at"), "dead-letter", rs.getLong("id")));
                });

        Map<String, List<Map<String, Object>>> events = new HashMap<>();
        lostRecords.ofContact(id).forEach(lost -> events.computeIfAbsent(lost.system(), s -> new ArrayList<>())
                .add(lost.describe()));

        Map<String, Object> systems = new LinkedHashMap<>();
        for (String system : systems()) {
            CrmSyncProperties.Provider provider = properties.providers().get(system);
            List<Link> ofSystem = new ArrayList<>(linked.getOrDefault(system, List.of()));
            List<String> order = provider.objectTypes();
            // the link delivery writes to first: the first of the provider's objects
            ofSystem.sort(Comparator.comparingInt(link -> order.indexOf(link.objectType()) < 0
                    ? Integer.MAX_VALUE : order.indexOf(link.objectType())));
            Link link = ofSystem.isEmpty() ? null : ofSystem.get(0);
            Map<String, Object> status = new LinkedHashMap<>();
            status.put("objectType", link == null ? provider.primaryObjectType() : link.objectType());
            status.put("externalId", link == null ? null : link.externalId());
            status.put("lastSyncedAt", link == null ? null : text(link.lastSyncedAt()));
            status.put("remoteModifiedAt", link == null ? null : text(link.remoteModifiedAt()));
            if (ofSystem.size() > 1) {
                status.put("otherLinks", ofSystem.subList(1, ofSystem.size()).stream().map(other -> {
                    Map<String, Object> more = new LinkedHashMap<>();
                    more.put("objectType", other.objectType());
                    more.put("externalId", other.externalId());
                    more.put("lastSyncedAt", text(other.lastSyncedAt()));
                    more.put("remoteModifiedAt", text(other.remoteModifiedAt()));
                    return more;
                }).toList());
            }
            status.put("pending", pending.getOrDefault(system, List.of()));
            status.put("lastError", LastError.latest(deadLetters.get(system), deferred.get(system)));
            // what happened to the person's record there beyond deliveries: a record the system lost, created again
            status.put("events", events.getOrDefault(system, List.of()));
            systems.put(system, status);
        }

        Map<String, Object> body = new LinkedHashMap<>();
        body.put("contactId", id);
        body.put("version", contact.version());
        body.put("deleted", contact.isDeleted());
        if (contact.isDeleted()) {
            body.put("deletedAt", contact.deletedAt().toString());
        }
        body.put("systems", systems);
        body.put("openConflicts", openConflicts(id));
        return body;
    }

    /** Open conflicts about the contact: its fields, and possible duplicates on either side. */
    private List<Map<String, Object>> openConflicts(String id) {
        return jdbc.query("SELECT id, kind, contact_id, other_contact_id, field, hub_value, hub_system, remote_value, "
                + "remote_system, rule, winner, created_at FROM conflict WHERE state = 'open' "
                + "AND (contact_id = :contact OR other_contact_id = :contact) ORDER BY id", Map.of("contact", id), (rs, n) -> {
                    Map<String, Object> conflict = new LinkedHashMap<>();
                    conflict.put("id", rs.getLong("id"));
                    conflict.put("kind", rs.getString("kind"));
                    conflict.put("contactId", rs.getString("contact_id"));
                    conflict.put("otherContactId", rs.getString("other_contact_id"));
                    conflict.put("field", rs.getString("field"));
                    conflict.put("hubValue", value(rs.getString("hub_value")));
                    conflict.put("hubSystem", rs.getString("hub_system"));
                    conflict.put("remoteValue", value(rs.getString("remote_value")));
                    conflict.put("remoteSystem", rs.getString("remote_system"));
                    conflict.put("rule", rs.getString("rule"));
                    conflict.put("winner", rs.getString("winner"));
                    conflict.put("createdAt", text(Links.instant(rs, "created_at")));
                    return conflict;
                });
    }

    /** A field conflict keeps its values as JSON; a duplicate in one system keeps plain external ids. */
    private Object value(String stored) {
        if (stored == null) {
            return null;
        }
        try {
            return json.readTree(stored);
        } catch (JsonProcessingException e) {
            return stored;
        }
    }

    /**
     * The last thing that went wrong with a system: a dead letter not replayed yet, or the reason a
     * pending delivery waits (a paused provider). {@code source} says which, {@code id} is its row there.
     */
    private record LastError(String message, Instant at, String source, long id) {

        static Map<String, Object> latest(LastError deadLetter, LastError outbox) {
            LastError last = deadLetter == null ? outbox : outbox == null || !outbox.at().isAfter(deadLetter.at())
                    ? deadLetter : outbox;
            if (last == null) {
                return null;
            }
            Map<String, Object> error = new LinkedHashMap<>();
            error.put("message", last.message());
            error.put("at", text(last.at()));
            error.put("source", last.source());
            error.put(last.source().equals("outbox") ? "outboxId" : "deadLetterId", last.id());
            return error;
        }
    }

    private static String text(Instant instant) {
        return instant == null ? null : instant.toString();
    }
}
