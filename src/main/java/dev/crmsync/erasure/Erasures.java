package dev.crmsync.erasure;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crmsync.api.ApiProblem;
import dev.crmsync.contact.Contact;
import dev.crmsync.contact.ContactService;
import dev.crmsync.contact.ContactService.Source;
import dev.crmsync.contact.ContactStore;
import dev.crmsync.sync.ErasedRecords;
import dev.crmsync.sync.ErasedRecords.RemoteKey;
import dev.crmsync.sync.Outbox;
import dev.crmsync.sync.OutboxDelivery;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.jdbc.core.namedparam.MapSqlParameterSource;
import org.springframework.jdbc.core.namedparam.NamedParameterJdbcTemplate;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Transactional;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Erasure of a person and purge of old tombstones, each audited in the erasure table with who, when
 * and how many rows of each table went, never the erased data.
 *
 * <p>A person's erasure runs in two steps. The request tombstones the contact and sends a delete,
 * marked as an erasure, to every system (the normal outbox, so retries, rate limits and dead letters
 * apply). When those deliveries have settled, delivered or dead, the erasure-complete route removes
 * everything the hub holds about the person in one transaction, and keeps keyed hashes of their
 * remote records so a late change of one cannot bring them back.
 */
@Component("erasures")
public class Erasures {

    private static final Logger LOG = LoggerFactory.getLogger(Erasures.class);
    private static final int PURGE_BATCH = 500;
    private static final int MAX_MERGE_HOPS = 20;

    private final NamedParameterJdbcTemplate jdbc;
    private final ContactStore contacts;
    private final ContactService service;
    private final Outbox outbox;
    private final ErasedRecords erased;
    private final TransactionTemplate transaction;
    private final ObjectMapper json;
    private final Clock clock;
    private final boolean authoritativeDeletes;

    public Erasures(NamedParameterJdbcTemplate jdbc, ContactStore contacts, ContactService service, Outbox outbox,
                    ErasedRecords erased, TransactionTemplate transaction, ObjectMapper json, Clock clock,
                    @Value("${crmsync.sync.deletes:authoritative}") String deletes) {
        this.jdbc = jdbc;
        this.contacts = contacts;
        this.service = service;
        this.outbox = outbox;
        this.erased = erased;
        this.transaction = transaction;
        this.json = json;
        this.clock = clock;
        this.authoritativeDeletes = deletes.equals("authoritative");
    }

    /**
     * Starts erasing a person: tombstones the contact (when live) and sends an erasing delete of it, and
     * of the contacts merged into it, to every system. Returns the erasure's id; asking again while it
     * is pending returns the same one.
     */
    @Transactional
    public String request(String contactId, String actor) {
        Contact contact = contacts.findForUpdate(contactId).orElse(null);
        if (contact == null) {
            Optional<String> done = findBySubject(contactId);
            throw done.map(id -> new ApiProblem(410, "contact " + contactId + " was erased (erasure " + id + ")")
                            .with("erasure", "/api/erasures/" + id))
                    .orElseGet(() -> ApiProblem.notFound("no contact has id " + contactId));
        }
        if (contact.mergedInto() != null) {
            throw new ApiProblem(409, "contact " + contactId + " was merged into " + contact.mergedInto()
                    + ", which holds this person now: erase that one").with("mergedInto", contact.mergedInto());
        }
        List<String> pending = jdbc.queryForList("SELECT id FROM erasure WHERE contact_id = :id",
                Map.of("id", contactId), String.class);
        if (!pending.isEmpty()) {
            return pending.get(0);
        }
        Instant now = clock.instant();
        Source source = new Source("api", actor);
        if (contact.isDeleted()) {
            // deleted before: the systems may still hold it as deleted (archived, in a recycle bin)
            outbox.enqueue(contact, source.system(), Set.of(), now);
        } else {
            service.tombstone(contact, source, null);
        }
        List<String> family = family(contactId);
        for (Contact merged : contacts.findAll(family.subList(1, family.size())).values()) {
            // a person merged into this one may have left a record of its own in a system
            outbox.enqueue(merged, source.system(), Set.of(), now);
        }
        jdbc.update("UPDATE outbox SET payload = :erase WHERE contact_id IN (:family) AND operation = 'delete' "
                + "AND state = 'pending'", new MapSqlParameterSource("erase", OutboxDelivery.ERASE).addValue("family", family));
        String id = UUID.randomUUID().toString();
        jdbc.update("INSERT INTO erasure (id, kind, state, contact_id, requested_by, requested_at) "
                        + "VALUES (:id, 'contact', 'pending', :contact, :by, :now)",
                new MapSqlParameterSource("id", id).addValue("contact", contactId).addValue("by", actor)
                        .addValue("now", at(now)));
        return id;
    }

    /** The erasure-complete route's step: finishes every pending erasure whose deletes have settled. */
    public int completeSettled() {
        List<String> pending = jdbc.queryForList("SELECT id FROM erasure WHERE state = 'pending' AND kind = 'contact' "
                + "ORDER BY requested_at, id", Map.of(), String.class);
        int completed = 0;
        for (String id : pending) {
            try {
                if (Boolean.TRUE.equals(transaction.execute(status -> complete(id)))) {
                    completed++;
                }
            } catch (RuntimeException e) {
                LOG.warn("Erasure {} could not complete yet; tried again on the next round: {}", id, e.toString());
            }
        }
        return completed;
    }

    private boolean complete(String erasureId) {
        String contactId = jdbc.queryForList("SELECT contact_id FROM erasure WHERE id = :id AND state = 'pending' FOR UPDATE",
                Map.of("id", erasureId), String.class).stream().findFirst().orElse(null);
        if (contactId == null) {
            return false;
        }
        List<String> family = family(contactId);
        MapSqlParameterSource ofFamily = new MapSqlParameterSource("family", family);
        Long unsettled = jdbc.queryForObject("SELECT COUNT(*) FROM outbox WHERE contact_id IN (:family) "
                + "AND state IN ('pending', 'claimed')", ofFamily, Long.class);
        if (unsettled != null && unsettled > 0) {
            return false;
        }
        Instant now = clock.instant();
        Map<String, Map<String, Long>> remote = new java.util.TreeMap<>();
        jdbc.query("SELECT target_system, state, COUNT(*) AS n FROM outbox WHERE contact_id IN (:family) AND payload = :erase "
                        + "GROUP BY target_system, state", new MapSqlParameterSource("family", family)
                        .addValue("erase", OutboxDelivery.ERASE),
                rs -> {
                    remote.computeIfAbsent(rs.getString("target_system"), system -> new java.util.TreeMap<>())
                            .put(rs.getString("state"), rs.getLong("n"));
                });
        Map<String, Long> removed = new LinkedHashMap<>();
        int guarded = remove(erasureId, family, true, true, removed, now);
        Map<String, Object> counts = new LinkedHashMap<>();
        counts.put("rows", removed);
        counts.put("erasedRecords", guarded);
        counts.put("systems", remote);
        jdbc.update("UPDATE erasure SET state = 'completed', contact_id = NULL, subject_hash = :subject, completed_at = :now, "
                        + "counts = :counts WHERE id = :id",
                new MapSqlParameterSource("id", erasureId).addValue("subject", erased.hash(subjectKey(contactId)))
                        .addValue("now", at(now)).addValue("counts", write(counts)));
        LOG.info("Erasure {} completed: {}", erasureId, counts);
        return true;
    }

    /**
     * Removes old tombstones for good: those deleted before now minus {@code olderThan} with no delivery
     * still on its way, with their history, links, conflicts and outbox rows. Runs in batches, each
     * committed with its counts in the audit row, so a purge cut short is audited for what it removed.
     */
    public Map<String, Object> purgeTombstones(Instant cutoff, String olderThan, String actor) {
        String id = UUID.randomUUID().toString();
        Instant now = clock.instant();
        jdbc.update("INSERT INTO erasure (id, kind, state, requested_by, requested_at, older_than, cutoff) "
                        + "VALUES (:id, 'tombstones', 'pending', :by, :now, :olderThan, :cutoff)",
                new MapSqlParameterSource("id", id).addValue("by", actor).addValue("now", at(now))
                        .addValue("olderThan", olderThan).addValue("cutoff", at(cutoff)));
        Map<String, Long> removed = new LinkedHashMap<>();
        long[] guarded = {0};
        int batch;
        do {
            batch = transaction.execute(status -> {
                List<String> ids = jdbc.queryForList("SELECT id FROM contact c WHERE c.deleted_at < :cutoff "
                                + "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.contact_id = c.id AND o.state IN ('pending', 'claimed')) "
                                + "AND NOT EXISTS (SELECT 1 FROM erasure e WHERE e.contact_id = c.id) "
                                + "ORDER BY c.deleted_at, c.id LIMIT :limit",
                        new MapSqlParameterSource("cutoff", at(cutoff)).addValue("limit", PURGE_BATCH), String.class);
                if (ids.isEmpty()) {
                    return 0;
                }
                // locked, and checked again under the lock: a tombstone a remote change revived meanwhile stays
                List<String> locked = jdbc.queryForList("SELECT id FROM contact WHERE id IN (:ids) AND deleted_at < :cutoff "
                        + "FOR UPDATE", new MapSqlParameterSource("ids", ids).addValue("cutoff", at(cutoff)), String.class);
                if (!locked.isEmpty()) {
                    guarded[0] += remove(id, locked, authoritativeDeletes, false, removed, now);
                }
                Map<String, Object> counts = new LinkedHashMap<>();
                counts.put("rows", removed);
                counts.put("erasedRecords", guarded[0]);
                jdbc.update("UPDATE erasure SET counts = :counts WHERE id = :id",
                        Map.of("id", id, "counts", write(counts)));
                return ids.size();
            });
        } while (batch == PURGE_BATCH);
        jdbc.update("UPDATE erasure SET state = 'completed', completed_at = :now WHERE id = :id",
                Map.of("id", id, "now", at(clock.instant())));
        LOG.info("Tombstone purge {} by {} (deleted before {}): {} contacts", id, actor, cutoff, removed.getOrDefault("contact", 0L));
        return find(id).orElseThrow();
    }

    /**
     * Deletes contacts and every row about them, adding the counts to {@code removed}; with {@code person}
     * (an erasure) also the inbox rows of their remote records (their payloads are the person's data)
     * and their dead letters. With {@code guard}, their remote records are remembered as erased.
     * Returns how many were.
     */
    private int remove(String erasureId, List<String> ids, boolean guard, boolean person, Map<String, Long> removed,
                       Instant now) {
        MapSqlParameterSource of = new MapSqlParameterSource("ids", ids);
        List<RemoteKey> records = jdbc.query("SELECT system, object_type, external_id FROM contact_link WHERE contact_id IN (:ids)",
                of, (rs, n) -> new RemoteKey(rs.getString("system"), rs.getString("object_type"), rs.getString("external_id")));
        if (person) {
            records = withMergedAway(records);
        }
        int guarded = guard ? erased.add(records, erasureId, now) : 0;
        if (person) {
            List<Long> inbox = new ArrayList<>();
            for (RemoteKey record : records) {
                inbox.addAll(jdbc.queryForList("SELECT id FROM inbox WHERE source_system = :system AND object_type = :object "
                                + "AND external_id = :id", new MapSqlParameterSource("system", record.system())
                                .addValue("object", record.objectType()).addValue("id", record.externalId()), Long.class));
            }
            long letters = jdbc.update("DELETE FROM dead_letter WHERE contact_id IN (:ids)", of);
            long inboxRows = 0;
            for (List<Long> chunk : chunks(inbox)) {
                MapSqlParameterSource rows = new MapSqlParameterSource("rows", chunk);
                letters += jdbc.update("DELETE FROM dead_letter WHERE inbox_id IN (:rows)", rows);
                inboxRows += jdbc.update("DELETE FROM inbox WHERE id IN (:rows)", rows);
            }
            removed.merge("dead_letter", letters, Long::sum);
            removed.merge("inbox", inboxRows, Long::sum);
        }
        removed.merge("conflict", (long) jdbc.update("DELETE FROM conflict WHERE contact_id IN (:ids) "
                + "OR other_contact_id IN (:ids)", of), Long::sum);
        removed.merge("outbox", (long) jdbc.update("DELETE FROM outbox WHERE contact_id IN (:ids)", of), Long::sum);
        removed.merge("contact_link", (long) jdbc.update("DELETE FROM contact_link WHERE contact_id IN (:ids)", of), Long::sum);
        removed.merge("contact_history", (long) jdbc.update("DELETE FROM contact_history WHERE contact_id IN (:ids)", of),
                Long::sum);
        // a contact merged into one that goes keeps its tombstone, without the pointer to nothing
        jdbc.update("UPDATE contact SET merged_into = NULL WHERE merged_into IN (:ids)", of);
        removed.merge("contact", (long) jdbc.update("DELETE FROM contact WHERE id IN (:ids)", of), Long::sum);
        return guarded;
    }

    /**
     * The records plus those a system merged into them: the merge took their links away, but the inbox
     * still holds their changes (the person's data), and a late one must be ignored too.
     */
    private List<RemoteKey> withMergedAway(List<RemoteKey> linked) {
        List<RemoteKey> all = new ArrayList<>(linked);
        for (int i = 0; i < all.size(); i++) {
            RemoteKey record = all.get(i);
            List<String> merges = jdbc.queryForList("SELECT payload FROM inbox WHERE source_system = :system "
                            + "AND object_type = :object AND external_id = :id AND operation = 'merge'",
                    new MapSqlParameterSource("system", record.system()).addValue("object", record.objectType())
                            .addValue("id", record.externalId()), String.class);
            for (String merge : merges) {
                for (com.fasterxml.jackson.databind.JsonNode merged : tree(merge).path("merged")) {
                    RemoteKey away = new RemoteKey(record.system(), record.objectType(), merged.asText());
                    if (!all.contains(away)) {
                        all.add(away);
                    }
                }
            }
        }
        return all;
    }

    /** The contact and the tombstones of contacts merged into it, at any depth; the contact first. */
    private List<String> family(String contactId) {
        List<String> family = new ArrayList<>(List.of(contactId));
        List<String> frontier = List.of(contactId);
        for (int hop = 0; hop < MAX_MERGE_HOPS && !frontier.isEmpty(); hop++) {
            frontier = new ArrayList<>(jdbc.queryForList("SELECT id FROM contact WHERE merged_into IN (:ids)",
                    Map.of("ids", frontier), String.class));
            frontier.removeAll(family);
            family.addAll(frontier);
        }
        return family;
    }

    public Optional<Map<String, Object>> find(String id) {
        return jdbc.query("SELECT * FROM erasure WHERE id = :id", Map.of("id", id), (rs, n) -> view(rs)).stream().findFirst();
    }

    /** Erasures and purges, newest first; {@code contactId} finds a person's erasure, pending or done. */
    public List<Map<String, Object>> list(String kind, String state, String contactId, int limit) {
        StringBuilder where = new StringBuilder(" WHERE 1 = 1");
        MapSqlParameterSource parameters = new MapSqlParameterSource("limit", limit);
        if (kind != null) {
            where.append(" AND kind = :kind");
            parameters.addValue("kind", kind);
        }
        if (state != null) {
            where.append(" AND state = :state");
            parameters.addValue("state", state);
        }
        if (contactId != null) {
            where.append(" AND (contact_id = :contact OR subject_hash = :subject)");
            parameters.addValue("contact", contactId).addValue("subject", erased.hash(subjectKey(contactId)));
        }
        return jdbc.query("SELECT * FROM erasure" + where + " ORDER BY requested_at DESC, id LIMIT :limit", parameters,
                (rs, n) -> view(rs));
    }

    private Optional<String> findBySubject(String contactId) {
        return jdbc.queryForList("SELECT id FROM erasure WHERE subject_hash = :subject",
                Map.of("subject", erased.hash(subjectKey(contactId))), String.class).stream().findFirst();
    }

    private Map<String, Object> view(java.sql.ResultSet rs) throws java.sql.SQLException {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("id", rs.getString("id"));
        view.put("kind", rs.getString("kind"));
        view.put("state", rs.getString("state"));
        if (rs.getString("contact_id") != null) {
            view.put("contactId", rs.getString("contact_id"));
        }
        view.put("requestedBy", rs.getString("requested_by"));
        view.put("requestedAt", instant(rs, "requested_at"));
        view.put("completedAt", instant(rs, "completed_at"));
        if (rs.getString("older_than") != null) {
            view.put("olderThan", rs.getString("older_than"));
            view.put("cutoff", instant(rs, "cutoff"));
        }
        view.put("counts", read(rs.getString("counts")));
        return view;
    }

    private static String subjectKey(String contactId) {
        return "contact\n" + contactId;
    }

    private static List<List<Long>> chunks(List<Long> ids) {
        List<List<Long>> chunks = new ArrayList<>();
        for (int i = 0; i < ids.size(); i += 1000) {
            chunks.add(ids.subList(i, Math.min(ids.size(), i + 1000)));
        }
        return chunks;
    }

    private static java.time.OffsetDateTime at(Instant instant) {
        return instant == null ? null : instant.atOffset(java.time.ZoneOffset.UTC);
    }

    private static String instant(java.sql.ResultSet rs, String column) throws java.sql.SQLException {
        java.time.OffsetDateTime value = rs.getObject(column, java.time.OffsetDateTime.class);
        return value == null ? null : value.toInstant().toString();
    }

    private String write(Object value) {
        try {
            return json.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write erasure counts", e);
        }
    }

    private com.fasterxml.jackson.databind.JsonNode tree(String text) {
        try {
            return json.readTree(text == null ? "{}" : text);
        } catch (JsonProcessingException e) {
            return json.createObjectNode();
        }
    }

    private Map<String, Object> read(String text) {
        try {
            return json.readValue(text, new TypeReference<>() {
            });
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("erasure counts are not JSON: " + text, e);
        }
    }
}
