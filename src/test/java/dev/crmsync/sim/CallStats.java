package dev.crmsync.sim;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Calls a simulator served, counted by endpoint key ({@code "GET /api/contacts/{id}"}), and a log of
 * each request with the time it arrived, so a test can check how long a client waited between two
 * tries. Faulted, rejected and dropped requests count like any other. Thread-safe.
 */
public final class CallStats {

    /** The status logged for a request whose connection was dropped without an answer. */
    public static final int DROPPED = -1;

    /**
     * One request as the simulator saw it: {@code receivedAt} on the system clock (not the
     * simulator's data clock, which a test may freeze) and {@code receivedNanos} from
     * {@link System#nanoTime()} for exact gaps; {@code status} is what it answered, or
     * {@link #DROPPED}.
     */
    public record Request(String endpoint, String method, String path, Instant receivedAt, long receivedNanos,
                          int status) {

        /** Time from this request's arrival to {@code later}'s. */
        public Duration until(Request later) {
            return Duration.ofNanos(later.receivedNanos - receivedNanos);
        }
    }

    /** Kept small enough for a sandbox that runs for days: the oldest entries go first. */
    public static final int LOG_LIMIT = 10_000;

    private final Map<String, LongAdder> counts = new ConcurrentHashMap<>();
    private final Deque<Request> log = new ArrayDeque<>();

    /** Counts one request under {@code endpoint}; for simulators, as each request reaches the handler. */
    public void count(String endpoint) {
        counts.computeIfAbsent(endpoint, k -> new LongAdder()).increment();
    }

    /** Logs one request with its answer; for simulators, just before they answer. */
    public void record(Request request) {
        synchronized (log) {
            if (log.size() == LOG_LIMIT) {
                log.removeFirst();
            }
            log.addLast(request);
        }
    }

    public long calls(String endpoint) {
        LongAdder n = counts.get(endpoint);
        return n == null ? 0 : n.sum();
    }

    public long total() {
        return counts.values().stream().mapToLong(LongAdder::sum).sum();
    }

    /** Every endpoint called so far with its count, sorted by key. */
    public Map<String, Long> snapshot() {
        Map<String, Long> all = new TreeMap<>();
        counts.forEach((k, v) -> all.put(k, v.sum()));
        return all;
    }

    /** The requests in the order they arrived (the latest {@value #LOG_LIMIT}). */
    public List<Request> requests() {
        synchronized (log) {
            return List.copyOf(log);
        }
    }

    public List<Request> requests(String endpoint) {
        return requests().stream().filter(r -> r.endpoint().equals(endpoint)).toList();
    }

    public void reset() {
        counts.clear();
        synchronized (log) {
            log.clear();
        }
    }
}
