package dev.crmsync.sim;

import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The {@code /__sim} control surface every simulator shares: the JSON views of its {@link CallStats}
 * and {@link Faults}, and the fault specs a test or a person with curl sends to set faults. Each
 * simulator answers these under its own {@code /__sim} paths; the shapes are the same everywhere:
 * <pre>{@code
 * GET    /__sim/stats     {"calls":{"GET /api/contacts":3,...},"total":3}
 * GET    /__sim/requests  {"requests":[{"endpoint":..,"method":..,"path":..,"receivedAt":..,"status":..}]}
 * GET    /__sim/faults    {"sticky":503|null,"latencyMs":0,"pending":[{"kind":...,"remaining":1,...}]}
 * POST   /__sim/faults    one fault spec or an array of them:
 *   {"kind":"status","status":503,"count":2,"method":"POST","pathPrefix":"/api/contacts"}
 *   {"kind":"rateLimit","count":1,"retryAfterSeconds":2}
 *   {"kind":"drop","count":1}
 *   {"kind":"latency","ms":250}
 *   {"kind":"sticky","status":503}
 *   (count defaults to 1, method and pathPrefix to any, sticky status to 503, retryAfterSeconds to 1)
 * }</pre>
 */
public final class SimControl {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final DateTimeFormatter RECEIVED_AT =
            DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'", Locale.ROOT).withZone(ZoneOffset.UTC);

    /** A control request that cannot be applied; {@code field} names the part at fault, if one is. */
    public static final class BadControl extends IllegalArgumentException {
        private final String field;

        public BadControl(String message, String field) {
            super(message);
            this.field = field;
        }

        public String field() {
            return field;
        }
    }

    private SimControl() {
    }

    public static Map<String, Object> statsView(CallStats stats) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("calls", stats.snapshot());
        body.put("total", stats.total());
        return body;
    }

    public static Map<String, Object> requestsView(CallStats stats) {
        List<Map<String, Object>> requests = new ArrayList<>();
        for (CallStats.Request r : stats.requests()) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("endpoint", r.endpoint());
            entry.put("method", r.method());
            entry.put("path", r.path());
            entry.put("receivedAt", RECEIVED_AT.format(r.receivedAt()));
            entry.put("status", r.status());
            requests.add(entry);
        }
        return Map.of("requests", requests);
    }

    public static Map<String, Object> faultsView(Faults faults) {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("sticky", faults.sticky().isPresent() ? faults.sticky().getAsInt() : null);
        view.put("latencyMs", faults.latencyMillis());
        List<Map<String, Object>> pending = new ArrayList<>();
        for (Faults.Rule rule : faults.pending()) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("kind", switch (rule.kind()) {
                case STATUS -> "status";
                case RATE_LIMIT -> "rateLimit";
                case DROP -> "drop";
            });
            if (rule.kind() != Faults.Kind.DROP) {
                entry.put("status", rule.status());
            }
            if (rule.kind() == Faults.Kind.RATE_LIMIT) {
                entry.put("retryAfterSeconds", rule.retryAfterSeconds());
            }
            entry.put("method", rule.method());
            entry.put("pathPrefix", rule.pathPrefix());
            entry.put("remaining", rule.remaining());
            pending.add(entry);
        }
        view.put("pending", pending);
        return view;
    }

    /** Reads every fault spec in {@code body} first and sets them only if all are valid. */
    public static void applyFaults(Faults faults, InputStream body) {
        JsonNode root;
        try {
            root = JSON.readTree(body.readAllBytes());
        } catch (IOException e) {
            throw new BadControl("Body must be a fault object or an array of them", null);
        }
        List<JsonNode> specs = new ArrayList<>();
        if (root != null && root.isArray()) {
            root.forEach(specs::add);
        } else if (root != null && root.isObject()) {
            specs.add(root);
        } else {
            throw new BadControl("Body must be a fault object or an array of them", null);
        }
        List<Runnable> changes = new ArrayList<>();
        for (JsonNode spec : specs) {
            String kind = spec.path("kind").asText("");
            int count = spec.path("count").asInt(1);
            String method = spec.hasNonNull("method") ? spec.get("method").asText() : null;
            String prefix = spec.hasNonNull("pathPrefix") ? spec.get("pathPrefix").asText() : null;
            // Build each change now so a bad value fails before anything is set.
            Faults check = new Faults();
            switch (kind) {
                case "status" -> {
                    int status = spec.path("status").asInt(0);
                    check.failNext(count, status, method, prefix);
                    changes.add(() -> faults.failNext(count, status, method, prefix));
                }
                case "rateLimit" -> {
                    int seconds = spec.path("retryAfterSeconds").asInt(Faults.DEFAULT_RETRY_AFTER_SECONDS);
                    check.rateLimitNext(count, seconds, method, prefix);
                    changes.add(() -> faults.rateLimitNext(count, seconds, method, prefix));
                }
                case "drop" -> {
                    check.dropNext(count, method, prefix);
                    changes.add(() -> faults.dropNext(count, method, prefix));
                }
                case "latency" -> {
                    Duration delay = Duration.ofMillis(spec.path("ms").asLong(0));
                    check.latency(delay);
                    changes.add(() -> faults.latency(delay));
                }
                case "sticky" -> {
                    int status = spec.path("status").asInt(503);
                    check.sticky(status);
                    changes.add(() -> faults.sticky(status));
                }
                default -> throw new BadControl("kind must be status, rateLimit, drop, latency or sticky, not '"
                        + kind + "'", "kind");
            }
        }
        changes.forEach(Runnable::run);
    }
}
