package dev.crmsync.contact;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The hub's canonical contact: what every system's record is mapped to and from.
 *
 * @param values    the editable fields, by canonical name (see {@link ContactFields})
 * @param deletedAt set on a tombstone
 */
public record Contact(String id, ContactFields values, long version, Instant createdAt, Instant updatedAt,
                      Instant deletedAt, String mergedInto) {

    public boolean isDeleted() {
        return deletedAt != null;
    }

    public String etag() {
        return "\"" + version + "\"";
    }

    /** The API representation: the canonical fields plus id, version and times. */
    public Map<String, Object> toJson() {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("id", id);
        json.putAll(values.asMap());
        json.put("version", version);
        json.put("createdAt", createdAt.toString());
        json.put("updatedAt", updatedAt.toString());
        if (deletedAt != null) {
            json.put("deletedAt", deletedAt.toString());
        }
        return json;
    }

    /** The editable fields of a contact, normalised (see {@link ContactNormalizer}). */
    public record ContactFields(String email, String firstName, String lastName, String phone, String company,
                                String title, List<String> tags, Map<String, Object> custom) {

        /** Canonical field names in the order the API shows them. */
        public static final List<String> NAMES =
                List.of("email", "firstName", "lastName", "phone", "company", "title", "tags", "custom");

        public ContactFields {
            tags = tags == null ? List.of() : List.copyOf(tags);
            custom = custom == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(custom));
        }

        public static final ContactFields EMPTY = new ContactFields(null, null, null, null, null, null, List.of(), Map.of());

        /** Canonical values by canonical name, each custom field as {@code custom.<key>}: what mappings read and write. */
        public Map<String, Object> canonical() {
            Map<String, Object> map = new LinkedHashMap<>(asMap());
            map.remove("custom");
            custom.forEach((key, value) -> map.put("custom." + key, value));
            return map;
        }

        /** These fields with some canonical values replaced (a null custom value removes the key). */
        @SuppressWarnings("unchecked")
        public ContactFields with(Map<String, Object> values) {
            Map<String, Object> all = asMap();
            Map<String, Object> customs = new LinkedHashMap<>(custom);
            values.forEach((name, value) -> {
                if (name.startsWith("custom.")) {
                    if (value == null) {
                        customs.remove(name.substring("custom.".length()));
                    } else {
                        customs.put(name.substring("custom.".length()), value);
                    }
                } else if (name.equals("tags")) {
                    all.put(name, value == null ? List.of() : value instanceof List<?> list ? list : List.of(value.toString()));
                } else {
                    all.put(name, value == null ? null : value.toString());
                }
            });
            return new ContactFields((String) all.get("email"), (String) all.get("firstName"), (String) all.get("lastName"),
                    (String) all.get("phone"), (String) all.get("company"), (String) all.get("title"),
                    (List<String>) all.get("tags"), customs);
        }

        /** Lower-cased email: the key two records are matched on. */
        public String emailKey() {
            return email == null ? null : email.toLowerCase(java.util.Locale.ROOT);
        }

        public Map<String, Object> asMap() {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("email", email);
            map.put("firstName", firstName);
            map.put("lastName", lastName);
            map.put("phone", phone);
            map.put("company", company);
            map.put("title", title);
            map.put("tags", tags);
            map.put("custom", custom);
            return map;
        }
    }
}
