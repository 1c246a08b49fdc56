package dev.crmsync.ops;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ToDoubleFunction;

import dev.crmsync.config.CrmSyncProperties;
import dev.crmsync.provider.CrmClient;
import dev.crmsync.provider.CrmClient.ApiUsage;
import dev.crmsync.provider.ProviderActivity;
import dev.crmsync.provider.ProviderActivity.Window;
import dev.crmsync.provider.ProviderPauses;
import dev.crmsync.provider.ProviderPauses.Pause;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.boot.actuate.health.Status;
import org.springframework.dao.DataAccessException;
import org.springframework.jdbc.core.namedparam.NamedParameterJdbcTemplate;
import org.springframework.stereotype.Component;

/**
 * How each enabled system is doing: its calls in the window (error rate, p95 latency), when it was
 * last heard from, its backlog in the inbox and the outbox, its unreplayed dead letters and its API
 * usage, judged against {@code crmsync.health.*} into a status (UP, DEGRADED with the reasons, DOWN
 * when every call fails) and a score from 0 to 100. Read by the {@code providers} health component,
 * the Prometheus gauges {@code crmsync_system_*} and JMX. The database figures are read at most once
 * per {@code refresh-period} (the system-health route), so health checks and scrapes never load it.
 */
@Component("systemHealth")
public class SystemHealth {

    public static final Status DEGRADED = new Status("DEGRADED", "a connected system is paused, failing or behind");

    private static final Logger LOG = LoggerFactory.getLogger(SystemHealth.class);

    /** Changes waiting in one queue of a system: how many, and how long the oldest has waited. */
    public record Queue(long pending, Duration oldest) {
        static final Queue EMPTY = new Queue(0, Duration.ZERO);
    }

    /** One system judged. {@code pause}, {@code lastPoll}, {@code lastHeard} and {@code apiUsage} may be null. */
    public record Report(String system, Status status, List<String> reasons, int score, Pause pause, Instant lastPoll,
                         Instant lastHeard, Duration silence, Window calls, Queue inbox, Queue outbox, long deadLetters,
                         ApiUsage apiUsage) {

        /** The figures as health details and JMX show them. */
        public Map<String, Object> details(Duration window) {
            Map<String, Object> details = new LinkedHashMap<>();
            details.put("status", status.getCode());
            if (!reasons.isEmpty()) {
                details.put("reason", String.join("; ", reasons));
            }
            details.put("state", pause == null ? "active" : "paused");
            if (pause != null) {
                details.put("until", pause.until().toString());
            }
            details.put("healthScore", score);
            details.put("lastSuccessfulPoll", lastPoll == null ? null : lastPoll.toString());
            details.put("lastHeardFrom", lastHeard == null ? null : lastHeard.toString());
            Map<String, Object> recent = new LinkedHashMap<>();
            recent.put("window", window.toString());
            recent.put("total", calls.calls());
            recent.put("failed", calls.failures());
            recent.put("errorRate", Math.round(calls.errorRate() * 1000) / 1000.0);
            recent.put("p95Ms", calls.p95() == null ? null : calls.p95().toMillis());
            if (calls.lastError() != null) {
                recent.put("lastError", calls.lastError());
                recent.put("lastFailureAt", calls.lastFailureAt().toString());
            }
            details.put("calls", recent);
            details.put("inbox", Map.of("pending", inbox.pending(), "oldestAgeSeconds", inbox.oldest().toSeconds()));
            details.put("outbox", Map.of("pending", outbox.pending(), "oldestAgeSeconds", outbox.oldest().toSeconds()));
            details.put("deadLetters", deadLetters);
            if (apiUsage != null) {
                details.put("apiUsage", Map.of("used", apiUsage.used(), "limit", apiUsage.limit(),
                        "window", apiUsage.window().toString(), "ratio", Math.round(apiUsage.ratio() * 1000) / 1000.0));
            }
            return details;
        }
    }

    /** What the database said, and when. */
    private record Stored(Instant readAt, Map<String, Queue> inbox, Map<String, Queue> outbox, Map<String, Long> deadLetters) {
    }

    private final CrmSyncProperties properties;
    private final HealthProperties limits;
    private final ProviderActivity activity;
    private final ProviderPauses pauses;
    private final NamedParameterJdbcTemplate jdbc;
    private final BeanFactory beans;
    private final MeterRegistry meters;
    private final Clock clock;
    private final Instant started;
    private final List<String> systems;
    private final Map<String, Boolean> lowScore = new ConcurrentHashMap<>();
    private final Set<String> usageGauges = ConcurrentHashMap.newKeySet();
    private volatile Stored stored;
    private volatile Map<String, Report> latest = Map.of();

    public SystemHealth(CrmSyncProperties properties, HealthProperties limits, ProviderActivity activity,
                        ProviderPauses pauses, NamedParameterJdbcTemplate jdbc, BeanFactory beans, MeterRegistry meters,
                        Clock clock) {
        this.properties = properties;
        this.limits = limits;
        this.activity = activity;
        this.pauses = pauses;
        this.jdbc = jdbc;
        this.beans = beans;
        this.meters = meters;
        this.clock = clock;
        this.started = clock.instant();
        this.systems = properties.providers().entrySet().stream().filter(p -> p.getValue().enabled())
                .map(Map.Entry::getKey).sorted().toList();
        systems.forEach(this::registerGauges);
    }

    /** The enabled systems, by name. */
    public List<String> systems() {
        return systems;
    }

    public HealthProperties limits() {
        return limits;
    }

    /** Every enabled system judged now: calls and pauses as they are, database figures at most a refresh period old. */
    public Map<String, Report> reports() {
        Stored figures = stored;
        if (figures == null || stale(figures)) {
            refresh();
            return latest;
        }
        return judge(figures);
    }

    public Optional<Report> report(String system) {
        return Optional.ofNullable(reports().get(system));
    }

    /**
     * Reads the database figures again and judges every system, logging a health score that falls
     * below {@code crmsync.health.score-warning} (once, until it recovers). Called by the system-health route.
     */
    public synchronized void refresh() {
        try {
            stored = read();
        } catch (DataAccessException e) {
            // the db health component reports the database itself; the last figures stay
            LOG.warn("Reading the sync backlog for health failed, the last figures stay: {}", e.getMessage());
            if (stored == null) {
                stored = new Stored(clock.instant(), Map.of(), Map.of(), Map.of());
            }
        }
        Map<String, Report> reports = judge(stored);
        latest = reports;
        reports.values().forEach(this::warnOnCrossing);
        reports.values().stream().filter(r -> r.apiUsage() != null).forEach(r -> registerUsageGauge(r.system()));
    }

    private boolean stale(Stored figures) {
        return Duration.between(figures.readAt(), clock.instant()).toMillis() > limits.refreshPeriod();
    }

    private Map<String, Report> judge(Stored figures) {
        Map<String, Report> reports = new TreeMap<>();
        for (String system : systems) {
            reports.put(system, judge(system, figures));
        }
        return reports;
    }

    private Report judge(String system, Stored figures) {
        Instant now = clock.instant();
        Pause pause = pauses.paused(system).orElse(null);
        Window calls = activity.window(system);
        Instant lastPoll = activity.lastPoll(system).orElse(null);
        Instant lastHeard = latest(lastPoll, activity.lastWebhook(system).orElse(null));
        Duration silence = Duration.between(lastHeard == null ? started : lastHeard, now);
        Queue inbox = figures.inbox().getOrDefault(system, Queue.EMPTY);
        Queue outbox = figures.outbox().getOrDefault(system, Queue.EMPTY);
        long deadLetters = figures.deadLetters().getOrDefault(system, 0L);
        ApiUsage usage = apiUsage(system);

        List<String> reasons = new ArrayList<>();
        boolean judged = calls.calls() >= Math.max(1, limits.minCalls());
        boolean down = judged && calls.failures() == calls.calls();
        if (pause != null) {
            reasons.add("paused until " + pause.until() + ": " + pause.reason());
        }
        if (down) {
            reasons.add("all " + calls.calls() + " calls in the last " + human(activity.window()) + " failed; the last: "
                    + calls.lastError());
        } else if (judged && calls.errorRate() >= limits.errorRate()) {
            reasons.add(calls.failures() + " of " + calls.calls() + " calls in the last " + human(activity.window())
                    + " failed (" + percent(calls.errorRate()) + ", crmsync.health.error-rate is "
                    + percent(limits.errorRate()) + "); the last: " + calls.lastError());
        }
        if (judged && calls.p95().compareTo(limits.slowCall()) > 0) {
            reasons.add("calls are slow: 95% took up to " + calls.p95().toMillis() + " ms (crmsync.health.slow-call is "
                    + limits.slowCall().toMillis() + " ms)");
        }
        for (var queue : List.of(Map.entry("inbox", inbox), Map.entry("outbox", outbox))) {
            if (queue.getValue().pending() > 0 && queue.getValue().oldest().compareTo(limits.backlogAge()) > 0) {
                reasons.add(queue.getValue().pending() + " changes wait in the " + queue.getKey() + ", the oldest for "
                        + human(queue.getValue().oldest()) + " (crmsync.health.backlog-age is " + human(limits.backlogAge()) + ")");
            }
        }
        if (deadLetters >= limits.deadLetters()) {
            reasons.add(deadLetters + " dead letters wait (crmsync.health.dead-letters is " + limits.deadLetters()
                    + "): see GET /api/dead-letters?system=" + system + ", then replay or delete them");
        }
        if (silence.compareTo(limits.silence()) > 0) {
            reasons.add("no successful poll and no webhook for " + human(silence) + " (crmsync.health.silence is "
                    + human(limits.silence()) + "): check its poll route and webhook registration");
        }
        Status status = down ? Status.DOWN : reasons.isEmpty() ? Status.UP : DEGRADED;
        return new Report(system, status, List.copyOf(reasons), score(calls), pause, lastPoll, lastHeard, silence, calls,
                inbox, outbox, deadLetters, usage);
    }

    /**
     * 100 for a system whose calls all succeed in time; the share of failed calls takes its part off,
     * and a p95 over {@code slow-call} scales what is left down (twice as slow: half). Too few calls: 100.
     */
    int score(Window calls) {
        if (calls.calls() < Math.max(1, limits.minCalls())) {
            return 100;
        }
        double speed = calls.p95().compareTo(limits.slowCall()) <= 0 ? 1
                : (double) limits.slowCall().toMillis() / Math.max(1, calls.p95().toMillis());
        return (int) Math.round(100 * (1 - calls.errorRate()) * speed);
    }

    private void warnOnCrossing(Report report) {
        boolean low = report.score() < limits.scoreWarning();
        Boolean wasLow = lowScore.put(report.system(), low);
        Window calls = report.calls();
        String why = calls.failures() + " of " + calls.calls() + " calls in the last " + human(activity.window())
                + " failed, 95% took up to " + (calls.p95() == null ? 0 : calls.p95().toMillis()) + " ms";
        if (low && !Boolean.TRUE.equals(wasLow)) {
            LOG.warn("{} health score fell to {} (crmsync.health.score-warning is {}): {}{}", report.system(), report.score(),
                    limits.scoreWarning(), why, calls.lastError() == null ? "" : "; the last error: " + calls.lastError());
        } else if (!low && Boolean.TRUE.equals(wasLow)) {
            LOG.info("{} health score recovered to {} (crmsync.health.score-warning is {}): {}", report.system(),
                    report.score(), limits.scoreWarning(), why);
        }
    }

    private ApiUsage apiUsage(String system) {
        String client = system + "Client";
        return beans.containsBean(client) ? beans.getBean(client, CrmClient.class).apiUsage().orElse(null) : null;
    }

    private Stored read() {
        Instant now = clock.instant();
        Map<String, Queue> inbox = queues("SELECT source_system AS system, COUNT(*) AS pending, MIN(received_at) AS oldest "
                + "FROM inbox WHERE state IN ('pending', 'claimed') GROUP BY source_system", now);
        Map<String, Queue> outbox = queues("SELECT target_system AS system, COUNT(*) AS pending, MIN(created_at) AS oldest "
                + "FROM outbox WHERE state IN ('pending', 'claimed') GROUP BY target_system", now);
        Map<String, Long> deadLetters = new HashMap<>();
        jdbc.query("SELECT system, COUNT(*) AS letters FROM dead_letter WHERE replayed_at IS NULL AND system IS NOT NULL "
                + "GROUP BY system", Map.of(), rs -> {
                    deadLetters.put(rs.getString("system"), rs.getLong("letters"));
                });
        return new Stored(now, inbox, outbox, deadLetters);
    }

    private Map<String, Queue> queues(String sql, Instant now) {
        Map<String, Queue> queues = new HashMap<>();
        jdbc.query(sql, Map.of(), rs -> {
            Instant oldest = instant(rs, "oldest");
            queues.put(rs.getString("system"), new Queue(rs.getLong("pending"),
                    oldest == null || oldest.isAfter(now) ? Duration.ZERO : Duration.between(oldest, now)));
        });
        return queues;
    }

    private static Instant instant(ResultSet rs, String column) throws SQLException {
        OffsetDateTime value = rs.getObject(column, OffsetDateTime.class);
        return value == null ? null : value.toInstant();
    }

    // Prometheus: figures of the last refresh, so a scrape costs no query

    private Map<String, Report> latest() {
        Stored figures = stored;
        if (figures == null || Duration.between(figures.readAt(), clock.instant()).toMillis() > 2 * limits.refreshPeriod()) {
            // the system-health route is not running (a home folder without it): read on demand instead
            refresh();
        }
        return latest;
    }

    private void registerGauges(String system) {
        for (String queue : List.of("inbox", "outbox")) {
            ToDoubleFunction<Report> of = queue.equals("inbox") ? r -> r.inbox().pending() : r -> r.outbox().pending();
            ToDoubleFunction<Report> age = queue.equals("inbox") ? r -> r.inbox().oldest().toMillis() / 1000.0
                    : r -> r.outbox().oldest().toMillis() / 1000.0;
            gauge("crmsync.system.backlog", system, of, "changes waiting for or to the system", null, "queue", queue);
            gauge("crmsync.system.backlog.oldest.age", system, age, "how long the oldest waiting change has waited",
                    "seconds", "queue", queue);
        }
        gauge("crmsync.system.error.rate", system, r -> r.calls().errorRate(),
                "share of the calls to the system in the health window that failed", null);
        gauge("crmsync.system.latency.p95", system, r -> r.calls().p95() == null ? Double.NaN : r.calls().p95().toMillis() / 1000.0,
                "95th percentile of call durations in the health window", "seconds");
        gauge("crmsync.system.dead.letters", system, Report::deadLetters, "dead letters not replayed yet", null);
        gauge("crmsync.system.health.score", system, Report::score, "0 to 100, from the error rate and slowness", null);
        gauge("crmsync.system.last.poll.age", system, r -> Duration.between(r.lastPoll() == null ? started : r.lastPoll(),
                clock.instant()).toMillis() / 1000.0, "since the last successful poll (or the start)", "seconds");
    }

    private void registerUsageGauge(String system) {
        if (usageGauges.add(system)) {
            gauge("crmsync.system.api.usage", system, r -> r.apiUsage() == null ? Double.NaN : r.apiUsage().ratio(),
                    "share of the API rate limit spent in its window", "ratio");
        }
    }

    private void gauge(String name, String system, ToDoubleFunction<Report> value, String description, String unit,
                       String... tags) {
        Gauge.builder(name, this, health -> {
                    Report report = health.latest().get(system);
                    return report == null ? Double.NaN : value.applyAsDouble(report);
                }).description(description).baseUnit(unit).tag("system", system).tags(tags).register(meters);
    }

    private static Instant latest(Instant a, Instant b) {
        return a == null ? b : b == null ? a : a.isAfter(b) ? a : b;
    }

    private static String percent(double share) {
        return Math.round(share * 100) + "%";
    }

    /** 45s, 12m, 3h 5m: a duration as an operator reads it. */
    static String human(Duration duration) {
        long seconds = duration.toSeconds();
        if (seconds < 60) {
            return seconds + "s";
        }
        if (seconds < 3600) {
            return seconds / 60 + "m" + (seconds % 60 == 0 ? "" : " " + seconds % 60 + "s");
        }
        return seconds / 3600 + "h" + (seconds % 3600 / 60 == 0 ? "" : " " + seconds % 3600 / 60 + "m");
    }
}
