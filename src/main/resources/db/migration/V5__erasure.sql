-- The audit of erasures: a person erased (DELETE /api/contacts/{id}?purge=true) or old tombstones
-- purged (POST /api/tombstones/purge). Who asked, when, and how many rows of each table went; never
-- the erased data. A person's erasure holds the contact id only while the CRMs' deletes are still
-- on their way (the background step needs it); once done, only a keyed hash of it stays, enough to
-- answer "was this contact erased?" for whoever already knows the id.
CREATE TABLE erasure (
    id           VARCHAR(36)  NOT NULL PRIMARY KEY,
    kind         VARCHAR(16)  NOT NULL,
    state        VARCHAR(16)  NOT NULL,
    contact_id   VARCHAR(36),
    subject_hash VARCHAR(64),
    requested_by VARCHAR(255) NOT NULL,
    requested_at TIMESTAMP WITH TIME ZONE NOT NULL,
    completed_at TIMESTAMP WITH TIME ZONE,
    -- a tombstone purge: the ISO-8601 age asked for and the deletion time it meant
    older_than   VARCHAR(64),
    cutoff       TIMESTAMP WITH TIME ZONE,
    -- rows removed per table, and per system how the CRM deletes ended: JSON
    counts       VARCHAR      NOT NULL DEFAULT '{}',
    CONSTRAINT erasure_kind CHECK (kind IN ('contact', 'tombstones')),
    CONSTRAINT erasure_state CHECK (state IN ('pending', 'completed')),
    CONSTRAINT erasure_contact_id_only_while_pending CHECK (
        (kind = 'contact' AND state = 'pending' AND contact_id IS NOT NULL)
        OR ((kind <> 'contact' OR state <> 'pending') AND contact_id IS NULL)),
    CONSTRAINT erasure_one_pending_per_contact UNIQUE (contact_id)
);
CREATE INDEX erasure_requested ON erasure (requested_at);
CREATE INDEX erasure_subject ON erasure (subject_hash);

-- The remote records of erased people, as keyed hashes of (system, object type, external id): a late
-- change from one of them is ignored instead of creating the person again.
CREATE TABLE erased_record (
    key_hash   VARCHAR(64) NOT NULL PRIMARY KEY,
    erasure_id VARCHAR(36) NOT NULL REFERENCES erasure (id),
    erased_at  TIMESTAMP WITH TIME ZONE NOT NULL
);

-- The key of those hashes: random per installation, made on first use, so they cannot be matched
-- with ids hashed anywhere else.
CREATE TABLE erasure_key (
    id   INTEGER     NOT NULL PRIMARY KEY,
    salt VARCHAR(64) NOT NULL,
    CONSTRAINT erasure_key_single_row CHECK (id = 1)
);
