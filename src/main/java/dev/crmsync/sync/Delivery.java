package dev.crmsync.sync;

import java.time.Instant;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * One outbox row on its way to a system: what to send (decided from the contact and its link when
 * claimed) and, once sent, what the system answered. The body of the deliver-template's exchanges.
 */
public class Delivery {

    private final long outboxId;
    private final String system;
    private String objectType;
    private final String contactId;
    private final long contactVersion;
    private final String operation;
    private final ObjectNode payload;
    private final String email;
    private String externalId;
    private JsonNode reply;
    private boolean adopted;
    private boolean retried;
    private boolean erasure;
    /** What the call came to; null while it is still to be made. */
    private DeliveryOutcome outcome;
    private RuntimeException batchFailure;
    private ObjectNode fullPayload;
    private java.util.Set<String> changedFields;
    private Map<String, Object> base;
    private dev.crmsync.mapping.Mapping mapping;
    private boolean unread;
    private Instant deferredUntil;

    public Delivery(long outboxId, String system, String objectType, String contactId, long contactVersion,
                    String operation, ObjectNode payload, String email, String externalId) {
        this.outboxId = outboxId;
        this.system = system;
        this.objectType = objectType;
        this.contactId = contactId;
        this.contactVersion = contactVersion;
        this.operation = operation;
        this.payload = payload;
        this.email = email;
        this.externalId = externalId;
    }

    public long getOutboxId() {
        return outboxId;
    }

    public String getSystem() {
        return system;
    }

    public String getObjectType() {
        return objectType;
    }

    public String getContactId() {
        return contactId;
    }

    public long getContactVersion() {
        return contactVersion;
    }

    /** create, update or delete. */
    public String getOperation() {
        return operation;
    }

    /**
     * The remote record to write, in the system's shape (from its mapping): for an update, only the
     * fields whose value changed since the record was last synced, so that what a person changed in
     * the system meanwhile, and the hub has not read yet, is not overwritten.
     */
    public ObjectNode getPayload() {
        return payload;
    }

    /** Every mapped field of the record, for an API whose update replaces the whole record (PUT). */
    public ObjectNode getFullPayload() {
        return fullPayload != null ? fullPayload : payload;
    }

    /**
     * Makes this update write only {@code changed} (canonical fields) of {@code full}: {@code payload}
     * holds those, {@code base} is what the system held of every field when last synced.
     */
    Delivery changedOnly(ObjectNode full, java.util.Set<String> changed, Map<String, Object> base,
                         dev.crmsync.mapping.Mapping mapping) {
        this.fullPayload = full;
        this.changedFields = java.util.Set.copyOf(changed);
        this.base = base;
        this.mapping = mapping;
        return this;
    }

    /**
     * Read before writing: when the record as the system holds it now differs from what it held when
     * last synced in a field this update would write, a person changed that field there meanwhile and
     * the hub has not read it yet. Writing would overwrite their change whatever its time, so nothing
     * is written: the record goes to the engine, which merges it under the field's policy, and the
     * update is claimed again after that with what the hub then holds. Returns whether it was so.
     */
    public boolean changedMeanwhile(JsonNode current) {
        if (changedFields == null || current == null || unread) {
            return false;
        }
        Map<String, Object> now = mapping.toCanonical(current).values();
        boolean changed = mapping.inboundFields().stream().filter(changedFields::contains)
                .anyMatch(field -> !FieldMerge.same(now.get(field), base.get(field)));
        if (changed) {
            this.reply = current;
            settle(DeliveryOutcome.CHANGED_MEANWHILE);
        }
        return changed;
    }

    public boolean isChangedMeanwhile() {
        return outcome == DeliveryOutcome.CHANGED_MEANWHILE;
    }

    /** What the call came to (sent, found, gone, lost, changed meanwhile, deferred), or null before it is made. */
    public DeliveryOutcome getOutcome() {
        return outcome;
    }

    private void settle(DeliveryOutcome outcome) {
        this.outcome = outcome;
        this.batchFailure = null;
    }

    /** The engine merged what the system holds and left the base as it was: written without the check above. */
    void writeUnread() {
        this.unread = true;
    }

    /** The canonical fields this update writes, or null when it writes every mapped field. */
    public java.util.Set<String> getChangedFields() {
        return changedFields;
    }

    /** What the system held when last synced, for an update that writes only the changed fields. */
    Map<String, Object> getBase() {
        return base;
    }

    /** The contact's email, for a client that looks for an existing record before creating one. */
    public String getEmail() {
        return email;
    }

    public String getExternalId() {
        return externalId;
    }

    public JsonNode getReply() {
        return reply;
    }

    /** True when a create found the person already there and updated that record instead. */
    public boolean isAdopted() {
        return adopted;
    }

    /**
     * True when an earlier try of this delivery may have reached the system (the row was claimed
     * before, and that claim ran out): a create must then look for the record it may have made.
     */
    public boolean isRetried() {
        return retried;
    }

    public void retried() {
        this.retried = true;
    }

    /** Called by the client once the system has the record. */
    public void sent(String externalId, JsonNode reply, boolean adopted) {
        this.externalId = externalId;
        this.reply = reply;
        this.adopted = adopted;
        settle(DeliveryOutcome.SENT);
    }

    /**
     * Called by a client that, about to create, found the person already in the system: nothing is
     * written; the record is linked and goes through the engine's merge like a polled one, so neither
     * side's values are lost to the other's.
     */
    public void found(String externalId, String objectType, JsonNode record) {
        this.externalId = externalId;
        this.objectType = objectType;
        this.reply = record;
        settle(DeliveryOutcome.FOUND);
    }

    public boolean isFound() {
        return outcome == DeliveryOutcome.FOUND;
    }

    /** Marks a delete as the erasure of a person: the system should remove the record for good, not archive it. */
    public void erase() {
        this.erasure = true;
    }

    public boolean isErasure() {
        return erasure;
    }

    /**
     * Called by the client when the record it was to update or delete was deleted in the system
     * meanwhile: the delivery is done, and the system's delete goes to the hub like a polled one.
     */
    public void gone() {
        settle(DeliveryOutcome.GONE);
    }

    public boolean isGone() {
        return outcome == DeliveryOutcome.GONE;
    }

    /**
     * Called once the system's own deletion signal said a gone record was never deleted there: the
     * system lost it. The person stays; the record is created again in that system.
     */
    public void lost() {
        settle(DeliveryOutcome.LOST);
    }

    public boolean isLost() {
        return outcome == DeliveryOutcome.LOST;
    }

    /** A batch call refused this record: its error is raised when the record is sent on its own. */
    public void failedInBatch(RuntimeException error) {
        this.batchFailure = error;
    }

    public boolean hasBatchFailure() {
        return batchFailure != null;
    }

    /** Raises the batch's refusal of this record, once, so a retry sends the record on its own. */
    public void raiseBatchFailure() {
        RuntimeException failure = batchFailure;
        batchFailure = null;
        if (failure != null) {
            throw failure;
        }
    }

    /** The provider is paused: the record waits in the outbox until then, without spending a try. */
    public void defer(Instant until) {
        this.deferredUntil = until;
        this.outcome = DeliveryOutcome.DEFERRED;
    }

    public Instant getDeferredUntil() {
        return deferredUntil;
    }

    /** True while the record still needs a call of its own: not sent by a batch, not deferred. */
    public boolean isPending() {
        return outcome == null;
    }

    public Map<String, Object> describe() {
        return Map.of("outboxId", outboxId, "system", system, "contactId", contactId, "operation", operation,
                "payload", payload == null ? "" : payload.toString());
    }

    @Override
    public String toString() {
        return operation + " contact " + contactId + " v" + contactVersion + " to " + system + " (outbox " + outboxId + ")";
    }
}
