package dev.crmsync.contact;

import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.function.UnaryOperator;

import dev.crmsync.api.ApiProblem;
import dev.crmsync.contact.Contact.ContactFields;
import dev.crmsync.contact.ContactStore.HistoryEntry;
import dev.crmsync.sync.Outbox;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Propagation;
import org.springframework.transaction.annotation.Transactional;

/**
 * The one way a contact changes: each call is an intake change that writes the contact, its
 * history row and the outbox rows for every other system in a single transaction.
 */
@Service
public class ContactService {

    /** Where a change comes from: a system (api, hubspot, ...) and, when known, who. */
    /**
     * Where a change comes from: a system (api, crm1, ...), when known who, and when the change was
     * made there (a remote's modification time; null means now). That time stamps the changed fields
     * for last-write-wins.
     */
    public record Source(String system, String actor, Instant at) {
        public Source(String system, String actor) {
            this(system, actor, null);
        }
    }

    private final ContactStore store;
    private final Outbox outbox;
    private final Clock clock;

    public ContactService(ContactStore store, Outbox outbox, Clock clock) {
        this.store = store;
        this.outbox = outbox;
        this.clock = clock;
    }

    @Transactional
    public Contact create(ContactFields values, Source source) {
        return write(null, values, source, Set.of());
    }

    /** What an upsert did: created the contact, changed it, or found it holding the given values already. */
    public record Upserted(Contact contact, boolean created, boolean changed) {
    }

    /**
     * Changes the live contact with the email of {@code values} (a body without an email: the oldest
     * with its phone) by {@code change}, or creates one of {@code values} when there is none.
     */
    @Transactional
    public Upserted upsert(ContactFields values, UnaryOperator<ContactFields> change, Source source) {
        java.util.Optional<String> existing = values.emailKey() != null ? store.findLiveIdByEmail(values.emailKey())
                : store.findLiveIdByPhone(values.phone());
        if (existing.isEmpty()) {
            return new Upserted(write(null, values, source, Set.of()), true, true);
        }
        Contact current = liveForUpdate(existing.get(), null);
        Contact written = write(current, change.apply(current.values()), source, Set.of());
        return new Upserted(written, false, written != current);
    }

    /**
     * Changes a live contact. {@code expectedVersion} (from If-Match), when given, must be the current
     * version; the row stays locked from read to commit so concurrent writers queue rather than lose updates.
     */
    @Transactional
    public Contact update(String id, Long expectedVersion, UnaryOperator<ContactFields> change, Source source) {
        Contact current = liveForUpdate(id, expectedVersion);
        return write(current, change.apply(current.values()), source, Set.of());
    }

    /** Makes a tombstone: the record stays, so a stale change from elsewhere can be recognised and refused. */
    @Transactional
    public Contact delete(String id, Long expectedVersion, Source source) {
        return tombstone(liveForUpdate(id, expectedVersion), source, null);
    }

    /**
     * Creates ({@code current} null) or changes a contact the caller holds locked, with its history and
     * outbox rows: one per system other than the source, plus {@code alsoNotify} (a source whose
     * record the hub's values overrode). Returns {@code current} when nothing changed.
     */
    @Transactional(propagation = Propagation.MANDATORY)
    public Contact write(Contact current, ContactFields values, Source source, Set<String> alsoNotify) {
        refuseEmailOfAnother(values, current == null ? null : current.id());
        Instant now = now();
        if (current == null) {
            Contact contact = new Contact(UUID.randomUUID().toString(), values, 1, now, now, null, null);
            store.insert(contact);
            stamp(contact.id(), ContactFields.EMPTY, values, source, now);
            record(contact, "create", diff(null, values), source, alsoNotify);
            return contact;
        }
        Map<String, Map<String, Object>> changes = diff(current.values(), values);
        boolean restore = current.isDeleted();
        if (changes.isEmpty() && !restore) {
            return current;
        }
        Contact updated = new Contact(current.id(), values, current.version() + 1, current.createdAt(), now, null, null);
        store.update(updated);
        stamp(updated.id(), current.values(), values, source, now);
        if (restore) {
            changes.put("deletedAt", fromTo(current.deletedAt().toString(), null));
        }
        record(updated, restore ? "restore" : "update", changes, source, alsoNotify);
        return updated;
    }

    /** Tombstones a contact the caller holds locked; {@code mergedInto} names the survivor of a merge. */
    @Transactional(propagation = Propagation.MANDATORY)
    public Contact tombstone(Contact current, Source source, String mergedInto) {
        Instant now = now();
        Contact tombstone = new Contact(current.id(), current.values(), current.version() + 1, current.createdAt(), now,
                now, mergedInto);
        store.update(tombstone);
        Map<String, Map<String, Object>> changes = new LinkedHashMap<>();
        changes.put("deletedAt", fromTo(null, now.toString()));
        if (mergedInto != null) {
            changes.put("mergedInto", fromTo(null, mergedInto));
        }
        record(tombstone, mergedInto == null ? "delete" : "merge", changes, source, Set.of());
        return tombstone;
    }

    private Contact liveForUpdate(String id, Long expectedVersion) {
        Contact current = store.findForUpdate(id)
                .orElseThrow(() -> ApiProblem.notFound("no contact has id " + id));
        if (current.isDeleted()) {
            throw gone(current);
        }
        if (expectedVersion != null && expectedVersion != current.version()) {
            throw new ApiProblem(412, "contact " + id + " is at version " + current.version() + ", not "
                    + expectedVersion + "; read it again and reapply the change")
                    .with("currentVersion", current.version());
        }
        return current;
    }

    static ApiProblem gone(Contact contact) {
        ApiProblem problem = new ApiProblem(410, "contact " + contact.id() + " was deleted at " + contact.deletedAt())
                .with("deletedAt", contact.deletedAt().toString());
        return contact.mergedInto() == null ? problem : problem.with("mergedInto", contact.mergedInto());
    }

    private void refuseEmailOfAnother(ContactFields values, String self) {
        if (values.emailKey() == null) {
            return;
        }
        store.findLiveIdByEmail(values.emailKey())
                .filter(existing -> !existing.equals(self))
                .ifPresent(existing -> {
                    throw duplicateEmail(values.email(), existing);
                });
    }

    static ApiProblem duplicateEmail(String email, String existingId) {
        return new ApiProblem(409, "contact " + existingId + " already has the email " + email)
                .with("existingId", existingId);
    }

    private void record(Contact contact, String operation, Map<String, Map<String, Object>> changes, Source source,
                        Set<String> alsoNotify) {
        store.appendHistory(new HistoryEntry(contact.id(), contact.version(), operation, source.system(),
                source.actor(), changes, contact.updatedAt()));
        outbox.enqueue(contact, source.system(), alsoNotify, contact.updatedAt());
    }

    /** Records, per changed canonical field, the system that set it and when: the hub side of a conflict. */
    private void stamp(String id, ContactFields before, ContactFields after, Source source, Instant now) {
        Map<String, Object> old = before.canonical();
        Map<String, ContactStore.FieldStamp> stamps = new LinkedHashMap<>();
        Instant at = source.at() != null ? source.at() : now;
        after.canonical().forEach((field, value) -> {
            if (!Objects.equals(old.get(field), value)) {
                stamps.put(field, new ContactStore.FieldStamp(source.system(), at));
            }
        });
        old.keySet().stream().filter(field -> !after.canonical().containsKey(field))
                .forEach(field -> stamps.put(field, new ContactStore.FieldStamp(source.system(), at)));
        if (!stamps.isEmpty()) {
            store.stampFields(id, stamps);
        }
    }

    private static Map<String, Map<String, Object>> diff(ContactFields before, ContactFields after) {
        Map<String, Object> old = before == null ? Map.of() : before.asMap();
        Map<String, Map<String, Object>> changes = new LinkedHashMap<>();
        after.asMap().forEach((field, value) -> {
            Object previous = old.get(field);
            if (!Objects.equals(previous, value) && !(before == null && isEmpty(value))) {
                changes.put(field, fromTo(previous, value));
            }
        });
        return changes;
    }

    private static boolean isEmpty(Object value) {
        return value == null || value instanceof java.util.Collection<?> c && c.isEmpty()
                || value instanceof Map<?, ?> m && m.isEmpty();
    }

    private static Map<String, Object> fromTo(Object from, Object to) {
        Map<String, Object> change = new LinkedHashMap<>();
        change.put("from", from);
        change.put("to", to);
        return change;
    }

    private Instant now() {
        // the databases keep microseconds: truncate so what we return is what a later read returns
        return clock.instant().truncatedTo(ChronoUnit.MICROS);
    }
}
