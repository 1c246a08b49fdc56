package dev.crmsync.sim.hubspot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Deque;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.IntStream;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.crmsync.sim.ManualClock;
import dev.crmsync.support.Http;
import dev.crmsync.support.Http.Reply;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The HubSpot simulator over real HTTP: contacts, paging, batch, search, errors, rate limits, and
 * webhooks to a local receiver whose signatures the test checks with its own HMAC.
 */
class HubSpotSimulatorTest {

    static final String TOKEN = "test-private-app-token";
    static final String SECRET = "test-client-secret";
    static final String CONTACTS = HubSpotSimulator.CONTACTS;
    static final Instant T0 = Instant.parse("2026-11-22T21:00:00Z");
    static final ObjectMapper JSON = new ObjectMapper();

    static {
        // The JDK HttpServer writes an answer's headers and body separately and, with Nagle's algorithm
        // on, the body waits out the client's delayed ACK: ~40 ms a call on Linux loopback. The property
        // is read once per JVM, so this helps only when no HttpServer started before this class (as when
        // it runs alone); the tests pass either way, just slower.
        System.setProperty("sun.net.httpserver.nodelay", "true");
    }

    HubSpotSimulator hs;
    ManualClock clock;
    Http api;
    Receiver receiver;

    @BeforeEach
    void start() {
        clock = new ManualClock(T0);
        hs = HubSpotSimulator.builder().token(TOKEN).clock(clock).clientSecret(SECRET)
                .webhookFlushInterval(Duration.ofMillis(20)).webhookRetryDelay(Duration.ofMillis(20))
                .build().start();
        api = new Http(hs.port()).withHeader("Authorization", "Bearer " + TOKEN);
    }

    @AfterEach
    void stop() {
        hs.stop();
        if (receiver != null) {
            receiver.close();
        }
    }

    // ---------------------------------------------------------------- helpers

    static String json(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    static Map<String, Object> props(String... pairs) {
        Map<String, Object> props = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            props.put(pairs[i], pairs[i + 1]);
        }
        return props;
    }

    static String createBody(String... pairs) {
        return json(Map.of("properties", props(pairs)));
    }

    static JsonNode ok(Reply reply, int status) {
        assertThat(reply.status()).as(reply.toString()).isEqualTo(status);
        return reply.body().isEmpty() ? null : reply.json();
    }

    /** Checks a HubSpot error body and answers it. */
    static JsonNode error(Reply reply, int status, String category) {
        assertThat(reply.status()).as(reply.toString()).isEqualTo(status);
        JsonNode body = reply.json();
        assertThat(body.get("status").asText()).isEqualTo("error");
        assertThat(body.get("category").asText()).as(reply.toString()).isEqualTo(category);
        assertThat(body.get("message").asText()).isNotBlank();
        assertThat(UUID.fromString(body.get("correlationId").asText())).isNotNull();
        return body;
    }

    String create(String... pairs) {
        return ok(api.post(CONTACTS, createBody(pairs)), 201).get("id").asText();
    }

    static List<String> ids(JsonNode results) {
        List<String> ids = new ArrayList<>();
        results.forEach(r -> ids.add(r.get("id").asText()));
        return ids;
    }

    static Map<String, Object> filter(String property, String operator, Object value) {
        Map<String, Object> filter = new LinkedHashMap<>();
        filter.put("propertyName", property);
        filter.put("operator", operator);
        filter.put("value", value);
        return filter;
    }

    @SafeVarargs
    static Map<String, Object> group(Map<String, Object>... filters) {
        return Map.of("filters", List.of(filters));
    }

    /** A search; the clock moves a second first so tests stay under the search limit. */
    Reply search(Map<String, Object> body) {
        clock.advance(Duration.ofSeconds(1));
        return api.post(CONTACTS + "/search", json(body));
    }

    static String v3(String secret, String uri, String body, String timestamp) throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        return Base64.getEncoder().encodeToString(
                mac.doFinal(("POST" + uri + body + timestamp).getBytes(StandardCharsets.UTF_8)));
    }

    Receiver receiver() {
        receiver = new Receiver();
        hs.webhooks().target(receiver.url());
        return receiver;
    }

    void awaitWebhooks() {
        assertThat(hs.webhooks().awaitIdle(Duration.ofSeconds(10))).as("webhooks delivered in time").isTrue();
    }

    static List<String> types(List<JsonNode> events) {
        return events.stream().map(e -> e.get("subscriptionType").asText()
                + (e.has("propertyName") ? ":" + e.get("propertyName").asText() : "")).toList();
    }

    /** A webhook endpoint that records every request and answers the statuses it is told to, then 204. */
    static final class Receiver implements AutoCloseable {

        record Received(String method, String pathAndQuery, Map<String, String> headers, String body, long nanos) {
            JsonNode json() {
                try {
                    return JSON.readTree(body);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }

        private final HttpServer server;
        private final ExecutorService threads = Executors.newCachedThreadPool();
        private final List<Received> received = new ArrayList<>();
        private final Deque<Integer> statuses = new ArrayDeque<>();
        private int otherwise = 204;
        private Duration stallFirst = Duration.ZERO;

        Receiver() {
            try {
                server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            server.setExecutor(threads);
            server.createContext("/", exchange -> {
                try (InputStream in = exchange.getRequestBody()) {
                    Map<String, String> headers = new LinkedHashMap<>();
                    exchange.getRequestHeaders().forEach((k, v) -> headers.put(k.toLowerCase(), v.get(0)));
                    int status;
                    Duration stall;
                    synchronized (this) {
                        received.add(new Received(exchange.getRequestMethod(),
                                exchange.getRequestURI().toString(), headers,
                                new String(in.readAllBytes(), StandardCharsets.UTF_8), System.nanoTime()));
                        status = statuses.isEmpty() ? otherwise : statuses.removeFirst();
                        stall = stallFirst;
                        stallFirst = Duration.ZERO;
                    }
                    if (!stall.isZero()) {
                        Thread.sleep(stall.toMillis());
                    }
                    exchange.sendResponseHeaders(status, -1);
                } catch (IOException | InterruptedException e) {
                    // The sender gave up waiting; nothing to answer.
                } finally {
                    exchange.close();
                }
            });
            server.start();
        }

        /** Holds the answer to the next request this long. */
        synchronized Receiver stallFirst(Duration stall) {
            stallFirst = stall;
            return this;
        }

        /** The URL the simulator is given, with a query so the signed URI is the full one. */
        String url() {
            return "http://127.0.0.1:" + server.getAddress().getPort() + "/webhooks/hubspot?portal=sim";
        }

        synchronized Receiver answer(int... next) {
            for (int status : next) {
                statuses.addLast(status);
            }
            return this;
        }

        synchronized Receiver otherwise(int status) {
            otherwise = status;
            return this;
        }

        synchronized List<Received> received() {
            return List.copyOf(received);
        }

        /** Every event of every request received, in arrival order. */
        List<JsonNode> events() {
            List<JsonNode> events = new ArrayList<>();
            received().forEach(r -> r.json().forEach(events::add));
            return events;
        }

        @Override
        public void close() {
            server.stop(0);
            threads.shutdownNow();
        }
    }

    // ---------------------------------------------------------------- auth and contacts

    @Test
    void callsWithoutTheTokenAre401InvalidAuthenticationAndCountAgainstNoLimit() {
        Http anonymous = new Http(hs.port());
        JsonNode missing = error(anonymous.get(CONTACTS), 401, "INVALID_AUTHENTICATION");
        assertThat(missing.has("context")).isFalse();
        Reply wrong = anonymous.post(CONTACTS, createBody("email", "a@example.com"), "Authorization", "Bearer nope");
        error(wrong, 401, "INVALID_AUTHENTICATION");
        assertThat(wrong.header("X-HubSpot-RateLimit-Remaining")).isNull();
        error(anonymous.get(CONTACTS, "Authorization", "Basic " + TOKEN), 401, "INVALID_AUTHENTICATION");

        assertThat(hs.records()).isEmpty();
        assertThat(hs.dailyUsed()).isZero();
        assertThat(hs.calls("GET " + CONTACTS)).isEqualTo(2);
        // The control endpoints need no token.
        assertThat(anonymous.get("/__sim/stats").status()).isEqualTo(200);
    }

    @Test
    void createAnswers201WithStringPropertiesAndServerOwnedIdAndTimes() {
        Map<String, Object> properties = props("email", "Ada@Example.com", "firstname", "Ada", "lastname",
                "Lovelace", "company", "Analytical Engines", "hs_custom_tier", "gold");
        properties.put("numberofemployees", 12);
        JsonNode created = ok(api.post(CONTACTS, json(Map.of("properties", properties))), 201);

        assertThat(created.get("id").asText()).isEqualTo("1");
        JsonNode p = created.get("properties");
        assertThat(p.get("email").asText()).isEqualTo("Ada@Example.com");
        assertThat(p.get("hs_custom_tier").asText()).isEqualTo("gold");
        assertThat(p.get("numberofemployees").isTextual()).isTrue();
        assertThat(p.get("numberofemployees").asText()).isEqualTo("12");
        assertThat(p.get("hs_object_id").asText()).isEqualTo("1");
        assertThat(p.get("createdate").asText()).isEqualTo("2026-11-22T21:00:00.000Z");
        assertThat(p.get("lastmodifieddate").asText()).isEqualTo("2026-11-22T21:00:00.000Z");
        assertThat(created.get("createdAt").asText()).isEqualTo("2026-11-22T21:00:00.000Z");
        assertThat(created.get("updatedAt").asText()).isEqualTo("2026-11-22T21:00:00.000Z");
        assertThat(created.get("archived").asBoolean()).isFalse();
        assertThat(created.has("archivedAt")).isFalse();

        assertThat(create("email", "grace@example.com")).isEqualTo("2");
        assertThat(HubSpotSimulator.property(hs.find("1").orElseThrow(), "company")).isEqualTo("Analytical Engines");
    }

    @Test
    void aTakenEmailIgnoringCaseIs409ObjectAlreadyExistsNamingTheExistingId() {
        String ada = create("email", "ada@example.com", "firstname", "Ada");
        String grace = create("email", "grace@example.com");

        JsonNode body = error(api.post(CONTACTS, createBody("email", "ADA@example.COM")), 409,
                "OBJECT_ALREADY_EXISTS");
        assertThat(body.get("message").asText()).isEqualTo("Contact already exists. Existing ID: " + ada);
        // An update onto another contact's email is refused the same way.
        error(api.patch(CONTACTS + "/" + grace, createBody("email", "Ada@Example.com")), 409, "OBJECT_ALREADY_EXISTS");

        assertThat(hs.live()).hasSize(2);
        assertThat(HubSpotSimulator.property(hs.find(grace).orElseThrow(), "email")).isEqualTo("grace@example.com");
    }

    @Test
    void readOnlyPropertiesBadValuesAndBadJsonAre400ValidationErrorsThatStoreNothing() {
        JsonNode readOnly = error(api.post(CONTACTS, createBody("email", "a@example.com", "hs_object_id", "7")),
                400, "VALIDATION_ERROR");
        assertThat(readOnly.get("context").get("propertyName").get(0).asText()).isEqualTo("hs_object_id");
        error(api.post(CONTACTS, createBody("lastmodifieddate", "2020-01-01T00:00:00Z")), 400, "VALIDATION_ERROR");
        JsonNode badEmail = error(api.post(CONTACTS, createBody("email", "not-an-address")), 400, "VALIDATION_ERROR");
        assertThat(badEmail.get("context").get("propertyName").get(0).asText()).isEqualTo("email");
        error(api.post(CONTACTS, json(Map.of("properties", Map.of("tags", List.of("vip"))))), 400,
                "VALIDATION_ERROR");
        error(api.post(CONTACTS, "{\"properties\":"), 400, "VALIDATION_ERROR");
        error(api.post(CONTACTS, "[]"), 400, "VALIDATION_ERROR");

        assertThat(hs.records()).isEmpty();
    }

    @Test
    void readsAnswerDefaultOrRequestedPropertiesByIdOrByEmail() {
        String id = create("email", "ada@example.com", "firstname", "Ada", "lastname", "Lovelace", "phone",
                "+14155552671");

        JsonNode byDefault = ok(api.get(CONTACTS + "/" + id), 200).get("properties");
        assertThat(JSON.convertValue(byDefault, Map.class)).containsOnlyKeys("createdate", "email", "firstname",
                "hs_object_id", "lastmodifieddate", "lastname");

        JsonNode requested = ok(api.get(CONTACTS + "/" + id + "?properties=phone,jobtitle"), 200).get("properties");
        assertThat(JSON.convertValue(requested, Map.class)).containsOnlyKeys("phone", "jobtitle", "createdate",
                "hs_object_id", "lastmodifieddate");
        assertThat(requested.get("phone").asText()).isEqualTo("+14155552671");
        assertThat(requested.get("jobtitle").isNull()).isTrue();
        JsonNode repeated = ok(api.get(CONTACTS + "/" + id + "?properties=phone&properties=email"), 200);
        assertThat(repeated.get("properties").get("email").asText()).isEqualTo("ada@example.com");

        JsonNode byEmail = ok(api.get(CONTACTS + "/" + enc("ADA@example.com") + "?idProperty=email"), 200);
        assertThat(byEmail.get("id").asText()).isEqualTo(id);

        JsonNode missing = error(api.get(CONTACTS + "/999"), 404, "OBJECT_NOT_FOUND");
        assertThat(missing.get("context").get("ids").get(0).asText()).isEqualTo("999");
        error(api.get(CONTACTS + "/" + enc("nobody@example.com") + "?idProperty=email"), 404, "OBJECT_NOT_FOUND");
        error(api.get(CONTACTS + "/abc"), 404, "OBJECT_NOT_FOUND");
        error(api.get(CONTACTS + "/" + id + "?idProperty=phone"), 400, "VALIDATION_ERROR");
    }

    @Test
    void patchSetsAndClearsPropertiesAndMovesOnlyTheModificationTime() {
        String id = create("email", "ada@example.com", "firstname", "Ada", "phone", "+14155552671");
        clock.advance(Duration.ofMillis(1500));

        JsonNode patched = ok(api.patch(CONTACTS + "/" + id,
                json(Map.of("properties", props("firstname", "Augusta", "phone", "", "jobtitle", "Countess")))), 200);

        JsonNode p = patched.get("properties");
        assertThat(p.get("firstname").asText()).isEqualTo("Augusta");
        assertThat(p.get("jobtitle").asText()).isEqualTo("Countess");
        assertThat(p.has("phone")).isFalse();
        assertThat(patched.get("createdAt").asText()).isEqualTo("2026-11-22T21:00:00.000Z");
        assertThat(patched.get("updatedAt").asText()).isEqualTo("2026-11-22T21:00:01.500Z");
        assertThat(p.get("lastmodifieddate").asText()).isEqualTo("2026-11-22T21:00:01.500Z");

        clock.advance(Duration.ofSeconds(1));
        JsonNode unchanged = ok(api.patch(CONTACTS + "/" + id, createBody("firstname", "Augusta")), 200);
        assertThat(unchanged.get("updatedAt").asText()).as("a write that changes nothing moves nothing")
                .isEqualTo("2026-11-22T21:00:01.500Z");

        JsonNode byEmail = ok(api.patch(CONTACTS + "/" + enc("ada@example.com") + "?idProperty=email",
                createBody("lastname", "King")), 200);
        assertThat(byEmail.get("properties").get("lastname").asText()).isEqualTo("King");
        error(api.patch(CONTACTS + "/999", createBody("firstname", "X")), 404, "OBJECT_NOT_FOUND");
    }

    @Test
    void deleteArchivesTheContactFreesItsEmailAndIsIdempotent() {
        String id = create("email", "ada@example.com", "firstname", "Ada");
        clock.advance(Duration.ofSeconds(2));

        assertThat(api.delete(CONTACTS + "/" + id).status()).isEqualTo(204);

        error(api.get(CONTACTS + "/" + id), 404, "OBJECT_NOT_FOUND");
        error(api.patch(CONTACTS + "/" + id, createBody("firstname", "X")), 404, "OBJECT_NOT_FOUND");
        JsonNode archived = ok(api.get(CONTACTS + "/" + id + "?archived=true"), 200);
        assertThat(archived.get("archived").asBoolean()).isTrue();
        assertThat(archived.get("archivedAt").asText()).isEqualTo("2026-11-22T21:00:02.000Z");
        assertThat(archived.get("properties").get("email").asText()).isEqualTo("ada@example.com");
        assertThat(ok(api.get(CONTACTS), 200).get("results")).isEmpty();
        assertThat(ids(ok(api.get(CONTACTS + "?archived=true"), 200).get("results"))).containsExactly(id);

        assertThat(api.delete(CONTACTS + "/" + id).status()).isEqualTo(204);
        assertThat(api.delete(CONTACTS + "/424242").status()).isEqualTo(204);
        String again = create("email", "ADA@example.com");
        assertThat(again).isNotEqualTo(id);
        assertThat(hs.live()).hasSize(1);
        assertThat(hs.records()).hasSize(2);
    }

    @Test
    void listingPagesByCursorAndLinkUntilNoPagingIsLeft() {
        hs.seedDemo(25);
        List<String> seen = new ArrayList<>();
        List<Integer> sizes = new ArrayList<>();
        String path = CONTACTS + "?limit=10&properties=email,phone";
        for (int guard = 0; guard < 10 && path != null; guard++) {
            JsonNode page = ok(api.get(path), 200);
            seen.addAll(ids(page.get("results")));
            sizes.add(page.get("results").size());
            page.get("results").forEach(r -> assertThat(r.get("properties").get("phone").asText()).startsWith("+1"));
            JsonNode next = page.path("paging").path("next");
            if (next.isMissingNode()) {
                path = null;
            } else {
                String link = next.get("link").asText();
                assertThat(link).startsWith(hs.baseUrl() + CONTACTS + "?after=" + next.get("after").asText());
                path = link.substring(hs.baseUrl().length());
            }
        }
        assertThat(sizes).containsExactly(10, 10, 5);
        assertThat(seen).containsExactlyElementsOf(IntStream.rangeClosed(1, 25).mapToObj(Integer::toString).toList());

        assertThat(ok(api.get(CONTACTS), 200).get("results")).hasSize(HubSpotSimulator.DEFAULT_LIMIT);
        assertThat(ok(api.get(CONTACTS + "?limit=100"), 200).has("paging")).isFalse();
        error(api.get(CONTACTS + "?limit=101"), 400, "VALIDATION_ERROR");
        error(api.get(CONTACTS + "?limit=0"), 400, "VALIDATION_ERROR");
        error(api.get(CONTACTS + "?after=abc"), 400, "VALIDATION_ERROR");
        error(api.get(CONTACTS + "?archived=maybe"), 400, "VALIDATION_ERROR");
    }

    @Test
    void otherMethodsAre405AndOtherPathsAre404() {
        Reply put = api.put(CONTACTS + "/1", createBody("firstname", "X"));
        assertThat(put.status()).isEqualTo(405);
        assertThat(put.header("Allow")).isEqualTo("GET, PATCH, DELETE");
        assertThat(api.get(CONTACTS + "/search").status()).isEqualTo(405);
        error(api.get("/crm/v3/objects/companies"), 404, "OBJECT_NOT_FOUND");
        error(api.post(CONTACTS + "/batch/delete", json(Map.of("inputs", List.of()))), 404, "OBJECT_NOT_FOUND");
    }

    // ---------------------------------------------------------------- batch

    @Test
    void batchOfMoreThan100InputsIs400AndStoresNothing() {
        List<Map<String, Object>> inputs = IntStream.range(0, 101)
                .mapToObj(i -> Map.<String, Object>of("properties", props("email", "p" + i + "@example.com")))
                .toList();
        JsonNode refused = error(api.post(CONTACTS + "/batch/create", json(Map.of("inputs", inputs))), 400,
                "VALIDATION_ERROR");
        assertThat(refused.get("message").asText()).contains("100");
        assertThat(hs.records()).isEmpty();
        error(api.post(CONTACTS + "/batch/create", json(Map.of("input", List.of()))), 400, "VALIDATION_ERROR");

        JsonNode hundred = ok(api.post(CONTACTS + "/batch/create", json(Map.of("inputs", inputs.subList(0, 100)))),
                201);
        assertThat(hundred.get("status").asText()).isEqualTo("COMPLETE");
        assertThat(hundred.get("results")).hasSize(100);
        assertThat(hundred.has("numErrors")).isFalse();
        assertThat(hundred.get("startedAt").asText()).isEqualTo("2026-11-22T21:00:00.000Z");
        assertThat(hundred.get("completedAt").asText()).isEqualTo("2026-11-22T21:00:00.000Z");
        assertThat(hs.live()).hasSize(100);
    }

    @Test
    void batchCreateWithSomeBadInputsIs207AndSavesTheOthers() {
        String ada = create("email", "ada@example.com");
        List<Map<String, Object>> inputs = List.of(
                Map.of("properties", props("email", "grace@example.com", "firstname", "Grace")),
                Map.of("properties", props("email", "ADA@example.com")),
                Map.of("properties", props("email", "broken")),
                Map.of("properties", props("email", "alan@example.com")),
                Map.of("properties", props("email", "Alan@example.com")));

        JsonNode reply = ok(api.post(CONTACTS + "/batch/create", json(Map.of("inputs", inputs))), 207);

        assertThat(reply.get("status").asText()).isEqualTo("COMPLETE");
        assertThat(reply.get("numErrors").asInt()).isEqualTo(3);
        List<String> emails = new ArrayList<>();
        reply.get("results").forEach(r -> emails.add(r.get("properties").get("email").asText()));
        assertThat(emails).containsExactly("grace@example.com", "alan@example.com");
        JsonNode errors = reply.get("errors");
        assertThat(errors.get(0).get("status").asText()).isEqualTo("error");
        assertThat(errors.get(0).get("category").asText()).isEqualTo("OBJECT_ALREADY_EXISTS");
        assertThat(errors.get(0).get("message").asText()).isEqualTo("Contact already exists. Existing ID: " + ada);
        assertThat(errors.get(1).get("category").asText()).isEqualTo("VALIDATION_ERROR");
        assertThat(errors.get(1).get("context").get("propertyName").get(0).asText()).isEqualTo("email");
        assertThat(errors.get(2).get("message").asText()).contains("Existing ID: "
                + hs.findByEmail("alan@example.com").orElseThrow().get("id"));
        assertThat(hs.live()).hasSize(3);
    }

    @Test
    void batchReadFindsByIdOrEmailFollowsMergesAndReportsTheMissingAs207() {
        String ada = create("email", "ada@example.com", "firstname", "Ada", "phone", "+14155552671");
        String grace = create("email", "grace@example.com", "firstname", "Grace");
        String gone = create("email", "gone@example.com");
        api.delete(CONTACTS + "/" + gone);

        JsonNode all = ok(api.post(CONTACTS + "/batch/read", json(Map.of("inputs",
                List.of(Map.of("id", ada), Map.of("id", grace)), "properties", List.of("phone")))), 200);
        assertThat(ids(all.get("results"))).containsExactly(ada, grace);
        assertThat(all.get("results").get(0).get("properties").get("phone").asText()).isEqualTo("+14155552671");
        assertThat(all.get("results").get(0).get("properties").has("firstname")).isFalse();

        JsonNode partly = ok(api.post(CONTACTS + "/batch/read", json(Map.of("inputs",
                List.of(Map.of("id", ada), Map.of("id", gone), Map.of("id", "777"))))), 207);
        assertThat(ids(partly.get("results"))).containsExactly(ada);
        assertThat(partly.get("numErrors").asInt()).isEqualTo(2);
        assertThat(partly.get("errors").get(0).get("category").asText()).isEqualTo("OBJECT_NOT_FOUND");
        assertThat(partly.get("errors").get(0).get("context").get("ids").get(0).asText()).isEqualTo(gone);
        assertThat(partly.get("errors").get(1).get("context").get("ids").get(0).asText()).isEqualTo("777");

        JsonNode byEmail = ok(api.post(CONTACTS + "/batch/read", json(Map.of("idProperty", "email",
                "inputs", List.of(Map.of("id", "GRACE@example.com"))))), 200);
        assertThat(ids(byEmail.get("results"))).containsExactly(grace);

        hs.merge(ada, grace);
        JsonNode merged = ok(api.post(CONTACTS + "/batch/read", json(Map.of("inputs", List.of(Map.of("id", grace))))),
                200);
        assertThat(ids(merged.get("results"))).containsExactly(ada);
    }

    @Test
    void batchReadWithHistoriesDatesEachPropertyByItsOwnLastChangeNotByTheContacts() {
        String ada = create("email", "ada@example.com", "jobtitle", "Clerk");
        Instant created = clock.instant();
        clock.advance(Duration.ofSeconds(5));
        api.patch(CONTACTS + "/" + ada, json(Map.of("properties", props("jobtitle", "Countess"))));
        Instant titled = clock.instant();
        clock.advance(Duration.ofSeconds(5));
        api.patch(CONTACTS + "/" + ada, json(Map.of("properties", props("phone", "+14155552671"))));

        JsonNode read = ok(api.post(CONTACTS + "/batch/read", json(Map.of("inputs", List.of(Map.of("id", ada)),
                "properties", List.of("jobtitle", "phone"), "propertiesWithHistory", List.of("email", "jobtitle", "company")))), 200);
        JsonNode contact = read.get("results").get(0);
        assertThat(Instant.parse(contact.get("updatedAt").asText())).isEqualTo(clock.instant());
        JsonNode histories = contact.get("propertiesWithHistory");
        assertThat(histories.get("jobtitle")).extracting(v -> v.get("value").asText()).containsExactly("Countess", "Clerk");
        assertThat(Instant.parse(histories.get("jobtitle").get(0).get("timestamp").asText())).isEqualTo(titled);
        assertThat(histories.get("jobtitle").get(0).get("sourceType").asText()).isEqualTo("INTEGRATION");
        assertThat(Instant.parse(histories.get("email").get(0).get("timestamp").asText())).isEqualTo(created);
        assertThat(histories.get("company")).isEmpty();
        assertThat(histories.has("phone")).isFalse();
        // a plain read has none
        assertThat(ok(api.post(CONTACTS + "/batch/read", json(Map.of("inputs", List.of(Map.of("id", ada))))), 200)
                .get("results").get(0).has("propertiesWithHistory")).isFalse();

        List<Map<String, String>> many = new ArrayList<>();
        for (int i = 0; i < 51; i++) {
            many.add(Map.of("id", ada));
        }
        Reply tooMany = api.post(CONTACTS + "/batch/read", json(Map.of("inputs", many, "propertiesWithHistory", List.of("email"))));
        assertThat(tooMany.status()).isEqualTo(400);
        assertThat(tooMany.json().get("message").asText()).contains("property histories is 50");
    }

    @Test
    void batchUpdateSavesWhatItCanAndRefusesTheSameIdTwice() {
        String ada = create("email", "ada@example.com", "firstname", "Ada");
        String grace = create("email", "grace@example.com", "firstname", "Grace");

        JsonNode reply = ok(api.post(CONTACTS + "/batch/update", json(Map.of("inputs", List.of(
                Map.of("id", ada, "properties", props("jobtitle", "Countess")),
                Map.of("id", "404", "properties", props("jobtitle", "Nobody")),
                Map.of("id", grace, "properties", props("email", "ada@example.com")),
                Map.of("id", "grace@example.com", "idProperty", "email", "properties", props("lastname", "Hopper")))))),
                207);

        assertThat(ids(reply.get("results"))).containsExactly(ada, grace);
        assertThat(reply.get("numErrors").asInt()).isEqualTo(2);
        assertThat(reply.get("errors").get(0).get("category").asText()).isEqualTo("OBJECT_NOT_FOUND");
        assertThat(reply.get("errors").get(1).get("category").asText()).isEqualTo("OBJECT_ALREADY_EXISTS");
        assertThat(HubSpotSimulator.property(hs.find(ada).orElseThrow(), "jobtitle")).isEqualTo("Countess");
        assertThat(HubSpotSimulator.property(hs.find(grace).orElseThrow(), "lastname")).isEqualTo("Hopper");
        assertThat(HubSpotSimulator.property(hs.find(grace).orElseThrow(), "email")).isEqualTo("grace@example.com");

        error(api.post(CONTACTS + "/batch/update", json(Map.of("inputs", List.of(
                Map.of("id", ada, "properties", props("firstname", "A")),
                Map.of("id", ada, "properties", props("firstname", "B")))))), 400, "VALIDATION_ERROR");
        assertThat(HubSpotSimulator.property(hs.find(ada).orElseThrow(), "firstname")).isEqualTo("Ada");
    }

    @Test
    void batchUpsertByEmailUpdatesTheLiveContactOrCreatesOne() {
        String ada = create("email", "ada@example.com", "firstname", "Ada");

        JsonNode reply = ok(api.post(CONTACTS + "/batch/upsert", json(Map.of("inputs", List.of(
                Map.of("id", "ADA@example.com", "idProperty", "email", "properties", props("jobtitle", "Countess")),
                Map.of("id", "grace@example.com", "idProperty", "email", "properties", props("firstname", "Grace")))))),
                200);

        JsonNode results = reply.get("results");
        assertThat(results.get(0).get("id").asText()).isEqualTo(ada);
        assertThat(results.get(0).get("new").asBoolean()).isFalse();
        assertThat(results.get(0).get("properties").get("email").asText()).isEqualTo("ada@example.com");
        assertThat(results.get(0).get("properties").get("jobtitle").asText()).isEqualTo("Countess");
        assertThat(results.get(1).get("new").asBoolean()).isTrue();
        assertThat(results.get(1).get("properties").get("email").asText()).isEqualTo("grace@example.com");
        assertThat(hs.live()).hasSize(2);

        error(api.post(CONTACTS + "/batch/upsert", json(Map.of("inputs", List.of(
                Map.of("id", "x@example.com", "properties", props("firstname", "X")))))), 400, "VALIDATION_ERROR");
        error(api.post(CONTACTS + "/batch/upsert", json(Map.of("inputs", List.of(
                Map.of("id", "x@example.com", "idProperty", "email"),
                Map.of("id", "X@example.com", "idProperty", "email"))))), 400, "VALIDATION_ERROR");
        assertThat(hs.live()).hasSize(2);
    }

    @Test
    void batchArchiveIs204AndIgnoresUnknownIds() {
        String ada = create("email", "ada@example.com");
        String grace = create("email", "grace@example.com");
        String alan = create("email", "alan@example.com");

        Reply reply = api.post(CONTACTS + "/batch/archive", json(Map.of("inputs",
                List.of(Map.of("id", ada), Map.of("id", alan), Map.of("id", "999")))));

        assertThat(reply.status()).isEqualTo(204);
        assertThat(reply.body()).isEmpty();
        assertThat(hs.live()).extracting(c -> c.get("id")).containsExactly(grace);
    }

    // ---------------------------------------------------------------- unique-value properties

    static final String CRM_ID = "crm_id";

    /** Serves from a simulator declaring crm_id and legacy_id unique, in place of the default one. */
    void declareUnique() {
        hs.stop();
        hs = HubSpotSimulator.builder().token(TOKEN).clock(clock).uniqueProperty(CRM_ID).uniqueProperty("legacy_id")
                .build().start();
        api = new Http(hs.port()).withHeader("Authorization", "Bearer " + TOKEN);
    }

    static String taken(String value, String onId, String holderId) {
        return "Cannot set PropertyValueCoordinates{portalId=" + HubSpotSimulator.DEFAULT_PORTAL_ID
                + ", objectTypeId=ObjectTypeId{legacyObjectType=CONTACT}, propertyName=" + CRM_ID + ", value=" + value
                + "} on " + onId + ". " + holderId + " already has that value.";
    }

    @Test
    void aCreateTakingAnotherContactsUniqueValueIs400NamingTheIdItWouldGetAndTheHolder() {
        declareUnique();
        String ada = create("email", "ada@example.com", CRM_ID, "A-7");

        JsonNode refused = error(api.post(CONTACTS, createBody("email", "grace@example.com", CRM_ID, "A-7")), 400,
                "VALIDATION_ERROR");

        assertThat(refused.get("message").asText()).isEqualTo(taken("A-7", "2", ada));
        assertThat(hs.findByEmail("grace@example.com")).isEmpty();
        // The refused create used up id 2; values compare exactly, so another case is another value.
        assertThat(create("email", "grace@example.com", CRM_ID, "a-7")).isEqualTo("3");
        assertThatThrownBy(() -> hs.seed(props(CRM_ID, "A-7"))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("already has that value");
        assertThatThrownBy(() -> hs.create(props(CRM_ID, "A-7"))).isInstanceOf(IllegalArgumentException.class);
        assertThat(hs.live()).hasSize(2);
    }

    @Test
    void anUpdateTakingAnotherContactsUniqueValueIs400AndChangesNothing() {
        declareUnique();
        String ada = create("email", "ada@example.com", CRM_ID, "A-7");
        String grace = create("email", "grace@example.com", CRM_ID, "G-1", "firstname", "Grace");

        JsonNode refused = error(api.patch(CONTACTS + "/" + grace, createBody(CRM_ID, "A-7", "firstname", "Amazing")),
                400, "VALIDATION_ERROR");

        assertThat(refused.get("message").asText()).isEqualTo(taken("A-7", grace, ada));
        Map<String, Object> unchanged = hs.find(grace).orElseThrow();
        assertThat(HubSpotSimulator.property(unchanged, CRM_ID)).isEqualTo("G-1");
        assertThat(HubSpotSimulator.property(unchanged, "firstname")).isEqualTo("Grace");
        // Writing a contact's own value is no conflict, and a cleared value is free for another.
        ok(api.patch(CONTACTS + "/" + ada, createBody(CRM_ID, "A-7", "firstname", "Ada")), 200);
        assertThatThrownBy(() -> hs.update(grace, props(CRM_ID, "A-7"))).isInstanceOf(IllegalArgumentException.class);
        ok(api.patch(CONTACTS + "/" + ada, createBody(CRM_ID, "")), 200);
        ok(api.patch(CONTACTS + "/" + grace, createBody(CRM_ID, "A-7")), 200);
    }

    @Test
    void batchInputsTakingAUniqueValueFailAloneAs207() {
        declareUnique();
        String ada = create("email", "ada@example.com", CRM_ID, "A-7");
        String grace = create("email", "grace@example.com");

        JsonNode created = ok(api.post(CONTACTS + "/batch/create", json(Map.of("inputs", List.of(
                Map.of("properties", props("email", "alan@example.com", CRM_ID, "B-1")),
                Map.of("properties", props("email", "edsger@example.com", CRM_ID, "A-7")),
                Map.of("properties", props("email", "barbara@example.com", CRM_ID, "B-1")))))), 207);
        assertThat(created.get("results")).extracting(r -> r.get("properties").get("email").asText())
                .containsExactly("alan@example.com");
        assertThat(created.get("numErrors").asInt()).isEqualTo(2);
        assertThat(created.get("errors")).extracting(e -> e.get("category").asText())
                .containsOnly("VALIDATION_ERROR");
        String alan = created.get("results").get(0).get("id").asText();
        assertThat(created.get("errors")).extracting(e -> e.get("message").asText()).satisfiesExactly(
                m -> assertThat(m).endsWith(". " + ada + " already has that value."),
                m -> assertThat(m).endsWith(". " + alan + " already has that value."));

        JsonNode updated = ok(api.post(CONTACTS + "/batch/update", json(Map.of("inputs", List.of(
                Map.of("id", ada, "properties", props("jobtitle", "Countess")),
                Map.of("id", grace, "properties", props(CRM_ID, "B-1")))))), 207);
        assertThat(ids(updated.get("results"))).containsExactly(ada);
        assertThat(updated.get("errors").get(0).get("message").asText()).isEqualTo(taken("B-1", grace, alan));

        JsonNode upserted = ok(api.post(CONTACTS + "/batch/upsert", json(Map.of("inputs", List.of(
                Map.of("id", "grace@example.com", "idProperty", "email", "properties", props(CRM_ID, "A-7")),
                Map.of("id", "linus@example.com", "idProperty", "email", "properties", props(CRM_ID, "A-7")),
                Map.of("id", "ada@example.com", "idProperty", "email", "properties", props("lastname", "King")))))),
                207);
        assertThat(ids(upserted.get("results"))).containsExactly(ada);
        assertThat(upserted.get("numErrors").asInt()).isEqualTo(2);
        assertThat(hs.findByEmail("linus@example.com")).isEmpty();
        assertThat(HubSpotSimulator.property(hs.find(grace).orElseThrow(), CRM_ID)).isNull();
    }

    @Test
    void archivingFreesAUniqueValueAndItsFormerHolderCannotBeRestoredOnceItIsTaken() {
        declareUnique();
        String ada = create("email", "ada@example.com", CRM_ID, "A-7");
        assertThat(api.delete(CONTACTS + "/" + ada).status()).isEqualTo(204);

        String grace = create("email", "grace@example.com", CRM_ID, "A-7");

        assertThat(ok(api.get(CONTACTS + "/A-7?idProperty=" + CRM_ID), 200).get("id").asText()).isEqualTo(grace);
        assertThatThrownBy(() -> hs.restore(ada)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(grace + " already has that value");
        api.post(CONTACTS + "/batch/archive", json(Map.of("inputs", List.of(Map.of("id", grace)))));
        assertThat(HubSpotSimulator.property(hs.restore(ada), CRM_ID)).isEqualTo("A-7");
        error(api.post(CONTACTS, createBody(CRM_ID, "A-7")), 400, "VALIDATION_ERROR");
    }

    @Test
    void aUniquePropertyNamesTheContactToReadOrPatchByItsExactValue() {
        declareUnique();
        String ada = create("email", "ada@example.com", CRM_ID, "A-7", "legacy_id", "L 1/2");

        JsonNode read = ok(api.get(CONTACTS + "/A-7?idProperty=" + CRM_ID + "&properties=" + CRM_ID), 200);
        assertThat(read.get("id").asText()).isEqualTo(ada);
        assertThat(read.get("properties").get(CRM_ID).asText()).isEqualTo("A-7");
        assertThat(ok(api.get(CONTACTS + "/" + enc("L 1/2").replace("+", "%20") + "?idProperty=legacy_id"), 200)
                .get("id").asText()).isEqualTo(ada);
        JsonNode missing = error(api.get(CONTACTS + "/a-7?idProperty=" + CRM_ID), 404, "OBJECT_NOT_FOUND");
        assertThat(missing.get("context").get("ids").get(0).asText()).isEqualTo("a-7");
        error(api.get(CONTACTS + "/" + ada + "?idProperty=" + CRM_ID), 404, "OBJECT_NOT_FOUND");

        JsonNode patched = ok(api.patch(CONTACTS + "/A-7?idProperty=" + CRM_ID, createBody("jobtitle", "Countess")),
                200);
        assertThat(patched.get("id").asText()).isEqualTo(ada);
        assertThat(HubSpotSimulator.property(hs.find(ada).orElseThrow(), "jobtitle")).isEqualTo("Countess");
        error(api.patch(CONTACTS + "/Z-9?idProperty=" + CRM_ID, createBody("jobtitle", "X")), 404, "OBJECT_NOT_FOUND");
    }

    @Test
    void batchReadByAUniquePropertyAnswersItWhenAskedForAndReportsUnheldValuesAs207() {
        declareUnique();
        String ada = create("email", "ada@example.com", CRM_ID, "A-7", "firstname", "Ada");
        String grace = create("email", "grace@example.com", CRM_ID, "G-1");

        JsonNode read = ok(api.post(CONTACTS + "/batch/read", json(Map.of("idProperty", CRM_ID, "properties",
                List.of(CRM_ID, "firstname"), "inputs", List.of(Map.of("id", "G-1"), Map.of("id", "Z-9"),
                        Map.of("id", "A-7"))))), 207);

        assertThat(ids(read.get("results"))).containsExactly(grace, ada);
        assertThat(read.get("results")).extracting(r -> r.get("properties").get(CRM_ID).asText())
                .containsExactly("G-1", "A-7");
        assertThat(read.get("numErrors").asInt()).isEqualTo(1);
        JsonNode missing = read.get("errors").get(0);
        assertThat(missing.get("category").asText()).isEqualTo("OBJECT_NOT_FOUND");
        assertThat(missing.get("context").get("ids").get(0).asText()).isEqualTo("Z-9");
        // Not asked for, the property is not answered, as any property.
        JsonNode plain = ok(api.post(CONTACTS + "/batch/read", json(Map.of("idProperty", CRM_ID,
                "inputs", List.of(Map.of("id", "A-7"))))), 200);
        assertThat(plain.get("results").get(0).get("properties").has(CRM_ID)).isFalse();
    }

    @Test
    void batchUpdateAndUpsertNameContactsByAUniqueProperty() {
        declareUnique();
        String ada = create("email", "ada@example.com", CRM_ID, "A-7");

        JsonNode updated = ok(api.post(CONTACTS + "/batch/update", json(Map.of("inputs", List.of(
                Map.of("id", "A-7", "idProperty", CRM_ID, "properties", props("jobtitle", "Countess")),
                Map.of("id", "Z-9", "idProperty", CRM_ID, "properties", props("jobtitle", "Nobody")))))), 207);
        assertThat(ids(updated.get("results"))).containsExactly(ada);
        assertThat(updated.get("errors").get(0).get("category").asText()).isEqualTo("OBJECT_NOT_FOUND");
        assertThat(HubSpotSimulator.property(hs.find(ada).orElseThrow(), "jobtitle")).isEqualTo("Countess");
        error(api.post(CONTACTS + "/batch/update", json(Map.of("inputs", List.of(
                Map.of("id", "A-7", "idProperty", CRM_ID, "properties", props("firstname", "A")),
                Map.of("id", "A-7", "idProperty", CRM_ID, "properties", props("firstname", "B")))))), 400,
                "VALIDATION_ERROR");

        JsonNode upserted = ok(api.post(CONTACTS + "/batch/upsert", json(Map.of("inputs", List.of(
                Map.of("id", "A-7", "idProperty", CRM_ID, "properties", props("lastname", "King")),
                Map.of("id", "N-1", "idProperty", CRM_ID, "properties", props("email", "grace@example.com")),
                Map.of("id", "alan@example.com", "idProperty", "email", "properties", props(CRM_ID, "T-1")))))),
                200);
        JsonNode results = upserted.get("results");
        assertThat(results.get(0).get("id").asText()).isEqualTo(ada);
        assertThat(results.get(0).get("new").asBoolean()).isFalse();
        assertThat(results.get(0).get("properties").get("lastname").asText()).isEqualTo("King");
        assertThat(results.get(1).get("new").asBoolean()).isTrue();
        assertThat(results.get(1).get("properties").get(CRM_ID).asText()).isEqualTo("N-1");
        assertThat(results.get(1).get("properties").get("email").asText()).isEqualTo("grace@example.com");
        assertThat(results.get(2).get("properties").get(CRM_ID).asText()).isEqualTo("T-1");
        error(api.post(CONTACTS + "/batch/upsert", json(Map.of("inputs", List.of(
                Map.of("id", "Q-1", "idProperty", CRM_ID), Map.of("id", "Q-1", "idProperty", CRM_ID))))), 400,
                "VALIDATION_ERROR");
        assertThat(hs.live()).hasSize(3);
    }

    @Test
    void anUndeclaredIdPropertyIsRefusedWhereverAnIdPropertyIsTaken() {
        String ada = create("email", "ada@example.com", CRM_ID, "A-7", "phone", "+14155552671");
        // Undeclared here: a property with a value is not unique for that.
        error(api.get(CONTACTS + "/A-7?idProperty=" + CRM_ID), 400, "VALIDATION_ERROR");
        declareUnique();
        create("email", "ada@example.com", "phone", "+14155552671");
        String phone = enc("+14155552671");

        error(api.get(CONTACTS + "/" + phone + "?idProperty=phone"), 400, "VALIDATION_ERROR");
        error(api.patch(CONTACTS + "/" + phone + "?idProperty=phone", createBody("jobtitle", "X")), 400,
                "VALIDATION_ERROR");
        error(api.post(CONTACTS + "/batch/read", json(Map.of("idProperty", "phone",
                "inputs", List.of(Map.of("id", "+14155552671"))))), 400, "VALIDATION_ERROR");
        error(api.post(CONTACTS + "/batch/update", json(Map.of("inputs", List.of(Map.of("id", "+14155552671",
                "idProperty", "phone", "properties", props("jobtitle", "X")))))), 400, "VALIDATION_ERROR");
        for (String idProperty : List.of("phone", "hs_object_id")) {
            error(api.post(CONTACTS + "/batch/upsert", json(Map.of("inputs", List.of(Map.of("id", ada,
                    "idProperty", idProperty, "properties", props("jobtitle", "X")))))), 400, "VALIDATION_ERROR");
        }
        assertThat(hs.live()).hasSize(1);
        assertThat(HubSpotSimulator.property(hs.live().get(0), "jobtitle")).isNull();
    }

    @Test
    void aMergeKeepsTheSurvivorsUniqueValueAndDropsTheMergedContacts() {
        declareUnique();
        String ada = create("email", "ada@example.com", CRM_ID, "A-7");
        String dup = create("email", "ada.l@example.com", CRM_ID, "D-1", "phone", "+14155552671");
        String grace = create("email", "grace@example.com");
        String dup2 = create("email", "grace.h@example.com", CRM_ID, "E-1");

        JsonNode survivor = ok(api.post(CONTACTS + "/merge", json(Map.of("primaryObjectId", ada,
                "objectIdToMerge", dup))), 200);
        Map<String, Object> withoutOwn = hs.merge(grace, dup2);

        assertThat(survivor.get("properties").get(CRM_ID).asText()).isEqualTo("A-7");
        assertThat(survivor.get("properties").get("phone").asText()).isEqualTo("+14155552671");
        assertThat(HubSpotSimulator.property(withoutOwn, CRM_ID)).as("not even when the survivor has none").isNull();
        assertThat(HubSpotSimulator.property(hs.find(dup).orElseThrow(), CRM_ID)).isEqualTo("D-1");
        // The merged contacts' values are free again.
        String other = create("email", "other@example.com", CRM_ID, "D-1");
        assertThat(ok(api.get(CONTACTS + "/D-1?idProperty=" + CRM_ID), 200).get("id").asText()).isEqualTo(other);
        error(api.get(CONTACTS + "/E-1?idProperty=" + CRM_ID), 404, "OBJECT_NOT_FOUND");
    }

    @Test
    void theCommandLineDeclaresUniquePropertiesRepeatedOrCommaSeparated() {
        HubSpotSimulator.Command command = HubSpotSimulator.command("--seed=3",
                "--unique-property=crm_id,legacy_id", "--unique-property=erp_id");

        assertThat(command.seed()).isEqualTo(3);
        assertThat(command.builder().build().uniqueProperties()).containsExactly("crm_id", "legacy_id", "erp_id");
        assertThat(HubSpotSimulator.command().builder().build().uniqueProperties()).isEmpty();
        assertThatThrownBy(() -> HubSpotSimulator.command("--unique-property="))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("in --unique-property=");
        assertThatThrownBy(() -> HubSpotSimulator.command("--unique-property=email"))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> HubSpotSimulator.command("--unique-properties=crm_id"))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("unknown argument --unique-properties=crm_id");
        HubSpotSimulator.Builder ten = HubSpotSimulator.builder();
        IntStream.range(0, HubSpotSimulator.MAX_UNIQUE_PROPERTIES).forEach(i -> ten.uniqueProperty("id_" + i));
        ten.uniqueProperty("id_0");
        assertThatThrownBy(() -> ten.uniqueProperty("id_10")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at most 10");
    }

    // ---------------------------------------------------------------- search

    @Test
    void searchFiltersByLastModifiedSortsAndNeverShowsArchivedContacts() {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            ids.add(create("email", "p" + i + "@example.com", "firstname", "P" + i));
            clock.advance(Duration.ofSeconds(10));
        }
        long third = T0.plusSeconds(20).toEpochMilli();
        api.delete(CONTACTS + "/" + ids.get(4));

        JsonNode gte = ok(search(Map.of("filterGroups", List.of(group(filter("lastmodifieddate", "GTE", third))),
                "sorts", List.of(Map.of("propertyName", "lastmodifieddate", "direction", "ASCENDING")))), 200);
        assertThat(gte.get("total").asInt()).isEqualTo(2);
        assertThat(ids(gte.get("results"))).containsExactly(ids.get(2), ids.get(3));
        assertThat(gte.get("results").get(0).get("archived").asBoolean()).isFalse();

        JsonNode gt = ok(search(Map.of("filterGroups", List.of(group(filter("lastmodifieddate", "GT",
                Long.toString(third)))))), 200);
        assertThat(ids(gt.get("results"))).containsExactly(ids.get(3));
        JsonNode lte = ok(search(Map.of("filterGroups", List.of(group(filter("lastmodifieddate", "LTE",
                "2026-11-22T21:00:10Z"))), "sorts", List.of(Map.of("propertyName", "hs_object_id",
                "direction", "DESCENDING")))), 200);
        assertThat(ids(lte.get("results"))).containsExactly(ids.get(1), ids.get(0));
        JsonNode eq = ok(search(Map.of("filterGroups", List.of(group(filter("lastmodifieddate", "EQ", third),
                filter("lastmodifieddate", "LT", third + 1))))), 200);
        assertThat(ids(eq.get("results"))).containsExactly(ids.get(2));

        JsonNode byEmail = ok(search(Map.of("filterGroups", List.of(group(filter("email", "EQ", "P1@EXAMPLE.com"))),
                "properties", List.of("firstname"))), 200);
        assertThat(ids(byEmail.get("results"))).containsExactly(ids.get(1));
        assertThat(JSON.convertValue(byEmail.get("results").get(0).get("properties"), Map.class))
                .containsOnlyKeys("firstname", "createdate", "hs_object_id", "lastmodifieddate");

        JsonNode orGroups = ok(search(Map.of("filterGroups", List.of(
                group(filter("hs_object_id", "GT", ids.get(2))),
                group(filter("email", "EQ", "p0@example.com"))),
                "sorts", List.of(Map.of("propertyName", "lastmodifieddate", "direction", "DESCENDING")))), 200);
        assertThat(ids(orGroups.get("results"))).as("the archived contact never appears")
                .containsExactly(ids.get(3), ids.get(0));

        error(search(Map.of("filterGroups", List.of(group(filter("lastmodifieddate", "ROUGHLY", third))))), 400,
                "VALIDATION_ERROR");
        error(search(Map.of("filterGroups", List.of(group(filter("lastmodifieddate", "GTE", "yesterday"))))), 400,
                "VALIDATION_ERROR");
        error(search(Map.of("limit", 201)), 400, "VALIDATION_ERROR");
    }

    @Test
    void searchPagesByOffsetAndRefusesToPagePastTenThousandResults() {
        hs.seedDemo(10_050);
        Map<String, Object> query = new LinkedHashMap<>();
        query.put("sorts", List.of(Map.of("propertyName", "hs_object_id", "direction", "ASCENDING")));
        query.put("limit", 200);

        JsonNode first = ok(search(query), 200);
        assertThat(first.get("total").asInt()).isEqualTo(10_050);
        assertThat(first.get("results")).hasSize(200);
        assertThat(first.get("paging").get("next").get("after").asText()).isEqualTo("200");
        assertThat(first.get("paging").get("next").has("link")).isFalse();

        query.put("after", "9900");
        JsonNode last = ok(search(query), 200);
        assertThat(ids(last.get("results"))).hasSize(100).startsWith("9901").endsWith("10000");
        assertThat(last.get("paging").get("next").get("after").asText()).isEqualTo("10000");

        query.put("after", "10000");
        JsonNode refused = error(search(query), 400, "VALIDATION_ERROR");
        assertThat(refused.get("message").asText()).contains("10000");

        query.put("after", "0");
        query.put("filterGroups", List.of(group(filter("hs_object_id", "GT", 10_000))));
        JsonNode movedBound = ok(search(query), 200);
        assertThat(movedBound.get("total").asInt()).isEqualTo(50);
        assertThat(ids(movedBound.get("results"))).startsWith("10001").endsWith("10050");
        assertThat(movedBound.has("paging")).isFalse();
    }

    @Test
    void searchIsLimitedToFourRequestsPerSecondPerToken() {
        create("email", "ada@example.com");
        String body = json(Map.of("limit", 1));
        for (int i = 0; i < 4; i++) {
            assertThat(api.post(CONTACTS + "/search", body).status()).isEqualTo(200);
        }

        Reply over = api.post(CONTACTS + "/search", body);

        JsonNode limited = error(over, 429, "RATE_LIMITS");
        assertThat(limited.get("errorType").asText()).isEqualTo("RATE_LIMIT");
        assertThat(limited.get("policyName").asText()).isEqualTo("SECONDLY");
        assertThat(over.header("Retry-After")).isNull();
        assertThat(api.get(CONTACTS).status()).as("other endpoints are not search-limited").isEqualTo(200);
        clock.advance(Duration.ofMillis(999));
        assertThat(api.post(CONTACTS + "/search", body).status()).isEqualTo(429);
        clock.advance(Duration.ofMillis(1));
        assertThat(api.post(CONTACTS + "/search", body).status()).isEqualTo(200);
    }

    // ---------------------------------------------------------------- rate limits

    @Test
    void the191stRequestIn10SecondsIs429TenSecondlyRollingWithoutRetryAfter() {
        Reply first = api.get(CONTACTS);
        assertThat(first.header("X-HubSpot-RateLimit-Max")).isEqualTo("190");
        assertThat(first.header("X-HubSpot-RateLimit-Remaining")).isEqualTo("189");
        assertThat(first.header("X-HubSpot-RateLimit-Interval-Milliseconds")).isEqualTo("10000");
        assertThat(first.header("X-HubSpot-RateLimit-Daily")).isEqualTo("625000");
        assertThat(first.header("X-HubSpot-RateLimit-Daily-Remaining")).isEqualTo("624999");
        clock.advance(Duration.ofSeconds(5));
        Reply last = null;
        for (int i = 2; i <= 190; i++) {
            last = api.get(CONTACTS);
            assertThat(last.status()).isEqualTo(200);
        }
        assertThat(last.header("X-HubSpot-RateLimit-Remaining")).isEqualTo("0");

        Reply over = api.post(CONTACTS, createBody("email", "ada@example.com"));

        JsonNode body = error(over, 429, "RATE_LIMITS");
        assertThat(body.get("errorType").asText()).isEqualTo("RATE_LIMIT");
        assertThat(body.get("policyName").asText()).isEqualTo("TEN_SECONDLY_ROLLING");
        assertThat(over.header("Retry-After")).isNull();
        assertThat(over.header("X-HubSpot-RateLimit-Remaining")).isEqualTo("0");
        assertThat(hs.records()).as("a refused request changes nothing").isEmpty();
        assertThat(hs.dailyUsed()).isEqualTo(190);

        // The first request leaves the window 10 s after it was made, the other 189 five seconds later.
        clock.advance(Duration.ofMillis(4999));
        assertThat(api.get(CONTACTS).status()).isEqualTo(429);
        clock.advance(Duration.ofMillis(1));
        Reply roomForOne = api.get(CONTACTS);
        assertThat(roomForOne.status()).isEqualTo(200);
        assertThat(roomForOne.header("X-HubSpot-RateLimit-Remaining")).isEqualTo("0");
        assertThat(api.get(CONTACTS).status()).isEqualTo(429);
        clock.advance(Duration.ofSeconds(5));
        assertThat(api.get(CONTACTS).header("X-HubSpot-RateLimit-Remaining")).isEqualTo("188");
    }

    @Test
    void rateLimitsChangeAndSwitchOffAtRunTimeOnTheSimulatorAndOverHttp() {
        hs.rateLimit(3, Duration.ofSeconds(1));
        for (int i = 0; i < 3; i++) {
            assertThat(api.get(CONTACTS).status()).isEqualTo(200);
        }
        assertThat(api.get(CONTACTS).status()).isEqualTo(429);

        hs.rateLimits(false);
        Reply free = api.get(CONTACTS);
        assertThat(free.status()).isEqualTo(200);
        assertThat(free.header("X-HubSpot-RateLimit-Max")).isEqualTo("3");
        assertThat(free.header("X-HubSpot-RateLimit-Remaining")).isEqualTo("3");

        Http control = new Http(hs.port());
        JsonNode view = ok(control.post("/__sim/ratelimit", json(Map.of("enabled", true, "max", 5, "intervalMs", 2000,
                "resetUsage", true))), 200);
        assertThat(view.get("enabled").asBoolean()).isTrue();
        assertThat(view.get("max").asInt()).isEqualTo(5);
        assertThat(view.get("intervalMs").asLong()).isEqualTo(2000);
        assertThat(view.get("dailyUsed").asLong()).isZero();
        Reply limited = api.get(CONTACTS);
        assertThat(limited.header("X-HubSpot-RateLimit-Remaining")).isEqualTo("4");
        assertThat(limited.header("X-HubSpot-RateLimit-Interval-Milliseconds")).isEqualTo("2000");
        assertThat(control.post("/__sim/ratelimit", json(Map.of("max", 0))).status()).isEqualTo(400);
        assertThat(hs.rateLimitMax()).isEqualTo(5);
    }

    @Test
    void theDailyLimitIs429DailyUntilTheNextUtcDay() {
        hs.dailyLimit(2).rateLimit(1000, Duration.ofSeconds(10));
        assertThat(api.get(CONTACTS).header("X-HubSpot-RateLimit-Daily-Remaining")).isEqualTo("1");
        assertThat(api.get(CONTACTS).header("X-HubSpot-RateLimit-Daily-Remaining")).isEqualTo("0");

        JsonNode over = error(api.get(CONTACTS), 429, "RATE_LIMITS");
        assertThat(over.get("policyName").asText()).isEqualTo("DAILY");

        clock.advance(Duration.ofHours(3));
        Reply nextDay = api.get(CONTACTS);
        assertThat(nextDay.status()).isEqualTo(200);
        assertThat(nextDay.header("X-HubSpot-RateLimit-Daily-Remaining")).isEqualTo("1");
    }

    // ---------------------------------------------------------------- webhooks

    @Test
    void changesArriveAsSignedEventBatchesTheReceiverCanVerify() throws Exception {
        Receiver receiver = receiver();
        String id = create("email", "ada@example.com", "firstname", "Ada");
        awaitWebhooks();

        List<Receiver.Received> requests = receiver.received();
        assertThat(requests).hasSize(1);
        Receiver.Received request = requests.get(0);
        assertThat(request.method()).isEqualTo("POST");
        assertThat(request.pathAndQuery()).isEqualTo("/webhooks/hubspot?portal=sim");
        assertThat(request.headers().get("content-type")).isEqualTo("application/json");
        String timestamp = request.headers().get("x-hubspot-request-timestamp");
        assertThat(Long.parseLong(timestamp)).isCloseTo(System.currentTimeMillis(),
                Offset.offset(60_000L));
        assertThat(request.headers().get("x-hubspot-signature-v3"))
                .isEqualTo(v3(SECRET, receiver.url(), request.body(), timestamp));
        assertThat(request.headers().get("x-hubspot-signature-v3"))
                .isNotEqualTo(v3("another-secret", receiver.url(), request.body(), timestamp));
        assertThat(request.headers().get("x-hubspot-signature-version")).isEqualTo("v1");
        assertThat(request.headers().get("x-hubspot-signature")).isEqualTo(HexFormat.of().formatHex(
                MessageDigest.getInstance("SHA-256").digest((SECRET + request.body()).getBytes(StandardCharsets.UTF_8))));

        JsonNode events = request.json();
        assertThat(events.isArray()).isTrue();
        assertThat(types(receiver.events())).containsExactly("contact.creation",
                "contact.propertyChange:email", "contact.propertyChange:firstname");
        JsonNode creation = events.get(0);
        assertThat(creation.get("objectId").isNumber()).isTrue();
        assertThat(creation.get("objectId").asText()).isEqualTo(id);
        assertThat(creation.get("portalId").asLong()).isEqualTo(HubSpotSimulator.DEFAULT_PORTAL_ID);
        assertThat(creation.get("appId").asLong()).isEqualTo(HubSpotSimulator.DEFAULT_APP_ID);
        assertThat(creation.get("occurredAt").asLong()).isEqualTo(T0.toEpochMilli());
        assertThat(creation.get("attemptNumber").asInt()).isZero();
        assertThat(creation.get("changeSource").asText()).isEqualTo("API");
        assertThat(creation.get("subscriptionId").asLong()).isEqualTo(HubSpotWebhooks.CREATION_SUBSCRIPTION);
        assertThat(creation.has("propertyName")).isFalse();
        JsonNode email = events.get(1);
        assertThat(email.get("propertyName").asText()).isEqualTo("email");
        assertThat(email.get("propertyValue").asText()).isEqualTo("ada@example.com");
        assertThat(events.get(2).get("subscriptionId").asLong()).isNotEqualTo(email.get("subscriptionId").asLong());
        assertThat(receiver.events().stream().map(e -> e.get("eventId").asLong()).distinct()).hasSize(3);

        clock.advance(Duration.ofSeconds(1));
        api.patch(CONTACTS + "/" + id, json(Map.of("properties", props("firstname", "Ada", "phone", "+14155552671",
                "email", ""))));
        api.delete(CONTACTS + "/" + id);
        awaitWebhooks();
        List<JsonNode> later = receiver.events().subList(3, receiver.events().size());
        assertThat(types(later)).containsExactly("contact.propertyChange:phone", "contact.propertyChange:email",
                "contact.deletion");
        assertThat(later.get(1).get("propertyValue").asText()).as("a cleared property").isEmpty();
        assertThat(later.get(2).get("occurredAt").asLong()).isEqualTo(T0.plusSeconds(1).toEpochMilli());
    }

    @Test
    void helperEditsSendWebhooksAsCrmUiButSeedingSendsNone() {
        Receiver receiver = receiver();
        String id = hs.seed(props("email", "ada@example.com")).get("id").toString();
        hs.update(id, props("jobtitle", "Countess"));
        hs.delete(id);
        hs.restore(id);
        String created = hs.create(props("email", "grace@example.com")).get("id").toString();
        awaitWebhooks();

        assertThat(types(receiver.events())).containsExactly("contact.propertyChange:jobtitle", "contact.deletion",
                "contact.restore", "contact.creation", "contact.propertyChange:email");
        assertThat(receiver.events()).allSatisfy(e -> assertThat(e.get("changeSource").asText()).isEqualTo("CRM_UI"));
        assertThat(receiver.events().get(3).get("objectId").asText()).isEqualTo(created);
        assertThat(hs.live()).hasSize(2);
        assertThatThrownBy(() -> hs.update("999", props("firstname", "X")))
                .isInstanceOf(java.util.NoSuchElementException.class);
        assertThatThrownBy(() -> hs.create(props("email", "ADA@example.com")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Existing ID: " + id);
    }

    @Test
    void eventsGoOutInBatchesOfAtMost100WhenFlushed() {
        Receiver receiver = receiver();
        hs.webhooks().pause();
        List<Map<String, Object>> inputs = IntStream.range(0, 75)
                .mapToObj(i -> Map.<String, Object>of("properties", props("email", "p" + i + "@example.com")))
                .toList();
        ok(api.post(CONTACTS + "/batch/create", json(Map.of("inputs", inputs))), 201);
        assertThat(hs.webhooks().queued()).as("a creation and an email change per contact").isEqualTo(150);

        hs.webhooks().flush();

        assertThat(receiver.received()).extracting(r -> r.json().size()).containsExactly(100, 50);
        assertThat(receiver.events().stream().map(e -> e.get("eventId").asLong()).distinct()).hasSize(150);
        assertThat(hs.webhooks().delivered()).isEqualTo(150);
    }

    @Test
    void pausedWebhooksWaitUntilResumedOrFlushed() throws Exception {
        Receiver receiver = receiver();
        hs.webhooks().pause();
        create("email", "ada@example.com");
        Thread.sleep(100);
        assertThat(receiver.received()).isEmpty();
        assertThat(hs.webhooks().queued()).isEqualTo(2);

        hs.webhooks().resume();
        awaitWebhooks();

        assertThat(receiver.events()).hasSize(2);
        assertThat(hs.webhooks().queued()).isZero();
    }

    @Test
    void failedDeliveriesAreRetriedWithTheNextAttemptNumberAndGrowingDelays() {
        Receiver receiver = receiver().answer(500, 503);
        create("email", "ada@example.com");
        awaitWebhooks();

        List<Receiver.Received> tries = receiver.received();
        assertThat(tries).hasSize(3);
        for (int attempt = 0; attempt < 3; attempt++) {
            JsonNode events = tries.get(attempt).json();
            int expected = attempt;
            events.forEach(e -> assertThat(e.get("attemptNumber").asInt()).isEqualTo(expected));
            assertThat(events.get(0).get("eventId").asLong()).isEqualTo(tries.get(0).json().get(0).get("eventId")
                    .asLong());
        }
        Duration firstGap = Duration.ofNanos(tries.get(1).nanos() - tries.get(0).nanos());
        Duration secondGap = Duration.ofNanos(tries.get(2).nanos() - tries.get(1).nanos());
        assertThat(firstGap).isGreaterThanOrEqualTo(Duration.ofMillis(20));
        assertThat(secondGap).isGreaterThanOrEqualTo(Duration.ofMillis(40));
        assertThat(hs.webhooks().deliveries()).extracting(HubSpotWebhooks.Delivery::status)
                .containsExactly(500, 503, 204);
        assertThat(hs.webhooks().delivered()).isEqualTo(2);
        assertThat(hs.webhooks().abandoned()).isEmpty();
    }

    @Test
    void aClientErrorIsNotRetriedAndTenFailuresAbandonTheBatch() {
        Receiver receiver = receiver().answer(400);
        create("email", "ada@example.com");
        awaitWebhooks();
        assertThat(receiver.received()).hasSize(1);
        assertThat(hs.webhooks().abandoned()).hasSize(2);

        hs.webhooks().retryDelay(Duration.ofMillis(1));
        receiver.otherwise(500);
        create("email", "grace@example.com");
        awaitWebhooks();

        List<Receiver.Received> tries = receiver.received().subList(1, receiver.received().size());
        assertThat(tries).hasSize(HubSpotWebhooks.MAX_ATTEMPTS);
        assertThat(tries).extracting(r -> r.json().get(0).get("attemptNumber").asInt())
                .containsExactlyElementsOf(IntStream.range(0, 10).boxed().toList());
        assertThat(hs.webhooks().abandoned()).hasSize(4);
        assertThat(hs.webhooks().delivered()).isZero();
    }

    @Test
    void aReceiverThatDoesNotAnswerWithinTheTimeoutIsRetried() {
        hs.webhooks().timeout(Duration.ofMillis(100));
        Receiver receiver = receiver().stallFirst(Duration.ofMillis(500));
        create("email", "ada@example.com");
        awaitWebhooks();

        assertThat(hs.webhooks().deliveries()).extracting(HubSpotWebhooks.Delivery::status)
                .containsExactly(HubSpotWebhooks.TIMED_OUT, 204);
        assertThat(receiver.received()).extracting(r -> r.json().get(0).get("attemptNumber").asInt())
                .containsExactly(0, 1);
        assertThat(hs.webhooks().delivered()).isEqualTo(2);
    }

    @Test
    void anUnreachableTargetIsRetriedAndTheRetryGoesToTheTargetSetMeanwhile() throws Exception {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = socket.getLocalPort();
        }
        hs.webhooks().target("http://127.0.0.1:" + closedPort + "/hooks");
        create("email", "ada@example.com");
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (hs.webhooks().deliveries().isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(hs.webhooks().deliveries().get(0).status()).isEqualTo(HubSpotWebhooks.CONNECTION_FAILED);
        assertThat(hs.webhooks().deliveries().get(0).failure()).isNotBlank();

        Receiver receiver = receiver();
        awaitWebhooks();

        assertThat(receiver.events()).hasSize(2);
        assertThat(receiver.events().get(0).get("attemptNumber").asInt()).isPositive();
        assertThat(hs.webhooks().delivered()).isEqualTo(2);
    }

    @Test
    void lostWebhooksAreNeverSentAndAreListed() {
        Receiver receiver = receiver();
        hs.webhooks().loseNext(1);
        String ada = create("email", "ada@example.com");
        awaitWebhooks();
        assertThat(types(receiver.events())).containsExactly("contact.propertyChange:email");
        assertThat(hs.webhooks().lost()).extracting(HubSpotWebhooks.Event::subscriptionType)
                .containsExactly("contact.creation");
        assertThat(hs.webhooks().lost().get(0).objectId()).isEqualTo(Long.parseLong(ada));

        hs.webhooks().loseShare(1.0);
        create("email", "grace@example.com");
        hs.webhooks().loseShare(0.5);
        for (int i = 0; i < 20; i++) {
            create("email", "p" + i + "@example.com");
        }
        awaitWebhooks();
        int lost = hs.webhooks().lost().size() - 3;
        assertThat(lost).isBetween(5, 35);
        assertThat(receiver.events()).hasSize(1 + 40 - lost);
        assertThat(hs.webhooks().events()).hasSize(44);

        hs.webhooks().keepAll();
        create("email", "kept@example.com");
        awaitWebhooks();
        assertThat(receiver.events()).hasSize(1 + 40 - lost + 2);
    }

    @Test
    void webhookSwitchesWorkOverHttp() {
        Receiver receiver = new Receiver();
        this.receiver = receiver;
        Http control = new Http(hs.port());
        JsonNode view = ok(control.post("/__sim/webhooks", json(Map.of("target", receiver.url(), "paused", true,
                "loseNext", 1))), 200);
        assertThat(view.get("target").asText()).isEqualTo(receiver.url());
        assertThat(view.get("paused").asBoolean()).isTrue();
        assertThat(view.get("loseNext").asInt()).isEqualTo(1);
        create("email", "ada@example.com");
        assertThat(receiver.received()).isEmpty();

        JsonNode flushed = ok(control.post("/__sim/webhooks", json(Map.of("flush", true))), 200);

        assertThat(flushed.get("delivered").asLong()).isEqualTo(1);
        assertThat(flushed.get("lost").asInt()).isEqualTo(1);
        assertThat(types(receiver.events())).containsExactly("contact.propertyChange:email");
        assertThat(control.post("/__sim/webhooks", json(Map.of("target", "ftp://x"))).status()).isEqualTo(400);
        assertThat(control.post("/__sim/webhooks", json(Map.of("loseShare", 2))).status()).isEqualTo(400);
    }

    // ---------------------------------------------------------------- merge

    @Test
    void mergeFoldsValuesIntoTheSurvivorArchivesTheOtherAndRedirectsReads() {
        Receiver receiver = receiver();
        String ada = create("email", "ada@example.com", "firstname", "Ada");
        String dup = create("email", "ada.lovelace@example.com", "firstname", "Augusta", "phone", "+14155552671",
                "jobtitle", "Countess");
        awaitWebhooks();
        int before = receiver.events().size();
        clock.advance(Duration.ofSeconds(3));

        JsonNode survivor = ok(api.post(CONTACTS + "/merge", json(Map.of("primaryObjectId", ada,
                "objectIdToMerge", dup))), 200);

        JsonNode p = survivor.get("properties");
        assertThat(survivor.get("id").asText()).isEqualTo(ada);
        assertThat(p.get("firstname").asText()).as("the primary's own value wins").isEqualTo("Ada");
        assertThat(p.get("email").asText()).isEqualTo("ada@example.com");
        assertThat(p.get("phone").asText()).isEqualTo("+14155552671");
        assertThat(p.get("jobtitle").asText()).isEqualTo("Countess");
        assertThat(p.get("hs_additional_emails").asText()).isEqualTo("ada.lovelace@example.com");
        assertThat(p.get("hs_merged_object_ids").asText()).isEqualTo(dup);
        assertThat(survivor.get("updatedAt").asText()).isEqualTo("2026-11-22T21:00:03.000Z");

        JsonNode redirected = ok(api.get(CONTACTS + "/" + dup + "?properties=phone"), 200);
        assertThat(redirected.get("id").asText()).isEqualTo(ada);
        assertThat(ok(api.get(CONTACTS + "/" + dup + "?archived=true"), 200).get("archived").asBoolean()).isTrue();
        error(api.patch(CONTACTS + "/" + dup, createBody("firstname", "X")), 404, "OBJECT_NOT_FOUND");
        assertThat(hs.survivorOf(dup)).isEqualTo(ada);
        assertThat(hs.live()).hasSize(1);
        assertThat(ids(ok(api.get(CONTACTS + "?archived=true"), 200).get("results"))).containsExactly(dup);
        // The merged contact's email is free again.
        create("email", "ada.lovelace@example.com");

        awaitWebhooks();
        List<JsonNode> events = receiver.events().subList(before, receiver.events().size());
        assertThat(types(events)).startsWith("contact.merge", "contact.propertyChange:jobtitle",
                "contact.propertyChange:phone");
        JsonNode merge = events.get(0);
        assertThat(merge.get("objectId").asText()).isEqualTo(ada);
        assertThat(merge.get("primaryObjectId").asText()).isEqualTo(ada);
        assertThat(merge.get("newObjectId").asText()).isEqualTo(ada);
        assertThat(merge.get("mergedObjectIds")).hasSize(1);
        assertThat(merge.get("mergedObjectIds").get(0).asText()).isEqualTo(dup);
        assertThat(merge.get("numberOfPropertiesMoved").asInt()).isEqualTo(2);
        assertThat(events.get(1).get("objectId").asText()).isEqualTo(ada);

        error(api.post(CONTACTS + "/merge", json(Map.of("primaryObjectId", ada, "objectIdToMerge", ada))), 400,
                "VALIDATION_ERROR");
        error(api.post(CONTACTS + "/merge", json(Map.of("primaryObjectId", ada, "objectIdToMerge", dup))), 404,
                "OBJECT_NOT_FOUND");
        assertThatThrownBy(() -> hs.restore(dup)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aMergeOverTheControlEndpointIsAPersonMergingInHubSpot() {
        String ada = create("email", "ada@example.com");
        String dup = create("email", "ada.l@example.com", "phone", "+14155552671");
        Http control = new Http(hs.port());

        JsonNode survivor = ok(control.post("/__sim/merge", json(Map.of("primaryId", ada, "mergedId", dup))), 200);

        assertThat(survivor.get("id").asText()).isEqualTo(ada);
        assertThat(survivor.get("properties").get("phone").asText()).isEqualTo("+14155552671");
        HubSpotWebhooks.Event merge = hs.webhooks().events().stream()
                .filter(e -> e.subscriptionType().equals(HubSpotWebhooks.MERGE)).findFirst().orElseThrow();
        assertThat(merge.changeSource()).isEqualTo("CRM_UI");
        assertThat(merge.json(0).get("mergedObjectIds")).isEqualTo(List.of(Long.parseLong(dup)));
        assertThat(control.post("/__sim/merge", json(Map.of("primaryId", ada, "mergedId", dup))).status())
                .isEqualTo(404);
        assertThat(control.post("/__sim/merge", json(Map.of("primaryId", ada))).status()).isEqualTo(400);
    }

    @Test
    void theMergeHelperTakesTheMergedEmailWhenTheSurvivorHasNone() {
        String phoneOnly = hs.seed(props("phone", "+14155552671", "firstname", "Ada")).get("id").toString();
        String withEmail = hs.seed(props("email", "ada@example.com", "lastname", "Lovelace")).get("id").toString();

        Map<String, Object> survivor = hs.merge(phoneOnly, withEmail);

        assertThat(HubSpotSimulator.property(survivor, "email")).isEqualTo("ada@example.com");
        assertThat(HubSpotSimulator.property(survivor, "lastname")).isEqualTo("Lovelace");
        assertThat(HubSpotSimulator.property(survivor, "hs_additional_emails")).isNull();
        assertThat(hs.findByEmail("ADA@example.com").orElseThrow().get("id")).isEqualTo(phoneOnly);
        assertThat(hs.find(withEmail).orElseThrow().get("archived")).isEqualTo(true);
    }

    // ---------------------------------------------------------------- faults and counters

    @Test
    void injectedFaultsAnswerHubSpotErrorsAndChangeNothing() {
        hs.faults().failNext(1, 503, "POST", CONTACTS);
        error(api.post(CONTACTS, createBody("email", "ada@example.com")), 503, "INTERNAL_ERROR");
        assertThat(hs.records()).isEmpty();
        assertThat(hs.dailyUsed()).as("a faulted request uses no budget").isZero();

        hs.faults().rateLimitNext(1, 2);
        Reply limited = api.get(CONTACTS);
        JsonNode body = error(limited, 429, "RATE_LIMITS");
        assertThat(body.get("policyName").asText()).isEqualTo("TEN_SECONDLY_ROLLING");
        assertThat(limited.header("Retry-After")).isEqualTo("2");

        hs.faults().dropNext(1, "POST", CONTACTS + "/batch");
        assertThatThrownBy(() -> api.post(CONTACTS + "/batch/create", json(Map.of("inputs", List.of(
                Map.of("properties", props("email", "ada@example.com")))))))
                .isInstanceOf(UncheckedIOException.class);
        assertThat(hs.records()).isEmpty();
        assertThat(create("email", "ada@example.com")).isEqualTo("1");
    }

    @Test
    void countersKeyRequestsByEndpointPattern() {
        String id = create("email", "ada@example.com");
        api.get(CONTACTS + "/" + id);
        api.get(CONTACTS + "/" + id + "?properties=email");
        api.post(CONTACTS + "/batch/read", json(Map.of("inputs", List.of(Map.of("id", id)))));
        search(Map.of());

        assertThat(hs.callCounts()).containsEntry("POST " + CONTACTS, 1L)
                .containsEntry("GET " + CONTACTS + "/{id}", 2L)
                .containsEntry("POST " + CONTACTS + "/batch/read", 1L)
                .containsEntry("POST " + CONTACTS + "/search", 1L);
        JsonNode stats = ok(new Http(hs.port()).get("/__sim/stats"), 200);
        assertThat(stats.get("total").asLong()).isEqualTo(5);
        assertThat(hs.requests("GET " + CONTACTS + "/{id}")).extracting(r -> r.status()).containsExactly(200, 200);
    }

    @Test
    void resetForgetsContactsUsageAndWebhookQueuesButKeepsSettings() {
        hs.rateLimit(50, Duration.ofSeconds(10));
        Receiver receiver = receiver();
        hs.webhooks().pause();
        create("email", "ada@example.com");

        hs.reset();

        assertThat(hs.records()).isEmpty();
        assertThat(hs.dailyUsed()).isZero();
        assertThat(hs.webhooks().queued()).isZero();
        assertThat(hs.webhooks().paused()).isFalse();
        assertThat(hs.webhooks().target()).isEqualTo(receiver.url());
        assertThat(hs.rateLimitMax()).isEqualTo(50);
        assertThat(create("email", "ada@example.com")).isEqualTo("1");
    }
}
