package dev.crmsync.sim;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Map;

/**
 * A rolling-window request limit per key (a token, an account): at most {@code max} hits in any
 * {@code interval}, a hit leaving the window {@code interval} after it was counted. Time is passed in,
 * so a simulator reads it from its own clock and a test with a {@link ManualClock} decides when room
 * comes back. Thread-safe.
 */
public final class RollingWindow {

    private final Map<String, Deque<Long>> hits = new HashMap<>();
    private int max;
    private long intervalMillis;

    public RollingWindow(int max, Duration interval) {
        limit(max, interval);
    }

    /** Changes the limit; hits already counted stay counted. */
    public synchronized RollingWindow limit(int max, Duration interval) {
        check(max, interval);
        this.max = max;
        this.intervalMillis = interval.toMillis();
        return this;
    }

    /** Refuses a limit a window cannot have: fewer than 1 hit, or an interval not positive. */
    public static void check(int max, Duration interval) {
        if (max < 1) {
            throw new IllegalArgumentException("a rolling window needs a limit of 1 or more, not " + max);
        }
        if (interval == null || interval.isNegative() || interval.isZero()) {
            throw new IllegalArgumentException("a rolling window needs a positive interval, not " + interval);
        }
    }

    public synchronized int max() {
        return max;
    }

    public synchronized Duration interval() {
        return Duration.ofMillis(intervalMillis);
    }

    /** Hits of {@code key} inside the window that ends at {@code now}. */
    public synchronized int used(String key, Instant now) {
        Deque<Long> times = hits.get(key);
        if (times == null) {
            return 0;
        }
        evict(times, now.toEpochMilli());
        return times.size();
    }

    public synchronized int remaining(String key, Instant now) {
        return Math.max(0, max - used(key, now));
    }

    public synchronized boolean hasRoom(String key, Instant now) {
        return used(key, now) < max;
    }

    /** Counts one hit for {@code key} if the window has room; answers whether it did. */
    public synchronized boolean tryAcquire(String key, Instant now) {
        Deque<Long> times = hits.computeIfAbsent(key, k -> new ArrayDeque<>());
        long at = now.toEpochMilli();
        evict(times, at);
        if (times.size() >= max) {
            return false;
        }
        times.addLast(at);
        return true;
    }

    /** Forgets every hit. */
    public synchronized void reset() {
        hits.clear();
    }

    private void evict(Deque<Long> times, long now) {
        while (!times.isEmpty() && times.peekFirst() <= now - intervalMillis) {
            times.removeFirst();
        }
    }
}
