package dev.crmsync.bench;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * What one run of the suite measures, from {@code -Dbench.NAME=VALUE} system properties (what the
 * {@code bench} Maven profile passes on) or {@code --NAME=VALUE} arguments; a blank value means the
 * default. See {@code docs/performance.md} for each one.
 */
record Settings(List<String> scenarios, List<String> databases, int records, int stormRate, int stormSeconds,
                int stormPeople, int apiRequests, int apiWarmup, int apiClients, int webhookEvents, int webhookWarmup,
                int limitedHubSpot,
                int limitedPipedrive, String serviceHeap, List<String> serviceJvmArgs, Duration timeout, long seed,
                Path summary, Map<String, String> appProperties, Map<String, Map<String, String>> perDatabase) {

    static final List<String> SCENARIOS = List.of("initial-load", "webhook-storm", "api-intake", "webhook-intake",
            "rate-limited");
    static final List<String> DATABASES = List.of("h2", "postgres");

    private static final Set<String> KNOWN = Set.of("scenarios", "db", "records", "storm-rate", "storm-seconds",
            "storm-people", "api-requests", "api-warmup", "api-clients", "webhook-events", "webhook-warmup", "limited-hubspot", "limited-pipedrive",
            "service-heap", "service-jvm-args", "timeout-minutes", "seed", "summary");

    static Settings from(String[] args) {
        Map<String, String> given = new LinkedHashMap<>();
        System.getProperties().stringPropertyNames().stream().sorted()
                .filter(name -> name.startsWith("bench.") && !name.equals("bench.jvmArgs") && !name.equals("bench.args"))
                .forEach(name -> given.put(name.substring("bench.".length()), System.getProperty(name)));
        for (String arg : args) {
            String a = arg.startsWith("--") ? arg.substring(2) : arg;
            int eq = a.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("arguments are --name=value, not " + arg);
            }
            given.put(a.substring(0, eq), a.substring(eq + 1));
        }
        Map<String, String> app = new TreeMap<>();
        Map<String, Map<String, String>> perDatabase = Map.of("h2", new TreeMap<>(), "postgres", new TreeMap<>());
        Map<String, String> plain = new LinkedHashMap<>();
        given.forEach((name, value) -> {
            if (name.startsWith("app.")) {
                app.put(name.substring(4), value);
            } else if (name.startsWith("h2.")) {
                perDatabase.get("h2").put(name.substring(3), value);
            } else if (name.startsWith("postgres.")) {
                perDatabase.get("postgres").put(name.substring(9), value);
            } else if (!value.isBlank()) {
                plain.put(name, value.strip());
            }
        });
        plain.keySet().stream().filter(k -> !KNOWN.contains(k)).findFirst().ifPresent(k -> {
            throw new IllegalArgumentException("unknown setting bench." + k + "; known: " + new java.util.TreeSet<>(KNOWN)
                    + ", and app.KEY, h2.KEY, postgres.KEY for service properties");
        });
        List<String> scenarios = list(plain, "scenarios", SCENARIOS);
        List<String> databases = list(plain, "db", DATABASES);
        int records = positive(plain, "records", 100_000);
        // a run's wait for its records: generous, since a shared machine may be several times slower
        long timeoutMinutes = positive(plain, "timeout-minutes", 15 + records / 5_000);
        return new Settings(scenarios, databases, records,
                positive(plain, "storm-rate", 200), positive(plain, "storm-seconds", 60), positive(plain, "storm-people", 2_000),
                positive(plain, "api-requests", 20_000), nonNegative(plain, "api-warmup", 10_000),
                positive(plain, "api-clients", 16), positive(plain, "webhook-events", 20_000),
                nonNegative(plain, "webhook-warmup", 10_000), positive(plain, "limited-hubspot", 40_000),
                positive(plain, "limited-pipedrive", 400), plain.getOrDefault("service-heap", "512m"),
                Arrays.stream(plain.getOrDefault("service-jvm-args", "").split("\\s+")).filter(s -> !s.isEmpty()).toList(),
                Duration.ofMinutes(timeoutMinutes), Long.parseLong(plain.getOrDefault("seed", "42")),
                Path.of(plain.getOrDefault("summary", "target/bench/summary.json")), app, perDatabase);
    }

    /** What the summary shows of the settings: service overrides with anything secret-looking masked. */
    Map<String, Object> toJson() {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("scenarios", scenarios);
        json.put("databases", databases);
        json.put("records", records);
        json.put("stormRate", stormRate);
        json.put("stormSeconds", stormSeconds);
        json.put("stormPeople", stormPeople);
        json.put("apiRequests", apiRequests);
        json.put("apiWarmup", apiWarmup);
        json.put("apiClients", apiClients);
        json.put("webhookEvents", webhookEvents);
        json.put("webhookWarmup", webhookWarmup);
        json.put("limitedHubSpot", limitedHubSpot);
        json.put("limitedPipedrive", limitedPipedrive);
        json.put("serviceHeap", serviceHeap);
        json.put("serviceJvmArgs", serviceJvmArgs);
        json.put("timeoutMinutes", timeout.toMinutes());
        json.put("seed", seed);
        json.put("overrides", masked(appProperties));
        json.put("h2Overrides", masked(perDatabase.get("h2")));
        json.put("postgresOverrides", masked(perDatabase.get("postgres")));
        return json;
    }

    static Map<String, String> masked(Map<String, String> properties) {
        Map<String, String> masked = new TreeMap<>();
        properties.forEach((k, v) -> masked.put(k, secret(k) ? "******" : v));
        return masked;
    }

    private static boolean secret(String key) {
        String k = key.toLowerCase(Locale.ROOT);
        return k.contains("password") || k.contains("secret") || k.contains("key") || k.contains("token");
    }

    private static List<String> list(Map<String, String> given, String name, List<String> allowed) {
        List<String> values = Arrays.stream(given.getOrDefault(name, String.join(",", allowed)).split(","))
                .map(String::strip).filter(s -> !s.isEmpty()).map(s -> s.toLowerCase(Locale.ROOT)).distinct().toList();
        for (String value : values) {
            if (!allowed.contains(value)) {
                throw new IllegalArgumentException("bench." + name + " takes " + String.join(", ", allowed) + ", not " + value);
            }
        }
        if (values.isEmpty()) {
            throw new IllegalArgumentException("bench." + name + " names none of " + String.join(", ", allowed));
        }
        // the order of the list, not of the flag: runs and the table stay comparable between runs
        return allowed.stream().filter(values::contains).toList();
    }

    private static int positive(Map<String, String> given, String name, int fallback) {
        int value = nonNegative(given, name, fallback);
        if (value == 0) {
            throw new IllegalArgumentException("bench." + name + " must be at least 1");
        }
        return value;
    }

    private static int nonNegative(Map<String, String> given, String name, int fallback) {
        String text = given.get(name);
        int value;
        try {
            value = text == null ? fallback : Integer.parseInt(text.replace("_", "").replace(",", ""));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bench." + name + " is a whole number, not " + text);
        }
        if (value < 0) {
            throw new IllegalArgumentException("bench." + name + " must not be negative");
        }
        return value;
    }
}
