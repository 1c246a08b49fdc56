package dev.crmsync.sim;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;

/**
 * HTTP pieces a simulator needs and none is specific to one CRM: a reply to send (status, headers,
 * JSON body), query strings with repeated parameters, path segments and bearer tokens. For simulators
 * written from now on; the older ones keep their own copies, which behave the same.
 */
public final class SimHttp {

    public static final String JSON_UTF8 = "application/json;charset=utf-8";

    private static final ObjectMapper JSON = new ObjectMapper();

    private SimHttp() {
    }

    /** An answer: status, headers in the order added, and a body ({@code null} for none) of this content type. */
    public record Reply(int status, Map<String, String> headers, byte[] body, String contentType)
            implements SimulatorServer.Answer {

        public Reply {
            headers = Collections.unmodifiableMap(new LinkedHashMap<>(headers));
        }

        /** {@code body} written with Jackson as {@code application/json;charset=utf-8}. */
        public static Reply json(int status, Object body) {
            try {
                return new Reply(status, Map.of(), JSON.writeValueAsBytes(body), JSON_UTF8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /** No body at all (no {@code Content-Type}, {@code Content-Length} omitted), e.g. for 204. */
        public static Reply empty(int status) {
            return new Reply(status, Map.of(), null, null);
        }

        public Reply with(String header, String value) {
            Map<String, String> all = new LinkedHashMap<>(headers);
            all.put(header, value);
            return new Reply(status, all, body, contentType);
        }

        @Override
        public void send(HttpExchange exchange) throws IOException {
            SimHttp.send(exchange, this);
        }

        public Reply withAll(Map<String, String> more) {
            Map<String, String> all = new LinkedHashMap<>(headers);
            all.putAll(more);
            return new Reply(status, all, body, contentType);
        }
    }

    /** Writes the reply and closes the body; the caller still closes the exchange. */
    public static void send(HttpExchange exchange, Reply reply) throws IOException {
        reply.headers().forEach((name, value) -> exchange.getResponseHeaders().set(name, value));
        if (reply.body() == null) {
            exchange.sendResponseHeaders(reply.status(), -1);
            return;
        }
        exchange.getResponseHeaders().set("Content-Type", reply.contentType() == null ? JSON_UTF8
                : reply.contentType());
        exchange.sendResponseHeaders(reply.status(), reply.body().length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(reply.body());
        }
    }

    /**
     * A raw query string as name to values, each in the order given; {@code a=1&a=2} keeps both, a bare
     * {@code a} is an empty value.
     *
     * @throws IllegalArgumentException for a malformed percent-escape
     */
    public static Map<String, List<String>> query(String rawQuery) {
        Map<String, List<String>> params = new LinkedHashMap<>();
        if (rawQuery == null || rawQuery.isEmpty()) {
            return params;
        }
        for (String pair : rawQuery.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String name = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            params.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
        }
        return params;
    }

    /** The first value of {@code name}, or null. */
    public static String first(Map<String, List<String>> query, String name) {
        List<String> values = query.get(name);
        return values == null || values.isEmpty() ? null : values.get(0);
    }

    /** The non-empty segments of a raw path, each percent-decoded; unlike a query string, '+' stays '+'. */
    public static List<String> segments(String rawPath) {
        List<String> segments = new ArrayList<>();
        for (String part : rawPath.split("/")) {
            if (!part.isEmpty()) {
                segments.add(decodeSegment(part));
            }
        }
        return segments;
    }

    public static String decodeSegment(String segment) {
        try {
            return URLDecoder.decode(segment.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return segment;
        }
    }

    /** The token of an {@code Authorization: Bearer <token>} header (scheme in any case), or null. */
    public static String bearerToken(String authorization) {
        if (authorization == null || authorization.length() < 7
                || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return null;
        }
        String token = authorization.substring(7).trim();
        return token.isEmpty() ? null : token;
    }
}
