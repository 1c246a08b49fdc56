package dev.crmsync.support;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crmsync.CrmContactSync;

/**
 * The service in a JVM of its own, as the benchmark suite and the crash tests run it, with the heap it would get in production
 * ({@code -Xmx512m} by default), so its peak heap is its own and an OutOfMemoryError ends the
 * scenario instead of the benchmark. It runs {@link CrmContactSync} from this JVM's class path in the
 * project root (it reads {@code application.yaml}, {@code routes/} and {@code mappings/} there).
 *
 * <p>Its properties go in {@code SPRING_APPLICATION_JSON} and its credentials in the environment
 * variables the service reads, so none of them shows on a command line. {@link #kill()} ends it
 * with SIGKILL and {@link #startAgain()} starts it once more with the same settings and port, on the
 * same data. Heap comes from its GC log
 * ({@code -Xlog:gc}): the heap in use before each collection is the peak between collections, and
 * after it, what the service still holds (its live set).
 */
public final class ServiceProcess implements AutoCloseable {

    /** Fixed benchmark credentials, never printed. */
    public static final String API_KEY = "bench-api-key-4f7c1e9a2b6d8035";
    public static final String ADMIN_PASSWORD = "bench-admin-pw-9d2e6a4c1f7b3058";

    private static final ObjectMapper JSON = new ObjectMapper();
    // a ceiling, not a wait: on a 2-core machine shared with other builds a start took 4 minutes
    private static final Duration START_TIMEOUT = Duration.ofMinutes(8);

    private final String name;
    private final Process process;
    private final int port;
    private final Path log;
    private final GcLog gc;
    private final long heapLimitBytes;
    private final ProcessBuilder builder;

    private ServiceProcess(String name, Process process, int port, Path log, GcLog gc, long heapLimitBytes,
                           ProcessBuilder builder) {
        this.name = name;
        this.process = process;
        this.port = port;
        this.log = log;
        this.gc = gc;
        this.heapLimitBytes = heapLimitBytes;
        this.builder = builder;
    }

    /**
     * Starts the service and waits until {@code /healthz} answers 200. {@code logs} gets
     * {@code NAME.log} (its output) and {@code NAME-gc.log}.
     */
    public static ServiceProcess start(String name, Path home, Path logs, String heap, List<String> jvmArgs,
                                       Map<String, String> properties, Map<String, String> environment) throws Exception {
        return start(name, home, logs, heap, jvmArgs, properties, environment, freePort());
    }

    /** As {@link #start(String, Path, Path, String, List, Map, Map)}, on a port chosen by the caller. */
    public static ServiceProcess start(String name, Path home, Path logs, String heap, List<String> jvmArgs,
                                       Map<String, String> properties, Map<String, String> environment, int port)
            throws Exception {
        Files.createDirectories(logs);
        Path log = logs.resolve(name + ".log");
        Path gcLog = logs.resolve(name + "-gc.log");
        Files.deleteIfExists(gcLog);
        Files.deleteIfExists(log);
        Map<String, String> all = new LinkedHashMap<>(properties);
        all.put("server.port", Integer.toString(port));

        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Xmx" + heap);
        command.add("-XX:+ExitOnOutOfMemoryError");
        command.add("-Xlog:gc:file=" + gcLog);
        command.addAll(jvmArgs);
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(CrmContactSync.class.getName());
        // appended to, so the log of a service started again keeps its previous lives
        ProcessBuilder builder = new ProcessBuilder(command).directory(home.toFile())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        builder.environment().put("SPRING_APPLICATION_JSON", JSON.writeValueAsString(all));
        builder.environment().put("CRMSYNC_API_KEY", API_KEY);
        builder.environment().put("CRMSYNC_ADMIN_PASSWORD", ADMIN_PASSWORD);
        builder.environment().putAll(environment);
        return launch(name, builder, port, log, new GcLog(gcLog), parseSize(heap));
    }

    private static ServiceProcess launch(String name, ProcessBuilder builder, int port, Path log, GcLog gc,
                                         long heapLimitBytes) throws Exception {
        ServiceProcess service = new ServiceProcess(name, builder.start(), port, log, gc, heapLimitBytes, builder);
        try {
            service.awaitReady();
        } catch (Exception e) {
            service.close();
            throw e;
        }
        return service;
    }

    private void awaitReady() throws Exception {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        Http http = new Http(port);
        String last = "no answer";
        while (System.nanoTime() < deadline) {
            failure().ifPresent(reason -> {
                throw new IllegalStateException("the service did not start: " + reason);
            });
            try {
                Http.Reply reply = http.get("/healthz");
                if (reply.status() == 200) {
                    return;
                }
                last = reply.status() + " " + reply.body();
            } catch (RuntimeException e) {
                // not listening yet
            }
            Thread.sleep(250);
        }
        throw new IllegalStateException("the service did not become healthy in " + START_TIMEOUT + " (last: " + last
                + "); see " + log);
    }

    /**
     * Ends the service with SIGKILL, as a crash or the kernel's OOM killer would: no shutdown hook
     * runs, nothing is flushed or closed. Returns once the process is gone.
     */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException("the service did not end 60 s after SIGKILL");
        }
    }

    /**
     * Starts the service again, once this one is gone, with the same command, environment and port
     * (so webhooks find it again) on the same data, and waits until it is healthy.
     */
    public ServiceProcess startAgain() throws Exception {
        if (process.isAlive()) {
            throw new IllegalStateException("the service still runs: kill or close it first");
        }
        Files.writeString(log, "%n==== started again%n".formatted(), StandardCharsets.UTF_8,
                java.nio.file.StandardOpenOption.APPEND);
        return launch(name, builder, port, log, gc, heapLimitBytes);
    }

    public int port() {
        return port;
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + port;
    }

    public ProcessHandle handle() {
        return process.toHandle();
    }

    public Path log() {
        return log;
    }

    public boolean alive() {
        return process.isAlive();
    }

    /** The contacts API with the benchmark's key. */
    public Http api() {
        return new Http(port).withHeader("X-Api-Key", API_KEY);
    }

    /** Actuator and Jolokia with the admin's HTTP Basic login. */
    public Http admin() {
        String basic = Base64.getEncoder().encodeToString(("admin:" + ADMIN_PASSWORD).getBytes(StandardCharsets.UTF_8));
        return new Http(port).withHeader("Authorization", "Basic " + basic);
    }

    /**
     * Stops or starts one Camel route through Jolokia, as an operator would from Hawtio (the MBean's
     * name is looked up, so the Camel context's name is not assumed).
     */
    public void route(String routeId, String operation) {
        Http admin = admin();
        JsonNode found = admin.post("/actuator/jolokia", "{\"type\":\"search\",\"mbean\":"
                + JSON.valueToTree("org.apache.camel:type=routes,name=\"" + routeId + "\",*") + "}").json();
        if (found.path("value").size() != 1) {
            throw new IllegalStateException("no single route MBean for " + routeId + ": " + found);
        }
        JsonNode done = admin.post("/actuator/jolokia", "{\"type\":\"exec\",\"mbean\":" + found.path("value").get(0)
                + ",\"operation\":\"" + operation + "()\"}").json();
        if (done.path("status").asInt() != 200) {
            throw new IllegalStateException(operation + " of route " + routeId + " failed: " + done);
        }
    }

    /** Heap in use now, from {@code /actuator/prometheus} (the sum of the heap pools), or -1. */
    public long heapUsedNow() {
        try {
            return (long) prometheus(line -> line.startsWith("jvm_memory_used_bytes{") && line.contains("area=\"heap\""));
        } catch (RuntimeException e) {
            return -1;
        }
    }

    /** The sum of the service's counters with these names (every tag), from {@code /actuator/prometheus}. */
    public long counters(String... names) {
        return (long) prometheus(line -> java.util.Arrays.stream(names).anyMatch(name -> line.startsWith(name + "{")
                || line.startsWith(name + " ")));
    }

    private double prometheus(java.util.function.Predicate<String> lines) {
        Http.Reply reply = admin().get("/actuator/prometheus");
        if (reply.status() != 200) {
            throw new IllegalStateException("/actuator/prometheus answered " + reply.status());
        }
        double sum = 0;
        for (String line : reply.body().split("\n")) {
            if (lines.test(line)) {
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return sum;
    }

    /**
     * The heap since the previous call (or the start): the GC log's collections, and the heap in use
     * now, since a phase without a collection has its peak at its end.
     */
    public Heap heapSinceLastCall() throws IOException {
        GcLog.Window window = gc.next();
        long now = process.isAlive() ? heapUsedNow() : -1;
        boolean oldCleaned = window.maxAfterOldCleanedBytes() >= 0;
        return new Heap(Math.max(window.peakBeforeBytes(), now),
                oldCleaned ? window.medianAfterOldCleanedBytes() : window.medianAfterBytes(),
                oldCleaned ? window.maxAfterOldCleanedBytes() : window.maxAfterBytes(), oldCleaned, window.collections(),
                window.pauseMillis(), heapLimitBytes);
    }

    /**
     * The peak heap of a phase (G1 lets the heap fill towards -Xmx before it collects, so this shows
     * the limit more than the need), what the service still held after the collections that cleaned
     * the old generation (G1's mixed or full collections: the median is what it keeps, the maximum
     * its spikes; young collections only when the phase had none of those), and its collections.
     */
    public record Heap(long peakBytes, long medianLiveBytes, long maxLiveBytes, boolean afterOldGenerationCleaned,
                int collections, double pauseMillis, long limitBytes) {

        public Map<String, Object> toJson() {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("peakMb", peakBytes < 0 ? null : peakBytes >> 20);
            json.put("heldAfterGcMedianMb", medianLiveBytes < 0 ? null : medianLiveBytes >> 20);
            json.put("heldAfterGcMaxMb", maxLiveBytes < 0 ? null : maxLiveBytes >> 20);
            json.put("heldAfter", afterOldGenerationCleaned ? "mixed or full collections" : "young collections");
            json.put("limitMb", limitBytes < 0 ? null : limitBytes >> 20);
            json.put("collections", collections);
            json.put("pauseMs", Math.round(pauseMillis));
            return json;
        }
    }

    /** Why the service is gone, if it is: its exit code, and an OutOfMemoryError when its log shows one. */
    public Optional<String> failure() {
        if (process.isAlive()) {
            return Optional.empty();
        }
        String reason = "the service exited with code " + process.exitValue();
        if (logContains("OutOfMemoryError")) {
            reason = "OutOfMemoryError: the service ran out of heap and exited (" + reason + ")";
        }
        return Optional.of(reason);
    }

    public boolean outOfMemory() {
        return logContains("OutOfMemoryError");
    }

    private boolean logContains(String text) {
        try (var lines = Files.lines(log, StandardCharsets.UTF_8)) {
            return lines.anyMatch(line -> line.contains(text));
        } catch (IOException | java.io.UncheckedIOException e) {
            return false;
        }
    }

    /** Stops it as its operators would (SIGTERM: a graceful shutdown), forcibly after a minute. */
    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                System.out.printf("[%s] the service did not stop in 60 s: killed%n", name);
                process.destroyForcibly();
                process.waitFor(30, TimeUnit.SECONDS);
            }
        }
    }

    public static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    public static long parseSize(String text) {
        Matcher m = Pattern.compile("(\\d+)([kKmMgG]?)").matcher(text == null ? "" : text.strip());
        if (!m.matches()) {
            return -1;
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2).toLowerCase(java.util.Locale.ROOT)) {
            case "k" -> n << 10;
            case "m" -> n << 20;
            case "g" -> n << 30;
            default -> n;
        };
    }

    /**
     * The service's {@code -Xlog:gc} file, read on from where the last read stopped. A line such as
     * {@code [3.1s][info][gc] GC(7) Pause Young (Normal) (G1 Evacuation Pause) 301M->42M(512M) 4.1ms}
     * gives the heap before and after that collection and its pause.
     */
    static final class GcLog {
        private static final Pattern COLLECTION =
                Pattern.compile("(\\d+)([KMG])->(\\d+)([KMG])\\((\\d+)([KMG])\\)\\s+([\\d.]+)ms");

        record Window(long peakBeforeBytes, long maxAfterBytes, long medianAfterBytes, long maxAfterOldCleanedBytes,
                      long medianAfterOldCleanedBytes, int collections, double pauseMillis) {
        }

        private final Path file;
        private long offset;

        GcLog(Path file) {
            this.file = file;
        }

        synchronized Window next() throws IOException {
            long peak = -1;
            long after = -1;
            long afterOldCleaned = -1;
            List<Long> afters = new ArrayList<>();
            List<Long> aftersOldCleaned = new ArrayList<>();
            int collections = 0;
            double pause = 0;
            if (Files.exists(file)) {
                try (RandomAccessFile in = new RandomAccessFile(file.toFile(), "r")) {
                    in.seek(offset);
                    String line;
                    long complete = offset;
                    while ((line = in.readLine()) != null) {
                        long position = in.getFilePointer();
                        if (position == in.length() && !endsWithNewline(in)) {
                            break; // a line still being written: read it next time
                        }
                        complete = position;
                        Matcher m = COLLECTION.matcher(line);
                        if (m.find()) {
                            peak = Math.max(peak, bytes(m.group(1), m.group(2)));
                            long held = bytes(m.group(3), m.group(4));
                            after = Math.max(after, held);
                            afters.add(held);
                            if (line.contains("Pause Young (Mixed)") || line.contains("Pause Full")) {
                                afterOldCleaned = Math.max(afterOldCleaned, held);
                                aftersOldCleaned.add(held);
                            }
                            pause += Double.parseDouble(m.group(7));
                            collections++;
                        }
                    }
                    offset = complete;
                }
            }
            return new Window(peak, after, median(afters), afterOldCleaned, median(aftersOldCleaned), collections, pause);
        }

        private static long median(List<Long> values) {
            if (values.isEmpty()) {
                return -1;
            }
            List<Long> sorted = values.stream().sorted().toList();
            return sorted.get(sorted.size() / 2);
        }

        private static boolean endsWithNewline(RandomAccessFile in) throws IOException {
            long length = in.length();
            if (length == 0) {
                return true;
            }
            long back = in.getFilePointer();
            in.seek(length - 1);
            boolean newline = in.read() == '\n';
            in.seek(back);
            return newline;
        }

        private static long bytes(String number, String unit) {
            return parseSize(number + unit);
        }
    }
}
