package dev.crmsync.provider.rest;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crmsync.mapping.FieldPath;
import dev.crmsync.provider.CrmClient;
import dev.crmsync.provider.RemoteCallException;
import dev.crmsync.sync.Delivery;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * The client of a generic REST CRM, configured entirely by {@link RestProviderProperties}: one call
 * per record (such APIs have no batch endpoint); a retried create finds by email first, so a create
 * repeated after a crash adopts the record instead of duplicating it.
 */
public class RestCrmClient implements CrmClient {

    private static final Pattern VARIABLE = Pattern.compile("\\{(\\w+)}");

    private final String name;
    private final RestProviderProperties properties;
    private final ObjectMapper json;
    private final MeterRegistry meters;
    private final HttpClient http;

    public RestCrmClient(String name, RestProviderProperties properties, ObjectMapper json, MeterRegistry meters) {
        if (properties.baseUrl() == null || properties.baseUrl().isBlank()) {
            throw new IllegalStateException("crmsync.providers." + name + ".base-url is not set");
        }
        this.name = name;
        this.properties = properties;
        this.json = json;
        this.meters = meters;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(properties.timeout()).build();
    }

    /**
     * One POST; a retried create (see {@link Delivery#isRetried()}) first looks the person up by email
     * and updates what it finds, so a create repeated after a lost answer or a crash never duplicates.
     */
    @Override
    public void create(Delivery delivery) {
        if (delivery.isRetried() && delivery.getEmail() != null) {
            JsonNode found = send("GET", expand(properties.paths().findByEmail(), Map.of("email", delivery.getEmail())), null,
                    "find-by-email");
            JsonNode records = new FieldPath(properties.recordsField()).read(found);
            if (records != null && records.size() > 0) {
                String id = records.get(0).get(properties.idField()).asText();
                JsonNode reply = send(properties.updateMethod(), expand(properties.paths().update(), Map.of("id", id)),
                        delivery.getPayload(), "update");
                delivery.sent(id, reply, true);
                return;
            }
        }
        JsonNode reply = send("POST", expand(properties.paths().create(), Map.of()), delivery.getPayload(), "create");
        delivery.sent(reply.get(properties.idField()).asText(), reply, false);
    }

    @Override
    public void update(Delivery delivery) {
        JsonNode reply;
        try {
            reply = send(properties.updateMethod(), expand(properties.paths().update(), Map.of("id", delivery.getExternalId())),
                    delivery.getPayload(), "update");
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
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(properties.baseUrl() + path))
                .timeout(properties.timeout())
                .header("Accept", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body.toString()));
        if (body != null) {
            request.header("Content-Type", "application/json");
        }
        if (properties.authValue() != null && !properties.authValue().isBlank()) {
            request.header(properties.authHeader(), properties.authValue());
        }
        meters.counter("crmsync.provider.calls", "system", name, "operation", operation).increment();
        HttpResponse<String> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new RemoteCallException(name + " " + method + " " + path + " got no answer: " + e, 0, null, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RemoteCallException(name + " call interrupted", 0, null, e);
        }
        int status = response.statusCode();
        if (status >= 300) {
            Duration retryAfter = response.headers().firstValue("Retry-After").map(RestCrmClient::seconds).orElse(null);
            throw new RemoteCallException(name + " answered " + status + " to " + method + " " + path + ": "
                    + abbreviate(response.body()), status, retryAfter, null);
        }
        try {
            return response.body() == null || response.body().isBlank() ? json.createObjectNode() : json.readTree(response.body());
        } catch (JsonProcessingException e) {
            throw new RemoteCallException(name + " answered " + status + " with a body that is not JSON", status, null, e);
        }
    }

    private static Duration seconds(String value) {
        try {
            return Duration.ofSeconds(Long.parseLong(value.strip()));
        } catch (NumberFormatException e) {
            return null;
        }
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

    private static String abbreviate(String text) {
        return text == null ? "" : text.length() > 500 ? text.substring(0, 500) + "..." : text;
    }
}
