package dev.crmsync.sync;

import java.util.Locale;

/**
 * How an outbox row settled, or why it waits for its next try: its {@code outcome} column, which the
 * code reads. The row's {@code last_error} keeps the words for people.
 */
public enum DeliveryOutcome {
    /** Written to the system. */
    SENT,
    /** Settled without a call: the system already held those values, or never had the record deleted. */
    NOTHING_TO_SEND,
    /** A later row of the same contact was sent instead: delivery sends the contact as it is. */
    SUPERSEDED,
    /** A create found the person there already, and linked them. */
    FOUND,
    /** The record was deleted in the system meanwhile; that delete goes to the hub. */
    GONE,
    /** Waits: the record was changed in the system since last synced, and that change is merged first. */
    CHANGED_MEANWHILE,
    /** That change is merged: the next try writes without reading the record again. */
    MERGED,
    /** Waits for the paused provider to resume. */
    DEFERRED,
    /** Waits for the system's own change of this person, still in the inbox. */
    HELD,
    /** The system lost the record without a deletion: it is created there again. */
    LOST,
    /** Failed for good: a dead letter. */
    REFUSED;

    public String column() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The outcome a column holds; null for none. */
    public static DeliveryOutcome of(String column) {
        return column == null ? null : valueOf(column.toUpperCase(Locale.ROOT));
    }
}
