package dev.crmsync.provider;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;

/**
 * What each connected system did lately: the outcome and duration of the sync's calls to it (polls,
 * deliveries, reads of records webhooks named) over a rolling window, when a poll of it last
 * succeeded and when it last sent a webhook. Memory stays flat however many calls: a window is a ring
 * of time slots holding counts and a latency histogram.
 */
@Component
public class ProviderActivity {

    /** Upper bounds of the latency histogram, in milliseconds; a last bucket takes the rest. */
    static final long[] BOUNDS_MS = {5, 10, 20, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10_000,
            20_000, 30_000, 60_000};
    private static final int SLOTS = 30;

    /** A system's calls within the window; {@code p95} is null without calls. */
    public record Window(long calls, long failures, Duration p95, String lastError, Instant lastFailureAt) {

        public double errorRate() {
            return calls == 0 ? 0 : (double) failures / calls;
        }
    }

    private final Clock clock;
    private final Duration window;
    private final long slotMillis;
    private final Map<String, Calls> calls = new ConcurrentHashMap<>();
    private final Map<String, Instant> polled = new ConcurrentHashMap<>();
    private final Map<String, Instant> webhooks = new ConcurrentHashMap<>();

    public ProviderActivity(Clock clock, @Value("${crmsync.health.window:PT5M}") Duration window) {
        if (window.isNegative() || window.isZero()) {
            throw new IllegalArgumentException("crmsync.health.window must be positive, not " + window);
        }
        this.clock = clock;
        this.window = window;
        this.slotMillis = Math.max(1, window.toMillis() / SLOTS);
    }

    public Duration window() {
        return window;
    }

    /** Runs one call to a system and records how it went; its result or exception passes through. */
    public <T> T timed(String system, Supplier<T> call) {
        long started = System.nanoTime();
        try {
            T result = call.get();
            succeeded(system, Duration.ofNanos(System.nanoTime() - started));
            return result;
        } catch (RuntimeException e) {
            ended(system, Duration.ofNanos(System.nanoTime() - started), e);
            throw e;
        }
    }

    /** Like {@link #timed(String, Supplier)}, for a call that answers nothing. */
    public void run(String system, Runnable call) {
        timed(system, () -> {
            call.run();
            return null;
        });
    }

    public void succeeded(String system, Duration took) {
        record(system, took, null);
    }

    /**
     * A call that threw. What says nothing about the system's health is not counted: a pause (no call
     * was made) and a 429 (the system asks us to wait; the sync does). A record the system refused
     * (any other 4xx but 401 and 403) counts as a call it answered: the system works, the record does not.
     */
    public void ended(String system, Duration took, Throwable error) {
        if (error instanceof ProviderPausedException) {
            return;
        }
        if (error instanceof RemoteCallException remote) {
            int status = remote.status();
            if (status == 429) {
                return;
            }
            if (status >= 400 && status < 500 && status != 401 && status != 403 && status != 408) {
                record(system, took, null);
                return;
            }
        }
        record(system, took, error);
    }

    /** A poll of the system read all its pages. */
    public void polled(String system) {
        polled.put(system, clock.instant());
    }

    /** The system sent a webhook the service accepted. */
    public void heard(String system) {
        webhooks.put(system, clock.instant());
    }

    public Optional<Instant> lastPoll(String system) {
        return Optional.ofNullable(polled.get(system));
    }

    public Optional<Instant> lastWebhook(String system) {
        return Optional.ofNullable(webhooks.get(system));
    }

    /** The system's calls in the window ending now. */
    public Window window(String system) {
        Calls recorded = calls.get(system);
        return recorded == null ? new Window(0, 0, null, null, null) : recorded.window(clock.millis() / slotMillis);
    }

    private void record(String system, Duration took, Throwable error) {
        calls.computeIfAbsent(system, name -> new Calls()).add(clock.millis() / slotMillis, took.toMillis(), error,
                clock.instant());
    }

    /** One system's ring of slots; a slot is reused once its time has left the window. */
    private static final class Calls {

        private final long[] slotOf = new long[SLOTS];
        private final long[] total = new long[SLOTS];
        private final long[] failed = new long[SLOTS];
        private final long[][] latency = new long[SLOTS][BOUNDS_MS.length + 1];
        private final long[] slowest = new long[SLOTS];
        private String lastError;
        private Instant lastFailureAt;

        Calls() {
            Arrays.fill(slotOf, -1);
        }

        synchronized void add(long slot, long millis, Throwable error, Instant now) {
            int i = (int) (slot % SLOTS);
            if (slotOf[i] != slot) {
                slotOf[i] = slot;
                total[i] = 0;
                failed[i] = 0;
                slowest[i] = 0;
                Arrays.fill(latency[i], 0);
            }
            total[i]++;
            latency[i][bucket(millis)]++;
            slowest[i] = Math.max(slowest[i], millis);
            if (error != null) {
                failed[i]++;
                lastError = describe(error);
                lastFailureAt = now;
            }
        }

        synchronized Window window(long now) {
            long calls = 0;
            long failures = 0;
            long slowestMs = 0;
            long[] histogram = new long[BOUNDS_MS.length + 1];
            boolean failedInWindow = false;
            for (int i = 0; i < SLOTS; i++) {
                if (slotOf[i] < 0 || now - slotOf[i] >= SLOTS) {
                    continue;
                }
                calls += total[i];
                failures += failed[i];
                failedInWindow |= failed[i] > 0;
                slowestMs = Math.max(slowestMs, slowest[i]);
                for (int b = 0; b < histogram.length; b++) {
                    histogram[b] += latency[i][b];
                }
            }
            return new Window(calls, failures, calls == 0 ? null : p95(histogram, calls, slowestMs),
                    failedInWindow ? lastError : null, failedInWindow ? lastFailureAt : null);
        }

        /** The upper bound of the bucket holding the 95th percentile (the slowest call, past the last bound). */
        private static Duration p95(long[] histogram, long calls, long slowestMs) {
            long rank = (long) Math.ceil(calls * 0.95);
            long seen = 0;
            for (int b = 0; b < histogram.length; b++) {
                seen += histogram[b];
                if (seen >= rank) {
                    return Duration.ofMillis(b < BOUNDS_MS.length ? Math.min(BOUNDS_MS[b], slowestMs) : slowestMs);
                }
            }
            return Duration.ofMillis(slowestMs);
        }

        private static int bucket(long millis) {
            for (int b = 0; b < BOUNDS_MS.length; b++) {
                if (millis <= BOUNDS_MS[b]) {
                    return b;
                }
            }
            return BOUNDS_MS.length;
        }

        private static String describe(Throwable error) {
            String message = error.getMessage() == null ? error.getClass().getSimpleName() : error.getMessage();
            return message.length() > 300 ? message.substring(0, 300) + "..." : message;
        }
    }
}
