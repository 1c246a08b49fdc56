package dev.crmsync.provider;

/**
 * What a system says of one of its records when asked through its own deletion signal (HubSpot's
 * archived read, Pipedrive's deleted state, Salesforce's {@code IsDeleted} through {@code queryAll},
 * a generic CRM's deleted field or 410): only {@link #DELETED} means a person deleted it there.
 */
public enum RecordState {
    /** The system holds the record. */
    PRESENT,
    /** The system deleted the record (archived, in its recycle bin, flagged deleted). */
    DELETED,
    /** The system knows nothing of the record: it was lost, not deleted. */
    ABSENT
}
