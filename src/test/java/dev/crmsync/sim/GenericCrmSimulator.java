package dev.crmsync.sim;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.BigInteger;
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
import java.util.Collections;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
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

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;

/**
 * The generic REST CRM: a stateful in-memory CRM on a loopback port, with fault switches and call
 * counters, for tests and the sandbox. The service's generic REST provider client is written against
 * exactly the wire format below. Thread-safe.
 *
 * <h2>Wire format</h2>
 * JSON in UTF-8 both ways; answers carry {@code Content-Type: application/json; charset=utf-8}.
 *
 * <h3>Auth</h3>
 * Every request under {@code /api} needs {@code Authorization: Bearer <token>} (scheme in any case) with
 * the token given to the simulator, otherwise {@code 401 {"error":"unauthorized","message":"..."}} with
 * {@code WWW-Authenticate: Bearer}. The {@code /__sim} control endpoints need no token.
 *
 * <h3>Record</h3>
 * <pre>{@code
 * {"Id":"c-000001","Email":"ada.lovelace@example.com","FirstName":"Ada","LastName":"Lovelace",
 *  "Phone":"+14155552671","Company":"Analytical Engines","Title":"Countess","Source":"web",
 *  "LastModified":"2026-11-22T21:00:00.123Z","Deleted":false}
 * }</pre>
 * <ul>
 *   <li>{@code Id}, {@code LastModified} and {@code Deleted} are owned by the server: in a write body
 *   they are ignored. {@code Id} is {@code "c-"} and a counter padded to six digits, never reused.</li>
 *   <li>{@code LastModified} is set on every write (create, update, delete) from the simulator's clock
 *   at millisecond precision, always written with three fraction digits and {@code Z}. Stamps never go
 *   back: a clock reading earlier than the latest stamp given out yields that latest stamp again.
 *   Several records may share one {@code LastModified} (see {@link #freezeClock()}).</li>
 *   <li>Any other property is stored as sent, name case and all, if its value is a string, number,
 *   boolean or null; an object or array value is refused with 400. Properties appear in the order
 *   first written, between {@code Id} and {@code LastModified}. A property set to null reads back as
 *   null. Property names are case-sensitive: the rules below mean {@code Email} exactly.</li>
 * </ul>
 *
 * <h3>Endpoints</h3>
 * <dl>
 *   <dt>{@code GET /api/contacts?modifiedSince=<instant>&afterId=<id>&limit=<n>}</dt>
 *   <dd>{@code 200 {"records":[...],"next":{"modifiedSince":"...","afterId":"..."}}}: changed-since
 *   listing by keyset, records <em>including deleted ones</em> ({@code "Deleted":true}) ordered by
 *   ({@code LastModified}, {@code Id}) ascending, ids compared as strings. Without
 *   {@code modifiedSince}: from the beginning. With {@code modifiedSince} alone: records with
 *   {@code LastModified >= modifiedSince}. With both: records strictly after the position, i.e.
 *   {@code LastModified > modifiedSince}, or {@code LastModified == modifiedSince} and {@code Id > afterId}.
 *   {@code afterId} without {@code modifiedSince} is a 400. {@code limit} is 1..500, default 100;
 *   outside that, or not a number, is a 400. {@code next} is present only when more records follow,
 *   and holds the {@code LastModified} and {@code Id} of the last record returned: pass both back as
 *   they are for the next page. {@code modifiedSince} is ISO-8601 ({@code Z} or an offset, any
 *   fraction; encode {@code +} as {@code %2B}); otherwise 400 with {@code "field":"modifiedSince"}.
 *   A position is strict: a later write that gets the same {@code LastModified} as a saved position
 *   (same millisecond, or a stopped clock) but a lower {@code Id} sorts behind it and is not listed
 *   after it, so a poller should start each new poll a little before its saved position and drop
 *   records it has already seen at that {@code LastModified}.</dd>
 *
 *   <dt>{@code GET /api/contacts?email=<address>}</dt>
 *   <dd>{@code 200 {"records":[...]}}: the live (not deleted) records whose {@code Email} equals the
 *   address ignoring case, ordered by {@code Id}; no {@code next}. Used to find an existing record
 *   before creating one, since the CRM itself allows duplicates. When {@code email} is given, the
 *   paging parameters are ignored. An empty address is a 400.</dd>
 *
 *   <dt>{@code GET /api/contacts/{id}}</dt>
 *   <dd>200 the record; {@code 404 {"error":"not_found",...}} unknown id;
 *   {@code 410 {"error":"deleted",...}} deleted record.</dd>
 *
 *   <dt>{@code POST /api/contacts} with the record's fields</dt>
 *   <dd>201 the full stored record, {@code Location: /api/contacts/{id}}. A body that is not one JSON
 *   object is {@code 400 {"error":"invalid","message":"..."}}; a property with an object or array value
 *   is a 400 naming it in {@code "field"}.</dd>
 *
 *   <dt>{@code PATCH /api/contacts/{id}} with the fields to set</dt>
 *   <dd>200 the full record: the given properties are set (null clears to null), others kept. 404
 *   unknown, 410 deleted, 400 as for POST.</dd>
 *
 *   <dt>{@code DELETE /api/contacts/{id}}</dt>
 *   <dd>204; 404 unknown; 410 already deleted. The record stays as a tombstone, its fields kept,
 *   with {@code "Deleted":true} and a new {@code LastModified}, so the listing reports it.</dd>
 *
 *   <dt>{@code DELETE /api/contacts/{id}?permanent=true}</dt>
 *   <dd>204; 404 unknown. A privacy delete: the record, live or a tombstone, is removed for good, and
 *   neither the listing nor a read knows it afterwards.</dd>
 * </dl>
 * Other methods on those paths answer {@code 405 {"error":"method_not_allowed",...}} with
 * {@code Allow}; other paths {@code 404 {"error":"not_found",...}}.
 *
 * <h3>Rules</h3>
 * {@code requireEmail} (off by default; {@link Builder#requireEmail(boolean)},
 * {@link #requireEmail(boolean)}, or {@code POST /__sim/rules {"requireEmail":true}}): a create or
 * update that leaves {@code Email} missing, null or blank answers
 * {@code 400 {"error":"invalid","message":"Email is required","field":"Email"}} and stores nothing.
 *
 * <h3>Errors</h3>
 * Every error body is {@code {"error":"<code>","message":"<text>"}}, plus {@code "field"} when one
 * property or parameter is at fault. Codes: {@code unauthorized} 401, {@code invalid} 400,
 * {@code not_found} 404, {@code deleted} 410, {@code method_not_allowed} 405, {@code rate_limited} 429,
 * {@code server_error} 5xx and {@code fault} for any other injected status.
 *
 * <h3>Faults</h3>
 * See {@link Faults}. A request first waits out the latency, then takes a fault if one applies, and
 * only then is checked for auth and served; so a faulted request never changes state. A dropped
 * request has its connection closed before any byte of answer: the client sees an
 * {@link java.io.IOException} (EOF or connection reset). Note that {@code java.net.http.HttpClient}
 * (JDK 17) silently retries a GET once when the connection closes without an answer, fresh connection
 * or pooled, but not a POST: to make a GET from that client fail, drop two requests; every try is
 * counted. Over HTTP:
 * <pre>{@code
 * POST   /__sim/faults  one object or an array of them, answers 200 with the faults now set:
 *   {"kind":"status","status":503,"count":2,"method":"POST","pathPrefix":"/api/contacts"}
 *   {"kind":"rateLimit","count":1,"retryAfterSeconds":2}        -> 429 + Retry-After: 2
 *   {"kind":"drop","count":1}
 *   {"kind":"latency","ms":250}                                 -> 0 turns it off
 *   {"kind":"sticky","status":503}                              -> until cleared
 *   (count defaults to 1, method and pathPrefix to any, sticky status to 503, retryAfterSeconds to 1)
 * GET    /__sim/faults  {"sticky":503|null,"latencyMs":0,"pending":[{"kind":...,"remaining":1,...}]}
 * DELETE /__sim/faults  204, clears all faults
 * }</pre>
 *
 * <h3>Counters</h3>
 * Every request outside {@code /__sim} is counted when it reaches the handler, faulted, refused or
 * not, under {@code "<METHOD> <path pattern>"}: {@code "GET /api/contacts"},
 * {@code "POST /api/contacts"}, {@code "GET /api/contacts/{id}"}, {@code "PATCH /api/contacts/{id}"},
 * {@code "DELETE /api/contacts/{id}"} (other paths under their literal path). Each request is also
 * logged with its arrival time and answer ({@link #requests()}), so a test can check that a client
 * waited {@code Retry-After} before its next try. Over HTTP: {@code GET /__sim/stats} answers
 * {@code {"calls":{"GET /api/contacts":3,...},"total":3}}, {@code DELETE /__sim/stats} resets (204),
 * {@code GET /__sim/requests} lists
 * {@code {"requests":[{"endpoint":..,"method":..,"path":..,"receivedAt":..,"status":..}]}}.
 *
 * <h2>Running it</h2>
 * In a test: {@code try (var crm = GenericCrmSimulator.builder().token("t").build().start()) {...}}.
 * Standalone, after {@code mvn test-compile}, with the test class path:
 * {@code java dev.crmsync.sim.GenericCrmSimulator --port=8091 --token=dev-token --seed=25}
 * prints the base URL on its first line and runs until stopped.
 */
public final class GenericCrmSimulator extends SimulatorServer {

    public static final String CONTACTS = "/api/contacts";
    public static final int DEFAULT_LIMIT = 100;
    public static final int MAX_LIMIT = 500;

    /** The one form {@code LastModified} is written in: always milliseconds, always UTC {@code Z}. */
    public static final DateTimeFormatter TIMESTAMP =
            DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'", Locale.ROOT).withZone(ZoneOffset.UTC);

    private static final Set<String> SERVER_OWNED = Set.of("Id", "LastModified", "Deleted");
    private static final Comparator<Stored> KEYSET =
            Comparator.comparing(Stored::lastModified).thenComparing(Stored::id);
    private static final ObjectMapper JSON =
            new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final String CONTENT_TYPE = "application/json; charset=utf-8";

    private final String token;

    private final Object lock = new Object();
    private final NavigableMap<String, Stored> byId = new TreeMap<>();
    private final NavigableSet<Stored> byKeyset = new TreeSet<>(KEYSET);
    private long nextId = 1;
    private Instant latestStamp = Instant.EPOCH;

    private volatile Clock clock;
    private volatile boolean requireEmail;

    /** A stored record: the server-owned properties and the rest, as stored. */
    private record Stored(String id, Instant lastModified, boolean deleted, Map<String, Object> fields) {

        Map<String, Object> view() {
            Map<String, Object> view = new LinkedHashMap<>();
            view.put("Id", id);
            view.putAll(fields);
            view.put("LastModified", TIMESTAMP.format(lastModified));
            view.put("Deleted", deleted);
            return Collections.unmodifiableMap(view);
        }
    }

    private volatile long listingDelayMillis;

    public GenericCrmSimulator(String token) {
        this(token, 0);
    }

    public GenericCrmSimulator(String token, int port) {
        this(builder().token(token).port(port));
    }

    private GenericCrmSimulator(Builder b) {
        super("generic-crm-sim", CONTENT_TYPE, b.port, b.threads);
        if (b.token == null || b.token.isBlank()) {
            throw new IllegalArgumentException("the simulator needs a bearer token");
        }
        this.token = b.token;
        this.clock = b.clock;
        this.requireEmail = b.requireEmail;
    }

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder {
        private String token;
        private int port;
        private int threads = 8;
        private Clock clock = systemClock();
        private boolean requireEmail;

        private Builder() {
        }

        public Builder token(String token) {
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

        /** The clock {@code LastModified} is read from; by default the system clock in milliseconds. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        public Builder requireEmail(boolean requireEmail) {
            this.requireEmail = requireEmail;
            return this;
        }

        public GenericCrmSimulator build() {
            return new GenericCrmSimulator(this);
        }
    }

    // ---------------------------------------------------------------- lifecycle

    /** Starts serving on the loopback interface; answers this simulator. */
    @Override
    public synchronized GenericCrmSimulator start() {
        super.start();
        return this;
    }

    public String token() {
        return token;
    }

    // ---------------------------------------------------------------- clock and rules

    public Clock clock() {
        return clock;
    }

    /** Reads {@code LastModified} from this clock from now on (stamps still never go back). */
    public GenericCrmSimulator clock(Clock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
        return this;
    }

    /**
     * Stops the clock at the latest stamp or now, whichever is later: every write until the clock is
     * moved gets the same {@code LastModified}. Move it with the returned clock.
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

    public GenericCrmSimulator useSystemClock() {
        return clock(systemClock());
    }

    public GenericCrmSimulator requireEmail(boolean requireEmail) {
        this.requireEmail = requireEmail;
        return this;
    }

    public boolean requireEmail() {
        return requireEmail;
    }

    // ---------------------------------------------------------------- data, as a CRM user would

    /**
     * Inserts a record directly, as an import would: server-assigned {@code Id} and
     * {@code LastModified}, server-owned properties ignored, no rule checked (so a test can plant a
     * record the rules would refuse). Answers the stored record.
     */
    public Map<String, Object> seed(Map<String, ?> fields) {
        return insert(checkedValues(fields), false);
    }

    /** Seeds {@code count} demo contacts with realistic names, unique emails and E.164 phones. */
    public List<Map<String, Object>> seedDemo(int count) {
        List<Map<String, Object>> seeded = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            seeded.add(seed(demoContact(i)));
        }
        return seeded;
    }

    /** Every record, deleted ones included, ordered by {@code Id}. */
    public List<Map<String, Object>> records() {
        synchronized (lock) {
            return byId.values().stream().map(Stored::view).toList();
        }
    }

    /** The records not deleted, ordered by {@code Id}. */
    public List<Map<String, Object>> live() {
        synchronized (lock) {
            return byId.values().stream().filter(s -> !s.deleted()).map(Stored::view).toList();
        }
    }

    /** The record with this id, a tombstone if deleted. */
    public Optional<Map<String, Object>> find(String id) {
        synchronized (lock) {
            return Optional.ofNullable(byId.get(id)).map(Stored::view);
        }
    }

    /**
     * Edits a record as a user in the CRM's screens would, like {@code PATCH}: sets the given
     * properties, bumps {@code LastModified}, applies the rules.
     *
     * @throws NoSuchElementException for an unknown id
     * @throws IllegalStateException for a deleted record
     * @throws IllegalArgumentException for a value that is not a string, number, boolean or null, or a
     *     rule broken
     */
    public Map<String, Object> update(String id, Map<String, ?> fields) {
        return patch(id, checkedValues(fields));
    }

    /**
     * Deletes a record as a user would: it becomes a tombstone with a new {@code LastModified}.
     * Answers the tombstone.
     *
     * @throws NoSuchElementException for an unknown id
     * @throws IllegalStateException for a record already deleted
     */
    public Map<String, Object> delete(String id) {
        synchronized (lock) {
            Stored current = existing(id);
            Stored tombstone = new Stored(id, stamp(), true, current.fields());
            replace(current, tombstone);
            return tombstone.view();
        }
    }

    /**
     * Removes a record for good, deleted or not, as a CRM's privacy (GDPR) delete does: neither the
     * listing nor a read knows it afterwards.
     *
     * @throws NoSuchElementException for an unknown id
     */
    public void erase(String id) {
        synchronized (lock) {
            Stored current = byId.get(id);
            if (current == null) {
                throw new NotFound("No contact " + id);
            }
            byId.remove(id);
            byKeyset.remove(current);
        }
    }

    /**
     * Loses a record without deleting it, as a CRM reseeded or restored from an older backup would:
     * no tombstone, so neither the listing nor a read (404) knows it afterwards.
     *
     * @throws NoSuchElementException for an unknown id
     */
    public void forget(String id) {
        erase(id);
    }

    /**
     * Makes every changed-since listing (not a find by email) wait this long before it is read, as a
     * CRM slow to page would: a poll of this system then lands after other systems' polls.
     */
    public GenericCrmSimulator listingDelay(Duration delay) {
        listingDelayMillis = delay.toMillis();
        return this;
    }

    /** Forgets every record and restarts ids at {@code c-000001}; clears faults and counters too. */
    public void reset() {
        synchronized (lock) {
            byId.clear();
            byKeyset.clear();
            nextId = 1;
        }
        faults().clear();
        stats().reset();
    }

    // ---------------------------------------------------------------- store

    private Map<String, Object> insert(Map<String, Object> fields, boolean applyRules) {
        Map<String, Object> clean = withoutServerOwned(fields);
        synchronized (lock) {
            if (applyRules) {
                checkRules(clean);
            }
            Stored created = new Stored(String.format(Locale.ROOT, "c-%06d", nextId++), stamp(), false, clean);
            byId.put(created.id(), created);
            byKeyset.add(created);
            return created.view();
        }
    }

    private Map<String, Object> patch(String id, Map<String, Object> fields) {
        Map<String, Object> clean = withoutServerOwned(fields);
        synchronized (lock) {
            Stored current = existing(id);
            Map<String, Object> merged = new LinkedHashMap<>(current.fields());
            merged.putAll(clean);
            checkRules(merged);
            Stored updated = new Stored(id, stamp(), false, Collections.unmodifiableMap(merged));
            replace(current, updated);
            return updated.view();
        }
    }

    /** The live record with this id; call holding the lock. */
    private Stored existing(String id) {
        Stored current = byId.get(id);
        if (current == null) {
            throw new NotFound("No contact " + id);
        }
        if (current.deleted()) {
            throw new Gone("Contact " + id + " was deleted at " + TIMESTAMP.format(current.lastModified()));
        }
        return current;
    }

    private void replace(Stored old, Stored now) {
        byKeyset.remove(old);
        byKeyset.add(now);
        byId.put(now.id(), now);
    }

    private void checkRules(Map<String, Object> fields) {
        if (requireEmail) {
            Object email = fields.get("Email");
            if (email == null || (email instanceof String s && s.isBlank())) {
                throw new Invalid("Email is required", "Email");
            }
        }
    }

    /** The next {@code LastModified}: the clock in milliseconds, never before the last one. */
    private Instant stamp() {
        latestStamp = candidateStamp();
        return latestStamp;
    }

    private Instant candidateStamp() {
        Instant now = clock.instant().truncatedTo(ChronoUnit.MILLIS);
        return now.isAfter(latestStamp) ? now : latestStamp;
    }

    private static Map<String, Object> withoutServerOwned(Map<String, Object> fields) {
        Map<String, Object> clean = new LinkedHashMap<>(fields);
        clean.keySet().removeAll(SERVER_OWNED);
        return Collections.unmodifiableMap(clean);
    }

    private static Map<String, Object> checkedValues(Map<String, ?> fields) {
        Map<String, Object> checked = new LinkedHashMap<>();
        fields.forEach((name, value) -> {
            if (value != null && !(value instanceof String) && !(value instanceof Boolean)
                    && !(value instanceof Number)) {
                throw new Invalid("Property " + name + " must be a string, number, boolean or null, not "
                        + value.getClass().getSimpleName(), name);
            }
            checked.put(name, value);
        });
        return checked;
    }

    private static Clock systemClock() {
        return Clock.tick(Clock.systemUTC(), Duration.ofMillis(1));
    }

    private static final class NotFound extends NoSuchElementException {
        NotFound(String message) {
            super(message);
        }
    }

    private static final class Gone extends IllegalStateException {
        Gone(String message) {
            super(message);
        }
    }

    private static final class Invalid extends IllegalArgumentException {
        final String field;

        Invalid(String message, String field) {
            super(message);
            this.field = field;
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

        static Reply error(int status, String error, String message) {
            return error(status, error, message, null);
        }

        static Reply error(int status, String error, String message, String field) {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("error", error);
            body.put("message", message);
            if (field != null) {
                body.put("field", field);
            }
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

    @Override
    protected String path(HttpExchange exchange) {
        return exchange.getRequestURI().getPath();
    }

    @Override
    protected Call route(HttpExchange exchange, String method, String path) {
        return new Call(endpoint(method, path), path,
                fault -> fault.map(GenericCrmSimulator::faultReply).orElseGet(() -> api(exchange, method, path)));
    }

    @Override
    protected Reply failure(RuntimeException e) {
        return Reply.error(500, "server_error", "Simulator failure: " + e);
    }

    private static String endpoint(String method, String path) {
        if (path.equals(CONTACTS)) {
            return method + " " + CONTACTS;
        }
        if (itemId(path) != null) {
            return method + " " + CONTACTS + "/{id}";
        }
        return method + " " + path;
    }

    private static String itemId(String path) {
        if (!path.startsWith(CONTACTS + "/")) {
            return null;
        }
        String id = path.substring(CONTACTS.length() + 1);
        return id.isEmpty() || id.contains("/") ? null : id;
    }

    private static Reply faultReply(Faults.Action fault) {
        int status = fault.status();
        String error = status == 429 ? "rate_limited" : status >= 500 ? "server_error" : "fault";
        if (fault.kind() == Faults.Kind.RATE_LIMIT || status == 429) {
            return Reply.error(429, error, "Too many requests: retry after " + fault.retryAfterSeconds() + " s")
                    .with("Retry-After", Integer.toString(fault.retryAfterSeconds()));
        }
        return Reply.error(status, error, "Simulated " + status + " from the fault switches");
    }

    private Reply api(HttpExchange exchange, String method, String path) {
        if (!path.equals("/api") && !path.startsWith("/api/")) {
            return Reply.error(404, "not_found", "No endpoint " + method + " " + path
                    + "; the API is under " + CONTACTS);
        }
        if (!authorized(exchange.getRequestHeaders().getFirst("Authorization"))) {
            return Reply.error(401, "unauthorized", "Send Authorization: Bearer <token> with the simulator's token")
                    .with("WWW-Authenticate", "Bearer");
        }
        try {
            if (path.equals(CONTACTS)) {
                return switch (method) {
                    case "GET" -> list(query(exchange));
                    case "POST" -> {
                        Map<String, Object> created = insert(body(exchange), true);
                        yield Reply.json(201, created).with("Location", CONTACTS + "/" + created.get("Id"));
                    }
                    default -> notAllowed(method, path, "GET, POST");
                };
            }
            String id = itemId(path);
            if (id == null) {
                return Reply.error(404, "not_found", "No endpoint " + method + " " + path);
            }
            return switch (method) {
                case "GET" -> {
                    synchronized (lock) {
                        yield Reply.json(200, existing(id).view());
                    }
                }
                case "PATCH" -> Reply.json(200, patch(id, body(exchange)));
                case "DELETE" -> {
                    if ("true".equals(query(exchange).get("permanent"))) {
                        erase(id);
                    } else {
                        delete(id);
                    }
                    yield Reply.empty(204);
                }
                default -> notAllowed(method, path, "GET, PATCH, DELETE");
            };
        } catch (NotFound e) {
            return Reply.error(404, "not_found", e.getMessage());
        } catch (Gone e) {
            return Reply.error(410, "deleted", e.getMessage());
        } catch (Invalid e) {
            return Reply.error(400, "invalid", e.getMessage(), e.field);
        }
    }

    private boolean authorized(String header) {
        if (header == null || header.length() < 7 || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return false;
        }
        return header.substring(7).trim().equals(token);
    }

    private static Reply notAllowed(String method, String path, String allow) {
        return Reply.error(405, "method_not_allowed", method + " is not supported on " + path + "; use " + allow)
                .with("Allow", allow);
    }

    private Reply list(Map<String, String> query) {
        String email = query.get("email");
        if (email != null) {
            if (email.isBlank()) {
                throw new Invalid("email must not be empty", "email");
            }
            synchronized (lock) {
                List<Map<String, Object>> found = byId.values().stream()
                        .filter(s -> !s.deleted() && s.fields().get("Email") instanceof String e
                                && e.equalsIgnoreCase(email))
                        .map(Stored::view)
                        .toList();
                return Reply.json(200, Map.of("records", found));
            }
        }
        long delay = listingDelayMillis;
        if (delay > 0) {
            try {
                Thread.sleep(delay);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        Instant since = query.containsKey("modifiedSince") ? instant(query.get("modifiedSince")) : null;
        String afterId = query.get("afterId");
        if (afterId != null && afterId.isEmpty()) {
            afterId = null;
        }
        if (afterId != null && since == null) {
            throw new Invalid("afterId needs modifiedSince: pass both as given in the previous page's next",
                    "afterId");
        }
        int limit = limit(query.get("limit"));
        List<Stored> page = new ArrayList<>();
        boolean more = false;
        synchronized (lock) {
            NavigableSet<Stored> from = since == null ? byKeyset
                    : byKeyset.tailSet(new Stored(afterId == null ? "" : afterId, since, false, Map.of()),
                            afterId == null);
            for (Stored s : from) {
                if (page.size() == limit) {
                    more = true;
                    break;
                }
                page.add(s);
            }
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("records", page.stream().map(Stored::view).toList());
        if (more) {
            Stored last = page.get(page.size() - 1);
            Map<String, Object> next = new LinkedHashMap<>();
            next.put("modifiedSince", TIMESTAMP.format(last.lastModified()));
            next.put("afterId", last.id());
            body.put("next", next);
        }
        return Reply.json(200, body);
    }

    private static Instant instant(String text) {
        try {
            return Instant.parse(text);
        } catch (DateTimeParseException e) {
            try {
                return OffsetDateTime.parse(text).toInstant();
            } catch (DateTimeParseException again) {
                throw new Invalid("modifiedSince must be an ISO-8601 instant such as 2026-11-22T21:00:00.123Z, not '"
                        + text + "' (encode + as %2B)", "modifiedSince");
            }
        }
    }

    private static int limit(String text) {
        if (text == null) {
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
        throw new Invalid("limit must be a whole number from 1 to " + MAX_LIMIT + ", not '" + text + "'", "limit");
    }

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
            String name = decode(eq < 0 ? pair : pair.substring(0, eq));
            String value = eq < 0 ? "" : decode(pair.substring(eq + 1));
            params.putIfAbsent(name, value);
        }
        return params;
    }

    private static String decode(String s) {
        try {
            return URLDecoder.decode(s, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new Invalid("Malformed query string: " + e.getMessage(), null);
        }
    }

    /** The request body as one JSON object of scalar properties. */
    private static Map<String, Object> body(HttpExchange exchange) {
        JsonNode node;
        try (InputStream in = exchange.getRequestBody()) {
            byte[] bytes = in.readAllBytes();
            node = bytes.length == 0 ? null : JSON.readTree(bytes);
        } catch (IOException e) {
            throw new Invalid("Body must be one JSON object: "
                    + (e instanceof JsonProcessingException json ? json.getOriginalMessage() : e.getMessage()), null);
        }
        if (node == null || !node.isObject()) {
            throw new Invalid("Body must be one JSON object of the record's properties", null);
        }
        Map<String, Object> fields = new LinkedHashMap<>();
        node.fields().forEachRemaining(field -> {
            JsonNode value = field.getValue();
            Object scalar;
            if (value.isNull()) {
                scalar = null;
            } else if (value.isTextual()) {
                scalar = value.textValue();
            } else if (value.isBoolean()) {
                scalar = value.booleanValue();
            } else if (value.isNumber()) {
                scalar = value.numberValue();
            } else {
                throw new Invalid("Property " + field.getKey()
                        + " must be a string, number, boolean or null, not " + value.getNodeType(), field.getKey());
            }
            fields.put(field.getKey(), scalar);
        });
        return fields;
    }

    // ---------------------------------------------------------------- /__sim control endpoints

    @Override
    protected Reply control(HttpExchange exchange, String method, String path) {
        try {
            switch (method + " " + path) {
                case "POST /__sim/rules": {
                    Map<String, Object> body = body(exchange);
                    if (!(body.get("requireEmail") instanceof Boolean required)) {
                        throw new Invalid("Send {\"requireEmail\":true|false}", "requireEmail");
                    }
                    requireEmail(required);
                    return Reply.json(200, Map.of("requireEmail", requireEmail));
                }
                default:
                    return Reply.error(404, "not_found", "No control endpoint " + method + " " + path
                            + "; there are /__sim/stats, /__sim/requests, /__sim/faults and /__sim/rules");
            }
        } catch (IllegalArgumentException e) {
            return Reply.error(400, "invalid", e.getMessage(), e instanceof Invalid i ? i.field : null);
        }
    }

    // ---------------------------------------------------------------- demo data and main

    private static final String[] FIRST = {"Olivia", "Liam", "Emma", "Noah", "Ava", "Mateo", "Sophia", "Lucas",
        "Isabella", "Ethan", "Mia", "Aarav", "Chloe", "Kenji", "Amara", "Diego", "Priya", "Jonas", "Fatima", "Samuel"};
    private static final String[] LAST = {"Johnson", "Garcia", "Nguyen", "Smith", "Patel", "Kim", "Okafor",
        "Rossi", "Andersen", "Silva", "Cohen", "Tanaka", "Brown", "Martinez", "Novak", "Dubois", "Schmidt",
        "Haddad", "Walsh", "Lindqvist"};
    private static final String[] COMPANY = {"Northwind Traders", "Contoso Ltd", "Globex Corporation",
        "Initech", "Umbrella Health", "Stark Logistics", "Wayne Analytics", "Acme Robotics", "Hooli",
        "Tyrell Biotech"};
    private static final String[] TITLE = {"Account Executive", "VP of Sales", "Marketing Manager", "CTO",
        "Office Manager", "Customer Success Lead", "Procurement Officer", "Founder", "Data Analyst",
        "Head of Partnerships"};
    private static final String[] SOURCE = {"web", "referral", "event", "import", "partner"};

    /**
     * Demo contact {@code i}: first and last names combine so the first 400 are distinct people; after
     * that the email gets a number. Phones are +1 415 555 2671, 2672 ... in E.164.
     */
    public static Map<String, Object> demoContact(int i) {
        String first = FIRST[i % FIRST.length];
        String last = LAST[(i / FIRST.length + i) % LAST.length];
        int round = i / (FIRST.length * LAST.length);
        String local = (first + "." + last).toLowerCase(Locale.ROOT) + (round == 0 ? "" : Integer.toString(round + 1));
        Map<String, Object> contact = new LinkedHashMap<>();
        contact.put("Email", local + "@example.com");
        contact.put("FirstName", first);
        contact.put("LastName", last);
        contact.put("Phone", "+1415555" + (2671 + i % 7000));
        contact.put("Company", COMPANY[i % COMPANY.length]);
        contact.put("Title", TITLE[(i / 3) % TITLE.length]);
        contact.put("Source", SOURCE[i % SOURCE.length]);
        return contact;
    }

    /** {@code --port=<n>} (0: any free port), {@code --token=<t>}, {@code --seed=<n>}, {@code --require-email}. */
    public static void main(String[] args) throws InterruptedException {
        int port = 0;
        String token = null;
        int seed = 0;
        boolean requireEmail = false;
        for (String arg : args) {
            try {
                if (arg.startsWith("--port=")) {
                    port = Integer.parseInt(arg.substring(7));
                } else if (arg.startsWith("--token=")) {
                    token = arg.substring(8);
                } else if (arg.startsWith("--seed=")) {
                    seed = Integer.parseInt(arg.substring(7));
                } else if (arg.equals("--require-email")) {
                    requireEmail = true;
                } else {
                    usage("unknown argument " + arg);
                    return;
                }
            } catch (NumberFormatException e) {
                usage("not a number in " + arg);
                return;
            }
        }
        if (token == null || token.isBlank()) {
            byte[] random = new byte[12];
            new SecureRandom().nextBytes(random);
            token = "sim-" + HexFormat.of().formatHex(random);
        }
        GenericCrmSimulator crm = builder().token(token).port(port).requireEmail(requireEmail).build().start();
        crm.seedDemo(seed);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            crm.stop();
            stopped.countDown();
        }, "generic-crm-sim-shutdown"));
        System.out.println(crm.baseUrl());
        System.out.println("Generic CRM simulator: token " + token + ", " + seed + " contacts; "
                + "contacts at " + crm.baseUrl() + CONTACTS + ", counters at " + crm.baseUrl() + "/__sim/stats. "
                + "Ctrl-C stops it.");
        stopped.await();
    }

    private static void usage(String problem) {
        System.err.println(problem);
        System.err.println("usage: GenericCrmSimulator [--port=<n>] [--token=<token>] [--seed=<n>] [--require-email]");
        System.exit(2);
    }
}
