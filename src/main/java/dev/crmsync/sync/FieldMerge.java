package dev.crmsync.sync;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import dev.crmsync.contact.ContactStore.FieldStamp;
import dev.crmsync.mapping.Mapping.RemoteRecord;

/**
 * The three-way merge of the fields one record sends into the hub's contact: the record now, the
 * record as last synced (the base), the hub now. Decisions only; the engine reads the inputs and
 * carries the decisions out.
 */
final class FieldMerge {

    private FieldMerge() {
    }

    /**
     * Which system a mapping prefers for a field when two systems disagree, or null for last-write-wins
     * (see {@code Mappings#preferred}).
     */
    @FunctionalInterface
    interface Policy {
        String preferred(String field, String incomingSystem, String hubSystem);
    }

    /**
     * What the merge reads: the record from {@code system} with the fields it sends and those of them the
     * hub cannot hold ({@code leftOut}); {@code remoteTime}, the record's date (its latest change of any
     * field) or the change's; {@code base}, the record as last synced, null before the first link;
     * {@code hub} and its {@code stamps}, the contact now; {@code movedAt}, when a remote merge moved the
     * record to this contact, or null; {@code datesFields}: the record can be read with each field's date;
     * {@code datedReadMade}: it was asked for again so, and that read gave none for these fields.
     */
    record Input(String system, List<String> fields, Set<String> leftOut, RemoteRecord record, Instant remoteTime,
                 Map<String, Object> base, Map<String, Object> hub, Map<String, FieldStamp> stamps, Instant hubUpdatedAt,
                 Instant movedAt, boolean datesFields, boolean datedReadMade) {

        Input withDatedReadMade() {
            return new Input(system, fields, leftOut, record, remoteTime, base, hub, stamps, hubUpdatedAt, movedAt,
                    datesFields, true);
        }
    }

    /** A field both sides changed, and which won: recorded as a conflict. */
    record Contest(String field, Object hubValue, String hubSystem, Object remoteValue, String rule, String winner) {
    }

    sealed interface Result permits Merged, NeedsDatedRead {
    }

    /**
     * {@code taken}: the incoming values the hub takes; {@code hubKeeps}: some field keeps the hub's value
     * against the record's, which the record's system should then be sent.
     */
    record Merged(Map<String, Object> taken, boolean hubKeeps, List<Contest> contests) implements Result {
    }

    /**
     * The record is to be read again with each field's date first: a change the hub takes is dated, and
     * may be judged by its date against the hub's, and this record's date is that of its latest change of
     * any field (a merge, another field, our own write).
     */
    record NeedsDatedRead() implements Result {
    }

    /** Whether two sets of values agree on {@code fields}, an empty value being the same as none. */
    static boolean sameValues(Map<String, Object> a, Map<String, Object> b, List<String> fields) {
        return fields.stream().allMatch(field -> same(a.get(field), b.get(field)));
    }

    static Result merge(Input in, Policy policy) {
        Map<String, Object> taken = new HashMap<>();
        List<Contest> contests = new ArrayList<>();
        boolean hubKeeps = false;
        RemoteRecord record = in.record();
        for (String field : in.fields()) {
            if (in.leftOut().contains(field)) {
                // a value the hub cannot hold takes no part in the merge: the hub keeps its own, and sends nothing
                continue;
            }
            Object remoteValue = record.values().get(field);
            Object baseValue = in.base() == null ? null : in.base().get(field);
            Object hubValue = in.hub().get(field);
            if (in.base() != null && same(remoteValue, baseValue) || same(remoteValue, hubValue)) {
                continue;
            }
            if (in.base() == null && empty(remoteValue)) {
                // first link: the remote lacks what the hub knows; the hub's value goes to it
                hubKeeps = true;
                continue;
            }
            if (record.fieldTimes() == null && in.datesFields() && !in.datedReadMade()) {
                return new NeedsDatedRead();
            }
            Instant fieldTime = record.fieldTimes() == null ? in.remoteTime() : record.modifiedAt(field);
            boolean hubChanged = in.base() != null ? !same(hubValue, baseValue) : !empty(hubValue);
            boolean beforeMove = in.base() != null && in.movedAt() != null && fieldTime != null
                    && !fieldTime.isAfter(in.movedAt());
            if (beforeMove && !empty(hubValue)) {
                // changed before a merge moved the record to this person: the merged person's value, which
                // only fills what the survivor lacks, as the merge itself did
                hubKeeps = true;
                continue;
            }
            if (!hubChanged) {
                taken.put(field, remoteValue);
                continue;
            }
            FieldStamp stamp = in.stamps().get(field);
            String hubSystem = stamp == null ? "hub" : stamp.source();
            Instant hubTime = stamp == null ? in.hubUpdatedAt() : stamp.at();
            String preferred = policy.preferred(field, in.system(), hubSystem);
            // the first read of a record its system's merge kept as the survivor before the hub knew it: its values
            // are the survivor's, and win over what the hub held before that merge (the merged person's)
            boolean survivorsOwn = in.base() == null && in.movedAt() != null && !hubTime.isAfter(in.movedAt());
            boolean remoteWins = preferred != null ? preferred.equals(in.system())
                    : survivorsOwn || later(fieldTime, record.fieldTimes() == null || !record.fieldTimes().containsKey(field),
                            hubTime, stamp != null && stamp.bounded());
            if (remoteWins) {
                taken.put(field, remoteValue);
            } else {
                hubKeeps = true;
            }
            contests.add(new Contest(field, hubValue, hubSystem, remoteValue,
                    preferred == null ? "last-write-wins" : "prefer:" + preferred, remoteWins ? in.system() : hubSystem));
        }
        return new Merged(taken, hubKeeps, contests);
    }

    /**
     * The stamps of the fields the record changed in the hub ({@code before} to {@code after}): each dated
     * by when it was set there where the record says, else by the record's latest change, which only
     * bounds it.
     */
    static Map<String, FieldStamp> stamps(String system, Set<String> taken, Map<String, Object> before,
                                          Map<String, Object> after, RemoteRecord record, Instant remoteTime) {
        Map<String, FieldStamp> stamps = new HashMap<>();
        for (String field : taken) {
            if (same(after.get(field), before.get(field))) {
                continue;
            }
            Instant at = record.fieldTimes() == null ? null : record.fieldTimes().get(field);
            stamps.put(field, at != null ? new FieldStamp(system, at) : new FieldStamp(system, remoteTime, true));
        }
        return stamps;
    }

    /**
     * Last-write-wins on dates: whether a field's incoming value was set after the hub's. Equal dates
     * (whole seconds, in Salesforce and Pipedrive) go to a field's own date over a record's, which only
     * bounds when the field was set: a Pipedrive person whose phone changed in the same second as
     * Salesforce's email carries that second on an email set long before.
     */
    static boolean later(Instant incoming, boolean incomingBounded, Instant hub, boolean hubBounded) {
        if (incoming == null) {
            return false;
        }
        return incoming.isAfter(hub) || incoming.equals(hub) && !incomingBounded && hubBounded;
    }

    static boolean same(Object a, Object b) {
        return empty(a) ? empty(b) : java.util.Objects.equals(a, b);
    }

    static boolean empty(Object value) {
        return value == null || value instanceof String text && text.isBlank()
                || value instanceof java.util.Collection<?> c && c.isEmpty() || value instanceof Map<?, ?> m && m.isEmpty();
    }
}
