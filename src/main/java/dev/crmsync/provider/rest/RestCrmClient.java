package dev.crmsync.provider.rest;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crmsync.mapping.FieldPath;
import dev.crmsync.provider.CrmClient;
import dev.crmsync.provider.JsonHttp;
import dev.crmsync.provider.RecordState;
import dev.crmsync.provider.RemoteCallException;
import dev.crmsync.sync.Delivery;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * The client of a generic REST CRM, configured entirely by {@link RestProviderProperties}: one call
 * per record (such APIs have no batch endpoint); a create finds by email first, so a person the CRM
 * already has is linked, and a create repeated after a crash adopts its record, instead of duplicating.
 */
public class RestCrmClient implements CrmClient {

    private static final Pattern VARIABLE = Pattern.compile("\\{(\\w+)}");

    private final RestProviderProperties properties;
    private final JsonHttp http;

    public RestCrmClient(String name, RestProviderProperties properties, ObjectMapper json, MeterRegistry meters) {
        this.properties = properties;
        this.http = new JsonHttp(name, properties.baseUrl(), properties.timeout(),
                java.util.Collections.singletonMap(properties.authHeader(), properties.authValue()), json, meters,
                JsonHttp::retryAfterHeader);
    }

    /**
     * One POST, after looking the person up by email: such CRMs allow duplicates, so a person the
     * system already has (imported there too, or read from another system before this one's own
     * read was applied) is linked, not created again. A retried create (see
     * {@link Delivery#isRetried()}) that finds the person updates that record: it may be the one the
     * earlier try made before its answer was lost.
     */
    @Override
    public void create(Delivery delivery) {
        if (delivery.getEmail() != null) {
            JsonNode found = send("GET", expand(properties.paths().findByEmail(), Map.of("email", delivery.getEmail())), null,
                    "find-by-email");
            JsonNode records = new FieldPath(properties.recordsField()).read(found);
            if (records != null && records.size() > 0) {
                JsonNode record = records.get(0);
                String id = record.get(properties.idField()).asText();
                if (!delivery.isRetried()) {
                    delivery.found(id, delivery.getObjectType(), record);
                    return;
                }
                JsonNode reply = send(properties.updateMethod(), expand(properties.paths().update(), Map.of("id", id)),
                        delivery.getPayload(), "update");
                delivery.sent(id, reply, true);
                return;
            }
        }
        JsonNode reply = send("POST", expand(properties.paths().create(), Map.of()), delivery.getPayload(), "create");
        delivery.sent(reply.get(properties.idField()).asText(), reply, false);
    }

    /** The record read by id: 410, or its deleted field true, is a deletion; 404 a record the CRM does not know. */
    @Override
    public RecordState recordState(String objectType, String externalId) {
        JsonNode record;
        try {
            record = send("GET", expand(properties.paths().read(), Map.of("id", externalId)), null, "read");
        } catch (RemoteCallException e) {
            if (e.status() == 410) {
                return RecordState.DELETED;
            }
            if (e.status() == 404) {
                return RecordState.ABSENT;
            }
            throw e;
        }
        JsonNode deleted = new FieldPath(properties.deletedField()).read(record);
        return deleted != null && deleted.asBoolean(false) ? RecordState.DELETED : RecordState.PRESENT;
    }

    @Override
    public void update(Delivery delivery) {
        JsonNode reply;
        try {
            // a PUT replaces the whole record: it gets every field, a PATCH only the changed ones
            reply = send(properties.updateMethod(), expand(properties.paths().update(), Map.of("id", delivery.getExternalId())),
                    properties.updateMethod().equalsIgnoreCase("PUT") ? delivery.getFullPayload() : delivery.getPayload(),
                    "update");
        } catch (RemoteCallException e) {
            if (e.status() == 404 || e.status() == 410) {
                delivery.gone();
                return;
            }
            throw e;
        }
        delivery.sent(delivery.getExternalId(), reply, false);
    }

    @Override
    public void delete(Delivery delivery) {
        try {
            send("DELETE", expand(properties.paths().delete(), Map.of("id", delivery.getExternalId())), null, "delete");
        } catch (RemoteCallException e) {
            if (e.status() != 404 && e.status() != 410) {
                throw e;
            }
        }
        delivery.sent(delivery.getExternalId(), null, false);
    }

    /** A permanent delete on the erase path; a record already gone, even for good, counts as erased. */
    @Override
    public void erase(Delivery delivery) {
        try {
            send("DELETE", expand(properties.paths().erase(), Map.of("id", delivery.getExternalId())), null, "erase");
        } catch (RemoteCallException e) {
            if (e.status() != 404 && e.status() != 410) {
                throw e;
            }
        }
        delivery.sent(delivery.getExternalId(), null, false);
    }

    @Override
    public Page changedSince(String objectType, Instant since, String afterId, int limit) {
        Map<String, String> variables = new java.util.HashMap<>();
        variables.put("since", since == null ? "" : since.toString());
        variables.put("afterId", afterId == null ? "" : afterId);
        variables.put("limit", Integer.toString(limit));
        JsonNode page = send("GET", expand(properties.paths().list(), variables), null, "list");
        List<JsonNode> records = new ArrayList<>();
        JsonNode list = new FieldPath(properties.recordsField()).read(page);
        if (list != null) {
            list.forEach(records::add);
        }
        JsonNode nextSince = new FieldPath(properties.nextSinceField()).read(page);
        JsonNode nextAfter = new FieldPath(properties.nextAfterField()).read(page);
        return new Page(records, nextSince == null ? null : Instant.parse(nextSince.asText()),
                nextAfter == null ? null : nextAfter.asText());
    }

    private JsonNode send(String method, String path, JsonNode body, String operation) {
        return http.send(method, path, body, operation).body();
    }

    /** Fills {name} variables, URL-encoded, and drops query parameters whose value came out empty. */
    static String expand(String template, Map<String, String> variables) {
        Matcher m = VARIABLE.matcher(template);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String value = variables.getOrDefault(m.group(1), "");
            m.appendReplacement(out, Matcher.quoteReplacement(URLEncoder.encode(value, StandardCharsets.UTF_8)));
        }
        m.appendTail(out);
        String path = out.toString();
        int query = path.indexOf('?');
        if (query < 0) {
            return path;
        }
        List<String> kept = new ArrayList<>();
        for (String pair : path.substring(query + 1).split("&")) {
            if (!pair.endsWith("=")) {
                kept.add(pair);
            }
        }
        return path.substring(0, query) + (kept.isEmpty() ? "" : "?" + String.join("&", kept));
    }

}
