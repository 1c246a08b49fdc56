package dev.crmsync.sim;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Objects;

/**
 * A clock that only moves when told to, for simulators whose timestamps a test must control: while it
 * stands still every write gets the same timestamp, which is how tests put several records on one
 * {@code LastModified} at a page boundary. Thread-safe.
 */
public final class ManualClock extends Clock {

    private volatile Instant now;
    private final ZoneId zone;

    public ManualClock(Instant start) {
        this(start, ZoneOffset.UTC);
    }

    private ManualClock(Instant start, ZoneId zone) {
        this.now = Objects.requireNonNull(start, "start");
        this.zone = zone;
    }

    /** A clock standing at {@code iso}, e.g. {@code "2026-11-22T21:00:00.123Z"}. */
    public static ManualClock at(String iso) {
        return new ManualClock(Instant.parse(iso));
    }

    public synchronized ManualClock set(Instant instant) {
        this.now = Objects.requireNonNull(instant, "instant");
        return this;
    }

    /** Moves the clock forward (or back, for a negative amount) and answers the new instant. */
    public synchronized Instant advance(Duration amount) {
        now = now.plus(amount);
        return now;
    }

    public Instant advanceMillis(long millis) {
        return advance(Duration.ofMillis(millis));
    }

    @Override
    public Instant instant() {
        return now;
    }

    @Override
    public ZoneId getZone() {
        return zone;
    }

    /** A view with another zone; it does not follow later moves of this clock. */
    @Override
    public Clock withZone(ZoneId zone) {
        return new ManualClock(now, zone);
    }

    @Override
    public String toString() {
        return "ManualClock[" + now + "]";
    }
}
