package dev.crmsync.sim.pipedrive;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Pipedrive's request limits as the simulator applies them, per API token, thread-safe:
 * <ul>
 *   <li>a burst window ({@link #window()}, 2 s) allowing {@link #limit()} requests (80, an api_token on
 *   the Professional plan);</li>
 *   <li>a stricter window for the search endpoint, {@link #searchLimit()} (10) per window; a search
 *   also counts in the general window;</li>
 *   <li>a daily budget ({@link #dailyLimit()}) that starts again on each new UTC day of the clock.</li>
 * </ul>
 * Windows are fixed: one starts with the first request after the previous one ended and lasts
 * {@link #window()}. Every request with a valid token is counted, refused ones included, which is how
 * Pipedrive treats a client that keeps hammering. When {@link #enabled()} is off, requests are still
 * counted and reported in the headers but never refused.
 *
 * <p>The windows read their own clock ({@link #clock(Clock)}), not the simulator's data clock: a
 * test that freezes {@code update_time} must not freeze the windows with it, and a rate-limit test
 * moves this clock instead of sleeping.
 */
public final class PipedriveRateLimits {

    public static final int DEFAULT_LIMIT = 80;
    public static final int DEFAULT_SEARCH_LIMIT = 10;
    public static final Duration DEFAULT_WINDOW = Duration.ofSeconds(2);
    public static final long DEFAULT_DAILY_LIMIT = 100_000;

    /**
     * What one request got: whether it may be served, and the values of the
     * {@code x-ratelimit-limit}, {@code x-ratelimit-remaining}, {@code x-ratelimit-reset} (whole
     * seconds until the window ends, rounded up) and {@code x-daily-requests-left} headers. For a
     * search the three window headers describe the search window.
     */
    public record Decision(boolean allowed, boolean dailyExceeded, int limit, int remaining, long resetSeconds,
                           long dailyLeft) {
    }

    private static final class Window {
        Instant start;
        int count;
    }

    private static final class Usage {
        final Window general = new Window();
        final Window search = new Window();
        LocalDate day;
        long daily;
    }

    private final Map<String, Usage> usage = new HashMap<>();
    private boolean enabled = true;
    private int limit = DEFAULT_LIMIT;
    private int searchLimit = DEFAULT_SEARCH_LIMIT;
    private Duration window = DEFAULT_WINDOW;
    private long dailyLimit = DEFAULT_DAILY_LIMIT;
    private Clock clock = Clock.systemUTC();

    PipedriveRateLimits() {
    }

    public synchronized boolean enabled() {
        return enabled;
    }

    /** Off: requests are counted and reported but never answered with 429. */
    public synchronized PipedriveRateLimits enabled(boolean on) {
        this.enabled = on;
        return this;
    }

    public synchronized int limit() {
        return limit;
    }

    public synchronized PipedriveRateLimits limit(int perWindow) {
        this.limit = positive(perWindow, "limit");
        return this;
    }

    public synchronized int searchLimit() {
        return searchLimit;
    }

    public synchronized PipedriveRateLimits searchLimit(int perWindow) {
        this.searchLimit = positive(perWindow, "searchLimit");
        return this;
    }

    public synchronized Duration window() {
        return window;
    }

    public synchronized PipedriveRateLimits window(Duration length) {
        if (length.isNegative() || length.isZero()) {
            throw new IllegalArgumentException("window must be longer than zero, not " + length);
        }
        this.window = length;
        return this;
    }

    public synchronized long dailyLimit() {
        return dailyLimit;
    }

    public synchronized PipedriveRateLimits dailyLimit(long requests) {
        if (requests < 1) {
            throw new IllegalArgumentException("dailyLimit must be 1 or more, not " + requests);
        }
        this.dailyLimit = requests;
        return this;
    }

    public synchronized Clock clock() {
        return clock;
    }

    public synchronized PipedriveRateLimits clock(Clock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
        return this;
    }

    /** Forgets every window and the day's usage of every token. */
    public synchronized PipedriveRateLimits reset() {
        usage.clear();
        return this;
    }

    /** Requests counted today for {@code token}. */
    public synchronized long usedToday(String token) {
        Usage u = usage.get(token);
        if (u == null) {
            return 0;
        }
        rollDay(u, clock.instant());
        return u.daily;
    }

    /** Counts one request of {@code token} and decides whether it may be served. */
    synchronized Decision take(String token, boolean search) {
        Instant now = clock.instant();
        Usage u = usage.computeIfAbsent(token, t -> new Usage());
        rollWindow(u.general, now);
        u.general.count++;
        if (search) {
            rollWindow(u.search, now);
            u.search.count++;
        }
        rollDay(u, now);
        u.daily++;
        boolean dailyExceeded = u.daily > dailyLimit;
        boolean over = u.general.count > limit || (search && u.search.count > searchLimit) || dailyExceeded;
        return decision(u, search, now, !(enabled && over), enabled && dailyExceeded);
    }

    /** The headers as they stand, counting and starting nothing: for a reply the fault switches made up. */
    synchronized Decision peek(String token, boolean search) {
        Instant now = clock.instant();
        Usage u = usage.get(token);
        Window w = u == null ? null : search ? u.search : u.general;
        boolean current = w != null && w.start != null && now.isBefore(w.start.plus(window));
        long daily = u == null || !LocalDate.ofInstant(now, ZoneOffset.UTC).equals(u.day) ? 0 : u.daily;
        return decision(search, current ? w.start : now, current ? w.count : 0, now, daily, true, false);
    }

    private Decision decision(Usage u, boolean search, Instant now, boolean allowed, boolean dailyExceeded) {
        Window w = search ? u.search : u.general;
        return decision(search, w.start, w.count, now, u.daily, allowed, dailyExceeded);
    }

    private Decision decision(boolean search, Instant start, int count, Instant now, long daily, boolean allowed,
                              boolean dailyExceeded) {
        int max = search ? searchLimit : limit;
        long resetMillis = Duration.between(now, start.plus(window)).toMillis();
        long resetSeconds = Math.max(1, (resetMillis + 999) / 1000);
        return new Decision(allowed, dailyExceeded, max, Math.max(0, max - count), resetSeconds,
                Math.max(0, dailyLimit - daily));
    }

    private void rollWindow(Window w, Instant now) {
        if (w.start == null || !now.isBefore(w.start.plus(window))) {
            w.start = now;
            w.count = 0;
        }
    }

    private static void rollDay(Usage u, Instant now) {
        LocalDate today = LocalDate.ofInstant(now, ZoneOffset.UTC);
        if (!today.equals(u.day)) {
            u.day = today;
            u.daily = 0;
        }
    }

    private static int positive(int n, String name) {
        if (n < 1) {
            throw new IllegalArgumentException(name + " must be 1 or more, not " + n);
        }
        return n;
    }
}
