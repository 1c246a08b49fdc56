package dev.crmsync.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import java.util.function.Predicate;

/**
 * A closed loop of HTTP requests: {@code clients} threads share one HTTP/1.1 client (keep-alive) and
 * each sends its next request as soon as the last is answered. Every request's latency and status
 * is kept; a non-2xx status, a transport failure or a 2xx that fails its check is an error.
 */
final class HttpLoad {

    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);
    private static final int ERROR_SAMPLES = 5;

    /** A request and what makes its answer right. */
    record Call(HttpRequest request, Predicate<HttpResponse<byte[]>> check) {
    }

    record Outcome(int requests, int errors, Map<String, Integer> statuses, List<String> errorSamples, double seconds,
                   long[] latencyNanos) {

        double perSecond() {
            return requests / seconds;
        }
    }

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10)).build();
    private final URI base;
    private final String apiKey;

    HttpLoad(String baseUrl, String apiKey) {
        this.base = URI.create(baseUrl);
        this.apiKey = apiKey;
    }

    HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(base.resolve(path)).timeout(REQUEST_TIMEOUT).header("X-Api-Key", apiKey);
    }

    /**
     * {@code count} creates through {@code POST /api/contacts}, contact {@code offset + i} with a
     * distinct email; the id of each one created goes to {@code ids[offset + i]}.
     */
    Outcome creates(String tag, String[] ids, int offset, int count, int clients) throws Exception {
        return run(count, clients, i -> {
            int n = offset + i;
            String body = "{\"email\":\"bench-" + tag + "-" + n + "@example.com\",\"firstName\":\"Bench\","
                    + "\"lastName\":\"Contact " + n + "\",\"company\":\"Acme Benchmarks\",\"title\":\"Load\","
                    + "\"tags\":[\"bench\"],\"custom\":{\"run\":\"" + tag + "\",\"n\":" + n + "}}";
            HttpRequest request = request("/api/contacts").header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build();
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
        });
    }

    /** {@code requests} reads of ids picked from {@code pool} in the order of {@code picks}. */
    Outcome reads(String[] pool, int[] picks, int clients) throws Exception {
        return run(picks.length, clients, i -> {
            String id = pool[picks[i]];
            HttpRequest request = request("/api/contacts/" + id).GET().build();
            // a 200 that is not the contact asked for is an error too
            return new Call(request, response -> response.statusCode() == 200
                    && new String(response.body(), StandardCharsets.UTF_8).contains("\"id\":\"" + id + "\""));
        });
    }

    Outcome run(int count, int clients, IntFunction<Call> calls) throws Exception {
        long[] latencies = new long[count];
        int[] statuses = new int[count];
        List<String> samples = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger next = new AtomicInteger();
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
                            HttpResponse<byte[]> response = http.send(call.request(), HttpResponse.BodyHandlers.ofByteArray());
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
        Map<String, Integer> byStatus = new TreeMap<>();
        int errors = 0;
        for (int status : statuses) {
            String key = status == -1 ? "transport-error" : status == 0 ? "2xx-wrong-body" : Integer.toString(status);
            byStatus.merge(key, 1, Integer::sum);
            if (status / 100 != 2) {
                errors++;
            }
        }
        return new Outcome(count, errors, byStatus, List.copyOf(samples), seconds, latencies);
    }

    private static String abbreviate(String text) {
        String oneLine = text.replaceAll("\\s+", " ");
        return oneLine.length() <= 300 ? oneLine : oneLine.substring(0, 300) + "...";
    }
}
