package dev.crmsync.provider.pipedrive;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crmsync.api.ApiProblem;
import dev.crmsync.api.JsonBody;
import dev.crmsync.api.Problems;
import dev.crmsync.api.Replies;
import dev.crmsync.mapping.Mapping;
import dev.crmsync.mapping.Mappings;
import dev.crmsync.provider.ProviderActivity;
import dev.crmsync.sync.Inbox;
import io.micrometer.core.instrument.MeterRegistry;
import org.apache.camel.Exchange;
import org.apache.camel.Message;

/**
 * Receives Pipedrive's v2 webhooks for persons (https://pipedrive.readme.io/docs/guide-for-webhooks-v2):
 * checks the HTTP Basic credentials the webhook was registered with, stores the event in the inbox
 * (idempotent on {@code meta.id}, which stays the same across Pipedrive's retries) and answers at once;
 * the engine applies it later. A delete with {@code meta.merged_to_id} is Pipedrive's merge: it becomes
 * a merge change on the survivor. Nothing is stored for a refused request.
 */
public class PipedriveWebhook {

    private static final Set<String> ACTIONS = Set.of("create", "change", "delete");

    private final String name;
    private final PipedriveProviderProperties properties;
    private final Inbox inbox;
    private final Mappings mappings;
    private final Problems problems;
    private final ObjectMapper json;
    private final MeterRegistry meters;
    private final Clock clock;
    private final ProviderActivity activity;
    private final byte[] username;
    private final byte[] password;

    public PipedriveWebhook(String name, PipedriveProviderProperties properties, Inbox inbox, Mappings mappings,
                            Problems problems, ObjectMapper json, MeterRegistry meters, Clock clock,
                            ProviderActivity activity) {
        this.activity = activity;
        this.name = name;
        this.properties = properties;
        this.inbox = inbox;
        this.mappings = mappings;
        this.problems = problems;
        this.json = json;
        this.meters = meters;
        this.clock = clock;
        this.username = digest(properties.webhookUsername());
        this.password = digest(properties.webhookPassword());
    }

    /** For the webhook route: the request is the exchange's message, and so is the answer. */
    public void receive(Exchange exchange) {
        Message message = exchange.getMessage();
        if (!authenticated(message.getHeader("Authorization", String.class))) {
            meters.counter("crmsync.webhook.refused", "system", name, "reason", "credentials").increment();
            problems.respondWith(exchange, new ApiProblem(401, "send the HTTP Basic credentials this webhook was registered "
                    + "with in Pipedrive (crmsync.providers." + name + ".webhook-username and webhook-password)"));
            message.setHeader("WWW-Authenticate", "Basic realm=\"" + name + "-webhooks\", charset=\"UTF-8\"");
            return;
        }
        if (!properties.enabled()) {
            throw ApiProblem.notFound(name + " is not enabled (crmsync.providers." + name + ".enabled); the event was not stored");
        }
        JsonNode event = parse(message.getBody(byte[].class));
        activity.heard(name);
        JsonNode meta = event.get("meta");
        String action = text(meta, "action");
        String entity = text(meta, "entity");
        if (!"person".equals(entity) || !ACTIONS.contains(action)) {
            // another object or action this webhook was subscribed to: acknowledged, so Pipedrive does not retry it
            meters.counter("crmsync.webhook.events", "system", name, "outcome", "ignored").increment();
            Replies.json(message, json, 200, Map.of("status", "ignored"), Map.of());
            return;
        }
        boolean stored = store(event, meta, action);
        meters.counter("crmsync.webhook.events", "system", name, "outcome", stored ? "stored" : "repeated").increment();
        Replies.json(message, json, 200, Map.of("status", stored ? "accepted" : "already received"), Map.of());
    }

    private boolean store(JsonNode event, JsonNode meta, String action) {
        String key = name + ":webhook:" + text(meta, "id");
        String personId = text(meta, "entity_id");
        Instant at = time(text(meta, "timestamp"));
        if (action.equals("delete")) {
            String survivor = text(meta, "merged_to_id");
            if (survivor != null) {
                // the survivor's change follows as its own event: the merge only moves links and joins hub contacts
                ObjectNode merge = json.createObjectNode().put("survivor", survivor);
                merge.putArray("merged").add(personId);
                return inbox.accept(key, name, properties.objectType(), survivor, "merge", merge.toString(), at);
            }
            JsonNode previous = event.get("previous");
            return inbox.accept(key, name, properties.objectType(), personId, "delete",
                    previous != null && previous.isObject() ? previous.toString() : "{}", at);
        }
        JsonNode person = event.get("data");
        if (person == null || !person.isObject()) {
            throw invalid("data", "a " + action + " event carries the person as data");
        }
        Mapping mapping = mappings.get(name + "-" + properties.objectType());
        Instant modified;
        Map<String, Instant> fieldTimes = null;
        try {
            Instant read = mapping.toCanonical(person).modifiedAt();
            modified = read != null ? read : at;
            JsonNode previous = event.get("previous");
            if (action.equals("change") && previous != null && previous.isObject()) {
                // the person's date is that of its latest change of any field: a field this event did not change
                // (changed by an event still on its way, say) must not win a conflict by this event's date
                fieldTimes = mapping.datedByEvent(person, previous, modified);
            }
        } catch (RuntimeException e) {
            throw invalid("data", "the person cannot be read through mappings/" + name + "-" + properties.objectType()
                    + ".json: " + e.getMessage());
        }
        return inbox.accept(key, name, properties.objectType(), personId, "update", person.toString(), modified, null,
                fieldTimes);
    }

    private JsonNode parse(byte[] body) {
        JsonNode event = JsonBody.read(json, body, "the body is empty; Pipedrive sends one JSON event per request");
        if (event == null || !event.isObject() || !event.path("meta").isObject()) {
            throw invalid("meta", "a Pipedrive webhook is a JSON object with meta");
        }
        JsonNode meta = event.get("meta");
        if (!meta.has("entity")) {
            // v1 webhooks name the object meta.object and carry no event id to deduplicate on
            throw invalid("meta/entity", "only webhooks of version 2.0 are understood; register the webhook in "
                    + "Pipedrive with version 2.0");
        }
        for (String field : List.of("id", "action", "entity_id")) {
            if (text(meta, field) == null) {
                throw invalid("meta/" + field, "is missing");
            }
        }
        for (String field : List.of("id", "entity_id", "merged_to_id")) {
            String id = text(meta, field);
            Optional<String> tooLong = Inbox.idRefusal(id);
            if (tooLong.isPresent()) {
                // refused before anything is stored; the entry shows an operator what Pipedrive sent
                meters.counter("crmsync.webhook.refused", "system", name, "reason", "id-too-long").increment();
                inbox.refuse(name, properties.objectType(), id, "meta." + field, tooLong.get());
                throw invalid("meta/" + field, tooLong.get());
            }
        }
        return event;
    }

    /**
     * Both credentials compared in constant time, as digests so their lengths do not show either;
     * without configured credentials nothing is accepted.
     */
    private boolean authenticated(String authorization) {
        if (username == null || password == null || authorization == null
                || !authorization.regionMatches(true, 0, "Basic ", 0, 6)) {
            return false;
        }
        String decoded;
        try {
            decoded = new String(Base64.getDecoder().decode(authorization.substring(6).strip()), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return false;
        }
        int colon = decoded.indexOf(':');
        if (colon < 0) {
            return false;
        }
        boolean user = MessageDigest.isEqual(username, digest(decoded.substring(0, colon)));
        boolean pass = MessageDigest.isEqual(password, digest(decoded.substring(colon + 1)));
        return user & pass;
    }

    private static byte[] digest(String secret) {
        if (secret == null || secret.isBlank()) {
            return null;
        }
        try {
            return MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this Java runtime", e);
        }
    }

    private Instant time(String text) {
        if (text != null) {
            try {
                return OffsetDateTime.parse(text).toInstant();
            } catch (DateTimeParseException e) {
                // Pipedrive's v1-style "2026-05-20 20:49:32" or none: the time of arrival will do
            }
        }
        return clock.instant();
    }

    private static String text(JsonNode node, String field) {
        JsonNode value = node == null ? null : node.get(field);
        return value == null || value.isNull() || value.isContainerNode() || value.asText().isBlank() ? null : value.asText();
    }

    private static ApiProblem invalid(String pointer, String detail) {
        return ApiProblem.invalid(List.of(new ApiProblem.FieldError("#/" + pointer, detail)));
    }

    @Override
    public String toString() {
        return "PipedriveWebhook[" + name + "]";
    }
}
