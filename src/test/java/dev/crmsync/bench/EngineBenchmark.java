package dev.crmsync.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.ThreadInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.google.i18n.phonenumbers.NumberParseException;
import com.google.i18n.phonenumbers.PhoneNumberUtil;
import dev.crmsync.CrmContactSync;
import dev.crmsync.sim.GenericCrmSimulator;
import dev.crmsync.support.TestPostgres;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.LoggerFactory;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * The sync engine end to end, measured: two generic REST CRM simulators (no latency, loopback) and
 * the whole service in this JVM (polls, inbox, engine, outbox, delivery), first on H2 and then on
 * PostgreSQL 17 (embedded), so the two can be compared as ratios. Not a test: nothing runs it in
 * {@code mvn verify} (Surefire only picks up {@code *Test}, {@code *Tests} and {@code Test*} classes).
 *
 * <p>Run it from the project folder (it reads {@code routes/} and {@code mappings/} there), from a
 * clean {@code target/} too:
 * <pre>{@code
 * mvn -q test-compile org.codehaus.mojo:exec-maven-plugin:3.5.0:java \
 *     -Dexec.mainClass=dev.crmsync.bench.EngineBenchmark -Dexec.classpathScope=test
 * }</pre>
 * and, to change the defaults, add for example
 * {@code -Dexec.args="--records=50000 --updates=10000 --db=h2 --set=crmsync.sync.workers=8"}:
 * <ul>
 *   <li>{@code --records=N} people seeded into crm1 for the initial load (20000);</li>
 *   <li>{@code --updates=M} of them then edited in crm2, the update wave (5000);</li>
 *   <li>{@code --db=h2,postgres} which databases, in that order (both);</li>
 *   <li>{@code --warmup=W} before measuring, W other people go through both scenarios in the same
 *   service so the JIT compilers have done most of their work (2000; 0 to measure a cold start);</li>
 *   <li>{@code --phones} also give each person a distinct valid US phone (off: email only);</li>
 *   <li>{@code --set=key=value} any service property, repeatable, applied after the benchmark's own
 *   (e.g. {@code crmsync.sync.workers}, {@code crmsync.providers.crm2.batch-size});</li>
 *   <li>{@code --timeout=S} seconds a scenario may take before it is reported as not completed, with
 *   how far it got (150); it then gets {@value #QUIET_GRACE_SECONDS} s more to go quiet, and an initial
 *   load that did not complete skips the update wave, so one database's run stays under ~5 minutes;</li>
 *   <li>{@code --sample} samples the service's threads every 50 ms and prints where they are.</li>
 * </ul>
 * It prints a table and writes {@code target/bench/engine-summary.json}.
 *
 * <p>What is measured, per database:
 * <ul>
 *   <li><b>initial load</b>: N records appear in crm1; the clock runs from seeding until every one is
 *   a live hub contact and is in crm2 with no outbox row left pending or claimed. The engine's rate is
 *   read from the inbox table: rows done over the time from the first row received to the last
 *   processed (the rows polled back from crm2 after delivery count: they are changes the engine
 *   applies, recognised as echoes);</li>
 *   <li><b>update wave</b>: M records edited in crm2 as a user would; the clock runs until every edit
 *   is in crm1;</li>
 *   <li>after each scenario the system is left quiet and watched for a few poll cycles: any write
 *   call to a simulator then is an echo (two systems ping-ponging), reported and expected to be 0;</li>
 *   <li>API calls per 1,000 records per simulator and endpoint, from the simulators' counters up to
 *   the moment the system went quiet; peak heap, the sum of the heap pools' peaks, reset before each
 *   database's run (the simulators' records live in this JVM too).</li>
 * </ul>
 */
public final class EngineBenchmark {

    static final String API_KEY = "bench-api-key-0123456789";
    static final String ADMIN_PASSWORD = "bench-admin-password-0123";
    static final Duration QUIET = Duration.ofMillis(2500);
    static final Duration ECHO_WATCH = Duration.ofSeconds(5);
    static final int QUIET_GRACE_SECONDS = 20;
    static final String[] FIRST = {"Olivia", "Liam", "Emma", "Noah", "Ava", "Mateo", "Sophia", "Lucas", "Isabella",
        "Ethan", "Mia", "Aarav", "Chloe", "Kenji", "Amara", "Diego", "Priya", "Jonas", "Fatima", "Samuel"};
    static final String[] COMPANY = {"Northwind Traders", "Contoso Ltd", "Globex Corporation", "Initech",
        "Umbrella Health", "Stark Logistics", "Wayne Analytics", "Acme Robotics", "Hooli", "Tyrell Biotech"};
    static final String[] TITLE = {"Account Executive", "VP of Sales", "Marketing Manager", "CTO", "Founder"};
    static final String[] WRITES = {"POST /api/contacts", "PATCH /api/contacts/{id}", "PUT /api/contacts/{id}",
        "DELETE /api/contacts/{id}"};

    private final int records;
    private final int updates;
    private final List<String> databases;
    private final boolean phones;
    private final Map<String, String> overrides;
    private final Duration timeout;
    private final boolean sample;
    private final int warmup;
    /** The embedded PostgreSQL server, once a run has used it: its CPU is counted, and it is stopped at the end. */
    private PgServer pg;

    private EngineBenchmark(Map<String, String> options, Map<String, String> overrides) {
        this.records = Integer.parseInt(options.getOrDefault("records", "20000"));
        this.updates = Integer.parseInt(options.getOrDefault("updates", "5000"));
        this.databases = List.of(options.getOrDefault("db", "h2,postgres").split(","));
        this.phones = options.containsKey("phones");
        this.overrides = overrides;
        this.timeout = Duration.ofSeconds(Long.parseLong(options.getOrDefault("timeout", "150")));
        this.sample = options.containsKey("sample");
        this.warmup = Integer.parseInt(options.getOrDefault("warmup", "2000"));
        if (updates > records) {
            throw new IllegalArgumentException("--updates (" + updates + ") cannot exceed --records (" + records + ")");
        }
        for (String db : databases) {
            if (!db.equals("h2") && !db.equals("postgres")) {
                throw new IllegalArgumentException("--db takes h2 and/or postgres, not " + db);
            }
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> options = new LinkedHashMap<>();
        Map<String, String> overrides = new LinkedHashMap<>();
        for (String arg : args) {
            if (arg.startsWith("--set=") && arg.indexOf('=', 6) > 6) {
                String pair = arg.substring(6);
                overrides.put(pair.substring(0, pair.indexOf('=')), pair.substring(pair.indexOf('=') + 1));
            } else if (arg.startsWith("--")) {
                int eq = arg.indexOf('=');
                options.put(eq < 0 ? arg.substring(2) : arg.substring(2, eq), eq < 0 ? "" : arg.substring(eq + 1));
            } else {
                throw new IllegalArgumentException("unknown argument " + arg);
            }
        }
        // The JDK's HttpServer (the simulators) leaves Nagle's algorithm on unless told otherwise: its
        // two writes per answer (headers, body) then wait out the client's delayed ACK, ~40 ms a call on
        // Linux loopback. Set before any simulator starts; the property is read once.
        System.setProperty("sun.net.httpserver.nodelay", "true");
        quietLogs();
        new EngineBenchmark(options, overrides).run();
    }

    private void run() throws Exception {
        Path home = Path.of("").toAbsolutePath();
        if (!Files.isDirectory(home.resolve("routes")) || !Files.isDirectory(home.resolve("mappings"))) {
            throw new IllegalStateException("run the benchmark from the project folder (routes/ and mappings/ are read from "
                    + home + ")");
        }
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("benchmark", "engine");
        summary.put("startedAt", Instant.now().toString());
        summary.put("machine", machine());
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("records", records);
        settings.put("updates", updates);
        settings.put("phones", phones);
        settings.put("warmup", warmup);
        settings.put("overrides", overrides);
        summary.put("settings", settings);
        Map<String, Map<String, Object>> runs = new LinkedHashMap<>();
        try {
            for (String db : databases) {
                System.out.printf("%n== %s: %,d records, then %,d updates ==%n", db, records, updates);
                runs.put(db, runDatabase(db, home));
            }
        } finally {
            if (pg != null) {
                // exec:java closes its class loader before the JVM's shutdown hooks run, so the embedded
                // server's own hook cannot stop it: stop it here
                pg.stop();
            }
        }
        summary.put("runs", runs);
        settings.put("service", runs.values().stream().findFirst().map(r -> r.get("properties")).orElse(Map.of()));
        runs.values().forEach(r -> r.remove("properties"));
        printTable(summary, runs);
        Path out = home.resolve("target/bench/engine-summary.json");
        Files.createDirectories(out.getParent());
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.toFile(), summary);
        System.out.println("\nWritten " + home.relativize(out));
    }

    // ------------------------------------------------------------------ one database

    private Map<String, Object> runDatabase(String db, Path home) throws Exception {
        Map<String, Object> result = new LinkedHashMap<>();
        try (GenericCrmSimulator crm1 = GenericCrmSimulator.builder().token("bench-token-crm1").build().start();
             GenericCrmSimulator crm2 = GenericCrmSimulator.builder().token("bench-token-crm2").build().start()) {
            result.put("simulatorRoundTripMs", roundTripMillis(crm1));
            Map<String, String> properties = properties(db, home, crm1, crm2);
            result.put("properties", redacted(properties));
            System.gc();
            resetHeapPeaks();
            Cpu cpuBefore = Cpu.now(db.equals("postgres") ? pg : null);
            long started = System.nanoTime();
            try (ConfigurableApplicationContext context = new SpringApplicationBuilder(CrmContactSync.class)
                    .run(properties.entrySet().stream().map(e -> "--" + e.getKey() + "=" + e.getValue())
                            .toArray(String[]::new))) {
                System.out.printf("service up on %s in %.1f s%n", db, seconds(System.nanoTime() - started));
                result.put("database", context.getBean(JdbcTemplate.class).execute(
                        (java.sql.Connection c) -> c.getMetaData().getDatabaseProductName() + " "
                                + c.getMetaData().getDatabaseProductVersion()));
                Service service = new Service(context, crm1, crm2, db.equals("postgres") ? pg : null);
                Sampler sampler = sample ? Sampler.start() : null;
                try {
                    if (warmup > 0) {
                        System.out.printf("warm-up (not measured): %,d records, %,d updates%n", warmup, warmup / 4);
                        Map<String, Object> warm = new LinkedHashMap<>();
                        warm.put("initialLoad", initialLoad(service, "w", warmup));
                        warm.put("updateWave", updateWave(service, "w", warmup / 4));
                        result.put("warmup", warm);
                    }
                    resetHeapPeaks();
                    Map<String, Object> load = initialLoad(service, "p", records);
                    result.put("initialLoad", load);
                    if (Boolean.TRUE.equals(load.get("completed"))) {
                        result.put("updateWave", updateWave(service, "p", updates));
                    } else {
                        System.out.println("update wave skipped: the initial load did not complete");
                        result.put("updateWave", Map.of("skipped", "the initial load did not complete in time"));
                    }
                } finally {
                    if (sampler != null) {
                        result.put("samples", sampler.stopAndReport());
                    }
                }
                result.put("peakHeapMB", peakHeapBytes() / (1024.0 * 1024.0));
                result.put("cpu", Cpu.now(db.equals("postgres") ? pg : null).since(cpuBefore));
                result.put("totals", service.totals());
            }
        }
        return result;
    }

    /** Mean time of one small call to a simulator over loopback (after a warm-up), to show it adds no latency. */
    private static double roundTripMillis(GenericCrmSimulator crm) throws Exception {
        var http = java.net.http.HttpClient.newBuilder().version(java.net.http.HttpClient.Version.HTTP_1_1).build();
        var request = java.net.http.HttpRequest.newBuilder(java.net.URI.create(crm.baseUrl() + "/api/contacts?limit=1"))
                .header("Authorization", "Bearer " + crm.token()).build();
        long t0 = 0;
        for (int i = 0; i < 3000; i++) {
            if (i == 2000) {
                t0 = System.nanoTime();
            }
            http.send(request, java.net.http.HttpResponse.BodyHandlers.ofString());
        }
        crm.resetCounters();
        return (System.nanoTime() - t0) / 1e6 / 1000;
    }

    private Map<String, String> properties(String db, Path home, GenericCrmSimulator crm1, GenericCrmSimulator crm2)
            throws IOException {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("server.port", "0");
        p.put("crmsync.home", home.toString());
        p.put("crmsync.api-key", API_KEY);
        p.put("crmsync.admin.password", ADMIN_PASSWORD);
        p.put("logging.level.root", "WARN");
        p.put("camel.main.jmx-enabled", "false");
        p.put("spring.jmx.enabled", "false");
        p.put("crmsync.sync.batch-size", "1000");
        for (var crm : Map.of("crm1", crm1, "crm2", crm2).entrySet()) {
            String prefix = "crmsync.providers." + crm.getKey() + ".";
            p.put(prefix + "enabled", "true");
            p.put(prefix + "base-url", crm.getValue().baseUrl());
            p.put(prefix + "auth-value", "Bearer " + crm.getValue().token());
            p.put(prefix + "poll-cron", "0/1 * * * * ?");
            p.put(prefix + "deliver-period", "50");
            p.put(prefix + "batch-size", "500");
        }
        if (db.equals("h2")) {
            p.put("crmsync.data-dir", Files.createTempDirectory("crmsync-bench-h2").toString());
        } else {
            String url = TestPostgres.newDatabase();
            pg = PgServer.of(url);
            p.put("spring.datasource.url", url);
            p.put("spring.datasource.username", "postgres");
            p.put("spring.datasource.password", "postgres");
        }
        p.putAll(overrides);
        return p;
    }

    // ------------------------------------------------------------------ scenarios

    /** {@code records} new people (emails {@code <prefix><i>@example.com}) appear in crm1. */
    private Map<String, Object> initialLoad(Service s, String prefix, int records) {
        long hubBefore = s.liveContacts();
        long crm2Before = s.crm2.live().size();
        Mark before = s.mark();
        long postsBefore = before.crm2Calls().getOrDefault("POST /api/contacts", 0L);
        long t0 = System.nanoTime();
        for (int i = 0; i < records; i++) {
            s.crm1.seed(person(prefix, i));
        }
        long seeded = System.nanoTime();
        System.out.printf("seeded %,d records into crm1 in %.2f s%n", records, seconds(seeded - t0));
        Long[] hubAt = {null};
        boolean done = waitUntil(t0, () -> {
            if (hubAt[0] == null && s.liveContacts() >= hubBefore + records) {
                hubAt[0] = System.nanoTime();
            }
            return hubAt[0] != null && s.crm2.calls("POST /api/contacts") - postsBefore >= records
                    && s.outboxBacklog() == 0 && s.crm2.live().size() >= crm2Before + records;
        }, () -> String.format("hub %,d, crm2 %,d, inbox backlog %,d, outbox backlog %,d", s.liveContacts() - hubBefore,
                s.crm2.calls("POST /api/contacts") - postsBefore, s.inboxBacklog(), s.outboxBacklog()));
        long end = System.nanoTime();
        Map<String, Object> phase = new LinkedHashMap<>();
        phase.put("records", records);
        phase.put("completed", done);
        phase.put("seedSeconds", seconds(seeded - t0));
        phase.put("secondsToHub", hubAt[0] == null ? null : seconds(hubAt[0] - t0));
        phase.put("secondsEndToEnd", seconds(end - t0));
        phase.put("endToEndRecordsPerSecond", done ? records / seconds(end - t0) : null);
        if (!done) {
            // how far it got: records in the hub and in crm2 when time ran out
            long inHub = s.liveContacts() - hubBefore;
            long inCrm2 = s.crm2.calls("POST /api/contacts") - postsBefore;
            phase.put("reachedHub", inHub);
            phase.put("reachedCrm2", inCrm2);
            phase.put("reachedCrm2PerSecond", inCrm2 / seconds(end - t0));
        }
        phase.put("hubLiveContacts", s.liveContacts() - hubBefore);
        phase.put("crm2LiveRecords", s.crm2.live().size() - crm2Before);
        finish(s, before, phase, records);
        return phase;
    }

    /** {@code updates} of those people edited in crm2 (a new title each). */
    private Map<String, Object> updateWave(Service s, String prefix, int updates) {
        Map<String, String> crm1IdByEmail = new HashMap<>();
        s.crm1.live().forEach(r -> crm1IdByEmail.put(String.valueOf(r.get("Email")).toLowerCase(Locale.ROOT),
                (String) r.get("Id")));
        List<Map<String, Object>> targets = s.crm2.live().stream()
                .filter(r -> String.valueOf(r.get("Email")).startsWith(prefix)).limit(updates).toList();
        Map<String, String> expected = new LinkedHashMap<>();
        Mark before = s.mark();
        long t0 = System.nanoTime();
        int k = 0;
        for (Map<String, Object> record : targets) {
            String title = "Wave " + prefix + " title " + k++;
            s.crm2.update((String) record.get("Id"), Map.of("Title", title));
            String inCrm1 = crm1IdByEmail.get(String.valueOf(record.get("Email")).toLowerCase(Locale.ROOT));
            if (inCrm1 != null) {
                expected.put(inCrm1, title);
            }
        }
        long edited = System.nanoTime();
        System.out.printf("edited %,d records in crm2 in %.2f s (%,d of them known in crm1)%n", targets.size(),
                seconds(edited - t0), expected.size());
        boolean done = waitUntil(t0, () -> s.crm1.calls("PATCH /api/contacts/{id}") - before.crm1Calls()
                .getOrDefault("PATCH /api/contacts/{id}", 0L) >= expected.size() && visible(s.crm1, expected) == expected.size(),
                () -> String.format("crm1 has %,d of %,d; inbox backlog %,d, outbox backlog %,d", visible(s.crm1, expected),
                        expected.size(), s.inboxBacklog(), s.outboxBacklog()));
        long end = System.nanoTime();
        Map<String, Object> phase = new LinkedHashMap<>();
        phase.put("records", targets.size());
        phase.put("completed", done && expected.size() == targets.size());
        phase.put("editSeconds", seconds(edited - t0));
        phase.put("secondsEndToEnd", seconds(end - t0));
        phase.put("endToEndRecordsPerSecond", done ? targets.size() / seconds(end - t0) : null);
        phase.put("visibleInCrm1", visible(s.crm1, expected));
        finish(s, before, phase, targets.size());
        return phase;
    }

    private static int visible(GenericCrmSimulator crm, Map<String, String> expected) {
        int seen = 0;
        for (var e : expected.entrySet()) {
            if (crm.find(e.getKey()).map(r -> e.getValue().equals(r.get("Title"))).orElse(false)) {
                seen++;
            }
        }
        return seen;
    }

    /** Waits for quiet, reads the engine's work from the inbox, the calls, and watches for echoes. */
    private void finish(Service s, Mark before, Map<String, Object> phase, int count) {
        long deadline = Math.max(System.nanoTime(), before.nanos() + timeout.toNanos())
                + Duration.ofSeconds(QUIET_GRACE_SECONDS).toNanos();
        Mark quiet = s.awaitQuiet(deadline);
        phase.put("quiet", quiet.quiet());
        Map<String, Object> engine = s.engine(before, quiet);
        phase.put("engine", engine);
        phase.put("outcomes", diff(before.outcomes(), quiet.outcomes()));
        phase.put("delivery", diff(before.delivery(), quiet.delivery()));
        Map<String, Double> cpu = quiet.cpu().since(before.cpu());
        phase.put("cpuSeconds", cpu);
        phase.put("gc", quiet.cpu().gcSince(before.cpu()));
        long rowsDone = (Long) engine.get("rowsDone");
        if (rowsDone > 0) {
            // CPU the engine spent per change (its workers and the drain, the in-process H2 included), and the
            // whole JVM per record of the scenario (service, simulators, JIT, GC)
            engine.put("cpuMillisPerChange", (cpu.getOrDefault("engine workers", 0.0) + cpu.getOrDefault("inbox drain", 0.0))
                    * 1000 / rowsDone);
            phase.put("cpuMillisPerRecord", (cpu.get("total") + cpu.getOrDefault("database server (postgres)", 0.0))
                    * 1000 / count);
        }
        phase.put("threadsStarted", quiet.cpu().started() - before.cpu().started());
        phase.put("callsPer1000", Map.of("crm1", per1000(before.crm1Calls(), quiet.crm1Calls(), count),
                "crm2", per1000(before.crm2Calls(), quiet.crm2Calls(), count)));
        phase.put("calls", Map.of("crm1", diff(before.crm1Calls(), quiet.crm1Calls()),
                "crm2", diff(before.crm2Calls(), quiet.crm2Calls())));
        long w1 = writes(s.crm1) + writes(s.crm2);
        long inbox1 = s.maxInboxId();
        sleep(ECHO_WATCH);
        phase.put("echoWatchSeconds", ECHO_WATCH.toSeconds());
        // only meaningful once the system went quiet; otherwise it is work still under way
        phase.put("writesAfterQuiet", quiet.quiet() ? writes(s.crm1) + writes(s.crm2) - w1 : null);
        phase.put("inboxRowsAfterQuiet", quiet.quiet() ? s.maxInboxId() - inbox1 : null);
        System.out.printf("done: %s%n", phase);
    }

    private boolean waitUntil(long t0, BooleanSupplier condition, java.util.function.Supplier<String> progress) {
        long deadline = t0 + timeout.toNanos();
        long nextReport = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return true;
            }
            if (System.nanoTime() > nextReport) {
                System.out.printf("  %5.1f s: %s%n", seconds(System.nanoTime() - t0), progress.get());
                nextReport += Duration.ofSeconds(10).toNanos();
            }
            sleep(Duration.ofMillis(50));
        }
        System.out.printf("  timed out after %d s: %s%n", timeout.toSeconds(), progress.get());
        return false;
    }

    /** Person {@code i}: a unique email and last name (so no false possible-duplicates), and optionally a phone. */
    private Map<String, Object> person(String prefix, int i) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("Email", prefix + i + "@example.com");
        p.put("FirstName", FIRST[i % FIRST.length]);
        p.put("LastName", (prefix.equals("p") ? "Person" : "Warmup") + i);
        p.put("Company", COMPANY[i % COMPANY.length]);
        p.put("Title", TITLE[i % TITLE.length]);
        if (phones) {
            String phone = prefix.equals("p") ? phone(i) : null;
            if (phone != null) {
                p.put("Phone", phone);
            }
        }
        return p;
    }

    private static final String[] AREAS = {"415", "628", "650", "510", "408", "212", "646", "312", "617", "206"};

    /** +1 <area> 555 <4 digits>, distinct for the first 100,000 people; null when libphonenumber refuses it. */
    static String phone(int i) {
        String number = String.format(Locale.ROOT, "+1%s555%04d", AREAS[(i / 10_000) % AREAS.length], i % 10_000);
        try {
            PhoneNumberUtil util = PhoneNumberUtil.getInstance();
            return i < 100_000 && util.isValidNumber(util.parse(number, "US")) ? number : null;
        } catch (NumberParseException e) {
            return null;
        }
    }

    // ------------------------------------------------------------------ the service as seen from outside

    /** What the benchmark reads from a running service: its database, meters and the two simulators. */
    private static final class Service {
        final JdbcTemplate jdbc;
        final MeterRegistry meters;
        final GenericCrmSimulator crm1;
        final GenericCrmSimulator crm2;
        final PgServer pg;

        Service(ConfigurableApplicationContext context, GenericCrmSimulator crm1, GenericCrmSimulator crm2, PgServer pg) {
            this.pg = pg;
            this.jdbc = context.getBean(JdbcTemplate.class);
            this.meters = context.getBean(MeterRegistry.class);
            this.crm1 = crm1;
            this.crm2 = crm2;
        }

        long liveContacts() {
            return jdbc.queryForObject("SELECT COUNT(*) FROM contact WHERE deleted_at IS NULL", Long.class);
        }

        long inboxBacklog() {
            return jdbc.queryForObject("SELECT COUNT(*) FROM inbox WHERE state IN ('pending', 'claimed')", Long.class);
        }

        long outboxBacklog() {
            return jdbc.queryForObject("SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'claimed')", Long.class);
        }

        long maxInboxId() {
            return jdbc.queryForObject("SELECT COALESCE(MAX(id), 0) FROM inbox", Long.class);
        }

        Mark mark() {
            return new Mark(System.nanoTime(), maxInboxId(), crm1.callCounts(), crm2.callCounts(),
                    counters("crmsync.sync.changes", "system", "outcome"),
                    counters("crmsync.delivery.sent", "system", "operation"), ThreadCpu.now(pg), true);
        }

        private Map<String, Long> counters(String name, String... tags) {
            Map<String, Long> values = new TreeMap<>();
            for (Counter counter : meters.find(name).counters()) {
                StringBuilder key = new StringBuilder();
                for (String tag : tags) {
                    key.append(key.length() == 0 ? "" : " ").append(counter.getId().getTag(tag));
                }
                values.merge(key.toString(), (long) counter.count(), Long::sum);
            }
            for (Counter counter : meters.find("crmsync.delivery.skipped").counters()) {
                if (name.equals("crmsync.delivery.sent")) {
                    values.merge(counter.getId().getTag("system") + " skipped", (long) counter.count(), Long::sum);
                }
            }
            return values;
        }

        /**
         * Waits until no change is pending, the inbox takes no new row and no simulator is written to
         * for {@link #QUIET}; answers the mark taken when that quiet began.
         */
        Mark awaitQuiet(long deadline) {
            List<Long> last = null;
            Mark since = null;
            while (System.nanoTime() < deadline) {
                List<Long> state = List.of(maxInboxId(), inboxBacklog(), outboxBacklog(), writes(crm1), writes(crm2));
                if (!state.equals(last) || state.get(1) + state.get(2) > 0) {
                    last = state;
                    since = mark();
                } else if (System.nanoTime() - since.nanos() >= QUIET.toNanos()) {
                    return since;
                }
                sleep(Duration.ofMillis(100));
            }
            System.out.println("  not quiet by the deadline");
            Mark now = mark();
            return new Mark(now.nanos(), now.inboxId(), now.crm1Calls(), now.crm2Calls(), now.outcomes(), now.delivery(),
                    now.cpu(), false);
        }

        /** The inbox rows of a scenario: how many, from where, and how fast the engine applied them. */
        Map<String, Object> engine(Mark from, Mark to) {
            Map<String, Object> engine = new LinkedHashMap<>();
            List<Map<String, Object>> rows = jdbc.queryForList("SELECT source_system, state, COUNT(*) AS n, "
                    + "MIN(received_at) AS first_received, MIN(processed_at) AS first_processed, "
                    + "MAX(processed_at) AS last_processed FROM inbox WHERE id > ? AND id <= ? "
                    + "GROUP BY source_system, state ORDER BY source_system, state", from.inboxId(), to.inboxId());
            long done = 0;
            Instant firstReceived = null;
            Instant firstProcessed = null;
            Instant lastProcessed = null;
            Map<String, Object> bySource = new LinkedHashMap<>();
            for (Map<String, Object> row : rows) {
                long n = ((Number) row.get("n")).longValue();
                String state = (String) row.get("state");
                Instant received = instant(row.get("first_received"));
                Instant processed = instant(row.get("first_processed"));
                Instant lastOne = instant(row.get("last_processed"));
                Map<String, Object> source = new LinkedHashMap<>();
                source.put("state", state);
                source.put("rows", n);
                if (state.equals("done")) {
                    done += n;
                    firstReceived = min(firstReceived, received);
                    firstProcessed = min(firstProcessed, processed);
                    lastProcessed = max(lastProcessed, lastOne);
                    source.put("changesPerSecond", rate(n, received, lastOne));
                }
                bySource.put(row.get("source_system") + " " + state, source);
            }
            engine.put("rowsDone", done);
            engine.put("changesPerSecond", rate(done, firstReceived, lastProcessed));
            engine.put("busySeconds", firstReceived == null ? null
                    : Duration.between(firstReceived, lastProcessed).toMillis() / 1000.0);
            engine.put("firstToLastProcessedPerSecond", rate(done, firstProcessed, lastProcessed));
            engine.put("bySource", bySource);
            return engine;
        }

        Map<String, Object> totals() {
            Map<String, Object> totals = new LinkedHashMap<>();
            for (String table : List.of("contact", "contact_link", "contact_history", "inbox", "outbox", "conflict",
                    "dead_letter")) {
                totals.put(table, jdbc.queryForObject("SELECT COUNT(*) FROM " + table, Long.class));
            }
            totals.put("inboxFailed", jdbc.queryForObject("SELECT COUNT(*) FROM inbox WHERE state = 'failed'", Long.class));
            totals.put("outboxDead", jdbc.queryForObject("SELECT COUNT(*) FROM outbox WHERE state = 'dead'", Long.class));
            return totals;
        }
    }

    /** Counters at one moment. */
    private record Mark(long nanos, long inboxId, Map<String, Long> crm1Calls, Map<String, Long> crm2Calls,
                        Map<String, Long> outcomes, Map<String, Long> delivery, ThreadCpu cpu, boolean quiet) {
    }

    static long writes(GenericCrmSimulator crm) {
        long n = 0;
        for (String endpoint : WRITES) {
            n += crm.calls(endpoint);
        }
        return n;
    }

    /** The embedded PostgreSQL server: the postmaster listening on the JDBC URL's port, and its backends. */
    private record PgServer(ProcessHandle postmaster, Path dataDir) {
        static PgServer of(String jdbcUrl) {
            int port = java.net.URI.create(jdbcUrl.substring("jdbc:".length())).getPort();
            java.util.regex.Pattern listens = java.util.regex.Pattern.compile(".*\\s-p\\s+" + port + "(\\s.*|$)");
            return ProcessHandle.allProcesses()
                    .filter(p -> p.info().commandLine().map(c -> c.contains("postgres") && listens.matcher(c).matches())
                            .orElse(false))
                    .findFirst()
                    .map(p -> {
                        var m = java.util.regex.Pattern.compile("\\s-D\\s+(\\S+)").matcher(p.info().commandLine().orElse(""));
                        return new PgServer(p, m.find() ? Path.of(m.group(1)) : null);
                    })
                    .orElse(null);
        }

        /** CPU of the postmaster and every backend alive now (the pool keeps its connections open). */
        long cpuNanos() {
            long nanos = postmaster.info().totalCpuDuration().map(Duration::toNanos).orElse(0L);
            for (ProcessHandle child : postmaster.descendants().toList()) {
                nanos += child.info().totalCpuDuration().map(Duration::toNanos).orElse(0L);
            }
            return nanos;
        }

        void stop() {
            postmaster.destroy(); // SIGTERM: PostgreSQL's smart shutdown
            try {
                postmaster.onExit().get(20, java.util.concurrent.TimeUnit.SECONDS);
                if (dataDir != null && dataDir.startsWith(System.getProperty("java.io.tmpdir"))) {
                    try (var files = Files.walk(dataDir)) {
                        files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
                    }
                }
            } catch (Exception e) {
                System.out.println("could not stop the embedded PostgreSQL (pid " + postmaster.pid() + "): " + e);
            }
        }
    }

    /**
     * CPU time of this JVM and of the whole machine (Linux {@code /proc/stat}), so a run on a machine
     * that others were using at the same time shows it: cores busy on average, this JVM and the rest.
     */
    private record Cpu(long nanos, long processNanos, long machineBusyTicks, long dbNanos) {
        static Cpu now(PgServer pg) {
            long process = ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                    ? os.getProcessCpuTime() : -1;
            long busy = -1;
            try {
                String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
                busy = 0;
                for (int i = 1; i <= 8 && i < f.length; i++) {
                    if (i != 4 && i != 5) { // idle, iowait
                        busy += Long.parseLong(f[i]);
                    }
                }
            } catch (IOException | RuntimeException e) {
                busy = -1;
            }
            return new Cpu(System.nanoTime(), process, busy, pg == null ? -1 : pg.cpuNanos());
        }

        Map<String, Object> since(Cpu start) {
            double wall = (nanos - start.nanos) / 1e9;
            Map<String, Object> cpu = new LinkedHashMap<>();
            cpu.put("wallSeconds", wall);
            double self = processNanos < 0 ? Double.NaN : (processNanos - start.processNanos) / 1e9 / wall;
            cpu.put("thisJvmCores", self);
            double db = dbNanos < 0 ? 0 : (dbNanos - start.dbNanos) / 1e9 / wall;
            if (dbNanos >= 0) {
                cpu.put("databaseServerCores", db);
            }
            if (machineBusyTicks >= 0 && start.machineBusyTicks >= 0) {
                double machine = (machineBusyTicks - start.machineBusyTicks) / 100.0 / wall; // USER_HZ is 100 on Linux
                cpu.put("machineBusyCores", machine);
                cpu.put("otherProcessesCores", Math.max(0, machine - self - db));
            }
            return cpu;
        }
    }

    /**
     * CPU time of this JVM's threads, by what they do (engine workers, delivery, polls, simulators...);
     * the JVM's own threads (GC, JIT) from Linux's /proc; what is left is threads that ended in between.
     */
    private record ThreadCpu(long processNanos, Map<Long, String> names, Map<Long, Long> nanos, long gcCount,
                             long gcMillis, Map<String, Long> internalTicks, long started, long dbNanos) {
        static ThreadCpu now(PgServer pg) {
            var mx = ManagementFactory.getThreadMXBean();
            Map<Long, String> names = new HashMap<>();
            Map<Long, Long> nanos = new HashMap<>();
            for (ThreadInfo info : mx.getThreadInfo(mx.getAllThreadIds(), 0)) {
                if (info != null) {
                    long cpu = mx.getThreadCpuTime(info.getThreadId());
                    if (cpu >= 0) {
                        names.put(info.getThreadId(), info.getThreadName());
                        nanos.put(info.getThreadId(), cpu);
                    }
                }
            }
            long process = ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                    ? os.getProcessCpuTime() : 0;
            long gcCount = 0;
            long gcMillis = 0;
            for (var gc : ManagementFactory.getGarbageCollectorMXBeans()) {
                gcCount += Math.max(0, gc.getCollectionCount());
                gcMillis += Math.max(0, gc.getCollectionTime());
            }
            return new ThreadCpu(process, names, nanos, gcCount, gcMillis, internalThreadTicks(),
                    mx.getTotalStartedThreadCount(), pg == null ? -1 : pg.cpuNanos());
        }

        /**
         * CPU ticks of the JVM's own threads (garbage collector, JIT compilers, VM thread), which Java's
         * thread API does not show: from Linux's /proc/self/task, by thread name; empty elsewhere.
         */
        static Map<String, Long> internalThreadTicks() {
            Map<String, Long> ticks = new HashMap<>();
            try (var tasks = Files.list(Path.of("/proc/self/task"))) {
                for (Path task : (Iterable<Path>) tasks::iterator) {
                    try {
                        String comm = Files.readString(task.resolve("comm")).strip();
                        String kind = comm.startsWith("GC Thread") || comm.startsWith("G1 ") ? "gc"
                                : comm.startsWith("C1 Compiler") || comm.startsWith("C2 Compiler") ? "jit"
                                : comm.equals("VM Thread") || comm.startsWith("VM Periodic") ? "vm" : null;
                        if (kind == null) {
                            continue;
                        }
                        String stat = Files.readString(task.resolve("stat"));
                        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                        ticks.merge(kind, Long.parseLong(f[11]) + Long.parseLong(f[12]), Long::sum);
                    } catch (IOException | RuntimeException e) {
                        // the thread ended while being read
                    }
                }
            } catch (IOException | RuntimeException e) {
                return Map.of();
            }
            return ticks;
        }

        /** Collections and the time the collectors report (pauses, and concurrent cycles for G1's old generation). */
        Map<String, Object> gcSince(ThreadCpu start) {
            return Map.of("collections", gcCount - start.gcCount, "seconds", (gcMillis - start.gcMillis) / 1000.0);
        }

        Map<String, Double> since(ThreadCpu start) {
            Map<String, Double> groups = new TreeMap<>();
            double threads = 0;
            for (var e : nanos.entrySet()) {
                long used = e.getValue() - start.nanos.getOrDefault(e.getKey(), 0L);
                groups.merge(cpuGroup(names.get(e.getKey())), used / 1e9, Double::sum);
                threads += used / 1e9;
            }
            double internal = 0;
            for (var e : internalTicks.entrySet()) {
                double used = (e.getValue() - start.internalTicks.getOrDefault(e.getKey(), 0L)) / 100.0; // USER_HZ
                groups.put("jvm " + e.getKey(), used);
                internal += used;
            }
            groups.put("unaccounted (ended threads)", Math.max(0, (processNanos - start.processNanos) / 1e9 - threads - internal));

            groups.put("total", (processNanos - start.processNanos) / 1e9);
            if (dbNanos >= 0) {
                groups.put("database server (postgres)", (dbNanos - start.dbNanos) / 1e9);
            }
            groups.replaceAll((k, v) -> Math.round(v * 100) / 100.0);
            return groups;
        }

        static String cpuGroup(String name) {
            if (name.startsWith("crmsync-sync")) {
                return "engine workers";
            }
            if (name.contains("inbox-process")) {
                return "inbox drain";
            }
            if (name.contains("-deliver")) {
                return "delivery";
            }
            if (name.contains("_Worker-")) {
                return "polls";
            }
            if (name.startsWith("generic-crm-sim") || name.startsWith("HTTP-Dispatcher")) {
                return "simulators";
            }
            if (name.startsWith("HttpClient")) {
                return "http client";
            }
            if (name.equals("main") || name.startsWith("bench-") || name.contains("EngineBenchmark")) {
                return "benchmark";
            }
            return "other threads";
        }
    }

    // ------------------------------------------------------------------ a poor man's profiler

    /**
     * Samples the service's threads every 50 ms: for each thread group (sync workers, delivery, poll,
     * inbox drain), the share of samples by the first frame inside the project, the database driver,
     * the HTTP client or a lock wait, so the table says where the time goes without a profiler.
     */
    private static final class Sampler {
        static final Duration INTERVAL = Duration.ofMillis(50);
        private final Map<String, Map<String, LongAdder>> counts = new ConcurrentHashMap<>();
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final Thread thread;

        private Sampler() {
            thread = new Thread(this::loop, "bench-sampler");
            thread.setDaemon(true);
        }

        static Sampler start() {
            Sampler sampler = new Sampler();
            sampler.thread.start();
            return sampler;
        }

        private void loop() {
            var mx = ManagementFactory.getThreadMXBean();
            long[] ids = new long[0];
            long refreshed = 0;
            while (running.get()) {
                if (System.nanoTime() - refreshed > Duration.ofSeconds(2).toNanos()) {
                    // names only (depth 0) to pick the threads worth a stack: cheap next to full dumps
                    ids = java.util.Arrays.stream(mx.getThreadInfo(mx.getAllThreadIds(), 0))
                            .filter(info -> info != null && group(info.getThreadName()) != null)
                            .mapToLong(ThreadInfo::getThreadId).toArray();
                    refreshed = System.nanoTime();
                }
                for (ThreadInfo info : mx.getThreadInfo(ids, 60)) {
                    if (info == null) {
                        continue;
                    }
                    counts.computeIfAbsent(group(info.getThreadName()), g -> new ConcurrentHashMap<>())
                            .computeIfAbsent(where(info), w -> new LongAdder()).increment();
                }
                sleep(INTERVAL);
            }
        }

        private static String group(String name) {
            if (name.startsWith("crmsync-sync")) {
                return "sync workers";
            }
            if (name.contains("timer://inbox-process")) {
                return "inbox drain";
            }
            if (name.contains("crm1-deliver") || name.contains("crm2-deliver")) {
                return "delivery " + (name.contains("crm1") ? "crm1" : "crm2");
            }
            if (name.contains("QuartzScheduler_Worker") || name.contains("crm-contact-sync_Worker")) {
                return "poll";
            }
            return null;
        }

        private static String where(ThreadInfo info) {
            StackTraceElement[] stack = info.getStackTrace();
            if (stack.length == 0) {
                return "(no stack)";
            }
            String state = info.getThreadState().toString();
            String project = null;
            String driver = null;
            for (StackTraceElement frame : stack) {
                String c = frame.getClassName();
                if (driver == null && (c.startsWith("org.h2.") || c.startsWith("org.postgresql."))) {
                    driver = c.startsWith("org.h2.") ? "h2" : "pgjdbc";
                }
                if (driver == null && c.startsWith("jdk.internal.net.http")) {
                    driver = "http client";
                }
                if (c.startsWith("dev.crmsync.") && !c.contains("$$")) {
                    project = c.substring(c.lastIndexOf('.') + 1) + "." + frame.getMethodName();
                    break;
                }
            }
            String top = stack[0].getClassName();
            if (project == null) {
                if (top.contains("Thread") || top.startsWith("jdk.internal.misc.Unsafe") || state.equals("TIMED_WAITING")) {
                    return "idle (" + state.toLowerCase(Locale.ROOT) + ")";
                }
                return "other: " + top.substring(top.lastIndexOf('.') + 1) + "." + stack[0].getMethodName();
            }
            return project + (driver == null ? "" : " [" + driver + "]");
        }

        Map<String, Object> stopAndReport() {
            running.set(false);
            Map<String, Object> report = new LinkedHashMap<>();
            counts.forEach((group, byWhere) -> {
                long total = byWhere.values().stream().mapToLong(LongAdder::sum).sum();
                Map<String, Object> shares = new LinkedHashMap<>();
                byWhere.entrySet().stream()
                        .sorted(Comparator.comparingLong((Map.Entry<String, LongAdder> e) -> e.getValue().sum()).reversed())
                        .limit(12)
                        .forEach(e -> shares.put(e.getKey(), Math.round(1000.0 * e.getValue().sum() / total) / 10.0));
                report.put(group + " (" + total + " samples, % )", shares);
            });
            System.out.println("\nThread samples (% of samples per group):");
            report.forEach((group, shares) -> {
                System.out.println("  " + group);
                ((Map<?, ?>) shares).forEach((k, v) -> System.out.printf("    %5.1f  %s%n", (Double) v, k));
            });
            return report;
        }
    }

    // ------------------------------------------------------------------ output

    private void printTable(Map<String, Object> summary, Map<String, Map<String, Object>> runs) {
        List<String> dbs = new ArrayList<>(runs.keySet());
        boolean ratio = dbs.size() == 2;
        List<String[]> rows = new ArrayList<>();
        List<String> header = new ArrayList<>(List.of("metric"));
        dbs.forEach(db -> header.add(db.equals("h2") ? "H2" : "PostgreSQL"));
        if (ratio) {
            header.add(dbs.get(1).equals("postgres") ? "PG/H2" : "ratio");
        }
        addRow(rows, runs, dbs, ratio, "database", r -> r.get("database"));
        addRow(rows, runs, dbs, ratio, "simulator round trip ms", r -> r.get("simulatorRoundTripMs"));
        for (String phase : List.of("initialLoad", "updateWave")) {
            String name = phase.equals("initialLoad") ? "initial load" : "update wave";
            addRow(rows, runs, dbs, ratio, name + ": records", r -> at(r, phase, "records"));
            addRow(rows, runs, dbs, ratio, name + ": completed", r -> at(r, phase, "completed"));
            if (phase.equals("initialLoad")) {
                addRow(rows, runs, dbs, ratio, name + ": s to hub (all live contacts)", r -> at(r, phase, "secondsToHub"));
            }
            addRow(rows, runs, dbs, ratio, name + ": s end to end", r -> at(r, phase, "secondsEndToEnd"));
            addRow(rows, runs, dbs, ratio, name + ": end-to-end records/s", r -> at(r, phase, "endToEndRecordsPerSecond"));
            if (phase.equals("initialLoad") && runs.values().stream().anyMatch(r -> at(r, phase, "reachedCrm2") != null)) {
                addRow(rows, runs, dbs, ratio, name + ": if not completed, in hub by deadline", r -> at(r, phase, "reachedHub"));
                addRow(rows, runs, dbs, ratio, name + ": if not completed, in crm2 by deadline", r -> at(r, phase, "reachedCrm2"));
                addRow(rows, runs, dbs, ratio, name + ": if not completed, records/s to crm2", r -> at(r, phase, "reachedCrm2PerSecond"));
            }
            addRow(rows, runs, dbs, ratio, name + ": engine changes applied", r -> at(r, phase, "engine", "rowsDone"));
            addRow(rows, runs, dbs, ratio, name + ": engine changes/s", r -> at(r, phase, "engine", "changesPerSecond"));
            addRow(rows, runs, dbs, ratio, name + ": engine CPU ms per change", r -> at(r, phase, "engine", "cpuMillisPerChange"));
            addRow(rows, runs, dbs, ratio, name + ": CPU ms per record (JVM + PostgreSQL)", r -> at(r, phase, "cpuMillisPerRecord"));
            for (String source : keys(runs, phase, "engine", "bySource")) {
                addRow(rows, runs, dbs, ratio, name + ":   from " + source + " rows",
                        r -> at(r, phase, "engine", "bySource", source, "rows"));
                addRow(rows, runs, dbs, ratio, name + ":   from " + source + " changes/s",
                        r -> at(r, phase, "engine", "bySource", source, "changesPerSecond"));
            }
            for (String outcome : keys(runs, phase, "outcomes")) {
                addRow(rows, runs, dbs, ratio, name + ":   outcome " + outcome, r -> at(r, phase, "outcomes", outcome));
            }
            for (String crm : List.of("crm1", "crm2")) {
                for (String endpoint : keys(runs, phase, "callsPer1000", crm)) {
                    addRow(rows, runs, dbs, ratio, name + ": " + crm + " " + endpoint + " per 1,000",
                            r -> at(r, phase, "callsPer1000", crm, endpoint));
                }
            }
            addRow(rows, runs, dbs, ratio, name + ": writes after quiet (echoes)", r -> at(r, phase, "writesAfterQuiet"));
            addRow(rows, runs, dbs, ratio, name + ": GC collections", r -> at(r, phase, "gc", "collections"));
            addRow(rows, runs, dbs, ratio, name + ": GC s (collector time)", r -> at(r, phase, "gc", "seconds"));
            for (String group : keys(runs, phase, "cpuSeconds")) {
                addRow(rows, runs, dbs, ratio, name + ": CPU s " + group, r -> at(r, phase, "cpuSeconds", group));
            }
        }
        addRow(rows, runs, dbs, ratio, "peak heap MB", r -> r.get("peakHeapMB"));
        addRow(rows, runs, dbs, ratio, "cores busy: this JVM (avg over run)", r -> at(r, "cpu", "thisJvmCores"));
        addRow(rows, runs, dbs, ratio, "cores busy: PostgreSQL server", r -> at(r, "cpu", "databaseServerCores"));
        addRow(rows, runs, dbs, ratio, "cores busy: other processes (noise)", r -> at(r, "cpu", "otherProcessesCores"));
        addRow(rows, runs, dbs, ratio, "dead letters", r -> at(r, "totals", "dead_letter"));
        addRow(rows, runs, dbs, ratio, "conflicts", r -> at(r, "totals", "conflict"));
        int[] width = new int[header.size()];
        List<String[]> all = new ArrayList<>();
        all.add(header.toArray(String[]::new));
        all.addAll(rows);
        for (String[] row : all) {
            for (int i = 0; i < row.length; i++) {
                width[i] = Math.max(width[i], row[i].length());
            }
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> machine = (Map<String, Object>) summary.get("machine");
        System.out.printf("%nEngine benchmark: %s cores, %s, %s%n", machine.get("cores"), machine.get("java"),
                machine.get("os"));
        System.out.printf("  %s; max heap %s MB%n", machine.get("cpu"), machine.get("maxHeapMB"));
        for (int r = 0; r < all.size(); r++) {
            StringBuilder line = new StringBuilder("| ");
            for (int i = 0; i < width.length; i++) {
                String cell = all.get(r)[i];
                line.append(i == 0 ? pad(cell, width[i], false) : pad(cell, width[i], true)).append(" | ");
            }
            System.out.println(line.toString().stripTrailing());
            if (r == 0) {
                StringBuilder rule = new StringBuilder("|");
                for (int w : width) {
                    rule.append("-".repeat(w + 2)).append("|");
                }
                System.out.println(rule.toString().replaceFirst("-\\|", ":|").replaceFirst("^\\|-", "|-"));
            }
        }
    }

    private static void addRow(List<String[]> rows, Map<String, Map<String, Object>> runs, List<String> dbs, boolean ratio,
                               String label, java.util.function.Function<Map<String, Object>, Object> value) {
        List<String> cells = new ArrayList<>(List.of(label));
        List<Object> values = new ArrayList<>();
        for (String db : dbs) {
            Object v = value.apply(runs.get(db));
            values.add(v);
            cells.add(format(v));
        }
        if (ratio) {
            boolean comparable = label.contains("/s") || label.contains(": s ") || label.contains("per 1,000")
                    || label.contains("heap") || label.contains("CPU");
            cells.add(comparable && values.get(0) instanceof Number a && values.get(1) instanceof Number b
                    && a.doubleValue() != 0 ? String.format(Locale.ROOT, "%.2f", b.doubleValue() / a.doubleValue()) : "");
        }
        rows.add(cells.toArray(String[]::new));
    }

    private static String format(Object v) {
        if (v == null) {
            return "-";
        }
        if (v instanceof Double d) {
            return d >= 100 ? String.format(Locale.ROOT, "%,.0f", d) : String.format(Locale.ROOT, "%,.2f", d);
        }
        if (v instanceof Number n) {
            return String.format(Locale.ROOT, "%,d", n.longValue());
        }
        return v.toString();
    }

    private static String pad(String s, int width, boolean right) {
        return right ? " ".repeat(width - s.length()) + s : s + " ".repeat(width - s.length());
    }

    @SuppressWarnings("unchecked")
    private static Object at(Map<String, Object> map, String... path) {
        Object node = map;
        for (String key : path) {
            if (!(node instanceof Map<?, ?> m)) {
                return null;
            }
            node = ((Map<String, Object>) m).get(key);
        }
        return node;
    }

    /** The keys under {@code path} in any run, in the order first met. */
    @SuppressWarnings("unchecked")
    private static List<String> keys(Map<String, Map<String, Object>> runs, String... path) {
        java.util.LinkedHashSet<String> keys = new java.util.LinkedHashSet<>();
        for (Map<String, Object> run : runs.values()) {
            if (at(run, path) instanceof Map<?, ?> m) {
                keys.addAll(((Map<String, Object>) m).keySet());
            }
        }
        return new ArrayList<>(keys);
    }

    // ------------------------------------------------------------------ helpers

    private static Map<String, Object> machine() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cores", Runtime.getRuntime().availableProcessors());
        m.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " "
                + System.getProperty("os.arch"));
        m.put("cpu", cpu());
        m.put("maxHeapMB", Runtime.getRuntime().maxMemory() / (1024 * 1024));
        m.put("jvmArguments", ManagementFactory.getRuntimeMXBean().getInputArguments());
        return m;
    }

    private static String cpu() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .map(l -> l.substring(l.indexOf(':') + 1).strip()).findFirst().orElse("unknown");
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    private static void resetHeapPeaks() {
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                pool.resetPeakUsage();
            }
        }
    }

    private static long peakHeapBytes() {
        long peak = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                peak += pool.getPeakUsage().getUsed();
            }
        }
        return peak;
    }

    private static Map<String, String> redacted(Map<String, String> properties) {
        Map<String, String> shown = new LinkedHashMap<>(properties);
        shown.replaceAll((k, v) -> k.contains("password") || k.contains("api-key") || k.contains("auth-value") ? "***" : v);
        return shown;
    }

    private static Map<String, Long> diff(Map<String, Long> before, Map<String, Long> after) {
        Map<String, Long> d = new TreeMap<>();
        after.forEach((k, v) -> {
            long n = v - before.getOrDefault(k, 0L);
            if (n != 0) {
                d.put(k, n);
            }
        });
        return d;
    }

    private static Map<String, Double> per1000(Map<String, Long> before, Map<String, Long> after, int count) {
        Map<String, Double> d = new TreeMap<>();
        diff(before, after).forEach((k, v) -> d.put(k, Math.round(v * 1000_0.0 / count) / 10.0));
        return d;
    }

    private static Double rate(long n, Instant from, Instant to) {
        if (from == null || to == null || !to.isAfter(from)) {
            return null;
        }
        return n / (Duration.between(from, to).toNanos() / 1e9);
    }

    private static Instant instant(Object value) {
        if (value == null) {
            return null;
        }
        if (value instanceof OffsetDateTime t) {
            return t.toInstant();
        }
        if (value instanceof Timestamp t) {
            return t.toInstant();
        }
        if (value instanceof java.time.ZonedDateTime t) {
            return t.toInstant();
        }
        throw new IllegalStateException("a time column came back as " + value.getClass());
    }

    private static Instant min(Instant a, Instant b) {
        return a == null ? b : b == null ? a : a.isBefore(b) ? a : b;
    }

    private static Instant max(Instant a, Instant b) {
        return a == null ? b : b == null ? a : a.isAfter(b) ? a : b;
    }

    private static double seconds(long nanos) {
        return nanos / 1e9;
    }

    private static void sleep(Duration duration) {
        try {
            Thread.sleep(duration.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    /** WARN before Spring Boot configures logging, so the simulators and embedded PostgreSQL stay quiet too. */
    private static void quietLogs() {
        if (LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME) instanceof ch.qos.logback.classic.Logger root) {
            root.setLevel(ch.qos.logback.classic.Level.WARN);
        }
    }
}
