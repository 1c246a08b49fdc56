package dev.crmsync.provider;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.function.Function;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * JSON over HTTP for the clients of REST CRMs: one counted call, its answer parsed, and every
 * status of 300 or more a {@link RemoteCallException} carrying the status and how long the system
 * asked to wait (read from the reply by {@code retryAfter}).
 */
public final class JsonHttp {

    /** An answer: its status, headers and JSON body (an empty object when there was none). */
    public record Reply(int status, HttpHeaders headers, JsonNode body) {
    }

    private final String name;
    private final String baseUrl;
    private final Duration timeout;
    private final Map<String, String> headers;
    private final ObjectMapper json;
    private final MeterRegistry meters;
    private final Function<HttpResponse<String>, Duration> retryAfter;
    private final HttpClient http;

    public JsonHttp(String name, String baseUrl, Duration timeout, Map<String, String> headers, ObjectMapper json,
                    MeterRegistry meters, Function<HttpResponse<String>, Duration> retryAfter) {
        if (baseUrl == null || baseUrl.isBlank()) {
            throw new IllegalStateException("crmsync.providers." + name + ".base-url is not set");
        }
        this.name = name;
        this.baseUrl = baseUrl;
        this.timeout = timeout;
        this.headers = Map.copyOf(headers);
        this.json = json;
        this.meters = meters;
        this.retryAfter = retryAfter;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(timeout).build();
    }

    /** The standard {@code Retry-After} header, in seconds. */
    public static Duration retryAfterHeader(HttpResponse<String> response) {
        return response.headers().firstValue("Retry-After").map(JsonHttp::seconds).orElse(null);
    }

    public static Duration seconds(String value) {
        try {
            return Duration.ofSeconds(Long.parseLong(value.strip()));
        } catch (NumberFormatException e) {
            return null;
        }
    }

    public Reply send(String method, String path, JsonNode body, String operation) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(baseUrl + path))
                .timeout(timeout)
                .header("Accept", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body.toString()));
        if (body != null) {
            request.header("Content-Type", "application/json");
        }
        headers.forEach((header, value) -> {
            if (value != null && !value.isBlank()) {
                request.header(header, value);
            }
        });
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
            throw new RemoteCallException(name + " answered " + status + " to " + method + " " + path + ": "
                    + abbreviate(response.body()), status, retryAfter.apply(response), null);
        }
        try {
            JsonNode parsed = response.body() == null || response.body().isBlank()
                    ? json.createObjectNode() : json.readTree(response.body());
            return new Reply(status, response.headers(), parsed);
        } catch (JsonProcessingException e) {
            throw new RemoteCallException(name + " answered " + status + " with a body that is not JSON", status, null, e);
        }
    }

    private static String abbreviate(String text) {
        return text == null ? "" : text.length() > 500 ? text.substring(0, 500) + "..." : text;
    }
}
