package dev.crmsync.provider.hubspot;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crmsync.api.ApiProblem;
import dev.crmsync.api.ApiProblem.FieldError;
import dev.crmsync.api.BodySizeLimit;
import dev.crmsync.api.JsonBody;
import dev.crmsync.provider.ProviderActivity;
import dev.crmsync.sync.Inbox;
import io.micrometer.core.instrument.MeterRegistry;
import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * {@code POST /webhooks/<provider>} for HubSpot: checks the v3 signature and its 5-minute window,
 * stores every event of the request in the inbox in one transaction (idempotent on its {@code eventId},
 * object and time, since HubSpot retries), and answers at once. Creations and property changes carry ids only: the
 * inbox processor reads those contacts in batches of 100 before applying them.
 */
public class HubSpotWebhookIntake {

    private final String name;
    private final HubSpotProviderProperties properties;
    private final Inbox inbox;
    private final TransactionTemplate transaction;
    private final ObjectMapper json;
    private final Clock clock;
    private final MeterRegistry meters;
    private final ProviderActivity activity;

    public HubSpotWebhookIntake(String name, HubSpotProviderProperties properties, Inbox inbox,
                                TransactionTemplate transaction, ObjectMapper json, Clock clock, MeterRegistry meters,
                                ProviderActivity activity) {
        this.activity = activity;
        this.name = name;
        this.properties = properties;
        this.inbox = inbox;
        this.transaction = transaction;
        this.json = json;
        this.clock = clock;
        this.meters = meters;
    }

    public void receive(Exchange exchange) {
        Message message = exchange.getMessage();
        verify(message, BodySizeLimit.rawBody(message));
        byte[] bytes = message.getBody(byte[].class);
        JsonNode events = JsonBody.read(json, bytes, "the body is empty; HubSpot sends a JSON array of events");
        if (!events.isArray()) {
            throw ApiProblem.badRequest("the body must be a JSON array of HubSpot events");
        }
        for (JsonNode event : events) {
            if (!event.path("eventId").canConvertToLong() || event.path("objectId").asText("").isEmpty()
                    || !event.path("subscriptionType").isTextual()) {
                throw ApiProblem.badRequest("every event needs eventId, objectId and subscriptionType: " + event);
            }
        }
        List<JsonNode> valid = new ArrayList<>();
        List<Refused> refused = new ArrayList<>();
        for (int i = 0; i < events.size(); i++) {
            Optional<Refused> refusal = refusal(events.get(i), i);
            if (refusal.isPresent()) {
                refused.add(refusal.get());
            } else {
                valid.add(events.get(i));
            }
        }
        for (Refused refusal : refused) {
            // visible to an operator, and nothing of the event stored: HubSpot's next try of it is refused the same way
            inbox.refuse(name, "contact", refusal.id(), refusal.field(), refusal.reason());
            meters.counter("crmsync.webhooks.refused", "system", name).increment();
        }
        if (valid.isEmpty() && !refused.isEmpty()) {
            // a 4xx: HubSpot does not retry what can never be stored
            throw ApiProblem.invalid(refused.stream().map(Refused::error).toList());
        }
        Integer stored = transaction.execute(status -> {
            int count = 0;
            for (JsonNode event : valid) {
                count += store(event) ? 1 : 0;
            }
            return count;
        });
        meters.counter("crmsync.webhooks.events", "system", name).increment(events.size());
        activity.heard(name);
        message.getHeaders().clear();
        message.setHeader(Exchange.HTTP_RESPONSE_CODE, 200);
        message.setHeader(Exchange.CONTENT_TYPE, "application/json");
        // the batch's valid events are stored and acknowledged: one bad event does not make HubSpot send them again
        message.setBody("{\"received\":" + events.size() + ",\"new\":" + stored + ",\"refused\":" + refused.size() + "}");
    }

    /**
     * Why an event cannot be stored, before any of its batch is: an id longer than the hub keeps, or
     * an inbox key longer than its column. Pointers name the event's place in the batch.
     */
    static Optional<Refused> refusal(JsonNode event, int index) {
        for (String field : List.of("objectId", "primaryObjectId")) {
            String id = event.hasNonNull(field) ? event.get(field).asText() : null;
            Optional<String> tooLong = Inbox.idRefusal(id);
            if (tooLong.isPresent()) {
                return Optional.of(new Refused(index, field, id, tooLong.get()));
            }
        }
        for (JsonNode merged : event.path("mergedObjectIds")) {
            Optional<String> tooLong = Inbox.idRefusal(merged.asText());
            if (tooLong.isPresent()) {
                return Optional.of(new Refused(index, "mergedObjectIds", merged.asText(), "holds an id that " + tooLong.get()));
            }
        }
        // the key holds the provider's name too, of at most 64 characters
        int key = key("", event).length();
        if (key > Inbox.MAX_KEY - 64) {
            return Optional.of(new Refused(index, "occurredAt", event.path("occurredAt").asText(), "eventId, objectId and "
                    + "occurredAt make a key of " + key + " characters; the hub keeps at most " + (Inbox.MAX_KEY - 64)));
        }
        return Optional.empty();
    }

    /** An event of a batch refused for one of its ids: its place in the batch, the field, the id and why. */
    record Refused(int index, String field, String id, String reason) {
        FieldError error() {
            return new FieldError("#/" + index + "/" + field, reason);
        }
    }

    private static String key(String name, JsonNode event) {
        // HubSpot does not promise eventId is unique on its own; with the object and time it is, and a
        // retried delivery repeats all three
        return name + ":event:" + event.get("eventId").asText() + ":" + event.get("objectId").asText() + ":"
                + event.path("occurredAt").asText();
    }

    private boolean store(JsonNode event) {
        String objectId = event.get("objectId").asText();
        String key = key(name, event);
        Instant at = event.path("occurredAt").canConvertToLong() ? Instant.ofEpochMilli(event.get("occurredAt").asLong()) : null;
        String type = event.get("subscriptionType").asText();
        return switch (type) {
            case "contact.deletion" -> inbox.accept(key, name, "contact", objectId, "delete", event.toString(), at);
            case "contact.merge" -> {
                ObjectNode merge = json.createObjectNode();
                String survivor = event.path("primaryObjectId").asText(objectId);
                merge.put("survivor", survivor);
                merge.set("merged", event.path("mergedObjectIds"));
                yield inbox.accept(key, name, "contact", survivor, "merge", merge.toString(), at);
            }
            case "contact.creation", "contact.propertyChange", "contact.restore" ->
                    inbox.accept(key, name, "contact", objectId, "fetch", event.toString(), at);
            // subscriptions for other objects are not ours to apply
            default -> false;
        };
    }

    /** HubSpot's v3 signature: Base64(HMAC-SHA256(secret, method + URI + body + timestamp)), 5 minutes at most. */
    private void verify(Message message, byte[] body) {
        String secret = properties.clientSecret();
        if (secret == null || secret.isBlank()) {
            throw new ApiProblem(401, "crmsync.providers." + name + ".client-secret is not set: webhooks cannot be verified");
        }
        String signature = message.getHeader("X-HubSpot-Signature-v3", String.class);
        String timestamp = message.getHeader("X-HubSpot-Request-Timestamp", String.class);
        if (signature == null || timestamp == null) {
            throw new ApiProblem(401, "X-HubSpot-Signature-v3 and X-HubSpot-Request-Timestamp are required");
        }
        long sent;
        try {
            sent = Long.parseLong(timestamp.strip());
        } catch (NumberFormatException e) {
            throw new ApiProblem(401, "X-HubSpot-Request-Timestamp is not epoch milliseconds");
        }
        Duration age = Duration.between(Instant.ofEpochMilli(sent), clock.instant()).abs();
        if (age.compareTo(properties.webhookTolerance()) > 0) {
            throw new ApiProblem(401, "the request is " + age.toSeconds() + " s from now; at most "
                    + properties.webhookTolerance().toSeconds() + " s are accepted");
        }
        // over the body's bytes as sent: decoding them first would change what was signed
        ByteArrayOutputStream signed = new ByteArrayOutputStream();
        signed.writeBytes(("POST" + uri(message)).getBytes(StandardCharsets.UTF_8));
        signed.writeBytes(body == null ? new byte[0] : body);
        signed.writeBytes(timestamp.strip().getBytes(StandardCharsets.UTF_8));
        byte[] expected;
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            expected = Base64.getEncoder().encode(mac.doFinal(signed.toByteArray()));
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException("HmacSHA256 is unavailable", e);
        }
        if (!MessageDigest.isEqual(expected, signature.strip().getBytes(StandardCharsets.UTF_8))) {
            meters.counter("crmsync.webhooks.refused", "system", name).increment();
            throw new ApiProblem(401, "the signature does not match this request");
        }
    }

    /**
     * The URI HubSpot signed: the configured webhook-url (what was registered with HubSpot, right
     * behind a proxy), else the one this request was sent to.
     */
    private String uri(Message message) {
        if (properties.webhookUrl() != null && !properties.webhookUrl().isBlank()) {
            return properties.webhookUrl();
        }
        Map<String, Object> headers = message.getHeaders();
        String scheme = String.valueOf(headers.getOrDefault("X-Forwarded-Proto", "http"));
        String host = String.valueOf(headers.getOrDefault("X-Forwarded-Host", headers.getOrDefault("Host", "localhost")));
        String query = message.getHeader(Exchange.HTTP_QUERY, String.class);
        return scheme + "://" + host + message.getHeader(Exchange.HTTP_URI, String.class)
                + (query == null || query.isEmpty() ? "" : "?" + query);
    }
}
