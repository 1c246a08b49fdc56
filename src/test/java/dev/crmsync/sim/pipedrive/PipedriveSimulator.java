package dev.crmsync.sim.pipedrive;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NavigableMap;
import java.util.NavigableSet;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.regex.Pattern;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.NullNode;
import com.sun.net.httpserver.HttpExchange;
import dev.crmsync.sim.CallStats;
import dev.crmsync.sim.Faults;
import dev.crmsync.sim.GenericCrmSimulator;
import dev.crmsync.sim.ManualClock;
import dev.crmsync.sim.SimControl;
import dev.crmsync.sim.SimHttp;
import dev.crmsync.sim.SimulatorServer;

/**
 * A Pipedrive company on a loopback port, speaking the persons API v2 (and v1's merge) as described in
 * {@code CRM-API-NOTES.md}, section Pipedrive: token auth, cursor paging, search, Pipedrive's reply
 * wrapper and error body, its per-token request limits with their headers, and v2 webhooks sent to
 * the service, plus the fault switches and call counters every simulator has. Stateful and in
 * memory; thread-safe.
 *
 * <h2>Wire format</h2>
 * JSON in UTF-8 both ways; answers carry {@code Content-Type: application/json}.
 *
 * <h3>Auth</h3>
 * Every request under {@code /api} needs the simulator's token in the {@code x-api-token} header (what
 * Pipedrive's official clients send), as the {@code api_token} query parameter (still accepted, as by
 * Pipedrive) or as {@code Authorization: Bearer <token>} (an OAuth access token on the real service),
 * otherwise {@code 401 {"success":false,"error":"unauthorized access","errorCode":401,"error_info":"..."}}.
 * Further tokens can be accepted ({@link Builder#extraToken(String)}), each with its own limits.
 *
 * <h3>Replies and errors</h3>
 * A success is {@code {"success":true,"data":...,"additional_data":{...}}} ({@code additional_data}
 * only on listings). Every error, whatever the status, has the one shape
 * {@code {"success":false,"error":"<what went wrong>","errorCode":<status>,"error_info":"<what to do>"}}.
 *
 * <h3>Person</h3>
 * <pre>{@code
 * {"id":42,"name":"Ada Lovelace","first_name":"Ada","last_name":"Lovelace",
 *  "emails":[{"value":"ada@example.com","primary":true,"label":"work"}],
 *  "phones":[{"value":"+14155552671","primary":true,"label":"mobile"}],
 *  "org_id":3,"owner_id":1,"add_time":"2026-05-20T20:49:32Z","update_time":"2026-05-20T20:49:32Z",
 *  "custom_fields":{"331dd375aeb93a37c9bbb9866f1de2f10144fb68":"CTO"}}
 * }</pre>
 * <ul>
 *   <li>{@code id} is a counter from 1, never reused. {@code add_time} and {@code update_time} are
 *   RFC 3339 in whole seconds with {@code Z}, from the simulator's clock; they never go back, so
 *   persons written in the same second share an {@code update_time} ({@link #freezeClock()}).</li>
 *   <li><b>Names.</b> A write that sends {@code name} stores it trimmed, and splits it at its last
 *   run of whitespace: {@code "Mary Ann Smith"} gives {@code first_name "Mary Ann"} and
 *   {@code last_name "Smith"}; a single word gives that word as {@code first_name} and a null
 *   {@code last_name}. A {@code first_name} or {@code last_name} sent alongside wins over the split
 *   (and {@code name} is still stored as sent). A write that sends only {@code first_name} and/or
 *   {@code last_name} sets them and rebuilds {@code name} as the non-blank ones joined by a space.
 *   A create needs a non-blank name one way or the other. (Pipedrive documents only {@code name} as
 *   writable; the split is what it shows afterwards, so clients should send {@code name}.)</li>
 *   <li>{@code emails} and {@code phones}: arrays of {@code {"value","primary","label"}}, value required
 *   and not blank, label defaulting to {@code "work"}; exactly one item is primary (the first marked,
 *   or else the first). Sending the array replaces the whole list; null or {@code []} empties it.
 *   Pipedrive allows several persons with one email: nothing is unique.</li>
 *   <li>{@code org_id}: an integer or null (not checked against organisations); {@code owner_id}: an
 *   integer, by default the token's user ({@link Builder#ownerId(long)}).</li>
 *   <li>{@code custom_fields}: an object of key (Pipedrive uses 40-character hashes) to any JSON value;
 *   a write merges it key by key, null clearing a key to null.</li>
 *   <li>{@code add_time} may be sent (RFC 3339). {@code id}, {@code update_time}, {@code visible_to},
 *   {@code label_ids} and {@code marketing_status} are accepted and ignored; any other field is a 400
 *   naming it.</li>
 * </ul>
 *
 * <h3>Endpoints</h3>
 * <dl>
 *   <dt>{@code GET /api/v2/persons?cursor&limit&updated_since&updated_until&sort_by&sort_direction}</dt>
 *   <dd>{@code 200 {"success":true,"data":[persons],"additional_data":{"next_cursor":"..."|null}}}:
 *   live persons sorted by {@code sort_by} ({@code id}, the default, or {@code update_time}, ties
 *   broken by id) in {@code sort_direction} ({@code asc}, the default, or {@code desc}).
 *   {@code updated_since} keeps {@code update_time >= since}, {@code updated_until} keeps
 *   {@code update_time < until} (RFC 3339, any offset or fraction; encode {@code +} as {@code %2B}).
 *   {@code limit} 1..500, default 100. {@code next_cursor} is an opaque string when more follow: send it
 *   back as {@code cursor} with the same filters and sort; it marks the position after the page's last
 *   person, so a person changed meanwhile moves rather than being listed twice in one walk. A cursor
 *   made for another sort, or not made here, is a 400. Other parameters are ignored.</dd>
 *
 *   <dt>{@code GET /api/v2/persons/{id}}</dt>
 *   <dd>200 the person; 404 {@code "Person not found"} for an unknown, deleted or merged id; 400 for
 *   an id that is not a positive integer.</dd>
 *
 *   <dt>{@code POST /api/v2/persons}</dt>
 *   <dd><b>200</b> (as v2 answers, where v1 answered 201; clients should take any 2xx) with the stored
 *   person. 400 for a body that is not one JSON object, a missing name, an unknown field or a bad
 *   value.</dd>
 *
 *   <dt>{@code PATCH /api/v2/persons/{id}}</dt>
 *   <dd>200 the whole person after the change; fields not sent are kept. A write that changes nothing
 *   keeps {@code update_time} and sends no webhook. 404, 400 as above.</dd>
 *
 *   <dt>{@code DELETE /api/v2/persons/{id}}</dt>
 *   <dd>{@code 200 {"success":true,"data":{"id":42}}}. The person is gone from listing, search and GET
 *   (404); a second delete is a 404. The simulator keeps a record of it ({@link #deletions()}).</dd>
 *
 *   <dt>{@code GET /api/v2/persons/search?term&fields&exact_match&organization_id&limit&cursor}</dt>
 *   <dd>{@code 200 {"success":true,"data":{"items":[{"result_score":1.0,"item":{"id","type":"person",
 *   "name","phones":["..."],"emails":["..."],"visible_to":3,"owner":{"id"},"organization":{"id","name":null,"address":null}|null,
 *   "custom_fields":["matched values"],"notes":[]}}]},"additional_data":{"next_cursor":null}}}.
 *   {@code term} is trimmed and needs 2 characters, or 1 with {@code exact_match=true} (Pipedrive's
 *   rule), else 400. {@code fields} is a comma list of {@code name}, {@code email}, {@code phone},
 *   {@code notes}, {@code custom_fields} (default all; notes are not stored, so never match; anything
 *   else is a 400). {@code exact_match=true}: a value equal to the term ignoring case, score 1; otherwise
 *   a value containing it ignoring case, score its share of the value's length. Phones are compared
 *   as stored. Items by score, then id; paged like the listing.</dd>
 *
 *   <dt>{@code GET /api/v1/persons/{id}}</dt>
 *   <dd>v1: 200 the person in the v1 shape with {@code "active_flag":true}; a deleted (or merged-away)
 *   person is still readable, with {@code "active_flag":false}, as Pipedrive keeps deleted persons;
 *   404 for an id it never had or {@link #forget(long) forgot}.</dd>
 *
 *   <dt>{@code PUT /api/v1/persons/{id}/merge} with {@code {"merge_with_id":7}}</dt>
 *   <dd>v1: person {@code id} is merged into {@code merge_with_id}, which survives and whose data wins:
 *   its names, owner and add time stay; emails and phones of the merged person not already there are
 *   appended as non-primary; its {@code org_id} and custom field values fill only the survivor's
 *   nulls. The merged person is deleted. 200 {@code {"success":true,"data":{v1 person}}}, the v1 shape:
 *   {@code email} and {@code phone} instead of {@code emails} and {@code phones}, times as
 *   {@code "2026-05-20 20:49:32"} (UTC), custom fields as top-level keys. 400 without an integer
 *   {@code merge_with_id} or when it equals {@code id}; 404 when either person is unknown.</dd>
 * </dl>
 * Other methods on those paths answer 405 with {@code Allow}; other paths 404.
 *
 * <h3>Request limits</h3>
 * See {@link PipedriveRateLimits}: per token, 80 requests per 2-second window, searches 10 per window,
 * and a daily budget. Every reply to a request with a valid token carries {@code x-ratelimit-limit},
 * {@code x-ratelimit-remaining}, {@code x-ratelimit-reset} (whole seconds until the window ends) and
 * {@code x-daily-requests-left}; for a search the first three describe the search window. Over a
 * limit: {@code 429 {"success":false,"error":"Request over limit","errorCode":429,...}} (daily budget:
 * {@code "Daily request budget exceeded"}), nothing done.
 *
 * <h3>Webhooks</h3>
 * See {@link PipedriveWebhooks}: v2 events for every create, change, delete and merge, HTTP Basic,
 * retries with growing delays, in order; switches to lose, pause and flush them.
 *
 * <h2>Faults and counters</h2>
 * As every simulator ({@link Faults}, {@link CallStats}, {@link SimControl}). A request first waits out
 * the latency, then takes a fault if one applies, and only then is checked for auth, limits and
 * served: a faulted request changes nothing and uses no limit. A fault reply has Pipedrive's error body
 * (429 with {@code Retry-After} too) and the limit headers as they stand. Counted as it arrives under
 * {@code "GET /api/v2/persons"}, {@code "POST /api/v2/persons"}, {@code "GET /api/v2/persons/search"},
 * {@code "GET|PATCH|DELETE /api/v2/persons/{id}"}, {@code "PUT /api/v1/persons/{id}/merge"} (other
 * paths literally); fault prefixes match the request path. Control over HTTP, no token needed:
 * <pre>{@code
 * GET|DELETE /__sim/stats, GET /__sim/requests, GET|POST|DELETE /__sim/faults   as in SimControl
 * GET    /__sim/ratelimit   {"enabled":true,"limit":80,"searchLimit":10,"windowMs":2000,"dailyLimit":100000}
 * POST   /__sim/ratelimit   any of those keys, and "reset":true to forget every window and daily count
 * GET    /__sim/webhooks    {"url","basicAuth","paused","queued","loseNext","retryDelaysMs","timeoutMs","emitted","attempts":{...}}
 * POST   /__sim/webhooks    any of {"url":..|null,"username","password","paused":bool,"loseNext":n,
 *                           "retryDelaysMs":[..],"timeoutMs":n,"flush":true} ("flush" resumes and waits up to 10 s)
 * DELETE /__sim/webhooks    204: no target, queue discarded
 * GET    /__sim/webhooks/deliveries  {"deliveries":[{"eventId","action","entityId","attempt","outcome","status","error","at"}]}
 * GET    /__sim/webhooks/events      {"events":[...bodies as first sent...]}
 * }</pre>
 * Control errors are {@code {"error":"invalid","message":"...","field":"..."}} like the other
 * simulators' control endpoints.
 *
 * <h2>Running it</h2>
 * In a test: {@code try (var pd = PipedriveSimulator.builder().apiToken("t").build().start()) {...}};
 * standalone, with the test class path:
 * {@code java dev.crmsync.sim.pipedrive.PipedriveSimulator --port=8094 --api-token=dev-token --seed=20}
 * prints the base URL on its first line and runs until stopped.
 */
public final class PipedriveSimulator extends SimulatorServer {

    public static final String PERSONS = "/api/v2/persons";
    public static final String SEARCH = PERSONS + "/search";
    public static final String V1_PERSONS = "/api/v1/persons";
    public static final int DEFAULT_LIMIT = 100;
    public static final int MAX_LIMIT = 500;
    public static final long DEFAULT_OWNER_ID = 1;
    public static final String DEFAULT_API_TOKEN = "sim-api-token";
    /** The custom field the demo persons carry their job title in; keys are 40-character hashes in Pipedrive. */
    public static final String JOB_TITLE_FIELD = "331dd375aeb93a37c9bbb9866f1de2f10144fb68";

    /** v2 times: RFC 3339, whole seconds, UTC {@code Z}. */
    public static final DateTimeFormatter TIMESTAMP =
            DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss'Z'", Locale.ROOT).withZone(ZoneOffset.UTC);
    /** v1 times. */
    public static final DateTimeFormatter V1_TIMESTAMP =
            DateTimeFormatter.ofPattern("uuuu-MM-dd HH:mm:ss", Locale.ROOT).withZone(ZoneOffset.UTC);

    private static final ObjectMapper JSON =
            new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final String CONTENT_TYPE = "application/json";
    private static final Set<String> WRITABLE = Set.of("name", "first_name", "last_name", "emails", "phones",
            "org_id", "owner_id", "add_time", "custom_fields");
    private static final Set<String> IGNORED = Set.of("id", "update_time", "visible_to", "label_ids",
            "marketing_status");
    private static final Set<String> SEARCH_FIELDS = Set.of("name", "email", "phone", "notes", "custom_fields");
    private static final Comparator<Person> BY_UPDATE =
            Comparator.comparing(Person::updateTime).thenComparingLong(Person::id);
    private static final Pattern LAST_WHITESPACE = Pattern.compile("\\s+(?=\\S+$)");

    private final Set<String> tokens;
    private final String apiToken;
    private final long ownerId;
    private final PipedriveRateLimits rateLimits = new PipedriveRateLimits();
    private final PipedriveWebhooks webhooks = new PipedriveWebhooks(JSON, "pipedrive-sim-webhooks");
    /** The latest request URIs, query included, as sent (a proxy's access log), for tests of what URLs carry. */
    private final java.util.Deque<String> requestUris = new java.util.ArrayDeque<>();

    // Company data, guarded by lock. Webhooks are queued holding it, so they keep the order of changes.
    private final Object lock = new Object();
    private final TreeMap<Long, Person> live = new TreeMap<>();
    private final TreeSet<Person> byUpdate = new TreeSet<>(BY_UPDATE);
    /** Live persons' ids by lower-cased email: Pipedrive's exact email search is indexed, not a scan of every person. */
    private final Map<String, Set<Long>> byEmail = new HashMap<>();
    private final LinkedHashMap<Long, Deletion> deletions = new LinkedHashMap<>();
    /** Deleted persons as they were, readable through v1 with {@code active_flag: false} as in Pipedrive. */
    private final Map<Long, Person> deletedPersons = new HashMap<>();
    private long nextId = 1;
    private Instant latestStamp = Instant.EPOCH;

    private volatile Clock clock;

    /** An email or a phone. */
    private record Contact(String value, boolean primary, String label) {

        Map<String, Object> view() {
            Map<String, Object> view = new LinkedHashMap<>();
            view.put("value", value);
            view.put("primary", primary);
            view.put("label", label);
            return Collections.unmodifiableMap(view);
        }
    }

    /** A stored person; a new one replaces it on every write. */
    private record Person(long id, String name, String firstName, String lastName, List<Contact> emails,
                          List<Contact> phones, Long orgId, long ownerId, Instant addTime, Instant updateTime,
                          Map<String, JsonNode> customFields) {

        static Person probe(Instant updateTime, long id) {
            return new Person(id, null, null, null, List.of(), List.of(), null, 0, null, updateTime, Map.of());
        }

        Person withUpdateTime(Instant time) {
            return new Person(id, name, firstName, lastName, emails, phones, orgId, ownerId, addTime, time,
                    customFields);
        }

        /** The person as v2 answers it. */
        Map<String, Object> view() {
            Map<String, Object> view = new LinkedHashMap<>();
            view.put("id", id);
            view.put("name", name);
            view.put("first_name", firstName);
            view.put("last_name", lastName);
            view.put("emails", emails.stream().map(Contact::view).toList());
            view.put("phones", phones.stream().map(Contact::view).toList());
            view.put("org_id", orgId);
            view.put("owner_id", ownerId);
            view.put("add_time", TIMESTAMP.format(addTime));
            view.put("update_time", TIMESTAMP.format(updateTime));
            view.put("custom_fields", customView());
            return Collections.unmodifiableMap(view);
        }

        /** The person as v1 answers it. */
        Map<String, Object> v1View() {
            return v1View(true);
        }

        /** As v1 answers it; a deleted person is still readable there, {@code active_flag} false. */
        Map<String, Object> v1View(boolean active) {
            Map<String, Object> view = new LinkedHashMap<>();
            view.put("id", id);
            view.put("active_flag", active);
            view.put("name", name);
            view.put("first_name", firstName);
            view.put("last_name", lastName);
            view.put("email", emails.stream().map(Contact::view).toList());
            view.put("phone", phones.stream().map(Contact::view).toList());
            view.put("org_id", orgId);
            view.put("owner_id", ownerId);
            view.put("add_time", V1_TIMESTAMP.format(addTime));
            view.put("update_time", V1_TIMESTAMP.format(updateTime));
            view.putAll(customView());
            return Collections.unmodifiableMap(view);
        }

        Map<String, Object> customView() {
            Map<String, Object> custom = new LinkedHashMap<>();
            customFields.forEach((key, value) -> custom.put(key, plain(value)));
            return Collections.unmodifiableMap(custom);
        }
    }

    /**
     * A person deleted through the API or a helper, or merged away ({@code mergedToId} the survivor):
     * when, and the person as it was.
     */
    public record Deletion(long id, Instant deletedAt, Long mergedToId, Map<String, Object> person) {
    }

    private PipedriveSimulator(Builder b) {
        super("pipedrive-sim", CONTENT_TYPE, b.port, b.threads);
        this.apiToken = b.apiToken;
        Set<String> all = new LinkedHashSet<>();
        all.add(b.apiToken);
        all.addAll(b.extraTokens);
        this.tokens = Set.copyOf(all);
        this.ownerId = b.ownerId;
        this.clock = b.clock;
        rateLimits.enabled(b.rateLimiting).limit(b.rateLimit).searchLimit(b.searchRateLimit).window(b.window)
                .dailyLimit(b.dailyLimit).clock(b.rateLimitClock);
        webhooks.retryDelays(b.webhookRetryDelays).timeout(b.webhookTimeout);
        if (b.webhookUrl != null) {
            webhooks.target(b.webhookUrl, b.webhookUsername, b.webhookPassword);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder {
        private int port;
        private int threads = 8;
        private String apiToken = DEFAULT_API_TOKEN;
        private final List<String> extraTokens = new ArrayList<>();
        private long ownerId = DEFAULT_OWNER_ID;
        private Clock clock = systemClock();
        private boolean rateLimiting = true;
        private int rateLimit = PipedriveRateLimits.DEFAULT_LIMIT;
        private int searchRateLimit = PipedriveRateLimits.DEFAULT_SEARCH_LIMIT;
        private Duration window = PipedriveRateLimits.DEFAULT_WINDOW;
        private long dailyLimit = PipedriveRateLimits.DEFAULT_DAILY_LIMIT;
        private Clock rateLimitClock = Clock.systemUTC();
        private String webhookUrl;
        private String webhookUsername;
        private String webhookPassword;
        private List<Duration> webhookRetryDelays = PipedriveWebhooks.DEFAULT_RETRY_DELAYS;
        private Duration webhookTimeout = PipedriveWebhooks.DEFAULT_TIMEOUT;

        private Builder() {
        }

        /** 0 (the default) picks a free port. */
        public Builder port(int port) {
            this.port = checkPort(port);
            return this;
        }

        public Builder threads(int threads) {
            this.threads = checkThreads(threads);
            return this;
        }

        /** The token accepted as {@code api_token} or bearer; {@value #DEFAULT_API_TOKEN} by default. */
        public Builder apiToken(String token) {
            this.apiToken = required(token, "apiToken");
            return this;
        }

        /** Another token accepted, with limits of its own (a second user or OAuth app). */
        public Builder extraToken(String token) {
            this.extraTokens.add(required(token, "extraToken"));
            return this;
        }

        /** The user new persons belong to when a write sends no {@code owner_id}. */
        public Builder ownerId(long ownerId) {
            if (ownerId < 1) {
                throw new IllegalArgumentException("ownerId must be 1 or more, not " + ownerId);
            }
            this.ownerId = ownerId;
            return this;
        }

        /** Where {@code add_time} and {@code update_time} come from; by default the system clock in seconds. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** Off: limits are counted and reported in the headers but never refuse a request. */
        public Builder rateLimiting(boolean on) {
            this.rateLimiting = on;
            return this;
        }

        /** Requests per window and token; 80 by default. */
        public Builder rateLimit(int perWindow) {
            this.rateLimit = perWindow;
            return this;
        }

        /** Searches per window and token; 10 by default. */
        public Builder searchRateLimit(int perWindow) {
            this.searchRateLimit = perWindow;
            return this;
        }

        /** The window's length; 2 s by default. */
        public Builder rateLimitWindow(Duration window) {
            this.window = Objects.requireNonNull(window, "window");
            return this;
        }

        public Builder dailyLimit(long requests) {
            this.dailyLimit = requests;
            return this;
        }

        /** The clock the limit windows and days read (a {@link ManualClock} in tests); system clock by default. */
        public Builder rateLimitClock(Clock clock) {
            this.rateLimitClock = Objects.requireNonNull(clock, "rateLimitClock");
            return this;
        }

        /** Sends webhooks to {@code url} with HTTP Basic {@code username:password} (none if username is null). */
        public Builder webhook(String url, String username, String password) {
            this.webhookUrl = Objects.requireNonNull(url, "url");
            this.webhookUsername = username;
            this.webhookPassword = password;
            return this;
        }

        /** Waits before each retry of a failed webhook; 3 s, 30 s, 150 s by default. */
        public Builder webhookRetryDelays(Duration... delays) {
            this.webhookRetryDelays = List.of(delays);
            return this;
        }

        public Builder webhookTimeout(Duration timeout) {
            this.webhookTimeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        public PipedriveSimulator build() {
            return new PipedriveSimulator(this);
        }

        private static String required(String value, String name) {
            if (value == null || value.isBlank()) {
                throw new IllegalArgumentException(name + " must not be blank");
            }
            return value;
        }
    }

    // ---------------------------------------------------------------- lifecycle

    /** Starts serving on the loopback interface, and the webhook sender; answers this simulator. */
    @Override
    public synchronized PipedriveSimulator start() {
        if (!running()) {
            super.start();
            webhooks.start();
        }
        return this;
    }

    /** Stops serving and sending; queued webhooks are kept and go out if started again. */
    @Override
    public synchronized void stop() {
        if (running()) {
            super.stop();
            webhooks.stop();
        }
    }

    public String apiToken() {
        return apiToken;
    }

    // ---------------------------------------------------------------- switches

    /** The request limits: switch them, change them, move their clock. */
    public PipedriveRateLimits rateLimits() {
        return rateLimits;
    }

    /** The outgoing webhooks: target, retries, and the lose, pause and flush switches. */
    public PipedriveWebhooks webhooks() {
        return webhooks;
    }

    public Clock clock() {
        return clock;
    }

    /** Reads person times from this clock from now on (they still never go back). */
    public PipedriveSimulator clock(Clock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
        return this;
    }

    /**
     * Stops the clock at the latest stamp or now, whichever is later, so every write until the clock is
     * moved gets the same {@code update_time}. Move it with the returned clock.
     */
    public ManualClock freezeClock() {
        synchronized (lock) {
            return freezeClock(candidateStamp());
        }
    }

    /** Stops the clock at {@code at} (cut to the second). */
    public ManualClock freezeClock(Instant at) {
        ManualClock frozen = new ManualClock(at.truncatedTo(ChronoUnit.SECONDS));
        clock(frozen);
        return frozen;
    }

    public PipedriveSimulator useSystemClock() {
        return clock(systemClock());
    }

    // ---------------------------------------------------------------- data, as an import or a user would

    /**
     * Inserts a person as an import would: the write rules apply (name, field names, value types) but
     * no webhook is sent, and {@code add_time} and {@code update_time} may be given (RFC 3339 strings
     * or {@link Instant}s) to plant persons changed in the past. Answers the stored person.
     *
     * @throws IllegalArgumentException for a missing name, an unknown field or a bad value
     */
    public Map<String, Object> seed(Map<String, ?> fields) {
        Map<String, Object> copy = new LinkedHashMap<>(fields);
        Instant updateTime = copy.get("update_time") == null ? null : instantValue(copy.remove("update_time"));
        if (copy.get("add_time") instanceof Instant at) {
            copy.put("add_time", TIMESTAMP.format(at));
        }
        JsonNode body = JSON.valueToTree(copy);
        synchronized (lock) {
            Person person = insert(body, false);
            if (updateTime != null) {
                Person moved = person.withUpdateTime(updateTime.truncatedTo(ChronoUnit.SECONDS));
                put(person, moved);
                person = moved;
            }
            return person.view();
        }
    }

    /**
     * Seeds {@code count} demo persons: realistic names, unique emails, E.164 phones, organisations
     * 1..10 and a job title in {@link #JOB_TITLE_FIELD}. No webhooks.
     */
    public List<Map<String, Object>> seedDemo(int count) {
        List<Map<String, Object>> seeded = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            seeded.add(seed(demoPerson(i)));
        }
        return seeded;
    }

    /** Demo person {@code i} as a v2 write body. */
    public static Map<String, Object> demoPerson(int i) {
        Map<String, Object> contact = GenericCrmSimulator.demoContact(i);
        Map<String, Object> person = new LinkedHashMap<>();
        person.put("first_name", contact.get("FirstName"));
        person.put("last_name", contact.get("LastName"));
        person.put("emails", List.of(Map.of("value", contact.get("Email"), "primary", true, "label", "work")));
        person.put("phones", List.of(Map.of("value", contact.get("Phone"), "primary", true, "label", "mobile")));
        person.put("org_id", 1 + i % 10);
        person.put("custom_fields", Map.of(JOB_TITLE_FIELD, contact.get("Title")));
        return person;
    }

    /**
     * Creates a person as a user in Pipedrive's screens would, like {@code POST}: a create webhook is
     * sent. Answers the stored person.
     *
     * @throws IllegalArgumentException for a missing name, an unknown field or a bad value
     */
    public Map<String, Object> create(Map<String, ?> fields) {
        JsonNode body = JSON.valueToTree(fields);
        synchronized (lock) {
            return insert(body, true).view();
        }
    }

    /** The live persons in id order. */
    public List<Map<String, Object>> live() {
        synchronized (lock) {
            return live.values().stream().map(Person::view).toList();
        }
    }

    /**
     * Every person ever stored, in id order: the live ones as the API shows them, the deleted (and
     * merged) ones as they were; each with an extra {@code "is_deleted"} flag.
     */
    public List<Map<String, Object>> records() {
        synchronized (lock) {
            TreeMap<Long, Map<String, Object>> all = new TreeMap<>();
            live.values().forEach(p -> all.put(p.id(), flagged(p.view(), false)));
            deletions.values().forEach(d -> all.put(d.id(), flagged(d.person(), true)));
            return List.copyOf(all.values());
        }
    }

    /** The live person with this id. */
    public Optional<Map<String, Object>> find(long id) {
        synchronized (lock) {
            return Optional.ofNullable(live.get(id)).map(Person::view);
        }
    }

    /** The live persons with this email (ignoring case), in id order. */
    public List<Map<String, Object>> findByEmail(String email) {
        synchronized (lock) {
            return byEmail.getOrDefault(email.toLowerCase(Locale.ROOT), Set.of()).stream().sorted()
                    .map(live::get).map(Person::view).toList();
        }
    }

    /** How many persons are live, without copying them (for a benchmark that watches a large company fill up). */
    public int liveCount() {
        synchronized (lock) {
            return live.size();
        }
    }

    /** The persons deleted or merged away so far, in the order it happened. */
    public List<Deletion> deletions() {
        synchronized (lock) {
            return List.copyOf(deletions.values());
        }
    }

    /**
     * Edits a person as a user would, like {@code PATCH}: a change webhook is sent if anything changed.
     *
     * @throws NoSuchElementException for an unknown or deleted id
     * @throws IllegalArgumentException for a bad field or value
     */
    public Map<String, Object> update(long id, Map<String, ?> fields) {
        JsonNode body = JSON.valueToTree(fields);
        synchronized (lock) {
            return patch(id, body).view();
        }
    }

    /**
     * Deletes a person as a user would: a delete webhook is sent. Answers the person as it was.
     *
     * @throws NoSuchElementException for an unknown or deleted id
     */
    public Map<String, Object> delete(long id) {
        synchronized (lock) {
            return remove(id, null).view();
        }
    }

    /**
     * Merges person {@code mergedId} into {@code survivorId} as {@code PUT /api/v1/persons/{id}/merge}
     * does, webhooks included. Answers the survivor (v2 shape).
     *
     * @throws NoSuchElementException for an unknown or deleted id
     * @throws IllegalArgumentException when both ids are the same
     */
    public Map<String, Object> merge(long mergedId, long survivorId) {
        synchronized (lock) {
            return mergeInto(mergedId, survivorId).view();
        }
    }

    /**
     * Forgets every person and deletion, restarts ids at 1; clears faults, counters, limit windows, and
     * the webhook queue, logs and switches (the webhook target and retry settings stay).
     */
    public void reset() {
        synchronized (lock) {
            live.clear();
            byUpdate.clear();
            byEmail.clear();
            deletions.clear();
            deletedPersons.clear();
            nextId = 1;
            webhooks.clear();
        }
        faults().clear();
        stats().reset();
        rateLimits.reset();
        synchronized (requestUris) {
            requestUris.clear();
        }
    }

    /**
     * The path and query of the latest requests outside {@code /__sim} ({@value CallStats#LOG_LIMIT} at most),
     * oldest first, exactly as they arrived: what a proxy between the client and Pipedrive would log.
     */
    public List<String> requestUris() {
        synchronized (requestUris) {
            return List.copyOf(requestUris);
        }
    }

    private void recordUri(String uri) {
        synchronized (requestUris) {
            if (requestUris.size() == CallStats.LOG_LIMIT) {
                requestUris.removeFirst();
            }
            requestUris.addLast(uri);
        }
    }

    private static Map<String, Object> flagged(Map<String, Object> view, boolean deleted) {
        Map<String, Object> copy = new LinkedHashMap<>(view);
        copy.put("is_deleted", deleted);
        return Collections.unmodifiableMap(copy);
    }

    private static Instant instantValue(Object value) {
        if (value instanceof Instant at) {
            return at;
        }
        return rfc3339(String.valueOf(value), "update_time");
    }

    // ---------------------------------------------------------------- store (all called holding lock)

    private Person insert(JsonNode body, boolean notify) {
        Instant now = stamp();
        Person person = written(null, nextId, body, now);
        nextId++;
        put(null, person);
        if (notify) {
            webhooks.emit("create", person.id(), null, TIMESTAMP.format(now), person.view(), null);
        }
        return person;
    }

    private Person patch(long id, JsonNode body) {
        Person before = existing(id);
        Person after = written(before, id, body, before.updateTime());
        if (after.equals(before)) {
            return before;
        }
        after = after.withUpdateTime(stamp());
        put(before, after);
        emitChange(before, after);
        return after;
    }

    private Person remove(long id, Long mergedTo) {
        Person person = existing(id);
        Instant at = stamp();
        live.remove(id);
        byUpdate.remove(person);
        unindex(person);
        deletions.put(id, new Deletion(id, at, mergedTo, person.view()));
        deletedPersons.put(id, person);
        webhooks.emit("delete", id, mergedTo, TIMESTAMP.format(at), null, person.view());
        return person;
    }

    /**
     * Loses a person without deleting it, as a CRM restored from an older backup or reseeded would:
     * no webhook, no deletion kept; neither v2 nor v1 knows the id afterwards.
     *
     * @throws NoSuchElementException for an unknown or deleted id
     */
    public void forget(long id) {
        synchronized (lock) {
            Person person = existing(id);
            live.remove(id);
            byUpdate.remove(person);
            unindex(person);
        }
    }

    private Person mergeInto(long mergedId, long survivorId) {
        if (mergedId == survivorId) {
            throw new Invalid("merge_with_id must be another person than " + mergedId);
        }
        Person merged = existing(mergedId);
        Person survivor = existing(survivorId);
        List<Contact> emails = new ArrayList<>(survivor.emails());
        for (Contact e : merged.emails()) {
            if (emails.stream().noneMatch(k -> k.value().equalsIgnoreCase(e.value()))) {
                emails.add(new Contact(e.value(), emails.isEmpty(), e.label()));
            }
        }
        List<Contact> phones = new ArrayList<>(survivor.phones());
        for (Contact p : merged.phones()) {
            if (phones.stream().noneMatch(k -> k.value().equals(p.value()))) {
                phones.add(new Contact(p.value(), phones.isEmpty(), p.label()));
            }
        }
        Map<String, JsonNode> custom = new LinkedHashMap<>(survivor.customFields());
        merged.customFields().forEach((key, value) -> {
            JsonNode own = custom.get(key);
            if (own == null || own.isNull()) {
                custom.put(key, value);
            }
        });
        remove(mergedId, survivorId);
        Person after = new Person(survivor.id(), survivor.name(), survivor.firstName(), survivor.lastName(),
                List.copyOf(emails), List.copyOf(phones),
                survivor.orgId() != null ? survivor.orgId() : merged.orgId(), survivor.ownerId(),
                survivor.addTime(), stamp(), Collections.unmodifiableMap(custom));
        put(survivor, after);
        emitChange(survivor, after);
        return after;
    }

    private void emitChange(Person before, Person after) {
        Map<String, Object> old = before.view();
        Map<String, Object> now = after.view();
        Map<String, Object> previous = new LinkedHashMap<>();
        old.forEach((field, value) -> {
            if (field.equals("custom_fields")) {
                Map<String, Object> was = before.customView();
                Map<String, Object> is = after.customView();
                Map<String, Object> changed = new LinkedHashMap<>();
                is.forEach((key, v) -> {
                    if (!Objects.equals(was.get(key), v)) {
                        changed.put(key, was.get(key));
                    }
                });
                if (!changed.isEmpty()) {
                    previous.put(field, Collections.unmodifiableMap(changed));
                }
            } else if (!Objects.equals(value, now.get(field))) {
                previous.put(field, value);
            }
        });
        webhooks.emit("change", after.id(), null, TIMESTAMP.format(after.updateTime()), now,
                Collections.unmodifiableMap(previous));
    }

    /** The live person with this id, or a 404. */
    private Person existing(long id) {
        Person person = live.get(id);
        if (person == null) {
            throw new NotFound(id);
        }
        return person;
    }

    private void put(Person old, Person now) {
        if (old != null) {
            byUpdate.remove(old);
            unindex(old);
        }
        live.put(now.id(), now);
        byUpdate.add(now);
        for (Contact e : now.emails()) {
            byEmail.computeIfAbsent(e.value().toLowerCase(Locale.ROOT), k -> new HashSet<>()).add(now.id());
        }
        if (now.updateTime().isAfter(latestStamp)) {
            latestStamp = now.updateTime();
        }
    }

    private void unindex(Person person) {
        for (Contact e : person.emails()) {
            String key = e.value().toLowerCase(Locale.ROOT);
            Set<Long> ids = byEmail.get(key);
            if (ids != null && ids.remove(person.id()) && ids.isEmpty()) {
                byEmail.remove(key);
            }
        }
    }

    /** The next stamp: the clock in whole seconds, never before the last one. */
    private Instant stamp() {
        latestStamp = candidateStamp();
        return latestStamp;
    }

    private Instant candidateStamp() {
        Instant now = clock.instant().truncatedTo(ChronoUnit.SECONDS);
        return now.isAfter(latestStamp) ? now : latestStamp;
    }

    /** {@code base} (null for a create) with the write {@code body} applied, stamped {@code updateTime}. */
    private Person written(Person base, long id, JsonNode body, Instant updateTime) {
        if (body == null || !body.isObject()) {
            throw new Invalid("The body must be one JSON object of person fields");
        }
        body.fieldNames().forEachRemaining(field -> {
            if (!WRITABLE.contains(field) && !IGNORED.contains(field)) {
                throw new Invalid("Unknown field '" + field + "'; a person takes " + String.join(", ",
                        new TreeSet<>(WRITABLE)));
            }
        });
        String name = base == null ? null : base.name();
        String first = base == null ? null : base.firstName();
        String last = base == null ? null : base.lastName();
        boolean hasFirst = body.has("first_name");
        boolean hasLast = body.has("last_name");
        String givenFirst = hasFirst ? optionalText(body.get("first_name"), "first_name") : null;
        String givenLast = hasLast ? optionalText(body.get("last_name"), "last_name") : null;
        if (body.has("name")) {
            String given = optionalText(body.get("name"), "name");
            if (given == null) {
                throw new Invalid("name must not be empty");
            }
            name = given;
            String[] split = splitName(given);
            first = hasFirst ? givenFirst : split[0];
            last = hasLast ? givenLast : split[1];
        } else if (hasFirst || hasLast) {
            first = hasFirst ? givenFirst : first;
            last = hasLast ? givenLast : last;
            name = joinName(first, last);
        }
        if (name == null) {
            throw new Invalid(base == null ? "name is required: send name, or first_name and last_name"
                    : "name must not be empty: first_name and last_name cannot both be empty");
        }
        List<Contact> emails = body.has("emails") ? contacts(body.get("emails"), "emails")
                : base == null ? List.of() : base.emails();
        List<Contact> phones = body.has("phones") ? contacts(body.get("phones"), "phones")
                : base == null ? List.of() : base.phones();
        Long org = base == null ? null : base.orgId();
        if (body.has("org_id")) {
            org = body.get("org_id").isNull() ? null : integer(body.get("org_id"), "org_id");
        }
        long owner = base == null ? ownerId : base.ownerId();
        if (body.has("owner_id")) {
            owner = integer(body.get("owner_id"), "owner_id");
        }
        Instant added = base == null ? updateTime : base.addTime();
        if (body.has("add_time")) {
            JsonNode at = body.get("add_time");
            if (!at.isTextual()) {
                throw new Invalid("add_time must be an RFC 3339 time such as 2026-05-20T20:49:32Z");
            }
            added = rfc3339(at.textValue(), "add_time").truncatedTo(ChronoUnit.SECONDS);
        }
        Map<String, JsonNode> custom = new LinkedHashMap<>(base == null ? Map.of() : base.customFields());
        if (body.has("custom_fields")) {
            JsonNode given = body.get("custom_fields");
            if (!given.isObject()) {
                throw new Invalid("custom_fields must be an object of field key to value");
            }
            given.fields().forEachRemaining(e -> {
                if (e.getKey().isBlank()) {
                    throw new Invalid("custom_fields keys must not be empty");
                }
                custom.put(e.getKey(), e.getValue().isNull() ? NullNode.getInstance() : e.getValue().deepCopy());
            });
        }
        return new Person(id, name, first, last, emails, phones, org, owner, added, updateTime,
                Collections.unmodifiableMap(custom));
    }

    /**
     * Pipedrive's split of a full name: trimmed, then cut at the last run of whitespace into first and
     * last name; one word is all first name, with a null last name.
     */
    public static String[] splitName(String name) {
        String trimmed = name.trim();
        String[] parts = LAST_WHITESPACE.split(trimmed, 2);
        if (parts.length < 2) {
            return new String[] {trimmed, null};
        }
        return new String[] {parts[0], parts[1]};
    }

    private static String joinName(String first, String last) {
        String joined = ((first == null ? "" : first.trim()) + " " + (last == null ? "" : last.trim())).trim();
        return joined.isEmpty() ? null : joined;
    }

    /** A string field: null or blank reads as null; anything but a string or null is a 400. */
    private static String optionalText(JsonNode node, String field) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (!node.isTextual()) {
            throw new Invalid(field + " must be a string, not " + node.getNodeType().name().toLowerCase(Locale.ROOT));
        }
        String text = node.textValue().trim();
        return text.isEmpty() ? null : text;
    }

    private static long integer(JsonNode node, String field) {
        if (node == null || !node.isIntegralNumber() || node.asLong() < 1) {
            throw new Invalid(field + " must be a positive integer, not " + node);
        }
        return node.asLong();
    }

    private static List<Contact> contacts(JsonNode node, String field) {
        if (node == null || node.isNull()) {
            return List.of();
        }
        if (!node.isArray()) {
            throw new Invalid(field + " must be an array of {\"value\",\"primary\",\"label\"} objects");
        }
        List<Contact> list = new ArrayList<>();
        int primaryAt = -1;
        for (int i = 0; i < node.size(); i++) {
            JsonNode item = node.get(i);
            String where = field + "[" + i + "]";
            if (!item.isObject()) {
                throw new Invalid(where + " must be an object {\"value\",\"primary\",\"label\"}");
            }
            String value = optionalText(item.get("value"), where + ".value");
            if (value == null) {
                throw new Invalid(where + ".value must not be empty");
            }
            JsonNode primary = item.get("primary");
            if (primary != null && !primary.isNull() && !primary.isBoolean()) {
                throw new Invalid(where + ".primary must be true or false");
            }
            if (primaryAt < 0 && primary != null && primary.asBoolean(false)) {
                primaryAt = i;
            }
            String label = optionalText(item.get("label"), where + ".label");
            list.add(new Contact(value, false, label == null ? "work" : label));
        }
        if (!list.isEmpty()) {
            int p = Math.max(primaryAt, 0);
            Contact c = list.get(p);
            list.set(p, new Contact(c.value(), true, c.label()));
        }
        return List.copyOf(list);
    }

    private static Instant rfc3339(String text, String field) {
        try {
            return OffsetDateTime.parse(text.trim()).toInstant();
        } catch (DateTimeParseException e) {
            throw new Invalid(field + " must be an RFC 3339 time such as 2026-05-20T20:49:32Z, not '" + text
                    + "' (encode + as %2B)");
        }
    }

    private static Object plain(JsonNode node) {
        return node == null || node.isNull() ? null : JSON.convertValue(node, Object.class);
    }

    private static final class NotFound extends NoSuchElementException {
        NotFound(long id) {
            super("Person not found");
        }
    }

    private static final class Invalid extends IllegalArgumentException {
        Invalid(String message) {
            super(message);
        }
    }

    // ---------------------------------------------------------------- HTTP

    private record Reply(int status, Map<String, String> headers, byte[] body) implements Answer {

        static Reply json(int status, Object body) {
            try {
                return new Reply(status, Map.of(), JSON.writeValueAsBytes(body));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        static Reply empty(int status) {
            return new Reply(status, Map.of(), null);
        }

        static Reply ok(Object data) {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("success", true);
            body.put("data", data);
            return json(200, body);
        }

        static Reply page(Object data, String nextCursor) {
            Map<String, Object> additional = new LinkedHashMap<>();
            additional.put("next_cursor", nextCursor);
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("success", true);
            body.put("data", data);
            body.put("additional_data", additional);
            return json(200, body);
        }

        /** Pipedrive's one error shape. */
        static Reply error(int status, String error, String info) {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("success", false);
            body.put("error", error);
            body.put("errorCode", status);
            body.put("error_info", info);
            return json(status, body);
        }

        @Override
        public void send(HttpExchange exchange) throws IOException {
            SimHttp.send(exchange, new SimHttp.Reply(status, headers, body, CONTENT_TYPE));
        }

        Reply with(String header, String value) {
            Map<String, String> all = new LinkedHashMap<>(headers);
            all.put(header, value);
            return new Reply(status, all, body);
        }

        Reply limits(PipedriveRateLimits.Decision d) {
            return with("x-ratelimit-limit", Integer.toString(d.limit()))
                    .with("x-ratelimit-remaining", Integer.toString(d.remaining()))
                    .with("x-ratelimit-reset", Long.toString(d.resetSeconds()))
                    .with("x-daily-requests-left", Long.toString(d.dailyLeft()));
        }
    }

    @Override
    protected String path(HttpExchange exchange) {
        return exchange.getRequestURI().getPath();
    }

    @Override
    protected Call route(HttpExchange exchange, String method, String path) {
        recordUri(exchange.getRequestURI().toString());
        return new Call(endpoint(method, path), path, fault -> {
            try {
                Map<String, String> query = query(exchange);
                String token = token(exchange, query);
                if (fault.isEmpty()) {
                    return api(exchange, method, path, query, token);
                }
                Reply reply = faultReply(fault.get());
                return token == null ? reply : reply.limits(rateLimits.peek(token, isSearch(path)));
            } catch (Invalid e) {
                return Reply.error(400, e.getMessage(), "Fix the request as the error says");
            }
        });
    }

    @Override
    protected Reply failure(RuntimeException e) {
        return Reply.error(500, "Simulator failure: " + e, "This is a bug in the simulator");
    }

    private static String endpoint(String method, String path) {
        if (path.equals(PERSONS) || path.equals(SEARCH)) {
            return method + " " + path;
        }
        if (personId(path) != null) {
            return method + " " + PERSONS + "/{id}";
        }
        if (mergeId(path) != null) {
            return method + " " + V1_PERSONS + "/{id}/merge";
        }
        if (v1PersonId(path) != null) {
            return method + " " + V1_PERSONS + "/{id}";
        }
        return method + " " + path;
    }

    /** The id segment of {@code /api/v2/persons/{id}}, not yet checked to be a number; null for other paths. */
    private static String personId(String path) {
        if (!path.startsWith(PERSONS + "/") || path.equals(SEARCH)) {
            return null;
        }
        String id = path.substring(PERSONS.length() + 1);
        return id.isEmpty() || id.contains("/") ? null : id;
    }

    /** The id segment of {@code /api/v1/persons/{id}}; null for other paths. */
    private static String v1PersonId(String path) {
        if (!path.startsWith(V1_PERSONS + "/")) {
            return null;
        }
        String id = path.substring(V1_PERSONS.length() + 1);
        return id.isEmpty() || id.contains("/") ? null : id;
    }

    private static String mergeId(String path) {
        if (!path.startsWith(V1_PERSONS + "/") || !path.endsWith("/merge")) {
            return null;
        }
        String id = path.substring(V1_PERSONS.length() + 1, path.length() - "/merge".length());
        return id.isEmpty() || id.contains("/") ? null : id;
    }

    private static boolean isSearch(String path) {
        return path.equals(SEARCH);
    }

    private static Reply faultReply(Faults.Action fault) {
        int status = fault.status();
        if (status == 429) {
            return Reply.error(429, "Request over limit", "Simulated by the fault switches; retry after "
                    + fault.retryAfterSeconds() + " s").with("Retry-After", Integer.toString(fault.retryAfterSeconds()));
        }
        return Reply.error(status, "Simulated " + status + " from the fault switches",
                "Retry the request; it changed nothing");
    }

    /** The valid token the request carries in {@code x-api-token}, as {@code api_token} or as bearer, or null. */
    private String token(HttpExchange exchange, Map<String, String> query) {
        String header = exchange.getRequestHeaders().getFirst("x-api-token");
        if (header != null && tokens.contains(header.trim())) {
            return header.trim();
        }
        String param = query.get("api_token");
        if (param != null && tokens.contains(param)) {
            return param;
        }
        String authorization = exchange.getRequestHeaders().getFirst("Authorization");
        if (authorization != null && authorization.length() > 7 && authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            String bearer = authorization.substring(7).trim();
            if (tokens.contains(bearer)) {
                return bearer;
            }
        }
        return null;
    }

    private Reply api(HttpExchange exchange, String method, String path, Map<String, String> query, String token) {
        if (!path.startsWith("/api/")) {
            return notFound(method, path);
        }
        if (token == null) {
            return Reply.error(401, "unauthorized access",
                    "Send the API token in the x-api-token header, as api_token=<token> in the query or as"
                            + " Authorization: Bearer <token>");
        }
        boolean search = isSearch(path);
        PipedriveRateLimits.Decision decision = rateLimits.take(token, search);
        if (!decision.allowed()) {
            return (decision.dailyExceeded()
                    ? Reply.error(429, "Daily request budget exceeded",
                            "The token's budget starts again at midnight UTC; x-daily-requests-left shows it")
                    : Reply.error(429, "Request over limit", "Wait x-ratelimit-reset seconds (" + decision.resetSeconds()
                            + ") before the next request" + (search ? "; searches have a stricter limit" : "")))
                    .limits(decision);
        }
        Reply reply;
        try {
            reply = route(exchange, method, path, query);
        } catch (NotFound e) {
            reply = Reply.error(404, e.getMessage(), "The person does not exist, or was deleted or merged");
        } catch (Invalid e) {
            reply = Reply.error(400, e.getMessage(), "Fix the request as the error says; nothing was changed");
        }
        return reply.limits(decision);
    }

    private Reply route(HttpExchange exchange, String method, String path, Map<String, String> query) {
        if (path.equals(PERSONS)) {
            return switch (method) {
                case "GET" -> list(query);
                case "POST" -> {
                    JsonNode body = body(exchange);
                    synchronized (lock) {
                        yield Reply.ok(insert(body, true).view());
                    }
                }
                default -> notAllowed(method, path, "GET, POST");
            };
        }
        if (path.equals(SEARCH)) {
            return method.equals("GET") ? search(query) : notAllowed(method, path, "GET");
        }
        String id = personId(path);
        if (id != null) {
            return switch (method) {
                case "GET" -> {
                    long n = id(id);
                    synchronized (lock) {
                        yield Reply.ok(existing(n).view());
                    }
                }
                case "PATCH" -> {
                    long n = id(id);
                    JsonNode body = body(exchange);
                    synchronized (lock) {
                        yield Reply.ok(patch(n, body).view());
                    }
                }
                case "DELETE" -> {
                    long n = id(id);
                    synchronized (lock) {
                        remove(n, null);
                    }
                    yield Reply.ok(Map.of("id", n));
                }
                default -> notAllowed(method, path, "GET, PATCH, DELETE");
            };
        }
        String v1 = v1PersonId(path);
        if (v1 != null) {
            if (!method.equals("GET")) {
                return notAllowed(method, path, "GET");
            }
            long n = id(v1);
            synchronized (lock) {
                Person person = live.get(n);
                if (person != null) {
                    return Reply.ok(person.v1View(true));
                }
                Person deleted = deletedPersons.get(n);
                if (deleted == null) {
                    throw new NotFound(n);
                }
                return Reply.ok(deleted.v1View(false));
            }
        }
        String merged = mergeId(path);
        if (merged != null) {
            if (!method.equals("PUT")) {
                return notAllowed(method, path, "PUT");
            }
            long n = id(merged);
            JsonNode body = body(exchange);
            JsonNode with = body.get("merge_with_id");
            long survivor;
            if (with != null && with.isIntegralNumber() && with.asLong() > 0) {
                survivor = with.asLong();
            } else if (with != null && with.isTextual() && with.textValue().matches("[1-9][0-9]{0,17}")) {
                survivor = Long.parseLong(with.textValue());
            } else {
                throw new Invalid("merge_with_id must be the id of the person to merge into");
            }
            synchronized (lock) {
                return Reply.ok(mergeInto(n, survivor).v1View());
            }
        }
        return notFound(method, path);
    }

    private static Reply notFound(String method, String path) {
        return Reply.error(404, "Unknown endpoint " + method + " " + path,
                "Persons are under " + PERSONS + ", merge under " + V1_PERSONS + "/{id}/merge");
    }

    private static Reply notAllowed(String method, String path, String allow) {
        return Reply.error(405, method + " is not supported on " + path, "Use " + allow).with("Allow", allow);
    }

    private static long id(String text) {
        if (!text.matches("[1-9][0-9]{0,17}")) {
            throw new Invalid("id must be a positive integer, not '" + text + "'");
        }
        return Long.parseLong(text);
    }

    // ---------------------------------------------------------------- listing and search

    /** A position in a listing: after the person with this sort key. */
    private record Cursor(String sortBy, String direction, long epochSecond, long id) {

        String encode() {
            String raw = "pd1:" + sortBy + ":" + direction + ":" + epochSecond + ":" + id;
            return Base64.getUrlEncoder().withoutPadding().encodeToString(raw.getBytes(StandardCharsets.UTF_8));
        }

        static Cursor decode(String text) {
            try {
                String raw = new String(Base64.getUrlDecoder().decode(text), StandardCharsets.UTF_8);
                String[] parts = raw.split(":");
                if (parts.length == 5 && parts[0].equals("pd1")) {
                    return new Cursor(parts[1], parts[2], Long.parseLong(parts[3]), Long.parseLong(parts[4]));
                }
            } catch (IllegalArgumentException e) {
                // answered below
            }
            throw new Invalid("cursor is not one this API gave out: pass additional_data.next_cursor as it came");
        }
    }

    private Reply list(Map<String, String> query) {
        int limit = limit(query.get("limit"));
        String sortBy = choice(query.get("sort_by"), "sort_by", "id", "update_time");
        String direction = choice(query.get("sort_direction"), "sort_direction", "asc", "desc");
        boolean asc = direction.equals("asc");
        Instant since = nonEmpty(query.get("updated_since")) ? rfc3339(query.get("updated_since"), "updated_since")
                : null;
        Instant until = nonEmpty(query.get("updated_until")) ? rfc3339(query.get("updated_until"), "updated_until")
                : null;
        Cursor cursor = nonEmpty(query.get("cursor")) ? Cursor.decode(query.get("cursor")) : null;
        if (cursor != null && (!cursor.sortBy().equals(sortBy) || !cursor.direction().equals(direction))) {
            throw new Invalid("cursor was made for sort_by=" + cursor.sortBy() + "&sort_direction="
                    + cursor.direction() + "; send the same sort with it");
        }
        boolean byTime = sortBy.equals("update_time");
        List<Person> page = new ArrayList<>();
        synchronized (lock) {
            Iterable<Person> source;
            if (byTime) {
                NavigableSet<Person> set = asc ? byUpdate : byUpdate.descendingSet();
                source = cursor == null ? set
                        : set.tailSet(Person.probe(Instant.ofEpochSecond(cursor.epochSecond()), cursor.id()), false);
            } else {
                NavigableMap<Long, Person> map = asc ? live : live.descendingMap();
                source = (cursor == null ? map : map.tailMap(cursor.id(), false)).values();
            }
            for (Person p : source) {
                if (since != null && p.updateTime().isBefore(since)) {
                    if (byTime && !asc) {
                        break;
                    }
                    continue;
                }
                if (until != null && !p.updateTime().isBefore(until)) {
                    if (byTime && asc) {
                        break;
                    }
                    continue;
                }
                page.add(p);
                if (page.size() > limit) {
                    break;
                }
            }
        }
        String next = null;
        if (page.size() > limit) {
            page.remove(limit);
            Person last = page.get(limit - 1);
            next = new Cursor(sortBy, direction, last.updateTime().getEpochSecond(), last.id()).encode();
        }
        return Reply.page(page.stream().map(Person::view).toList(), next);
    }

    private record Hit(Person person, double score, List<String> customMatches) {
    }

    private Reply search(Map<String, String> query) {
        String term = query.get("term") == null ? "" : query.get("term").trim();
        boolean exact = bool(query.get("exact_match"), "exact_match");
        if (term.length() < (exact ? 1 : 2)) {
            throw new Invalid("term must be at least 2 characters long (1 with exact_match=true)");
        }
        Set<String> fields = new LinkedHashSet<>(SEARCH_FIELDS);
        if (nonEmpty(query.get("fields"))) {
            fields.clear();
            for (String f : query.get("fields").split(",")) {
                String field = f.trim();
                if (!SEARCH_FIELDS.contains(field)) {
                    throw new Invalid("fields must be a comma list of " + String.join(", ", new TreeSet<>(SEARCH_FIELDS))
                            + ", not '" + field + "'");
                }
                fields.add(field);
            }
        }
        Long org = null;
        if (nonEmpty(query.get("organization_id"))) {
            if (!query.get("organization_id").matches("[1-9][0-9]{0,17}")) {
                throw new Invalid("organization_id must be a positive integer, not '" + query.get("organization_id")
                        + "'");
            }
            org = Long.parseLong(query.get("organization_id"));
        }
        int limit = limit(query.get("limit"));
        int offset = 0;
        if (nonEmpty(query.get("cursor"))) {
            Cursor cursor = Cursor.decode(query.get("cursor"));
            if (!cursor.sortBy().equals("search")) {
                throw new Invalid("cursor was made for the listing, not for search");
            }
            offset = (int) cursor.id();
        }
        String t = term.toLowerCase(Locale.ROOT);
        List<Hit> hits = new ArrayList<>();
        synchronized (lock) {
            // an exact email search, the one the service makes before every create, reads the index
            Iterable<Person> candidates = exact && fields.equals(Set.of("email"))
                    ? byEmail.getOrDefault(t, Set.of()).stream().map(live::get).toList()
                    : live.values();
            for (Person p : candidates) {
                if (org != null && !org.equals(p.orgId())) {
                    continue;
                }
                double best = 0;
                List<String> custom = new ArrayList<>();
                if (fields.contains("name")) {
                    best = Math.max(best, score(p.name(), t, exact));
                }
                if (fields.contains("email")) {
                    for (Contact e : p.emails()) {
                        best = Math.max(best, score(e.value(), t, exact));
                    }
                }
                if (fields.contains("phone")) {
                    for (Contact ph : p.phones()) {
                        best = Math.max(best, score(ph.value(), t, exact));
                    }
                }
                if (fields.contains("custom_fields")) {
                    for (JsonNode value : p.customFields().values()) {
                        if (value.isValueNode() && !value.isNull()) {
                            double s = score(value.asText(), t, exact);
                            if (s > 0) {
                                custom.add(value.asText());
                                best = Math.max(best, s);
                            }
                        }
                    }
                }
                if (best > 0) {
                    hits.add(new Hit(p, best, List.copyOf(custom)));
                }
            }
        }
        hits.sort(Comparator.comparingDouble(Hit::score).reversed().thenComparingLong(h -> h.person().id()));
        List<Map<String, Object>> items = new ArrayList<>();
        for (Hit hit : hits.subList(Math.min(offset, hits.size()), Math.min(offset + limit, hits.size()))) {
            items.add(searchItem(hit));
        }
        String next = offset + limit < hits.size() ? new Cursor("search", "asc", 0, offset + limit).encode() : null;
        return Reply.page(Map.of("items", items), next);
    }

    private Map<String, Object> searchItem(Hit hit) {
        Person p = hit.person();
        Map<String, Object> item = new LinkedHashMap<>();
        item.put("id", p.id());
        item.put("type", "person");
        item.put("name", p.name());
        item.put("phones", p.phones().stream().map(Contact::value).toList());
        item.put("emails", p.emails().stream().map(Contact::value).toList());
        item.put("visible_to", 3);
        item.put("owner", Map.of("id", p.ownerId()));
        if (p.orgId() == null) {
            item.put("organization", null);
        } else {
            Map<String, Object> org = new LinkedHashMap<>();
            org.put("id", p.orgId());
            org.put("name", null);
            org.put("address", null);
            item.put("organization", org);
        }
        item.put("custom_fields", hit.customMatches());
        item.put("notes", List.of());
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("result_score", hit.score());
        result.put("item", item);
        return result;
    }

    /** 1 for an exact match (ignoring case); otherwise the term's share of a value that contains it; else 0. */
    private static double score(String value, String lowerTerm, boolean exact) {
        if (value == null) {
            return 0;
        }
        String v = value.toLowerCase(Locale.ROOT);
        if (v.equals(lowerTerm)) {
            return 1;
        }
        if (exact || !v.contains(lowerTerm)) {
            return 0;
        }
        return Math.round(1000.0 * lowerTerm.length() / v.length()) / 1000.0;
    }

    private static int limit(String text) {
        if (!nonEmpty(text)) {
            return DEFAULT_LIMIT;
        }
        try {
            int limit = Integer.parseInt(text.trim());
            if (limit >= 1 && limit <= MAX_LIMIT) {
                return limit;
            }
        } catch (NumberFormatException e) {
            // answered below
        }
        throw new Invalid("limit must be a whole number from 1 to " + MAX_LIMIT + ", not '" + text + "'");
    }

    private static String choice(String value, String name, String... allowed) {
        if (!nonEmpty(value)) {
            return allowed[0];
        }
        for (String a : allowed) {
            if (a.equals(value)) {
                return a;
            }
        }
        throw new Invalid(name + " must be one of " + String.join(", ", allowed) + ", not '" + value + "'");
    }

    private static boolean bool(String value, String name) {
        if (!nonEmpty(value) || value.equals("false") || value.equals("0")) {
            return false;
        }
        if (value.equals("true") || value.equals("1")) {
            return true;
        }
        throw new Invalid(name + " must be true or false, not '" + value + "'");
    }

    private static boolean nonEmpty(String s) {
        return s != null && !s.isBlank();
    }

    // ---------------------------------------------------------------- request parts

    private static Map<String, String> query(HttpExchange exchange) {
        Map<String, String> params = new LinkedHashMap<>();
        String raw = exchange.getRequestURI().getRawQuery();
        if (raw == null || raw.isEmpty()) {
            return params;
        }
        for (String pair : raw.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            try {
                String name = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
                String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
                params.putIfAbsent(name, value);
            } catch (IllegalArgumentException e) {
                throw new Invalid("Malformed query string: " + e.getMessage());
            }
        }
        return params;
    }

    private static JsonNode body(HttpExchange exchange) {
        try (InputStream in = exchange.getRequestBody()) {
            byte[] bytes = in.readAllBytes();
            JsonNode node = bytes.length == 0 ? null : JSON.readTree(bytes);
            if (node == null || !node.isObject()) {
                throw new Invalid("The body must be one JSON object");
            }
            return node;
        } catch (JsonProcessingException e) {
            throw new Invalid("The body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ---------------------------------------------------------------- /__sim control endpoints

    @Override
    protected Reply control(HttpExchange exchange, String method, String path) {
        try {
            switch (method + " " + path) {
                case "GET /__sim/ratelimit":
                    return Reply.json(200, rateLimitView());
                case "POST /__sim/ratelimit":
                    applyRateLimit(controlBody(exchange));
                    return Reply.json(200, rateLimitView());
                case "GET /__sim/webhooks":
                    return Reply.json(200, webhooks.view());
                case "POST /__sim/webhooks":
                    applyWebhooks(controlBody(exchange));
                    return Reply.json(200, webhooks.view());
                case "DELETE /__sim/webhooks":
                    webhooks.targetOff();
                    webhooks.discardPending();
                    return Reply.empty(204);
                case "GET /__sim/webhooks/deliveries":
                    return Reply.json(200, Map.of("deliveries", webhooks.deliveriesView()));
                case "GET /__sim/webhooks/events":
                    return Reply.json(200, Map.of("events", webhooks.events()));
                default:
                    return Reply.json(404, Map.of("error", "not_found", "message", "No control endpoint " + method
                            + " " + path + "; there are /__sim/stats, /__sim/requests, /__sim/faults, "
                            + "/__sim/ratelimit and /__sim/webhooks"));
            }
        } catch (IllegalArgumentException e) {
            return Reply.json(400, invalidControl(e));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Reply.json(503, Map.of("error", "interrupted", "message", "The simulator is stopping"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static JsonNode controlBody(HttpExchange exchange) throws IOException {
        JsonNode body;
        try (InputStream in = exchange.getRequestBody()) {
            body = JSON.readTree(in.readAllBytes());
        } catch (JsonProcessingException e) {
            throw new SimControl.BadControl("The body must be one JSON object: " + e.getOriginalMessage(), null);
        }
        if (body == null || !body.isObject()) {
            throw new SimControl.BadControl("The body must be one JSON object", null);
        }
        return body;
    }

    private Map<String, Object> rateLimitView() {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("enabled", rateLimits.enabled());
        view.put("limit", rateLimits.limit());
        view.put("searchLimit", rateLimits.searchLimit());
        view.put("windowMs", rateLimits.window().toMillis());
        view.put("dailyLimit", rateLimits.dailyLimit());
        return view;
    }

    /** Checks every value first, so a bad one sets nothing. */
    private void applyRateLimit(JsonNode body) {
        List<Runnable> changes = new ArrayList<>();
        PipedriveRateLimits check = new PipedriveRateLimits();
        if (body.has("enabled")) {
            boolean on = controlBool(body, "enabled");
            changes.add(() -> rateLimits.enabled(on));
        }
        if (body.has("limit")) {
            int n = (int) controlLong(body, "limit");
            check.limit(n);
            changes.add(() -> rateLimits.limit(n));
        }
        if (body.has("searchLimit")) {
            int n = (int) controlLong(body, "searchLimit");
            check.searchLimit(n);
            changes.add(() -> rateLimits.searchLimit(n));
        }
        if (body.has("windowMs")) {
            Duration window = Duration.ofMillis(controlLong(body, "windowMs"));
            check.window(window);
            changes.add(() -> rateLimits.window(window));
        }
        if (body.has("dailyLimit")) {
            long n = controlLong(body, "dailyLimit");
            check.dailyLimit(n);
            changes.add(() -> rateLimits.dailyLimit(n));
        }
        if (body.path("reset").asBoolean(false)) {
            changes.add(rateLimits::reset);
        }
        changes.forEach(Runnable::run);
    }

    private void applyWebhooks(JsonNode body) throws InterruptedException {
        List<Runnable> changes = new ArrayList<>();
        if (body.has("url")) {
            if (body.get("url").isNull()) {
                changes.add(webhooks::targetOff);
            } else {
                String url = body.get("url").asText();
                String user = body.hasNonNull("username") ? body.get("username").asText() : null;
                String password = body.hasNonNull("password") ? body.get("password").asText() : null;
                try {
                    PipedriveWebhooks.checkedUrl(url);
                } catch (IllegalArgumentException e) {
                    throw new SimControl.BadControl(e.getMessage(), "url");
                }
                changes.add(() -> webhooks.target(url, user, password));
            }
        }
        if (body.has("retryDelaysMs")) {
            if (!body.get("retryDelaysMs").isArray()) {
                throw new SimControl.BadControl("retryDelaysMs must be an array of milliseconds", "retryDelaysMs");
            }
            List<Duration> delays = new ArrayList<>();
            for (JsonNode d : body.get("retryDelaysMs")) {
                if (!d.canConvertToLong() || d.asLong() < 0) {
                    throw new SimControl.BadControl("retryDelaysMs must hold whole numbers, 0 or more", "retryDelaysMs");
                }
                delays.add(Duration.ofMillis(d.asLong()));
            }
            changes.add(() -> webhooks.retryDelays(delays));
        }
        if (body.has("timeoutMs")) {
            long ms = controlLong(body, "timeoutMs");
            if (ms < 1) {
                throw new SimControl.BadControl("timeoutMs must be 1 or more", "timeoutMs");
            }
            changes.add(() -> webhooks.timeout(Duration.ofMillis(ms)));
        }
        if (body.has("loseNext")) {
            long n = controlLong(body, "loseNext");
            if (n < 0 || n > Integer.MAX_VALUE) {
                throw new SimControl.BadControl("loseNext must be 0 or more", "loseNext");
            }
            changes.add(() -> webhooks.loseNext((int) n));
        }
        if (body.has("paused")) {
            boolean paused = controlBool(body, "paused");
            changes.add(paused ? webhooks::pause : webhooks::resume);
        }
        boolean flush = body.has("flush") && controlBool(body, "flush");
        changes.forEach(Runnable::run);
        if (flush) {
            webhooks.flush(Duration.ofSeconds(10));
        }
    }

    private static long controlLong(JsonNode body, String field) {
        JsonNode node = body.get(field);
        if (node == null || !node.canConvertToLong() || !node.isIntegralNumber()) {
            throw new SimControl.BadControl(field + " must be a whole number", field);
        }
        return node.asLong();
    }

    private static boolean controlBool(JsonNode body, String field) {
        JsonNode node = body.get(field);
        if (node == null || !node.isBoolean()) {
            throw new SimControl.BadControl(field + " must be true or false", field);
        }
        return node.booleanValue();
    }

    // ---------------------------------------------------------------- main

    private static Clock systemClock() {
        return Clock.tick(Clock.systemUTC(), Duration.ofSeconds(1));
    }

    /**
     * {@code --port=<n>} (0: any free port), {@code --api-token=<t>} (random if not given),
     * {@code --seed=<n>}, {@code --rate-limit=<n>|off}, {@code --webhook-url=<url>},
     * {@code --webhook-user=<u>}, {@code --webhook-password=<p>}.
     */
    public static void main(String[] args) throws InterruptedException {
        Builder builder = builder();
        int seed = 0;
        String token = null;
        String webhookUrl = null;
        String webhookUser = null;
        String webhookPassword = null;
        for (String arg : args) {
            try {
                if (arg.startsWith("--port=")) {
                    builder.port(Integer.parseInt(arg.substring(7)));
                } else if (arg.startsWith("--api-token=")) {
                    token = arg.substring(12);
                } else if (arg.startsWith("--seed=")) {
                    seed = Integer.parseInt(arg.substring(7));
                } else if (arg.equals("--rate-limit=off")) {
                    builder.rateLimiting(false);
                } else if (arg.startsWith("--rate-limit=")) {
                    builder.rateLimit(Integer.parseInt(arg.substring(13)));
                } else if (arg.startsWith("--webhook-url=")) {
                    webhookUrl = arg.substring(14);
                } else if (arg.startsWith("--webhook-user=")) {
                    webhookUser = arg.substring(15);
                } else if (arg.startsWith("--webhook-password=")) {
                    webhookPassword = arg.substring(19);
                } else {
                    usage("unknown argument " + arg);
                    return;
                }
            } catch (IllegalArgumentException e) {
                usage(e.getMessage() + " in " + arg);
                return;
            }
        }
        if (token == null || token.isBlank()) {
            byte[] random = new byte[16];
            new SecureRandom().nextBytes(random);
            token = HexFormat.of().formatHex(random);
        }
        builder.apiToken(token);
        if (webhookUrl != null) {
            builder.webhook(webhookUrl, webhookUser, webhookPassword);
        }
        PipedriveSimulator pd;
        try {
            pd = builder.build().start();
        } catch (IllegalArgumentException e) {
            usage(e.getMessage());
            return;
        }
        pd.seedDemo(seed);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            pd.stop();
            stopped.countDown();
        }, "pipedrive-sim-shutdown"));
        System.out.println(pd.baseUrl());
        System.out.println("Pipedrive simulator: api_token " + token + ", " + seed + " persons at " + pd.baseUrl()
                + PERSONS + (webhookUrl == null ? ", no webhooks" : ", webhooks to " + webhookUrl)
                + "; counters at " + pd.baseUrl() + "/__sim/stats. Ctrl-C stops it.");
        stopped.await();
    }

    private static void usage(String problem) {
        System.err.println(problem);
        System.err.println("usage: PipedriveSimulator [--port=<n>] [--api-token=<t>] [--seed=<n>] [--rate-limit=<n>|off]"
                + " [--webhook-url=<url>] [--webhook-user=<u>] [--webhook-password=<p>]");
        System.exit(2);
    }
}
