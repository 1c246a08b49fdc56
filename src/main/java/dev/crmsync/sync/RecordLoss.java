package dev.crmsync.sync;

import java.util.Locale;

/**
 * How the hub noticed that a system lost a record without deleting it (its own deletion signal said
 * it never did): the person stays, and the record is created again there.
 */
public enum RecordLoss {
    /** An update answered that the record is not there. */
    UPDATE,
    /** A reconcile's full listing did not have it. */
    RECONCILE;

    /** The value stored in {@code lost_record.detected_by}. */
    public String column() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static RecordLoss ofColumn(String value) {
        return valueOf(value.toUpperCase(Locale.ROOT));
    }
}
