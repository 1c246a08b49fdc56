package dev.crmsync.bench;

import java.io.File;
import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import java.util.stream.Stream;

import javax.sql.DataSource;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.crmsync.CrmContactSync;
import dev.crmsync.support.TestPostgres;
import org.slf4j.LoggerFactory;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Throughput and latency of the contacts API (POST /api/contacts, GET /api/contacts/{id}) over real
 * HTTP, on H2 and on PostgreSQL in one run, so the two can be compared as ratios. A benchmark, not a
 * test: it is not part of {@code mvn verify}; only the {@code bench} Maven profile runs it.
 *
 * <pre>
 *   mvn -Pbench -DskipTests verify
 *   mvn -Pbench -DskipTests verify -Dbench.requests=5000 -Dbench.clients=8 -Dbench.databases=h2
 * </pre>
 *
 * The profile forks a JVM ({@code -Xmx1g}, change with {@code -Dbench.jvmArgs=...}) with the test
 * classpath and the project root as working directory (the service reads {@code routes/} from there).
 * Service properties go through the same door, e.g.
 * {@code -Dbench.jvmArgs="-Xmx1g -Dbench.app.camel.metrics.enable-route-policy=false"}. To run it
 * without Maven: {@code java -cp target/test-classes:target/classes:<test classpath> dev.crmsync.bench.ApiBenchmark --requests=5000}.
 *
 * <p>For each database the real service starts in-process with {@link SpringApplication} on a random
 * port: H2 in a fresh temporary data dir, then PostgreSQL 17 (embedded, {@link TestPostgres}) on the
 * {@code postgres} profile. 16 client threads share one {@link HttpClient} (HTTP/1.1, keep-alive) and
 * run a closed loop: a warm-up (creates, then reads; not counted), then N creates with distinct emails,
 * then N reads of random created ids. The warm-up is 10,000 of each by default: with 2,000 the JIT was
 * still compiling the deep Tomcat/Spring/Camel stack during the measured phases, and the database
 * measured first came out 30-40% slower than the same database measured second. Every request's latency and status is recorded; a non-2xx status,
 * a transport failure or a read whose body lacks the id is an error, and a run with errors ends with
 * exit code 1. The table and {@code target/bench/api-summary.json} carry the figures. Client and
 * service share this machine's cores (and, on PostgreSQL, with the postgres server processes).
 *
 * <p>Settings: {@code --name=value} arguments or {@code -Dbench.name=value} system properties:
 * {@code requests} (20000), {@code warmup} (10000), {@code clients} (16), {@code databases}
 * ({@code h2,postgres}), {@code seed} (42), {@code summary} ({@code target/bench/api-summary.json}),
 * {@code jfr} (a folder: a JDK Flight Recorder recording, "profile" settings, of each measured phase).
 * Service properties to try a change without a rebuild: {@code --app.KEY=VALUE} (both databases),
 * {@code --h2.KEY=VALUE}, {@code --postgres.KEY=VALUE}, or the same as {@code -Dbench.app.KEY=VALUE} etc.
 */
public final class ApiBenchmark {

    /** Fixed test credentials, passed to the service as properties; never printed. */
    private static final String API_KEY = "bench-api-key-4f7c1e9a2b6d8035";
    private static final String ADMIN_PASSWORD = "bench-admin-pw-9d2e6a4c1f7b3058";

    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);
    private static final int ERROR_SAMPLES = 5;

    /** Where each measured phase's flight recording goes, or null for none. */
    private static Path jfrFolder;

    private ApiBenchmark() {
    }

    // ---------------------------------------------------------------------------------------------
    // settings

    record Settings(int requests, int warmup, int clients, List<String> databases, long seed, Path summary, Path jfr,
                    Map<String, String> appProperties, Map<String, Map<String, String>> perDatabase) {

        static Settings from(String[] args) {
            Map<String, String> given = new LinkedHashMap<>();
            System.getProperties().stringPropertyNames().stream().sorted()
                    .filter(name -> name.startsWith("bench.") && !name.equals("bench.jvmArgs"))
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
                } else {
                    plain.put(name, value);
                }
            });
            int requests = positive(plain, "requests", 20_000);
            int warmup = nonNegative(plain, "warmup", 10_000);
            int clients = positive(plain, "clients", 16);
            long seed = Long.parseLong(plain.getOrDefault("seed", "42").strip());
            List<String> databases = Arrays.stream(plain.getOrDefault("databases", "h2,postgres").split(","))
                    .map(String::strip).filter(s -> !s.isEmpty()).map(s -> s.toLowerCase(Locale.ROOT)).toList();
            for (String db : databases) {
                if (!db.equals("h2") && !db.equals("postgres")) {
                    throw new IllegalArgumentException("databases are h2 and postgres, not " + db);
                }
            }
            if (databases.isEmpty()) {
                throw new IllegalArgumentException("name at least one database: --databases=h2,postgres");
            }
            Path summary = Path.of(plain.getOrDefault("summary", "target/bench/api-summary.json"));
            Path jfr = plain.containsKey("jfr") ? Path.of(plain.get("jfr")) : null;
            plain.keySet().stream()
                    .filter(k -> !List.of("requests", "warmup", "clients", "seed", "databases", "summary", "jfr").contains(k))
                    .findFirst().ifPresent(k -> {
                        throw new IllegalArgumentException("unknown setting " + k);
                    });
            return new Settings(requests, warmup, clients, databases, seed, summary, jfr, app, perDatabase);
        }

        private static int positive(Map<String, String> given, String name, int fallback) {
            int value = nonNegative(given, name, fallback);
            if (value == 0) {
                throw new IllegalArgumentException(name + " must be at least 1");
            }
            return value;
        }

        private static int nonNegative(Map<String, String> given, String name, int fallback) {
            String text = given.get(name);
            int value = text == null ? fallback : Integer.parseInt(text.strip().replace("_", ""));
            if (value < 0) {
                throw new IllegalArgumentException(name + " must not be negative");
            }
            return value;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // results

    /**
     * One measured phase. Latencies in milliseconds; heap in bytes; CPU in cores busy on average: this JVM
     * (client and service), the PostgreSQL server's processes, and the rest of the machine (other load
     * that competed with the run; it should be near 0).
     */
    record Phase(String database, String operation, int requests, int errors, Map<String, Integer> statuses,
                 List<String> errorSamples, double seconds, double requestsPerSecond, double meanMs, double p50Ms,
                 double p90Ms, double p99Ms, double maxMs, long peakHeapBytes, long gcCount, long gcMillis,
                 double jvmCpuCores, double databaseCpuCores, double otherCpuCores, long allocatedBytes) {

        /** Heap allocated per request by all threads of this JVM (clients included): steady under competing load. */
        double allocatedKbPerRequest() {
            return allocatedBytes < 0 ? Double.NaN : allocatedBytes / 1024.0 / requests;
        }

        /** CPU time this JVM (clients included) and the database server spent per request. */
        double cpuMsPerRequest() {
            return (jvmCpuCores + (Double.isNaN(databaseCpuCores) ? 0 : databaseCpuCores)) * seconds * 1000 / requests;
        }
    }

    record Run(String database, Map<String, Object> service, List<Phase> phases, long rowsInContactTable,
               long createdOk) {
    }

    // ---------------------------------------------------------------------------------------------

    public static void main(String[] args) throws Exception {
        quietLogging();
        Settings settings = Settings.from(args);
        jfrFolder = settings.jfr();
        Path home = Path.of("").toAbsolutePath();
        if (!Files.isRegularFile(home.resolve("routes/api-contacts.camel.yaml"))) {
            throw new IllegalStateException("run from the project root (routes/api-contacts.camel.yaml is not in " + home + ")");
        }
        Map<String, Object> machine = machine();
        System.out.printf("%nCRM Contact Sync API benchmark: %d clients, %d warm-up + %d creates + %d reads per database (%s)%n",
                settings.clients(), settings.warmup(), settings.requests(), settings.requests(),
                String.join(", ", settings.databases()));
        System.out.printf("machine: %s cores, %s %s, Java %s (%s), max heap %d MB, GC %s%n",
                machine.get("cores"), machine.get("os"), machine.get("osArch"), machine.get("java"),
                machine.get("vm"), (Long) machine.get("maxHeapBytes") >> 20, machine.get("gc"));
        printOverrides("all", settings.appProperties());
        settings.perDatabase().forEach((db, props) -> printOverrides(db, props));

        List<Run> runs = new ArrayList<>();
        for (String database : settings.databases()) {
            runs.add(runOn(database, home, settings));
        }

        printTable(runs, machine);
        Map<String, Object> summary = summary(settings, machine, runs);
        Path out = settings.summary().isAbsolute() ? settings.summary() : home.resolve(settings.summary());
        Files.createDirectories(out.getParent());
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.toFile(), summary);
        System.out.println("summary written to " + (out.startsWith(home) ? home.relativize(out) : out));

        long errors = runs.stream().flatMap(r -> r.phases().stream()).mapToLong(Phase::errors).sum();
        boolean countsOff = runs.stream().anyMatch(r -> r.rowsInContactTable() != r.createdOk());
        if (errors > 0 || countsOff) {
            System.out.println();
            System.out.println("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
            System.out.printf("!!! THIS RUN HAD %d FAILED REQUESTS%s: ITS FIGURES ARE NOT VALID%n", errors,
                    countsOff ? " AND A CONTACT COUNT THAT DOES NOT MATCH THE CREATES" : "");
            System.out.println("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
            System.exit(1);
        }
        System.exit(0);
    }

    private static Run runOn(String database, Path home, Settings settings) throws Exception {
        List<String> appArgs = new ArrayList<>(List.of(
                "--server.port=0",
                "--crmsync.home=" + home,
                "--crmsync.api-key=" + API_KEY,
                "--crmsync.admin.password=" + ADMIN_PASSWORD,
                "--logging.level.root=WARN",
                "--spring.main.banner-mode=off"));
        SpringApplication application = new SpringApplication(CrmContactSync.class);
        Path dataDir = null;
        if (database.equals("h2")) {
            dataDir = Files.createTempDirectory("crmsync-bench-h2-");
            appArgs.add("--crmsync.data-dir=" + dataDir);
        } else {
            System.out.printf("%n[postgres] starting embedded PostgreSQL ...%n");
            String url = TestPostgres.newDatabase();
            databaseServer = postmaster(url);
            application.setAdditionalProfiles("postgres");
            appArgs.add("--CRMSYNC_DB_URL=" + url);
            appArgs.add("--CRMSYNC_DB_USER=postgres");
            appArgs.add("--CRMSYNC_DB_PASSWORD=postgres");
        }
        settings.appProperties().forEach((k, v) -> appArgs.add("--" + k + "=" + v));
        settings.perDatabase().get(database).forEach((k, v) -> appArgs.add("--" + k + "=" + v));

        checkIdle(database);
        System.out.printf("%n[%s] starting the service ...%n", database);
        long startedAt = System.nanoTime();
        try (ConfigurableApplicationContext context = application.run(appArgs.toArray(String[]::new))) {
            int port = Integer.parseInt(context.getEnvironment().getRequiredProperty("local.server.port"));
            DataSource dataSource = context.getBean(DataSource.class);
            Map<String, Object> service = describeService(context, dataSource, database);
            System.out.printf("[%s] up on port %d in %.1f s; %s%n", database, port,
                    (System.nanoTime() - startedAt) / 1e9, service);

            Client client = new Client(URI.create("http://127.0.0.1:" + port));
            String tag = Long.toString(System.currentTimeMillis(), 36);
            int total = settings.warmup() + settings.requests();
            String[] ids = new String[total];
            List<Phase> phases = new ArrayList<>();

            if (settings.warmup() > 0) {
                System.out.printf("[%s] warm-up: %d creates, %d reads%n", database, settings.warmup(), settings.warmup());
                Phase warmCreates = creates(client, database, "warm-up create", tag, ids, 0, settings.warmup(), settings.clients());
                Phase warmReads = reads(client, database, "warm-up read", ids, 0, settings.warmup(), settings.warmup(),
                        settings.clients(), settings.seed() - 1);
                warnIfErrors(warmCreates);
                warnIfErrors(warmReads);
                // warm-up errors make the run invalid too, but stay out of the table
                if (warmCreates.errors() + warmReads.errors() > 0) {
                    phases.add(warmCreates);
                    phases.add(warmReads);
                }
            }
            System.out.printf("[%s] measuring %d creates ...%n", database, settings.requests());
            Phase create = creates(client, database, "create", tag, ids, settings.warmup(), settings.requests(), settings.clients());
            phases.add(create);
            printPhase(create);
            System.out.printf("[%s] measuring %d reads ...%n", database, settings.requests());
            Phase read = reads(client, database, "read", ids, settings.warmup(), settings.requests(), settings.requests(),
                    settings.clients(), settings.seed());
            phases.add(read);
            printPhase(read);

            long createdOk = Arrays.stream(ids).filter(id -> id != null).count();
            long rows = count(dataSource);
            if (rows != createdOk) {
                System.out.printf("[%s] !!! the contact table has %d rows but %d creates succeeded%n", database, rows, createdOk);
            }
            phases.stream().filter(p -> p.errors() > 0 && !p.operation().startsWith("warm-up")).forEach(ApiBenchmark::warnIfErrors);
            return new Run(database, service, phases, rows, createdOk);
        } finally {
            databaseServer = null;
            if (dataDir != null) {
                deleteTree(dataDir);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // the load

    /** One shared HTTP/1.1 client; each request carries the API key. */
    private static final class Client {
        final HttpClient http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10))
                .build();
        final URI base;

        Client(URI base) {
            this.base = base;
        }

        HttpRequest.Builder request(String path) {
            return HttpRequest.newBuilder(base.resolve(path)).timeout(REQUEST_TIMEOUT).header("X-Api-Key", API_KEY);
        }
    }

    private static Phase creates(Client client, String database, String operation, String tag, String[] ids,
                                 int offset, int count, int clients) throws Exception {
        return measure(database, operation, count, clients, i -> {
            int n = offset + i;
            String body = "{\"email\":\"bench-" + tag + "-" + n + "@example.com\",\"firstName\":\"Bench\","
                    + "\"lastName\":\"Contact " + n + "\",\"company\":\"Acme Benchmarks\",\"title\":\"Load\","
                    + "\"tags\":[\"bench\"],\"custom\":{\"run\":\"" + tag + "\",\"n\":" + n + "}}";
            HttpRequest request = client.request("/api/contacts")
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body))
                    .build();
            return new Call(request, response -> {
                if (response.statusCode() != 201) {
                    return false;
                }
                String location = response.headers().firstValue("Location").orElse("");
                int slash = location.lastIndexOf('/');
                if (slash < 0 || slash == location.length() - 1) {
                    return false;
                }
                ids[n] = location.substring(slash + 1);
                return true;
            });
        }, client);
    }

    private static Phase reads(Client client, String database, String operation, String[] ids, int from, int count,
                               int requests, int clients, long seed) throws Exception {
        String[] pool = Arrays.stream(ids, from, from + count).filter(id -> id != null).toArray(String[]::new);
        if (pool.length == 0) {
            // every create failed: the reads cannot run, and each counts as a failed request
            return new Phase(database, operation, requests, requests, Map.of("not-run: no contact was created", requests),
                    List.of(), 0, 0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, 0, 0, 0,
                    Double.NaN, Double.NaN, Double.NaN, -1);
        }
        Random random = new Random(seed);
        int[] picks = new int[requests];
        for (int i = 0; i < requests; i++) {
            picks[i] = random.nextInt(pool.length);
        }
        return measure(database, operation, requests, clients, i -> {
            String id = pool[picks[i]];
            HttpRequest request = client.request("/api/contacts/" + id).GET().build();
            // a 200 that is not the contact asked for is an error too
            return new Call(request, response -> response.statusCode() == 200
                    && new String(response.body(), StandardCharsets.UTF_8).contains("\"id\":\"" + id + "\""));
        }, client);
    }

    /** A request and what makes its answer right (a 2xx that fails the check counts as an error). */
    private record Call(HttpRequest request, java.util.function.Predicate<HttpResponse<byte[]>> check) {
    }

    private static Phase measure(String database, String operation, int count, int clients, IntFunction<Call> calls,
                                 Client client) throws Exception {
        long[] latencies = new long[count];
        int[] statuses = new int[count];
        List<String> samples = java.util.Collections.synchronizedList(new ArrayList<>());
        AtomicInteger next = new AtomicInteger();
        Meter meter = Meter.start();
        jdk.jfr.Recording recording = null;
        if (jfrFolder != null && !operation.startsWith("warm-up")) {
            recording = new jdk.jfr.Recording(jdk.jfr.Configuration.getConfiguration("profile"));
            recording.start();
        }
        ExecutorService pool = Executors.newFixedThreadPool(clients, runnable -> {
            Thread thread = new Thread(runnable, "bench-client");
            thread.setDaemon(true);
            return thread;
        });
        long started = System.nanoTime();
        try {
            List<Future<?>> workers = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                workers.add(pool.submit(() -> {
                    for (int i = next.getAndIncrement(); i < count; i = next.getAndIncrement()) {
                        Call call = calls.apply(i);
                        long t0 = System.nanoTime();
                        int status;
                        try {
                            HttpResponse<byte[]> response = client.http.send(call.request(), HttpResponse.BodyHandlers.ofByteArray());
                            latencies[i] = System.nanoTime() - t0;
                            status = response.statusCode();
                            boolean ok = call.check().test(response);
                            if (!ok && samples.size() < ERROR_SAMPLES) {
                                samples.add(status + " " + call.request().method() + " " + call.request().uri().getPath()
                                        + ": " + abbreviate(new String(response.body(), StandardCharsets.UTF_8)));
                            }
                            if (!ok && status / 100 == 2) {
                                status = 0; // a 2xx with the wrong content
                            }
                        } catch (IOException e) {
                            latencies[i] = System.nanoTime() - t0;
                            status = -1;
                            if (samples.size() < ERROR_SAMPLES) {
                                samples.add("transport " + call.request().method() + " " + call.request().uri().getPath()
                                        + ": " + e);
                            }
                        }
                        statuses[i] = status;
                    }
                    return null;
                }));
            }
            for (Future<?> worker : workers) {
                worker.get();
            }
        } finally {
            pool.shutdownNow();
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        Meter.Reading usage = meter.stop();
        if (recording != null) {
            recording.stop();
            Files.createDirectories(jfrFolder);
            Path file = jfrFolder.resolve(database + "-" + operation + ".jfr");
            recording.dump(file);
            recording.close();
            System.out.printf("[%s] flight recording of %s: %s%n", database, operation, file);
        }

        Map<String, Integer> byStatus = new TreeMap<>();
        int errors = 0;
        for (int status : statuses) {
            String key = status == -1 ? "transport-error" : status == 0 ? "2xx-wrong-body" : Integer.toString(status);
            byStatus.merge(key, 1, Integer::sum);
            if (status / 100 != 2) {
                errors++;
            }
        }
        long[] sorted = latencies.clone();
        Arrays.sort(sorted);
        double mean = Arrays.stream(sorted).average().orElse(0) / 1e6;
        return new Phase(database, operation, count, errors, byStatus, List.copyOf(samples), seconds, count / seconds,
                mean, percentile(sorted, 0.50), percentile(sorted, 0.90), percentile(sorted, 0.99),
                sorted[sorted.length - 1] / 1e6, usage.peakHeapBytes(), usage.gcCount(), usage.gcMillis(),
                usage.jvmCores(), usage.databaseCores(), usage.otherCores(), usage.allocatedBytes());
    }

    /** Nearest-rank percentile, in milliseconds. */
    private static double percentile(long[] sorted, double q) {
        int rank = (int) Math.ceil(q * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))] / 1e6;
    }

    // ---------------------------------------------------------------------------------------------
    // JVM and machine

    /** The PostgreSQL server measured now (its postmaster), or null: its processes' CPU is counted per phase. */
    private static volatile ProcessHandle databaseServer;

    /**
     * Peak heap (sum of the heap pools' peaks, reset at start), GC, and CPU of one phase: this JVM, the
     * database server's processes, and the machine as a whole (Linux /proc/stat).
     */
    private record Meter(long gcCountAtStart, long gcMillisAtStart, long cpuNanosAtStart, long databaseNanosAtStart,
                         long[] ticksAtStart, long wallNanosAtStart, Map<Long, Long> allocatedAtStart) {

        record Reading(long peakHeapBytes, long gcCount, long gcMillis, double jvmCores, double databaseCores,
                       double machineCores, long allocatedBytes) {

            /** Cores busy outside this JVM and the database server: competing load. */
            double otherCores() {
                return machineCores - jvmCores - (Double.isNaN(databaseCores) ? 0 : databaseCores);
            }
        }

        static Meter start() {
            System.gc();
            heapPools().forEach(MemoryPoolMXBean::resetPeakUsage);
            return new Meter(gcCount(), gcMillis(), cpuNanos(), databaseNanos(), machineTicks(), System.nanoTime(),
                    allocatedByThread());
        }

        Reading stop() {
            long wall = System.nanoTime() - wallNanosAtStart;
            long peak = heapPools().mapToLong(pool -> pool.getPeakUsage().getUsed()).sum();
            long[] ticks = machineTicks();
            double machine = Double.NaN;
            if (ticks != null && ticksAtStart != null) {
                long totalDelta = ticks[0] - ticksAtStart[0];
                long idleDelta = ticks[1] - ticksAtStart[1];
                machine = totalDelta <= 0 ? Double.NaN : (double) (totalDelta - idleDelta) / totalDelta * ticks[2];
            }
            long cpu = cpuNanos();
            long database = databaseNanos();
            Map<Long, Long> allocated = allocatedByThread();
            long allocatedBytes = allocated.isEmpty() ? -1 : allocated.entrySet().stream()
                    .mapToLong(e -> e.getValue() - allocatedAtStart.getOrDefault(e.getKey(), 0L)).sum();
            return new Reading(peak, gcCount() - gcCountAtStart, gcMillis() - gcMillisAtStart,
                    cpu < 0 ? Double.NaN : (double) (cpu - cpuNanosAtStart) / wall,
                    database < 0 || databaseNanosAtStart < 0 ? Double.NaN : (double) (database - databaseNanosAtStart) / wall,
                    machine, allocatedBytes);
        }

        /** Bytes each live thread has allocated so far (threads that end within a phase are not counted). */
        static Map<Long, Long> allocatedByThread() {
            Map<Long, Long> allocated = new java.util.HashMap<>();
            if (ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean threads
                    && threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled()) {
                long[] ids = threads.getAllThreadIds();
                long[] bytes = threads.getThreadAllocatedBytes(ids);
                for (int i = 0; i < ids.length; i++) {
                    if (bytes[i] >= 0) {
                        allocated.put(ids[i], bytes[i]);
                    }
                }
            }
            return allocated;
        }

        static Stream<MemoryPoolMXBean> heapPools() {
            return ManagementFactory.getMemoryPoolMXBeans().stream().filter(pool -> pool.getType() == MemoryType.HEAP);
        }

        static long gcCount() {
            return ManagementFactory.getGarbageCollectorMXBeans().stream()
                    .mapToLong(GarbageCollectorMXBean::getCollectionCount).filter(n -> n > 0).sum();
        }

        static long gcMillis() {
            return ManagementFactory.getGarbageCollectorMXBeans().stream()
                    .mapToLong(GarbageCollectorMXBean::getCollectionTime).filter(n -> n > 0).sum();
        }

        static long cpuNanos() {
            return ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                    ? os.getProcessCpuTime() : -1;
        }

        /** CPU time of the database server and its backends (those alive now), or -1 without one. */
        static long databaseNanos() {
            ProcessHandle server = databaseServer;
            if (server == null) {
                return -1;
            }
            return Stream.concat(Stream.of(server), server.descendants())
                    .mapToLong(p -> p.info().totalCpuDuration().map(Duration::toNanos).orElse(0L)).sum();
        }

        /** Linux /proc/stat: {all ticks, idle + iowait ticks, number of CPUs}, or null elsewhere. */
        static long[] machineTicks() {
            try {
                List<String> lines = Files.readAllLines(Path.of("/proc/stat"));
                long cpus = lines.stream().filter(l -> l.matches("cpu\\d+ .*")).count();
                long[] fields = Arrays.stream(lines.get(0).substring(3).trim().split("\\s+")).mapToLong(Long::parseLong).toArray();
                long total = 0;
                for (int i = 0; i < Math.min(fields.length, 8); i++) {
                    total += fields[i];
                }
                return new long[] {total, fields[3] + (fields.length > 4 ? fields[4] : 0), cpus};
            } catch (IOException | RuntimeException e) {
                return null;
            }
        }
    }

    /** Warns when the machine is busy before a run: competing load makes the figures worse than they are. */
    private static void checkIdle(String database) throws InterruptedException {
        long[] before = Meter.machineTicks();
        Thread.sleep(2_000);
        long[] after = Meter.machineTicks();
        if (before != null && after != null && after[0] > before[0]) {
            double busy = (double) ((after[0] - before[0]) - (after[1] - before[1])) / (after[0] - before[0]) * after[2];
            if (busy > 0.2) {
                System.out.printf("[%s] !!! the machine is not idle before the run: %.2f cores busy in other processes; "
                        + "the figures will understate the service%n", database, busy);
            }
        }
    }

    /** The postmaster listening on the port of a JDBC URL, if it runs on this machine. */
    private static ProcessHandle postmaster(String jdbcUrl) {
        java.util.regex.Matcher port = java.util.regex.Pattern.compile("//[^:/]+:(\\d+)/").matcher(jdbcUrl);
        if (!port.find()) {
            return null;
        }
        String flag = "-p " + port.group(1);
        return ProcessHandle.allProcesses()
                .filter(p -> p.info().commandLine().map(c -> c.contains("postgres") && c.contains(flag)).orElse(false))
                .filter(p -> p.parent().map(parent -> !parent.info().command().orElse("").endsWith("postgres")).orElse(true))
                .findFirst().orElse(null);
    }

    private static Map<String, Object> machine() {
        Map<String, Object> machine = new LinkedHashMap<>();
        machine.put("cores", Runtime.getRuntime().availableProcessors());
        machine.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
        machine.put("osArch", System.getProperty("os.arch"));
        machine.put("java", System.getProperty("java.version"));
        machine.put("vm", System.getProperty("java.vm.name") + " " + System.getProperty("java.vm.version"));
        machine.put("maxHeapBytes", Runtime.getRuntime().maxMemory());
        machine.put("gc", String.join("+", ManagementFactory.getGarbageCollectorMXBeans().stream()
                .map(GarbageCollectorMXBean::getName).toList()));
        machine.put("jvmArguments", ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(a -> !a.startsWith("-Dbench.")).toList());
        return machine;
    }

    /** What the measured service ran with: database and version, its key settings, pool and thread sizes. */
    private static Map<String, Object> describeService(ConfigurableApplicationContext context, DataSource dataSource,
                                                       String database) throws SQLException {
        var env = context.getEnvironment();
        Map<String, Object> service = new LinkedHashMap<>();
        try (Connection connection = dataSource.getConnection(); Statement statement = connection.createStatement()) {
            var meta = connection.getMetaData();
            service.put("database", meta.getDatabaseProductName() + " " + meta.getDatabaseProductVersion());
            if (database.equals("postgres")) {
                for (String setting : List.of("synchronous_commit", "fsync", "shared_buffers", "max_connections")) {
                    try (ResultSet rs = statement.executeQuery("SHOW " + setting)) {
                        rs.next();
                        service.put(setting, rs.getString(1));
                    }
                }
            } else {
                // the H2 URL carries no secret: the options in force
                String url = env.getProperty("spring.datasource.url", "");
                int semicolon = url.indexOf(';');
                service.put("h2Options", semicolon < 0 ? "" : url.substring(semicolon + 1));
            }
        }
        if (LoggerFactory.getILoggerFactory() instanceof ch.qos.logback.classic.LoggerContext logback
                && !logback.getTurboFilterList().isEmpty()) {
            // a turbo filter makes every disabled log.debug/trace call pay for the filter chain
            service.put("logbackTurboFilters", logback.getTurboFilterList().stream()
                    .map(f -> f.getClass().getName()).toList());
        }
        service.put("hikariMaximumPoolSize", env.getProperty("spring.datasource.hikari.maximum-pool-size", "10"));
        service.put("tomcatMaxThreads", env.getProperty("server.tomcat.threads.max", "200"));
        return service;
    }

    private static long count(DataSource dataSource) throws SQLException {
        try (Connection connection = dataSource.getConnection(); Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SELECT COUNT(*) FROM contact")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // output

    private static void printPhase(Phase p) {
        System.out.printf("[%s] %-6s %,d requests in %.1f s: %,.0f/s, p50 %.2f ms, p99 %.2f ms, max %.1f ms, "
                        + "%d errors; cores busy: JVM %.2f, database server %s, other %.2f; per request: CPU %.2f ms, "
                        + "heap allocated %.0f KB%n",
                p.database(), p.operation(), p.requests(), p.seconds(), p.requestsPerSecond(), p.p50Ms(), p.p99Ms(),
                p.maxMs(), p.errors(), p.jvmCpuCores(),
                Double.isNaN(p.databaseCpuCores()) ? "-" : String.format("%.2f", p.databaseCpuCores()),
                p.otherCpuCores(), p.cpuMsPerRequest(), p.allocatedKbPerRequest());
        if (p.otherCpuCores() > 0.2) {
            System.out.printf("[%s] !!! %.2f cores went to other processes during %s: the machine was shared%n",
                    p.database(), p.otherCpuCores(), p.operation());
        }
    }

    private static void warnIfErrors(Phase p) {
        if (p.errors() > 0) {
            System.out.printf("[%s] !!! %s: %d of %d requests FAILED %s%n", p.database(), p.operation(), p.errors(),
                    p.requests(), p.statuses());
            p.errorSamples().forEach(sample -> System.out.println("      " + sample));
        }
    }

    private static void printTable(List<Run> runs, Map<String, Object> machine) {
        String line = "-".repeat(122);
        System.out.println();
        System.out.println(line);
        System.out.printf("%-8s %-9s %8s %6s %10s %8s %8s %8s %8s %8s %7s %5s %5s %5s%n", "database", "operation",
                "requests", "errors", "requests/s", "mean ms", "p50 ms", "p90 ms", "p99 ms", "max ms", "heap MB",
                "jvm", "db", "other");
        System.out.println(line);
        for (Run run : runs) {
            for (Phase p : run.phases()) {
                System.out.printf("%-8s %-9s %8d %6d %10.0f %8.2f %8.2f %8.2f %8.2f %8.1f %7d %5.2f %5s %5.2f%n",
                        p.database(), p.operation(), p.requests(), p.errors(), p.requestsPerSecond(), p.meanMs(), p.p50Ms(),
                        p.p90Ms(), p.p99Ms(), p.maxMs(), p.peakHeapBytes() >> 20, p.jvmCpuCores(),
                        Double.isNaN(p.databaseCpuCores()) ? "-" : String.format("%.2f", p.databaseCpuCores()),
                        p.otherCpuCores());
            }
        }
        System.out.println(line);
        System.out.printf("machine: %s cores, %s, Java %s. heap MB: peak heap of the JVM in the phase (sum of the heap "
                        + "pools' peaks). jvm/db/other: cores busy in this JVM (clients + service), the database server, "
                        + "other processes%n", machine.get("cores"), machine.get("os"), machine.get("java"));
        for (Run run : runs) {
            System.out.printf("%s: %s%n", run.database(), run.service());
        }
        Map<String, Map<String, Object>> ratios = ratios(runs);
        ratios.forEach((operation, ratio) -> System.out.printf(
                "postgres / h2, %s: requests/s x%.2f, p50 x%.2f, p99 x%.2f%n", operation,
                ratio.get("requestsPerSecond"), ratio.get("p50"), ratio.get("p99")));
        runs.stream().filter(r -> r.database().equals("h2")).flatMap(r -> r.phases().stream())
                .filter(p -> p.operation().equals("create")).findFirst().ifPresent(p -> System.out.printf(
                        "aim (H2 creates >= 1000/s with p99 < 50 ms): %s (%.0f/s, p99 %.1f ms)%n",
                        p.requestsPerSecond() >= 1000 && p.p99Ms() < 50 && p.errors() == 0 ? "met" : "NOT MET",
                        p.requestsPerSecond(), p.p99Ms()));
    }

    private static Map<String, Map<String, Object>> ratios(List<Run> runs) {
        Map<String, Map<String, Object>> ratios = new LinkedHashMap<>();
        Map<String, Phase> h2 = phases(runs, "h2");
        Map<String, Phase> pg = phases(runs, "postgres");
        for (String operation : List.of("create", "read")) {
            Phase a = h2.get(operation);
            Phase b = pg.get(operation);
            if (a != null && b != null) {
                Map<String, Object> ratio = new LinkedHashMap<>();
                ratio.put("requestsPerSecond", round(b.requestsPerSecond() / a.requestsPerSecond()));
                ratio.put("p50", round(b.p50Ms() / a.p50Ms()));
                ratio.put("p99", round(b.p99Ms() / a.p99Ms()));
                ratios.put(operation, ratio);
            }
        }
        return ratios;
    }

    private static Map<String, Phase> phases(List<Run> runs, String database) {
        Map<String, Phase> phases = new LinkedHashMap<>();
        runs.stream().filter(r -> r.database().equals(database)).flatMap(r -> r.phases().stream())
                .forEach(p -> phases.put(p.operation(), p));
        return phases;
    }

    private static Map<String, Object> summary(Settings settings, Map<String, Object> machine, List<Run> runs) {
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("benchmark", "contacts API over HTTP/1.1");
        summary.put("finishedAt", Instant.now().toString());
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("requests", settings.requests());
        config.put("warmup", settings.warmup());
        config.put("clients", settings.clients());
        config.put("databases", settings.databases());
        config.put("seed", settings.seed());
        config.put("overrides", masked(settings.appProperties()));
        config.put("h2Overrides", masked(settings.perDatabase().get("h2")));
        config.put("postgresOverrides", masked(settings.perDatabase().get("postgres")));
        summary.put("settings", config);
        summary.put("machine", machine);
        List<Object> results = new ArrayList<>();
        for (Run run : runs) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("database", run.database());
            r.put("service", run.service());
            r.put("contactRows", run.rowsInContactTable());
            r.put("createdOk", run.createdOk());
            List<Object> phases = new ArrayList<>();
            for (Phase p : run.phases()) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("operation", p.operation());
                m.put("requests", p.requests());
                m.put("errors", p.errors());
                m.put("statuses", p.statuses());
                m.put("errorSamples", p.errorSamples());
                m.put("seconds", round(p.seconds()));
                m.put("requestsPerSecond", round(p.requestsPerSecond()));
                m.put("meanMs", round(p.meanMs()));
                m.put("p50Ms", round(p.p50Ms()));
                m.put("p90Ms", round(p.p90Ms()));
                m.put("p99Ms", round(p.p99Ms()));
                m.put("maxMs", round(p.maxMs()));
                m.put("peakHeapBytes", p.peakHeapBytes());
                m.put("gcCount", p.gcCount());
                m.put("gcMillis", p.gcMillis());
                m.put("jvmCpuCores", round(p.jvmCpuCores()));
                m.put("databaseServerCpuCores", round(p.databaseCpuCores()));
                m.put("otherProcessesCpuCores", round(p.otherCpuCores()));
                m.put("cpuMsPerRequest", round(p.cpuMsPerRequest()));
                m.put("allocatedKbPerRequest", round(p.allocatedKbPerRequest()));
                phases.add(m);
            }
            r.put("phases", phases);
            results.add(r);
        }
        summary.put("results", results);
        summary.put("postgresOverH2", ratios(runs));
        long errors = runs.stream().flatMap(r -> r.phases().stream()).mapToLong(Phase::errors).sum();
        summary.put("errors", errors);
        summary.put("valid", errors == 0 && runs.stream().allMatch(r -> r.rowsInContactTable() == r.createdOk()));
        return summary;
    }

    private static Object round(double value) {
        return Double.isFinite(value) ? Math.round(value * 100) / 100.0 : null;
    }

    private static Map<String, String> masked(Map<String, String> properties) {
        Map<String, String> masked = new TreeMap<>();
        properties.forEach((k, v) -> masked.put(k, secret(k) ? "******" : v));
        return masked;
    }

    private static boolean secret(String key) {
        String k = key.toLowerCase(Locale.ROOT);
        return k.contains("password") || k.contains("secret") || k.contains("key") || k.contains("token");
    }

    private static void printOverrides(String scope, Map<String, String> properties) {
        if (!properties.isEmpty()) {
            System.out.printf("service overrides (%s): %s%n", scope, masked(properties));
        }
    }

    private static String abbreviate(String text) {
        String oneLine = text.replaceAll("\\s+", " ");
        return oneLine.length() <= 300 ? oneLine : oneLine.substring(0, 300) + "...";
    }

    /** Root logger at WARN before Spring sets up logging (the embedded PostgreSQL logs through it too). */
    private static void quietLogging() {
        if (LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME) instanceof ch.qos.logback.classic.Logger root) {
            root.setLevel(ch.qos.logback.classic.Level.WARN);
        }
    }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
        }
    }
}
