package dev.crmsync.sim.pipedrive;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The simulator's outgoing webhooks, Pipedrive's v2 format, one event per POST. Thread-safe.
 *
 * <h2>What is sent</h2>
 * With a target set ({@link #target(String, String, String)}), every create, change and delete of a
 * person, through the API or a test helper (but not {@code seed}), is queued in the order the changes
 * happened and POSTed to the target by one sender thread, in that order, as
 * <pre>{@code
 * POST <target>
 * Content-Type: application/json
 * Authorization: Basic base64(username:password)      (when a username is set)
 *
 * {"meta":{"action":"create"|"change"|"delete","entity":"person","entity_id":"42","id":"<uuid>",
 *          "timestamp":"2026-05-20T20:49:32Z","attempt":1,"version":"2.0","merged_to_id":"7"},
 *  "data":{...the person as GET /api/v2/persons/{id} answers it...} | null,
 *  "previous":{...} | null}
 * }</pre>
 * <ul>
 *   <li>create: {@code data} the new person, {@code previous} null;</li>
 *   <li>change: {@code data} the whole person after the change, {@code previous} only the top-level
 *   fields that changed with their values before, {@code update_time} among them; within
 *   {@code custom_fields} only the keys that changed;</li>
 *   <li>delete: {@code data} null, {@code previous} the whole person as it was;</li>
 *   <li>a merge: a delete of the merged person with {@code meta.merged_to_id} (the survivor's id,
 *   a string like {@code entity_id}), then a change of the survivor. Pipedrive does not promise
 *   this order; a receiver should accept either.</li>
 * </ul>
 * {@code meta.timestamp} is the time of the change on the simulator's data clock; {@code meta.id}
 * stays the same across retries of one event, so a receiver can drop repeats.
 *
 * <h2>Retries</h2>
 * An answer other than 2xx, a connection failure or no answer within {@link #timeout(Duration)}
 * fails the attempt; the event is sent again after each of {@link #retryDelays()} in turn (growing:
 * 3 s, 30 s, 150 s by default) with {@code meta.attempt} counting up, then given up. Later events wait
 * behind the one being retried, so the receiver never sees them out of order.
 *
 * <h2>Switches for tests</h2>
 * {@link #loseNext(int)} drops the next n events that would be sent, as a lost delivery would;
 * {@link #pause()} holds events in the queue until {@link #resume()}; {@link #awaitIdle(Duration)}
 * waits until the queue is empty; {@link #flush(Duration)} does both. Every emitted event is kept in
 * {@link #events()}, every attempt in {@link #deliveries()} (the latest {@value #LOG_LIMIT} of each).
 */
public final class PipedriveWebhooks {

    public static final List<Duration> DEFAULT_RETRY_DELAYS =
            List.of(Duration.ofSeconds(3), Duration.ofSeconds(30), Duration.ofSeconds(150));
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);
    public static final int LOG_LIMIT = 10_000;

    /** How one attempt, or one lost event, ended. */
    public enum Outcome {
        /** The receiver answered 2xx. */
        DELIVERED,
        /** The attempt failed and will be retried. */
        FAILED,
        /** The last attempt failed; the event is dropped. */
        GAVE_UP,
        /** Dropped by {@link #loseNext(int)} without being sent. */
        LOST
    }

    /**
     * One attempt to deliver an event: {@code status} is the receiver's HTTP status, 0 when there was
     * none (connection failure, timeout, or a lost event), with {@code error} saying why.
     */
    public record Delivery(String eventId, String action, long entityId, int attempt, Outcome outcome, int status,
                           String error, Instant at) {
    }

    private record Target(URI url, String authorization) {
    }

    /** An event before its attempt number is stamped in. */
    private record Event(String id, String action, long entityId, Long mergedToId, String timestamp,
                         Map<String, Object> data, Map<String, Object> previous) {

        Map<String, Object> body(int attempt) {
            Map<String, Object> meta = new LinkedHashMap<>();
            meta.put("action", action);
            meta.put("entity", "person");
            meta.put("entity_id", Long.toString(entityId));
            meta.put("id", id);
            meta.put("timestamp", timestamp);
            meta.put("attempt", attempt);
            meta.put("version", "2.0");
            if (mergedToId != null) {
                meta.put("merged_to_id", Long.toString(mergedToId));
            }
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("meta", meta);
            body.put("data", data);
            body.put("previous", previous);
            return Collections.unmodifiableMap(body);
        }
    }

    private final ObjectMapper json;
    private final String threadName;
    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    // All guarded by this.
    private final Deque<Event> queue = new ArrayDeque<>();
    private final Deque<Map<String, Object>> events = new ArrayDeque<>();
    private final Deque<Delivery> deliveries = new ArrayDeque<>();
    private Target target;
    private List<Duration> retryDelays = DEFAULT_RETRY_DELAYS;
    private Duration timeout = DEFAULT_TIMEOUT;
    private boolean paused;
    private int loseNext;
    private boolean inFlight;
    private boolean running;
    private Thread sender;

    PipedriveWebhooks(ObjectMapper json, String threadName) {
        this.json = json;
        this.threadName = threadName;
    }

    // ---------------------------------------------------------------- configuration

    /**
     * Sends events to {@code url} from now on, with HTTP Basic {@code username:password} when
     * {@code username} is not null. Events emitted while no target is set are logged but not sent.
     */
    public synchronized PipedriveWebhooks target(String url, String username, String password) {
        URI uri = checkedUrl(url);
        String authorization = username == null ? null : "Basic " + Base64.getEncoder().encodeToString(
                (username + ":" + (password == null ? "" : password)).getBytes(StandardCharsets.UTF_8));
        this.target = new Target(uri, authorization);
        notifyAll();
        return this;
    }

    /** The target URL parsed, or an {@link IllegalArgumentException} saying what is wrong with it. */
    static URI checkedUrl(String url) {
        URI uri = URI.create(Objects.requireNonNull(url, "url"));
        if (!"http".equalsIgnoreCase(uri.getScheme()) && !"https".equalsIgnoreCase(uri.getScheme())) {
            throw new IllegalArgumentException("webhook url must be http or https, not " + url);
        }
        return uri;
    }

    /** Stops sending; events already queued stay queued until a target is set or they are discarded. */
    public synchronized PipedriveWebhooks targetOff() {
        this.target = null;
        return this;
    }

    /** The target URL, or null when webhooks are off. */
    public synchronized URI target() {
        return target == null ? null : target.url();
    }

    /** Whether the target is set with Basic credentials. */
    public synchronized boolean authenticated() {
        return target != null && target.authorization() != null;
    }

    /** Waits before the 2nd, 3rd, ... attempt of an event; none: one attempt only. */
    public synchronized PipedriveWebhooks retryDelays(Duration... delays) {
        return retryDelays(List.of(delays));
    }

    public synchronized PipedriveWebhooks retryDelays(List<Duration> delays) {
        for (Duration d : delays) {
            if (d.isNegative()) {
                throw new IllegalArgumentException("retry delays must not be negative: " + delays);
            }
        }
        this.retryDelays = List.copyOf(delays);
        return this;
    }

    public synchronized List<Duration> retryDelays() {
        return retryDelays;
    }

    /** How long one attempt waits for the receiver's answer. */
    public synchronized PipedriveWebhooks timeout(Duration timeout) {
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be longer than zero, not " + timeout);
        }
        this.timeout = timeout;
        return this;
    }

    public synchronized Duration timeout() {
        return timeout;
    }

    // ---------------------------------------------------------------- test switches

    /** The next {@code count} events that would be sent are dropped instead (on top of any pending). */
    public synchronized PipedriveWebhooks loseNext(int count) {
        if (count < 0) {
            throw new IllegalArgumentException("count must be 0 or more, not " + count);
        }
        loseNext += count;
        return this;
    }

    /** Events still to be lost. */
    public synchronized int toLose() {
        return loseNext;
    }

    /** Holds events in the queue; an event already being sent finishes its attempts. */
    public synchronized PipedriveWebhooks pause() {
        paused = true;
        return this;
    }

    public synchronized PipedriveWebhooks resume() {
        paused = false;
        notifyAll();
        return this;
    }

    public synchronized boolean paused() {
        return paused;
    }

    /** Waits until every queued event is delivered or given up; false if {@code timeout} passed first. */
    public synchronized boolean awaitIdle(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!queue.isEmpty() || inFlight) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            wait(Math.max(1, left / 1_000_000));
        }
        return true;
    }

    /** {@link #resume()}, then {@link #awaitIdle(Duration)}. */
    public boolean flush(Duration timeout) throws InterruptedException {
        resume();
        return awaitIdle(timeout);
    }

    /** Drops the queued events not being sent right now; answers how many. */
    public synchronized int discardPending() {
        int dropped = 0;
        while (queue.size() > (inFlight ? 1 : 0)) {
            queue.removeLast();
            dropped++;
        }
        notifyAll();
        return dropped;
    }

    /** Events waiting to be sent, first the one being sent if any, as their first attempt's body. */
    public synchronized List<Map<String, Object>> pending() {
        return queue.stream().map(e -> e.body(1)).toList();
    }

    /** Every event emitted, sent or not (first attempt's body), oldest first. */
    public synchronized List<Map<String, Object>> events() {
        return List.copyOf(events);
    }

    /** Every attempt and every lost event, oldest first. */
    public synchronized List<Delivery> deliveries() {
        return List.copyOf(deliveries);
    }

    /** Drops queue and logs, forgets {@link #loseNext(int)} and resumes; keeps target and retry settings. */
    public synchronized void clear() {
        discardPending();
        events.clear();
        deliveries.clear();
        loseNext = 0;
        paused = false;
        notifyAll();
    }

    // ---------------------------------------------------------------- emitting and sending

    /** Queues one event; the simulator calls this holding its data lock, so the queue keeps change order. */
    synchronized void emit(String action, long entityId, Long mergedToId, String timestamp,
                           Map<String, Object> data, Map<String, Object> previous) {
        Event event = new Event(UUID.randomUUID().toString(), action, entityId, mergedToId, timestamp, data,
                previous);
        log(events, event.body(1));
        if (target == null) {
            return;
        }
        if (loseNext > 0) {
            loseNext--;
            log(deliveries, new Delivery(event.id(), action, entityId, 1, Outcome.LOST, 0,
                    "lost by the loseNext switch", Instant.now()));
            return;
        }
        queue.addLast(event);
        notifyAll();
    }

    synchronized void start() {
        if (running) {
            return;
        }
        running = true;
        sender = new Thread(this::run, threadName);
        sender.setDaemon(true);
        sender.start();
    }

    void stop() {
        Thread thread;
        synchronized (this) {
            running = false;
            thread = sender;
            sender = null;
            notifyAll();
        }
        if (thread != null) {
            thread.interrupt();
            try {
                thread.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void run() {
        try {
            while (true) {
                Event event;
                synchronized (this) {
                    while (running && (paused || queue.isEmpty() || target == null)) {
                        wait();
                    }
                    if (!running) {
                        return;
                    }
                    event = queue.peekFirst();
                    inFlight = true;
                }
                boolean done = false;
                try {
                    deliver(event);
                    done = true;
                } finally {
                    synchronized (this) {
                        // Stopped mid-way, the event stays first in line for the next start.
                        if (done && queue.peekFirst() == event) {
                            queue.removeFirst();
                        }
                        inFlight = false;
                        notifyAll();
                    }
                }
            }
        } catch (InterruptedException e) {
            // Stopped.
        }
    }

    /** Every attempt of one event; returns when delivered or given up. */
    private void deliver(Event event) throws InterruptedException {
        for (int attempt = 1; ; attempt++) {
            Target to;
            List<Duration> delays;
            Duration wait;
            synchronized (this) {
                to = target;
                delays = retryDelays;
                wait = timeout;
            }
            int status = 0;
            String error = null;
            if (to == null) {
                error = "no webhook target set";
            } else {
                try {
                    HttpRequest.Builder request = HttpRequest.newBuilder(to.url()).timeout(wait)
                            .header("Content-Type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofByteArray(json.writeValueAsBytes(event.body(attempt))));
                    if (to.authorization() != null) {
                        request.header("Authorization", to.authorization());
                    }
                    status = client.send(request.build(), HttpResponse.BodyHandlers.discarding()).statusCode();
                    if (status < 200 || status > 299) {
                        error = "receiver answered " + status;
                    }
                } catch (JsonProcessingException e) {
                    throw new IllegalStateException("cannot write webhook body", e);
                } catch (IOException e) {
                    error = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
                }
            }
            boolean last = attempt > delays.size();
            Outcome outcome = error == null ? Outcome.DELIVERED : last ? Outcome.GAVE_UP : Outcome.FAILED;
            synchronized (this) {
                log(deliveries, new Delivery(event.id(), event.action(), event.entityId(), attempt, outcome, status,
                        error, Instant.now()));
            }
            if (outcome != Outcome.FAILED) {
                return;
            }
            sleep(delays.get(attempt - 1));
        }
    }

    /** Sleeps on the monitor so {@link #stop()} ends the wait at once. */
    private synchronized void sleep(Duration delay) throws InterruptedException {
        long deadline = System.nanoTime() + delay.toNanos();
        while (running) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return;
            }
            wait(Math.max(1, left / 1_000_000));
        }
        throw new InterruptedException("webhooks stopped");
    }

    private static <T> void log(Deque<T> log, T entry) {
        if (log.size() == LOG_LIMIT) {
            log.removeFirst();
        }
        log.addLast(entry);
    }

    /** Deliveries by outcome, for the control view. */
    synchronized Map<String, Object> view() {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("url", target == null ? null : target.url().toString());
        view.put("basicAuth", target != null && target.authorization() != null);
        view.put("paused", paused);
        view.put("queued", queue.size());
        view.put("loseNext", loseNext);
        view.put("retryDelaysMs", retryDelays.stream().map(Duration::toMillis).toList());
        view.put("timeoutMs", timeout.toMillis());
        view.put("emitted", events.size());
        Map<String, Long> outcomes = new LinkedHashMap<>();
        for (Outcome o : Outcome.values()) {
            outcomes.put(o.name().toLowerCase(java.util.Locale.ROOT),
                    deliveries.stream().filter(d -> d.outcome() == o).count());
        }
        view.put("attempts", outcomes);
        return view;
    }

    synchronized List<Map<String, Object>> deliveriesView() {
        List<Map<String, Object>> list = new ArrayList<>();
        for (Delivery d : deliveries) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("eventId", d.eventId());
            entry.put("action", d.action());
            entry.put("entityId", d.entityId());
            entry.put("attempt", d.attempt());
            entry.put("outcome", d.outcome().name());
            entry.put("status", d.status());
            entry.put("error", d.error());
            entry.put("at", d.at().toString());
            list.add(entry);
        }
        return list;
    }
}
