package dev.crmsync.provider;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * At most {@code max} calls in any rolling {@code interval}, shared by every thread that calls one
 * account: a caller over the budget waits for room instead of being refused with a 429.
 */
public final class RollingRateLimiter {

    private final int max;
    private final long intervalNanos;
    private final Deque<Long> calls = new ArrayDeque<>();

    public RollingRateLimiter(int max, Duration interval) {
        if (max < 1) {
            throw new IllegalArgumentException("a rate limit needs at least one call per interval, not " + max);
        }
        this.max = max;
        this.intervalNanos = interval.toNanos();
    }

    /** Calls counted in the interval ending now. */
    public synchronized int used() {
        long now = System.nanoTime();
        while (!calls.isEmpty() && now - calls.peekFirst() >= intervalNanos) {
            calls.pollFirst();
        }
        return calls.size();
    }

    public int max() {
        return max;
    }

    public Duration interval() {
        return Duration.ofNanos(intervalNanos);
    }

    /** Waits until one more call fits the budget and counts it. */
    public void acquire() {
        while (true) {
            long wait;
            synchronized (this) {
                long now = System.nanoTime();
                while (!calls.isEmpty() && now - calls.peekFirst() >= intervalNanos) {
                    calls.pollFirst();
                }
                if (calls.size() < max) {
                    calls.addLast(now);
                    return;
                }
                wait = calls.peekFirst() + intervalNanos - now;
            }
            try {
                Thread.sleep(Math.max(1, wait / 1_000_000), (int) Math.max(0, wait % 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new RemoteCallException("interrupted waiting for the rate limit", 0, null, e);
            }
        }
    }
}
