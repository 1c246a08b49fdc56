package dev.crmsync.provider.pipedrive;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crmsync.provider.CrmClient;
import dev.crmsync.provider.ProviderPauses;
import dev.crmsync.provider.RecordState;
import dev.crmsync.provider.RemoteCallException;
import dev.crmsync.sync.Delivery;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * A Pipedrive company through its persons API v2 (https://developers.pipedrive.com/docs/api/v1/Persons,
 * the v2 endpoints): polls by {@code update_time} with Pipedrive's cursor, one call per write (Pipedrive has
 * no batch endpoint), a search by email before every create (Pipedrive allows one email on many persons),
 * and a read before every update so the emails and phones the hub does not sync survive Pipedrive's
 * replace-the-whole-list PATCH. A 429 waits for {@code x-ratelimit-reset}; a spent daily budget pauses
 * the provider. Deleted persons are not listed by v2: deletes arrive by webhook ({@link PipedriveWebhook}).
 */
public class PipedriveClient implements CrmClient {

    static final String PERSONS = "/api/v2/persons";
    static final String SEARCH = PERSONS + "/search";
    static final String V1_PERSONS = "/api/v1/persons";
    /** Largest page Pipedrive's v2 listing serves. */
    static final int MAX_PAGE = 500;

    private final String name;
    private final PipedriveProviderProperties properties;
    private final ProviderPauses pauses;
    private final ObjectMapper json;
    private final MeterRegistry meters;
    private final HttpClient http;

    public PipedriveClient(String name, PipedriveProviderProperties properties, ProviderPauses pauses, ObjectMapper json,
                           MeterRegistry meters) {
        if (properties.baseUrl() == null || properties.baseUrl().isBlank()) {
            throw new IllegalStateException("crmsync.providers." + name + ".base-url is not set");
        }
        if (properties.enabled() && (properties.apiToken() == null || properties.apiToken().isBlank())) {
            throw new IllegalStateException("crmsync.providers." + name + ".api-token is not set: export PIPEDRIVE_API_TOKEN "
                    + "(Pipedrive: Settings > Personal preferences > API) or disable the provider");
        }
        this.name = name;
        this.properties = properties;
        this.pauses = pauses;
        this.json = json;
        this.meters = meters;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(properties.timeout()).build();
    }

    /**
     * One page of persons changed at or after {@code since}, oldest first. Pipedrive's cursor is only
     * valid with the filters it was made for, so the next page keeps the same {@code since} and carries
     * the cursor as its {@code afterId}.
     */
    @Override
    public Page changedSince(String objectType, Instant since, String afterId, int limit) {
        pauses.check(name);
        Instant from = since == null ? Instant.EPOCH : since.truncatedTo(ChronoUnit.SECONDS);
        Map<String, String> query = new LinkedHashMap<>();
        query.put("updated_since", from.toString());
        query.put("sort_by", "update_time");
        query.put("sort_direction", "asc");
        query.put("limit", Integer.toString(Math.min(limit, MAX_PAGE)));
        if (afterId != null) {
            query.put("cursor", afterId);
        }
        JsonNode page = call("GET", PERSONS, query, null, "list");
        List<JsonNode> records = new ArrayList<>();
        page.path("data").forEach(records::add);
        String next = page.path("additional_data").path("next_cursor").asText(null);
        return next == null || next.isBlank() ? new Page(records, null, null) : new Page(records, from, next);
    }

    /** Finds the person by email first: one Pipedrive already has is linked and merged, not created again. */
    @Override
    public void create(Delivery delivery) {
        pauses.check(name);
        Optional<JsonNode> existing = findByEmail(delivery.getEmail());
        if (existing.isPresent()) {
            delivery.found(existing.get().get("id").asText(), delivery.getObjectType(), existing.get());
            return;
        }
        ObjectNode body = delivery.getPayload().deepCopy();
        if (blank(body.get("name"))) {
            // Pipedrive refuses a person without a name, the hub allows one: the email (or phone) stands in
            body.put("name", delivery.getEmail() != null ? delivery.getEmail() : firstValue(body.get("phones")));
        }
        JsonNode person = call("POST", PERSONS, Map.of(), body, "create").path("data");
        delivery.sent(person.get("id").asText(), person, false);
    }

    @Override
    public void update(Delivery delivery) {
        pauses.check(name);
        String path = PERSONS + "/" + encode(delivery.getExternalId());
        try {
            JsonNode current = call("GET", path, Map.of(), null, "read").path("data");
            if (delivery.changedMeanwhile(current)) {
                return;
            }
            ObjectNode body = delivery.getPayload().deepCopy();
            if (blank(body.get("name"))) {
                // the hub lost the name; Pipedrive cannot: its name stays
                body.remove("name");
            }
            for (String list : List.of("emails", "phones")) {
                if (body.has(list)) {
                    body.set(list, keepOthers(current.get(list), body.get(list)));
                }
            }
            keepOtherName(body, current, delivery.getChangedFields());
            JsonNode person = call("PATCH", path, Map.of(), body, "update").path("data");
            delivery.sent(delivery.getExternalId(), person, false);
        } catch (RemoteCallException e) {
            if (e.status() == 404 || e.status() == 410) {
                delivery.gone();
                return;
            }
            throw e;
        }
    }

    @Override
    public void delete(Delivery delivery) {
        pauses.check(name);
        try {
            call("DELETE", PERSONS + "/" + encode(delivery.getExternalId()), Map.of(), null, "delete");
        } catch (RemoteCallException e) {
            if (e.status() != 404 && e.status() != 410) {
                throw e;
            }
        }
        delivery.sent(delivery.getExternalId(), null, false);
    }

    /**
     * Pipedrive's deletion signal: a deleted person stays readable by id through the v1 API for a
     * while, with {@code active_flag: false} (https://developers.pipedrive.com/docs/api/v1/Persons#getPerson);
     * a v2-style {@code is_deleted: true} counts the same. A person it does not know at all was lost.
     */
    @Override
    public RecordState recordState(String objectType, String externalId) {
        pauses.check(name);
        JsonNode person;
        try {
            person = call("GET", V1_PERSONS + "/" + encode(externalId), Map.of(), null, "read-deleted").path("data");
        } catch (RemoteCallException e) {
            if (e.status() == 404 || e.status() == 410) {
                return RecordState.ABSENT;
            }
            throw e;
        }
        boolean deleted = !person.path("active_flag").asBoolean(true) || person.path("is_deleted").asBoolean(false);
        return deleted ? RecordState.DELETED : RecordState.PRESENT;
    }

    /**
     * Pipedrive's name holds both names (mappings/pipedrive-person.json joins firstName and lastName
     * into it): when the hub changed only one, the other is written as Pipedrive has it now, which may
     * be a change made there that the hub has not read yet. Pipedrive splits a name at its last space.
     */
    static void keepOtherName(ObjectNode body, JsonNode current, java.util.Set<String> changed) {
        if (changed == null || blank(body.get("name")) || changed.contains("firstName") == changed.contains("lastName")) {
            return;
        }
        String name = body.get("name").asText().strip();
        int space = name.lastIndexOf(' ');
        String first = changed.contains("firstName") ? (space < 0 ? name : name.substring(0, space).strip())
                : current.path("first_name").asText("");
        String last = changed.contains("lastName") ? (space < 0 ? "" : name.substring(space + 1))
                : current.path("last_name").asText("");
        String kept = (first + " " + last).strip();
        if (!kept.isEmpty()) {
            body.put("name", kept);
        }
    }

    /**
     * The live person with this email, read in full (search items lack the update time and the lists'
     * primary flags). Of several, the oldest: Pipedrive lists exact matches by score, then id.
     */
    Optional<JsonNode> findByEmail(String email) {
        if (email == null || email.strip().length() < 2) {
            return Optional.empty();
        }
        String term = email.strip();
        Map<String, String> query = new LinkedHashMap<>();
        query.put("term", term);
        query.put("fields", "email");
        query.put("exact_match", "true");
        query.put("limit", "10");
        JsonNode items = call("GET", SEARCH, query, null, "find-by-email").path("data").path("items");
        for (JsonNode result : items) {
            JsonNode item = result.path("item");
            boolean listed = !item.has("emails") || containsIgnoringCase(item.get("emails"), term);
            if (listed && item.hasNonNull("id")) {
                try {
                    return Optional.of(call("GET", PERSONS + "/" + encode(item.get("id").asText()), Map.of(), null, "read")
                            .path("data"));
                } catch (RemoteCallException e) {
                    if (e.status() != 404) {
                        throw e;
                    }
                    // deleted between the search and the read: look at the next one
                }
            }
        }
        return Optional.empty();
    }

    /**
     * The list to PATCH: ours (the hub's primary value, or none) first as primary, then the other values
     * Pipedrive holds, which the hub does not sync; the old primary is replaced, keeping its label.
     */
    static ArrayNode keepOthers(JsonNode current, JsonNode ours) {
        ArrayNode merged = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.arrayNode();
        String value = null;
        if (ours != null && ours.isArray()) {
            for (JsonNode item : ours) {
                if (!blank(item.get("value"))) {
                    value = item.get("value").asText();
                    break;
                }
            }
        }
        String label = null;
        List<JsonNode> others = new ArrayList<>();
        if (current != null && current.isArray()) {
            for (JsonNode item : current) {
                boolean same = value != null && item.path("value").asText().equalsIgnoreCase(value);
                if (item.path("primary").asBoolean(false) || same) {
                    if (label == null || same) {
                        label = item.path("label").asText(null);
                    }
                } else {
                    others.add(item);
                }
            }
        }
        if (value != null) {
            ObjectNode primary = merged.addObject().put("value", value).put("primary", true);
            if (label != null) {
                primary.put("label", label);
            }
        }
        for (JsonNode other : others) {
            ObjectNode kept = merged.addObject().put("value", other.path("value").asText()).put("primary", false);
            if (other.hasNonNull("label")) {
                kept.put("label", other.get("label").asText());
            }
        }
        return merged;
    }

    private JsonNode call(String method, String path, Map<String, String> query, JsonNode body, String operation) {
        String shown = path + (query.isEmpty() ? "" : "?" + query.entrySet().stream()
                .map(e -> e.getKey() + "=" + encode(e.getValue())).collect(Collectors.joining("&")));
        // the token goes in the x-api-token header, as Pipedrive's official clients send it: in the URL
        // (api_token=), which Pipedrive also takes, proxies and access logs would keep it
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(properties.baseUrl().replaceAll("/+$", "") + shown))
                .timeout(properties.timeout())
                .header("Accept", "application/json")
                .header("x-api-token", properties.apiToken() == null ? "" : properties.apiToken())
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body.toString()));
        if (body != null) {
            request.header("Content-Type", "application/json");
        }
        meters.counter("crmsync.provider.calls", "system", name, "operation", operation).increment();
        HttpResponse<String> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new RemoteCallException(name + " " + method + " " + path + " got no answer: "
                    + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : " " + e.getMessage()), 0, null, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RemoteCallException(name + " call interrupted", 0, null, e);
        }
        int status = response.statusCode();
        if (status == 429) {
            throw overLimit(method, shown, response);
        }
        if (status >= 300) {
            throw new RemoteCallException(name + " answered " + status + " to " + method + " " + shown + ": "
                    + error(response.body()), status, null, null);
        }
        try {
            return response.body() == null || response.body().isBlank() ? json.createObjectNode() : json.readTree(response.body());
        } catch (JsonProcessingException e) {
            throw new RemoteCallException(name + " answered " + status + " with a body that is not JSON", status, null, e);
        }
    }

    /**
     * Over the burst window: wait {@code x-ratelimit-reset} seconds (Pipedrive's own hint; Retry-After
     * where a proxy sent one). Over the daily budget: the provider pauses instead of spending retries.
     * https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting
     */
    private RuntimeException overLimit(String method, String shown, HttpResponse<String> response) {
        if (response.headers().firstValue("x-daily-requests-left").map(String::strip).filter("0"::equals).isPresent()) {
            return pauses.pause(name, properties.limitPause(), "Pipedrive daily request budget spent (429, x-daily-requests-left 0)");
        }
        Duration wait = response.headers().firstValue("x-ratelimit-reset").map(PipedriveClient::seconds)
                .or(() -> response.headers().firstValue("Retry-After").map(PipedriveClient::seconds))
                .orElse(null);
        return new RemoteCallException(name + " answered 429 to " + method + " " + shown + ": " + error(response.body())
                + (wait == null ? "" : "; waiting " + wait.toSeconds() + " s"), 429, wait, null);
    }

    /** Pipedrive's error text ({@code {"success":false,"error":"...","error_info":"..."}}), else the body cut short. */
    private String error(String body) {
        try {
            JsonNode node = json.readTree(body == null ? "" : body);
            if (node != null && node.hasNonNull("error")) {
                return node.get("error").asText() + (node.hasNonNull("error_info") ? " (" + node.get("error_info").asText() + ")" : "");
            }
        } catch (JsonProcessingException e) {
            // not Pipedrive's shape: shown as it came
        }
        return body == null ? "" : body.length() > 500 ? body.substring(0, 500) + "..." : body;
    }

    private static Duration seconds(String value) {
        try {
            // at least a second: a reset of 0 would retry into the same window
            return Duration.ofSeconds(Math.max(1, Long.parseLong(value.strip())));
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static boolean containsIgnoringCase(JsonNode values, String wanted) {
        for (JsonNode value : values) {
            String text = value.isObject() ? value.path("value").asText() : value.asText();
            if (text.toLowerCase(Locale.ROOT).equals(wanted.toLowerCase(Locale.ROOT))) {
                return true;
            }
        }
        return false;
    }

    private static String firstValue(JsonNode list) {
        if (list != null) {
            for (JsonNode item : list) {
                if (!blank(item.get("value"))) {
                    return item.get("value").asText();
                }
            }
        }
        return null;
    }

    private static boolean blank(JsonNode node) {
        return node == null || node.isNull() || node.asText().isBlank();
    }

    private static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }
}
