package dev.crmsync.sim.hubspot;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.Deque;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The webhooks of a {@link HubSpotSimulator}: every change to a contact becomes an event, events are
 * batched and POSTed, signed, to the app's target URL, and failed deliveries are retried. Reached
 * through {@link HubSpotSimulator#webhooks()}. Thread-safe.
 *
 * <h2>Events</h2>
 * <pre>{@code
 * {"eventId":17,"subscriptionId":201,"portalId":40000001,"appId":1000001,"occurredAt":1795381200123,
 *  "subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":12,
 *  "propertyName":"email","propertyValue":"ada@example.com","changeSource":"API"}
 * }</pre>
 * {@code subscriptionType} is {@code contact.creation}, {@code contact.propertyChange} (one event per
 * property whose value changed, {@code propertyValue} {@code ""} when cleared), {@code contact.deletion}
 * (archived), {@code contact.merge} or {@code contact.restore}; only a property change carries
 * {@code propertyName} and {@code propertyValue}. A merge event names the surviving contact in
 * {@code objectId}, {@code primaryObjectId} and {@code newObjectId}, the merged-away ones in
 * {@code mergedObjectIds}, and {@code numberOfPropertiesMoved}. {@code eventId} counts up from 1;
 * {@code occurredAt} is the simulator's clock in epoch milliseconds; ids are JSON numbers.
 * Subscription ids are fixed per type ({@link #CREATION_SUBSCRIPTION} ...), and one per property for
 * property changes, given out from {@value #FIRST_PROPERTY_SUBSCRIPTION} in the order properties first
 * change. {@code changeSource} is {@code API} for a change made over the simulator's HTTP API and
 * {@code CRM_UI} for one made with the simulator's helper methods (a person in HubSpot's screens).
 * A contact's creation is followed by a property change for each property it was created with (as a
 * HubSpot app subscribed to those properties sees it), unless
 * {@link HubSpotSimulator.Builder#propertyChangesOnCreate(boolean)} is off. With
 * {@link HubSpotSimulator.Builder#webhookProperties(String...)} only the named properties have
 * property-change subscriptions. Events are only queued while a target is set; the latest
 * {@value #LOG_LIMIT} are kept in {@link #events()} either way.
 *
 * <h2>Delivery</h2>
 * Every flush interval ({@link HubSpotSimulator.Builder#webhookFlushInterval(Duration)}, default
 * 200 ms) the queued events go out in order, up to {@value #MAX_BATCH} per request (HubSpot's batch
 * size), as one JSON array: {@code POST <target>} with {@code Content-Type: application/json} and
 * <ul>
 *   <li>{@code X-HubSpot-Request-Timestamp}: epoch milliseconds when sent, from the signing clock
 *   (the system clock unless {@link #signingClock(Clock)} says otherwise, so a receiver's 5-minute
 *   check passes while the data clock is frozen in another year);</li>
 *   <li>{@code X-HubSpot-Signature-v3}: Base64(HMAC-SHA256(client secret, {@code "POST"} + the target
 *   URI exactly as configured + the raw body + that timestamp));</li>
 *   <li>{@code X-HubSpot-Signature} with {@code X-HubSpot-Signature-Version: v1}: hex SHA-256 of client
 *   secret + raw body, the older scheme HubSpot still sends alongside.</li>
 * </ul>
 * No signature headers are sent while no client secret is set. A 2xx answer delivers the batch. A 4xx
 * answer gives it up at once (HubSpot does not retry client errors). Any other status, a connection
 * failure or no answer within the timeout (default 5 s) retries the whole batch with
 * {@code attemptNumber} one higher and a fresh timestamp and signature, after the retry delay doubled
 * for each attempt before it (base {@link HubSpotSimulator.Builder#webhookRetryDelay(Duration)},
 * default 1 s), until {@value #MAX_ATTEMPTS} attempts have failed; then its events are abandoned.
 * Batches go out one at a time, but a retried batch arrives after newer ones, so a receiver sees
 * events out of order, as it does from HubSpot.
 *
 * <h2>Test switches</h2>
 * {@link #pause()} holds everything (events queue, retries wait) until {@link #resume()};
 * {@link #flush()} sends everything queued and every retry that is due now, paused or not, and
 * returns when those requests are answered; {@link #awaitIdle(Duration)} waits until nothing is
 * queued, waiting for a retry or on the wire. {@link #loseNext(int)} and {@link #loseShare(double)}
 * lose events before they are queued: a lost event is never sent, and is kept in {@link #lost()}.
 */
public final class HubSpotWebhooks {

    public static final int MAX_BATCH = 100;
    public static final int MAX_ATTEMPTS = 10;
    public static final int LOG_LIMIT = 10_000;
    public static final long CREATION_SUBSCRIPTION = 101;
    public static final long DELETION_SUBSCRIPTION = 102;
    public static final long MERGE_SUBSCRIPTION = 103;
    public static final long RESTORE_SUBSCRIPTION = 104;
    public static final long FIRST_PROPERTY_SUBSCRIPTION = 201;
    /** {@link Delivery#status()} when the target could not be reached. */
    public static final int CONNECTION_FAILED = -1;
    /** {@link Delivery#status()} when the target did not answer within the timeout. */
    public static final int TIMED_OUT = -2;

    public static final String CREATION = "contact.creation";
    public static final String PROPERTY_CHANGE = "contact.propertyChange";
    public static final String DELETION = "contact.deletion";
    public static final String MERGE = "contact.merge";
    public static final String RESTORE = "contact.restore";

    private static final ObjectMapper JSON = new ObjectMapper();

    /** One event as generated; {@link #json(int)} is how it goes on the wire in a given attempt. */
    public record Event(long eventId, long subscriptionId, long portalId, long appId, long occurredAt,
                        String subscriptionType, long objectId, String propertyName, String propertyValue,
                        String changeSource, Map<String, Object> extra) {

        public Event {
            extra = extra == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(extra));
        }

        public Map<String, Object> json(int attemptNumber) {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("eventId", eventId);
            json.put("subscriptionId", subscriptionId);
            json.put("portalId", portalId);
            json.put("appId", appId);
            json.put("occurredAt", occurredAt);
            json.put("subscriptionType", subscriptionType);
            json.put("attemptNumber", attemptNumber);
            json.put("objectId", objectId);
            if (propertyName != null) {
                json.put("propertyName", propertyName);
                json.put("propertyValue", propertyValue);
            }
            json.put("changeSource", changeSource);
            json.putAll(extra);
            return json;
        }
    }

    /**
     * One POST of a batch: its attempt number, the events in it, the answer ({@code status}, or
     * {@link #CONNECTION_FAILED} / {@link #TIMED_OUT} with {@code failure} saying why) and what was sent.
     */
    public record Delivery(int attemptNumber, List<Long> eventIds, int status, String failure, Instant sentAt,
                           String uri, long timestamp, String body) {

        public boolean succeeded() {
            return status >= 200 && status < 300;
        }
    }

    private record Batch(List<Event> events, int attempt, long dueNanos) {
    }

    private final long portalId;
    private final long appId;
    private final Set<String> subscribedProperties;
    private final boolean propertyChangesOnCreate;
    private final AtomicLong nextEventId = new AtomicLong(1);
    private final Map<String, Long> propertySubscriptions = new ConcurrentHashMap<>();
    private final AtomicLong nextPropertySubscription = new AtomicLong(FIRST_PROPERTY_SUBSCRIPTION);
    private final ReentrantLock sending = new ReentrantLock();

    private volatile URI target;
    private volatile String clientSecret;
    private volatile Duration flushInterval;
    private volatile Duration retryDelay;
    private volatile Duration timeout;
    private volatile Clock signingClock = Clock.systemUTC();

    // Guarded by this.
    private final Deque<Event> queue = new ArrayDeque<>();
    private final List<Batch> retries = new ArrayList<>();
    private final Deque<Event> events = new ArrayDeque<>();
    private final Deque<Event> lost = new ArrayDeque<>();
    private final Deque<Event> abandoned = new ArrayDeque<>();
    private final Deque<Delivery> deliveries = new ArrayDeque<>();
    private boolean paused;
    private int inFlight;
    private int loseNext;
    private double loseShare;
    private Random loseRandom = new Random(1);
    private long delivered;

    private ScheduledExecutorService scheduler;
    private HttpClient client;

    HubSpotWebhooks(long portalId, long appId, String target, String clientSecret, Duration flushInterval,
                    Duration retryDelay, Duration timeout, Set<String> subscribedProperties,
                    boolean propertyChangesOnCreate) {
        this.portalId = portalId;
        this.appId = appId;
        this.target = target == null ? null : uri(target);
        this.clientSecret = clientSecret;
        flushInterval(flushInterval);
        retryDelay(retryDelay);
        timeout(timeout);
        this.subscribedProperties = Set.copyOf(subscribedProperties);
        this.propertyChangesOnCreate = propertyChangesOnCreate;
    }

    // ---------------------------------------------------------------- configuration

    /** Where events go from now on (queued ones included); null stops queueing new events. */
    public HubSpotWebhooks target(String url) {
        this.target = url == null ? null : uri(url);
        return this;
    }

    public String target() {
        URI current = target;
        return current == null ? null : current.toString();
    }

    /** The app's client secret that signs deliveries; null sends them unsigned. */
    public HubSpotWebhooks clientSecret(String secret) {
        this.clientSecret = secret;
        return this;
    }

    public String clientSecret() {
        return clientSecret;
    }

    public HubSpotWebhooks flushInterval(Duration interval) {
        this.flushInterval = positive(interval, "flush interval");
        return this;
    }

    public Duration flushInterval() {
        return flushInterval;
    }

    /** The delay before the first retry; each further retry waits twice as long as the one before. */
    public HubSpotWebhooks retryDelay(Duration delay) {
        if (delay.isNegative()) {
            throw new IllegalArgumentException("the retry delay must not be negative: " + delay);
        }
        this.retryDelay = delay;
        return this;
    }

    public Duration retryDelay() {
        return retryDelay;
    }

    public HubSpotWebhooks timeout(Duration timeout) {
        this.timeout = positive(timeout, "timeout");
        return this;
    }

    public Duration timeout() {
        return timeout;
    }

    /** The clock of {@code X-HubSpot-Request-Timestamp}; a test sets an old one to check a receiver refuses it. */
    public HubSpotWebhooks signingClock(Clock clock) {
        this.signingClock = Objects.requireNonNull(clock, "clock");
        return this;
    }

    public long portalId() {
        return portalId;
    }

    public long appId() {
        return appId;
    }

    // ---------------------------------------------------------------- test switches

    public synchronized HubSpotWebhooks pause() {
        paused = true;
        return this;
    }

    public synchronized HubSpotWebhooks resume() {
        paused = false;
        return this;
    }

    public synchronized boolean paused() {
        return paused;
    }

    /** Loses the next {@code count} events (on top of any not yet used up). */
    public synchronized HubSpotWebhooks loseNext(int count) {
        if (count < 0) {
            throw new IllegalArgumentException("count must be 0 or more, not " + count);
        }
        loseNext += count;
        return this;
    }

    /**
     * Loses each event from now on with this probability, 0 to 1; the draw starts from a fixed seed at
     * each call, so a test run loses the same events every time.
     */
    public synchronized HubSpotWebhooks loseShare(double share) {
        if (!(share >= 0 && share <= 1)) {
            throw new IllegalArgumentException("share must be from 0 to 1, not " + share);
        }
        loseShare = share;
        loseRandom = new Random(1);
        return this;
    }

    /** Stops losing events. */
    public synchronized HubSpotWebhooks keepAll() {
        loseNext = 0;
        loseShare = 0;
        return this;
    }

    public synchronized int loseNextRemaining() {
        return loseNext;
    }

    public synchronized double loseShare() {
        return loseShare;
    }

    /**
     * Sends every queued event and every retry due now, even while paused, and returns when each of
     * those requests has been answered (retries it causes wait for their delay as usual).
     */
    public void flush() {
        deliver(true);
    }

    /** Waits until nothing is queued, waiting for a retry or on the wire; false if that did not happen in time. */
    public boolean awaitIdle(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            synchronized (this) {
                if ((queue.isEmpty() || target == null) && retries.isEmpty() && inFlight == 0) {
                    return true;
                }
            }
            if (System.nanoTime() >= deadline) {
                return false;
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
    }

    // ---------------------------------------------------------------- what happened

    /** The latest {@value #LOG_LIMIT} events generated, lost ones included, oldest first. */
    public synchronized List<Event> events() {
        return List.copyOf(events);
    }

    public synchronized List<Event> lost() {
        return List.copyOf(lost);
    }

    /** Events given up: answered with a 4xx, or failed {@value #MAX_ATTEMPTS} times. */
    public synchronized List<Event> abandoned() {
        return List.copyOf(abandoned);
    }

    /** Every POST made (the latest {@value #LOG_LIMIT}), oldest first. */
    public synchronized List<Delivery> deliveries() {
        return List.copyOf(deliveries);
    }

    /** Events answered with a 2xx. */
    public synchronized long delivered() {
        return delivered;
    }

    public synchronized int queued() {
        return queue.size();
    }

    /** Events in batches waiting for a retry. */
    public synchronized int retrying() {
        return retries.stream().mapToInt(b -> b.events().size()).sum();
    }

    /** Drops queued events and retries and forgets every log and loss switch; configuration stays. */
    public synchronized void clear() {
        queue.clear();
        retries.clear();
        events.clear();
        lost.clear();
        abandoned.clear();
        deliveries.clear();
        delivered = 0;
        paused = false;
        keepAll();
    }

    /** The switches and counters as {@code GET /__sim/webhooks} shows them. */
    synchronized Map<String, Object> view() {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("target", target());
        view.put("signed", clientSecret != null);
        view.put("paused", paused);
        view.put("flushIntervalMs", flushInterval.toMillis());
        view.put("retryDelayMs", retryDelay.toMillis());
        view.put("timeoutMs", timeout.toMillis());
        view.put("queued", queue.size());
        view.put("retrying", retrying());
        view.put("delivered", delivered);
        view.put("lost", lost.size());
        view.put("abandoned", abandoned.size());
        view.put("loseNext", loseNext);
        view.put("loseShare", loseShare);
        view.put("generated", nextEventId.get() - 1);
        return view;
    }

    // ---------------------------------------------------------------- events (from the simulator, under its data lock)

    // Each method queues all the events of one change at once, so the sender never splits a change
    // across two deliveries.

    synchronized void creation(long objectId, long occurredAt, String changeSource, Map<String, String> properties) {
        emit(CREATION, CREATION_SUBSCRIPTION, objectId, null, null, occurredAt, changeSource, null);
        if (propertyChangesOnCreate) {
            propertyChanges(objectId, occurredAt, changeSource, properties);
        }
    }

    /** One event per property, {@code null} values (cleared) sent as {@code ""}. */
    synchronized void propertyChanges(long objectId, long occurredAt, String changeSource,
                                      Map<String, String> changed) {
        changed.forEach((property, value) -> {
            if (subscribedProperties.isEmpty() || subscribedProperties.contains(property)) {
                long subscription = propertySubscriptions.computeIfAbsent(property,
                        p -> nextPropertySubscription.getAndIncrement());
                emit(PROPERTY_CHANGE, subscription, objectId, property, value == null ? "" : value, occurredAt,
                        changeSource, null);
            }
        });
    }

    synchronized void deletion(long objectId, long occurredAt, String changeSource) {
        emit(DELETION, DELETION_SUBSCRIPTION, objectId, null, null, occurredAt, changeSource, null);
    }

    synchronized void restore(long objectId, long occurredAt, String changeSource) {
        emit(RESTORE, RESTORE_SUBSCRIPTION, objectId, null, null, occurredAt, changeSource, null);
    }

    /** The merge event, then a property change on the survivor per value moved into it. */
    synchronized void merge(long survivorId, List<Long> mergedIds, Map<String, String> moved, long occurredAt,
                            String changeSource) {
        Map<String, Object> extra = new LinkedHashMap<>();
        extra.put("primaryObjectId", survivorId);
        extra.put("mergedObjectIds", List.copyOf(mergedIds));
        extra.put("newObjectId", survivorId);
        extra.put("numberOfPropertiesMoved", moved.size());
        emit(MERGE, MERGE_SUBSCRIPTION, survivorId, null, null, occurredAt, changeSource, extra);
        propertyChanges(survivorId, occurredAt, changeSource, moved);
    }

    private synchronized void emit(String type, long subscription, long objectId, String property, String value,
                                   long occurredAt, String changeSource, Map<String, Object> extra) {
        Event event = new Event(nextEventId.getAndIncrement(), subscription, portalId, appId, occurredAt, type,
                objectId, property, value, changeSource, extra);
        bounded(events, event);
        if (target == null) {
            return;
        }
        if (loseNext > 0) {
            loseNext--;
            bounded(lost, event);
        } else if (loseShare > 0 && loseRandom.nextDouble() < loseShare) {
            bounded(lost, event);
        } else {
            queue.addLast(event);
        }
    }

    private static <T> void bounded(Deque<T> log, T entry) {
        if (log.size() == LOG_LIMIT) {
            log.removeFirst();
        }
        log.addLast(entry);
    }

    // ---------------------------------------------------------------- delivery

    synchronized void start() {
        if (scheduler != null) {
            return;
        }
        AtomicInteger n = new AtomicInteger();
        scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "hubspot-sim-webhooks-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(timeout).build();
        scheduler.schedule(this::tick, flushInterval.toMillis(), TimeUnit.MILLISECONDS);
    }

    void stop() {
        ScheduledExecutorService running;
        synchronized (this) {
            running = scheduler;
            scheduler = null;
        }
        if (running != null) {
            running.shutdownNow();
            try {
                running.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void tick() {
        try {
            deliver(false);
        } catch (RuntimeException e) {
            // One bad batch must not stop the sender; the delivery log shows what happened.
        } finally {
            synchronized (this) {
                if (scheduler != null && !scheduler.isShutdown()) {
                    scheduler.schedule(this::tick, flushInterval.toMillis(), TimeUnit.MILLISECONDS);
                }
            }
        }
    }

    private void deliver(boolean evenIfPaused) {
        sending.lock();
        try {
            while (!Thread.currentThread().isInterrupted()) {
                Batch next;
                URI to;
                synchronized (this) {
                    to = target;
                    if (to == null || client == null || (paused && !evenIfPaused)) {
                        return;
                    }
                    next = takeDueRetry();
                    if (next == null && !queue.isEmpty()) {
                        List<Event> batch = new ArrayList<>();
                        while (batch.size() < MAX_BATCH && !queue.isEmpty()) {
                            batch.add(queue.removeFirst());
                        }
                        next = new Batch(batch, 0, 0);
                    }
                    if (next == null) {
                        return;
                    }
                    inFlight++;
                }
                try {
                    post(to, next);
                } finally {
                    synchronized (this) {
                        inFlight--;
                    }
                }
            }
        } finally {
            sending.unlock();
        }
    }

    /** The retry due soonest if it is due now; call holding this. */
    private Batch takeDueRetry() {
        long now = System.nanoTime();
        Batch due = null;
        for (Batch b : retries) {
            if (b.dueNanos() - now <= 0 && (due == null || b.dueNanos() - due.dueNanos() < 0)) {
                due = b;
            }
        }
        if (due != null) {
            retries.remove(due);
        }
        return due;
    }

    private void post(URI to, Batch batch) {
        String body;
        try {
            body = JSON.writeValueAsString(batch.events().stream().map(e -> e.json(batch.attempt())).toList());
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
        long timestamp = signingClock.millis();
        String secret = clientSecret;
        HttpRequest.Builder request = HttpRequest.newBuilder(to)
                .timeout(timeout)
                .header("Content-Type", "application/json")
                .header("User-Agent", "HubSpot simulator webhooks (crm-contact-sync tests)")
                .header("X-HubSpot-Request-Timestamp", Long.toString(timestamp))
                .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        if (secret != null) {
            request.header("X-HubSpot-Signature-v3", signatureV3(secret, "POST", to.toString(), body, timestamp));
            request.header("X-HubSpot-Signature", signatureV1(secret, body));
            request.header("X-HubSpot-Signature-Version", "v1");
        }
        Instant sentAt = Instant.now();
        int status;
        String failure = null;
        try {
            status = client.send(request.build(), HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (HttpTimeoutException e) {
            status = TIMED_OUT;
            failure = "no answer within " + timeout.toMillis() + " ms";
        } catch (IOException e) {
            status = CONNECTION_FAILED;
            failure = e.toString();
        } catch (InterruptedException e) {
            // Stopping: the batch is not lost, a later start or flush sends it.
            Thread.currentThread().interrupt();
            synchronized (this) {
                retries.add(new Batch(batch.events(), batch.attempt(), System.nanoTime()));
            }
            return;
        }
        List<Long> ids = batch.events().stream().map(Event::eventId).toList();
        synchronized (this) {
            bounded(deliveries, new Delivery(batch.attempt(), ids, status, failure, sentAt, to.toString(), timestamp,
                    body));
            if (status >= 200 && status < 300) {
                delivered += batch.events().size();
            } else if ((status >= 400 && status < 500) || batch.attempt() + 1 >= MAX_ATTEMPTS) {
                batch.events().forEach(e -> bounded(abandoned, e));
            } else {
                long delay = retryDelay.toNanos() << Math.min(batch.attempt(), 20);
                retries.add(new Batch(batch.events(), batch.attempt() + 1, System.nanoTime() + delay));
            }
        }
    }

    /** Base64(HMAC-SHA256(secret, method + uri + body + timestamp)). */
    public static String signatureV3(String secret, String method, String uri, String body, long timestamp) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            byte[] digest = mac.doFinal((method + uri + body + timestamp).getBytes(StandardCharsets.UTF_8));
            return Base64.getEncoder().encodeToString(digest);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
        }
    }

    /** Hex SHA-256 of secret + body. */
    static String signatureV1(String secret, String body) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            return HexFormat.of().formatHex(sha.digest((secret + body).getBytes(StandardCharsets.UTF_8)));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }

    /** The target as a URI; refuses anything but an absolute http(s) URL. */
    static URI uri(String url) {
        URI uri = URI.create(url);
        if (uri.getScheme() == null || !(uri.getScheme().equals("http") || uri.getScheme().equals("https"))
                || uri.getHost() == null) {
            throw new IllegalArgumentException("The webhook target must be an http(s) URL, not '" + url + "'");
        }
        return uri;
    }

    private static Duration positive(Duration d, String what) {
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException("the webhook " + what + " must be positive, not " + d);
        }
        return d;
    }
}
