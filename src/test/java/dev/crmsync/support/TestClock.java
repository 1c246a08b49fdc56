package dev.crmsync.support;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A clock the test sets: every reading returns the current instant, then moves it on by the tick
 * (one second unless changed; zero freezes time so several changes share one timestamp).
 */
public final class TestClock extends Clock {

    /** A start with nanoseconds, so the microsecond truncation of the store is exercised. */
    public static final Instant START = Instant.parse("2025-03-01T10:15:30.123456789Z");

    private final AtomicReference<Instant> now = new AtomicReference<>(START);
    private volatile Duration tick = Duration.ofSeconds(1);
    private volatile Runnable onRead = () -> { };

    public void reset() {
        now.set(START);
        tick = Duration.ofSeconds(1);
        onRead = () -> { };
    }

    /**
     * Runs before every reading, on the reading thread: lets a test hold a service call at the
     * point where it asks for the time (ContactService.create does so between its email check and
     * its insert).
     */
    public void onRead(Runnable hook) {
        this.onRead = hook;
    }

    public void set(Instant instant) {
        now.set(instant);
    }

    /** Zero freezes the clock. */
    public void tick(Duration tick) {
        this.tick = tick;
    }

    public Instant peek() {
        return now.get();
    }

    @Override
    public Instant instant() {
        onRead.run();
        Duration step = tick;
        return now.getAndUpdate(instant -> instant.plus(step));
    }

    @Override
    public ZoneId getZone() {
        return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
        throw new UnsupportedOperationException("the test clock is UTC only");
    }
}
