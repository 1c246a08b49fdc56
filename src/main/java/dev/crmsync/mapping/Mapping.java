package dev.crmsync.mapping;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crmsync.contact.ContactNormalizer.Unconvertible;
import dev.crmsync.mapping.Transform.DateFormat;

/**
 * One provider object's field mapping (a file in mappings/), ready to turn remote records into
 * canonical values and back. Canonical values are keyed by canonical name, custom fields as
 * {@code custom.<key>}. {@code hubId}, where the remote keeps the person's hub id (an external id
 * field), or null: the hub writes it with each create, and a record that carries it is that person's,
 * however it was edited since (a create retried after a crash finds the record its first try made).
 */
public record Mapping(String file, String provider, String object, FieldPath remoteId, FieldPath remoteModified,
                      DateFormat modifiedFormat, FieldPath remoteDeleted, FieldPath hubId, List<Field> fields) {

    private static final ObjectMapper JSON = new ObjectMapper();

    public enum Direction {
        BOTH, INBOUND, OUTBOUND, NONE;

        public boolean inbound() {
            return this == BOTH || this == INBOUND;
        }

        public boolean outbound() {
            return this == BOTH || this == OUTBOUND;
        }
    }

    /**
     * One mapped field; {@code canonical} is empty for a constant, or several names for a split value.
     * {@code modified}, where the remote dates each field (HubSpot's property history), is where a
     * record read with those dates keeps this field's; null: the field is dated by the record.
     */
    public record Field(List<String> canonical, FieldPath remote, Direction direction, List<Transform> transforms,
                        String conflict, FieldPath modified) {

        /** The system whose value wins a conflict on this field, or null for last-write-wins. */
        public String preferredSystem() {
            return conflict.startsWith("prefer:") ? conflict.substring("prefer:".length()) : null;
        }
    }

    /**
     * A remote record read through this mapping: its id, modification time and canonical values.
     * {@code fieldTimes}: when each canonical field was last set, for a record read with per-field
     * dates (absent fields have none); null for a record read without them. {@code hubId}: the hub id
     * the record carries (see {@link Mapping#hubId()}), or null.
     */
    public record RemoteRecord(String externalId, Instant modifiedAt, boolean deleted, Map<String, Object> values,
                               @JsonInclude(JsonInclude.Include.NON_NULL) Map<String, Instant> fieldTimes,
                               @JsonInclude(JsonInclude.Include.NON_NULL) String hubId) {

        /** When {@code field} was last set: its own date where the record has one, else the record's. */
        public Instant modifiedAt(String field) {
            Instant own = fieldTimes == null ? null : fieldTimes.get(field);
            return own != null ? own : modifiedAt;
        }

        /** This record with its fields dated by {@code times} (an event's, see {@link Mapping#datedByEvent}). */
        public RemoteRecord datedBy(Map<String, Instant> times) {
            return new RemoteRecord(externalId, modifiedAt, deleted, values, times, hubId);
        }
    }

    /** Remote to canonical: only the fields that flow inbound. */
    public RemoteRecord toCanonical(JsonNode remote) {
        Map<String, Object> values = new LinkedHashMap<>();
        Map<String, Instant> fieldTimes = null;
        for (Field field : fields) {
            if (!field.direction().inbound() || field.canonical().isEmpty()) {
                continue;
            }
            if (field.modified() != null && remote.has(field.modified().root())) {
                JsonNode at = field.modified().read(remote);
                fieldTimes = fieldTimes == null ? new LinkedHashMap<>() : fieldTimes;
                if (at != null) {
                    Instant time = modifiedFormat.parse(plain(at));
                    Map<String, Instant> times = fieldTimes;
                    field.canonical().forEach(name -> times.put(name, time));
                }
            }
            Object raw = plain(field.remote().read(remote));
            Object value = raw;
            int parts = field.canonical().size() > 1 ? field.canonical().size() : 0;
            try {
                for (Transform transform : field.transforms()) {
                    value = transform.inbound(value, parts);
                }
            } catch (RuntimeException e) {
                // one value the mapping cannot convert (a date in another format) is that field's problem, not
                // the record's: the engine leaves it out and shows why
                Unconvertible unconvertible = new Unconvertible(raw, file + " cannot convert " + field.remote()
                        + ": " + e.getMessage());
                field.canonical().forEach(name -> values.put(name, unconvertible));
                continue;
            }
            if (field.canonical().size() == 1) {
                values.put(field.canonical().get(0), value);
            } else {
                List<?> pieces = value instanceof List<?> list ? list : value == null ? List.of() : List.of(value);
                for (int i = 0; i < field.canonical().size(); i++) {
                    values.put(field.canonical().get(i), i < pieces.size() ? pieces.get(i) : null);
                }
            }
        }
        JsonNode id = remoteId.read(remote);
        JsonNode modified = remoteModified == null ? null : remoteModified.read(remote);
        JsonNode deleted = remoteDeleted == null ? null : remoteDeleted.read(remote);
        JsonNode carried = hubId == null ? null : hubId.read(remote);
        return new RemoteRecord(id == null ? null : id.asText(),
                modified == null ? null : modifiedFormat.parse(plain(modified)),
                deleted != null && deleted.asBoolean(), values, fieldTimes,
                carried == null || carried.asText().isBlank() ? null : carried.asText());
    }

    /**
     * When each inbound field of {@code record} was last set, for a record an event brought whole along
     * with the values its change replaced ({@code previous}, as Pipedrive's v2 webhooks send them: the
     * top-level properties that changed, and the record's modification time before the change). A field
     * whose value the event changed was set at {@code at}; any other (one the event did not touch, or a
     * list the event changed elsewhere than this field's element) no later than the record's previous
     * modification, by an event that may still be on its way. Without that time only changed fields are dated.
     */
    public Map<String, Instant> datedByEvent(JsonNode record, JsonNode previous, Instant at) {
        JsonNode before = remoteModified == null ? null : remoteModified.read(previous);
        Instant earlier;
        try {
            earlier = before == null ? null : modifiedFormat.parse(plain(before));
        } catch (RuntimeException e) {
            // unreadable: only the fields the event changed are dated, the others by the record
            earlier = null;
        }
        Map<String, Instant> times = new LinkedHashMap<>();
        for (Field field : fields) {
            if (!field.direction().inbound()) {
                continue;
            }
            boolean changed = field.remote().within(previous)
                    && !java.util.Objects.equals(field.remote().read(previous), field.remote().read(record));
            Instant time = changed ? at : earlier;
            if (time != null) {
                field.canonical().forEach(name -> times.put(name, time));
            }
        }
        return times;
    }

    /** A create's remote fields with the person's hub id written where {@link #hubId()} keeps it (none: as they are). */
    public ObjectNode keyed(ObjectNode payload, String hubIdValue) {
        ObjectNode keyed = payload.deepCopy();
        if (hubId != null) {
            hubId.write(keyed, JSON.getNodeFactory().textNode(hubIdValue));
        }
        return keyed;
    }

    /** Whether some inbound field can be dated on its own (see {@link Field#modified()}). */
    public boolean datesFields() {
        return fields.stream().anyMatch(f -> f.direction().inbound() && f.modified() != null);
    }

    /** Canonical to remote: the fields that flow outbound, and constants. */
    public ObjectNode toRemote(Map<String, Object> canonical) {
        return toRemote(canonical, null);
    }

    /**
     * Canonical to remote, only the fields that carry one of {@code only} (all of a field that joins
     * several, such as a name made of first and last name); no constants. Null: every field, and constants.
     */
    public ObjectNode toRemote(Map<String, Object> canonical, java.util.Collection<String> only) {
        ObjectNode remote = JSON.createObjectNode();
        for (Field field : fields) {
            if (!field.direction().outbound()
                    || only != null && field.canonical().stream().noneMatch(only::contains)) {
                continue;
            }
            Object value = field.canonical().size() == 1 ? canonical.get(field.canonical().get(0))
                    : field.canonical().isEmpty() ? null
                    : field.canonical().stream().map(canonical::get).toList();
            for (int i = field.transforms().size() - 1; i >= 0; i--) {
                value = field.transforms().get(i).outbound(value);
            }
            field.remote().write(remote, JSON.valueToTree(value));
        }
        return remote;
    }

    /** The remote's top-level properties a read must fetch: id, modification time, deletion flag, inbound fields. */
    public java.util.Set<String> remoteProperties() {
        java.util.Set<String> names = new java.util.LinkedHashSet<>();
        names.add(remoteId.root());
        java.util.stream.Stream.of(remoteModified, remoteDeleted, hubId).filter(java.util.Objects::nonNull)
                .forEach(path -> names.add(path.root()));
        fields.stream().filter(f -> f.direction().inbound()).forEach(f -> names.add(f.remote().root()));
        return names;
    }

    /** Canonical fields this remote sends to the hub. */
    public List<String> inboundFields() {
        return fields.stream().filter(f -> f.direction().inbound()).flatMap(f -> f.canonical().stream()).toList();
    }

    /** Canonical fields the hub sends to this remote. */
    public List<String> outboundFields() {
        return fields.stream().filter(f -> f.direction().outbound()).flatMap(f -> f.canonical().stream()).toList();
    }

    private static Object plain(JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (node.isTextual()) {
            return node.textValue();
        }
        if (node.isBoolean()) {
            return node.booleanValue();
        }
        if (node.isNumber()) {
            return node.numberValue();
        }
        return JSON.convertValue(node, Object.class);
    }
}
