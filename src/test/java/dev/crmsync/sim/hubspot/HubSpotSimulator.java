package dev.crmsync.sim.hubspot;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NavigableMap;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.regex.Pattern;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import dev.crmsync.sim.CallStats;
import dev.crmsync.sim.Faults;
import dev.crmsync.sim.GenericCrmSimulator;
import dev.crmsync.sim.ManualClock;
import dev.crmsync.sim.RollingWindow;
import dev.crmsync.sim.SimControl;
import dev.crmsync.sim.SimHttp;
import dev.crmsync.sim.SimHttp.Reply;
import dev.crmsync.sim.SimulatorServer;

/**
 * A HubSpot portal on a loopback port, speaking the CRM v3 contacts API as described in
 * {@code CRM-API-NOTES.md} (section HubSpot): bearer auth, contacts with string properties, cursor
 * listing, batch endpoints with partial failure, search with its own limits, HubSpot's error bodies
 * and rolling-window rate limits, and signed webhooks sent to the app ({@link HubSpotWebhooks}), plus
 * the fault switches and call counters every simulator has. Stateful and in memory; thread-safe.
 *
 * <h2>Wire format</h2>
 * JSON in UTF-8 both ways; answers carry {@code Content-Type: application/json;charset=utf-8}.
 *
 * <h3>Auth</h3>
 * Every request under {@code /crm} needs {@code Authorization: Bearer <token>} with the simulator's
 * token (a private app's access token), otherwise
 * {@code 401 {"status":"error","message":"...","correlationId":"<uuid>","category":"INVALID_AUTHENTICATION"}}.
 * The {@code /__sim} control endpoints need no token.
 *
 * <h3>Contact</h3>
 * <pre>{@code
 * {"id":"12","properties":{"createdate":"2026-11-22T21:00:00.123Z","email":"ada@example.com",
 *   "firstname":"Ada","hs_object_id":"12","lastmodifieddate":"2026-11-22T21:00:00.123Z","lastname":"Lovelace"},
 *  "createdAt":"2026-11-22T21:00:00.123Z","updatedAt":"2026-11-22T21:00:00.123Z","archived":false}
 * }</pre>
 * <ul>
 *   <li>{@code id} is a counter written as a string, never reused. Times are ISO-8601 UTC with three
 *   fraction digits, from the simulator's clock in milliseconds, never going back (a clock reading
 *   earlier than the latest stamp yields that stamp again). An archived contact also has
 *   {@code "archivedAt"}.</li>
 *   <li>{@code properties} are strings. Any property name is stored as given ({@code email},
 *   {@code firstname}, {@code lastname}, {@code phone}, {@code mobilephone}, {@code company},
 *   {@code jobtitle} or any other); a number or boolean is stored as its text; {@code null} or
 *   {@code ""} clears the property. An object or array value is a 400.</li>
 *   <li>Server-owned, read-only (setting one is a 400 {@code VALIDATION_ERROR}): {@code hs_object_id}
 *   (the id), {@code createdate} (= {@code createdAt}), {@code lastmodifieddate} (= {@code updatedAt},
 *   moved by every write that changes a value, archive, restore and merge), and the two a merge fills
 *   in on the survivor: {@code hs_merged_object_ids} (ids merged into it, {@code ;}-separated) and
 *   {@code hs_additional_emails} (their emails when the survivor kept its own).</li>
 *   <li>{@code email} must look like an address (else 400 {@code VALIDATION_ERROR}) and is unique
 *   ignoring case among live contacts: a create, update or upsert that would take another live
 *   contact's email is a {@code 409 {"category":"OBJECT_ALREADY_EXISTS","message":"Contact already
 *   exists. Existing ID: 12",...}}. Emails are stored as given, not lower-cased.</li>
 *   <li>Unique-value properties: custom properties declared with {@link Builder#uniqueProperty(String)}
 *   (HubSpot's "Require unique values", {@code hasUniqueValue: true}; at most
 *   {@value #MAX_UNIQUE_PROPERTIES}). Their values are unique among live contacts, compared exactly as
 *   stored (case counts, unlike email). A create, update or upsert, or one batch input, that would give
 *   a live contact a value another live contact holds is refused with HubSpot's answer, as recorded from
 *   its replies (its documentation does not show it):
 *   {@code 400 {"status":"error","message":"Cannot set PropertyValueCoordinates{portalId=40000001,
 *   objectTypeId=ObjectTypeId{legacyObjectType=CONTACT}, propertyName=crm_id, value=A-7} on 15. 12 already
 *   has that value.","correlationId":"<uuid>","category":"VALIDATION_ERROR"}}: the first id is the contact
 *   written (a create names the id it was to get, which is then never given out), the second the one
 *   holding the value (the portal id is {@link Builder#portalId(long)}'s). Only live contacts count,
 *   so archiving a contact frees its value; restoring one whose value was taken meanwhile is refused.
 *   Any of them can be an {@code idProperty} (below).</li>
 *   <li>Reads answer the properties asked for with {@code properties=a,b} (or repeated
 *   {@code properties=a&properties=b}; {@code null} when a contact has no value), always with
 *   {@code hs_object_id}, {@code createdate} and {@code lastmodifieddate}; without it the defaults
 *   {@code createdate, email, firstname, hs_object_id, lastmodifieddate, lastname}. Writes answer
 *   every property that has a value.</li>
 * </ul>
 *
 * <h3>Endpoints (under {@code /crm/v3/objects/contacts})</h3>
 * <dl>
 *   <dt>{@code GET ?limit=&after=&properties=&archived=true|false}</dt>
 *   <dd>{@code 200 {"results":[...],"paging":{"next":{"after":"13","link":"<base>/crm/v3/objects/contacts?after=13&limit=10"}}}}:
 *   contacts by id ascending, live ones or with {@code archived=true} only archived ones (merged-away
 *   ones included). {@code limit} 1..100, default 10; {@code after} is the cursor from the previous
 *   page; {@code paging} only when more follow. A bad limit, cursor or archived value is a 400.</dd>
 *   <dt>{@code GET /{id}?properties=&archived=&idProperty=email|<unique property>}</dt>
 *   <dd>200 the contact; the id of a contact merged away answers the survivor. With
 *   {@code idProperty=email} the path holds an email (live contacts, any case); with a declared
 *   unique-value property, that property's value (live contacts, exactly). {@code idProperty=hs_object_id}
 *   is the id; any other is a 400 {@code VALIDATION_ERROR}. {@code archived=true} reads only an archived
 *   contact, by id, as it is. 404 {@code OBJECT_NOT_FOUND} otherwise.</dd>
 *   <dt>{@code POST {"properties":{...}}}</dt>
 *   <dd>201 the contact; 409 on a taken email; 400 on bad properties or a taken unique value.</dd>
 *   <dt>{@code PATCH /{id}[?idProperty=email|<unique property>] {"properties":{...}}}</dt>
 *   <dd>200 the contact; 404 unknown, archived or merged away; 409, 400 as for POST.</dd>
 *   <dt>{@code DELETE /{id}}</dt>
 *   <dd>204: archives it (its email and unique values are free again). An unknown or archived id is also
 *   a 204, changing nothing.</dd>
 *   <dt>{@code POST /batch/read|create|update|upsert|archive {"inputs":[...]}}</dt>
 *   <dd>At most {@value #MAX_BATCH} inputs (more, or no {@code inputs} array: 400). Answers
 *   {@code {"status":"COMPLETE","results":[...],"startedAt","completedAt"}}: 200 (201 for create), or,
 *   when some inputs failed, 207 with the others done and {@code "numErrors"} and
 *   {@code "errors":[{"status":"error","category","message","context"?}]}, one per failed input
 *   ({@code context.ids} names a missing id, {@code context.propertyName} a bad property; a taken
 *   email's or unique value's message names the existing id). Results are in input order. Wherever
 *   {@code idProperty} is taken it may be {@code email} or a declared unique-value property; any other
 *   is a 400 for the whole request.
 *   <ul>
 *     <li>read: {@code {"inputs":[{"id":"12"}],"properties":[...],"idProperty":"email"|"<unique property>"?,
 *     "propertiesWithHistory":[...]?}};
 *     merged-away ids answer the survivor; missing or archived, or a value no live contact holds:
 *     {@code OBJECT_NOT_FOUND} with the input in {@code context.ids}. A result does not echo its input
 *     (nor does HubSpot's): a client matches results to inputs by the property itself, which is answered
 *     when asked for in {@code properties}, as any property. Two inputs naming one contact answer it
 *     once. With
 *     {@code propertiesWithHistory}, at most {@value #MAX_HISTORY_BATCH} inputs (more: 400), and each
 *     result also has {@code "propertiesWithHistory":{"email":[{"value","timestamp","sourceType"}, ...]}}:
 *     the property's last {@value #HISTORY_KEPT} versions, newest first ({@code ""} once cleared;
 *     {@code sourceType} INTEGRATION for API writes, CRM_UI for the Java helpers' edits, IMPORT for seeds;
 *     a value a merge moves onto the survivor is dated by the merge).</li>
 *     <li>create: {@code {"inputs":[{"properties":{...}}]}}; two inputs with one email: the second fails.</li>
 *     <li>update: {@code {"inputs":[{"id":"12","idProperty":"email"|"<unique property>"?,"properties":{...}}]}};
 *     the same id (or value of one idProperty) twice is a 400.</li>
 *     <li>upsert: {@code {"inputs":[{"id":"a@b.com","idProperty":"email","properties":{...}}]}} or
 *     {@code {"id":"A-7","idProperty":"<unique property>",...}}: updates the live contact with that email
 *     or value, or creates one with it (unless its {@code properties} set the property otherwise); each
 *     result has {@code "new":true|false}. No {@code idProperty}, {@code hs_object_id} or another
 *     property, or one value twice: 400.</li>
 *     <li>archive: {@code {"inputs":[{"id":"12"}]}}: 204, unknown ids ignored.</li>
 *   </ul></dd>
 *   <dt>{@code POST /search}</dt>
 *   <dd>{@code {"filterGroups":[{"filters":[{"propertyName":"lastmodifieddate","operator":"GTE","value":"1767225600000"}]}],
 *   "sorts":[{"propertyName":"lastmodifieddate","direction":"ASCENDING"}],"properties":[...],"limit":100,"after":"0","query":"ada"?}}
 *   → {@code 200 {"total":N,"results":[...],"paging":{"next":{"after":"100"}}}}. Groups are ORed,
 *   filters in a group ANDed (at most 5 groups, 6 filters per group, 18 in all). Operators EQ, NEQ,
 *   LT, LTE, GT, GTE, BETWEEN ({@code value}, {@code highValue}), IN, NOT_IN ({@code values}),
 *   HAS_PROPERTY, NOT_HAS_PROPERTY, CONTAINS_TOKEN, NOT_CONTAINS_TOKEN ({@code *} wildcards).
 *   {@code createdate} and {@code lastmodifieddate} compare as instants (value in epoch ms or ISO-8601),
 *   {@code hs_object_id} as a number, other properties as text ignoring case (as numbers when both
 *   sides are). One sort at most, on any property; ties and no sort: by id ascending. {@code limit}
 *   1..200, default 10; {@code after} is an offset; {@code total} counts every match, but results stop
 *   at {@value ContactSearch#RESULT_CAP}: a page may end with {@code paging.next.after} = 10000, and
 *   asking for it is a 400, so a poller must raise its lower bound instead of paging deeper. Archived
 *   contacts never match. The free-text {@code query} matches word prefixes of name, email, phone and
 *   company. A malformed body: 400 {@code VALIDATION_ERROR}.</dd>
 *   <dt>{@code POST /merge {"primaryObjectId":"12","objectIdToMerge":"15"}}</dt>
 *   <dd>200 the survivor; see {@link #merge(String, String)}. 404 unknown or archived, 400 same id.
 *   Unique-value properties do not move: the survivor keeps its own value, or stays without one, and the
 *   merged contact's value is dropped with it (it stays on the archived contact, so it is free again).
 *   HubSpot does not document this case; it is the simulator's choice.</dd>
 * </dl>
 * Other methods on those paths answer 405 with {@code Allow}; other paths 404.
 *
 * <h3>Errors</h3>
 * {@code {"status":"error","message":"...","correlationId":"<uuid>","category":"..."}} with category
 * {@code VALIDATION_ERROR} 400 (a taken unique value included), {@code INVALID_AUTHENTICATION} 401,
 * {@code OBJECT_NOT_FOUND} 404, {@code OBJECT_ALREADY_EXISTS} 409, {@code RATE_LIMITS} 429,
 * {@code INTERNAL_ERROR} 5xx.
 *
 * <h3>Rate limits</h3>
 * Every authorised request counts against a rolling window per token, by default {@value #DEFAULT_RATE_LIMIT}
 * requests per 10 s, and a daily limit for the portal (default {@value #DEFAULT_DAILY_LIMIT}, starting
 * again at each UTC day of the simulator's clock); a search also counts against its own window of
 * {@value #DEFAULT_SEARCH_PER_SECOND} per second per token. The windows read the simulator's clock, so
 * with a {@link ManualClock} a test decides when room comes back. Every authorised reply carries
 * {@code X-HubSpot-RateLimit-Max}, {@code -Remaining} (after this request),
 * {@code -Interval-Milliseconds}, {@code -Daily} and {@code -Daily-Remaining}. Over a limit:
 * {@code 429 {"status":"error","message":"...","errorType":"RATE_LIMIT","correlationId":"...",
 * "policyName":"TEN_SECONDLY_ROLLING"|"DAILY"|"SECONDLY","category":"RATE_LIMITS"}} ({@code SECONDLY}
 * for search), without {@code Retry-After} (unconfirmed for HubSpot, so clients must back off on the
 * interval); a refused request is not counted. Switch all of them off with
 * {@link #rateLimits(boolean)}: then nothing is counted and the headers show the full budget.
 *
 * <h3>Webhooks</h3>
 * See {@link HubSpotWebhooks}: events for creation, property changes, deletion (archive), merge and
 * restore, from the API and from the helper methods, batched, signed with v3 and retried.
 *
 * <h2>Faults and counters</h2>
 * As every simulator ({@link Faults}, {@link CallStats}, {@link SimControl}). A request waits out the
 * latency, then takes a fault if one applies (fault path prefixes match the request path, e.g.
 * {@code "/crm/v3/objects/contacts/batch"}), and only then is checked for auth and rate limits and
 * served; a faulted request changes nothing and counts against no limit. Its body is a HubSpot error
 * (a 429 fault is a {@code TEN_SECONDLY_ROLLING} rate-limit body <em>with</em> {@code Retry-After}, so
 * a client can be tested both ways). Endpoint keys: {@code "GET /crm/v3/objects/contacts"},
 * {@code "POST /crm/v3/objects/contacts"}, {@code "GET|PATCH|DELETE /crm/v3/objects/contacts/{id}"},
 * {@code "POST /crm/v3/objects/contacts/batch/read"} (and create, update, upsert, archive),
 * {@code "POST /crm/v3/objects/contacts/search"}, {@code "POST /crm/v3/objects/contacts/merge"}.
 * Control over HTTP: {@code /__sim/stats}, {@code /__sim/requests}, {@code /__sim/faults} as in
 * {@link SimControl}, and
 * <pre>{@code
 * GET  /__sim/ratelimit   {"enabled":true,"max":190,"intervalMs":10000,"daily":625000,"dailyUsed":3,"searchPerSecond":4}
 * POST /__sim/ratelimit   any of {"enabled":false,"max":n,"intervalMs":n,"daily":n,"searchPerSecond":n,"resetUsage":true}
 * GET  /__sim/webhooks    {"target":..,"signed":true,"paused":false,"queued":0,"retrying":0,"delivered":7,"lost":0,...}
 * POST /__sim/webhooks    any of {"target":"http://..."|null,"clientSecret":"..","paused":true,"flush":true,
 *                                 "loseNext":n,"loseShare":0.25,"keepAll":true}
 * POST /__sim/merge       {"primaryId":"12","mergedId":"15"}: a merge as a person in HubSpot makes it
 * }</pre>
 *
 * <h2>Running it</h2>
 * In a test: {@code try (var hs = HubSpotSimulator.builder().token("t").build().start()) {...}};
 * standalone, with the test class path:
 * {@code java dev.crmsync.sim.hubspot.HubSpotSimulator --port=8094 --token=dev-token --seed=25
 * [--webhook-url=http://localhost:8080/webhooks/hubspot --client-secret=...] [--no-rate-limit]
 * [--unique-property=crm_id[,other_id]]...}
 * prints the base URL on its first line.
 */
public final class HubSpotSimulator extends SimulatorServer {

    public static final String CONTACTS = "/crm/v3/objects/contacts";
    public static final int DEFAULT_LIMIT = 10;
    public static final int MAX_LIMIT = 100;
    public static final int MAX_BATCH = 100;
    public static final int DEFAULT_RATE_LIMIT = 190;
    public static final Duration DEFAULT_RATE_INTERVAL = Duration.ofSeconds(10);
    public static final long DEFAULT_DAILY_LIMIT = 625_000;
    public static final int DEFAULT_SEARCH_PER_SECOND = 4;
    public static final String DEFAULT_TOKEN = "sim-hubspot-token";
    public static final long DEFAULT_PORTAL_ID = 40_000_001;
    public static final long DEFAULT_APP_ID = 1_000_001;
    /** Unique-value properties HubSpot allows per object. */
    public static final int MAX_UNIQUE_PROPERTIES = 10;

    /** The one form contact times are written in: always milliseconds, always UTC {@code Z}. */
    public static final DateTimeFormatter TIMESTAMP =
            DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'", Locale.ROOT).withZone(ZoneOffset.UTC);

    static final List<String> DEFAULT_PROPERTIES =
            List.of("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname");
    static final Set<String> READ_ONLY = Set.of("hs_object_id", "createdate", "lastmodifieddate",
            "hs_merged_object_ids", "hs_additional_emails");
    private static final List<String> ALWAYS_READ = List.of("createdate", "hs_object_id", "lastmodifieddate");
    /** Versions of a property a contact keeps, and inputs a batch read that asks for histories takes. */
    static final int HISTORY_KEPT = 20;
    static final int MAX_HISTORY_BATCH = 50;
    private static final Set<String> BATCH_OPS = Set.of("read", "create", "update", "upsert", "archive");
    private static final Pattern EMAIL = Pattern.compile("[^@\\s]+@[^@\\s]+\\.[^@\\s]+");
    private static final Pattern DIGITS = Pattern.compile("\\d{1,18}");
    private static final ObjectMapper JSON =
            new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final String API = "API";
    private static final String CRM_UI = "CRM_UI";

    private final String token;
    private final long portalId;
    private final HubSpotWebhooks webhooks;
    /** The custom properties declared with "Require unique values", in declaration order. */
    private final Set<String> uniqueProperties;

    // Portal data, guarded by lock.
    private final Object lock = new Object();
    private final NavigableMap<Long, Stored> byId = new TreeMap<>();
    private final Map<String, Long> liveByEmail = new HashMap<>();
    /** Per unique property, each live contact's value (as stored) to its id. */
    private final Map<String, Map<String, Long>> liveByUnique = new HashMap<>();
    private long nextId = 1;
    private Instant latestStamp = Instant.EPOCH;

    // Rate limits, guarded by usageLock.
    private final Object usageLock = new Object();
    private final RollingWindow window;
    private final RollingWindow searchWindow;
    private boolean rateLimits;
    private int searchPerSecond;
    private long dailyLimit;
    private long dailyUsed;
    private LocalDate usageDay;

    private volatile Clock clock;

    /**
     * A contact as stored; a new one replaces it on every change. {@code properties} hold no server-owned
     * time or id; {@code history} holds each property's versions, newest first.
     */
    private record Stored(long id, Map<String, String> properties, Instant createdAt, Instant updatedAt,
                          Instant archivedAt, Long mergedInto, Map<String, List<Version>> history)
            implements ContactSearch.Row {

        boolean archived() {
            return archivedAt != null;
        }

        String email() {
            return properties.get("email");
        }

        @Override
        public long createdMillis() {
            return createdAt.toEpochMilli();
        }

        @Override
        public long modifiedMillis() {
            return updatedAt.toEpochMilli();
        }

        @Override
        public String value(String property) {
            return switch (property) {
                case "hs_object_id" -> Long.toString(id);
                case "createdate" -> TIMESTAMP.format(createdAt);
                case "lastmodifieddate" -> TIMESTAMP.format(updatedAt);
                default -> properties.get(property);
            };
        }

        /** Every property with a value, server-owned ones included, by name. */
        Map<String, String> all() {
            Map<String, String> all = new TreeMap<>(properties);
            for (String name : ALWAYS_READ) {
                all.put(name, value(name));
            }
            return all;
        }
    }

    /** One version of a property: its value ("" once cleared), when it was set and by what kind of source. */
    private record Version(String value, Instant timestamp, String sourceType) {

        Map<String, Object> view() {
            return Map.of("value", value, "timestamp", TIMESTAMP.format(timestamp), "sourceType", sourceType);
        }
    }

    /** The history after {@code values} were set at {@code at}; each property keeps its latest versions. */
    private static Map<String, List<Version>> history(Map<String, List<Version>> before, Map<String, String> values,
                                                      Instant at, String source) {
        Map<String, List<Version>> history = new HashMap<>(before);
        String sourceType = source == null ? "IMPORT" : source.equals(API) ? "INTEGRATION" : source;
        values.forEach((name, value) -> {
            List<Version> versions = new ArrayList<>(HISTORY_KEPT);
            versions.add(new Version(value == null ? "" : value, at, sourceType));
            List<Version> older = history.getOrDefault(name, List.of());
            versions.addAll(older.subList(0, Math.min(older.size(), HISTORY_KEPT - 1)));
            history.put(name, List.copyOf(versions));
        });
        return Collections.unmodifiableMap(history);
    }

    /** A request HubSpot refuses: status, category, message and the optional error context. */
    static final class Refused extends RuntimeException {
        final int status;
        final String category;
        final Map<String, List<String>> context;

        Refused(int status, String category, String message) {
            this(status, category, message, null);
        }

        Refused(int status, String category, String message, Map<String, List<String>> context) {
            super(message);
            this.status = status;
            this.category = category;
            this.context = context;
        }

        static Refused invalid(String message) {
            return new Refused(400, "VALIDATION_ERROR", message);
        }

        static Refused invalidProperty(String property, String message) {
            return new Refused(400, "VALIDATION_ERROR", message, Map.of("propertyName", List.of(property)));
        }

        static Refused notFound(String id) {
            return notFound(id, null);
        }

        /** No live contact has {@code id} as its record id ({@code idProperty} null) or as that property's value. */
        static Refused notFound(String id, String idProperty) {
            String by = idProperty == null ? "id" : idProperty;
            return new Refused(404, "OBJECT_NOT_FOUND", "No live contact with " + by + " " + id
                    + " (it does not exist or is archived)", Map.of("ids", List.of(id)));
        }

        static Refused emailTaken(long existingId) {
            return new Refused(409, "OBJECT_ALREADY_EXISTS", "Contact already exists. Existing ID: " + existingId);
        }

        /**
         * A write that would give contact {@code objectId} the value contact {@code existingId} holds for
         * a unique-value property: the body HubSpot answers, as recorded from its replies (its
         * documentation does not show it); clients parse the existing id, the second one, from it.
         */
        static Refused valueTaken(long portalId, String property, String value, long objectId, long existingId) {
            return new Refused(400, "VALIDATION_ERROR", "Cannot set PropertyValueCoordinates{portalId=" + portalId
                    + ", objectTypeId=ObjectTypeId{legacyObjectType=CONTACT}, propertyName=" + property + ", value="
                    + value + "} on " + objectId + ". " + existingId + " already has that value.");
        }

        /** The error as it appears in a batch reply's {@code errors}. */
        Map<String, Object> batchError() {
            Map<String, Object> error = new LinkedHashMap<>();
            error.put("status", "error");
            error.put("category", category);
            error.put("message", getMessage());
            if (context != null) {
                error.put("context", context);
            }
            return error;
        }
    }

    private HubSpotSimulator(Builder b) {
        super("hubspot-sim", SimHttp.JSON_UTF8, b.port, b.threads);
        this.token = b.token;
        this.portalId = b.portalId;
        this.uniqueProperties = Collections.unmodifiableSet(new LinkedHashSet<>(b.uniqueProperties));
        uniqueProperties.forEach(name -> liveByUnique.put(name, new HashMap<>()));
        this.clock = b.clock;
        this.window = new RollingWindow(b.rateLimit, b.rateInterval);
        this.searchWindow = new RollingWindow(Math.max(1, b.searchPerSecond), Duration.ofSeconds(1));
        this.searchPerSecond = b.searchPerSecond;
        this.dailyLimit = b.dailyLimit;
        this.rateLimits = b.rateLimits;
        this.webhooks = new HubSpotWebhooks(b.portalId, b.appId, b.webhookTarget, b.clientSecret,
                b.webhookFlushInterval, b.webhookRetryDelay, b.webhookTimeout, b.webhookProperties,
                b.propertyChangesOnCreate);
    }

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder {
        private String token = DEFAULT_TOKEN;
        private int port;
        private int threads = 8;
        private Clock clock = systemClock();
        private int rateLimit = DEFAULT_RATE_LIMIT;
        private Duration rateInterval = DEFAULT_RATE_INTERVAL;
        private boolean rateLimits = true;
        private long dailyLimit = DEFAULT_DAILY_LIMIT;
        private int searchPerSecond = DEFAULT_SEARCH_PER_SECOND;
        private long portalId = DEFAULT_PORTAL_ID;
        private long appId = DEFAULT_APP_ID;
        private String webhookTarget;
        private String clientSecret;
        private Duration webhookFlushInterval = Duration.ofMillis(200);
        private Duration webhookRetryDelay = Duration.ofSeconds(1);
        private Duration webhookTimeout = Duration.ofSeconds(5);
        private Set<String> webhookProperties = Set.of();
        private boolean propertyChangesOnCreate = true;
        private final Set<String> uniqueProperties = new LinkedHashSet<>();

        private Builder() {
        }

        /** The private app's access token every {@code /crm} call must bear; default {@value #DEFAULT_TOKEN}. */
        public Builder token(String token) {
            if (token == null || token.isBlank()) {
                throw new IllegalArgumentException("the token must not be blank");
            }
            this.token = token;
            return this;
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

        /** Where contact times, webhook {@code occurredAt} and the rate-limit windows read the time. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** The rolling window per token: {@code max} requests per {@code interval} (default 190 per 10 s). */
        public Builder rateLimit(int max, Duration interval) {
            RollingWindow.check(max, interval);
            this.rateLimit = max;
            this.rateInterval = interval;
            return this;
        }

        /** All rate limits on (the default) or off. */
        public Builder rateLimits(boolean on) {
            this.rateLimits = on;
            return this;
        }

        public Builder dailyLimit(long dailyLimit) {
            if (dailyLimit < 1) {
                throw new IllegalArgumentException("the daily limit must be 1 or more, not " + dailyLimit);
            }
            this.dailyLimit = dailyLimit;
            return this;
        }

        /** Searches per second per token; 0 turns the search limit off. */
        public Builder searchRateLimit(int perSecond) {
            if (perSecond < 0) {
                throw new IllegalArgumentException("searches per second must be 0 or more, not " + perSecond);
            }
            this.searchPerSecond = perSecond;
            return this;
        }

        public Builder portalId(long portalId) {
            this.portalId = portalId;
            return this;
        }

        public Builder appId(long appId) {
            this.appId = appId;
            return this;
        }

        /** The app's webhook URL; without one no events are queued (see {@link HubSpotWebhooks#target(String)}). */
        public Builder webhookTarget(String url) {
            this.webhookTarget = url;
            return this;
        }

        /** The app's client secret, which signs webhook deliveries. */
        public Builder clientSecret(String clientSecret) {
            this.clientSecret = clientSecret;
            return this;
        }

        /** How long events gather before they are sent (default 200 ms). */
        public Builder webhookFlushInterval(Duration interval) {
            this.webhookFlushInterval = interval;
            return this;
        }

        /** The delay before the first retry of a failed delivery, doubled for each further one (default 1 s). */
        public Builder webhookRetryDelay(Duration delay) {
            this.webhookRetryDelay = delay;
            return this;
        }

        /** How long a delivery may wait for an answer before it counts as failed (default 5 s). */
        public Builder webhookTimeout(Duration timeout) {
            this.webhookTimeout = timeout;
            return this;
        }

        /** Properties with a property-change subscription; none named (the default) means every property. */
        public Builder webhookProperties(String... properties) {
            this.webhookProperties = Set.of(properties);
            return this;
        }

        /** Whether a creation is followed by a property change per property it was created with (default on). */
        public Builder propertyChangesOnCreate(boolean on) {
            this.propertyChangesOnCreate = on;
            return this;
        }

        /**
         * Declares a custom contact property with "Require unique values" ({@code hasUniqueValue: true}):
         * no two live contacts hold one value of it, and it may name contacts as an {@code idProperty}.
         * Call once per property, at most {@value #MAX_UNIQUE_PROPERTIES} (HubSpot's limit per object).
         * {@code email} and {@code hs_object_id} identify contacts already, and server-owned properties
         * are never written, so neither can be declared.
         */
        public Builder uniqueProperty(String name) {
            if (name == null || name.isBlank()) {
                throw new IllegalArgumentException("a unique-value property needs a name");
            }
            if (name.equals("email") || READ_ONLY.contains(name)) {
                throw new IllegalArgumentException(name + " is a HubSpot-defined property and cannot be declared"
                        + " unique; declare a custom property");
            }
            if (!uniqueProperties.contains(name) && uniqueProperties.size() == MAX_UNIQUE_PROPERTIES) {
                throw new IllegalArgumentException("HubSpot allows at most " + MAX_UNIQUE_PROPERTIES
                        + " unique-value properties per object; " + name + " would be one more than "
                        + uniqueProperties);
            }
            uniqueProperties.add(name);
            return this;
        }

        public HubSpotSimulator build() {
            return new HubSpotSimulator(this);
        }
    }

    // ---------------------------------------------------------------- lifecycle

    /** Starts serving on the loopback interface and sending webhooks; answers this simulator. */
    @Override
    public synchronized HubSpotSimulator start() {
        if (!running()) {
            super.start();
            webhooks.start();
        }
        return this;
    }

    @Override
    public synchronized void stop() {
        if (running()) {
            webhooks.stop();
            super.stop();
        }
    }

    public String token() {
        return token;
    }

    /** The unique-value properties declared with {@link Builder#uniqueProperty(String)}, in that order. */
    public Set<String> uniqueProperties() {
        return uniqueProperties;
    }

    // ---------------------------------------------------------------- switches

    public HubSpotWebhooks webhooks() {
        return webhooks;
    }

    /** The rolling window per token from now on; hits already counted stay counted. */
    public HubSpotSimulator rateLimit(int max, Duration interval) {
        synchronized (usageLock) {
            window.limit(max, interval);
        }
        return this;
    }

    public int rateLimitMax() {
        return window.max();
    }

    public Duration rateLimitInterval() {
        return window.interval();
    }

    /** Switches every rate limit (rolling window, daily, search) on or off. */
    public HubSpotSimulator rateLimits(boolean on) {
        synchronized (usageLock) {
            rateLimits = on;
        }
        return this;
    }

    public boolean rateLimits() {
        synchronized (usageLock) {
            return rateLimits;
        }
    }

    public HubSpotSimulator dailyLimit(long limit) {
        if (limit < 1) {
            throw new IllegalArgumentException("the daily limit must be 1 or more, not " + limit);
        }
        synchronized (usageLock) {
            dailyLimit = limit;
        }
        return this;
    }

    public long dailyLimit() {
        synchronized (usageLock) {
            return dailyLimit;
        }
    }

    /** Requests counted against today's limit. */
    public long dailyUsed() {
        synchronized (usageLock) {
            rollDay(clock.instant());
            return dailyUsed;
        }
    }

    /** Searches per second per token; 0 turns the search limit off. */
    public HubSpotSimulator searchRateLimit(int perSecond) {
        if (perSecond < 0) {
            throw new IllegalArgumentException("searches per second must be 0 or more, not " + perSecond);
        }
        synchronized (usageLock) {
            searchPerSecond = perSecond;
            if (perSecond > 0) {
                searchWindow.limit(perSecond, Duration.ofSeconds(1));
            }
        }
        return this;
    }

    /** Forgets every request counted against the rate limits, so the next one has the full budget. */
    public HubSpotSimulator resetRateLimits() {
        synchronized (usageLock) {
            window.reset();
            searchWindow.reset();
            dailyUsed = 0;
        }
        return this;
    }

    public Clock clock() {
        return clock;
    }

    /** Reads contact times, event times and the rate-limit windows from this clock from now on. */
    public HubSpotSimulator clock(Clock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
        return this;
    }

    /**
     * Stops the clock at the latest stamp or now, whichever is later: every write until the clock is
     * moved gets the same {@code lastmodifieddate}, and the rate-limit windows stand still. Move it
     * with the returned clock.
     */
    public ManualClock freezeClock() {
        synchronized (lock) {
            return freezeClock(candidateStamp());
        }
    }

    /** Stops the clock at {@code at}; writes get {@code at}, or the latest stamp if that is later. */
    public ManualClock freezeClock(Instant at) {
        ManualClock frozen = new ManualClock(at.truncatedTo(ChronoUnit.MILLIS));
        clock(frozen);
        return frozen;
    }

    public HubSpotSimulator useSystemClock() {
        return clock(systemClock());
    }

    // ---------------------------------------------------------------- data, as an import or a person in HubSpot would

    /**
     * Inserts a contact as an import made before the test would: no webhook, server-owned properties
     * refused, the email and unique-value properties still unique. Answers the contact with every property.
     *
     * @throws IllegalArgumentException for a server-owned property, a value that is not a scalar, or a taken
     *         email or unique value
     */
    public Map<String, Object> seed(Map<String, ?> properties) {
        Map<String, String> values = helperValues(properties);
        synchronized (lock) {
            try {
                return view(insert(values, null), null);
            } catch (Refused e) {
                throw javaException(e);
            }
        }
    }

    /** Seeds {@code count} demo contacts with realistic names, unique emails, E.164 phones; no webhooks. */
    public List<Map<String, Object>> seedDemo(int count) {
        List<Map<String, Object>> seeded = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            seeded.add(seed(demoContact(i)));
        }
        return seeded;
    }

    /** Demo contact {@code i} in HubSpot's property names, from the generic simulator's demo people. */
    public static Map<String, String> demoContact(int i) {
        Map<String, Object> person = GenericCrmSimulator.demoContact(i);
        Map<String, String> contact = new LinkedHashMap<>();
        contact.put("email", (String) person.get("Email"));
        contact.put("firstname", (String) person.get("FirstName"));
        contact.put("lastname", (String) person.get("LastName"));
        contact.put("phone", (String) person.get("Phone"));
        contact.put("company", (String) person.get("Company"));
        contact.put("jobtitle", (String) person.get("Title"));
        return contact;
    }

    /**
     * Creates a contact as a person in HubSpot's screens would: the rules apply and webhooks go out.
     *
     * @throws IllegalArgumentException for a server-owned property, a bad value or a taken email or unique value
     */
    public Map<String, Object> create(Map<String, ?> properties) {
        Map<String, String> values = helperValues(properties);
        synchronized (lock) {
            try {
                return view(insert(values, CRM_UI), null);
            } catch (Refused e) {
                throw javaException(e);
            }
        }
    }

    /** Every contact, archived and merged-away ones included, by id. */
    public List<Map<String, Object>> records() {
        synchronized (lock) {
            return byId.values().stream().map(s -> view(s, null)).toList();
        }
    }

    /** The contacts not archived, by id. */
    public List<Map<String, Object>> live() {
        synchronized (lock) {
            return byId.values().stream().filter(s -> !s.archived()).map(s -> view(s, null)).toList();
        }
    }

    /** How many contacts are live, without copying them (for a benchmark that watches a large portal fill up). */
    public int liveCount() {
        synchronized (lock) {
            return (int) byId.values().stream().filter(s -> !s.archived()).count();
        }
    }

    /** The contact stored under this id, archived or not, without following a merge. */
    public Optional<Map<String, Object>> find(String id) {
        synchronized (lock) {
            Long key = parseId(id);
            return Optional.ofNullable(key == null ? null : byId.get(key)).map(s -> view(s, null));
        }
    }

    /** The live contact with this email, ignoring case. */
    public Optional<Map<String, Object>> findByEmail(String email) {
        synchronized (lock) {
            Long id = email == null ? null : liveByEmail.get(email.toLowerCase(Locale.ROOT));
            return Optional.ofNullable(id == null ? null : byId.get(id)).map(s -> view(s, null));
        }
    }

    /** The id a merged-away id now resolves to (itself when it was not merged). */
    public String survivorOf(String id) {
        synchronized (lock) {
            Long key = parseId(id);
            Stored s = key == null ? null : resolve(key);
            if (s == null) {
                throw new NoSuchElementException("No contact " + id);
            }
            return Long.toString(s.id());
        }
    }

    /**
     * Edits a contact as a person in HubSpot's screens would: property changes go out as webhooks.
     *
     * @throws NoSuchElementException for an unknown, archived or merged-away id
     * @throws IllegalArgumentException for a server-owned property, a bad value or a taken email or unique value
     */
    public Map<String, Object> update(String id, Map<String, ?> properties) {
        Map<String, String> values = helperValues(properties);
        synchronized (lock) {
            try {
                return view(change(liveContact(id), values, CRM_UI), null);
            } catch (Refused e) {
                throw javaException(e);
            }
        }
    }

    /**
     * Archives a contact as a person would; a {@code contact.deletion} webhook goes out.
     *
     * @throws NoSuchElementException for an unknown, archived or merged-away id
     */
    public Map<String, Object> delete(String id) {
        synchronized (lock) {
            try {
                return view(archive(liveContact(id), CRM_UI), null);
            } catch (Refused e) {
                throw javaException(e);
            }
        }
    }

    /**
     * Loses a contact without archiving it, as a portal restored from an older export or reseeded
     * would: no webhook, nothing in the recycle bin; neither a read (archived or not) nor a listing
     * knows the id afterwards.
     *
     * @throws NoSuchElementException for an unknown id
     */
    public void forget(String id) {
        synchronized (lock) {
            Long key = parseId(id);
            Stored current = key == null ? null : byId.remove(key);
            if (current == null) {
                throw new NoSuchElementException("No contact " + id);
            }
            unindex(current);
        }
    }

    /**
     * Restores an archived contact from the recycle bin; a {@code contact.restore} webhook goes out.
     *
     * @throws NoSuchElementException for an unknown id
     * @throws IllegalStateException when it is live, was merged away, or its email or a unique value is taken
     *         meanwhile
     */
    public Map<String, Object> restore(String id) {
        synchronized (lock) {
            Long key = parseId(id);
            Stored current = key == null ? null : byId.get(key);
            if (current == null) {
                throw new NoSuchElementException("No contact " + id);
            }
            if (!current.archived()) {
                throw new IllegalStateException("Contact " + id + " is not archived");
            }
            if (current.mergedInto() != null) {
                throw new IllegalStateException("Contact " + id + " was merged into " + current.mergedInto()
                        + " and cannot be restored");
            }
            String email = current.email();
            if (email != null && liveByEmail.containsKey(email.toLowerCase(Locale.ROOT))) {
                throw new IllegalStateException("Contact " + id + " cannot be restored: its email " + email
                        + " belongs to contact " + liveByEmail.get(email.toLowerCase(Locale.ROOT)));
            }
            try {
                checkUnique(current.id(), current.properties());
            } catch (Refused e) {
                throw new IllegalStateException("Contact " + id + " cannot be restored: " + e.getMessage(), e);
            }
            Instant now = stamp();
            Stored restored = new Stored(current.id(), current.properties(), current.createdAt(), now, null, null,
                    current.history());
            put(restored);
            webhooks.restore(restored.id(), now.toEpochMilli(), CRM_UI);
            return view(restored, null);
        }
    }

    /**
     * Merges {@code mergedId} into {@code primaryId} as a person in HubSpot would: each property the
     * primary has no value for takes the merged contact's value; when both have an email the primary
     * keeps its own and the other goes into {@code hs_additional_emails}; the primary's
     * {@code hs_merged_object_ids} gains the merged id. Unique-value properties never move: the primary
     * keeps its own value (or stays without one) and the merged contact's value stays on it, archived, so
     * the value is free again. The merged contact is archived (for good: it
     * cannot be restored) and its id resolves to the primary on reads from then on. Webhooks: one
     * {@code contact.merge} naming the primary, then a property change on the primary per value moved.
     * Answers the primary.
     *
     * @throws NoSuchElementException for an unknown, archived or merged-away id
     * @throws IllegalArgumentException when both ids are the same contact
     */
    public Map<String, Object> merge(String primaryId, String mergedId) {
        synchronized (lock) {
            try {
                return view(mergeContacts(primaryId, mergedId, CRM_UI), null);
            } catch (Refused e) {
                throw javaException(e);
            }
        }
    }

    /** The value of a property in a contact map these helpers answer, or null. */
    @SuppressWarnings("unchecked")
    public static String property(Map<String, Object> contact, String name) {
        return ((Map<String, String>) contact.get("properties")).get(name);
    }

    /**
     * Forgets every contact and restarts ids at 1; clears faults, counters, rate-limit usage and
     * webhook queues and logs. Settings (limits, webhook target and secret, clock) stay.
     */
    public void reset() {
        synchronized (lock) {
            byId.clear();
            liveByEmail.clear();
            liveByUnique.values().forEach(Map::clear);
            nextId = 1;
        }
        faults().clear();
        stats().reset();
        resetRateLimits();
        webhooks.clear();
    }

    private static RuntimeException javaException(Refused e) {
        return switch (e.status) {
            case 404 -> new NoSuchElementException(e.getMessage());
            default -> new IllegalArgumentException(e.getMessage(), e);
        };
    }

    private static Map<String, String> helperValues(Map<String, ?> properties) {
        Map<String, String> values = new LinkedHashMap<>();
        properties.forEach((name, value) -> {
            if (value != null && !(value instanceof String) && !(value instanceof Number)
                    && !(value instanceof Boolean)) {
                throw new IllegalArgumentException("Property " + name + " must be a string, number, boolean or null,"
                        + " not " + value.getClass().getSimpleName());
            }
            if (READ_ONLY.contains(name)) {
                throw new IllegalArgumentException(name + " is a read-only property; the simulator sets it");
            }
            values.put(name, value == null ? null : value.toString());
        });
        try {
            checkEmail(values);
        } catch (Refused e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        return values;
    }

    // ---------------------------------------------------------------- the portal: writes (hold the lock)

    /** Creates a contact; {@code source} null means an import, which sends no webhook. */
    private Stored insert(Map<String, String> values, String source) {
        Map<String, String> properties = new TreeMap<>();
        values.forEach((name, value) -> {
            if (value != null && !value.isEmpty()) {
                properties.put(name, value);
            }
        });
        String email = properties.get("email");
        if (email != null) {
            Long taken = liveByEmail.get(email.toLowerCase(Locale.ROOT));
            if (taken != null) {
                if (source == null) {
                    throw new IllegalArgumentException("Contact already exists. Existing ID: " + taken);
                }
                throw Refused.emailTaken(taken);
            }
        }
        // A create refused for a taken unique value names the id it was to get, as HubSpot's does; that
        // id stays used, so no later contact answers to what a wrong parse of the message would pick.
        long id = nextId++;
        checkUnique(id, properties);
        Instant now = stamp();
        Stored created = new Stored(id, Collections.unmodifiableMap(properties), now, now, null, null,
                history(Map.of(), properties, now, source));
        put(created);
        if (source != null) {
            webhooks.creation(created.id(), now.toEpochMilli(), source, properties);
        }
        return created;
    }

    /** Sets the given values (null or "" clears); only values that really change move the contact and send events. */
    private Stored change(Stored current, Map<String, String> values, String source) {
        Map<String, String> properties = new TreeMap<>(current.properties());
        Map<String, String> changed = new LinkedHashMap<>();
        values.forEach((name, value) -> {
            String now = value == null || value.isEmpty() ? null : value;
            if (!Objects.equals(properties.get(name), now)) {
                if (now == null) {
                    properties.remove(name);
                } else {
                    properties.put(name, now);
                }
                changed.put(name, now);
            }
        });
        if (changed.isEmpty()) {
            return current;
        }
        String email = properties.get("email");
        if (email != null) {
            Long taken = liveByEmail.get(email.toLowerCase(Locale.ROOT));
            if (taken != null && taken != current.id()) {
                throw Refused.emailTaken(taken);
            }
        }
        checkUnique(current.id(), changed);
        Instant now = stamp();
        Stored updated = new Stored(current.id(), Collections.unmodifiableMap(properties), current.createdAt(), now,
                null, null, history(current.history(), changed, now, source));
        put(updated);
        webhooks.propertyChanges(updated.id(), now.toEpochMilli(), source, changed);
        return updated;
    }

    private Stored archive(Stored current, String source) {
        Instant now = stamp();
        Stored archived = new Stored(current.id(), current.properties(), current.createdAt(), now, now, null,
                current.history());
        put(archived);
        webhooks.deletion(archived.id(), now.toEpochMilli(), source);
        return archived;
    }

    private Stored mergeContacts(String primaryId, String mergedId, String source) {
        Stored primary = liveContact(primaryId);
        Stored merged = liveContact(mergedId);
        if (primary.id() == merged.id()) {
            throw Refused.invalid("A contact cannot be merged into itself: " + primaryId);
        }
        Map<String, String> properties = new TreeMap<>(primary.properties());
        Map<String, String> moved = new LinkedHashMap<>();
        merged.properties().forEach((name, value) -> {
            if (!READ_ONLY.contains(name) && !uniqueProperties.contains(name) && !properties.containsKey(name)) {
                properties.put(name, value);
                moved.put(name, value);
            }
        });
        if (primary.email() != null && merged.email() != null) {
            properties.put("hs_additional_emails", join(properties.get("hs_additional_emails"), merged.email()));
        }
        String mergedIds = join(properties.get("hs_merged_object_ids"), Long.toString(merged.id()));
        if (merged.properties().containsKey("hs_merged_object_ids")) {
            mergedIds = join(mergedIds, merged.properties().get("hs_merged_object_ids"));
        }
        properties.put("hs_merged_object_ids", mergedIds);
        Instant now = stamp();
        // The merged contact goes first, so its email is free when the survivor may take it.
        put(new Stored(merged.id(), merged.properties(), merged.createdAt(), now, now, primary.id(), merged.history()));
        Map<String, String> set = new LinkedHashMap<>(moved);
        set.put("hs_merged_object_ids", mergedIds);
        if (properties.containsKey("hs_additional_emails")) {
            set.put("hs_additional_emails", properties.get("hs_additional_emails"));
        }
        Stored survivor = new Stored(primary.id(), Collections.unmodifiableMap(properties), primary.createdAt(), now,
                null, null, history(primary.history(), set, now, source));
        put(survivor);
        webhooks.merge(survivor.id(), List.of(merged.id()), moved, now.toEpochMilli(), source);
        return survivor;
    }

    private static String join(String list, String value) {
        return list == null || list.isEmpty() ? value : list + ";" + value;
    }

    /** Stores the new state of a contact and keeps the live email and unique-value indexes right. */
    private void put(Stored now) {
        Stored before = byId.put(now.id(), now);
        if (before != null) {
            unindex(before);
        }
        if (!now.archived()) {
            if (now.email() != null) {
                liveByEmail.put(now.email().toLowerCase(Locale.ROOT), now.id());
            }
            liveByUnique.forEach((name, holders) -> {
                String value = now.properties().get(name);
                if (value != null) {
                    holders.put(value, now.id());
                }
            });
        }
    }

    /** Takes a state of a contact out of the live indexes; an archived one is in none. */
    private void unindex(Stored s) {
        if (s.archived()) {
            return;
        }
        if (s.email() != null) {
            liveByEmail.remove(s.email().toLowerCase(Locale.ROOT), s.id());
        }
        liveByUnique.forEach((name, holders) -> {
            String value = s.properties().get(name);
            if (value != null) {
                holders.remove(value, s.id());
            }
        });
    }

    /** 400 when {@code values} give contact {@code id} a unique-value property's value another live contact holds. */
    private void checkUnique(long id, Map<String, String> values) {
        for (String name : uniqueProperties) {
            String value = values.get(name);
            Long holder = value == null ? null : liveByUnique.get(name).get(value);
            if (holder != null && holder != id) {
                throw Refused.valueTaken(portalId, name, value, id, holder);
            }
        }
    }

    /** The live contact whose {@code idProperty} is {@code value}: an email ignoring case, a unique value exactly. */
    private Stored byIdProperty(String value, String idProperty) {
        Long id = idProperty.equals("email") ? liveByEmail.get(value.toLowerCase(Locale.ROOT))
                : liveByUnique.get(idProperty).get(value);
        return id == null ? null : byId.get(id);
    }

    /** The live contact with this id (not following merges); 404 otherwise. */
    private Stored liveContact(String id) {
        Long key = parseId(id);
        Stored s = key == null ? null : byId.get(key);
        if (s == null || s.archived()) {
            throw Refused.notFound(id);
        }
        return s;
    }

    /** The contact an id names, following merges to the survivor; null if unknown. */
    private Stored resolve(long id) {
        Stored s = byId.get(id);
        for (int hops = 0; s != null && s.mergedInto() != null && hops < 1000; hops++) {
            s = byId.get(s.mergedInto());
        }
        return s;
    }

    /** The live contact a read names by id (following merges) or by an idProperty's value; null if there is none. */
    private Stored readable(String id, String idProperty) {
        if (idProperty != null) {
            return byIdProperty(id, idProperty);
        }
        Long key = parseId(id);
        Stored s = key == null ? null : resolve(key);
        return s == null || s.archived() ? null : s;
    }

    /** The live contact a write names by id (merged-away ids are archived, so not found) or by an idProperty value. */
    private Stored writable(String id, String idProperty) {
        if (idProperty == null) {
            return liveContact(id);
        }
        Stored s = byIdProperty(id, idProperty);
        if (s == null) {
            throw Refused.notFound(id, idProperty);
        }
        return s;
    }

    private static Long parseId(String id) {
        if (id == null || !DIGITS.matcher(id).matches()) {
            return null;
        }
        return Long.parseLong(id);
    }

    /** The next contact time: the clock in milliseconds, never before the last one. */
    private Instant stamp() {
        latestStamp = candidateStamp();
        return latestStamp;
    }

    private Instant candidateStamp() {
        Instant now = clock.instant().truncatedTo(ChronoUnit.MILLIS);
        return now.isAfter(latestStamp) ? now : latestStamp;
    }

    /** A contact as the API shows it: {@code requested} properties (null: every one with a value). */
    private static Map<String, Object> view(Stored s, List<String> requested) {
        return view(s, requested, List.of());
    }

    /** ... and {@code propertiesWithHistory}: the versions of each of {@code histories}, newest first. */
    private static Map<String, Object> view(Stored s, List<String> requested, List<String> histories) {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("id", Long.toString(s.id()));
        Map<String, String> properties;
        if (requested == null) {
            properties = s.all();
        } else {
            properties = new TreeMap<>();
            for (String name : requested) {
                properties.put(name, s.value(name));
            }
            for (String name : ALWAYS_READ) {
                properties.put(name, s.value(name));
            }
        }
        view.put("properties", Collections.unmodifiableMap(properties));
        view.put("createdAt", TIMESTAMP.format(s.createdAt()));
        view.put("updatedAt", TIMESTAMP.format(s.updatedAt()));
        view.put("archived", s.archived());
        if (s.archived()) {
            view.put("archivedAt", TIMESTAMP.format(s.archivedAt()));
        }
        if (!histories.isEmpty()) {
            Map<String, Object> versions = new TreeMap<>();
            histories.forEach(name -> versions.put(name, s.history().getOrDefault(name, List.of()).stream()
                    .map(Version::view).toList()));
            view.put("propertiesWithHistory", versions);
        }
        return Collections.unmodifiableMap(view);
    }

    // ---------------------------------------------------------------- HTTP

    @Override
    protected String path(HttpExchange exchange) {
        return exchange.getRequestURI().getRawPath();
    }

    @Override
    protected Call route(HttpExchange exchange, String method, String rawPath) {
        List<String> segments = SimHttp.segments(rawPath);
        return new Call(endpoint(method, rawPath, segments), rawPath, fault -> {
            try {
                return fault.isPresent() ? faultReply(fault.get()) : serve(exchange, method, segments);
            } catch (RuntimeException e) {
                return failure(e);
            }
        });
    }

    @Override
    protected Reply failure(RuntimeException e) {
        return error(500, "INTERNAL_ERROR", "Simulator failure: " + e);
    }

    /** The path after {@code /crm/v3/objects/contacts}, or null for any other path. */
    private static List<String> contactPath(List<String> segments) {
        if (segments.size() >= 4 && segments.get(0).equals("crm") && segments.get(1).equals("v3")
                && segments.get(2).equals("objects") && segments.get(3).equals("contacts")) {
            return segments.subList(4, segments.size());
        }
        return null;
    }

    private static String endpoint(String method, String rawPath, List<String> segments) {
        List<String> rest = contactPath(segments);
        if (rest == null) {
            return method + " " + rawPath;
        }
        if (rest.isEmpty()) {
            return method + " " + CONTACTS;
        }
        String first = rest.get(0);
        if (rest.size() == 1) {
            return method + " " + CONTACTS + (first.equals("search") || first.equals("merge") || first.equals("batch")
                    ? "/" + first : "/{id}");
        }
        if (rest.size() == 2 && first.equals("batch") && BATCH_OPS.contains(rest.get(1))) {
            return method + " " + CONTACTS + "/batch/" + rest.get(1);
        }
        return method + " " + rawPath;
    }

    private Reply serve(HttpExchange exchange, String method, List<String> segments) {
        if (segments.isEmpty() || !segments.get(0).equals("crm")) {
            return error(404, "OBJECT_NOT_FOUND", "No endpoint " + method + " /" + String.join("/", segments)
                    + "; the API is under " + CONTACTS);
        }
        String bearer = SimHttp.bearerToken(exchange.getRequestHeaders().getFirst("Authorization"));
        if (bearer == null || !bearer.equals(token)) {
            return error(401, "INVALID_AUTHENTICATION", "Authentication credentials not found or not valid: send "
                    + "Authorization: Bearer <private app access token>");
        }
        List<String> rest = contactPath(segments);
        boolean search = rest != null && rest.size() == 1 && rest.get(0).equals("search");
        Limit limit = acquire(bearer, search);
        if (limit.refusal() != null) {
            return limit.refusal().withAll(limit.headers());
        }
        Reply reply;
        try {
            reply = rest == null ? error(404, "OBJECT_NOT_FOUND", "The HubSpot simulator serves contacts only, under "
                    + CONTACTS) : contacts(exchange, method, rest);
        } catch (Refused e) {
            reply = error(e.status, e.category, e.getMessage(), e.context);
        }
        return reply.withAll(limit.headers());
    }

    private Reply contacts(HttpExchange exchange, String method, List<String> rest) {
        Map<String, List<String>> query;
        try {
            query = SimHttp.query(exchange.getRequestURI().getRawQuery());
        } catch (IllegalArgumentException e) {
            throw Refused.invalid("Malformed query string: " + e.getMessage());
        }
        if (rest.isEmpty()) {
            return switch (method) {
                case "GET" -> list(query);
                case "POST" -> {
                    Map<String, String> values = properties(body(exchange).path("properties"));
                    synchronized (lock) {
                        yield Reply.json(201, view(insert(values, API), null));
                    }
                }
                default -> notAllowed(method, "GET, POST");
            };
        }
        String first = rest.get(0);
        if (rest.size() == 1 && (first.equals("search") || first.equals("merge") || first.equals("batch"))) {
            if (!method.equals("POST")) {
                return notAllowed(method, "POST");
            }
            return switch (first) {
                case "search" -> search(body(exchange));
                case "merge" -> mergeOverApi(body(exchange));
                default -> error(404, "OBJECT_NOT_FOUND", "Name the batch operation: " + CONTACTS
                        + "/batch/read|create|update|upsert|archive");
            };
        }
        if (rest.size() == 2 && first.equals("batch")) {
            if (!BATCH_OPS.contains(rest.get(1))) {
                return error(404, "OBJECT_NOT_FOUND", "No batch operation " + rest.get(1)
                        + "; there are read, create, update, upsert and archive");
            }
            if (!method.equals("POST")) {
                return notAllowed(method, "POST");
            }
            return batch(rest.get(1), body(exchange), query);
        }
        if (rest.size() != 1) {
            return error(404, "OBJECT_NOT_FOUND", "No endpoint " + method + " " + CONTACTS + "/"
                    + String.join("/", rest));
        }
        String id = first;
        String idProperty = idProperty(SimHttp.first(query, "idProperty"));
        return switch (method) {
            case "GET" -> read(id, idProperty, query);
            case "PATCH" -> {
                Map<String, String> values = properties(body(exchange).path("properties"));
                synchronized (lock) {
                    yield Reply.json(200, view(change(writable(id, idProperty), values, API), null));
                }
            }
            case "DELETE" -> {
                synchronized (lock) {
                    Long key = parseId(id);
                    Stored s = key == null ? null : byId.get(key);
                    if (s != null && !s.archived()) {
                        archive(s, API);
                    }
                }
                yield Reply.empty(204);
            }
            default -> notAllowed(method, "GET, PATCH, DELETE");
        };
    }

    private Reply list(Map<String, List<String>> query) {
        int limit = DEFAULT_LIMIT;
        String limitText = SimHttp.first(query, "limit");
        if (limitText != null) {
            Long parsed = parseId(limitText.trim());
            if (parsed == null || parsed < 1 || parsed > MAX_LIMIT) {
                throw Refused.invalid("limit must be a whole number from 1 to " + MAX_LIMIT + ", not '" + limitText
                        + "'");
            }
            limit = parsed.intValue();
        }
        long after = 0;
        String afterText = SimHttp.first(query, "after");
        if (afterText != null && !afterText.isEmpty()) {
            Long parsed = parseId(afterText);
            if (parsed == null) {
                throw Refused.invalid("after must be the paging.next.after of a previous page, not '" + afterText + "'");
            }
            after = parsed;
        }
        boolean archived = archivedParam(query);
        List<String> requested = requestedProperties(query);
        List<Stored> page = new ArrayList<>();
        boolean more = false;
        synchronized (lock) {
            for (Stored s : byId.tailMap(after, true).values()) {
                if (s.archived() != archived) {
                    continue;
                }
                if (page.size() == limit) {
                    more = true;
                    break;
                }
                page.add(s);
            }
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("results", page.stream().map(s -> view(s, requested)).toList());
        if (more) {
            String next = Long.toString(page.get(page.size() - 1).id() + 1);
            StringBuilder link = new StringBuilder(baseUrl()).append(CONTACTS).append("?after=").append(next)
                    .append("&limit=").append(limit);
            if (requested != DEFAULT_PROPERTIES) {
                link.append("&properties=").append(URLEncoder.encode(String.join(",", requested),
                        StandardCharsets.UTF_8));
            }
            if (archived) {
                link.append("&archived=true");
            }
            Map<String, Object> nextPage = new LinkedHashMap<>();
            nextPage.put("after", next);
            nextPage.put("link", link.toString());
            body.put("paging", Map.of("next", nextPage));
        }
        return Reply.json(200, body);
    }

    private Reply read(String id, String idProperty, Map<String, List<String>> query) {
        boolean archived = archivedParam(query);
        List<String> requested = requestedProperties(query);
        synchronized (lock) {
            Stored s;
            if (archived && idProperty == null) {
                Long key = parseId(id);
                s = key == null ? null : byId.get(key);
                s = s != null && s.archived() ? s : null;
            } else {
                s = readable(id, idProperty);
            }
            if (s == null) {
                throw Refused.notFound(id, idProperty);
            }
            return Reply.json(200, view(s, requested));
        }
    }

    private Reply mergeOverApi(JsonNode body) {
        String primary = body.path("primaryObjectId").asText("");
        String merged = body.path("objectIdToMerge").asText("");
        if (primary.isEmpty() || merged.isEmpty()) {
            throw Refused.invalid("Send {\"primaryObjectId\":\"<id>\",\"objectIdToMerge\":\"<id>\"}");
        }
        synchronized (lock) {
            return Reply.json(200, view(mergeContacts(primary, merged, API), null));
        }
    }

    // ---------------------------------------------------------------- batch

    private Reply batch(String op, JsonNode body, Map<String, List<String>> query) {
        JsonNode inputs = body.path("inputs");
        if (!inputs.isArray()) {
            throw Refused.invalid("The body must be {\"inputs\":[...]}");
        }
        if (inputs.size() > MAX_BATCH) {
            throw Refused.invalid("Batch input limit exceeded: at most " + MAX_BATCH + " inputs per request, got "
                    + inputs.size());
        }
        for (JsonNode input : inputs) {
            if (!input.isObject()) {
                throw Refused.invalid("Each input must be a JSON object");
            }
        }
        Instant startedAt = clock.instant();
        List<Map<String, Object>> results = new ArrayList<>();
        List<Map<String, Object>> errors = new ArrayList<>();
        synchronized (lock) {
            switch (op) {
                case "read" -> batchRead(body, inputs, results, errors);
                case "create" -> batchCreate(inputs, results, errors);
                case "update" -> batchUpdate(inputs, results, errors);
                case "upsert" -> batchUpsert(inputs, results, errors);
                default -> {
                    for (JsonNode input : inputs) {
                        Long key = parseId(input.path("id").asText(""));
                        Stored s = key == null ? null : byId.get(key);
                        if (s != null && !s.archived()) {
                            archive(s, API);
                        }
                    }
                    return Reply.empty(204);
                }
            }
        }
        Map<String, Object> reply = new LinkedHashMap<>();
        reply.put("status", "COMPLETE");
        reply.put("results", results);
        if (!errors.isEmpty()) {
            reply.put("numErrors", errors.size());
            reply.put("errors", errors);
        }
        reply.put("startedAt", TIMESTAMP.format(startedAt));
        reply.put("completedAt", TIMESTAMP.format(clock.instant()));
        int status = !errors.isEmpty() ? 207 : op.equals("create") ? 201 : 200;
        return Reply.json(status, reply);
    }

    private void batchRead(JsonNode body, JsonNode inputs, List<Map<String, Object>> results,
                           List<Map<String, Object>> errors) {
        String idProperty = idProperty(body.hasNonNull("idProperty") ? body.get("idProperty").asText() : null);
        List<String> requested = DEFAULT_PROPERTIES;
        if (body.path("properties").isArray() && !body.path("properties").isEmpty()) {
            requested = new ArrayList<>();
            for (JsonNode p : body.get("properties")) {
                requested.add(p.asText());
            }
        }
        List<String> histories = new ArrayList<>();
        body.path("propertiesWithHistory").forEach(p -> histories.add(p.asText()));
        if (!histories.isEmpty() && inputs.size() > MAX_HISTORY_BATCH) {
            throw Refused.invalid("The maximum number of inputs supported in a batch request for property histories is "
                    + MAX_HISTORY_BATCH + ". Please reduce the number of items and try again");
        }
        Set<Long> answered = new HashSet<>();
        for (JsonNode input : inputs) {
            String id = input.path("id").asText("");
            Stored s = readable(id, idProperty);
            if (s == null) {
                errors.add(Refused.notFound(id, idProperty).batchError());
            } else if (answered.add(s.id())) {
                results.add(view(s, requested, histories));
            }
        }
    }

    private void batchCreate(JsonNode inputs, List<Map<String, Object>> results, List<Map<String, Object>> errors) {
        for (JsonNode input : inputs) {
            try {
                results.add(view(insert(properties(input.path("properties")), API), null));
            } catch (Refused e) {
                errors.add(e.batchError());
            }
        }
    }

    private void batchUpdate(JsonNode inputs, List<Map<String, Object>> results, List<Map<String, Object>> errors) {
        Set<String> seen = new HashSet<>();
        for (JsonNode input : inputs) {
            String idProperty = idProperty(input.hasNonNull("idProperty") ? input.get("idProperty").asText() : null);
            String id = input.path("id").asText("");
            if (!seen.add(inputKey(id, idProperty))) {
                throw Refused.invalid("Duplicate IDs found in batch input: " + id + ". Send each contact once");
            }
        }
        for (JsonNode input : inputs) {
            String idProperty = idProperty(input.hasNonNull("idProperty") ? input.get("idProperty").asText() : null);
            try {
                Map<String, String> values = properties(input.path("properties"));
                results.add(view(change(writable(input.path("id").asText(""), idProperty), values, API), null));
            } catch (Refused e) {
                errors.add(e.batchError());
            }
        }
    }

    private void batchUpsert(JsonNode inputs, List<Map<String, Object>> results, List<Map<String, Object>> errors) {
        Set<String> seen = new HashSet<>();
        List<String> idProperties = new ArrayList<>();
        for (JsonNode input : inputs) {
            String idProperty = upsertIdProperty(input);
            String id = input.path("id").asText("");
            if (id.isBlank()) {
                throw Refused.invalid("Each upsert input needs the " + idProperty + " value as its id");
            }
            if (!seen.add(inputKey(id, idProperty))) {
                throw Refused.invalid("Duplicate IDs found in batch input: " + id + ". Send each contact once");
            }
            idProperties.add(idProperty);
        }
        for (int i = 0; i < inputs.size(); i++) {
            JsonNode input = inputs.get(i);
            String idProperty = idProperties.get(i);
            String id = input.path("id").asText();
            try {
                Map<String, String> values = new LinkedHashMap<>(properties(input.path("properties")));
                Stored existing = byIdProperty(id, idProperty);
                Map<String, Object> result = new LinkedHashMap<>();
                if (existing == null) {
                    values.putIfAbsent(idProperty, id);
                    checkEmail(values);
                    result.putAll(view(insert(values, API), null));
                    result.put("new", true);
                } else {
                    result.putAll(view(change(existing, values, API), null));
                    result.put("new", false);
                }
                results.add(result);
            } catch (Refused e) {
                errors.add(e.batchError());
            }
        }
    }

    /** An upsert names contacts by email or a unique-value property only: a record id cannot be created. */
    private String upsertIdProperty(JsonNode input) {
        String named = input.hasNonNull("idProperty") ? input.get("idProperty").asText() : null;
        String idProperty = named == null ? null : idProperty(named);
        if (idProperty == null) {
            throw Refused.invalid("Upsert needs \"idProperty\" on every input: email or a property with unique values"
                    + declaredUnique() + ", not " + (named == null ? "none" : "'" + named + "'"));
        }
        return idProperty;
    }

    /** How a batch tells one input's contact from another's: ids and unique values exactly, emails ignoring case. */
    private static String inputKey(String id, String idProperty) {
        if (idProperty == null) {
            return "hs_object_id:" + id;
        }
        return idProperty + ":" + (idProperty.equals("email") ? id.toLowerCase(Locale.ROOT) : id);
    }

    // ---------------------------------------------------------------- search

    private Reply search(JsonNode body) {
        ContactSearch search;
        try {
            search = ContactSearch.parse(body);
        } catch (ContactSearch.Invalid e) {
            throw Refused.invalid(e.getMessage());
        }
        List<Stored> matches;
        synchronized (lock) {
            matches = byId.values().stream().filter(s -> !s.archived() && search.matches(s))
                    .sorted(search.order()).toList();
        }
        int total = matches.size();
        int from = Math.min(search.after(), total);
        int to = Math.min(Math.min(from + search.limit(), total), ContactSearch.RESULT_CAP);
        List<String> requested = search.properties() == null ? DEFAULT_PROPERTIES : search.properties();
        Map<String, Object> reply = new LinkedHashMap<>();
        reply.put("total", total);
        reply.put("results", matches.subList(from, to).stream().map(s -> view(s, requested)).toList());
        if (to < total) {
            reply.put("paging", Map.of("next", Map.of("after", Integer.toString(to))));
        }
        return Reply.json(200, reply);
    }

    // ---------------------------------------------------------------- request parts

    private static JsonNode body(HttpExchange exchange) {
        try (InputStream in = exchange.getRequestBody()) {
            byte[] bytes = in.readAllBytes();
            JsonNode node = bytes.length == 0 ? null : JSON.readTree(bytes);
            if (node == null || !node.isObject()) {
                throw Refused.invalid("The body must be one JSON object");
            }
            return node;
        } catch (JsonProcessingException e) {
            throw Refused.invalid("Invalid input JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A {@code properties} object as values to set (null clears); refuses read-only names, containers, bad emails. */
    private static Map<String, String> properties(JsonNode node) {
        if (node.isMissingNode() || node.isNull()) {
            return Map.of();
        }
        if (!node.isObject()) {
            throw Refused.invalid("properties must be a JSON object of property names to values");
        }
        Map<String, String> values = new LinkedHashMap<>();
        var fields = node.fields();
        while (fields.hasNext()) {
            Map.Entry<String, JsonNode> field = fields.next();
            String name = field.getKey();
            JsonNode value = field.getValue();
            if (READ_ONLY.contains(name)) {
                throw Refused.invalidProperty(name, "Property values were not valid: " + name
                        + " is a read-only property; its value cannot be set");
            }
            if (value.isContainerNode()) {
                throw Refused.invalidProperty(name, "Property values were not valid: " + name
                        + " must be a string, number or boolean, not " + value.getNodeType());
            }
            values.put(name, value.isNull() ? null : value.asText());
        }
        checkEmail(values);
        return values;
    }

    private static void checkEmail(Map<String, String> values) {
        String email = values.get("email");
        if (email != null && !email.isEmpty() && !EMAIL.matcher(email).matches()) {
            throw Refused.invalidProperty("email", "Property values were not valid: email '" + email
                    + "' is not a valid email address");
        }
    }

    /** The idProperty a request names: null for the record id, else email or a declared unique-value property. */
    private String idProperty(String idProperty) {
        if (idProperty == null || idProperty.isEmpty() || idProperty.equals("hs_object_id")) {
            return null;
        }
        if (!idProperty.equals("email") && !uniqueProperties.contains(idProperty)) {
            throw Refused.invalid("idProperty must be hs_object_id, email or a property with unique values"
                    + declaredUnique() + ", not '" + idProperty + "'");
        }
        return idProperty;
    }

    private String declaredUnique() {
        return uniqueProperties.isEmpty() ? " (none declared)" : " (" + String.join(", ", uniqueProperties) + ")";
    }

    private static boolean archivedParam(Map<String, List<String>> query) {
        String archived = SimHttp.first(query, "archived");
        if (archived == null || archived.equals("false")) {
            return false;
        }
        if (archived.equals("true")) {
            return true;
        }
        throw Refused.invalid("archived must be true or false, not '" + archived + "'");
    }

    /** {@code properties=a,b} and/or repeated; the default set when absent. */
    private static List<String> requestedProperties(Map<String, List<String>> query) {
        List<String> values = query.get("properties");
        if (values == null) {
            return DEFAULT_PROPERTIES;
        }
        Set<String> names = new LinkedHashSet<>();
        for (String value : values) {
            for (String name : value.split(",")) {
                if (!name.isBlank()) {
                    names.add(name.trim());
                }
            }
        }
        return names.isEmpty() ? DEFAULT_PROPERTIES : List.copyOf(names);
    }

    // ---------------------------------------------------------------- errors

    private static Reply error(int status, String category, String message) {
        return error(status, category, message, null);
    }

    private static Reply error(int status, String category, String message, Map<String, List<String>> context) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", "error");
        body.put("message", message);
        body.put("correlationId", UUID.randomUUID().toString());
        body.put("category", category);
        if (context != null) {
            body.put("context", context);
        }
        return Reply.json(status, body);
    }

    private static Reply rateLimited(String policy, String message) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", "error");
        body.put("message", message);
        body.put("errorType", "RATE_LIMIT");
        body.put("correlationId", UUID.randomUUID().toString());
        body.put("policyName", policy);
        body.put("category", "RATE_LIMITS");
        return Reply.json(429, body);
    }

    private static Reply notAllowed(String method, String allow) {
        return error(405, "VALIDATION_ERROR", method + " is not supported here; use " + allow).with("Allow", allow);
    }

    private static Reply faultReply(Faults.Action fault) {
        int status = fault.status();
        if (status == 429) {
            return rateLimited("TEN_SECONDLY_ROLLING", "Simulated 429 from the fault switches")
                    .with("Retry-After", Integer.toString(fault.retryAfterSeconds()));
        }
        String category = switch (status) {
            case 400 -> "VALIDATION_ERROR";
            case 401 -> "INVALID_AUTHENTICATION";
            case 403 -> "MISSING_SCOPES";
            case 404 -> "OBJECT_NOT_FOUND";
            case 409 -> "CONFLICT";
            default -> status >= 500 ? "INTERNAL_ERROR" : "SIMULATED_FAULT";
        };
        return error(status, category, "Simulated " + status + " from the fault switches");
    }

    // ---------------------------------------------------------------- rate limits

    /** The rate-limit headers for a reply and, when a limit is spent, the 429 to answer instead. */
    private record Limit(Map<String, String> headers, Reply refusal) {
    }

    private Limit acquire(String bearer, boolean search) {
        synchronized (usageLock) {
            Instant now = clock.instant();
            rollDay(now);
            if (!rateLimits) {
                return new Limit(headers(window.max(), dailyLimit), null);
            }
            String policy = null;
            String message = null;
            if (dailyUsed >= dailyLimit) {
                policy = "DAILY";
                message = "You have reached your daily limit of " + dailyLimit + " requests";
            } else if (!window.hasRoom(bearer, now)) {
                policy = "TEN_SECONDLY_ROLLING";
                message = "You have reached your ten-secondly limit of " + window.max() + " requests per "
                        + window.interval().toMillis() + " ms";
            } else if (search && searchPerSecond > 0 && !searchWindow.hasRoom(bearer, now)) {
                policy = "SECONDLY";
                message = "You have reached the search limit of " + searchPerSecond + " requests per second";
            }
            if (policy == null) {
                window.tryAcquire(bearer, now);
                if (search && searchPerSecond > 0) {
                    searchWindow.tryAcquire(bearer, now);
                }
                dailyUsed++;
            }
            Map<String, String> headers = headers(window.remaining(bearer, now), dailyLimit - dailyUsed);
            return new Limit(headers, policy == null ? null : rateLimited(policy, message));
        }
    }

    /** Call holding usageLock. */
    private Map<String, String> headers(long remaining, long dailyRemaining) {
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("X-HubSpot-RateLimit-Max", Integer.toString(window.max()));
        headers.put("X-HubSpot-RateLimit-Remaining", Long.toString(remaining));
        headers.put("X-HubSpot-RateLimit-Interval-Milliseconds", Long.toString(window.interval().toMillis()));
        headers.put("X-HubSpot-RateLimit-Daily", Long.toString(dailyLimit));
        headers.put("X-HubSpot-RateLimit-Daily-Remaining", Long.toString(Math.max(0, dailyRemaining)));
        return headers;
    }

    /** Call holding usageLock. */
    private void rollDay(Instant now) {
        LocalDate today = LocalDate.ofInstant(now, ZoneOffset.UTC);
        if (!today.equals(usageDay)) {
            usageDay = today;
            dailyUsed = 0;
        }
    }

    private Map<String, Object> rateLimitView() {
        synchronized (usageLock) {
            rollDay(clock.instant());
            Map<String, Object> view = new LinkedHashMap<>();
            view.put("enabled", rateLimits);
            view.put("max", window.max());
            view.put("intervalMs", window.interval().toMillis());
            view.put("daily", dailyLimit);
            view.put("dailyUsed", dailyUsed);
            view.put("searchPerSecond", searchPerSecond);
            return view;
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
                case "POST /__sim/merge": {
                    JsonNode body = controlBody(exchange);
                    String primary = body.path("primaryId").asText("");
                    String merged = body.path("mergedId").asText("");
                    if (primary.isEmpty() || merged.isEmpty()) {
                        throw new SimControl.BadControl("Send {\"primaryId\":\"<id>\",\"mergedId\":\"<id>\"}", null);
                    }
                    try {
                        return Reply.json(200, merge(primary, merged));
                    } catch (NoSuchElementException e) {
                        return controlError(404, "not_found", e.getMessage(), null);
                    }
                }
                default:
                    return controlError(404, "not_found", "No control endpoint " + method + " " + path
                            + "; there are /__sim/stats, /__sim/requests, /__sim/faults, /__sim/ratelimit,"
                            + " /__sim/webhooks and /__sim/merge", null);
            }
        } catch (IllegalArgumentException e) {
            return controlError(400, "invalid", e.getMessage(),
                    e instanceof SimControl.BadControl b ? b.field() : null);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static JsonNode controlBody(HttpExchange exchange) throws IOException {
        try (InputStream in = exchange.getRequestBody()) {
            JsonNode body = JSON.readTree(in.readAllBytes());
            if (body == null || !body.isObject()) {
                throw new SimControl.BadControl("The body must be one JSON object", null);
            }
            return body;
        } catch (JsonProcessingException e) {
            throw new SimControl.BadControl("The body must be one JSON object: " + e.getOriginalMessage(), null);
        }
    }

    private static Reply controlError(int status, String error, String message, String field) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", error);
        body.put("message", message);
        if (field != null) {
            body.put("field", field);
        }
        return Reply.json(status, body);
    }

    /** Checks every field first and applies them only if all are valid. */
    private void applyRateLimit(JsonNode body) {
        List<Runnable> changes = new ArrayList<>();
        if (body.has("max") || body.has("intervalMs")) {
            int max = wholeNumber(body, "max", window.max());
            long interval = wholeNumber(body, "intervalMs", window.interval().toMillis());
            try {
                RollingWindow.check(max, Duration.ofMillis(interval));
            } catch (IllegalArgumentException e) {
                throw new SimControl.BadControl(e.getMessage(), body.has("max") ? "max" : "intervalMs");
            }
            changes.add(() -> rateLimit(max, Duration.ofMillis(interval)));
        }
        if (body.has("daily")) {
            long daily = wholeNumber(body, "daily", 0);
            if (daily < 1) {
                throw new SimControl.BadControl("daily must be 1 or more", "daily");
            }
            changes.add(() -> dailyLimit(daily));
        }
        if (body.has("searchPerSecond")) {
            int perSecond = wholeNumber(body, "searchPerSecond", 0);
            if (perSecond < 0) {
                throw new SimControl.BadControl("searchPerSecond must be 0 (off) or more", "searchPerSecond");
            }
            changes.add(() -> searchRateLimit(perSecond));
        }
        if (body.has("enabled")) {
            if (!body.get("enabled").isBoolean()) {
                throw new SimControl.BadControl("enabled must be true or false", "enabled");
            }
            boolean on = body.get("enabled").booleanValue();
            changes.add(() -> rateLimits(on));
        }
        if (body.path("resetUsage").asBoolean(false)) {
            changes.add(this::resetRateLimits);
        }
        changes.forEach(Runnable::run);
    }

    private void applyWebhooks(JsonNode body) {
        List<Runnable> changes = new ArrayList<>();
        if (body.has("target")) {
            String target = body.get("target").isNull() ? null : body.get("target").asText();
            if (target != null) {
                try {
                    HubSpotWebhooks.uri(target);
                } catch (IllegalArgumentException e) {
                    throw new SimControl.BadControl(e.getMessage(), "target");
                }
            }
            changes.add(() -> webhooks.target(target));
        }
        if (body.has("clientSecret")) {
            String secret = body.get("clientSecret").isNull() ? null : body.get("clientSecret").asText();
            changes.add(() -> webhooks.clientSecret(secret));
        }
        if (body.has("paused")) {
            boolean paused = body.get("paused").asBoolean();
            changes.add(() -> {
                if (paused) {
                    webhooks.pause();
                } else {
                    webhooks.resume();
                }
            });
        }
        if (body.path("keepAll").asBoolean(false)) {
            changes.add(webhooks::keepAll);
        }
        if (body.has("loseNext")) {
            int count = wholeNumber(body, "loseNext", 0);
            if (count < 0) {
                throw new SimControl.BadControl("loseNext must be 0 or more", "loseNext");
            }
            changes.add(() -> webhooks.loseNext(count));
        }
        if (body.has("loseShare")) {
            double share = body.get("loseShare").asDouble(-1);
            if (!(share >= 0 && share <= 1)) {
                throw new SimControl.BadControl("loseShare must be from 0 to 1", "loseShare");
            }
            changes.add(() -> webhooks.loseShare(share));
        }
        if (body.path("flush").asBoolean(false)) {
            changes.add(webhooks::flush);
        }
        changes.forEach(Runnable::run);
    }

    private static int wholeNumber(JsonNode body, String field, long fallback) {
        JsonNode value = body.get(field);
        if (value == null) {
            return (int) fallback;
        }
        if (!value.canConvertToInt()) {
            throw new SimControl.BadControl(field + " must be a whole number", field);
        }
        return value.intValue();
    }

    // ---------------------------------------------------------------- main

    private static Clock systemClock() {
        return Clock.tick(Clock.systemUTC(), Duration.ofMillis(1));
    }

    /** What a command line asks for: the simulator to build and how many demo contacts to seed. */
    record Command(Builder builder, int seed) {
    }

    /**
     * {@code --port=<n>} (0: any free port), {@code --token=<t>}, {@code --seed=<n>},
     * {@code --webhook-url=<url>}, {@code --client-secret=<s>}, {@code --no-rate-limit},
     * {@code --unique-property=<name>[,<name>...]} (repeatable).
     *
     * @throws IllegalArgumentException naming the argument that is unknown or wrong
     */
    static Command command(String... args) {
        Builder builder = builder();
        int seed = 0;
        for (String arg : args) {
            boolean known = true;
            try {
                if (arg.startsWith("--port=")) {
                    builder.port(Integer.parseInt(arg.substring(7)));
                } else if (arg.startsWith("--token=")) {
                    builder.token(arg.substring(8));
                } else if (arg.startsWith("--seed=")) {
                    seed = Integer.parseInt(arg.substring(7));
                } else if (arg.startsWith("--webhook-url=")) {
                    builder.webhookTarget(arg.substring(14));
                } else if (arg.startsWith("--client-secret=")) {
                    builder.clientSecret(arg.substring(16));
                } else if (arg.equals("--no-rate-limit")) {
                    builder.rateLimits(false);
                } else if (arg.startsWith("--unique-property=")) {
                    for (String name : arg.substring(18).split(",", -1)) {
                        builder.uniqueProperty(name.trim());
                    }
                } else {
                    known = false;
                }
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(e.getMessage() + " in " + arg, e);
            }
            if (!known) {
                throw new IllegalArgumentException("unknown argument " + arg);
            }
        }
        return new Command(builder, seed);
    }

    /** Runs the simulator until Ctrl-C, with the arguments {@link #command(String...)} reads. */
    public static void main(String[] args) throws InterruptedException {
        Command command;
        try {
            command = command(args);
        } catch (IllegalArgumentException e) {
            usage(e.getMessage());
            return;
        }
        int seed = command.seed();
        HubSpotSimulator hs;
        try {
            hs = command.builder().build().start();
        } catch (IllegalArgumentException e) {
            usage(e.getMessage());
            return;
        }
        hs.seedDemo(seed);
        CountDownLatch stopped = new CountDownLatch(1);
        HubSpotSimulator running = hs;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            running.stop();
            stopped.countDown();
        }, "hubspot-sim-shutdown"));
        System.out.println(hs.baseUrl());
        System.out.println("HubSpot simulator: token " + hs.token() + ", " + seed + " contacts at " + hs.baseUrl()
                + CONTACTS + "; webhooks to " + (hs.webhooks().target() == null ? "nowhere (--webhook-url=)"
                : hs.webhooks().target()) + (hs.uniqueProperties().isEmpty() ? "" : "; unique-value properties "
                + String.join(", ", hs.uniqueProperties())) + "; counters at " + hs.baseUrl()
                + "/__sim/stats. Ctrl-C stops it.");
        stopped.await();
    }

    private static void usage(String problem) {
        System.err.println(problem);
        System.err.println("usage: HubSpotSimulator [--port=<n>] [--token=<token>] [--seed=<n>]"
                + " [--webhook-url=<url>] [--client-secret=<secret>] [--no-rate-limit]"
                + " [--unique-property=<name>[,<name>...]]...");
        System.exit(2);
    }
}
