package dev.crmsync.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryType;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.crmsync.CrmContactSync;
import dev.crmsync.sim.hubspot.HubSpotSimulator;
import dev.crmsync.sim.pipedrive.PipedriveSimulator;
import dev.crmsync.sim.salesforce.SalesforceSimulator;
import org.apache.camel.CamelContext;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.web.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * HubSpot as the users of webhooks judge it, against the HubSpot, Salesforce and Pipedrive simulators:
 * <ol>
 *   <li><b>intake</b>: signed webhook requests from 32 concurrent senders, one event each, while the
 *   inbox processor is paused (a storm is stored first, applied after): requests/s and latency;</li>
 *   <li><b>change latency</b>: a contact edited in HubSpot, 5 a second, until the edit is in Salesforce
 *   and in Pipedrive: p50 and p99 (the simulator sends its webhooks every 50 ms, which is in the figure);</li>
 *   <li><b>calls</b>: HubSpot API calls per 1,000 contacts created through the API (bound: 10, one
 *   batch call per 100), the echo webhooks of those writes included;</li>
 *   <li><b>rate limit</b>: contacts waiting in the outbox written to HubSpot under its 190-per-10-s
 *   limit: contacts/s as a share of the bound of 1,900, and dead letters; once with the webhooks
 *   HubSpot sends back for those writes (as in production), once without them.</li>
 * </ol>
 * <pre>mvn -q test-compile org.codehaus.mojo:exec-maven-plugin:3.5.0:java \
 *   -Dexec.mainClass=dev.crmsync.bench.WebhookBenchmark -Dexec.classpathScope=test</pre>
 */
public final class WebhookBenchmark {

    static final String SECRET = "bench-hubspot-client-secret";
    static final String API_KEY = "bench-api-key-0123456789";

    public static void main(String[] args) throws Exception {
        Map<String, Integer> options = new LinkedHashMap<>(Map.of("requests", 20_000, "warmup", 2_000, "senders", 32,
                "changes", 200, "written", 5_000, "limited", 10_000));
        for (String arg : args) {
            String[] pair = arg.replaceFirst("^--", "").split("=", 2);
            if (pair.length != 2 || !options.containsKey(pair[0])) {
                throw new IllegalArgumentException("unknown argument " + arg + "; known: " + options.keySet());
            }
            options.put(pair[0], Integer.parseInt(pair[1]));
        }
        // see EngineBenchmark: the JDK HttpServer waits out delayed ACKs unless told otherwise
        System.setProperty("sun.net.httpserver.nodelay", "true");
        Path home = Path.of("").toAbsolutePath();
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("startedAt", Instant.now().toString());
        result.put("cpus", Runtime.getRuntime().availableProcessors());
        result.put("options", options);
        try (HubSpotSimulator hs = HubSpotSimulator.builder().token("bench-hs").clientSecret(SECRET).threads(8)
                .webhookFlushInterval(Duration.ofMillis(50)).rateLimits(false).build().start();
             SalesforceSimulator sf = SalesforceSimulator.builder().threads(4).dailyLimit(100_000_000).build().start();
             PipedriveSimulator pd = PipedriveSimulator.builder().apiToken("bench-pd").threads(4).rateLimiting(false)
                     .build().start()) {
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                ids.add(String.valueOf(hs.seed(Map.of("email", "hs" + i + "@example.com", "firstname", "First" + i,
                        "lastname", "Last" + i)).get("id")));
            }
            ConfigurableApplicationContext service = start(home, hs, sf, pd);
            try {
                int port = ((WebServerApplicationContext) service).getWebServer().getPort();
                JdbcTemplate jdbc = service.getBean(JdbcTemplate.class);
                CamelContext camel = service.getBean(CamelContext.class);
                hs.webhooks().target("http://127.0.0.1:" + port + "/webhooks/hubspot");

                camel.getRouteController().stopRoute("inbox-process");
                intake(port, ids, options.get("warmup"), options.get("senders"), 100_000_000);
                result.put("intake", intake(port, ids, options.get("requests"), options.get("senders"), 200_000_000));
                camel.getRouteController().startRoute("inbox-process");
                waitUntil("the storm applied and the 1,000 people in Salesforce and Pipedrive", Duration.ofMinutes(10),
                        () -> backlog(jdbc) == 0 && links(jdbc, "salesforce") >= 1000 && links(jdbc, "pipedrive") >= 1000);

                result.put("changeLatency", latency(hs, sf, pd, jdbc, ids, options.get("changes")));
                result.put("calls", calls(hs, jdbc, port, options.get("written")));

                hs.rateLimits(true).rateLimit(HubSpotSimulator.DEFAULT_RATE_LIMIT, Duration.ofSeconds(10));
                result.put("rateLimited", limited(hs, jdbc, camel, port, "limited", options.get("limited")));
                // the same without the webhooks HubSpot sends back for each write: what delivery alone reaches
                String target = hs.webhooks().target();
                hs.webhooks().target(null);
                result.put("rateLimitedWithoutEchoWebhooks", limited(hs, jdbc, camel, port, "quiet", options.get("limited")));
                hs.webhooks().target(target);
                result.put("peakHeapMb", ManagementFactory.getMemoryPoolMXBeans().stream()
                        .filter(pool -> pool.getType() == MemoryType.HEAP).mapToLong(pool -> pool.getPeakUsage().getUsed()).sum()
                        / (1024 * 1024));
            } finally {
                service.close();
            }
        }
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        System.out.println(json.writeValueAsString(result));
        Path out = home.resolve("target/bench/webhook-summary.json");
        Files.createDirectories(out.getParent());
        json.writeValue(out.toFile(), result);
        System.out.println("Written " + home.relativize(out));
    }

    private static ConfigurableApplicationContext start(Path home, HubSpotSimulator hs, SalesforceSimulator sf,
                                                        PipedriveSimulator pd) throws Exception {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("server.port", "0");
        p.put("crmsync.home", home.toString());
        p.put("crmsync.data-dir", Files.createTempDirectory("crmsync-webhook-bench").toString());
        p.put("crmsync.api-key", API_KEY);
        p.put("crmsync.admin.password", "bench-admin-password-0123");
        p.put("logging.level.root", "WARN");
        p.put("crmsync.sync.process-period", "50");
        p.put("crmsync.sync.batch-size", "1000");
        String h = "crmsync.providers.hubspot.";
        p.put(h + "enabled", "true");
        p.put(h + "base-url", hs.baseUrl());
        p.put(h + "access-token", hs.token());
        p.put(h + "client-secret", SECRET);
        String s = "crmsync.providers.salesforce.";
        p.put(s + "enabled", "true");
        p.put(s + "login-url", sf.baseUrl());
        p.put(s + "client-id", sf.clientId());
        p.put(s + "client-secret", sf.clientSecret());
        p.put(s + "username", sf.username());
        p.put(s + "password", sf.password());
        p.put(s + "deliver-period", "100");
        String d = "crmsync.providers.pipedrive.";
        p.put(d + "enabled", "true");
        p.put(d + "base-url", pd.baseUrl());
        p.put(d + "api-token", pd.apiToken());
        p.put(d + "deliver-period", "100");
        return SpringApplication.run(CrmContactSync.class,
                p.entrySet().stream().map(e -> "--" + e.getKey() + "=" + e.getValue()).toArray(String[]::new));
    }

    /** {@code requests} signed requests of one property-change event each, from {@code senders} threads. */
    private static Map<String, Object> intake(int port, List<String> ids, int requests, int senders, long firstEventId)
            throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        String url = "http://127.0.0.1:" + port + "/webhooks/hubspot";
        long[] latencies = new long[requests];
        AtomicInteger next = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(senders);
        long t0 = System.nanoTime();
        List<Future<?>> running = new ArrayList<>();
        for (int t = 0; t < senders; t++) {
            running.add(pool.submit(() -> {
                for (int i = next.getAndIncrement(); i < requests; i = next.getAndIncrement()) {
                    String timestamp = Long.toString(System.currentTimeMillis());
                    String body = "[{\"eventId\":" + (firstEventId + i) + ",\"subscriptionId\":1,\"portalId\":1,\"appId\":1,"
                            + "\"occurredAt\":" + timestamp + ",\"subscriptionType\":\"contact.propertyChange\",\"attemptNumber\":0,"
                            + "\"objectId\":" + ids.get(i % ids.size()) + ",\"propertyName\":\"jobtitle\",\"propertyValue\":\"T" + i
                            + "\",\"changeSource\":\"CRM_UI\"}]";
                    HttpRequest request = HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json")
                            .header("X-HubSpot-Request-Timestamp", timestamp)
                            .header("X-HubSpot-Signature-v3", sign(url, body, timestamp))
                            .POST(HttpRequest.BodyPublishers.ofString(body)).build();
                    long start = System.nanoTime();
                    try {
                        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
                        if (response.statusCode() != 200) {
                            failed.incrementAndGet();
                        }
                    } catch (Exception e) {
                        failed.incrementAndGet();
                    }
                    latencies[i] = System.nanoTime() - start;
                }
                return null;
            }));
        }
        for (Future<?> f : running) {
            f.get();
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        pool.shutdown();
        Map<String, Object> figures = new LinkedHashMap<>();
        figures.put("requests", requests);
        figures.put("senders", senders);
        figures.put("failed", failed.get());
        figures.put("requestsPerSecond", round(requests / seconds));
        figures.putAll(percentiles(latencies));
        System.out.println("intake: " + figures);
        return figures;
    }

    /** Edits in HubSpot, 5 a second; the time until each edit is in Salesforce, and in Pipedrive. */
    private static Map<String, Object> latency(HubSpotSimulator hs, SalesforceSimulator sf, PipedriveSimulator pd,
                                               JdbcTemplate jdbc, List<String> ids, int changes) throws Exception {
        long[] toSalesforce = new long[changes];
        long[] toPipedrive = new long[changes];
        for (int i = 0; i < changes; i++) {
            String hsId = ids.get(i % ids.size());
            String sfId = linked(jdbc, hsId, "salesforce");
            long pdId = Long.parseLong(linked(jdbc, hsId, "pipedrive"));
            String lastName = "Latency" + i;
            long start = System.nanoTime();
            hs.update(hsId, Map.of("lastname", lastName));
            while (toSalesforce[i] == 0 || toPipedrive[i] == 0) {
                long now = System.nanoTime();
                if (toSalesforce[i] == 0 && lastName.equals(sf.find(SalesforceSimulator.CONTACT, sfId).orElseThrow().get("LastName"))) {
                    toSalesforce[i] = now - start;
                }
                if (toPipedrive[i] == 0 && String.valueOf(pd.find(pdId).orElseThrow().get("name")).endsWith(" " + lastName)) {
                    toPipedrive[i] = now - start;
                }
                if (now - start > Duration.ofSeconds(30).toNanos()) {
                    throw new IllegalStateException("change " + i + " did not reach Salesforce and Pipedrive in 30 s");
                }
                Thread.sleep(2);
            }
            long pace = 200_000_000L - (System.nanoTime() - start);
            if (pace > 0) {
                Thread.sleep(pace / 1_000_000);
            }
        }
        Map<String, Object> figures = new LinkedHashMap<>();
        figures.put("changes", changes);
        figures.put("toSalesforce", percentiles(toSalesforce));
        figures.put("toPipedrive", percentiles(toPipedrive));
        System.out.println("change latency from HubSpot: " + figures);
        return figures;
    }

    private static String linked(JdbcTemplate jdbc, String hubSpotId, String system) {
        return jdbc.queryForObject("SELECT o.external_id FROM contact_link h JOIN contact_link o ON o.contact_id = h.contact_id "
                + "AND o.system = ? WHERE h.system = 'hubspot' AND h.external_id = ?", String.class, system, hubSpotId);
    }

    /** HubSpot calls per 1,000 contacts created through the API, their echo webhooks included. */
    private static Map<String, Object> calls(HubSpotSimulator hs, JdbcTemplate jdbc, int port, int written) throws Exception {
        hs.resetCounters();
        int before = hs.live().size();
        createThroughApi(port, "calls", written);
        waitUntil("the contacts in HubSpot", Duration.ofMinutes(10), () -> hs.live().size() >= before + written);
        hs.webhooks().awaitIdle(Duration.ofMinutes(1));
        waitUntil("the echoes applied", Duration.ofMinutes(5), () -> backlog(jdbc) == 0);
        Map<String, Object> figures = new LinkedHashMap<>();
        figures.put("written", written);
        figures.put("hubspotCalls", hs.callCounts());
        figures.put("callsPer1000", round(1000.0 * hs.totalCalls() / written));
        figures.put("boundPer1000", 10);
        System.out.println("calls: " + figures);
        return figures;
    }

    /** Contacts waiting in the outbox, written to HubSpot under its 190-per-10-s limit. */
    private static Map<String, Object> limited(HubSpotSimulator hs, JdbcTemplate jdbc, CamelContext camel, int port,
                                               String prefix, int count)
            throws Exception {
        // what an earlier phase left to apply would compete with this one
        waitUntil("the inbox drained", Duration.ofMinutes(10), () -> backlog(jdbc) == 0);
        camel.getRouteController().stopRoute("hubspot-deliver");
        int before = hs.live().size();
        createThroughApi(port, prefix, count);
        waitUntil("the contacts in the outbox", Duration.ofMinutes(10), () -> jdbc.queryForObject(
                "SELECT COUNT(*) FROM outbox WHERE target_system = 'hubspot' AND state = 'pending'", Long.class) >= count);
        hs.resetCounters();
        long deadBefore = jdbc.queryForObject("SELECT COUNT(*) FROM dead_letter", Long.class);
        long t0 = System.nanoTime();
        camel.getRouteController().startRoute("hubspot-deliver");
        waitUntil("the contacts in HubSpot", Duration.ofMinutes(10), () -> hs.live().size() >= before + count);
        double seconds = (System.nanoTime() - t0) / 1e9;
        long refused = hs.requests().stream().filter(r -> r.status() == 429).count();
        Map<String, Object> figures = new LinkedHashMap<>();
        figures.put("contacts", count);
        figures.put("seconds", round(seconds));
        figures.put("contactsPerSecond", round(count / seconds));
        figures.put("boundPerSecond", 1900);
        figures.put("shareOfBound", round(100.0 * count / seconds / 1900) + "%");
        figures.put("responses429", refused);
        figures.put("deadLetters", jdbc.queryForObject("SELECT COUNT(*) FROM dead_letter", Long.class) - deadBefore);
        System.out.println("rate-limited: " + figures);
        return figures;
    }

    private static void createThroughApi(int port, String prefix, int count) throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        AtomicInteger next = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(16);
        List<Future<?>> running = new ArrayList<>();
        for (int t = 0; t < 16; t++) {
            running.add(pool.submit(() -> {
                for (int i = next.getAndIncrement(); i < count; i = next.getAndIncrement()) {
                    String body = "{\"email\":\"" + prefix + i + "@example.com\",\"firstName\":\"F" + i + "\",\"lastName\":\"L" + i + "\"}";
                    http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/contacts"))
                            .header("Content-Type", "application/json").header("X-Api-Key", API_KEY)
                            .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.discarding());
                }
                return null;
            }));
        }
        for (Future<?> f : running) {
            f.get();
        }
        pool.shutdown();
    }

    private static long backlog(JdbcTemplate jdbc) {
        return jdbc.queryForObject("SELECT COUNT(*) FROM inbox WHERE state IN ('pending', 'claimed')", Long.class);
    }

    private static long links(JdbcTemplate jdbc, String system) {
        return jdbc.queryForObject("SELECT COUNT(*) FROM contact_link WHERE system = ?", Long.class, system);
    }

    private static void waitUntil(String what, Duration timeout, BooleanSupplier done) throws InterruptedException {
        long t0 = System.nanoTime();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() - t0 > timeout.toNanos()) {
                throw new IllegalStateException("not done within " + timeout + ": " + what);
            }
            Thread.sleep(50);
        }
        System.out.printf("  %s after %.1f s%n", what, (System.nanoTime() - t0) / 1e9);
    }

    static String sign(String url, String body, String timestamp) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(SECRET.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return Base64.getEncoder().encodeToString(mac.doFinal(("POST" + url + body + timestamp).getBytes(StandardCharsets.UTF_8)));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static Map<String, Object> percentiles(long[] nanos) {
        long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        Map<String, Object> figures = new LinkedHashMap<>();
        figures.put("p50Ms", round(sorted[(int) (0.50 * (sorted.length - 1))] / 1e6));
        figures.put("p95Ms", round(sorted[(int) (0.95 * (sorted.length - 1))] / 1e6));
        figures.put("p99Ms", round(sorted[(int) (0.99 * (sorted.length - 1))] / 1e6));
        figures.put("maxMs", round(sorted[sorted.length - 1] / 1e6));
        return figures;
    }

    private static double round(double value) {
        return Math.round(value * 10) / 10.0;
    }
}
