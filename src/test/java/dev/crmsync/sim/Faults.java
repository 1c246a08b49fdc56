package dev.crmsync.sim;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Fault switches of a simulator, thread-safe. Counted faults are kept in the order they were added;
 * each request takes the first pending one that matches its method and path and uses up one of its
 * count. Sticky mode fails every request (before any counted fault is used) until {@link #clear()};
 * latency is added to every request, faulted or not. The simulator decides a fault before it touches
 * its state, so a faulted request never changes anything.
 *
 * <ul>
 *   <li>{@link #failNext(int, int)}: answer a status (e.g. 500, 503) with a JSON error body.</li>
 *   <li>{@link #rateLimitNext(int, int)}: answer 429 with {@code Retry-After: <seconds>}.</li>
 *   <li>{@link #dropNext(int)}: close the connection without sending any response.</li>
 *   <li>{@link #latency(Duration)}: sleep this long before answering each request.</li>
 *   <li>{@link #sticky(int)}: answer this status to every request until cleared.</li>
 * </ul>
 *
 * A {@code method} of {@code null} matches any method (otherwise compared ignoring case); a
 * {@code pathPrefix} of {@code null} matches any path (otherwise the request path must start with it,
 * so {@code "/api/contacts"} matches the collection and every record, {@code "/api/contacts/"} only
 * the records).
 */
public final class Faults {

    /** Retry-After given with a 429 from {@link #sticky(int)} or {@link #failNext(int, int)}. */
    public static final int DEFAULT_RETRY_AFTER_SECONDS = 1;

    public enum Kind {
        STATUS, RATE_LIMIT, DROP
    }

    /** A pending counted fault as it stands now. */
    public record Rule(Kind kind, int status, int retryAfterSeconds, String method, String pathPrefix,
                       int remaining) {
    }

    /** What to do with one request: answer {@code status} (with Retry-After when 429) or drop it. */
    public record Action(Kind kind, int status, int retryAfterSeconds) {
        public boolean drop() {
            return kind == Kind.DROP;
        }
    }

    private static final class Pending {
        final Kind kind;
        final int status;
        final int retryAfterSeconds;
        final String method;
        final String pathPrefix;
        int remaining;

        Pending(Kind kind, int status, int retryAfterSeconds, String method, String pathPrefix, int count) {
            this.kind = kind;
            this.status = status;
            this.retryAfterSeconds = retryAfterSeconds;
            this.method = method == null ? null : method.toUpperCase(Locale.ROOT);
            this.pathPrefix = pathPrefix;
            this.remaining = count;
        }

        boolean matches(String requestMethod, String path) {
            return (method == null || method.equalsIgnoreCase(requestMethod))
                    && (pathPrefix == null || path.startsWith(pathPrefix));
        }
    }

    private final List<Pending> pending = new ArrayList<>();
    private volatile long latencyMillis;
    private Integer stickyStatus;

    public Faults failNext(int count, int status) {
        return failNext(count, status, null, null);
    }

    public Faults failNext(int count, int status, String method, String pathPrefix) {
        if (status < 400 || status > 599) {
            throw new IllegalArgumentException("fault status must be 4xx or 5xx, not " + status);
        }
        int retryAfter = status == 429 ? DEFAULT_RETRY_AFTER_SECONDS : 0;
        return add(new Pending(Kind.STATUS, status, retryAfter, method, pathPrefix, positive(count)));
    }

    public Faults rateLimitNext(int count, int retryAfterSeconds) {
        return rateLimitNext(count, retryAfterSeconds, null, null);
    }

    public Faults rateLimitNext(int count, int retryAfterSeconds, String method, String pathPrefix) {
        if (retryAfterSeconds < 0) {
            throw new IllegalArgumentException("retryAfterSeconds must be 0 or more, not " + retryAfterSeconds);
        }
        return add(new Pending(Kind.RATE_LIMIT, 429, retryAfterSeconds, method, pathPrefix, positive(count)));
    }

    public Faults dropNext(int count) {
        return dropNext(count, null, null);
    }

    public Faults dropNext(int count, String method, String pathPrefix) {
        return add(new Pending(Kind.DROP, 0, 0, method, pathPrefix, positive(count)));
    }

    /** Adds this delay to every request from now on; {@link Duration#ZERO} turns it off. */
    public Faults latency(Duration delay) {
        if (delay.isNegative()) {
            throw new IllegalArgumentException("latency must not be negative: " + delay);
        }
        latencyMillis = delay.toMillis();
        return this;
    }

    public Duration latency() {
        return Duration.ofMillis(latencyMillis);
    }

    /** Every request answers {@code status} until {@link #clear()} or {@link #stickyOff()}. */
    public synchronized Faults sticky(int status) {
        if (status < 400 || status > 599) {
            throw new IllegalArgumentException("sticky status must be 4xx or 5xx, not " + status);
        }
        stickyStatus = status;
        return this;
    }

    public synchronized Faults stickyOff() {
        stickyStatus = null;
        return this;
    }

    public synchronized OptionalInt sticky() {
        return stickyStatus == null ? OptionalInt.empty() : OptionalInt.of(stickyStatus);
    }

    /** Removes every counted fault, sticky mode and latency. */
    public synchronized Faults clear() {
        pending.clear();
        stickyStatus = null;
        latencyMillis = 0;
        return this;
    }

    /** The counted faults not used up yet, in the order they will be used. */
    public synchronized List<Rule> pending() {
        List<Rule> rules = new ArrayList<>();
        for (Pending p : pending) {
            rules.add(new Rule(p.kind, p.status, p.retryAfterSeconds, p.method, p.pathPrefix, p.remaining));
        }
        return rules;
    }

    /** Decides the fate of one request, using up one count of the fault it takes. */
    public synchronized Optional<Action> take(String method, String path) {
        if (stickyStatus != null) {
            return Optional.of(new Action(Kind.STATUS, stickyStatus,
                    stickyStatus == 429 ? DEFAULT_RETRY_AFTER_SECONDS : 0));
        }
        for (Iterator<Pending> it = pending.iterator(); it.hasNext(); ) {
            Pending p = it.next();
            if (p.matches(method, path)) {
                if (--p.remaining <= 0) {
                    it.remove();
                }
                return Optional.of(new Action(p.kind, p.status, p.retryAfterSeconds));
            }
        }
        return Optional.empty();
    }

    long latencyMillis() {
        return latencyMillis;
    }

    private synchronized Faults add(Pending p) {
        pending.add(p);
        return this;
    }

    private static int positive(int count) {
        if (count < 1) {
            throw new IllegalArgumentException("count must be 1 or more, not " + count);
        }
        return count;
    }
}
