package dev.crmsync.sim.salesforce;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import dev.crmsync.sim.CallStats;
import dev.crmsync.sim.Faults;
import dev.crmsync.sim.GenericCrmSimulator;
import dev.crmsync.sim.ManualClock;
import dev.crmsync.sim.SimControl;
import dev.crmsync.sim.SimHttp;
import dev.crmsync.sim.SimulatorServer;
import dev.crmsync.sim.salesforce.SObjectType.Field;
import dev.crmsync.sim.salesforce.SObjectType.Kind;

/**
 * A Salesforce org on a loopback port, speaking the REST API as {@code camel-salesforce} 4.18 uses it
 * (see {@code CRM-API-NOTES.md}, section Salesforce): OAuth login, SOQL query with paging, sObject
 * rows, upsert by external id, sObject Collections, the replication resources, Salesforce's error
 * bodies and daily API limit, plus the fault switches and call counters every simulator has.
 * Stateful and in memory; thread-safe.
 *
 * <h2>Login</h2>
 * {@code POST /services/oauth2/token}, form-encoded (parameters in the query string are read too),
 * always {@code client_id}; per {@code grant_type}:
 * <ul>
 *   <li>{@code password}: {@code client_secret}, {@code username}, {@code password}; the reply carries
 *   a {@code refresh_token} as well;</li>
 *   <li>{@code client_credentials}: {@code client_secret};</li>
 *   <li>{@code refresh_token}: {@code refresh_token} (one from a password login, or the one given to
 *   {@link Builder#refreshToken(String)}); {@code client_secret} checked when sent.</li>
 * </ul>
 * 200 {@code {"access_token","refresh_token"?,"signature","scope","instance_url","id","token_type":"Bearer","issued_at"}}
 * with {@code instance_url} the simulator's own base URL, {@code id}
 * {@code <base>/id/00D000000000001AAA/005000000000001AAA} (camel reads the org id as the 18 characters
 * after {@code id/}), {@code issued_at} epoch milliseconds and {@code signature}
 * Base64(HMAC-SHA256(client secret, id + issued_at)) as Salesforce computes it. Errors are 400
 * {@code {"error","error_description"}}: {@code invalid_client_id} (unknown client id),
 * {@code invalid_client} (wrong secret), {@code invalid_grant} "authentication failure" (wrong user
 * or password) or "expired access/refresh token", {@code unsupported_grant_type} (anything else,
 * JWT bearer included). Logging in again goes to the same host (camel re-logs in on
 * {@code instance_url}). {@code GET|POST /services/oauth2/revoke?token=} answers 200 and forgets the
 * token (a refresh token takes its access tokens with it), 400 {@code invalid_token} if unknown.
 *
 * <h2>Data</h2>
 * Under {@code /services/data/v<NN.N>/} for any version ({@code GET /services/data} lists a few, no
 * token needed). Every data call needs {@code Authorization: Bearer <access token>} (or
 * {@code OAuth <token>}), else 401 {@code [{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]};
 * {@link #expireTokens()} invalidates every token given out so far, which is how a test makes camel
 * log in again and replay the call. Every reply carries {@code Sforce-Limit-Info: api-usage=USED/LIMIT};
 * each authorised data call uses one request of the daily limit ({@link #dailyLimit(long)}, default
 * 100,000; the count starts again when the simulator's clock reaches a new UTC day or on
 * {@link #resetDailyUsage()}); past it data calls answer 403
 * {@code [{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]}.
 *
 * <h3>Records</h3>
 * {@code Contact} (ids {@code 003...}) and {@code Lead} ({@code 00Q...}), ids of 18 characters
 * ({@link SalesforceIds}; 15-character ids are accepted everywhere). Fields: {@code Id},
 * {@code IsDeleted}, {@code FirstName}, {@code LastName}, {@code Email}, {@code Phone},
 * {@code MobilePhone}, {@code Title}, {@code AccountId} (Contact; an {@code 001...} id, not checked
 * further) or {@code Company} (Lead), {@code CreatedDate}, {@code LastModifiedDate},
 * {@code SystemModstamp}, and any custom field whose name ends in {@code __c} (created on the object on
 * its first write, any scalar value; SOQL names it only after that, else {@code INVALID_FIELD}, unless
 * it was declared with {@link Builder#externalIdField(String)}). Names match in any case and are
 * answered in their first spelling. Times are
 * written {@code 2026-05-20T20:49:32.000+0000} and, as in Salesforce, have whole seconds, so records
 * written in the same second share a {@code SystemModstamp} ({@link #millisecondStamps(boolean)} keeps
 * milliseconds instead, for clients that must cope with them); they come from the simulator's clock
 * ({@link #freezeClock()} to stop it) and never go back. An empty string stores null, as in
 * Salesforce. A delete keeps the record in the recycle bin with {@code IsDeleted=true} and new
 * {@code LastModifiedDate} and {@code SystemModstamp}: {@code queryAll} and the deleted resource see
 * it, {@code query} and the sObject resources do not.
 *
 * <p>Checks on every write: {@code LastName} required (and {@code Company} on Lead): 400
 * {@code REQUIRED_FIELD_MISSING} with {@code fields}; text longer than the field (LastName 80,
 * FirstName 40, Email 80, Phone 40, Title 128, Company 255): {@code STRING_TOO_LONG}; a malformed
 * {@code Email}: {@code INVALID_EMAIL_ADDRESS}; an unknown field: {@code INVALID_FIELD}; a
 * server-owned field: {@code INVALID_FIELD_FOR_INSERT_UPDATE}; a body that is not a JSON object of
 * scalars: {@code JSON_PARSER_ERROR}. With {@link #duplicateRule(boolean)} on, a create or update
 * leaving two live records of one object with the same {@code Email} (ignoring case) fails with
 * {@code DUPLICATES_DETECTED} (its {@code duplicateResult} names the existing record), unless the
 * request sends {@code Sforce-Duplicate-Rule-Header: allowSave=true}. A field declared with
 * {@link Builder#externalIdField(String)} is a unique external id, as in Setup with "External ID" and
 * "Unique" ticked: a create, update or upsert that would give a second live record of the object an
 * equal value (ignoring case) fails with {@code DUPLICATE_VALUE} "duplicate value found: F__c duplicates
 * value on record with id: 003..." (fields [F__c]), whatever the duplicate rule header says. A seed
 * skips this check too.
 *
 * <h3>Field history</h3>
 * As with Field History Tracking on every person field: each create, update or upsert (over REST, in
 * sObject Collections, or through {@link #seed}/{@link #update}) adds to the record's history
 * ({@code ContactHistory}, {@code LeadHistory}, ids {@code 017...}) one row per field whose value it
 * changed ({@code Field} the field's canonical name, e.g. {@code Email} or {@code CrmSync_Id__c},
 * {@code OldValue}, {@code NewValue}), and a create the one row {@code Field = "created"} with null
 * values; {@code CreatedDate} is the stamp the write gives the record's {@code SystemModstamp}. A field
 * written with its current value adds no row, a delete none. The newest {@link #HISTORY_ROWS_KEPT}
 * rows of a record are kept; they go with the record (a rolled-back collection takes its rows back,
 * {@link #reset()} drops them). SOQL reads them with a sub-query on the child relationship
 * {@code Histories}, e.g. {@code SELECT Id, (SELECT Field, CreatedDate FROM Histories ORDER BY
 * CreatedDate DESC LIMIT 200) FROM Contact}, through {@code query} and {@code queryAll} (a deleted
 * record keeps its history); {@link #history(String, String)} answers them in Java.
 *
 * <h3>Resources</h3>
 * <pre>
 * GET    query?q=SOQL, queryAll?q=SOQL   {"totalSize","done","nextRecordsUrl"?,"records":[{"attributes":{"type","url"},...}]}
 *                                        SOQL as in {@link Soql}; pages of 2000 or Sforce-Query-Options: batchSize=N
 *                                        (taken within 200..2000); nextRecordsUrl /services/data/vNN.N/query/LOCATOR-OFFSET
 *                                        A (SELECT ... FROM Histories ...) sub-query puts under its name, as the
 *                                        query spelled it, null or {"totalSize","done":true,"records":[{"attributes":
 *                                        {"type":"ContactHistory","url"},"Field","CreatedDate",...}]}; another
 *                                        relationship: 400 INVALID_TYPE, another field of it: 400 INVALID_FIELD
 * GET    query/LOCATOR-OFFSET            the next page (queryAll/... too); unknown: 400 INVALID_QUERY_LOCATOR
 * POST   sobjects/T                      201 {"id","success":true,"errors":[]}
 * GET    sobjects/T/ID[?fields=a,b]      the record; 404 NOT_FOUND unknown, 404 ENTITY_IS_DELETED deleted
 * PATCH  sobjects/T/ID                   204
 * DELETE sobjects/T/ID                   204
 * PATCH  sobjects/T/Ext__c/VALUE         upsert: 201 {"id","success":true,"errors":[],"created":true}, 204 updated,
 *                                        300 ["/services/data/vNN.N/sobjects/T/ID",...] when several match
 *                                        (values compared ignoring case; any __c field serves as external id,
 *                                        and Id; any other field: 404 NOT_FOUND; a declared field's value
 *                                        taken by another record: 400 DUPLICATE_VALUE)
 * GET|DELETE sobjects/T/Ext__c/VALUE     read or delete the one record with that value (300 / 404 as above)
 * GET    sobjects/T/updated/?start=&end=   {"ids":[...],"latestDateCovered"}: live records whose SystemModstamp
 * GET    sobjects/T/deleted/?start=&end=   {"deletedRecords":[{"id","deletedDate"}],"earliestDateAvailable","latestDateCovered"}
 *                                        is in [start, end), both cut to the minute, end no later than now;
 *                                        start more than 30 days ago or not before end: 400 INVALID_REPLICATION_DATE
 * POST   composite/sobjects              {"allOrNone":bool,"records":[{"attributes":{"type":"Contact"},...}]} creates
 * PATCH  composite/sobjects              same, each record with its Id, updates
 * DELETE composite/sobjects?ids=a,b&amp;allOrNone=false
 * PATCH  composite/sobjects/T/Ext__c     upserts; results also carry "created"
 *                                        At most 200 records or ids (more: 400 EXCEEDED_ID_LIMIT). 200 with one
 *                                        {"id","success":true,"errors":[]} per record in request order; a record
 *                                        that fails gets {"success":false,"errors":[{"statusCode","message","fields"}]}
 *                                        while the others are saved, or with allOrNone=true nothing is saved and the
 *                                        others fail with ALL_OR_NONE_OPERATION_ROLLED_BACK.
 * POST   composite/sobjects/T            {"ids":[...],"fields":[...]}: the records, null for unknown or deleted ids
 * GET    limits                          {"DailyApiRequests":{"Max","Remaining"}}
 * </pre>
 * Errors are Salesforce's {@code [{"message","errorCode","fields"?}]}; other paths 404
 * {@code NOT_FOUND}, other methods 405 {@code METHOD_NOT_ALLOWED}.
 *
 * <h2>Faults and counters</h2>
 * As every simulator ({@link Faults}, {@link CallStats}, {@link SimControl}). Each request is counted
 * as it arrives under an endpoint key with the {@code /services} or {@code /services/data/vNN.N}
 * prefix cut: {@code "POST /oauth2/token"}, {@code "GET /oauth2/revoke"}, {@code "GET /query"},
 * {@code "GET /queryAll"}, {@code "GET /query/{locator}"}, {@code "POST /sobjects/{type}"},
 * {@code "GET|PATCH|DELETE /sobjects/{type}/{id}"}, {@code "GET|PATCH|DELETE /sobjects/{type}/{field}/{value}"},
 * {@code "GET /sobjects/{type}/updated"}, {@code "GET /sobjects/{type}/deleted"},
 * {@code "POST|PATCH|DELETE /composite/sobjects"}, {@code "POST /composite/sobjects/{type}"},
 * {@code "PATCH /composite/sobjects/{type}/{field}"}, {@code "GET /limits"}, {@code "GET /versions"}.
 * Fault path prefixes are matched against the same cut path ({@code "/query"}, {@code "/sobjects/Contact"},
 * {@code "/oauth2/token"}). A faulted request changes nothing and uses none of the daily limit; its
 * body is a Salesforce error ({@code INVALID_SESSION_ID} for 401, so a 401 fault makes camel log in
 * again; {@code REQUEST_LIMIT_EXCEEDED} with {@code Retry-After} for 429; {@code UNKNOWN_EXCEPTION}
 * for 500; {@code SERVER_UNAVAILABLE} for 502..504; {@code SIMULATED_FAULT} otherwise), an OAuth error
 * on {@code /oauth2}. Control over HTTP, no token needed: {@code /__sim/stats}, {@code /__sim/requests},
 * {@code /__sim/faults} as in {@link SimControl}, and {@code GET /__sim/org} /
 * {@code POST /__sim/org {"dailyLimit":n,"resetDailyUsage":true,"expireTokens":true,"duplicateRule":true}}.
 *
 * <h2>Running it</h2>
 * In a test: {@code try (var sf = SalesforceSimulator.builder().build().start()) {...}}, with
 * {@code .externalIdField("CrmSync_Id__c")} for an org that has that unique external id field;
 * standalone, with the test class path:
 * {@code java dev.crmsync.sim.salesforce.SalesforceSimulator --port=8093 --seed=20 --external-id-field=CrmSync_Id__c}
 * prints the base URL (the {@code loginUrl} for camel) on its first line, then the credentials.
 */
public final class SalesforceSimulator extends SimulatorServer {

    public static final String CONTACT = "Contact";
    public static final String LEAD = "Lead";
    public static final String ORG_ID = "00D000000000001AAA";
    public static final String USER_ID = "005000000000001AAA";
    /** The largest page of a query and the default one. */
    public static final int MAX_BATCH_SIZE = 2000;
    public static final int MIN_BATCH_SIZE = 200;
    /** The most records or ids one sObject Collections call takes. */
    public static final int MAX_COLLECTION_SIZE = 200;
    public static final long DEFAULT_DAILY_LIMIT = 100_000;
    /** How far back the updated and deleted resources reach. */
    public static final Duration REPLICATION_WINDOW = Duration.ofDays(30);
    /** Query cursors kept open; older ones are closed, as Salesforce closes a user's oldest. */
    public static final int OPEN_CURSORS = 100;
    /** Field history rows kept per record, newest; older ones are dropped (memory: benchmarks hold 100,000+ records). */
    public static final int HISTORY_ROWS_KEPT = 50;

    /** The one form Salesforce writes datetimes in. */
    public static final DateTimeFormatter TIMESTAMP =
            DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSZ", Locale.ROOT).withZone(ZoneOffset.UTC);

    private static final ObjectMapper JSON =
            new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final String CONTENT_TYPE = "application/json;charset=UTF-8";
    private static final Pattern EMAIL = Pattern.compile("[^@\\s]+@[^@\\s]+\\.[^@\\s]+");
    private static final Pattern VERSION = Pattern.compile("v\\d{1,3}\\.\\d");
    private static final SecureRandom RANDOM = new SecureRandom();

    private final String clientId;
    private final String clientSecret;
    private final String username;
    private final String password;

    // Org data, guarded by lock.
    private final Object lock = new Object();
    private final Map<SObjectType, TreeMap<String, Stored>> data = new EnumMap<>(SObjectType.class);
    private final Map<SObjectType, Map<String, String>> customFields = new EnumMap<>(SObjectType.class);
    /** The custom fields declared with {@link Builder#externalIdField(String)}: unique external ids. */
    private final List<String> externalIdFields;
    /** For each object and declared field: lower-cased value to the ids of the live records holding it. */
    private final Map<SObjectType, Map<String, Map<String, Set<String>>>> uniqueIndex = new EnumMap<>(SObjectType.class);
    private long nextHistoryNumber = 1;
    private final Map<SObjectType, Long> nextNumber = new EnumMap<>(SObjectType.class);
    private final LinkedHashMap<String, Cursor> cursors = new LinkedHashMap<>();
    private long nextCursor = 1;
    private Instant latestStamp = Instant.EPOCH;

    // Sessions.
    private final Map<String, Session> accessTokens = new ConcurrentHashMap<>();
    private final Set<String> refreshTokens = ConcurrentHashMap.newKeySet();
    private final AtomicLong logins = new AtomicLong();

    // Daily API usage, guarded by usageLock.
    private final Object usageLock = new Object();
    private long dailyLimit;
    private long apiUsage;
    private LocalDate usageDay;

    private volatile Clock clock;
    private volatile boolean duplicateRule;
    private volatile boolean millisecondStamps;

    private record Session(String token, String grant, String refreshToken) {
    }

    private record Cursor(List<Map<String, Object>> rows, int batchSize) {
    }

    /**
     * A stored record; a new one replaces it on every write. {@code history} holds its newest field
     * history rows, oldest first, so a rollback or a purge of the record takes them along.
     */
    private record Stored(SObjectType type, String id, Map<String, Object> fields, Instant created,
                          Instant modified, Instant modstamp, boolean deleted, List<HistoryRow> history)
            implements Soql.Row {

        @Override
        public Object get(String field) {
            return switch (field) {
                case SObjectType.ID -> id;
                case SObjectType.IS_DELETED -> deleted;
                case SObjectType.CREATED_DATE -> created;
                case SObjectType.LAST_MODIFIED_DATE -> modified;
                case SObjectType.SYSTEM_MODSTAMP -> modstamp;
                default -> fields.get(field);
            };
        }
    }

    /**
     * One field history row ({@code ContactHistory}, {@code LeadHistory}): {@code field} the changed
     * field's canonical name, or {@code created} with null values for the row a create writes.
     * {@code number} makes the row's {@code 017...} id.
     */
    private record HistoryRow(long number, String parentId, String field, Object oldValue, Object newValue,
                              Instant created) implements Soql.Row {

        String id() {
            return SalesforceIds.of(SObjectType.HISTORY_KEY_PREFIX, number);
        }

        @Override
        public Object get(String name) {
            return switch (name) {
                case SObjectType.ID -> id();
                case SObjectType.HISTORY_FIELD -> field;
                case SObjectType.HISTORY_OLD_VALUE -> oldValue;
                case SObjectType.HISTORY_NEW_VALUE -> newValue;
                case SObjectType.CREATED_DATE -> created;
                default -> parentId;
            };
        }
    }

    /** One error as Salesforce reports it, in a REST error array or in a collection's record result. */
    record SfError(String code, String message, List<String> fields, Map<String, Object> extra) {

        SfError(String code, String message) {
            this(code, message, List.of(), Map.of());
        }

        SfError(String code, String message, List<String> fields) {
            this(code, message, fields, Map.of());
        }

        Map<String, Object> rest() {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("message", message);
            body.put("errorCode", code);
            if (!fields.isEmpty()) {
                body.put("fields", fields);
            }
            body.putAll(extra);
            return body;
        }

        Map<String, Object> collection() {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("statusCode", code);
            body.put("message", message);
            body.put("fields", fields);
            body.putAll(extra);
            return body;
        }

        @Override
        public String toString() {
            return code + ": " + message + (fields.isEmpty() ? "" : " " + fields);
        }
    }

    /** A write or read Salesforce refuses: the HTTP status and its errors. */
    static final class Refused extends RuntimeException {
        final int status;
        final List<SfError> errors;

        Refused(int status, List<SfError> errors) {
            super(errors.toString());
            this.status = status;
            this.errors = List.copyOf(errors);
        }

        Refused(int status, String code, String message) {
            this(status, List.of(new SfError(code, message)));
        }
    }

    private SalesforceSimulator(Builder b) {
        super("salesforce-sim", CONTENT_TYPE, b.port, b.threads);
        this.clientId = b.clientId;
        this.clientSecret = b.clientSecret;
        this.username = b.username;
        this.password = b.password;
        this.clock = b.clock;
        this.dailyLimit = b.dailyLimit;
        this.duplicateRule = b.duplicateRule;
        this.millisecondStamps = b.millisecondStamps;
        if (b.refreshToken != null) {
            refreshTokens.add(b.refreshToken);
        }
        this.externalIdFields = List.copyOf(b.externalIdFields.values());
        for (SObjectType type : SObjectType.values()) {
            data.put(type, new TreeMap<>());
            customFields.put(type, new LinkedHashMap<>());
            uniqueIndex.put(type, new LinkedHashMap<>());
            nextNumber.put(type, 1L);
        }
        declareFields();
    }

    /** The declared fields exist on both objects from the start, as if created in Setup. */
    private void declareFields() {
        for (SObjectType type : SObjectType.values()) {
            for (String name : externalIdFields) {
                customFields.get(type).put(name.toLowerCase(Locale.ROOT), name);
                uniqueIndex.get(type).put(name, new HashMap<>());
            }
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder {
        private int port;
        private int threads = 8;
        private String clientId = "sim-client-id";
        private String clientSecret = "sim-client-secret";
        private String username = "integration@crmsync.example";
        private String password = "sim-password";
        private String refreshToken;
        private Clock clock = systemClock();
        private long dailyLimit = DEFAULT_DAILY_LIMIT;
        private boolean duplicateRule;
        private boolean millisecondStamps;
        private final Map<String, String> externalIdFields = new LinkedHashMap<>();

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

        public Builder clientId(String clientId) {
            this.clientId = required(clientId, "clientId");
            return this;
        }

        public Builder clientSecret(String clientSecret) {
            this.clientSecret = required(clientSecret, "clientSecret");
            return this;
        }

        public Builder username(String username) {
            this.username = required(username, "username");
            return this;
        }

        public Builder password(String password) {
            this.password = required(password, "password");
            return this;
        }

        /** A refresh token the org accepts from the start, for a client configured with one. */
        public Builder refreshToken(String refreshToken) {
            this.refreshToken = required(refreshToken, "refreshToken");
            return this;
        }

        /** Where record times come from; by default the system clock (whole seconds are kept). */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        public Builder dailyLimit(long dailyLimit) {
            this.dailyLimit = positiveLimit(dailyLimit);
            return this;
        }

        public Builder duplicateRule(boolean on) {
            this.duplicateRule = on;
            return this;
        }

        /** Record times with milliseconds, as an org behind a proxy or another Salesforce-like API may show. */
        public Builder millisecondStamps(boolean on) {
            this.millisecondStamps = on;
            return this;
        }

        /**
         * Declares a custom field ({@code Name__c}) on Contact and Lead from the start, marked as
         * Salesforce's "External ID" and "Unique" (case-insensitive): SOQL may name it before any record
         * holds it, and a save that would give a second live record of the same object an equal value
         * fails with {@code DUPLICATE_VALUE}. Call once per field.
         */
        public Builder externalIdField(String name) {
            if (name == null || !SObjectType.isCustomName(name)) {
                throw new IllegalArgumentException("A declared field is a custom field, a name such as"
                        + " CrmSync_Id__c (letters, digits, _ and the suffix __c), not " + name);
            }
            externalIdFields.putIfAbsent(name.toLowerCase(Locale.ROOT), name);
            return this;
        }

        public SalesforceSimulator build() {
            return new SalesforceSimulator(this);
        }

        private static String required(String value, String name) {
            if (value == null || value.isBlank()) {
                throw new IllegalArgumentException(name + " must not be blank");
            }
            return value;
        }
    }

    // ---------------------------------------------------------------- lifecycle

    /** Starts serving on the loopback interface; answers this simulator. */
    @Override
    public synchronized SalesforceSimulator start() {
        super.start();
        return this;
    }

    public String clientId() {
        return clientId;
    }

    public String clientSecret() {
        return clientSecret;
    }

    public String username() {
        return username;
    }

    public String password() {
        return password;
    }

    // ---------------------------------------------------------------- switches

    /** Invalidates every access token given out so far; the next data call with one answers 401. */
    public void expireTokens() {
        accessTokens.clear();
    }

    /** Successful token grants so far (first logins, re-logins and refreshes). */
    public long logins() {
        return logins.get();
    }

    public int activeTokens() {
        return accessTokens.size();
    }

    public SalesforceSimulator dailyLimit(long limit) {
        synchronized (usageLock) {
            dailyLimit = positiveLimit(limit);
        }
        return this;
    }

    public long dailyLimit() {
        synchronized (usageLock) {
            return dailyLimit;
        }
    }

    /** Data calls counted against the daily limit today. */
    public long apiUsage() {
        synchronized (usageLock) {
            rollDay();
            return apiUsage;
        }
    }

    public SalesforceSimulator resetDailyUsage() {
        synchronized (usageLock) {
            apiUsage = 0;
        }
        return this;
    }

    public SalesforceSimulator duplicateRule(boolean on) {
        this.duplicateRule = on;
        return this;
    }

    public boolean duplicateRule() {
        return duplicateRule;
    }

    /**
     * With it on, record times keep the clock's milliseconds ({@code 2026-05-20T20:49:32.517+0000}) instead
     * of whole seconds; the system clock then ticks every millisecond. Off by default, as in Salesforce.
     */
    public SalesforceSimulator millisecondStamps(boolean on) {
        this.millisecondStamps = on;
        return this;
    }

    public boolean millisecondStamps() {
        return millisecondStamps;
    }

    public Clock clock() {
        return clock;
    }

    /** Reads record times from this clock from now on (they still never go back). */
    public SalesforceSimulator clock(Clock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
        return this;
    }

    /**
     * Stops the clock at the latest stamp or now, whichever is later, so every write until the clock is
     * moved gets the same {@code SystemModstamp}. Move it with the returned clock.
     */
    public ManualClock freezeClock() {
        synchronized (lock) {
            return freezeClock(candidateStamp());
        }
    }

    /** Stops the clock at {@code at} (cut to the second, or the millisecond with {@link #millisecondStamps(boolean)}). */
    public ManualClock freezeClock(Instant at) {
        ManualClock frozen = new ManualClock(at.truncatedTo(millisecondStamps ? ChronoUnit.MILLIS : ChronoUnit.SECONDS));
        clock(frozen);
        return frozen;
    }

    public SalesforceSimulator useSystemClock() {
        return clock(systemClock());
    }

    // ---------------------------------------------------------------- data, as an admin or a user would

    /**
     * Inserts a record as a data import would: server-assigned {@code Id} and times, field names and
     * value types checked, but no rule (required fields, lengths, email format, duplicates), so a test
     * can plant a record the API would refuse. Answers the stored record.
     *
     * @throws IllegalArgumentException for an unknown object or field, or a value that is not a scalar
     */
    public Map<String, Object> seed(String type, Map<String, ?> fields) {
        SObjectType t = type(type);
        JsonNode body = JSON.valueToTree(fields);
        synchronized (lock) {
            try {
                return view(create(t, body, false, true, null));
            } catch (Refused e) {
                throw new IllegalArgumentException(e.getMessage(), e);
            }
        }
    }

    /** Seeds {@code contacts} demo contacts and half as many demo leads; answers the contacts. */
    public List<Map<String, Object>> seedDemo(int contacts) {
        List<Map<String, Object>> seeded = new ArrayList<>();
        for (int i = 0; i < contacts; i++) {
            Map<String, Object> person = new LinkedHashMap<>(GenericCrmSimulator.demoContact(i));
            person.remove("Company");
            person.remove("Source");
            seeded.add(seed(CONTACT, person));
        }
        for (int i = 0; i < contacts / 2; i++) {
            // Demo people after the contacts' ones, so no lead shares a contact's email.
            Map<String, Object> person = new LinkedHashMap<>(GenericCrmSimulator.demoContact(contacts + i));
            person.remove("Source");
            seed(LEAD, person);
        }
        return seeded;
    }

    /** Every record of the object, deleted ones included, in Id order. */
    public List<Map<String, Object>> records(String type) {
        SObjectType t = type(type);
        synchronized (lock) {
            return data.get(t).values().stream().map(this::view).toList();
        }
    }

    /** The records not deleted, in Id order. */
    public List<Map<String, Object>> live(String type) {
        SObjectType t = type(type);
        synchronized (lock) {
            return data.get(t).values().stream().filter(s -> !s.deleted()).map(this::view).toList();
        }
    }

    /** The record with this id (15 or 18 characters), deleted or not. */
    public Optional<Map<String, Object>> find(String type, String id) {
        SObjectType t = type(type);
        String key = SalesforceIds.normalize(id);
        synchronized (lock) {
            return Optional.ofNullable(key == null ? null : data.get(t).get(key)).map(this::view);
        }
    }

    /**
     * The field history of the record with this id, deleted or not, oldest first (at most
     * {@link #HISTORY_ROWS_KEPT} rows): {@code Id}, {@code ContactId} or {@code LeadId}, {@code Field},
     * {@code OldValue}, {@code NewValue}, {@code CreatedDate} (formatted), as a {@code Histories}
     * sub-query answers them. Empty for an unknown id.
     */
    public List<Map<String, Object>> history(String type, String id) {
        SObjectType t = type(type);
        String key = SalesforceIds.normalize(id);
        synchronized (lock) {
            Stored s = key == null ? null : data.get(t).get(key);
            if (s == null) {
                return List.of();
            }
            List<Map<String, Object>> rows = new ArrayList<>();
            for (HistoryRow row : s.history()) {
                Map<String, Object> view = new LinkedHashMap<>();
                view.put(SObjectType.ID, row.id());
                view.put(t.apiName() + "Id", row.parentId());
                view.put(SObjectType.HISTORY_FIELD, row.field());
                view.put(SObjectType.HISTORY_OLD_VALUE, row.oldValue());
                view.put(SObjectType.HISTORY_NEW_VALUE, row.newValue());
                view.put(SObjectType.CREATED_DATE, rendered(row.created()));
                rows.add(Collections.unmodifiableMap(view));
            }
            return List.copyOf(rows);
        }
    }

    /** The custom fields declared with {@link Builder#externalIdField(String)}, in their spelling. */
    public List<String> externalIdFields() {
        return externalIdFields;
    }

    /**
     * Edits a record as a user in Salesforce's screens would: the rules apply, times move.
     *
     * @throws NoSuchElementException for an unknown id
     * @throws IllegalStateException for a deleted record
     * @throws IllegalArgumentException for a rule broken or an unknown field, naming the error code
     */
    public Map<String, Object> update(String type, String id, Map<String, ?> fields) {
        SObjectType t = type(type);
        JsonNode body = JSON.valueToTree(fields);
        synchronized (lock) {
            try {
                return view(update(t, id, body, true, false, null));
            } catch (Refused e) {
                throw javaException(e);
            }
        }
    }

    /**
     * Deletes a record as a user would: it goes to the recycle bin. Answers it.
     *
     * @throws NoSuchElementException for an unknown id
     * @throws IllegalStateException for a record already deleted
     */
    public Map<String, Object> delete(String type, String id) {
        SObjectType t = type(type);
        synchronized (lock) {
            try {
                return view(remove(t, id, null));
            } catch (Refused e) {
                throw javaException(e);
            }
        }
    }

    /**
     * Forgets every record (with its history), cursor and session, and the custom fields written so far
     * (not the declared ones); restarts ids and usage; clears faults and counters.
     */
    public void reset() {
        synchronized (lock) {
            for (SObjectType type : SObjectType.values()) {
                data.get(type).clear();
                customFields.get(type).clear();
                uniqueIndex.get(type).clear();
                nextNumber.put(type, 1L);
            }
            declareFields();
            nextHistoryNumber = 1;
            cursors.clear();
        }
        accessTokens.clear();
        resetDailyUsage();
        faults().clear();
        stats().reset();
    }

    private static SObjectType type(String name) {
        return SObjectType.named(Objects.requireNonNull(name, "type")).orElseThrow(
                () -> new IllegalArgumentException("The simulator holds Contact and Lead, not " + name));
    }

    private static RuntimeException javaException(Refused e) {
        String code = e.errors.get(0).code();
        if (code.equals("NOT_FOUND")) {
            return new NoSuchElementException(e.getMessage());
        }
        if (code.equals("ENTITY_IS_DELETED")) {
            return new IllegalStateException(e.getMessage());
        }
        return new IllegalArgumentException(e.getMessage(), e);
    }

    // ---------------------------------------------------------------- the org: writes (hold the lock)

    /** What a collection call changed, to put back if allOrNone fails. */
    private record Change(SObjectType type, String id, Stored before) {
    }

    private Stored create(SObjectType type, JsonNode body, boolean rules, boolean allowDuplicate,
                          List<Change> undo) {
        List<SfError> valueErrors = new ArrayList<>();
        Map<String, Object> values = writable(type, body, null, valueErrors);
        Map<String, Object> fields = new LinkedHashMap<>();
        values.forEach((name, value) -> {
            if (value != null) {
                fields.put(name, value);
            }
        });
        if (rules) {
            check(type, null, fields, valueErrors, allowDuplicate);
        }
        long number = nextNumber.get(type);
        nextNumber.put(type, number + 1);
        Instant now = stamp();
        String id = SalesforceIds.of(type.keyPrefix(), number);
        Stored created = new Stored(type, id, Collections.unmodifiableMap(fields), now, now, now, false,
                List.of(historyRow(id, SObjectType.HISTORY_CREATED, null, null, now)));
        put(created, undo);
        return created;
    }

    private Stored update(SObjectType type, String id, JsonNode body, boolean rules, boolean allowDuplicate,
                          List<Change> undo) {
        Stored current = existing(type, id);
        List<SfError> valueErrors = new ArrayList<>();
        Map<String, Object> values = writable(type, body, current.id(), valueErrors);
        Map<String, Object> fields = new LinkedHashMap<>(current.fields());
        values.forEach((name, value) -> {
            if (value == null) {
                fields.remove(name);
            } else {
                fields.put(name, value);
            }
        });
        if (rules) {
            check(type, current.id(), fields, valueErrors, allowDuplicate);
        }
        Instant now = stamp();
        List<HistoryRow> changes = new ArrayList<>();
        for (String name : values.keySet()) {
            Object before = current.fields().get(name);
            Object after = fields.get(name);
            if (!sameValue(before, after)) {
                changes.add(historyRow(current.id(), name, before, after, now));
            }
        }
        Stored updated = new Stored(type, current.id(), Collections.unmodifiableMap(fields), current.created(),
                now, now, false, withHistory(current.history(), changes));
        put(updated, undo);
        return updated;
    }

    private HistoryRow historyRow(String parentId, String field, Object oldValue, Object newValue, Instant at) {
        return new HistoryRow(nextHistoryNumber++, parentId, field, oldValue, newValue, at);
    }

    /** The rows kept after these changes: the newest {@link #HISTORY_ROWS_KEPT}, oldest first. */
    private static List<HistoryRow> withHistory(List<HistoryRow> kept, List<HistoryRow> changes) {
        if (changes.isEmpty()) {
            return kept;
        }
        List<HistoryRow> all = new ArrayList<>(kept.size() + changes.size());
        all.addAll(kept);
        all.addAll(changes);
        return List.copyOf(all.subList(Math.max(0, all.size() - HISTORY_ROWS_KEPT), all.size()));
    }

    /** Whether a write leaves a field's value as it was: numbers by value (7 and 7.0), the rest exactly. */
    private static boolean sameValue(Object before, Object after) {
        if (before instanceof Number a && after instanceof Number b) {
            return new BigDecimal(a.toString()).compareTo(new BigDecimal(b.toString())) == 0;
        }
        return Objects.equals(before, after);
    }

    private Stored remove(SObjectType type, String id, List<Change> undo) {
        Stored current = existing(type, id);
        Instant now = stamp();
        Stored tombstone = new Stored(type, current.id(), current.fields(), current.created(), now, now, true,
                current.history());
        put(tombstone, undo);
        return tombstone;
    }

    private void put(Stored record, List<Change> undo) {
        Stored before = replace(record.type(), record.id(), record);
        if (undo != null) {
            undo.add(new Change(record.type(), record.id(), before));
        }
    }

    private void rollback(List<Change> undo) {
        for (int i = undo.size() - 1; i >= 0; i--) {
            Change change = undo.get(i);
            replace(change.type(), change.id(), change.before());
        }
        undo.clear();
    }

    /** Stores {@code after} under the id (null removes the record) and keeps the unique index in step. */
    private Stored replace(SObjectType type, String id, Stored after) {
        Stored before = after == null ? data.get(type).remove(id) : data.get(type).put(id, after);
        Map<String, Map<String, Set<String>>> index = uniqueIndex.get(type);
        for (String field : externalIdFields) {
            Map<String, Set<String>> byValue = index.get(field);
            String old = uniqueKey(before, field);
            String now = uniqueKey(after, field);
            if (Objects.equals(old, now)) {
                continue;
            }
            if (old != null) {
                Set<String> ids = byValue.get(old);
                ids.remove(id);
                if (ids.isEmpty()) {
                    byValue.remove(old);
                }
            }
            if (now != null) {
                byValue.computeIfAbsent(now, k -> new TreeSet<>()).add(id);
            }
        }
        return before;
    }

    /** A live record's value of a declared field as the unique index keys it (ignoring case); null if none. */
    private static String uniqueKey(Stored record, String field) {
        if (record == null || record.deleted()) {
            return null;
        }
        Object value = record.fields().get(field);
        return value == null ? null : value.toString().toLowerCase(Locale.ROOT);
    }

    /** The live record with this id; 404 NOT_FOUND if there is none, 404 ENTITY_IS_DELETED if deleted. */
    private Stored existing(SObjectType type, String id) {
        Stored current = lookup(type, id);
        if (current.deleted()) {
            throw new Refused(404, "ENTITY_IS_DELETED", "entity is deleted");
        }
        return current;
    }

    private Stored lookup(SObjectType type, String id) {
        String key = SalesforceIds.normalize(id);
        Stored current = key == null ? null : data.get(type).get(key);
        if (current == null) {
            throw new Refused(404, "NOT_FOUND", "The requested resource does not exist");
        }
        return current;
    }

    /**
     * The fields a write body sets, by canonical name, values converted; field-level problems (too
     * long, bad email, bad id) are added to {@code valueErrors}, structural ones thrown at once.
     * {@code ownId} is the record's id on an update (a body may repeat it), null on a create.
     */
    private Map<String, Object> writable(SObjectType type, JsonNode body, String ownId, List<SfError> valueErrors) {
        if (body == null || !body.isObject()) {
            throw new Refused(400, "JSON_PARSER_ERROR", "The request body must be one JSON object of the record's"
                    + " fields");
        }
        Map<String, Object> values = new LinkedHashMap<>();
        var it = body.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> entry = it.next();
            String name = entry.getKey();
            JsonNode node = entry.getValue();
            if (name.equals("attributes")) {
                continue;
            }
            Field field = type.standard(name).orElse(null);
            if (field == null && SObjectType.isCustomName(name)) {
                field = Field.custom(customFields.get(type).computeIfAbsent(name.toLowerCase(Locale.ROOT), k -> name));
            }
            if (field == null) {
                throw new Refused(400, List.of(new SfError("INVALID_FIELD", "No such column '" + name
                        + "' on sobject of type " + type.apiName(), List.of(name))));
            }
            if (!field.writable()) {
                if (field.name().equals(SObjectType.ID) && ownId != null && node.isTextual()
                        && ownId.equals(SalesforceIds.normalize(node.textValue()))) {
                    continue;
                }
                throw new Refused(400, List.of(new SfError("INVALID_FIELD_FOR_INSERT_UPDATE",
                        "Unable to create/update fields: " + field.name() + ". Please check the security settings"
                                + " of this field and verify that it is read/write for your profile or permission set.",
                        List.of(field.name()))));
            }
            if (node.isContainerNode()) {
                throw new Refused(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of "
                        + (field.kind() == Kind.ANY ? "a value" : "string") + " from "
                        + (node.isArray() ? "START_ARRAY" : "START_OBJECT") + " value for field " + field.name());
            }
            values.put(field.name(), value(field, node, valueErrors));
        }
        return values;
    }

    private static Object value(Field field, JsonNode node, List<SfError> valueErrors) {
        if (node.isNull()) {
            return null;
        }
        if (field.kind() == Kind.ANY) {
            if (node.isTextual()) {
                return node.textValue().isEmpty() ? null : node.textValue();
            }
            return node.isBoolean() ? node.booleanValue() : node.numberValue();
        }
        String text = node.isTextual() ? node.textValue() : node.asText();
        if (text.isEmpty()) {
            return null;
        }
        if (field.referencePrefix() != null) {
            String id = SalesforceIds.normalize(text);
            if (id == null || !id.startsWith(field.referencePrefix())) {
                valueErrors.add(new SfError("MALFORMED_ID", field.label() + ": id value of incorrect type: " + text,
                        List.of(field.name())));
                return text;
            }
            return id;
        }
        if (field.maxLength() > 0 && text.length() > field.maxLength()) {
            valueErrors.add(new SfError("STRING_TOO_LONG", field.label() + ": data value too large: " + text
                    + " (max length=" + field.maxLength() + ")", List.of(field.name())));
        }
        if (field.email() && !EMAIL.matcher(text).matches()) {
            valueErrors.add(new SfError("INVALID_EMAIL_ADDRESS", field.label() + ": invalid email address: " + text,
                    List.of(field.name())));
        }
        return text;
    }

    /** The rules a save must pass; throws 400 with every error found. */
    private void check(SObjectType type, String id, Map<String, Object> fields, List<SfError> valueErrors,
                       boolean allowDuplicate) {
        List<SfError> errors = new ArrayList<>(valueErrors);
        List<String> missing = new ArrayList<>();
        for (String required : type.required()) {
            Object value = fields.get(required);
            if (value == null || value.toString().isBlank()) {
                missing.add(required);
            }
        }
        if (!missing.isEmpty()) {
            errors.add(new SfError("REQUIRED_FIELD_MISSING", "Required fields are missing: " + missing, missing));
        }
        for (String field : externalIdFields) {
            String key = fields.get(field) == null ? null : fields.get(field).toString().toLowerCase(Locale.ROOT);
            Set<String> holders = key == null ? Set.of() : uniqueIndex.get(type).get(field).getOrDefault(key, Set.of());
            holders.stream().filter(other -> !other.equals(id)).findFirst().ifPresent(other -> errors.add(
                    new SfError("DUPLICATE_VALUE", "duplicate value found: " + field
                            + " duplicates value on record with id: " + other, List.of(field))));
        }
        if (errors.isEmpty() && duplicateRule && !allowDuplicate && fields.get("Email") instanceof String email) {
            for (Stored other : data.get(type).values()) {
                if (!other.deleted() && !other.id().equals(id)
                        && other.fields().get("Email") instanceof String e && e.equalsIgnoreCase(email)) {
                    errors.add(duplicate(type, other));
                    break;
                }
            }
        }
        if (!errors.isEmpty()) {
            throw new Refused(400, errors);
        }
    }

    private static SfError duplicate(SObjectType type, Stored existing) {
        Map<String, Object> record = new LinkedHashMap<>();
        record.put("attributes", Map.of("type", type.apiName()));
        record.put("Id", existing.id());
        Map<String, Object> match = new LinkedHashMap<>();
        match.put("entityType", type.apiName());
        match.put("errors", List.of());
        match.put("matchEngine", "ExactMatchEngine");
        match.put("matchRecords", List.of(Map.of("additionalInformation", List.of(), "fieldDiffs", List.of(),
                "matchConfidence", 100.0, "record", record)));
        match.put("rule", "Standard_" + type.apiName() + "_Match_Rule_v1_1");
        match.put("size", 1);
        match.put("success", true);
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("allowSave", false);
        result.put("duplicateRule", "Standard_Rule_for_" + type.apiName() + "s_with_Duplicate_" + type.apiName() + "s");
        result.put("duplicateRuleEntityType", type.apiName());
        result.put("errorMessage", "You're creating a duplicate record. We recommend you use an existing record"
                + " instead.");
        result.put("matchResults", List.of(match));
        return new SfError("DUPLICATES_DETECTED", "Use one of these records?", List.of(),
                Map.of("duplicateResult", result));
    }

    /** The next {@code SystemModstamp}: the clock in whole seconds (or milliseconds), never before the last one. */
    private Instant stamp() {
        latestStamp = candidateStamp();
        return latestStamp;
    }

    private Instant candidateStamp() {
        Instant now = clock.instant().truncatedTo(millisecondStamps ? ChronoUnit.MILLIS : ChronoUnit.SECONDS);
        return now.isAfter(latestStamp) ? now : latestStamp;
    }

    /**
     * A field SOQL may name: standard, or a custom field declared or written on this object before;
     * null for any other, which the query answers with {@code INVALID_FIELD} as Salesforce does for a
     * field the org does not have.
     */
    private Field knownField(SObjectType type, String name) {
        Optional<Field> standard = type.standard(name);
        if (standard.isPresent()) {
            return standard.get();
        }
        String custom = customFields.get(type).get(name.toLowerCase(Locale.ROOT));
        return custom == null ? null : Field.custom(custom);
    }

    /** A field of an object by name in any case: standard, or custom ({@code __c}, known or not yet). */
    private Field field(SObjectType type, String name) {
        Optional<Field> standard = type.standard(name);
        if (standard.isPresent()) {
            return standard.get();
        }
        if (SObjectType.isCustomName(name)) {
            return Field.custom(customFields.get(type).getOrDefault(name.toLowerCase(Locale.ROOT), name));
        }
        return null;
    }

    /** The whole record, as the Java API answers it: every field of the object, times formatted. */
    private Map<String, Object> view(Stored s) {
        Map<String, Object> view = new LinkedHashMap<>();
        for (Field field : allFields(s.type())) {
            view.put(field.name(), rendered(s.get(field.name())));
        }
        return Collections.unmodifiableMap(view);
    }

    /** Standard fields, custom fields known so far, then the times. */
    private List<Field> allFields(SObjectType type) {
        List<Field> all = new ArrayList<>();
        for (Field field : type.fields().values()) {
            if (field.name().equals(SObjectType.CREATED_DATE)) {
                customFields.get(type).values().forEach(name -> all.add(Field.custom(name)));
            }
            all.add(field);
        }
        return all;
    }

    private static Object rendered(Object value) {
        return value instanceof Instant instant ? TIMESTAMP.format(instant) : value;
    }

    /** A record as the REST API answers it: attributes, then the given fields. */
    private static Map<String, Object> rest(Stored s, List<Field> fields, String version) {
        Map<String, Object> record = new LinkedHashMap<>();
        Map<String, Object> attributes = new LinkedHashMap<>();
        attributes.put("type", s.type().apiName());
        attributes.put("url", "/services/data/v" + version + "/sobjects/" + s.type().apiName() + "/" + s.id());
        record.put("attributes", attributes);
        for (Field field : fields) {
            record.put(field.name(), rendered(s.get(field.name())));
        }
        return record;
    }

    /** A query's row: the selected fields, with each child sub-query's rows at its place in the list. */
    private static Map<String, Object> rest(Stored s, Soql.Query query, String version) {
        Map<String, Object> plain = rest(s, query.fields(), version);
        if (query.children().isEmpty()) {
            return plain;
        }
        Map<String, Object> record = new LinkedHashMap<>();
        int position = 0;
        for (Map.Entry<String, Object> entry : plain.entrySet()) {
            if (!entry.getKey().equals("attributes")) {
                addChildren(record, s, query, position++, version);
            }
            record.put(entry.getKey(), entry.getValue());
        }
        addChildren(record, s, query, position, version);
        return record;
    }

    private static void addChildren(Map<String, Object> record, Stored s, Soql.Query query, int position,
                                    String version) {
        for (Soql.SubQuery child : query.children()) {
            if (child.position() == position) {
                record.put(child.name(), histories(s, child, version));
            }
        }
    }

    /**
     * A record's {@code Histories} as a sub-query answers them: null when no row matches (as Salesforce
     * answers an empty child relationship), else {@code {"totalSize","done":true,"records":[...]}}.
     */
    private static Map<String, Object> histories(Stored s, Soql.SubQuery child, String version) {
        List<HistoryRow> rows = new ArrayList<>();
        for (HistoryRow row : s.history()) {
            if (child.matches(row)) {
                rows.add(row);
            }
        }
        if (child.descending()) {
            // Rows are kept oldest first; reversed first, rows with equal keys come newest first.
            Collections.reverse(rows);
        }
        rows.sort(child.comparator()::compare);
        if (child.limit() != null && rows.size() > child.limit()) {
            rows = rows.subList(0, child.limit());
        }
        if (rows.isEmpty()) {
            return null;
        }
        List<Map<String, Object>> records = new ArrayList<>();
        for (HistoryRow row : rows) {
            Map<String, Object> record = new LinkedHashMap<>();
            Map<String, Object> attributes = new LinkedHashMap<>();
            attributes.put("type", s.type().historyName());
            attributes.put("url", "/services/data/v" + version + "/sobjects/" + s.type().historyName() + "/"
                    + row.id());
            record.put("attributes", attributes);
            for (Field field : child.fields()) {
                record.put(field.name(), rendered(row.get(field.name())));
            }
            records.add(record);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("totalSize", records.size());
        body.put("done", true);
        body.put("records", records);
        return body;
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

        static Reply errors(int status, List<SfError> errors) {
            return json(status, errors.stream().map(SfError::rest).toList());
        }

        static Reply error(int status, String code, String message) {
            return errors(status, List.of(new SfError(code, message)));
        }

        static Reply oauth(int status, String error, String description) {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("error", error);
            body.put("error_description", description);
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
    }

    private enum Area {
        OAUTH, VERSIONS, DATA, OTHER
    }

    /**
     * A request's place: {@code path} with {@code /services/data/vNN.N} or {@code /services} cut (what
     * fault prefixes match), the endpoint key it is counted under, and the decoded segments after the
     * version.
     */
    private record Route(Area area, String path, String endpoint, String version, List<String> segments) {
    }

    private static Route route(String method, String rawPath) {
        List<String> segs = new ArrayList<>();
        for (String part : rawPath.split("/")) {
            if (!part.isEmpty()) {
                segs.add(decodePath(part));
            }
        }
        if (segs.size() >= 2 && segs.get(0).equals("services") && segs.get(1).equals("oauth2")) {
            String path = "/" + String.join("/", segs.subList(1, segs.size()));
            return new Route(Area.OAUTH, path, method + " " + path, null, segs.subList(2, segs.size()));
        }
        if (segs.size() == 2 && segs.get(0).equals("services") && segs.get(1).equals("data")) {
            return new Route(Area.VERSIONS, "/versions", method + " /versions", null, List.of());
        }
        if (segs.size() >= 3 && segs.get(0).equals("services") && segs.get(1).equals("data")
                && VERSION.matcher(segs.get(2)).matches()) {
            List<String> rest = List.copyOf(segs.subList(3, segs.size()));
            String path = "/" + String.join("/", rest);
            return new Route(Area.DATA, path, method + " " + pattern(rest), segs.get(2).substring(1), rest);
        }
        String path = "/" + String.join("/", segs);
        return new Route(Area.OTHER, path, method + " " + path, null, segs);
    }

    /** The endpoint pattern of a data path, for the counters. */
    private static String pattern(List<String> s) {
        int n = s.size();
        if (n == 0) {
            return "/";
        }
        String first = s.get(0);
        if ((first.equals("query") || first.equals("queryAll")) && n <= 2) {
            return n == 1 ? "/" + first : "/" + first + "/{locator}";
        }
        if (first.equals("sobjects")) {
            if (n == 2) {
                return "/sobjects/{type}";
            }
            if (n == 3) {
                String third = s.get(2);
                return third.equals("updated") || third.equals("deleted") || third.equals("describe")
                        ? "/sobjects/{type}/" + third : "/sobjects/{type}/{id}";
            }
            if (n == 4) {
                return "/sobjects/{type}/{field}/{value}";
            }
        }
        if (first.equals("composite") && n >= 2 && s.get(1).equals("sobjects") && n <= 4) {
            return switch (n) {
                case 2 -> "/composite/sobjects";
                case 3 -> "/composite/sobjects/{type}";
                default -> "/composite/sobjects/{type}/{field}";
            };
        }
        return "/" + String.join("/", s);
    }

    @Override
    protected String path(HttpExchange exchange) {
        return exchange.getRequestURI().getRawPath();
    }

    @Override
    protected Call route(HttpExchange exchange, String method, String rawPath) {
        Route route = route(method, rawPath);
        return new Call(route.endpoint(), route.path(), fault -> {
            Reply reply;
            try {
                reply = fault.isPresent() ? faultReply(fault.get(), route) : serve(exchange, method, route);
            } catch (RuntimeException e) {
                reply = failure(e);
            }
            return reply.with("Sforce-Limit-Info", limitInfo());
        });
    }

    @Override
    protected Reply failure(RuntimeException e) {
        return Reply.error(500, "UNKNOWN_EXCEPTION", "Simulator failure: " + e);
    }

    private static Reply faultReply(Faults.Action fault, Route route) {
        int status = fault.status();
        String message = "Simulated " + status + " from the fault switches";
        Reply reply;
        if (route.area() == Area.OAUTH) {
            reply = Reply.oauth(status, status >= 500 ? "unknown_error" : "invalid_request", message);
        } else {
            String code = switch (status) {
                case 401 -> "INVALID_SESSION_ID";
                case 429 -> "REQUEST_LIMIT_EXCEEDED";
                case 500 -> "UNKNOWN_EXCEPTION";
                case 502, 503, 504 -> "SERVER_UNAVAILABLE";
                default -> "SIMULATED_FAULT";
            };
            reply = Reply.error(status, code, status == 401 ? "Session expired or invalid" : message);
        }
        if (status == 429) {
            reply = reply.with("Retry-After", Integer.toString(fault.retryAfterSeconds()));
        }
        return reply;
    }

    private Reply serve(HttpExchange exchange, String method, Route route) {
        switch (route.area()) {
            case OAUTH:
                try {
                    return oauth(exchange, method, route);
                } catch (Refused e) {
                    return Reply.oauth(400, "invalid_request", e.errors.get(0).message());
                }
            case VERSIONS:
                if (!method.equals("GET")) {
                    return notAllowed(method, "GET");
                }
                List<Map<String, String>> versions = new ArrayList<>();
                for (int v = 56; v <= 62; v++) {
                    versions.add(Map.of("label", "Simulated", "url", "/services/data/v" + v + ".0", "version",
                            v + ".0"));
                }
                return Reply.json(200, versions);
            case DATA:
                if (!authorised(exchange)) {
                    return Reply.error(401, "INVALID_SESSION_ID", "Session expired or invalid")
                            .with("WWW-Authenticate", "Token");
                }
                if (!useOneRequest()) {
                    return Reply.error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.");
                }
                try {
                    return data(exchange, method, route);
                } catch (Refused e) {
                    return Reply.errors(e.status, e.errors);
                } catch (Soql.SoqlException e) {
                    return Reply.error(400, e.errorCode(), e.getMessage());
                }
            default:
                return notFound();
        }
    }

    private static Reply notFound() {
        return Reply.error(404, "NOT_FOUND", "The requested resource does not exist");
    }

    private static Reply notAllowed(String method, String allowed) {
        return Reply.error(405, "METHOD_NOT_ALLOWED", "HTTP Method '" + method + "' not allowed. Allowed are "
                + allowed).with("Allow", allowed);
    }

    // ---------------------------------------------------------------- OAuth

    private Reply oauth(HttpExchange exchange, String method, Route route) {
        String what = route.segments().size() == 1 ? route.segments().get(0) : "";
        if (what.equals("token")) {
            return method.equals("POST") ? token(form(exchange)) : notAllowed(method, "POST");
        }
        if (what.equals("revoke")) {
            if (!method.equals("GET") && !method.equals("POST")) {
                return notAllowed(method, "GET,POST");
            }
            return revoke(form(exchange).get("token"));
        }
        return Reply.oauth(404, "not_found", "The simulator serves /services/oauth2/token and /services/oauth2/revoke");
    }

    private Reply token(Map<String, String> form) {
        String grant = form.get("grant_type");
        if (!clientId.equals(form.get("client_id"))) {
            return Reply.oauth(400, "invalid_client_id", "client identifier invalid");
        }
        String refresh = null;
        switch (grant == null ? "" : grant) {
            case "password" -> {
                if (!clientSecret.equals(form.get("client_secret"))) {
                    return Reply.oauth(400, "invalid_client", "invalid client credentials");
                }
                if (!username.equals(form.get("username")) || !password.equals(form.get("password"))) {
                    return Reply.oauth(400, "invalid_grant", "authentication failure");
                }
                refresh = randomToken();
                refreshTokens.add(refresh);
            }
            case "client_credentials" -> {
                if (!clientSecret.equals(form.get("client_secret"))) {
                    return Reply.oauth(400, "invalid_client", "invalid client credentials");
                }
            }
            case "refresh_token" -> {
                if (form.containsKey("client_secret") && !clientSecret.equals(form.get("client_secret"))) {
                    return Reply.oauth(400, "invalid_client", "invalid client credentials");
                }
                if (form.get("refresh_token") == null || !refreshTokens.contains(form.get("refresh_token"))) {
                    return Reply.oauth(400, "invalid_grant", "expired access/refresh token");
                }
            }
            default -> {
                return Reply.oauth(400, "unsupported_grant_type", "grant type not supported");
            }
        }
        String access = randomToken();
        accessTokens.put(access, new Session(access, grant,
                grant.equals("refresh_token") ? form.get("refresh_token") : refresh));
        logins.incrementAndGet();
        String base = baseUrl();
        String id = base + "/id/" + ORG_ID + "/" + USER_ID;
        String issuedAt = Long.toString(Instant.now().toEpochMilli());
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("access_token", access);
        if (refresh != null) {
            body.put("refresh_token", refresh);
        }
        body.put("signature", signature(id + issuedAt));
        body.put("scope", refresh != null ? "refresh_token api" : "api");
        body.put("instance_url", base);
        body.put("id", id);
        body.put("token_type", "Bearer");
        body.put("issued_at", issuedAt);
        return Reply.json(200, body);
    }

    private Reply revoke(String token) {
        if (token != null && accessTokens.remove(token) != null) {
            return Reply.empty(200);
        }
        if (token != null && refreshTokens.remove(token)) {
            accessTokens.values().removeIf(s -> token.equals(s.refreshToken()));
            return Reply.empty(200);
        }
        return Reply.oauth(400, "invalid_token", "invalid token");
    }

    private String signature(String data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(clientSecret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return Base64.getEncoder().encodeToString(mac.doFinal(data.getBytes(StandardCharsets.UTF_8)));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String randomToken() {
        byte[] bytes = new byte[36];
        RANDOM.nextBytes(bytes);
        return ORG_ID.substring(0, 15) + "!" + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /** The bearer token of the request's last Authorization header, scheme Bearer or OAuth. */
    private boolean authorised(HttpExchange exchange) {
        List<String> headers = exchange.getRequestHeaders().get("Authorization");
        if (headers == null || headers.isEmpty()) {
            return false;
        }
        String header = headers.get(headers.size() - 1).trim();
        int space = header.indexOf(' ');
        if (space < 0) {
            return false;
        }
        String scheme = header.substring(0, space);
        if (!scheme.equalsIgnoreCase("Bearer") && !scheme.equalsIgnoreCase("OAuth")) {
            return false;
        }
        return accessTokens.containsKey(header.substring(space + 1).trim());
    }

    // ---------------------------------------------------------------- daily limit

    private boolean useOneRequest() {
        synchronized (usageLock) {
            rollDay();
            if (apiUsage >= dailyLimit) {
                return false;
            }
            apiUsage++;
            return true;
        }
    }

    private String limitInfo() {
        synchronized (usageLock) {
            rollDay();
            return "api-usage=" + apiUsage + "/" + dailyLimit;
        }
    }

    /** A new UTC day on the simulator's clock starts the count again. */
    private void rollDay() {
        LocalDate today = LocalDate.ofInstant(clock.instant(), ZoneOffset.UTC);
        if (!today.equals(usageDay)) {
            usageDay = today;
            apiUsage = 0;
        }
    }

    private static long positiveLimit(long limit) {
        if (limit < 0) {
            throw new IllegalArgumentException("the daily limit must be 0 or more, not " + limit);
        }
        return limit;
    }

    // ---------------------------------------------------------------- data resources

    private Reply data(HttpExchange exchange, String method, Route route) {
        List<String> s = route.segments();
        String version = route.version();
        int n = s.size();
        String first = n == 0 ? "" : s.get(0);
        switch (first) {
            case "query", "queryAll" -> {
                if (!method.equals("GET")) {
                    return notAllowed(method, "GET");
                }
                boolean all = first.equals("queryAll");
                if (n == 1) {
                    return query(exchange, version, all);
                }
                if (n == 2) {
                    return queryMore(s.get(1), version);
                }
                return notFound();
            }
            case "sobjects" -> {
                if (n < 2 || n > 4) {
                    return notFound();
                }
                SObjectType type = SObjectType.named(s.get(1)).orElse(null);
                if (type == null) {
                    return notFound();
                }
                if (n == 2) {
                    return method.equals("POST") ? createOne(exchange, type) : notAllowed(method, "POST");
                }
                if (n == 3) {
                    return switch (s.get(2)) {
                        case "updated" -> method.equals("GET") ? updated(exchange, type) : notAllowed(method, "GET");
                        case "deleted" -> method.equals("GET") ? deleted(exchange, type) : notAllowed(method, "GET");
                        case "describe" -> Reply.error(404, "NOT_FOUND", "The Salesforce simulator does not serve"
                                + " describe");
                        default -> sobjectRow(exchange, method, type, s.get(2), version);
                    };
                }
                return byExternalId(exchange, method, type, s.get(2), s.get(3), version);
            }
            case "composite" -> {
                if (n < 2 || !s.get(1).equals("sobjects") || n > 4) {
                    return Reply.error(404, "NOT_FOUND", "The Salesforce simulator serves only sObject Collections"
                            + " (composite/sobjects) of the composite resources");
                }
                if (n == 2) {
                    return switch (method) {
                        case "POST" -> collectionSave(exchange, false);
                        case "PATCH" -> collectionSave(exchange, true);
                        case "DELETE" -> collectionDelete(exchange);
                        default -> notAllowed(method, "POST,PATCH,DELETE");
                    };
                }
                SObjectType type = SObjectType.named(s.get(2)).orElse(null);
                if (type == null) {
                    return notFound();
                }
                if (n == 3) {
                    return method.equals("POST") ? collectionRetrieve(exchange, type, version)
                            : notAllowed(method, "POST");
                }
                return method.equals("PATCH") ? collectionUpsert(exchange, type, s.get(3))
                        : notAllowed(method, "PATCH");
            }
            case "limits" -> {
                if (n != 1 || !method.equals("GET")) {
                    return n != 1 ? notFound() : notAllowed(method, "GET");
                }
                Map<String, Object> daily = new LinkedHashMap<>();
                synchronized (usageLock) {
                    daily.put("Max", dailyLimit);
                    daily.put("Remaining", Math.max(0, dailyLimit - apiUsage));
                }
                return Reply.json(200, Map.of("DailyApiRequests", daily));
            }
            default -> {
                return notFound();
            }
        }
    }

    // ---------------------------------------------------------------- query

    private Reply query(HttpExchange exchange, String version, boolean all) {
        String soql = params(exchange).get("q");
        if (soql == null || soql.isBlank()) {
            return Reply.error(400, "MALFORMED_QUERY", "A query string has to be specified");
        }
        int batchSize = batchSize(exchange.getRequestHeaders().getFirst("Sforce-Query-Options"));
        synchronized (lock) {
            Soql.Query query = Soql.parse(soql, this::knownField);
            List<Stored> rows = new ArrayList<>();
            for (Stored s : data.get(query.type()).values()) {
                if ((all || !s.deleted()) && query.matches(s)) {
                    rows.add(s);
                }
            }
            rows.sort(query.comparator()::compare);
            if (query.limit() != null && rows.size() > query.limit()) {
                rows = rows.subList(0, query.limit());
            }
            List<Map<String, Object>> rendered = rows.stream().map(r -> rest(r, query, version)).toList();
            if (rendered.size() <= batchSize) {
                return Reply.json(200, page(rendered, 0, rendered.size(), null));
            }
            String locator = "01g" + String.format(Locale.ROOT, "%012d", nextCursor++);
            locator = locator + SalesforceIds.suffix(locator);
            cursors.put(locator, new Cursor(rendered, batchSize));
            while (cursors.size() > OPEN_CURSORS) {
                cursors.remove(cursors.keySet().iterator().next());
            }
            return Reply.json(200, page(rendered, 0, batchSize, nextUrl(version, locator, batchSize)));
        }
    }

    private Reply queryMore(String locatorAndOffset, String version) {
        int dash = locatorAndOffset.lastIndexOf('-');
        synchronized (lock) {
            Cursor cursor = dash < 0 ? null : cursors.get(locatorAndOffset.substring(0, dash));
            int offset = -1;
            try {
                offset = dash < 0 ? -1 : Integer.parseInt(locatorAndOffset.substring(dash + 1));
            } catch (NumberFormatException e) {
                // answered below
            }
            if (cursor == null || offset < 0 || offset >= cursor.rows().size()) {
                return Reply.error(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
            }
            int end = Math.min(cursor.rows().size(), offset + cursor.batchSize());
            String next = end < cursor.rows().size()
                    ? nextUrl(version, locatorAndOffset.substring(0, dash), end) : null;
            return Reply.json(200, page(cursor.rows(), offset, end, next));
        }
    }

    private static Map<String, Object> page(List<Map<String, Object>> rows, int from, int to, String nextUrl) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("totalSize", rows.size());
        body.put("done", nextUrl == null);
        if (nextUrl != null) {
            body.put("nextRecordsUrl", nextUrl);
        }
        body.put("records", rows.subList(from, to));
        return body;
    }

    private static String nextUrl(String version, String locator, int offset) {
        return "/services/data/v" + version + "/query/" + locator + "-" + offset;
    }

    /** {@code Sforce-Query-Options: batchSize=N}, taken within 200..2000; 2000 without it. */
    static int batchSize(String header) {
        if (header == null) {
            return MAX_BATCH_SIZE;
        }
        for (String option : header.split(",")) {
            String[] kv = option.trim().split("=", 2);
            if (kv.length == 2 && kv[0].trim().equalsIgnoreCase("batchSize")) {
                try {
                    int size = Integer.parseInt(kv[1].trim());
                    return Math.max(MIN_BATCH_SIZE, Math.min(MAX_BATCH_SIZE, size));
                } catch (NumberFormatException e) {
                    return MAX_BATCH_SIZE;
                }
            }
        }
        return MAX_BATCH_SIZE;
    }

    // ---------------------------------------------------------------- sObject rows

    private Reply createOne(HttpExchange exchange, SObjectType type) {
        JsonNode body = json(exchange);
        boolean allowDuplicate = allowSave(exchange);
        synchronized (lock) {
            Stored created = create(type, body, true, allowDuplicate, null);
            return Reply.json(201, saveResult(created.id(), null));
        }
    }

    private Reply sobjectRow(HttpExchange exchange, String method, SObjectType type, String id, String version) {
        switch (method) {
            case "GET" -> {
                String fieldsParam = params(exchange).get("fields");
                synchronized (lock) {
                    Stored s = existing(type, id);
                    return Reply.json(200, rest(s, selected(type, fieldsParam), version));
                }
            }
            case "PATCH" -> {
                JsonNode body = json(exchange);
                boolean allowDuplicate = allowSave(exchange);
                synchronized (lock) {
                    update(type, id, body, true, allowDuplicate, null);
                }
                return Reply.empty(204);
            }
            case "DELETE" -> {
                synchronized (lock) {
                    remove(type, id, null);
                }
                return Reply.empty(204);
            }
            default -> {
                return notAllowed(method, "GET,PATCH,DELETE");
            }
        }
    }

    /** The fields a {@code ?fields=} list names, or every field. Holds the lock. */
    private List<Field> selected(SObjectType type, String fieldsParam) {
        if (fieldsParam == null || fieldsParam.isBlank()) {
            return allFields(type);
        }
        List<Field> fields = new ArrayList<>();
        for (String name : fieldsParam.split(",")) {
            Field field = field(type, name.trim());
            if (field == null) {
                throw new Refused(400, "INVALID_FIELD", "No such column '" + name.trim() + "' on entity '"
                        + type.apiName() + "'. If you are attempting to use a custom field, be sure to append the"
                        + " '__c' after the custom field name.");
            }
            fields.add(field);
        }
        return fields;
    }

    private Reply byExternalId(HttpExchange exchange, String method, SObjectType type, String fieldName,
                               String value, String version) {
        if (!method.equals("GET") && !method.equals("PATCH") && !method.equals("DELETE")) {
            return notAllowed(method, "GET,PATCH,DELETE");
        }
        JsonNode body = method.equals("PATCH") ? json(exchange) : null;
        boolean allowDuplicate = allowSave(exchange);
        String fieldsParam = method.equals("GET") ? params(exchange).get("fields") : null;
        synchronized (lock) {
            Field field = externalIdField(type, fieldName);
            List<Stored> matches = matching(type, field, value);
            if (matches.size() > 1) {
                return Reply.json(300, matches.stream().map(m -> "/services/data/v" + version + "/sobjects/"
                        + type.apiName() + "/" + m.id()).toList());
            }
            Stored match = matches.isEmpty() ? null : matches.get(0);
            switch (method) {
                case "GET" -> {
                    if (match == null) {
                        return notFound();
                    }
                    return Reply.json(200, rest(match, selected(type, fieldsParam), version));
                }
                case "DELETE" -> {
                    if (match == null) {
                        return notFound();
                    }
                    remove(type, match.id(), null);
                    return Reply.empty(204);
                }
                default -> {
                    Stored saved = upsert(type, field, value, body, allowDuplicate, null);
                    if (saved.id().equals(match == null ? null : match.id())) {
                        return Reply.empty(204);
                    }
                    return Reply.json(201, saveResult(saved.id(), true));
                }
            }
        }
    }

    /** Id, or any custom field: the fields an upsert may key on here. Holds the lock. */
    private Field externalIdField(SObjectType type, String name) {
        Field field = field(type, name);
        if (field == null || !(field.name().equals(SObjectType.ID) || field.kind() == Kind.ANY)) {
            throw new Refused(404, "NOT_FOUND", "Provided external ID field does not exist or is not accessible: "
                    + name);
        }
        return field;
    }

    private List<Stored> matching(SObjectType type, Field field, String value) {
        List<Stored> matches = new ArrayList<>();
        if (field.name().equals(SObjectType.ID)) {
            String id = SalesforceIds.normalize(value);
            Stored s = id == null ? null : data.get(type).get(id);
            if (s != null && !s.deleted()) {
                matches.add(s);
            }
            return matches;
        }
        Map<String, Set<String>> declared = uniqueIndex.get(type).get(field.name());
        if (declared != null) {
            declared.getOrDefault(value.toLowerCase(Locale.ROOT), Set.of())
                    .forEach(id -> matches.add(data.get(type).get(id)));
            return matches;
        }
        for (Stored s : data.get(type).values()) {
            Object stored = s.fields().get(field.name());
            if (!s.deleted() && stored != null && stored.toString().equalsIgnoreCase(value)) {
                matches.add(s);
            }
        }
        return matches;
    }

    /** Creates (with the key set) or updates the one live record the key names. Holds the lock. */
    private Stored upsert(SObjectType type, Field field, String value, JsonNode body, boolean allowDuplicate,
                          List<Change> undo) {
        if (body == null || !body.isObject()) {
            throw new Refused(400, "JSON_PARSER_ERROR", "The request body must be one JSON object of the record's"
                    + " fields");
        }
        if (field.name().equals(SObjectType.ID)) {
            return update(type, value, body, true, allowDuplicate, undo);
        }
        List<Stored> matches = matching(type, field, value);
        if (matches.size() > 1) {
            throw new Refused(300, "MULTIPLE_CHOICES", "More than one record found for external id field "
                    + field.name() + ": " + value);
        }
        ObjectNode fields = ((ObjectNode) body).deepCopy();
        List<String> sameKey = new ArrayList<>();
        fields.fieldNames().forEachRemaining(name -> {
            if (name.equalsIgnoreCase(field.name())) {
                sameKey.add(name);
            }
        });
        sameKey.forEach(fields::remove);
        if (matches.isEmpty()) {
            fields.put(field.name(), value);
            return create(type, fields, true, allowDuplicate, undo);
        }
        return update(type, matches.get(0).id(), fields, true, allowDuplicate, undo);
    }

    private static Map<String, Object> saveResult(String id, Boolean created) {
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("id", id);
        result.put("success", true);
        result.put("errors", List.of());
        if (created != null) {
            result.put("created", created);
        }
        return result;
    }

    private static Map<String, Object> failedResult(List<SfError> errors, Boolean created) {
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("success", false);
        result.put("errors", errors.stream().map(SfError::collection).toList());
        if (created != null) {
            result.put("created", created);
        }
        return result;
    }

    // ---------------------------------------------------------------- replication: updated and deleted

    private Reply updated(HttpExchange exchange, SObjectType type) {
        Instant[] range = replicationRange(params(exchange));
        List<String> ids = new ArrayList<>();
        synchronized (lock) {
            data.get(type).values().stream()
                    .filter(s -> !s.deleted() && !s.modstamp().isBefore(range[0]) && s.modstamp().isBefore(range[1]))
                    .sorted((a, b) -> a.modstamp().compareTo(b.modstamp()) != 0
                            ? a.modstamp().compareTo(b.modstamp()) : a.id().compareTo(b.id()))
                    .forEach(s -> ids.add(s.id()));
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("ids", ids);
        body.put("latestDateCovered", TIMESTAMP.format(range[1]));
        return Reply.json(200, body);
    }

    private Reply deleted(HttpExchange exchange, SObjectType type) {
        Instant[] range = replicationRange(params(exchange));
        List<Map<String, Object>> deleted = new ArrayList<>();
        synchronized (lock) {
            data.get(type).values().stream()
                    .filter(s -> s.deleted() && !s.modstamp().isBefore(range[0]) && s.modstamp().isBefore(range[1]))
                    .sorted((a, b) -> a.modstamp().compareTo(b.modstamp()) != 0
                            ? a.modstamp().compareTo(b.modstamp()) : a.id().compareTo(b.id()))
                    .forEach(s -> {
                        Map<String, Object> entry = new LinkedHashMap<>();
                        entry.put("id", s.id());
                        entry.put("deletedDate", TIMESTAMP.format(s.modstamp()));
                        deleted.add(entry);
                    });
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("deletedRecords", deleted);
        body.put("earliestDateAvailable", TIMESTAMP.format(range[2]));
        body.put("latestDateCovered", TIMESTAMP.format(range[1]));
        return Reply.json(200, body);
    }

    /** [start, latest covered, earliest available], cut to the minute, as the replication API takes them. */
    private Instant[] replicationRange(Map<String, String> params) {
        Instant now = clock.instant().truncatedTo(ChronoUnit.MINUTES);
        Instant earliest = now.minus(REPLICATION_WINDOW);
        Instant start = replicationDate(params, "start");
        Instant end = replicationDate(params, "end");
        if (!start.isBefore(end)) {
            throw new Refused(400, "INVALID_REPLICATION_DATE", "startDate must chronologically precede endDate by"
                    + " more than one minute");
        }
        if (start.isBefore(earliest)) {
            throw new Refused(400, "INVALID_REPLICATION_DATE", "startDate cannot be more than 30 days ago");
        }
        return new Instant[] {start, end.isAfter(now) ? now : end, earliest};
    }

    private static Instant replicationDate(Map<String, String> params, String name) {
        String text = params.get(name);
        if (text == null || text.isBlank()) {
            throw new Refused(400, "MISSING_ARGUMENT", name + " parameter is required, e.g. "
                    + name + "=2026-05-20T20:49:00%2B00:00");
        }
        String iso = text.trim();
        if (iso.matches(".*[+-]\\d{4}$")) {
            iso = iso.substring(0, iso.length() - 2) + ":" + iso.substring(iso.length() - 2);
        }
        try {
            return OffsetDateTime.parse(iso).toInstant().truncatedTo(ChronoUnit.MINUTES);
        } catch (DateTimeParseException e) {
            throw new Refused(400, "INVALID_REPLICATION_DATE", name + " must be a dateTime such as"
                    + " 2026-05-20T20:49:00+00:00, not " + text);
        }
    }

    // ---------------------------------------------------------------- sObject Collections

    private Reply collectionSave(HttpExchange exchange, boolean update) {
        JsonNode body = json(exchange);
        JsonNode records = body.path("records");
        if (!body.isObject() || !records.isArray()) {
            return Reply.error(400, "JSON_PARSER_ERROR", "The body must be {\"allOrNone\":false,\"records\":[...]}");
        }
        if (records.size() > MAX_COLLECTION_SIZE) {
            return tooMany();
        }
        boolean allOrNone = body.path("allOrNone").asBoolean(false);
        boolean allowDuplicate = allowSave(exchange);
        synchronized (lock) {
            List<Change> undo = new ArrayList<>();
            List<Object> results = new ArrayList<>();
            List<Boolean> failed = new ArrayList<>();
            for (JsonNode record : records) {
                try {
                    SObjectType type = recordType(record);
                    Stored saved;
                    if (update) {
                        String id = fieldIgnoringCase(record, SObjectType.ID).map(JsonNode::asText).orElse(null);
                        if (id == null || id.isEmpty()) {
                            throw new Refused(400, List.of(new SfError("MISSING_ARGUMENT",
                                    "Id not specified in an update call", List.of("Id"))));
                        }
                        if (SalesforceIds.normalize(id) == null || !SalesforceIds.normalize(id)
                                .startsWith(type.keyPrefix())) {
                            throw new Refused(400, List.of(new SfError("MALFORMED_ID", type.apiName()
                                    + " ID: id value of incorrect type: " + id, List.of("Id"))));
                        }
                        saved = update(type, id, record, true, allowDuplicate, undo);
                    } else {
                        if (fieldIgnoringCase(record, SObjectType.ID).isPresent()) {
                            throw new Refused(400, List.of(new SfError("INVALID_FIELD_FOR_INSERT_UPDATE",
                                    "cannot specify Id in an insert call", List.of("Id"))));
                        }
                        saved = create(type, record, true, allowDuplicate, undo);
                    }
                    results.add(saveResult(saved.id(), null));
                    failed.add(false);
                } catch (Refused e) {
                    results.add(failedResult(collectionErrors(e), null));
                    failed.add(true);
                }
            }
            return Reply.json(200, allOrNone(results, failed, undo, allOrNone, null));
        }
    }

    private Reply collectionUpsert(HttpExchange exchange, SObjectType type, String fieldName) {
        JsonNode body = json(exchange);
        JsonNode records = body.path("records");
        if (!body.isObject() || !records.isArray()) {
            return Reply.error(400, "JSON_PARSER_ERROR", "The body must be {\"allOrNone\":false,\"records\":[...]}");
        }
        if (records.size() > MAX_COLLECTION_SIZE) {
            return tooMany();
        }
        boolean allOrNone = body.path("allOrNone").asBoolean(false);
        boolean allowDuplicate = allowSave(exchange);
        synchronized (lock) {
            Field field = externalIdField(type, fieldName);
            List<Change> undo = new ArrayList<>();
            List<Object> results = new ArrayList<>();
            List<Boolean> failed = new ArrayList<>();
            List<Boolean> created = new ArrayList<>();
            for (JsonNode record : records) {
                try {
                    if (recordType(record) != type) {
                        throw new Refused(400, "INVALID_TYPE", "Each record must be a " + type.apiName());
                    }
                    String key = null;
                    var names = record.fieldNames();
                    while (names.hasNext()) {
                        String name = names.next();
                        if (name.equalsIgnoreCase(field.name()) && !record.get(name).isNull()) {
                            key = record.get(name).asText();
                        }
                    }
                    if (key == null || key.isEmpty()) {
                        throw new Refused(400, List.of(new SfError("MISSING_ARGUMENT", field.name()
                                + " not specified", List.of(field.name()))));
                    }
                    int before = data.get(type).size();
                    Stored saved = upsert(type, field, key, record, allowDuplicate, undo);
                    boolean isNew = data.get(type).size() > before;
                    Map<String, Object> result = saveResult(saved.id(), isNew);
                    results.add(result);
                    failed.add(false);
                    created.add(isNew);
                } catch (Refused e) {
                    results.add(failedResult(collectionErrors(e), false));
                    failed.add(true);
                    created.add(false);
                }
            }
            return Reply.json(200, allOrNone(results, failed, undo, allOrNone, created));
        }
    }

    private Reply collectionDelete(HttpExchange exchange) {
        Map<String, String> params = params(exchange);
        String idsParam = params.get("ids");
        if (idsParam == null || idsParam.isBlank()) {
            return Reply.error(400, "MISSING_ARGUMENT", "ids parameter is required: ?ids=a,b&allOrNone=false");
        }
        String[] ids = idsParam.split(",");
        if (ids.length > MAX_COLLECTION_SIZE) {
            return tooMany();
        }
        boolean allOrNone = Boolean.parseBoolean(params.getOrDefault("allOrNone", "false"));
        synchronized (lock) {
            List<Change> undo = new ArrayList<>();
            List<Object> results = new ArrayList<>();
            List<Boolean> failed = new ArrayList<>();
            for (String raw : ids) {
                String id = raw.trim();
                try {
                    String key = SalesforceIds.normalize(id);
                    SObjectType type = key == null ? null : SObjectType.ofId(key).orElse(null);
                    if (type == null) {
                        throw new Refused(400, List.of(new SfError("MALFORMED_ID", "malformed id " + id,
                                List.of())));
                    }
                    Stored current = data.get(type).get(key);
                    if (current == null) {
                        throw new Refused(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id");
                    }
                    Stored tombstone = remove(type, key, undo);
                    results.add(saveResult(tombstone.id(), null));
                    failed.add(false);
                } catch (Refused e) {
                    Map<String, Object> result = new LinkedHashMap<>();
                    result.put("id", SalesforceIds.normalize(id));
                    result.putAll(failedResult(collectionErrors(e), null));
                    results.add(result);
                    failed.add(true);
                }
            }
            return Reply.json(200, allOrNone(results, failed, undo, allOrNone, null));
        }
    }

    private Reply collectionRetrieve(HttpExchange exchange, SObjectType type, String version) {
        JsonNode body = json(exchange);
        if (!body.path("ids").isArray() || !body.path("fields").isArray()) {
            return Reply.error(400, "JSON_PARSER_ERROR", "The body must be {\"ids\":[...],\"fields\":[...]}");
        }
        if (body.get("ids").size() > MAX_BATCH_SIZE) {
            return Reply.error(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than "
                    + MAX_BATCH_SIZE + " records into this call");
        }
        List<String> names = new ArrayList<>();
        body.get("fields").forEach(f -> names.add(f.asText()));
        synchronized (lock) {
            List<Field> fields = selected(type, String.join(",", names));
            List<Object> records = new ArrayList<>();
            for (JsonNode idNode : body.get("ids")) {
                String key = SalesforceIds.normalize(idNode.asText());
                Stored s = key == null ? null : data.get(type).get(key);
                records.add(s == null || s.deleted() ? null : rest(s, fields, version));
            }
            return Reply.json(200, records);
        }
    }

    private static Reply tooMany() {
        return Reply.error(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than "
                + MAX_COLLECTION_SIZE + " records into this call");
    }

    /** A record's field by name in any case, as Salesforce's field names are case-insensitive ({@code "id"}, {@code "Id"}). */
    private static Optional<JsonNode> fieldIgnoringCase(JsonNode record, String name) {
        var names = record.fieldNames();
        while (names.hasNext()) {
            String field = names.next();
            if (field.equalsIgnoreCase(name) && !record.get(field).isNull()) {
                return Optional.of(record.get(field));
            }
        }
        return Optional.empty();
    }

    /** The object a collection record names in {@code attributes.type}. */
    private static SObjectType recordType(JsonNode record) {
        if (!record.isObject()) {
            throw new Refused(400, "JSON_PARSER_ERROR", "Each record must be a JSON object");
        }
        String type = record.path("attributes").path("type").asText(null);
        if (type == null) {
            throw new Refused(400, "INVALID_TYPE", "Must specify type in attributes: {\"attributes\":{\"type\":"
                    + "\"Contact\"}}");
        }
        return SObjectType.named(type).orElseThrow(() -> new Refused(400, "INVALID_TYPE",
                "sObject type '" + type + "' is not supported. The simulator holds Contact and Lead."));
    }

    private static List<SfError> collectionErrors(Refused e) {
        return e.errors;
    }

    /** With allOrNone and any failure: nothing stays saved and the records that passed fail too. */
    private List<Object> allOrNone(List<Object> results, List<Boolean> failed, List<Change> undo, boolean allOrNone,
                                   List<Boolean> created) {
        if (!allOrNone || !failed.contains(true)) {
            return results;
        }
        rollback(undo);
        List<Object> rolledBack = new ArrayList<>();
        SfError error = new SfError("ALL_OR_NONE_OPERATION_ROLLED_BACK", "Record rolled back because not all"
                + " records were valid and the request was using AllOrNone header");
        for (int i = 0; i < results.size(); i++) {
            rolledBack.add(failed.get(i) ? results.get(i)
                    : failedResult(List.of(error), created == null ? null : false));
        }
        return rolledBack;
    }

    // ---------------------------------------------------------------- request parts

    private static JsonNode json(HttpExchange exchange) {
        try (InputStream in = exchange.getRequestBody()) {
            byte[] bytes = in.readAllBytes();
            JsonNode node = bytes.length == 0 ? null : JSON.readTree(bytes);
            if (node == null) {
                throw new Refused(400, "JSON_PARSER_ERROR", "The request body is empty; send a JSON object");
            }
            return node;
        } catch (JsonProcessingException e) {
            throw new Refused(400, "JSON_PARSER_ERROR", e.getOriginalMessage());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static boolean allowSave(HttpExchange exchange) {
        String header = exchange.getRequestHeaders().getFirst("Sforce-Duplicate-Rule-Header");
        return header != null && header.replace(" ", "").toLowerCase(Locale.ROOT).contains("allowsave=true");
    }

    private static Map<String, String> params(HttpExchange exchange) {
        return decodeForm(exchange.getRequestURI().getRawQuery());
    }

    /** The form body and the query string together (body first). */
    private static Map<String, String> form(HttpExchange exchange) {
        Map<String, String> form;
        try (InputStream in = exchange.getRequestBody()) {
            form = decodeForm(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        params(exchange).forEach(form::putIfAbsent);
        return form;
    }

    private static Map<String, String> decodeForm(String raw) {
        Map<String, String> params = new LinkedHashMap<>();
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
                throw new Refused(400, "MALFORMED_QUERY", "Malformed query string: " + e.getMessage());
            }
        }
        return params;
    }

    /** Percent-decodes one path segment; unlike a query string, '+' stays '+'. */
    private static String decodePath(String segment) {
        try {
            return URLDecoder.decode(segment.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return segment;
        }
    }

    // ---------------------------------------------------------------- /__sim control endpoints

    @Override
    protected Reply control(HttpExchange exchange, String method, String path) {
        try {
            switch (method + " " + path) {
                case "GET /__sim/org":
                    return Reply.json(200, orgView());
                case "POST /__sim/org": {
                    JsonNode body = JSON.readTree(exchange.getRequestBody().readAllBytes());
                    if (body == null || !body.isObject()) {
                        throw new SimControl.BadControl("Send {\"dailyLimit\":n,\"resetDailyUsage\":true,"
                                + "\"expireTokens\":true,\"duplicateRule\":true} (any of them)", null);
                    }
                    if (body.has("dailyLimit")) {
                        if (!body.get("dailyLimit").canConvertToLong() || body.get("dailyLimit").asLong() < 0) {
                            throw new SimControl.BadControl("dailyLimit must be a whole number, 0 or more",
                                    "dailyLimit");
                        }
                        dailyLimit(body.get("dailyLimit").asLong());
                    }
                    if (body.path("resetDailyUsage").asBoolean(false)) {
                        resetDailyUsage();
                    }
                    if (body.path("expireTokens").asBoolean(false)) {
                        expireTokens();
                    }
                    if (body.has("duplicateRule")) {
                        duplicateRule(body.get("duplicateRule").asBoolean());
                    }
                    return Reply.json(200, orgView());
                }
                default:
                    return Reply.json(404, Map.of("error", "not_found", "message", "No control endpoint " + method
                            + " " + path + "; there are /__sim/stats, /__sim/requests, /__sim/faults and /__sim/org"));
            }
        } catch (IllegalArgumentException e) {
            return Reply.json(400, invalidControl(e));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Map<String, Object> orgView() {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("dailyLimit", dailyLimit());
        view.put("apiUsage", apiUsage());
        view.put("logins", logins());
        view.put("activeTokens", activeTokens());
        view.put("duplicateRule", duplicateRule);
        Map<String, Object> counts = new LinkedHashMap<>();
        synchronized (lock) {
            for (SObjectType type : SObjectType.values()) {
                long live = data.get(type).values().stream().filter(s -> !s.deleted()).count();
                counts.put(type.apiName(), Map.of("live", live, "deleted", data.get(type).size() - live));
            }
        }
        view.put("records", counts);
        return view;
    }

    // ---------------------------------------------------------------- main

    /** Ticks every millisecond; {@link #candidateStamp()} cuts record times to the precision kept. */
    private static Clock systemClock() {
        return Clock.tick(Clock.systemUTC(), Duration.ofMillis(1));
    }

    /**
     * {@code --port=<n>} (0: any free port), {@code --seed=<n>} (n contacts and n/2 leads),
     * {@code --client-id=}, {@code --client-secret=}, {@code --username=}, {@code --password=},
     * {@code --daily-limit=<n>}, {@code --duplicate-rule}, {@code --external-id-field=<Name__c>} (repeatable).
     */
    public static void main(String[] args) throws InterruptedException {
        Builder builder = builder();
        int seed = 0;
        for (String arg : args) {
            try {
                if (arg.startsWith("--port=")) {
                    builder.port(Integer.parseInt(arg.substring(7)));
                } else if (arg.startsWith("--seed=")) {
                    seed = Integer.parseInt(arg.substring(7));
                } else if (arg.startsWith("--client-id=")) {
                    builder.clientId(arg.substring(12));
                } else if (arg.startsWith("--client-secret=")) {
                    builder.clientSecret(arg.substring(16));
                } else if (arg.startsWith("--username=")) {
                    builder.username(arg.substring(11));
                } else if (arg.startsWith("--password=")) {
                    builder.password(arg.substring(11));
                } else if (arg.startsWith("--daily-limit=")) {
                    builder.dailyLimit(Long.parseLong(arg.substring(14)));
                } else if (arg.equals("--duplicate-rule")) {
                    builder.duplicateRule(true);
                } else if (arg.startsWith("--external-id-field=")) {
                    builder.externalIdField(arg.substring(20));
                } else {
                    usage("unknown argument " + arg);
                    return;
                }
            } catch (IllegalArgumentException e) {
                usage(e.getMessage() + " in " + arg);
                return;
            }
        }
        SalesforceSimulator sf = builder.build().start();
        sf.seedDemo(seed);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            sf.stop();
            stopped.countDown();
        }, "salesforce-sim-shutdown"));
        System.out.println(sf.baseUrl());
        System.out.println("Salesforce simulator: loginUrl " + sf.baseUrl() + ", clientId " + sf.clientId()
                + ", clientSecret " + sf.clientSecret() + ", userName " + sf.username() + ", password "
                + sf.password() + "; " + seed + " contacts and " + seed / 2 + " leads; counters at " + sf.baseUrl()
                + "/__sim/stats, org switches at " + sf.baseUrl() + "/__sim/org. Ctrl-C stops it.");
        stopped.await();
    }

    private static void usage(String problem) {
        System.err.println(problem);
        System.err.println("usage: SalesforceSimulator [--port=<n>] [--seed=<n>] [--client-id=<id>]"
                + " [--client-secret=<s>] [--username=<u>] [--password=<p>] [--daily-limit=<n>] [--duplicate-rule]"
                + " [--external-id-field=<Name__c>]...");
        System.exit(2);
    }
}
