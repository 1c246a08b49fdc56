package dev.crmsync.contact;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crmsync.api.ApiProblem;
import dev.crmsync.api.Caller;
import dev.crmsync.api.JsonBody;
import dev.crmsync.api.Replies;
import dev.crmsync.config.CrmSyncProperties;
import dev.crmsync.contact.Contact.ContactFields;
import dev.crmsync.contact.ContactService.Source;
import dev.crmsync.contact.ContactStore.ListQuery;
import dev.crmsync.erasure.Erasures;
import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.springframework.dao.DuplicateKeyException;
import org.springframework.http.InvalidMediaTypeException;
import org.springframework.http.MediaType;
import org.springframework.stereotype.Component;

/**
 * The HTTP face of the contact store, called by the REST DSL in routes/api-contacts.camel.yaml:
 * reads the request from the Camel message, answers on the same message.
 */
@Component("contactApi")
public class ContactApi {

    private static final Source API = new Source("api", null);
    private static final MediaType MERGE_PATCH = MediaType.parseMediaType("application/merge-patch+json");

    private final ContactService service;
    private final ContactStore store;
    private final ContactNormalizer normalizer;
    private final ObjectMapper json;
    private final CrmSyncProperties.Api limits;
    private final Erasures erasures;

    public ContactApi(ContactService service, ContactStore store, ContactNormalizer normalizer, ObjectMapper json,
                      CrmSyncProperties properties, Erasures erasures) {
        this.service = service;
        this.erasures = erasures;
        this.store = store;
        this.normalizer = normalizer;
        // duplicate keys and trailing garbage are refused, not silently resolved
        this.json = json.copy()
                .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
        this.limits = properties.api();
    }

    public void create(Message message) {
        ObjectNode body = body(message, MediaType.APPLICATION_JSON);
        rejectReadOnlyValues(body, null);
        ContactFields values = normalizer.complete(body);
        Contact contact = writeOrConflict(values, () -> service.create(values, API));
        reply(message, 201, contact.toJson(), Map.of("ETag", contact.etag(), "Location", "/api/contacts/" + contact.id()));
    }

    /**
     * For POST /api/sync/contact: a body as POST /api/contacts takes it, checked the same way, written
     * onto the live contact with its email like a merge patch (fields left out stay), else created.
     * A refusal writes nothing.
     */
    public ContactService.Upserted upsert(Message message) {
        ObjectNode body = body(message, MediaType.APPLICATION_JSON);
        rejectReadOnlyValues(body, null);
        ContactFields values = normalizer.complete(body);
        try {
            return service.upsert(values, current -> normalizer.patch(current, body), API);
        } catch (DuplicateKeyException e) {
            // a concurrent request created a contact with this email first: this one updates it
            return writeOrConflict(values, () -> service.upsert(values, current -> normalizer.patch(current, body), API));
        }
    }

    public void get(Message message) {
        String id = message.getHeader("id", String.class);
        Contact found = store.find(id).orElseThrow(() -> ApiProblem.notFound("no contact has id " + id));
        if (found.mergedInto() != null) {
            reply(message, 301, Map.of("id", id, "mergedInto", found.mergedInto()),
                    Map.of("Location", "/api/contacts/" + found.mergedInto()));
            return;
        }
        Contact contact = live(id);
        reply(message, 200, contact.toJson(), Map.of("ETag", contact.etag()));
    }

    public void replace(Message message) {
        String id = message.getHeader("id", String.class);
        ObjectNode body = body(message, MediaType.APPLICATION_JSON);
        Long expected = expectedVersion(message, body, id);
        ContactFields values = normalizer.complete(body);
        Contact contact = writeOrConflict(values, () -> service.update(id, expected, current -> values, API));
        reply(message, 200, contact.toJson(), Map.of("ETag", contact.etag()));
    }

    public void patch(Message message) {
        String id = message.getHeader("id", String.class);
        ObjectNode body = body(message, MERGE_PATCH, MediaType.APPLICATION_JSON);
        Long expected = expectedVersion(message, body, id);
        Contact contact = writeOrConflict(null, () -> service.update(id, expected, current -> normalizer.patch(current, body), API));
        reply(message, 200, contact.toJson(), Map.of("ETag", contact.etag()));
    }

    /**
     * A tombstone; with {@code ?purge=true} the erasure of the person instead: 202 with the erasure to
     * watch, which completes once every system has deleted them (see erasure/Erasures).
     */
    public void delete(Message message) {
        String id = message.getHeader("id", String.class);
        String purge = blankToNull(message.getHeader("purge", String.class));
        if (purge != null && !purge.equals("true") && !purge.equals("false")) {
            throw ApiProblem.invalidParameter("purge", "is true (erase the person everywhere) or false, not '" + purge + "'");
        }
        if ("true".equals(purge)) {
            String erasure = erasures.request(id, Caller.of(message));
            reply(message, 202, erasures.find(erasure).orElseThrow(), Map.of("Location", "/api/erasures/" + erasure));
            return;
        }
        service.delete(id, ifMatch(message), API);
        reply(message, 204, null, Map.of());
    }

    public void list(Message message) {
        int limit = limit(message.getHeader("limit", String.class));
        String email = blankToNull(message.getHeader("email", String.class));
        String text = blankToNull(message.getHeader("q", String.class));
        Instant since = instant("updatedSince", message.getHeader("updatedSince", String.class));
        String[] after = cursor(message.getHeader("cursor", String.class));
        // one row more than asked tells whether there is a next page without a count query
        List<Contact> rows = store.list(new ListQuery(email == null ? null : email.toLowerCase(java.util.Locale.ROOT),
                text, since, after == null ? null : Instant.parse(after[0]), after == null ? null : after[1], limit + 1));
        List<Contact> page = rows.subList(0, Math.min(limit, rows.size()));
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("items", page.stream().map(Contact::toJson).toList());
        if (rows.size() > limit) {
            Contact last = page.get(page.size() - 1);
            body.put("nextCursor", Base64.getUrlEncoder().withoutPadding().encodeToString(
                    (last.updatedAt() + "|" + last.id()).getBytes(StandardCharsets.UTF_8)));
        }
        reply(message, 200, body, Map.of());
    }

    public void history(Message message) {
        String id = message.getHeader("id", String.class);
        Contact contact = store.find(id).orElseThrow(() -> ApiProblem.notFound("no contact has id " + id));
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("contactId", contact.id());
        body.put("items", store.history(id).stream().map(entry -> {
            Map<String, Object> item = new LinkedHashMap<>();
            item.put("version", entry.version());
            item.put("operation", entry.operation());
            item.put("source", entry.sourceSystem());
            item.put("actor", entry.actor());
            item.put("changes", entry.changes());
            item.put("changedAt", entry.changedAt().toString());
            return item;
        }).toList());
        reply(message, 200, body, Map.of());
    }

    private Contact live(String id) {
        Contact contact = store.find(id).orElseThrow(() -> ApiProblem.notFound("no contact has id " + id));
        if (contact.isDeleted()) {
            throw ContactService.gone(contact);
        }
        return contact;
    }

    /**
     * Runs a write; when the database refuses it for an email another live contact took meanwhile (a race
     * the check inside the transaction cannot see), answers 409 with that contact's id.
     */
    private <T> T writeOrConflict(ContactFields values, java.util.function.Supplier<T> write) {
        try {
            return write.get();
        } catch (DuplicateKeyException e) {
            String key = values == null ? null : values.emailKey();
            String existing = key == null ? null : store.findLiveIdByEmail(key).orElse(null);
            ApiProblem problem = new ApiProblem(409, "another live contact has this email");
            throw existing == null ? problem : ContactService.duplicateEmail(values.email(), existing);
        }
    }

    private ObjectNode body(Message message, MediaType... accepted) {
        String contentType = message.getHeader(Exchange.CONTENT_TYPE, String.class);
        MediaType type;
        try {
            type = contentType == null ? null : MediaType.parseMediaType(contentType);
        } catch (InvalidMediaTypeException e) {
            type = null;
        }
        MediaType given = type;
        if (given == null || java.util.Arrays.stream(accepted).noneMatch(a -> a.equalsTypeAndSubtype(given))) {
            throw new ApiProblem(415, "Content-Type must be " + java.util.Arrays.stream(accepted)
                    .map(MediaType::toString).reduce((a, b) -> a + " or " + b).orElseThrow()
                    + (contentType == null ? "; none was given" : ", not " + contentType));
        }
        JsonNode node = JsonBody.read(json, message.getBody(byte[].class), "the request body is empty; send a JSON object");
        if (!(node instanceof ObjectNode object)) {
            throw ApiProblem.badRequest("the body must be a JSON object, not " + node.getNodeType().name().toLowerCase());
        }
        return object;
    }

    /** The version the write is conditional on: If-Match, else a version the body carries back. */
    private Long expectedVersion(Message message, ObjectNode body, String id) {
        rejectReadOnlyValues(body, id);
        Long ifMatch = ifMatch(message);
        JsonNode version = body.get("version");
        if (ifMatch != null || version == null) {
            return ifMatch;
        }
        return version.longValue();
    }

    private static void rejectReadOnlyValues(ObjectNode body, String id) {
        JsonNode bodyId = body.get("id");
        if (bodyId != null && (id == null || !bodyId.isTextual() || !bodyId.textValue().equals(id))) {
            throw ApiProblem.invalid(List.of(ApiProblem.FieldError.of("id", id == null
                    ? "is assigned by the service; leave it out"
                    : "does not match the contact in the URL (" + id + ")")));
        }
        JsonNode version = body.get("version");
        if (version != null && !(version.isIntegralNumber() && version.longValue() > 0)) {
            throw ApiProblem.invalid(List.of(ApiProblem.FieldError.of("version", "must be a positive whole number")));
        }
    }

    private static Long ifMatch(Message message) {
        String header = message.getHeader("If-Match", String.class);
        if (header == null || header.isBlank() || header.strip().equals("*")) {
            return null;
        }
        String tag = header.strip();
        if (tag.startsWith("W/")) {
            // If-Match compares strongly (RFC 9110, 13.1.1): a weak tag never matches
            throw new ApiProblem(412, "If-Match takes a strong ETag, such as \"3\": a weak one (" + header
                    + ") never matches (RFC 9110)").with("parameter", "If-Match");
        }
        if (tag.length() > 2 && tag.startsWith("\"") && tag.endsWith("\"")) {
            try {
                return Long.parseLong(tag.substring(1, tag.length() - 1));
            } catch (NumberFormatException e) {
                // falls through to the refusal below
            }
        }
        throw new ApiProblem(412, "If-Match must be one ETag this API gave, such as \"3\"; got " + header)
                .with("parameter", "If-Match");
    }

    private int limit(String value) {
        if (value == null || value.isBlank()) {
            return limits.defaultPageSize();
        }
        try {
            int limit = Integer.parseInt(value.strip());
            if (limit >= 1 && limit <= limits.maxPageSize()) {
                return limit;
            }
        } catch (NumberFormatException e) {
            // refused below
        }
        throw ApiProblem.invalidParameter("limit", "must be a whole number from 1 to " + limits.maxPageSize()
                + ", not '" + value + "'");
    }

    private static Instant instant(String name, String value) {
        if (value == null || value.isBlank()) {
            return null;
        }
        try {
            return java.time.OffsetDateTime.parse(value.strip()).toInstant();
        } catch (DateTimeParseException e) {
            throw ApiProblem.invalidParameter(name, "must be an ISO-8601 time with offset, such as "
                    + "2026-01-31T09:00:00Z, not '" + value + "'");
        }
    }

    private static String[] cursor(String value) {
        if (value == null || value.isBlank()) {
            return null;
        }
        try {
            String[] parts = new String(Base64.getUrlDecoder().decode(value.strip()), StandardCharsets.UTF_8).split("\\|", 2);
            Instant.parse(parts[0]);
            if (parts.length == 2 && !parts[1].isEmpty()) {
                return parts;
            }
        } catch (IllegalArgumentException | DateTimeParseException e) {
            // refused below
        }
        throw ApiProblem.invalidParameter("cursor", "is not a cursor this API gave; start again without it");
    }

    private static String blankToNull(String value) {
        return value == null || value.isBlank() ? null : value.strip();
    }

    private void reply(Message message, int status, Object body, Map<String, String> headers) {
        Replies.json(message, json, status, body, headers);
    }
}
