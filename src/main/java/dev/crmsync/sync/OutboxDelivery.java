package dev.crmsync.sync;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crmsync.config.CrmSyncProperties;
import dev.crmsync.contact.Contact;
import dev.crmsync.contact.ContactStore;
import dev.crmsync.mapping.Mapping;
import dev.crmsync.mapping.Mappings;
import dev.crmsync.provider.ProviderPauses;
import dev.crmsync.sync.Links.Link;
import io.micrometer.core.instrument.MeterRegistry;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.jdbc.core.namedparam.MapSqlParameterSource;
import org.springframework.jdbc.core.namedparam.NamedParameterJdbcTemplate;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Transactional;

/**
 * The outbox side of the deliver-template: claims a system's pending rows and decides what each
 * needs (create, update, delete, or nothing), then records what the system now holds on the link.
 */
@Component("outboxDelivery")
public class OutboxDelivery implements DisposableBean {

    /** How long a claim holds a row before another worker may take it (the claimer died or hangs). */
    @Value("${crmsync.delivery.claim-lease:PT5M}")
    private Duration lease = Duration.ofMinutes(5);
    /** How long an update whose record changed meanwhile waits for the engine to merge that change. */
    private static final Duration MERGE_FIRST = Duration.ofSeconds(2);
    /** How long a create waits for the inbox to apply the system's own change of the same person. */
    private static final Duration OWN_CHANGE_FIRST = Duration.ofSeconds(1);
    /** Up to how many of a system's own waiting changes a claim with creates to it compares with them. */
    private static final int OWN_CHANGES_READ = 2000;
    static final String SUPERSEDED = "superseded by a later change of the same contact";

    /** The payload of an outbox delete that erases the person (see {@link Delivery#isErasure()}). */
    public static final String ERASE = "{\"erase\":true}";

    private final NamedParameterJdbcTemplate jdbc;
    private final ContactStore contacts;
    private final Links links;
    private final Mappings mappings;
    private final Clock clock;
    private final MeterRegistry meters;
    private final CrmSyncProperties properties;
    private final ProviderPauses pauses;
    private final Inbox inbox;
    private final Poller poller;
    private final LostRecords lostRecords;
    private final com.fasterxml.jackson.databind.ObjectMapper json;
    private final String worker;

    public OutboxDelivery(NamedParameterJdbcTemplate jdbc, ContactStore contacts, Links links, Mappings mappings,
                          Clock clock, MeterRegistry meters, CrmSyncProperties properties, ProviderPauses pauses,
                          Inbox inbox, Poller poller, Instance instance, LostRecords lostRecords,
                          com.fasterxml.jackson.databind.ObjectMapper json) {
        this.worker = instance.id();
        this.json = json;
        this.poller = poller;
        this.lostRecords = lostRecords;
        this.properties = properties;
        this.pauses = pauses;
        this.inbox = inbox;
        this.jdbc = jdbc;
        this.contacts = contacts;
        this.links = links;
        this.mappings = mappings;
        this.clock = clock;
        this.meters = meters;
    }

    /**
     * Up to {@code limit} deliveries for a system, at most one per contact: older rows of the same
     * contact are superseded, since delivery sends the contact as it is now. A row whose record the
     * system already holds (the echo guard's hash matches) is done without a call.
     */
    @Transactional
    public List<Delivery> claim(String system, int limit) {
        if (pauses.paused(system).isPresent()) {
            return List.of();
        }
        Instant now = clock.instant();
        // a contact whose earlier delivery is still on its way (waiting out retries) waits for it: sent
        // alongside, the older one could land last and leave the system with stale values
        List<Map<String, Object>> rows = jdbc.queryForList("SELECT id, contact_id, object_type, attempts, payload, outcome FROM outbox o "
                        + "WHERE target_system = :system AND ((state = 'pending' AND next_attempt_at <= :now) "
                        + "OR (state = 'claimed' AND claimed_at < :expired)) AND NOT EXISTS (SELECT 1 FROM outbox f "
                        + "WHERE f.contact_id = o.contact_id AND f.target_system = :system AND f.state = 'claimed' "
                        + "AND f.claimed_at >= :expired AND f.id <> o.id) ORDER BY id LIMIT :limit FOR UPDATE",
                new MapSqlParameterSource("system", system).addValue("now", Links.at(now))
                        .addValue("expired", Links.at(now.minus(lease))).addValue("limit", limit));
        Map<String, Map<String, Object>> latest = new LinkedHashMap<>();
        List<Long> superseded = new ArrayList<>();
        java.util.Set<String> erasing = new java.util.HashSet<>();
        for (Map<String, Object> row : rows) {
            if (ERASE.equals(row.get("payload"))) {
                // a later row of the same contact supersedes this one, but the delete must still erase
                erasing.add((String) row.get("contact_id"));
            }
            Map<String, Object> previous = latest.put((String) row.get("contact_id"), row);
            if (previous != null) {
                superseded.add(((Number) previous.get("id")).longValue());
            }
        }
        finish(superseded, DeliveryOutcome.SUPERSEDED, SUPERSEDED);
        List<Delivery> deliveries = new ArrayList<>();
        List<Long> nothingToDo = new ArrayList<>();
        // one query each for the contacts and their links in this system, not two per row
        Map<String, Contact> found = contacts.findAll(latest.keySet());
        Map<String, List<Link>> linked = links.inSystem(system, latest.keySet());
        for (Map<String, Object> row : latest.values()) {
            long id = ((Number) row.get("id")).longValue();
            String contactId = (String) row.get("contact_id");
            Delivery delivery = decide(id, system, (String) row.get("object_type"), found.get(contactId),
                    linked.getOrDefault(contactId, List.of()));
            if (delivery != null && ((Number) row.get("attempts")).intValue() > 0) {
                delivery.retried();
            }
            if (delivery != null && DeliveryOutcome.MERGED.column().equals(row.get("outcome"))) {
                delivery.writeUnread();
            }
            if (delivery != null && delivery.getOperation().equals("delete") && erasing.contains(contactId)) {
                delivery.erase();
            }
            if (delivery == null) {
                nothingToDo.add(id);
            } else {
                deliveries.add(delivery);
            }
        }
        finish(nothingToDo, DeliveryOutcome.NOTHING_TO_SEND, null);
        deliveries.removeAll(waitForOwnChange(system, deliveries, found, now));
        meters.counter("crmsync.delivery.skipped", "system", system).increment(nothingToDo.size() + superseded.size());
        if (!deliveries.isEmpty()) {
            jdbc.update("UPDATE outbox SET state = 'claimed', claimed_by = :worker, claimed_at = :now, attempts = attempts + 1 "
                            + "WHERE id IN (:ids)", Map.of("worker", worker, "now", Links.at(now),
                    "ids", deliveries.stream().map(Delivery::getOutboxId).toList()));
        }
        return deliveries;
    }

    /**
     * The creates to hold back, left pending a moment: those whose person (same email, else same
     * phone) the system itself reported in a change still waiting in the inbox. Applied, that change
     * links the person to the system's own record, and the create becomes an update; sent first, it
     * would make the person twice there (a first start where systems share people: another system's
     * poll applied before this one's). A claim with creates first lists the system's waiting changes;
     * of those, the payloads that contain an email or a phone's last digits are compared field by
     * field. A system with more waiting than {@link #OWN_CHANGES_READ} gets no create until it is read.
     */
    private List<Delivery> waitForOwnChange(String system, List<Delivery> deliveries, Map<String, Contact> contacts,
                                            Instant now) {
        List<Delivery> creates = deliveries.stream().filter(d -> d.getOperation().equals("create")).toList();
        if (creates.isEmpty()) {
            return List.of();
        }
        // the system's own changes still to apply, found by equality alone (the claim runs every period)
        List<Long> own = jdbc.queryForList("SELECT id FROM inbox WHERE source_system = :system AND state IN ('pending', 'claimed') "
                + "AND operation IN ('create', 'update') AND payload IS NOT NULL ORDER BY id LIMIT :limit",
                new MapSqlParameterSource("system", system).addValue("limit", OWN_CHANGES_READ + 1), Long.class);
        if (own.isEmpty()) {
            return List.of();
        }
        List<Map<String, Object>> waiting = List.of();
        if (own.size() <= OWN_CHANGES_READ) {
            MapSqlParameterSource parameters = new MapSqlParameterSource("ids", own);
            List<String> patterns = new ArrayList<>();
            for (Delivery create : creates) {
                for (String needle : needles(contacts.get(create.getContactId()))) {
                    String name = "p" + patterns.size();
                    patterns.add("LOWER(payload) LIKE :" + name + " ESCAPE '!'");
                    parameters.addValue(name, "%" + needle.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%");
                }
            }
            if (!patterns.isEmpty()) {
                waiting = jdbc.queryForList("SELECT object_type, payload FROM inbox WHERE id IN (:ids) AND ("
                        + String.join(" OR ", patterns) + ")", parameters);
            }
        }
        List<Map<String, Object>> people = new ArrayList<>();
        for (Map<String, Object> row : waiting) {
            try {
                people.add(mappings.get(system + "-" + row.get("object_type"))
                        .toCanonical(json.readTree((String) row.get("payload"))).values());
            } catch (RuntimeException | com.fasterxml.jackson.core.JsonProcessingException e) {
                // a change the engine cannot read either: it names no one
            }
        }
        // more of its own changes waiting than are worth reading (its first read): every create to it waits
        List<Delivery> held = own.size() > OWN_CHANGES_READ ? creates : creates.stream().filter(create -> people.stream()
                .anyMatch(person -> samePerson(contacts.get(create.getContactId()), person))).toList();
        if (!held.isEmpty()) {
            jdbc.update("UPDATE outbox SET next_attempt_at = :at, outcome = 'held', last_error = :why WHERE id IN (:ids)",
                    new MapSqlParameterSource("ids", held.stream().map(Delivery::getOutboxId).toList())
                            .addValue("at", Links.at(now.plus(OWN_CHANGE_FIRST)))
                            .addValue("why", "waiting for " + system + "'s own change of this person in the inbox"));
            meters.counter("crmsync.delivery.held-for-inbox", "system", system).increment(held.size());
        }
        return held;
    }

    /** What a payload naming the contact must contain: its email, lower-cased, and its phone's last four digits. */
    static List<String> needles(Contact contact) {
        List<String> needles = new ArrayList<>();
        if (contact == null) {
            return needles;
        }
        if (contact.values().email() != null && !contact.values().email().isBlank()) {
            needles.add(contact.values().email().strip().toLowerCase(java.util.Locale.ROOT));
        }
        String phone = contact.values().phone();
        if (phone != null && phone.replaceAll("\\D", "").length() >= 4) {
            String digits = phone.replaceAll("\\D", "");
            needles.add(digits.substring(digits.length() - 4));
        }
        return needles;
    }

    /** Whether a remote record's canonical values name the contact: the same email (any case), else the same phone. */
    static boolean samePerson(Contact contact, Map<String, Object> remote) {
        if (contact == null) {
            return false;
        }
        String email = contact.values().email();
        if (email != null && remote.get("email") instanceof String other && email.strip().equalsIgnoreCase(other.strip())) {
            return true;
        }
        String phone = contact.values().phone();
        return phone != null && !phone.isBlank() && phone.equals(remote.get("phone"));
    }

    private Delivery decide(long outboxId, String system, String primaryObjectType, Contact contact, List<Link> linked) {
        if (contact == null) {
            return null;
        }
        String contactId = contact.id();
        Optional<Link> link = preferred(system, linked);
        // a person the system holds as another object (a Salesforce Lead) is updated there, not created again
        String objectType = link.map(Link::objectType).orElse(primaryObjectType);
        Mapping mapping = mappings.get(system + "-" + objectType);
        if (contact.isDeleted()) {
            return link.map(l -> new Delivery(outboxId, system, objectType, contactId, contact.version(), "delete", null,
                    null, l.externalId())).orElse(null);
        }
        Map<String, Object> canonical = contact.values().canonical();
        ObjectNode payload = mapping.toRemote(canonical);
        if (link.isPresent()) {
            if (link.get().syncedValues() == null) {
                // linked, not read yet (found by a create, or a remote merge's survivor): its read is merged
                // first, and what the system then lacks is sent
                return null;
            }
            if (links.hash(payload).equals(link.get().syncedHash())) {
                meters.counter("crmsync.echo.outbound-skipped", "system", system).increment();
                return null;
            }
            Map<String, Object> synced = link.get().syncedValues();
            Set<String> changed = synced == null ? Set.of() : changed(mapping, canonical, synced);
            if (changed.isEmpty()) {
                return new Delivery(outboxId, system, objectType, contactId, contact.version(), "update", payload,
                        contact.values().email(), link.get().externalId());
            }
            return new Delivery(outboxId, system, objectType, contactId, contact.version(), "update",
                    mapping.toRemote(canonical, changed), contact.values().email(), link.get().externalId())
                    .changedOnly(payload, changed, synced, mapping);
        }
        return new Delivery(outboxId, system, objectType, contactId, contact.version(), "create", payload,
                contact.values().email(), null);
    }

    /**
     * The outbound fields whose hub value differs from what the system held when last synced (or
     * that the hub never reads back from it, so cannot know): what an update must write.
     */
    private static Set<String> changed(Mapping mapping, Map<String, Object> canonical, Map<String, Object> synced) {
        Set<String> changed = new java.util.TreeSet<>();
        for (String field : mapping.outboundFields()) {
            if (!synced.containsKey(field) || !FieldMerge.same(canonical.get(field), synced.get(field))) {
                changed.add(field);
            }
        }
        return changed;
    }

    /** Equal, counting null, a blank text and an empty list or map as the same absence. */
    /** Of a contact's links in a system (a Contact and a Lead), the one of the first object in its list. */
    private Optional<Link> preferred(String system, List<Link> linked) {
        List<String> order = properties.providers().get(system).objectTypes();
        return linked.stream().min(Comparator.comparingInt(link -> order.indexOf(link.objectType()) < 0
                ? Integer.MAX_VALUE : order.indexOf(link.objectType())));
    }

    /**
     * What a batch call settled (sent, found, gone, deferred), recorded in one transaction; the
     * records it wrote, with batched statements.
     */
    @Transactional
    public void settled(List<Delivery> batch) {
        Instant now = clock.instant();
        List<Links.Write> written = new ArrayList<>();
        List<Long> done = new ArrayList<>();
        Map<String, List<Link>> current = batch.isEmpty() ? Map.of() : links.inSystem(batch.get(0).getSystem(),
                batch.stream().filter(d -> d.getChangedFields() != null).map(Delivery::getContactId).toList());
        for (Delivery delivery : batch) {
            if (delivery.isPending()) {
                continue;
            }
            if (delivery.getOutcome() != DeliveryOutcome.SENT || delivery.getOperation().equals("delete")) {
                delivered(delivery);
                continue;
            }
            written.add(written(delivery, current.getOrDefault(delivery.getContactId(), List.of()).stream()
                    .filter(link -> link.externalId().equals(delivery.getExternalId())).findFirst()));
            done.add(delivery.getOutboxId());
            meters.counter("crmsync.delivery.sent", "system", delivery.getSystem(), "operation", delivery.getOperation())
                    .increment();
        }
        links.saveAll(written, now);
        links.markWritten(written, now);
        finish(done, DeliveryOutcome.SENT, null);
    }

    /** After the system accepted a delivery: the link now holds what was written; the row is done. */
    @Transactional
    public void delivered(Delivery delivery) {
        Instant now = clock.instant();
        if (delivery.getOutcome() == DeliveryOutcome.DEFERRED) {
            // the provider is paused: the row waits, and the claim's try is given back
            jdbc.update("UPDATE outbox SET state = 'pending', next_attempt_at = :until, attempts = attempts - 1, "
                            + "outcome = 'deferred', last_error = :why WHERE id = :id",
                    new MapSqlParameterSource("id", delivery.getOutboxId()).addValue("until", Links.at(delivery.getDeferredUntil()))
                            .addValue("why", waiting(delivery.getSystem())));
            meters.counter("crmsync.delivery.deferred", "system", delivery.getSystem()).increment();
            return;
        }
        if (delivery.isLost()) {
            // the system lost the record without deleting it: the person stays and is created there again
            lostRecords.recreate(delivery.getSystem(), delivery.getObjectType(), delivery.getExternalId(),
                    delivery.getContactId(), RecordLoss.UPDATE, null, delivery.getOutboxId());
            meters.counter("crmsync.delivery.lost", "system", delivery.getSystem()).increment();
            return;
        }
        if (delivery.isGone()) {
            // deleted in the system meanwhile: its delete reaches the hub like a polled one, under the tombstone rules
            inbox.accept(delivery.getSystem() + ":" + delivery.getObjectType() + ":" + delivery.getExternalId() + ":gone",
                    delivery.getSystem(), delivery.getObjectType(), delivery.getExternalId(), "delete", "{}", now);
            finish(List.of(delivery.getOutboxId()), DeliveryOutcome.GONE, "the record was deleted in " + delivery.getSystem());
            return;
        }
        if (delivery.getOperation().equals("delete")) {
            finish(List.of(delivery.getOutboxId()), DeliveryOutcome.SENT, null);
            return;
        }
        Mapping mapping = mappings.get(delivery.getSystem() + "-" + delivery.getObjectType());
        if (delivery.isChangedMeanwhile()) {
            // read as a poll would have read it (same key: a poll of it later is dropped); the row is claimed
            // again once the engine merged it, and writes what the hub then still has to write
            var remote = mapping.toCanonical(delivery.getReply());
            String key = poller.key(delivery.getSystem(), delivery.getObjectType(), remote, delivery.getReply());
            boolean merging = inbox.accept(key, delivery.getSystem(), delivery.getObjectType(), delivery.getExternalId(),
                    "update", delivery.getReply().toString(), remote.modifiedAt())
                    || inbox.waiting(delivery.getSystem(), delivery.getObjectType(), delivery.getExternalId());
            // when the engine already merged this very version and left the base as it was (it was stale), and
            // nothing else of the record waits (such as a read of it with its fields' dates), the next try
            // writes without reading again: the row would otherwise wait for a merge that never comes
            jdbc.update("UPDATE outbox SET state = 'pending', claimed_by = NULL, next_attempt_at = :at, outcome = :outcome, "
                            + "last_error = :why WHERE id = :id", new MapSqlParameterSource("id", delivery.getOutboxId())
                            .addValue("at", Links.at(merging ? now.plus(MERGE_FIRST) : now))
                            .addValue("outcome", (merging ? DeliveryOutcome.CHANGED_MEANWHILE : DeliveryOutcome.MERGED).column())
                            .addValue("why", merging ? "the record was changed in " + delivery.getSystem()
                                    + " since last synced: that change is merged first"
                                    : "the record's change made meanwhile is merged: written without reading it again"));
            meters.counter("crmsync.delivery.changed-meanwhile", "system", delivery.getSystem()).increment();
            return;
        }
        if (delivery.isFound()) {
            // linked without a merge base: the engine merges the found record with the hub's values
            var remote = mapping.toCanonical(delivery.getReply());
            links.save(delivery.getSystem(), delivery.getObjectType(), delivery.getExternalId(), delivery.getContactId(),
                    null, null, remote.modifiedAt(), now);
            inbox.accept(delivery.getSystem() + ":" + delivery.getObjectType() + ":" + delivery.getExternalId() + ":"
                            + remote.modifiedAt() + ":found", delivery.getSystem(), delivery.getObjectType(),
                    delivery.getExternalId(), "update", delivery.getReply().toString(), remote.modifiedAt());
            finish(List.of(delivery.getOutboxId()), DeliveryOutcome.FOUND, "found in " + delivery.getSystem() + " and linked");
            return;
        }
        List<Links.Write> written = List.of(written(delivery, delivery.getChangedFields() == null ? Optional.empty()
                : links.find(delivery.getSystem(), delivery.getObjectType(), delivery.getExternalId())));
        links.saveAll(written, now);
        links.markWritten(written, now);
        finish(List.of(delivery.getOutboxId()), DeliveryOutcome.SENT, null);
        meters.counter("crmsync.delivery.sent", "system", delivery.getSystem(), "operation", delivery.getOperation())
                .increment();
    }

    /**
     * What the system holds now of what was written, read back through the inbound mapping: the
     * merge base of its next change. An update of some fields leaves the base of the others as the
     * link has it now (the engine may have moved it while the call was on its way): a value a person
     * changed there meanwhile must still read as their change. The hash is of every mapped field, as
     * the next claim compares it.
     */
    private Links.Write written(Delivery delivery, Optional<Link> link) {
        Mapping mapping = mappings.get(delivery.getSystem() + "-" + delivery.getObjectType());
        var record = mapping.toCanonical(delivery.getReply() != null && delivery.getReply().size() > 0
                ? delivery.getReply() : delivery.getPayload());
        Map<String, Object> synced = record.values();
        if (delivery.getChangedFields() != null) {
            synced = new LinkedHashMap<>(link.map(Link::syncedValues).filter(java.util.Objects::nonNull)
                    .orElse(delivery.getBase()));
            for (String field : delivery.getChangedFields()) {
                if (record.values().containsKey(field)) {
                    synced.put(field, record.values().get(field));
                }
            }
        }
        return new Links.Write(delivery.getSystem(), delivery.getObjectType(), delivery.getExternalId(),
                delivery.getContactId(), synced, links.hash(delivery.getFullPayload()), record.modifiedAt());
    }

    /** Settles rows as delivered: {@code note} says how for people, or is null. */
    private void finish(List<Long> ids, DeliveryOutcome outcome, String note) {
        if (ids.isEmpty()) {
            return;
        }
        jdbc.update("UPDATE outbox SET state = 'delivered', delivered_at = :now, outcome = :outcome, last_error = :note "
                        + "WHERE id IN (:ids)", new MapSqlParameterSource("outcome", outcome.column())
                        .addValue("now", Links.at(clock.instant())).addValue("note", note).addValue("ids", ids));
    }

    /**
     * Gives back the rows this process claimed and did not settle (a delivery waiting out its retries
     * when the routes stopped), so the next start sends them at once rather than after the claim's
     * lease. Their try stays counted: a create that may have reached the system looks it up first.
     */
    @Override
    public void destroy() {
        jdbc.update("UPDATE outbox SET state = 'pending', claimed_by = NULL WHERE state = 'claimed' AND claimed_by = :worker",
                Map.of("worker", worker));
    }

    /** A provider's pause ended early: the rows it deferred to the pause's end are due now. */
    @Transactional
    public int resumed(String system) {
        Instant now = clock.instant();
        return jdbc.update("UPDATE outbox SET next_attempt_at = :now WHERE target_system = :system AND state = 'pending' "
                        + "AND next_attempt_at > :now AND outcome = 'deferred'",
                new MapSqlParameterSource("system", system).addValue("now", Links.at(now)));
    }

    private static String waiting(String system) {
        return "waiting for " + system + " to resume";
    }

    /** Rows not yet delivered, per system. */
    public long backlog(String system) {
        return jdbc.queryForObject("SELECT COUNT(*) FROM outbox WHERE target_system = :system AND state IN ('pending', 'claimed')",
                Map.of("system", system), Long.class);
    }
}
