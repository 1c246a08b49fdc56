package dev.crmsync.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.crmsync.bench.Results.Row;
import dev.crmsync.support.ServiceProcess;
import org.slf4j.LoggerFactory;
import org.springframework.test.context.DynamicPropertyRegistry;

/**
 * The benchmark suite: the service measured the way its users judge it, against the CRM simulators
 * on loopback, on H2 and on PostgreSQL. A benchmark, not a test: {@code mvn verify} compiles it and
 * never runs it; the {@code bench} Maven profile does:
 * <pre>
 *   mvn -Pbench -DskipTests verify
 *   mvn -Pbench -DskipTests verify -Dbench.scenarios=initial-load -Dbench.db=h2 -Dbench.records=1000000 -Dbench.jvmArgs=-Xmx8g
 * </pre>
 * Scenarios ({@code bench.scenarios}, all by default), each on every database of {@code bench.db}:
 * <ul>
 *   <li>{@link InitialLoad initial-load}: N records in Salesforce, an initial sync run, until all N
 *   are in HubSpot and in Pipedrive;</li>
 *   <li>{@link WebhookStorm webhook-storm}: HubSpot and Pipedrive sending changes at a steady rate;
 *   the latency from each remote change to its write in the other CRMs;</li>
 *   <li>{@link ApiIntake api-intake}: creates and reads through the contacts API;</li>
 *   <li>{@link WebhookIntake webhook-intake}: Pipedrive and HubSpot webhook events acknowledged, each
 *   durable in the inbox, with nothing applying them;</li>
 *   <li>{@link RateLimited rate-limited}: deliveries under HubSpot's and Pipedrive's rate limits, as a
 *   share of what the limit allows.</li>
 * </ul>
 * The service runs in a JVM of its own ({@link ServiceProcess}, {@code -Xmx512m}); the simulators
 * and the load run in this one. It prints a table and writes {@code target/bench/summary.json}; the
 * exit code is 1 when a scenario failed. {@code docs/performance.md} has every setting, the bounds
 * the figures are compared with, and figures from real runs.
 */
public final class BenchmarkSuite {

    /** A poll that never comes: each scenario drives the path it measures, and polls are the fallback. */
    static final String NEVER = "0 0 0 1 1 ? 2099";

    interface Scenario {
        String name();

        /** Runs on one database, adding each row to {@code rows} as its phase starts. */
        void run(BenchmarkSuite suite, BenchDatabase db, List<Row> rows) throws Exception;
    }

    private final Settings settings;
    private final Path home;
    private final Path out;

    private BenchmarkSuite(Settings settings, Path home) {
        this.settings = settings;
        this.home = home;
        this.out = home.resolve("target/bench");
    }

    Settings settings() {
        return settings;
    }

    public static void main(String[] args) throws Exception {
        quietLogging();
        // the simulators' JDK HttpServer otherwise waits out the client's delayed ACK on each answer
        System.setProperty("sun.net.httpserver.nodelay", "true");
        Settings settings = Settings.from(args);
        Path home = Path.of("").toAbsolutePath();
        if (!Files.isRegularFile(home.resolve("routes/api-contacts.camel.yaml"))) {
            throw new IllegalStateException("run from the project root (routes/api-contacts.camel.yaml is not in " + home + ")");
        }
        System.exit(new BenchmarkSuite(settings, home).run() ? 0 : 1);
    }

    private boolean run() throws Exception {
        Instant startedAt = Instant.now();
        Map<String, Object> machine = Meter.machine();
        System.out.printf("%nCRM Contact Sync benchmark suite: %s on %s%n", String.join(", ", settings.scenarios()),
                String.join(", ", settings.databases()));
        System.out.printf("machine: %s cores (%s), %s MB, %s, Java %s; the service gets -Xmx%s%n", machine.get("cores"),
                machine.get("cpu"), machine.get("memoryMb"), machine.get("os"), machine.get("java"), settings.serviceHeap());
        double busy = Meter.otherLoadNow();
        machine.put("otherCoresBusyAtStart", Results.round(busy));
        if (busy > 0.2) {
            System.out.printf("!!! the machine is not idle: %.2f cores busy in other processes; the figures will "
                    + "understate the service (see the cores column)%n", busy);
        }
        if (!settings.appProperties().isEmpty() || settings.perDatabase().values().stream().anyMatch(m -> !m.isEmpty())) {
            System.out.printf("service overrides: %s, h2: %s, postgres: %s%n", Settings.masked(settings.appProperties()),
                    Settings.masked(settings.perDatabase().get("h2")), Settings.masked(settings.perDatabase().get("postgres")));
        }

        List<Row> rows = new ArrayList<>();
        for (String name : settings.scenarios()) {
            Scenario scenario = scenario(name);
            for (String kind : settings.databases()) {
                System.out.printf("%n[%s %s] ...%n", name, kind);
                int first = rows.size();
                BenchDatabase db = newDatabase(kind, name);
                try {
                    scenario.run(this, db, rows);
                } catch (Exception | Error e) {
                    if (rows.size() == first) {
                        rows.add(new Row(name, kind));
                    }
                    rows.get(rows.size() - 1).fail(describe(e));
                    System.out.printf("[%s %s] FAILED: %s%n", name, kind, describe(e));
                }
                readStore(db, rows.subList(first, rows.size()).stream().filter(row -> row.leftBehind == null).toList());
            }
        }

        Results.printTable(rows, machine, settings.serviceHeap());
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("benchmark", "CRM Contact Sync benchmark suite (docs/performance.md)");
        summary.put("startedAt", startedAt.toString());
        summary.put("finishedAt", Instant.now().toString());
        summary.put("machine", machine);
        summary.put("settings", settings.toJson());
        summary.put("results", rows.stream().map(Row::toJson).toList());
        boolean ok = rows.stream().allMatch(Row::ok);
        summary.put("valid", ok);
        Path file = settings.summary().isAbsolute() ? settings.summary() : home.resolve(settings.summary());
        Files.createDirectories(file.getParent());
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), summary);
        System.out.println("summary written to " + (file.startsWith(home) ? home.relativize(file) : file));
        if (!ok) {
            System.out.println("!!! A SCENARIO FAILED: its figures are not valid (see FAILED above)");
        }
        return ok;
    }

    private static Scenario scenario(String name) {
        return switch (name) {
            case "initial-load" -> new InitialLoad();
            case "webhook-storm" -> new WebhookStorm();
            case "api-intake" -> new ApiIntake();
            case "webhook-intake" -> new WebhookIntake();
            case "rate-limited" -> new RateLimited();
            default -> throw new IllegalArgumentException(name);
        };
    }

    /** An empty database of this kind for one service run ({@code label} names its H2 folder). */
    BenchDatabase newDatabase(String kind, String label) throws java.io.IOException {
        return BenchDatabase.create(kind, home, out.resolve("data"), label);
    }

    /**
     * What the service left in its store, on each of its rows; dead letters or failed changes fail
     * them, since nothing here injects a fault.
     */
    void readStore(BenchDatabase db, List<Row> rows) {
        if (rows.isEmpty()) {
            return;
        }
        try {
            Map<String, Long> left = db.leftBehind();
            for (Row row : rows) {
                row.leftBehind = left;
                if (left.get("deadLetters") > 0) {
                    row.fail(left.get("deadLetters") + " dead letters");
                }
                if (left.get("inboxFailed") > 0) {
                    row.fail(left.get("inboxFailed") + " changes failed in the inbox");
                }
            }
            System.out.printf("[%s %s] left in the store: %s%n", rows.get(0).scenario, db.kind(), left);
        } catch (RuntimeException e) {
            rows.forEach(row -> row.details.put("storeUnreadable", e.getMessage()));
        }
    }

    /**
     * Starts the service for a scenario on its database, with the scenario's properties, then the
     * overrides given in {@code bench.args} as {@code app.KEY=VALUE} / {@code h2.KEY=VALUE} /
     * {@code postgres.KEY=VALUE} (Maven's own {@code -D} flags do not reach the suite's JVM).
     */
    ServiceProcess startService(String scenario, BenchDatabase db, Map<String, String> properties) throws Exception {
        Map<String, String> all = new LinkedHashMap<>();
        all.put("crmsync.home", home.toString());
        all.put("logging.level.root", "WARN");
        all.putAll(db.properties());
        all.putAll(properties);
        all.putAll(settings.appProperties());
        all.putAll(settings.perDatabase().get(db.kind()));
        long t0 = System.nanoTime();
        ServiceProcess service = ServiceProcess.start(scenario + "-" + db.kind(), home, out.resolve("logs"),
                settings.serviceHeap(), settings.serviceJvmArgs(), all, db.environment());
        System.out.printf("[%s %s] service up in %.1f s on port %d (%s; log %s)%n", scenario, db.kind(),
                (System.nanoTime() - t0) / 1e9, service.port(), db.describe(), home.relativize(service.log()));
        return service;
    }

    /**
     * Service properties that connect the simulators, from the tests' own wiring ({@code Simulated}),
     * less what makes tests fast: the service keeps its own delivery periods (application.yaml), and
     * no provider polls, since each scenario drives the path it measures.
     */
    static Map<String, String> wire(Consumer<DynamicPropertyRegistry> wiring) {
        Map<String, String> properties = new LinkedHashMap<>();
        wiring.accept((name, value) -> properties.put(name, String.valueOf(value.get())));
        properties.keySet().removeIf(key -> key.endsWith(".deliver-period"));
        properties.replaceAll((key, value) -> key.endsWith(".poll-cron") ? NEVER : value);
        return properties;
    }

    /** Throws when the service is gone (an OutOfMemoryError, a crash), so a scenario stops waiting for it. */
    static void check(ServiceProcess service) {
        service.failure().ifPresent(reason -> {
            throw new IllegalStateException(reason);
        });
    }

    private static String describe(Throwable e) {
        String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return e instanceof IllegalStateException ? message : e.getClass().getSimpleName() + ": " + message;
    }

    /** Root logger at WARN before anything logs (the embedded PostgreSQL logs through it). */
    private static void quietLogging() {
        if (LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME) instanceof ch.qos.logback.classic.Logger root) {
            root.setLevel(ch.qos.logback.classic.Level.WARN);
        }
    }
}
