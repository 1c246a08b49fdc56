package dev.crmsync.sync;

import java.time.Instant;

import dev.crmsync.mapping.Mapping.RemoteRecord;
import dev.crmsync.sync.Links.Link;

/**
 * Whether a change from a system may be applied, checked before any matching or merging. A pure
 * decision; the engine carries out what each verdict asks.
 */
enum ChangeGuard {
    /** Nothing stands in the way. */
    APPLY,
    /**
     * The record of an erased person (a CRM that kept it, a late webhook): neither the person nor the
     * payload that names them comes back.
     */
    ERASED,
    /**
     * The record of a person merged into one that has its own record there, or one on its way: it is the
     * merged person's and is deleted with them, not moved onto the survivor as a second record there.
     */
    MERGED_AWAY,
    /**
     * An older version than the system's latest the hub knows (a late read of our own earlier write, a
     * webhook retried out of order): applying it would undo newer changes.
     */
    STALE,
    /**
     * Read before our last write to the record was answered (a poll page waiting in the inbox while a
     * delivery went out; Salesforce's write answers carry no modification time to compare): it cannot
     * show that write, and against the base the write left it would read as the system undoing it.
     */
    READ_BEFORE_WRITE;

    /**
     * {@code link}: the record's link, or null; {@code erased}: the record is one of an erased person;
     * {@code survivorHasOwn}: the link's contact was merged into one that already has (or is being sent)
     * its own record in the system; {@code readAt}: when the record was read, or null for a change that
     * carries it (a webhook).
     */
    static ChangeGuard of(Link link, boolean erased, boolean survivorHasOwn, RemoteRecord record, Instant readAt) {
        if (link == null) {
            return erased ? ERASED : APPLY;
        }
        if (record.deleted()) {
            return APPLY;
        }
        if (survivorHasOwn) {
            return MERGED_AWAY;
        }
        if (record.modifiedAt() != null && link.remoteModifiedAt() != null && record.modifiedAt().isBefore(link.remoteModifiedAt())) {
            return STALE;
        }
        if (readAt != null && link.writtenAt() != null && readAt.isBefore(link.writtenAt())) {
            return READ_BEFORE_WRITE;
        }
        return APPLY;
    }
}
