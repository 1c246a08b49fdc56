package dev.crmsync.sync;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crmsync.contact.Contact;
import dev.crmsync.contact.Contact.ContactFields;
import dev.crmsync.contact.ContactNormalizer;
import dev.crmsync.contact.ContactNormalizer.Refusal;
import dev.crmsync.contact.ContactNormalizer.Screened;
import dev.crmsync.contact.ContactService;
import dev.crmsync.contact.ContactService.Source;
import dev.crmsync.contact.ContactStore;
import dev.crmsync.mapping.Mapping;
import dev.crmsync.mapping.Mapping.RemoteRecord;
import dev.crmsync.mapping.Mappings;
import dev.crmsync.provider.CrmClient;
import dev.crmsync.sync.Inbox.Change;
import dev.crmsync.sync.Links.Link;
import io.micrometer.core.instrument.MeterRegistry;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Transactional;

/**
 * Applies one inbox change to the hub, in one transaction with marking it done: match (link, then
 * email, then phone), three-way merge field by field, tombstones, echo guard and remote merges, as
 * ARCHITECTURE.md's flow of one change describes. The contact writes fan out through the outbox.
 */
@Component
public class SyncEngine {

    /** What applying a change did. */
    public enum Outcome { CREATED, UPDATED, UNCHANGED, ECHO, DELETED, STALE_IGNORED, MERGED, SKIPPED, REREAD }

    /** The payload of a fetch the engine asks for: the record read again, with its fields' dates. */
    private static final String DATED_FETCH = "{\"dated\":true}";
    /** The payload of a fetch of a record read before our write to it was answered. */
    private static final String AFTER_WRITE_FETCH = "{\"afterWrite\":true}";

    private final ContactStore contacts;
    private final ContactService service;
    private final ContactNormalizer normalizer;
    private final Links links;
    private final Conflicts conflicts;
    private final Outbox outbox;
    private final Inbox inbox;
    private final Mappings mappings;
    private final ErasedRecords erased;
    private final ObjectMapper json;
    private final Clock clock;
    private final MeterRegistry meters;
    private final boolean authoritativeDeletes;
    private final BeanFactory beans;

    public SyncEngine(ContactStore contacts, ContactService service, Links links, Conflicts conflicts, Outbox outbox,
                      Inbox inbox, Mappings mappings, ErasedRecords erased, ObjectMapper json, Clock clock,
                      MeterRegistry meters, @Value("${crmsync.sync.deletes:authoritative}") String deletes,
                      ContactNormalizer normalizer, BeanFactory beans) {
        this.beans = beans;
        this.contacts = contacts;
        this.service = service;
        this.normalizer = normalizer;
        this.links = links;
        this.conflicts = conflicts;
        this.outbox = outbox;
        this.inbox = inbox;
        this.mappings = mappings;
        this.erased = erased;
        this.json = json;
        this.clock = clock;
        this.meters = meters;
        if (!deletes.equals("authoritative") && !deletes.equals("revivable")) {
            throw new IllegalStateException("crmsync.sync.deletes is '" + deletes + "'; use authoritative or revivable");
        }
        this.authoritativeDeletes = deletes.equals("authoritative");
    }

    @Transactional
    public Outcome apply(Change change) {
        if (!inbox.lockPending(change.id())) {
            // another worker applied it after both claimed it (a claim whose lease ran out): once is enough
            return Outcome.SKIPPED;
        }
        Outcome outcome = change.operation().equals("merge") ? merge(change) : upsertOrDelete(change);
        inbox.done(change.id(), outcome.name().toLowerCase());
        meters.counter("crmsync.sync.changes", "system", change.sourceSystem(), "outcome", outcome.name().toLowerCase())
                .increment();
        return outcome;
    }

    private Outcome upsertOrDelete(Change change) {
        String system = change.sourceSystem();
        Mapping mapping = mappings.get(system + "-" + change.objectType());
        RemoteRecord read = change.operation().equals("delete")
                ? new RemoteRecord(change.externalId(), change.remoteModifiedAt(), true, Map.of(), null, null)
                : mapping.toCanonical(read(change.payload()));
        if (read.fieldTimes() == null && change.fieldTimes() != null) {
            read = read.datedBy(change.fieldTimes());
        }
        Instant remoteTime = read.modifiedAt() != null ? read.modifiedAt() : change.remoteModifiedAt();
        Source source = new Source(system, null, remoteTime);
        Optional<Link> link = links.find(system, change.objectType(), change.externalId());
        Screened screened = read.deleted() ? new Screened(read.values(), List.of()) : normalizer.screen(read.values());
        RemoteRecord record = leftOut(read, screened, link.map(Link::syncedValues).orElse(null));
        List<Refusal> refused = screened.refused();
        Contact contact = link.map(l -> follow(l.contactId())).orElse(null);
        boolean survivorHasOwn = contact != null && !record.deleted() && !contact.id().equals(link.get().contactId())
                && (links.forContact(contact.id(), system, change.objectType()).isPresent() || outbox.onItsWay(contact.id(), system));
        switch (ChangeGuard.of(link.orElse(null), link.isEmpty() && erased.contains(system, change.objectType(),
                change.externalId()), survivorHasOwn, record, change.readAt())) {
            case ERASED -> {
                inbox.forgetPayload(change.id());
                meters.counter("crmsync.sync.erased-ignored", "system", system).increment();
                return Outcome.STALE_IGNORED;
            }
            case MERGED_AWAY -> {
                outbox.enqueue(lock(link.get().contactId()), "hub", Set.of(system), now());
                return Outcome.STALE_IGNORED;
            }
            case STALE -> {
                return Outcome.STALE_IGNORED;
            }
            case READ_BEFORE_WRITE -> {
                // what else the read holds comes back with the record read again after the write: a later poll
                // may never bring it, when the write set what an earlier try of it had already set
                readAfterWrite(change, link.get().writtenAt());
                return Outcome.STALE_IGNORED;
            }
            case APPLY -> {
            }
        }

        if (record.deleted()) {
            if (contact == null) {
                return Outcome.SKIPPED;
            }
            if (!contact.id().equals(link.get().contactId())) {
                // the record of a contact merged into another: its delete is the merge's cleanup (often
                // our own delete read back), not the survivor's
                return Outcome.UNCHANGED;
            }
            if (!contact.isDeleted()) {
                service.tombstone(contact, source, null);
                return Outcome.DELETED;
            }
            return Outcome.UNCHANGED;
        }
        if (contact == null) {
            contact = match(record);
            Optional<Link> taken = contact == null ? Optional.empty()
                    : links.forContact(contact.id(), system, change.objectType());
            if (taken.isPresent()) {
                // the system holds this person twice; linking both is impossible and guessing is wrong
                conflicts.duplicateInSystem(contact.id(), system, taken.get().externalId(), change.externalId());
                return Outcome.SKIPPED;
            }
        }
        if (contact != null && contact.isDeleted()) {
            if (erased.erasing(contact.id())) {
                // the person is being erased and their deletes are already on the way: not revived, not
                // linked again, and no second delete that would only archive what the first erases
                return Outcome.STALE_IGNORED;
            }
            boolean newerThanDelete = remoteTime != null && remoteTime.isAfter(contact.deletedAt());
            if (authoritativeDeletes || !newerThanDelete) {
                // a stale update or a re-import never brings a tombstone back; the system gets the delete again
                links.save(system, change.objectType(), change.externalId(), contact.id(), record.values(), null,
                        remoteTime, now());
                outbox.enqueue(contact, "hub", Set.of(system), now());
                return Outcome.STALE_IGNORED;
            }
            Contact restored = write(contact, contact.values().with(record.values()), source, Set.of());
            save(mapping, change, restored, record, remoteTime, refused);
            return Outcome.UPDATED;
        }
        if (contact == null) {
            ContactFields values = ContactFields.EMPTY.with(record.values());
            if (values.email() == null && values.phone() == null) {
                throw new IllegalArgumentException(system + " record " + change.externalId()
                        + " has neither an email nor a valid phone; a contact needs one" + (refused.isEmpty() ? ""
                        : " (left out: " + String.join("; ", refused.stream().map(r -> r.field() + ": " + r.reason()).toList())
                        + ")"));
            }
            Contact created = write(null, values, source, Set.of());
            save(mapping, change, created, record, remoteTime, refused);
            for (String other : contacts.findLiveIdsByNameAndCompany(created.id(), values.firstName(), values.lastName(),
                    values.company())) {
                conflicts.possibleDuplicate(created.id(), other, system, "same name and company");
            }
            return Outcome.CREATED;
        }
        return mergeFields(mapping, change, contact, link.orElse(null), record, remoteTime, source, refused);
    }

    /**
     * The record as the hub takes it: its values as the API would hold them, and each value the hub
     * cannot hold left out. A left-out field keeps what the hub last synced with the record (its merge
     * base), so it reads as unchanged: it neither clears the hub's value nor counts as the record's.
     */
    static RemoteRecord leftOut(RemoteRecord record, Screened screened, Map<String, Object> base) {
        Map<String, Object> values = new LinkedHashMap<>(screened.accepted());
        for (Refusal refusal : screened.refused()) {
            values.put(refusal.field(), base == null ? null : base.get(refusal.field()));
        }
        return new RemoteRecord(record.externalId(), record.modifiedAt(), record.deleted(), values, record.fieldTimes(),
                record.hubId());
    }

    /** Three-way merge of the fields this remote sends (see {@link FieldMerge}), carried out. */
    private Outcome mergeFields(Mapping mapping, Change change, Contact contact, Link link, RemoteRecord record,
                                Instant remoteTime, Source source, List<Refusal> refused) {
        Map<String, Object> base = link == null ? null : link.syncedValues();
        if (base != null && FieldMerge.sameValues(record.values(), base, mapping.inboundFields())) {
            meters.counter("crmsync.sync.echoes", "system", source.system()).increment();
            return Outcome.ECHO;
        }
        Map<String, Object> hub = contact.values().canonical();
        Instant movedAt = link == null ? null : link.movedAt();
        Set<String> leftOut = new HashSet<>();
        refused.forEach(refusal -> leftOut.add(refusal.field()));
        FieldMerge.Input input = new FieldMerge.Input(source.system(), mapping.inboundFields(), leftOut, record, remoteTime,
                base, hub, contacts.fieldStamps(contact.id()), contact.updatedAt(), movedAt, mapping.datesFields(), false);
        FieldMerge.Result result = FieldMerge.merge(input, mappings::preferred);
        if (result instanceof FieldMerge.NeedsDatedRead) {
            if (rereadDated(change, remoteTime)) {
                return Outcome.REREAD;
            }
            result = FieldMerge.merge(input.withDatedReadMade(), mappings::preferred);
        }
        FieldMerge.Merged merged = (FieldMerge.Merged) result;
        for (FieldMerge.Contest contest : merged.contests()) {
            conflicts.field(contact.id(), contest.field(), contest.hubValue(), contest.hubSystem(), contest.remoteValue(),
                    source.system(), contest.rule(), contest.winner());
        }
        Contact updated = write(contact, contact.values().with(merged.taken()), source,
                merged.hubKeeps() ? Set.of(source.system()) : Set.of());
        if (updated != contact && remoteTime != null) {
            Map<String, ContactStore.FieldStamp> own = FieldMerge.stamps(source.system(), merged.taken().keySet(), hub,
                    updated.values().canonical(), record, remoteTime);
            if (!own.isEmpty()) {
                contacts.stampFields(contact.id(), own);
            }
        }
        if (merged.hubKeeps() && updated == contact) {
            outbox.enqueue(contact, "hub", Set.of(source.system()), now());
        }
        save(mapping, change, updated, record, remoteTime, refused);
        if (base == null && movedAt != null) {
            // read once: from now on it is the survivor's record like any other
            links.moved(change.sourceSystem(), change.objectType(), change.externalId(), null);
        }
        return updated == contact ? Outcome.UNCHANGED : Outcome.UPDATED;
    }

    /** Reads the record again, now that the write is answered, where its system reads records by id. */
    private void readAfterWrite(Change change, Instant writtenAt) {
        String system = change.sourceSystem();
        if (beans.getBean(system + "Client", CrmClient.class).fetches()) {
            inbox.accept(system + ":" + change.objectType() + ":" + change.externalId() + ":after-write:" + writtenAt, system,
                    change.objectType(), change.externalId(), "fetch", AFTER_WRITE_FETCH, change.remoteModifiedAt());
        }
    }

    /**
     * Asks for the record again, read with its fields' dates (once per version of it: a second change
     * of the same version waits for that read too). False when that read was made and gave no date for
     * the field: then the record's date decides.
     */
    private boolean rereadDated(Change change, Instant remoteTime) {
        String key = change.sourceSystem() + ":" + change.objectType() + ":" + change.externalId() + ":" + remoteTime
                + ":dated";
        if (inbox.accept(key, change.sourceSystem(), change.objectType(), change.externalId(), "fetch", DATED_FETCH,
                remoteTime)) {
            meters.counter("crmsync.sync.rereads", "system", change.sourceSystem()).increment();
            return true;
        }
        return inbox.waiting(key);
    }

    /**
     * A remote merged records: its links move to the survivor, and two hub contacts that were both
     * linked become one (the other is tombstoned, pointing at the survivor).
     */
    private Outcome merge(Change change) {
        JsonNode payload = read(change.payload());
        String system = change.sourceSystem();
        String object = change.objectType();
        String survivorId = payload.path("survivor").asText(change.externalId());
        Optional<Link> survivor = links.find(system, object, survivorId);
        Outcome outcome = Outcome.UNCHANGED;
        for (JsonNode merged : payload.path("merged")) {
            Optional<Link> loser = links.find(system, object, merged.asText());
            if (loser.isEmpty()) {
                continue;
            }
            links.delete(system, object, merged.asText());
            if (survivor.isEmpty()) {
                // a survivor the hub has not read yet (its creation's webhook late or lost) is another record,
                // with its own values: linked without a merge base, so nothing is sent to it before its first
                // read is merged here, where its values win over what the hub held before (the merged person's)
                Link moved = loser.get();
                links.save(system, object, survivorId, moved.contactId(), null, null, null, now());
                links.moved(system, object, survivorId, now());
                survivor = links.find(system, object, survivorId);
                outcome = Outcome.MERGED;
            } else if (!loser.get().contactId().equals(survivor.get().contactId())) {
                // what the merge fills in is dated by the merge, not by when the hub heard of it: a change made in
                // between, read later, is the newer one
                mergeContacts(survivor.get().contactId(), loser.get().contactId(),
                        new Source(system, null, change.remoteModifiedAt()), true);
                outcome = Outcome.MERGED;
            }
        }
        return outcome;
    }

    /**
     * Makes two hub contacts one: the loser becomes a tombstone pointing at the survivor, its links
     * move to the survivor where the survivor has none in that system (else its record there is
     * deleted), and the survivor's empty fields take the loser's values. The caller brings the
     * transaction; nothing happens when either is deleted.
     */
    @Transactional(propagation = org.springframework.transaction.annotation.Propagation.MANDATORY)
    public void mergeContacts(String survivorId, String loserId, Source source) {
        mergeContacts(survivorId, loserId, source, false);
    }

    /** {@code remote}: a system merged the two records, so a loser merged into a deleted survivor ends too. */
    private void mergeContacts(String survivorId, String loserId, Source source, boolean remote) {
        // lock in id order so two merges of the same pair cannot deadlock
        Contact first = lock(survivorId.compareTo(loserId) < 0 ? survivorId : loserId);
        Contact second = lock(survivorId.compareTo(loserId) < 0 ? loserId : survivorId);
        Contact survivor = first.id().equals(survivorId) ? first : second;
        Contact loser = first.id().equals(survivorId) ? second : first;
        if (loser.isDeleted()) {
            return;
        }
        if (survivor.isDeleted()) {
            if (remote) {
                // merged into a person deleted meanwhile: the merged record is gone from the system, so the
                // person ends here too (and in the other systems) rather than coming back as someone else
                service.tombstone(loser, source, survivor.id());
            }
            return;
        }
        Map<String, Object> fill = new HashMap<>();
        Map<String, Object> kept = survivor.values().canonical();
        loser.values().canonical().forEach((field, value) -> {
            Object current = kept.get(field);
            if (current == null || current instanceof List<?> list && list.isEmpty()) {
                fill.put(field, value);
            }
        });
        // the loser's email must be free before the survivor may take it
        Contact tombstone = service.tombstone(loser, source, survivor.id());
        for (Link link : links.ofContact(loser.id())) {
            // a record of the survivor on its way there (a create waiting for its answer) would be a second one;
            // then the merged person's record stays with it and is deleted like the rest of it
            if (links.forContact(survivor.id(), link.system(), link.objectType()).isEmpty()
                    && !outbox.onItsWay(survivor.id(), link.system())) {
                links.save(link.system(), link.objectType(), link.externalId(), survivor.id(), link.syncedValues(),
                        link.syncedHash(), link.remoteModifiedAt(), now());
                links.moved(link.system(), link.objectType(), link.externalId(), now());
            }
        }
        // the values the merged person fills in come from the hub, not from the system that merged: it gets them too
        write(survivor, survivor.values().with(fill), source, remote ? Set.of(source.system()) : Set.of());
        meters.counter("crmsync.sync.merges", "system", source.system()).increment();
        if (tombstone.mergedInto() == null) {
            throw new IllegalStateException("merge of " + loserId + " lost its survivor");
        }
    }

    /**
     * Link first is done by the caller; then the contact whose hub id the record carries (made by our
     * create, whatever was edited there since), then a live contact by email, then by phone, then a
     * tombstone by email.
     */
    private Contact match(RemoteRecord record) {
        Object email = record.values().get("email");
        Object phone = record.values().get("phone");
        Optional<String> id = record.hubId() == null ? Optional.empty()
                : contacts.find(record.hubId()).map(Contact::id);
        if (id.isEmpty() && email != null) {
            id = contacts.findLiveIdByEmail(email.toString().toLowerCase(java.util.Locale.ROOT));
        }
        if (id.isEmpty() && phone != null) {
            id = contacts.findLiveIdByPhone(phone.toString());
        }
        if (id.isEmpty() && email != null) {
            id = contacts.findTombstoneIdByEmail(email.toString());
        }
        return id.map(this::follow).orElse(null);
    }

    /** Locks a contact, following merges to the survivor. */
    private Contact follow(String id) {
        Contact contact = lock(id);
        int hops = 0;
        while (contact.mergedInto() != null && hops++ < 10) {
            contact = lock(contact.mergedInto());
        }
        return contact;
    }

    private Contact lock(String id) {
        return contacts.findForUpdate(id).orElseThrow(() -> new IllegalStateException("contact " + id + " vanished"));
    }

    /**
     * Writes through the contact service. An email another live contact holds is not taken over: the
     * rest of the change applies and the pair is recorded for review. (Checked before writing: a
     * refusal inside the transaction would doom all of it.)
     */
    private Contact write(Contact current, ContactFields values, Source source, Set<String> alsoNotify) {
        if (current != null && values.emailKey() != null && !values.emailKey().equals(current.values().emailKey())) {
            Optional<String> holder = contacts.findLiveIdByEmail(values.emailKey()).filter(id -> !id.equals(current.id()));
            if (holder.isPresent()) {
                conflicts.possibleDuplicate(current.id(), holder.get(), source.system(),
                        "email " + values.email() + " belongs to another contact");
                Map<String, Object> keepEmail = new HashMap<>();
                keepEmail.put("email", current.values().email());
                values = values.with(keepEmail);
            }
        }
        return service.write(current, values, source, alsoNotify);
    }

    /**
     * Links the remote record with what it holds now (the next merge base). The echo guard's hash is
     * set only when the remote already holds the hub's values, so a delivery it still needs is not skipped.
     */
    private void save(Mapping mapping, Change change, Contact contact, RemoteRecord record, Instant remoteTime,
                      List<Refusal> refused) {
        for (Refusal refusal : refused) {
            if (conflicts.dataQuality(contact.id(), change.sourceSystem(), change.objectType(), change.externalId(),
                    refusal.field(), refusal.value(), refusal.reason())) {
                meters.counter("crmsync.sync.values-left-out", "system", change.sourceSystem()).increment();
            }
        }
        boolean remoteHoldsHub = FieldMerge.sameValues(record.values(), contact.values().canonical(), mapping.inboundFields());
        String hash = remoteHoldsHub ? links.hash(mapping.toRemote(contact.values().canonical())) : null;
        links.save(change.sourceSystem(), change.objectType(), change.externalId(), contact.id(), record.values(), hash,
                remoteTime, now());
    }

    private JsonNode read(String payload) {
        try {
            return json.readTree(payload == null ? "{}" : payload);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("the change's payload is not JSON: " + e.getOriginalMessage());
        }
    }

    private Instant now() {
        return clock.instant();
    }

    /** Ids of changes of one record, in order; used by tests and the processor. */
    static List<Long> ids(List<Change> changes) {
        List<Long> ids = new ArrayList<>();
        changes.forEach(c -> ids.add(c.id()));
        return ids;
    }
}
