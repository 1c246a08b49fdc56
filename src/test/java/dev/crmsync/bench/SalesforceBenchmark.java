package dev.crmsync.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.crmsync.CrmContactSync;
import dev.crmsync.sim.GenericCrmSimulator;
import dev.crmsync.sim.salesforce.SalesforceSimulator;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * Initial load of a Salesforce org into the hub and on to a generic REST CRM: N contacts wait in the
 * Salesforce simulator, the service starts on an empty H2 database, and the clock runs until every
 * one is in the hub, then in the other CRM. Prints records/s for both legs, Salesforce API calls per
 * 1,000 records next to the bound (0.5 for reads at 2,000 a page), the other CRM's calls, and peak
 * heap. The simulators share the JVM: their own heap (measured before the service starts) is printed
 * so the service's share can be told apart.
 *
 * <pre>MAVEN_OPTS=-Xmx2g mvn -q test-compile org.codehaus.mojo:exec-maven-plugin:3.5.0:java \
 *   -Dexec.mainClass=dev.crmsync.bench.SalesforceBenchmark -Dexec.classpathScope=test -Dexec.args="--records=100000"</pre>
 */
public final class SalesforceBenchmark {

    public static void main(String[] args) throws Exception {
        int records = 100_000;
        Duration timeout = Duration.ofMinutes(20);
        for (String arg : args) {
            if (arg.startsWith("--records=")) {
                records = Integer.parseInt(arg.substring("--records=".length()));
            } else if (arg.startsWith("--timeout-minutes=")) {
                timeout = Duration.ofMinutes(Long.parseLong(arg.substring("--timeout-minutes=".length())));
            } else {
                throw new IllegalArgumentException("unknown argument " + arg + " (--records=N, --timeout-minutes=M)");
            }
        }
        // see EngineBenchmark: the JDK HttpServer waits out delayed ACKs unless told otherwise
        System.setProperty("sun.net.httpserver.nodelay", "true");
        Path home = Path.of("").toAbsolutePath();
        try (SalesforceSimulator sf = SalesforceSimulator.builder().threads(4).dailyLimit(100_000_000).build().start();
             GenericCrmSimulator crm = GenericCrmSimulator.builder().token("bench-token").threads(4).build().start()) {
            for (int i = 0; i < records; i++) {
                sf.seed(SalesforceSimulator.CONTACT, Map.of("FirstName", "First" + i, "LastName", "Last" + i,
                        "Email", "sf" + i + "@example.com", "Phone", "+1415" + String.format("%07d", i), "Title", "Buyer"));
            }
            System.gc();
            long simulatorHeap = usedHeap();
            sf.resetCounters();
            Map<String, Object> properties = new LinkedHashMap<>();
            properties.put("server.port", "0");
            properties.put("crmsync.home", home.toString());
            properties.put("crmsync.data-dir", Files.createTempDirectory("crmsync-sf-bench").toString());
            properties.put("crmsync.api-key", "bench-api-key-0123456789");
            properties.put("crmsync.admin.password", "bench-admin-password-0123");
            properties.put("logging.level.root", "WARN");
            properties.put("crmsync.sync.batch-size", "1000");
            String p = "crmsync.providers.salesforce.";
            properties.put(p + "enabled", "true");
            properties.put(p + "login-url", sf.baseUrl());
            properties.put(p + "client-id", sf.clientId());
            properties.put(p + "client-secret", sf.clientSecret());
            properties.put(p + "username", sf.username());
            properties.put(p + "password", sf.password());
            properties.put(p + "poll-cron", "0/1 * * * * ?");
            p = "crmsync.providers.crm1.";
            properties.put(p + "enabled", "true");
            properties.put(p + "base-url", crm.baseUrl());
            properties.put(p + "auth-value", "Bearer " + crm.token());
            properties.put(p + "deliver-period", "50");
            properties.put(p + "batch-size", "500");

            PeakHeap peak = PeakHeap.start();
            long t0 = System.nanoTime();
            ConfigurableApplicationContext service = SpringApplication.run(CrmContactSync.class, properties.entrySet().stream()
                    .map(e -> "--" + e.getKey() + "=" + e.getValue()).toArray(String[]::new));
            JdbcTemplate jdbc = service.getBean(JdbcTemplate.class);
            int n = records;
            double hubSeconds = waitFor(t0, timeout, "hub", n, () -> jdbc.queryForObject(
                    "SELECT COUNT(*) FROM contact_link WHERE system = 'salesforce'", Long.class));
            double endSeconds = waitFor(t0, timeout, "crm1", n, () -> crm.live().size());
            peak.stop();

            Map<String, Object> result = new LinkedHashMap<>();
            result.put("scenario", "initial load: Salesforce -> hub -> generic REST CRM");
            result.put("startedAt", Instant.now().toString());
            result.put("records", n);
            result.put("cpus", Runtime.getRuntime().availableProcessors());
            result.put("hubSeconds", round(hubSeconds));
            result.put("hubRecordsPerSecond", round(n / hubSeconds));
            result.put("endToEndSeconds", round(endSeconds));
            result.put("endToEndRecordsPerSecond", round(n / endSeconds));
            Map<String, Long> sfCalls = sf.callCounts();
            long sfData = sfCalls.entrySet().stream().filter(e -> !e.getKey().contains("oauth2"))
                    .mapToLong(Map.Entry::getValue).sum();
            result.put("salesforceCalls", sfCalls);
            result.put("salesforceCallsPer1000", round(1000.0 * sfData / n));
            result.put("salesforceReadBoundPer1000", 0.5);
            result.put("crm1Calls", crm.stats().snapshot());
            result.put("crm1CallsPer1000", round(1000.0 * crm.stats().total() / n));
            result.put("peakHeapMb", peak.peak() / (1024 * 1024));
            result.put("simulatorsHeapMb", simulatorHeap / (1024 * 1024));
            result.put("maxHeapMb", Runtime.getRuntime().maxMemory() / (1024 * 1024));
            service.close();

            ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            System.out.println(json.writeValueAsString(result));
            Path out = home.resolve("target/bench/salesforce-summary.json");
            Files.createDirectories(out.getParent());
            json.writeValue(out.toFile(), result);
            System.out.println("Written " + home.relativize(out));
        }
    }

    private static double waitFor(long t0, Duration timeout, String what, long target, LongSupplier count)
            throws InterruptedException {
        long lastPrint = 0;
        while (true) {
            long have = count.getAsLong();
            double seconds = (System.nanoTime() - t0) / 1e9;
            if (have >= target) {
                System.out.printf("%s: %,d of %,d after %.1f s%n", what, have, target, seconds);
                return seconds;
            }
            if (seconds > timeout.toSeconds()) {
                throw new IllegalStateException(what + " had " + have + " of " + target + " after " + timeout);
            }
            if (seconds - lastPrint >= 10) {
                lastPrint = (long) seconds;
                System.out.printf("  %s: %,d of %,d at %.0f s%n", what, have, target, seconds);
            }
            Thread.sleep(100);
        }
    }

    private static long usedHeap() {
        return ManagementFactory.getMemoryPoolMXBeans().stream().filter(pool -> pool.getType() == MemoryType.HEAP)
                .mapToLong(pool -> pool.getUsage().getUsed()).sum();
    }

    private static double round(double value) {
        return Math.round(value * 10) / 10.0;
    }

    /** The largest heap in use seen while the service ran, sampled every 50 ms. */
    private static final class PeakHeap {
        private final AtomicLong peak = new AtomicLong();
        private volatile boolean running = true;

        static PeakHeap start() {
            PeakHeap sampler = new PeakHeap();
            ManagementFactory.getMemoryPoolMXBeans().forEach(MemoryPoolMXBean::resetPeakUsage);
            Thread thread = new Thread(() -> {
                while (sampler.running) {
                    sampler.peak.accumulateAndGet(usedHeap(), Math::max);
                    try {
                        Thread.sleep(50);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "peak-heap");
            thread.setDaemon(true);
            thread.start();
            return sampler;
        }

        void stop() {
            running = false;
        }

        long peak() {
            return peak.get();
        }
    }
}
