package dev.crmsync.converge;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import dev.crmsync.converge.Workload.Actor;
import dev.crmsync.converge.Workload.Op;

/**
 * What the run did, as its actors saw it: per person, every value a system or the API acknowledged
 * with the times the operation was issued and acknowledged, the emails it was given, and whether an
 * acknowledged delete or merge ended it. Operations that were refused or skipped leave nothing here.
 * Thread-safe: the workers record into it concurrently.
 */
final class Model {

    /** One acknowledged value of one field: issued and acknowledged in epoch milliseconds. */
    record Write(int op, Actor actor, String field, String value, long issued, long acked) {
    }

    /** An acknowledged merge of {@code merged} into {@code survivor}. */
    record Merge(int op, Actor actor, int survivor, int merged, long acked) {
    }

    static final class Person {
        final int slot;
        /** Every email an operation gave it, acknowledged or not, oldest first: where to look for it. */
        final Set<String> emails = new LinkedHashSet<>();
        final List<Write> writes = new ArrayList<>();
        boolean created;
        Long deletedAt;
        Op deletedBy;
        Integer mergedInto;

        Person(int slot) {
            this.slot = slot;
        }

        boolean live() {
            return created && deletedAt == null;
        }
    }

    private final Map<Integer, Person> people = new ConcurrentHashMap<>();
    private final List<Merge> merges = new ArrayList<>();

    synchronized Person person(int slot) {
        return people.computeIfAbsent(slot, Person::new);
    }

    /** The emails to look the person up by, newest first. */
    synchronized List<String> emails(int slot) {
        List<String> emails = new ArrayList<>(person(slot).emails);
        java.util.Collections.reverse(emails);
        return emails;
    }

    /** Before an operation that gives a person an email runs: it may be found by it from now on. */
    synchronized void emailIssued(int slot, String email) {
        person(slot).emails.add(email);
    }

    /** An acknowledged create, update or email change: the values it changed. */
    synchronized void acknowledged(Op op, Map<String, String> changed, long issued, long acked) {
        Person person = person(op.person());
        if (op.kind() == Workload.Kind.CREATE) {
            person.created = true;
        }
        changed.forEach((field, value) -> person.writes.add(new Write(op.index(), op.actor(), field, value, issued, acked)));
    }

    synchronized void deleted(Op op, long acked) {
        Person person = person(op.person());
        if (person.deletedAt == null) {
            person.deletedAt = acked;
            person.deletedBy = op;
        }
    }

    synchronized void merged(Op op, long acked) {
        Person merged = person(op.other());
        if (merged.deletedAt == null) {
            merged.deletedAt = acked;
            merged.deletedBy = op;
            merged.mergedInto = op.person();
        }
        merges.add(new Merge(op.index(), op.actor(), op.person(), op.other(), acked));
    }

    synchronized List<Person> people() {
        return people.values().stream().sorted(java.util.Comparator.comparingInt(p -> p.slot)).toList();
    }

    synchronized List<Merge> merges() {
        return List.copyOf(merges);
    }

    /** The writes of one field of one person, in the order they were acknowledged. */
    synchronized List<Write> writes(int slot, String field) {
        return person(slot).writes.stream().filter(w -> w.field().equals(field))
                .sorted(java.util.Comparator.comparingLong(Write::acked)).toList();
    }
}
