package dev.crmsync.converge;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

import dev.crmsync.converge.Model.Person;
import dev.crmsync.converge.Model.Write;

/**
 * Compares where the run ended with what it did. The hub and each system are read as canonical
 * values (each system through its own mapping); the checker counts, and describes the first few of:
 *
 * <ul>
 *   <li>{@code missingInSystem}, {@code extraInSystem}, {@code fieldMismatch}: a system does not hold
 *   the hub's live people, holds others, or holds other values of the fields that flow to it;</li>
 *   <li>{@code duplicates}: one normalised email held by two live records of one system (or the hub),
 *   or one person held by two hub contacts;</li>
 *   <li>{@code deletedAlive}: a person an acknowledged delete or merge ended is live somewhere;</li>
 *   <li>{@code lostPeople}: a person acknowledged as created, never deleted, is not live in the hub;</li>
 *   <li>{@code lostChanges}: a field of a live person holds neither the value of its latest
 *   acknowledged write nor that of a write no later write clearly followed (see {@link #acceptable});</li>
 *   <li>{@code unknownPeople}: a live hub contact no acknowledged operation made.</li>
 * </ul>
 */
final class Checker {

    /**
     * How much later a write must be issued than another was acknowledged to supersede it for sure.
     * Salesforce and Pipedrive stamp records in whole seconds, so two writes less than a second apart
     * may be ordered either way by last-write-wins.
     */
    static final long TIE_MS = 1000;
    static final int DETAILS = 40;

    /** One live record, as canonical values. */
    record Record(String id, Map<String, Object> values) {
        String email() {
            Object email = values.get("email");
            return email == null ? null : email.toString().toLowerCase(Locale.ROOT);
        }
    }

    /** Where the run ended: the hub's live contacts, and each system's live records with the fields compared. */
    record Snapshot(List<Record> hub, Map<String, List<Record>> systems, Map<String, List<String>> compared) {
    }

    final Map<String, Integer> counts = new LinkedHashMap<>();
    final List<String> details = new ArrayList<>();
    /** An email of the person behind each finding, in order: what the run explains in its diagnostics. */
    final Set<String> suspects = new java.util.LinkedHashSet<>();

    Checker() {
        for (String name : List.of("missingInSystem", "extraInSystem", "fieldMismatch", "duplicates", "deletedAlive",
                "lostPeople", "lostChanges", "unknownPeople")) {
            counts.put(name, 0);
        }
    }

    /** The systems against the hub only: what holds once the sync is quiet, whatever the run did. */
    Checker consistency(Snapshot snapshot) {
        Map<String, Record> hub = byEmail("hub", snapshot.hub());
        snapshot.systems().forEach((system, records) -> {
            Map<String, Record> held = byEmail(system, records);
            List<String> fields = snapshot.compared().get(system);
            hub.forEach((email, contact) -> {
                Record record = held.get(email);
                if (record == null) {
                    found("missingInSystem", system + " lacks " + email + " (hub contact " + contact.id() + ")", email);
                    return;
                }
                for (String field : fields) {
                    if (!same(contact.values().get(field), record.values().get(field))) {
                        found("fieldMismatch", system + " " + record.id() + " " + email + ": " + field + " is "
                                + record.values().get(field) + ", the hub's " + contact.values().get(field), email);
                    }
                }
            });
            held.forEach((email, record) -> {
                if (!hub.containsKey(email)) {
                    found("extraInSystem", system + " " + record.id() + " " + email + " is not a live hub contact", email);
                }
            });
        });
        return this;
    }

    /** What the run did against the hub: people, deletes and every acknowledged value. */
    Checker model(Model model, Snapshot snapshot) {
        Map<String, Record> hub = new HashMap<>();
        snapshot.hub().forEach(contact -> hub.put(contact.email(), contact));
        Map<String, Person> owner = new HashMap<>();
        for (Person person : model.people()) {
            person.emails.forEach(email -> owner.put(email.toLowerCase(Locale.ROOT), person));
        }
        for (Person person : model.people()) {
            if (person.deletedAt != null) {
                for (String email : person.emails) {
                    List<String> where = new ArrayList<>();
                    if (hub.containsKey(email)) {
                        where.add("hub");
                    }
                    snapshot.systems().forEach((system, records) -> records.stream()
                            .filter(r -> email.equalsIgnoreCase(String.valueOf(r.values().get("email")))).findAny()
                            .ifPresent(r -> where.add(system + " " + r.id())));
                    if (!where.isEmpty()) {
                        found("deletedAlive", "person " + person.slot + " (" + email + "), ended by " + person.deletedBy
                                + ", is live in " + where, email);
                    }
                }
                continue;
            }
            if (!person.live()) {
                continue;
            }
            List<Record> held = person.emails.stream().map(e -> hub.get(e.toLowerCase(Locale.ROOT))).filter(Objects::nonNull).toList();
            if (held.isEmpty()) {
                found("lostPeople", "person " + person.slot + " " + person.emails + " is not live in the hub",
                        person.emails.iterator().next());
                continue;
            }
            if (held.size() > 1) {
                found("duplicates", "person " + person.slot + " is " + held.size() + " hub contacts: "
                        + held.stream().map(Record::id).toList(), held.get(0).email());
            }
            Record contact = held.get(0);
            for (String field : Workload.FIELDS) {
                Object value = contact.values().get(field);
                Set<String> acceptable = acceptable(model, person.slot, field, 0);
                if (!acceptable.contains(text(value))) {
                    found("lostChanges", "person " + person.slot + " (hub " + contact.id() + ") " + field + " is " + value
                            + "; acceptable " + acceptable + "; writes " + describe(model.writes(person.slot, field)),
                            contact.email());
                }
            }
        }
        snapshot.hub().forEach(contact -> {
            Person person = owner.get(contact.email());
            if (person == null || !person.created) {
                found("unknownPeople", "hub contact " + contact.id() + " " + contact.email()
                        + " was made by no acknowledged operation", contact.email());
            }
        });
        return this;
    }

    /**
     * The values a field may end with: that of each write not superseded for sure (no other write was
     * issued more than {@link #TIE_MS} after it was acknowledged), or none when nothing was written.
     * A merge into this person may have filled the field (the survivor's empty fields take the merged
     * person's values, in the CRM that merged and in the hub) with any value the merged person had
     * there, which lagged behind: each value ever written to the merged person counts as a write at
     * the merge, one that may not have happened, so it supersedes nothing.
     */
    static Set<String> acceptable(Model model, int slot, String field, int depth) {
        List<Write> writes = model.writes(slot, field);
        Set<String> values = new HashSet<>();
        for (Write write : writes) {
            if (!supersededAfter(writes, write, write.acked())) {
                values.add(text(write.value()));
            }
        }
        if (writes.isEmpty()) {
            values.add("");
        }
        if (!field.equals("email") && depth < 10) {
            for (Model.Merge merge : model.merges()) {
                if (merge.survivor() == slot && !supersededAfter(writes, null, merge.acked())) {
                    values.addAll(everWritten(model, merge.merged(), field, depth + 1));
                }
            }
        }
        return values;
    }

    private static boolean supersededAfter(List<Write> writes, Write self, long acked) {
        return writes.stream().anyMatch(other -> other != self && other.issued() > acked + TIE_MS);
    }

    /** Every value a person's field ever had in the run, merges into it included. */
    private static Set<String> everWritten(Model model, int slot, String field, int depth) {
        Set<String> values = new HashSet<>();
        model.writes(slot, field).forEach(write -> values.add(text(write.value())));
        if (depth < 10) {
            for (Model.Merge merge : model.merges()) {
                if (merge.survivor() == slot) {
                    values.addAll(everWritten(model, merge.merged(), field, depth + 1));
                }
            }
        }
        return values;
    }

    private Map<String, Record> byEmail(String system, List<Record> records) {
        Map<String, Record> held = new HashMap<>();
        for (Record record : records) {
            if (record.email() == null) {
                found("extraInSystem", system + " " + record.id() + " has no email: " + record.values(), null);
                continue;
            }
            Record other = held.putIfAbsent(record.email(), record);
            if (other != null) {
                found("duplicates", system + " holds " + record.email() + " twice: " + other.id() + " and " + record.id(),
                        record.email());
            }
        }
        return held;
    }

    boolean clean() {
        return counts.values().stream().allMatch(count -> count == 0);
    }

    void found(String kind, String detail, String email) {
        counts.merge(kind, 1, Integer::sum);
        if (email != null) {
            suspects.add(email.toLowerCase(Locale.ROOT));
        }
        if (details.size() < DETAILS) {
            details.add(kind + ": " + detail);
        }
    }

    private static String describe(List<Write> writes) {
        List<String> parts = new ArrayList<>();
        for (Write w : writes) {
            parts.add("op " + w.op() + " " + w.actor().system + " " + w.value() + " [" + w.issued() % 1_000_000 + ".."
                    + w.acked() % 1_000_000 + "]");
        }
        return parts.toString();
    }

    private static String text(Object value) {
        return value == null ? "" : value.toString().strip();
    }

    private static boolean same(Object a, Object b) {
        return text(a).equals(text(b));
    }
}
