package dev.crmsync.provider.hubspot;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crmsync.mapping.FieldPath;
import dev.crmsync.mapping.Mapping;
import dev.crmsync.mapping.Mappings;
import dev.crmsync.provider.CrmClient;
import dev.crmsync.provider.JsonHttp;
import dev.crmsync.provider.RecordState;
import dev.crmsync.provider.RemoteCallException;
import dev.crmsync.provider.RollingRateLimiter;
import dev.crmsync.sync.Delivery;
import dev.crmsync.sync.Links;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * HubSpot's CRM v3 contacts: writes through the batch endpoints (100 a call), reads changes with the
 * search endpoint on {@code lastmodifieddate} (the fallback for missed webhooks) and the contacts
 * webhooks name through batch reads. Every call waits its turn in the account's rate limit, so a
 * burst is smoothed instead of answered with 429s.
 */
public class HubSpotClient implements CrmClient {

    /** Largest batch input HubSpot takes. */
    public static final int BATCH = 100;
    /** Largest batch read that asks for property histories. */
    static final int HISTORY_BATCH = 50;
    /** Largest search page, and how deep a search can page before its lower bound must move. */
    static final int SEARCH_PAGE = 200;
    static final int SEARCH_CAP = 10_000;
    /** 429s one call waits out before it fails like any error. */
    static final int MAX_WAITS = 10;
    private static final String CONTACTS = "/crm/v3/objects/contacts";
    /**
     * The contact that holds a value a create would duplicate: a taken email's 409 names it ("Existing ID:
     * 12"), a taken unique value's 400 too ("... on 15. 12 already has that value.").
     */
    private static final Pattern EXISTING_ID = Pattern.compile("Existing ID: (\\d+)|(\\d+) already has that value");

    private final String name;
    private final Mappings mappings;
    private final ObjectMapper json;
    private final JsonHttp http;
    private final RollingRateLimiter limit;
    private final RollingRateLimiter searchLimit;

    public HubSpotClient(String name, HubSpotProviderProperties properties, Mappings mappings, ObjectMapper json,
                         MeterRegistry meters) {
        this.name = name;
        this.mappings = mappings;
        this.json = json;
        this.http = new JsonHttp(name, properties.baseUrl(), properties.timeout(),
                Map.of("Authorization", "Bearer " + (properties.accessToken() == null ? "" : properties.accessToken())),
                json, meters, HubSpotClient::retryAfter);
        this.limit = new RollingRateLimiter(properties.rateLimit(), properties.rateLimitInterval());
        this.searchLimit = new RollingRateLimiter(properties.searchPerSecond(), Duration.ofSeconds(1));
    }

    /** The account's budget as this service spends it: every call of this provider goes through the limiter. */
    @Override
    public Optional<ApiUsage> apiUsage() {
        return Optional.of(new ApiUsage(limit.used(), limit.max(), limit.interval()));
    }

    /** HubSpot's 429 may carry no Retry-After: then the rate-limit interval it names is waited out. */
    static Duration retryAfter(HttpResponse<String> response) {
        Duration header = JsonHttp.retryAfterHeader(response);
        if (header != null || response.statusCode() != 429) {
            return header;
        }
        return response.headers().firstValue("X-HubSpot-RateLimit-Interval-Milliseconds")
                .map(ms -> Duration.ofMillis(Long.parseLong(ms.strip()))).orElse(Duration.ofSeconds(10));
    }

    /**
     * Contacts modified at or after {@code since}, oldest first. {@code afterId} is the search's own
     * paging offset; before it would pass HubSpot's 10,000-result cap, the next page starts a new
     * search from the last modification time reached (what it reads twice, the inbox drops).
     */
    @Override
    public Page changedSince(String objectType, Instant since, String afterId, int limit) {
        ObjectNode search = json.createObjectNode();
        ArrayNode groups = search.putArray("filterGroups");
        if (since != null) {
            groups.addObject().putArray("filters").addObject().put("propertyName", "lastmodifieddate")
                    .put("operator", "GTE").put("value", Long.toString(since.toEpochMilli()));
        }
        search.putArray("sorts").addObject().put("propertyName", "lastmodifieddate").put("direction", "ASCENDING");
        properties(objectType).forEach(search.putArray("properties")::add);
        int pageSize = Math.min(limit, SEARCH_PAGE);
        search.put("limit", pageSize);
        if (afterId != null) {
            search.put("after", afterId);
        }
        JsonNode reply = call("POST", CONTACTS + "/search", search, "search", true);
        List<JsonNode> records = new ArrayList<>();
        reply.path("results").forEach(records::add);
        JsonNode next = reply.at("/paging/next/after");
        if (next.isMissingNode() || records.isEmpty()) {
            return new Page(records, null, null);
        }
        Instant from = since == null ? Instant.EPOCH : since;
        if (Integer.parseInt(next.asText()) + pageSize > SEARCH_CAP) {
            Instant reached = Instant.parse(records.get(records.size() - 1).path("updatedAt").asText());
            return new Page(records, reached.isAfter(from) ? reached : from, null);
        }
        return new Page(records, from, next.asText());
    }

    /**
     * Our own writes come back as webhooks: a creation of a record we are linked to, or a property
     * change to the value the link says we wrote. Those need no read.
     */
    @Override
    public boolean echoes(JsonNode event, Links.Link link) {
        if (link == null || link.syncedValues() == null) {
            return false;
        }
        String type = event.path("subscriptionType").asText();
        if (type.equals("contact.creation")) {
            return true;
        }
        if (!type.equals("contact.propertyChange")) {
            return false;
        }
        Mapping mapping = mappings.get(name + "-" + link.objectType());
        String path = "properties." + event.path("propertyName").asText();
        List<String> fields = mapping.fields().stream().filter(f -> f.direction().inbound() && f.remote().toString().equals(path))
                .flatMap(f -> f.canonical().stream()).toList();
        if (fields.isEmpty()) {
            // a property the mapping does not read changes nothing in the hub
            return true;
        }
        ObjectNode record = json.createObjectNode();
        record.putObject("properties").set(event.path("propertyName").asText(), event.path("propertyValue"));
        Map<String, Object> values = mapping.toCanonical(record).values();
        return fields.stream().allMatch(field -> java.util.Objects.equals(values.get(field), link.syncedValues().get(field)));
    }

    @Override
    public boolean fetches() {
        return true;
    }

    /**
     * The current records of contacts a webhook named, 100 a call; an id HubSpot no longer has (archived,
     * merged away) is absent from the answer.
     */
    @Override
    public Map<String, JsonNode> fetch(String objectType, List<String> ids) {
        return read(objectType, ids, false);
    }

    /** With the history of each property read, 50 a call (HubSpot's bound for batch reads with histories). */
    @Override
    public Map<String, JsonNode> fetchDated(String objectType, List<String> ids) {
        return read(objectType, ids, true);
    }

    private Map<String, JsonNode> read(String objectType, List<String> ids, boolean histories) {
        Map<String, JsonNode> found = new HashMap<>();
        int size = histories ? HISTORY_BATCH : BATCH;
        for (int i = 0; i < ids.size(); i += size) {
            ObjectNode read = json.createObjectNode();
            ArrayNode inputs = read.putArray("inputs");
            ids.subList(i, Math.min(ids.size(), i + size)).forEach(id -> inputs.addObject().put("id", id));
            properties(objectType).forEach(read.putArray("properties")::add);
            if (histories) {
                properties(objectType).stream().filter(name -> !name.equals("lastmodifieddate"))
                        .forEach(read.putArray("propertiesWithHistory")::add);
            }
            JsonNode reply = call("POST", CONTACTS + "/batch/read", read, "batch-read", false);
            reply.path("results").forEach(record -> found.put(record.path("id").asText(), record));
        }
        return found;
    }

    @Override
    public void readBeforeWrite(List<Delivery> batch) {
        CrmClient.readBack(batch, this::fetch);
    }

    /** A batch: upserts by email for creates, then batch updates and archives, 100 a call each. */
    @Override
    public void writeBatch(List<Delivery> batch) {
        List<Delivery> pending = batch.stream().filter(Delivery::isPending).filter(d -> !d.hasBatchFailure()).toList();
        // creates are upserts by email: one call per 100 whether HubSpot has the person or not. Only
        // the hub's non-empty values are sent, so what only HubSpot knows stays; a person it had is
        // then merged back like a polled record (found). A create without an email is sent on its own.
        List<Delivery> creates = pending.stream().filter(d -> d.getOperation().equals("create") && d.getEmail() != null).toList();
        findCarrying(creates);
        for (List<Delivery> chunk : chunks(creates.stream().filter(Delivery::isPending).toList())) {
            ObjectNode body = json.createObjectNode();
            ArrayNode inputs = body.putArray("inputs");
            for (Delivery delivery : chunk) {
                ObjectNode values = json.createObjectNode();
                keyed(delivery).path("properties").properties().forEach(p -> {
                    if (!p.getValue().isNull()) {
                        values.set(p.getKey(), p.getValue());
                    }
                });
                inputs.addObject().put("id", delivery.getEmail()).put("idProperty", "email").set("properties", values);
            }
            JsonNode reply = call("POST", CONTACTS + "/batch/upsert", body, "batch-upsert", false);
            Map<String, JsonNode> byEmail = new HashMap<>();
            reply.path("results").forEach(r -> byEmail.put(r.at("/properties/email").asText().toLowerCase(Locale.ROOT), r));
            for (Delivery delivery : chunk) {
                // one the batch refused is sent on its own: HubSpot's batch errors do not say which input
                // failed, and its own answer does
                JsonNode written = byEmail.get(delivery.getEmail().toLowerCase(Locale.ROOT));
                if (written == null) {
                    continue;
                }
                if (written.path("new").asBoolean(true)) {
                    delivery.sent(written.path("id").asText(), written, false);
                } else {
                    delivery.found(written.path("id").asText(), delivery.getObjectType(), written);
                }
            }
        }
        List<Delivery> updates = pending.stream().filter(d -> d.getOperation().equals("update")).toList();
        for (List<Delivery> chunk : chunks(updates)) {
            ObjectNode body = json.createObjectNode();
            ArrayNode inputs = body.putArray("inputs");
            chunk.forEach(d -> inputs.addObject().put("id", d.getExternalId()).set("properties", d.getPayload().path("properties")));
            JsonNode reply = call("POST", CONTACTS + "/batch/update", body, "batch-update", false);
            Map<String, JsonNode> byId = new HashMap<>();
            reply.path("results").forEach(r -> byId.put(r.path("id").asText(), r));
            Set<String> missing = new LinkedHashSet<>();
            reply.path("errors").forEach(e -> e.at("/context/ids").forEach(id -> missing.add(id.asText())));
            for (Delivery delivery : chunk) {
                JsonNode updated = byId.get(delivery.getExternalId());
                if (updated != null) {
                    delivery.sent(delivery.getExternalId(), updated, false);
                } else if (missing.contains(delivery.getExternalId())) {
                    delivery.gone();
                }
            }
        }
        List<Delivery> deletes = pending.stream().filter(d -> d.getOperation().equals("delete")).toList();
        for (List<Delivery> chunk : chunks(deletes)) {
            ObjectNode body = json.createObjectNode();
            ArrayNode inputs = body.putArray("inputs");
            chunk.forEach(d -> inputs.addObject().put("id", d.getExternalId()));
            call("POST", CONTACTS + "/batch/archive", body, "batch-archive", false);
            chunk.forEach(d -> d.sent(d.getExternalId(), null, false));
        }
    }

    /**
     * One create: HubSpot's refusal names the contact that has the email (409) or the hub id (400, a
     * first try that reached HubSpot), which is linked instead.
     */
    @Override
    public void create(Delivery delivery) {
        findCarrying(List.of(delivery));
        if (!delivery.isPending()) {
            return;
        }
        try {
            JsonNode created = call("POST", CONTACTS, keyed(delivery), "create", false);
            delivery.sent(created.path("id").asText(), created, false);
        } catch (RemoteCallException e) {
            Matcher existing = EXISTING_ID.matcher(String.valueOf(e.getMessage()));
            if (e.status() != 409 && e.status() != 400 || !existing.find()) {
                throw e;
            }
            String holder = existing.group(1) != null ? existing.group(1) : existing.group(2);
            Map<String, JsonNode> found = fetch(delivery.getObjectType(), List.of(holder));
            if (found.isEmpty()) {
                throw e;
            }
            JsonNode record = found.values().iterator().next();
            delivery.found(record.path("id").asText(), delivery.getObjectType(), record);
        }
    }

    @Override
    public void update(Delivery delivery) {
        try {
            JsonNode updated = call("PATCH", CONTACTS + "/" + delivery.getExternalId(), delivery.getPayload(), "update", false);
            delivery.sent(delivery.getExternalId(), updated, false);
        } catch (RemoteCallException e) {
            if (e.status() != 404) {
                throw e;
            }
            delivery.gone();
        }
    }

    /**
     * HubSpot's deletion signal is the archive: a contact read with {@code archived=true} is one it
     * deleted (https://developers.hubspot.com/docs/api/crm/contacts, "Retrieve a contact"); a contact
     * neither archived nor live is unknown to it.
     */
    @Override
    public RecordState recordState(String objectType, String externalId) {
        for (boolean archived : new boolean[] {true, false}) {
            try {
                JsonNode record = call("GET", CONTACTS + "/" + externalId + "?archived=" + archived, null, "read", false);
                return record.path("archived").asBoolean(archived) ? RecordState.DELETED : RecordState.PRESENT;
            } catch (RemoteCallException e) {
                if (e.status() != 404) {
                    throw e;
                }
            }
        }
        return RecordState.ABSENT;
    }

    @Override
    public void delete(Delivery delivery) {
        call("DELETE", CONTACTS + "/" + delivery.getExternalId(), null, "delete", false);
        delivery.sent(delivery.getExternalId(), null, false);
    }

    /**
     * Marks the retried creates whose first try reached HubSpot found: the record that try made carries
     * the person's hub id in the mapping's unique-value property, whatever was edited there since (its
     * email, which the upsert goes by). One batch read by that property per 100, for retries only.
     */
    private void findCarrying(List<Delivery> creates) {
        List<Delivery> retried = creates.stream().filter(Delivery::isPending).filter(Delivery::isRetried).toList();
        if (retried.isEmpty()) {
            return;
        }
        String objectType = retried.get(0).getObjectType();
        String key = hubIdProperty(objectType);
        if (key == null) {
            return;
        }
        for (List<Delivery> chunk : chunks(retried)) {
            ObjectNode read = json.createObjectNode().put("idProperty", key);
            ArrayNode inputs = read.putArray("inputs");
            chunk.forEach(d -> inputs.addObject().put("id", d.getContactId()));
            properties(objectType).forEach(read.putArray("properties")::add);
            JsonNode reply = call("POST", CONTACTS + "/batch/read", read, "find-carrying", false);
            Map<String, JsonNode> byHubId = new HashMap<>();
            reply.path("results").forEach(r -> byHubId.put(r.path("properties").path(key).asText(), r));
            for (Delivery delivery : chunk) {
                JsonNode record = byHubId.get(delivery.getContactId());
                if (record != null) {
                    delivery.found(record.path("id").asText(), delivery.getObjectType(), record);
                }
            }
        }
    }

    /** A create's fields, with the person's hub id where the mapping keeps it. */
    private ObjectNode keyed(Delivery delivery) {
        return mappings.get(name + "-" + delivery.getObjectType()).keyed(delivery.getPayload(), delivery.getContactId());
    }

    /** The unique-value property the mapping keeps the hub id in, or null. */
    private String hubIdProperty(String objectType) {
        FieldPath key = mappings.get(name + "-" + objectType).hubId();
        return key == null ? null : property(key);
    }

    /** The HubSpot properties the object's mapping reads: what searches and reads ask for. */
    private List<String> properties(String objectType) {
        Mapping mapping = mappings.get(name + "-" + objectType);
        Set<String> names = new LinkedHashSet<>(List.of("email", "lastmodifieddate"));
        mapping.fields().stream().filter(f -> f.direction().inbound()).map(f -> property(f.remote()))
                .filter(java.util.Objects::nonNull).forEach(names::add);
        Optional.ofNullable(hubIdProperty(objectType)).ifPresent(names::add);
        return List.copyOf(names);
    }

    /** The property a path into a contact names ({@code properties.email}: email), or null. */
    private static String property(FieldPath path) {
        String text = path.toString();
        return text.startsWith("properties.") ? text.substring("properties.".length()) : null;
    }

    /**
     * One call in the account's budget. A 429 that still comes (another app on the account, a window
     * HubSpot counts differently) is waited out here, for every caller alike: polls, webhook reads and
     * writes, rather than spending their retries.
     */
    private JsonNode call(String method, String path, JsonNode body, String operation, boolean search) {
        for (int waits = 0; ; waits++) {
            limit.acquire();
            if (search) {
                searchLimit.acquire();
            }
            try {
                return http.send(method, path, body, operation).body();
            } catch (RemoteCallException e) {
                if (e.status() != 429 || waits >= MAX_WAITS) {
                    throw e;
                }
                pause(e.retryAfter());
            }
        }
    }

    private static void pause(Duration wait) {
        try {
            Thread.sleep(wait == null ? 1000 : wait.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RemoteCallException("interrupted waiting out HubSpot's rate limit", 0, null, e);
        }
    }

    private static List<List<Delivery>> chunks(List<Delivery> deliveries) {
        List<List<Delivery>> chunks = new ArrayList<>();
        for (int i = 0; i < deliveries.size(); i += BATCH) {
            chunks.add(deliveries.subList(i, Math.min(deliveries.size(), i + BATCH)));
        }
        return chunks;
    }
}
