package dev.crmsync.sim.pipedrive;

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
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.crmsync.sim.ManualClock;
import dev.crmsync.sim.pipedrive.PipedriveWebhooks.Outcome;
import dev.crmsync.support.Http;
import dev.crmsync.support.Http.Reply;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Pipedrive simulator over real HTTP: persons v2 and their errors, the name split, cursor paging,
 * search, v1 merge, the per-token limits and their headers, and webhooks delivered to a local receiver.
 * Limit windows run on a {@link ManualClock} and webhook retries on delays of milliseconds, so nothing
 * here sleeps for a real window.
 */
class PipedriveSimulatorTest {

    static final String TOKEN = "pd-test-token";
    static final String OTHER_TOKEN = "pd-other-token";
    static final String PERSONS = PipedriveSimulator.PERSONS;
    static final Instant T0 = Instant.parse("2026-05-20T20:49:32Z");
    static final ObjectMapper JSON = new ObjectMapper();

    ManualClock clock;
    ManualClock limitClock;
    PipedriveSimulator pd;
    Http api;
    Receiver receiver;

    @BeforeEach
    void start() {
        clock = new ManualClock(T0);
        limitClock = ManualClock.at("2026-05-20T23:59:50Z");
        pd = PipedriveSimulator.builder().apiToken(TOKEN).extraToken(OTHER_TOKEN).clock(clock)
                .rateLimitClock(limitClock)
                .webhookRetryDelays(Duration.ofMillis(20), Duration.ofMillis(40), Duration.ofMillis(80))
                .webhookTimeout(Duration.ofSeconds(2))
                .build().start();
        api = new Http(pd.port()).withHeader("Authorization", "Bearer " + TOKEN);
    }

    @AfterEach
    void stop() {
        pd.stop();
        if (receiver != null) {
            receiver.close();
        }
    }

    // ---------------------------------------------------------------- helpers

    static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    static String json(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Asserts a 200 success wrapper; answers {@code data}. */
    static JsonNode ok(Reply reply) {
        assertThat(reply.status()).as(reply.toString()).isEqualTo(200);
        JsonNode body = reply.json();
        assertThat(body.get("success").asBoolean()).as(reply.toString()).isTrue();
        return body.get("data");
    }

    /** Asserts Pipedrive's error shape with this status; answers the {@code error} text. */
    static String error(Reply reply, int status) {
        assertThat(reply.status()).as(reply.toString()).isEqualTo(status);
        JsonNode body = reply.json();
        List<String> keys = new ArrayList<>();
        body.fieldNames().forEachRemaining(keys::add);
        assertThat(keys).containsExactly("success", "error", "errorCode", "error_info");
        assertThat(body.get("success").asBoolean()).isFalse();
        assertThat(body.get("errorCode").asInt()).isEqualTo(status);
        assertThat(body.get("error_info").asText()).isNotBlank();
        return body.get("error").asText();
    }

    JsonNode create(Object person) {
        return ok(api.post(PERSONS, json(person)));
    }

    static List<Long> ids(JsonNode persons) {
        List<Long> ids = new ArrayList<>();
        persons.forEach(p -> ids.add(p.get("id").asLong()));
        return ids;
    }

    static Map<String, Object> person(String name, String email) {
        Map<String, Object> person = new LinkedHashMap<>();
        person.put("name", name);
        person.put("emails", List.of(Map.of("value", email)));
        return person;
    }

    /** Walks a listing page by page; answers every person in order and the page sizes. */
    record Walk(List<JsonNode> persons, List<Integer> pageSizes) {
        List<Long> ids() {
            return persons.stream().map(p -> p.get("id").asLong()).toList();
        }
    }

    Walk walk(String query) {
        List<JsonNode> persons = new ArrayList<>();
        List<Integer> sizes = new ArrayList<>();
        String cursor = null;
        for (int guard = 0; guard < 100; guard++) {
            JsonNode body = api.get(PERSONS + "?" + query + (cursor == null ? "" : "&cursor=" + enc(cursor))).json();
            assertThat(body.get("success").asBoolean()).as(body.toString()).isTrue();
            body.get("data").forEach(persons::add);
            sizes.add(body.get("data").size());
            JsonNode next = body.get("additional_data").get("next_cursor");
            if (next.isNull()) {
                return new Walk(persons, sizes);
            }
            cursor = next.asText();
        }
        throw new AssertionError("the listing never ended");
    }

    /** A local webhook receiver: answers the queued statuses first, then 200. */
    static final class Receiver implements AutoCloseable {
        record Received(String authorization, JsonNode body, long nanos) {
            JsonNode meta() {
                return body.get("meta");
            }
        }

        final HttpServer server;
        final BlockingQueue<Received> received = new LinkedBlockingQueue<>();
        final ConcurrentLinkedDeque<Integer> statuses = new ConcurrentLinkedDeque<>();

        Receiver() {
            try {
                server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            server.createContext("/hooks/pipedrive", exchange -> {
                try (InputStream in = exchange.getRequestBody()) {
                    JsonNode body = JSON.readTree(in.readAllBytes());
                    received.add(new Received(exchange.getRequestHeaders().getFirst("Authorization"), body,
                            System.nanoTime()));
                }
                Integer status = statuses.poll();
                exchange.sendResponseHeaders(status == null ? 200 : status, -1);
                exchange.close();
            });
            server.start();
        }

        String url() {
            return "http://127.0.0.1:" + server.getAddress().getPort() + "/hooks/pipedrive";
        }

        Received next() throws InterruptedException {
            Received r = received.poll(5, TimeUnit.SECONDS);
            assertThat(r).as("a webhook within 5 s").isNotNull();
            return r;
        }

        @Override
        public void close() {
            server.stop(0);
        }
    }

    Receiver receiver(String username, String password) {
        receiver = new Receiver();
        pd.webhooks().target(receiver.url(), username, password);
        return receiver;
    }

    static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    // ---------------------------------------------------------------- auth and shapes

    @Test
    void requestWithoutAValidTokenIsRefusedWithPipedrivesErrorBody() {
        Http anonymous = new Http(pd.port());
        Reply none = anonymous.get(PERSONS);
        assertThat(error(none, 401)).isEqualTo("unauthorized access");
        assertThat(none.header("x-ratelimit-limit")).isNull();
        error(anonymous.get(PERSONS + "?api_token=wrong"), 401);
        error(anonymous.get(PERSONS, "Authorization", "Bearer wrong"), 401);

        ok(anonymous.get(PERSONS + "?api_token=" + TOKEN));
        ok(anonymous.get(PERSONS, "Authorization", "Bearer " + TOKEN));
        ok(anonymous.get(PERSONS + "?api_token=" + OTHER_TOKEN));
    }

    @Test
    void theTokenIsTakenFromTheXApiTokenHeaderAndTheQueryAndEveryUriIsRecordedAsSent() {
        Http anonymous = new Http(pd.port());
        error(anonymous.get(PERSONS, "x-api-token", "wrong"), 401);
        ok(anonymous.get(PERSONS, "x-api-token", TOKEN));
        ok(anonymous.get(PERSONS, "X-Api-Token", OTHER_TOKEN));
        ok(anonymous.get(PERSONS + "?limit=2&api_token=" + TOKEN));

        assertThat(pd.requestUris()).containsExactly(PERSONS, PERSONS, PERSONS, PERSONS + "?limit=2&api_token=" + TOKEN);
        assertThat(pd.requests()).extracting(r -> r.status()).containsExactly(401, 200, 200, 200);
    }

    @Test
    void createWithOnlyANameSplitsItAtTheLastSpace() {
        JsonNode mary = create(Map.of("name", "  Mary Ann   Smith ", "emails",
                List.of(Map.of("value", "mary@example.com"))));
        List<String> keys = new ArrayList<>();
        mary.fieldNames().forEachRemaining(keys::add);
        assertThat(keys).containsExactly("id", "name", "first_name", "last_name", "emails", "phones", "org_id",
                "owner_id", "add_time", "update_time", "custom_fields");
        assertThat(mary.get("id").asLong()).isEqualTo(1);
        assertThat(mary.get("name").asText()).isEqualTo("Mary Ann   Smith");
        assertThat(mary.get("first_name").asText()).isEqualTo("Mary Ann");
        assertThat(mary.get("last_name").asText()).isEqualTo("Smith");
        assertThat(mary.get("emails").toString())
                .isEqualTo("[{\"value\":\"mary@example.com\",\"primary\":true,\"label\":\"work\"}]");
        assertThat(mary.get("phones").size()).isZero();
        assertThat(mary.get("org_id").isNull()).isTrue();
        assertThat(mary.get("owner_id").asLong()).isEqualTo(PipedriveSimulator.DEFAULT_OWNER_ID);
        assertThat(mary.get("add_time").asText()).isEqualTo("2026-05-20T20:49:32Z");
        assertThat(mary.get("update_time").asText()).isEqualTo("2026-05-20T20:49:32Z");
        assertThat(mary.get("custom_fields").size()).isZero();

        JsonNode cher = create(Map.of("name", "Cher"));
        assertThat(cher.get("first_name").asText()).isEqualTo("Cher");
        assertThat(cher.get("last_name").isNull()).isTrue();
        assertThat(PipedriveSimulator.splitName("Jean-Luc Picard")).containsExactly("Jean-Luc", "Picard");
    }

    @Test
    void firstAndLastNameMakeTheNameAndWinOverTheSplit() {
        JsonNode ada = create(Map.of("first_name", "Ada", "last_name", "Lovelace"));
        assertThat(ada.get("name").asText()).isEqualTo("Ada Lovelace");

        JsonNode grace = create(Map.of("name", "Grace Hopper", "last_name", "Murray Hopper"));
        assertThat(grace.get("name").asText()).isEqualTo("Grace Hopper");
        assertThat(grace.get("first_name").asText()).isEqualTo("Grace");
        assertThat(grace.get("last_name").asText()).isEqualTo("Murray Hopper");

        JsonNode king = ok(api.patch(PERSONS + "/" + ada.get("id"), "{\"last_name\":\"King\"}"));
        assertThat(king.get("name").asText()).isEqualTo("Ada King");
        assertThat(king.get("first_name").asText()).isEqualTo("Ada");

        JsonNode renamed = ok(api.patch(PERSONS + "/" + ada.get("id"), "{\"name\":\"Augusta Ada King\"}"));
        assertThat(renamed.get("first_name").asText()).isEqualTo("Augusta Ada");
        assertThat(renamed.get("last_name").asText()).isEqualTo("King");

        assertThat(error(api.patch(PERSONS + "/" + ada.get("id"), "{\"first_name\":null,\"last_name\":\" \"}"), 400))
                .contains("name must not be empty");
    }

    @Test
    void createRefusesAMissingNameUnknownFieldsAndBadValuesAndStoresNothing() {
        assertThat(error(api.post(PERSONS, "{}"), 400)).contains("name is required");
        assertThat(error(api.post(PERSONS, "{\"name\":\"Ada\",\"nickname\":\"A\"}"), 400)).contains("'nickname'");
        assertThat(error(api.post(PERSONS, "{\"name\":\"Ada\",\"emails\":\"ada@example.com\"}"), 400))
                .contains("emails must be an array");
        assertThat(error(api.post(PERSONS, "{\"name\":\"Ada\",\"emails\":[{\"value\":\" \"}]}"), 400))
                .contains("emails[0].value");
        assertThat(error(api.post(PERSONS, "{\"name\":\"Ada\",\"org_id\":\"abc\"}"), 400)).contains("org_id");
        assertThat(error(api.post(PERSONS, "{\"name\":\"Ada\",\"custom_fields\":[]}"), 400)).contains("custom_fields");
        assertThat(error(api.post(PERSONS, "{\"name\":"), 400)).contains("not valid JSON");
        assertThat(error(api.post(PERSONS, "[]"), 400)).contains("one JSON object");
        assertThat(pd.live()).isEmpty();

        // Server-owned fields a client may echo back are taken and ignored.
        JsonNode ada = create(Map.of("id", 99, "update_time", "2000-01-01T00:00:00Z", "visible_to", 3,
                "name", "Ada"));
        assertThat(ada.get("id").asLong()).isEqualTo(1);
        assertThat(ada.get("update_time").asText()).isEqualTo("2026-05-20T20:49:32Z");
    }

    @Test
    void contactListsKeepExactlyOnePrimaryAndDuplicateEmailsAreAllowed() {
        JsonNode a = create(Map.of("name", "Ada Lovelace", "emails", List.of(
                Map.of("value", "ada@home.example", "label", "home"),
                Map.of("value", "ada@work.example", "primary", true),
                Map.of("value", "ada@other.example", "primary", true))));
        assertThat(a.get("emails").toString()).isEqualTo("[{\"value\":\"ada@home.example\",\"primary\":false,"
                + "\"label\":\"home\"},{\"value\":\"ada@work.example\",\"primary\":true,\"label\":\"work\"},"
                + "{\"value\":\"ada@other.example\",\"primary\":false,\"label\":\"work\"}]");
        JsonNode b = create(person("Ada Twin", "ADA@work.example"));
        assertThat(b.get("emails").get(0).get("primary").asBoolean()).isTrue();
        assertThat(pd.findByEmail("ada@work.example")).extracting(p -> p.get("id")).containsExactly(1L, 2L);
    }

    @Test
    void getAnswersThePersonAnd404ForAnUnknownId() {
        JsonNode ada = create(person("Ada Lovelace", "ada@example.com"));
        assertThat(ok(api.get(PERSONS + "/1"))).isEqualTo(ada);
        assertThat(error(api.get(PERSONS + "/99"), 404)).isEqualTo("Person not found");
        assertThat(error(api.get(PERSONS + "/abc"), 400)).contains("positive integer");
    }

    @Test
    void patchSetsOnlyTheGivenFieldsAndMovesUpdateTime() {
        pd.seed(Map.of("name", "Ada Lovelace", "phones", List.of(Map.of("value", "+14155552671")),
                "emails", List.of(Map.of("value", "ada@example.com")),
                "custom_fields", Map.of("k1", "a", "k2", "b")));
        clock.advance(Duration.ofSeconds(5));
        JsonNode patched = ok(api.patch(PERSONS + "/1",
                "{\"custom_fields\":{\"k1\":\"z\",\"k2\":null},\"org_id\":7}"));
        assertThat(patched.get("update_time").asText()).isEqualTo("2026-05-20T20:49:37Z");
        assertThat(patched.get("add_time").asText()).isEqualTo("2026-05-20T20:49:32Z");
        assertThat(patched.get("custom_fields").get("k1").asText()).isEqualTo("z");
        assertThat(patched.get("custom_fields").get("k2").isNull()).isTrue();
        assertThat(patched.get("custom_fields").size()).isEqualTo(2);
        assertThat(patched.get("org_id").asLong()).isEqualTo(7);
        assertThat(patched.get("phones").get(0).get("value").asText()).isEqualTo("+14155552671");
        assertThat(patched.get("emails").get(0).get("value").asText()).isEqualTo("ada@example.com");
        assertThat(patched.get("name").asText()).isEqualTo("Ada Lovelace");

        clock.advance(Duration.ofSeconds(5));
        JsonNode same = ok(api.patch(PERSONS + "/1", "{\"org_id\":7,\"name\":\"Ada Lovelace\"}"));
        assertThat(same.get("update_time").asText()).as("a write that changes nothing").isEqualTo("2026-05-20T20:49:37Z");

        JsonNode cleared = ok(api.patch(PERSONS + "/1", "{\"phones\":[],\"org_id\":null}"));
        assertThat(cleared.get("phones").size()).isZero();
        assertThat(cleared.get("org_id").isNull()).isTrue();
        assertThat(cleared.get("update_time").asText()).isEqualTo("2026-05-20T20:49:42Z");

        assertThat(error(api.patch(PERSONS + "/99", "{\"org_id\":7}"), 404)).isEqualTo("Person not found");
        assertThat(error(api.patch(PERSONS + "/1", "{\"owner_id\":-1}"), 400)).contains("owner_id");
    }

    @Test
    void deleteRemovesThePersonFromGetListingAndSearchAndIsRecorded() {
        create(person("Ada Lovelace", "ada@example.com"));
        create(person("Grace Hopper", "grace@example.com"));
        clock.advance(Duration.ofSeconds(3));
        Reply deleted = api.delete(PERSONS + "/1");
        assertThat(deleted.json().toString()).isEqualTo("{\"success\":true,\"data\":{\"id\":1}}");

        assertThat(error(api.get(PERSONS + "/1"), 404)).isEqualTo("Person not found");
        assertThat(ids(ok(api.get(PERSONS)))).containsExactly(2L);
        JsonNode search = ok(api.get(PERSONS + "/search?term=" + enc("ada@example.com") + "&exact_match=true"));
        assertThat(search.get("items").size()).isZero();
        error(api.delete(PERSONS + "/1"), 404);

        assertThat(pd.deletions()).singleElement().satisfies(d -> {
            assertThat(d.id()).isEqualTo(1);
            assertThat(d.deletedAt()).isEqualTo(T0.plusSeconds(3));
            assertThat(d.mergedToId()).isNull();
            assertThat(d.person().get("name")).isEqualTo("Ada Lovelace");
        });
        assertThat(pd.records()).extracting(r -> r.get("id") + ":" + r.get("is_deleted"))
                .containsExactly("1:true", "2:false");
    }

    // ---------------------------------------------------------------- listing

    @Test
    void listingPagesByCursorInIdOrder() {
        pd.seedDemo(7);
        Walk asc = walk("limit=3");
        assertThat(asc.pageSizes()).containsExactly(3, 3, 1);
        assertThat(asc.ids()).containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L);
        Walk desc = walk("limit=3&sort_by=id&sort_direction=desc");
        assertThat(desc.ids()).containsExactly(7L, 6L, 5L, 4L, 3L, 2L, 1L);

        JsonNode all = api.get(PERSONS).json();
        assertThat(all.get("data").size()).isEqualTo(7);
        assertThat(all.get("additional_data").get("next_cursor").isNull()).isTrue();

        assertThat(error(api.get(PERSONS + "?limit=0"), 400)).contains("limit");
        assertThat(error(api.get(PERSONS + "?limit=501"), 400)).contains("limit");
        assertThat(error(api.get(PERSONS + "?limit=ten"), 400)).contains("limit");
        assertThat(ok(api.get(PERSONS + "?limit=500")).size()).isEqualTo(7);
        assertThat(error(api.get(PERSONS + "?sort_by=name"), 400)).contains("sort_by");
        assertThat(error(api.get(PERSONS + "?sort_direction=up"), 400)).contains("sort_direction");
        assertThat(error(api.get(PERSONS + "?cursor=not-a-cursor"), 400)).contains("cursor");
        String cursor = api.get(PERSONS + "?limit=2").json().get("additional_data").get("next_cursor").asText();
        assertThat(error(api.get(PERSONS + "?limit=2&sort_by=update_time&cursor=" + enc(cursor)), 400))
                .contains("sort_by=id");
    }

    @Test
    void listingByUpdateTimeSinceAPointWalksEveryChangedPersonOnce() {
        Instant t1 = T0.plusSeconds(60);
        Instant t2 = T0.plusSeconds(120);
        for (int i = 0; i < 9; i++) {
            Map<String, Object> p = new LinkedHashMap<>(PipedriveSimulator.demoPerson(i));
            p.put("update_time", i < 3 ? T0 : i < 7 ? t1 : t2);
            pd.seed(p);
        }
        // Person 2 changes last: it moves behind everything stamped earlier.
        clock.set(t2);
        pd.update(2, Map.of("org_id", 42));

        Walk since = walk("updated_since=" + enc("2026-05-20T20:50:32Z") + "&sort_by=update_time&limit=3");
        assertThat(since.ids()).containsExactly(4L, 5L, 6L, 7L, 2L, 8L, 9L);
        assertThat(since.pageSizes()).containsExactly(3, 3, 1);
        assertThat(since.persons().get(3).get("update_time").asText()).isEqualTo("2026-05-20T20:50:32Z");

        Walk window = walk("updated_since=" + enc("2026-05-20T22:50:32+02:00") + "&updated_until="
                + enc("2026-05-20T20:51:32Z") + "&sort_by=update_time&limit=2");
        assertThat(window.ids()).as("until is exclusive; an offset is read as such").containsExactly(4L, 5L, 6L, 7L);

        Walk newestFirst = walk("sort_by=update_time&sort_direction=desc&limit=4&updated_since="
                + enc("2026-05-20T20:50:32Z"));
        assertThat(newestFirst.ids()).containsExactly(9L, 8L, 2L, 7L, 6L, 5L, 4L);

        assertThat(error(api.get(PERSONS + "?updated_since=yesterday"), 400)).contains("updated_since");
    }

    // ---------------------------------------------------------------- search

    @Test
    void searchByEmailWithExactMatchFindsEveryPersonWithItIgnoringCase() {
        pd.seed(Map.of("name", "Ada Lovelace", "emails", List.of(Map.of("value", "ADA@Example.com")),
                "phones", List.of(Map.of("value", "+14155552671")), "org_id", 3));
        pd.seed(person("Ada Byron", "ada@example.com"));
        pd.seed(person("Ada Company", "ada@example.company"));

        JsonNode exact = api.get(PERSONS + "/search?term=" + enc("ada@example.com")
                + "&fields=email&exact_match=true").json();
        assertThat(exact.get("success").asBoolean()).isTrue();
        assertThat(exact.get("additional_data").get("next_cursor").isNull()).isTrue();
        JsonNode items = exact.get("data").get("items");
        assertThat(items.size()).isEqualTo(2);
        JsonNode first = items.get(0);
        assertThat(first.get("result_score").asDouble()).isEqualTo(1.0);
        JsonNode item = first.get("item");
        assertThat(item.get("id").asLong()).isEqualTo(1);
        assertThat(item.get("type").asText()).isEqualTo("person");
        assertThat(item.get("name").asText()).isEqualTo("Ada Lovelace");
        assertThat(item.get("emails").toString()).isEqualTo("[\"ADA@Example.com\"]");
        assertThat(item.get("phones").toString()).isEqualTo("[\"+14155552671\"]");
        assertThat(item.get("owner").get("id").asLong()).isEqualTo(1);
        assertThat(item.get("organization").get("id").asLong()).isEqualTo(3);
        assertThat(items.get(1).get("item").get("id").asLong()).isEqualTo(2);
        assertThat(items.get(1).get("item").get("organization").isNull()).isTrue();

        JsonNode partial = ok(api.get(PERSONS + "/search?term=ada%40example&fields=email")).get("items");
        assertThat(partial.size()).isEqualTo(3);
        assertThat(partial.get(2).get("item").get("id").asLong()).as("the longest value scores lowest").isEqualTo(3);
        assertThat(partial.get(2).get("result_score").asDouble()).isLessThan(partial.get(0).get("result_score").asDouble());

        assertThat(ok(api.get(PERSONS + "/search?term=ada&organization_id=3")).get("items").size()).isEqualTo(1);
        assertThat(ok(api.get(PERSONS + "/search?term=byron&fields=name")).get("items").get(0).get("item")
                .get("id").asLong()).isEqualTo(2);
        assertThat(ok(api.get(PERSONS + "/search?term=ada%40example.com&fields=name")).get("items").size()).isZero();

        assertThat(error(api.get(PERSONS + "/search?term=a"), 400)).contains("at least 2 characters");
        assertThat(error(api.get(PERSONS + "/search"), 400)).contains("term");
        ok(api.get(PERSONS + "/search?term=a&exact_match=true"));
        assertThat(error(api.get(PERSONS + "/search?term=ada&fields=address"), 400)).contains("fields");
        assertThat(error(api.get(PERSONS + "/search?term=ada&exact_match=maybe"), 400)).contains("exact_match");
    }

    @Test
    void exactEmailSearchFollowsEmailChangesDeletesAndMerges() {
        long ada = id(pd.seed(person("Ada Lovelace", "ada@example.com")));
        long bob = id(pd.seed(person("Bob Byron", "bob@example.com")));
        long cy = id(pd.seed(person("Cy Young", "cy@example.com")));
        long dee = id(pd.seed(person("Dee Dee", "dee@example.com")));

        pd.update(ada, Map.of("emails", List.of(Map.of("value", "ada@new.example"))));
        pd.delete(bob);
        pd.merge(dee, cy);

        assertThat(exactEmail("ada@example.com")).isEmpty();
        assertThat(exactEmail("ADA@new.example")).containsExactly(ada);
        assertThat(exactEmail("bob@example.com")).isEmpty();
        assertThat(exactEmail("dee@example.com")).as("the merged person's email moved to the survivor").containsExactly(cy);
        assertThat(pd.findByEmail("dee@example.com")).extracting(p -> p.get("id")).containsExactly(cy);

        pd.reset();
        assertThat(exactEmail("cy@example.com")).isEmpty();
    }

    private List<Long> exactEmail(String email) {
        List<Long> ids = new java.util.ArrayList<>();
        ok(api.get(PERSONS + "/search?term=" + enc(email) + "&fields=email&exact_match=true")).get("items")
                .forEach(item -> ids.add(item.get("item").get("id").asLong()));
        return ids;
    }

    private static long id(Map<String, Object> person) {
        return ((Number) person.get("id")).longValue();
    }

    @Test
    void searchPagesByCursor() {
        pd.seedDemo(5);
        JsonNode firstPage = api.get(PERSONS + "/search?term=example.com&fields=email&limit=2").json();
        assertThat(firstPage.get("data").get("items").size()).isEqualTo(2);
        String cursor = firstPage.get("additional_data").get("next_cursor").asText();
        Set<Long> seen = new HashSet<>();
        firstPage.get("data").get("items").forEach(i -> seen.add(i.get("item").get("id").asLong()));
        while (cursor != null) {
            JsonNode page = api.get(PERSONS + "/search?term=example.com&fields=email&limit=2&cursor=" + enc(cursor))
                    .json();
            page.get("data").get("items").forEach(i -> assertThat(seen.add(i.get("item").get("id").asLong())).isTrue());
            JsonNode next = page.get("additional_data").get("next_cursor");
            cursor = next.isNull() ? null : next.asText();
        }
        assertThat(seen).containsExactlyInAnyOrder(1L, 2L, 3L, 4L, 5L);
    }

    // ---------------------------------------------------------------- limits

    @Test
    void requestsOverTheWindowLimitAre429UntilTheWindowEnds() {
        pd.rateLimits().limit(3);
        for (int remaining = 2; remaining >= 0; remaining--) {
            Reply reply = api.get(PERSONS);
            ok(reply);
            assertThat(reply.header("x-ratelimit-limit")).isEqualTo("3");
            assertThat(reply.header("x-ratelimit-remaining")).isEqualTo(Integer.toString(remaining));
            assertThat(reply.header("x-ratelimit-reset")).isEqualTo("2");
            assertThat(reply.header("x-daily-requests-left")).isEqualTo(Long.toString(100_000 - 3 + remaining));
        }
        limitClock.advanceMillis(1_500);
        Reply over = api.post(PERSONS, json(person("Ada Lovelace", "ada@example.com")));
        assertThat(error(over, 429)).isEqualTo("Request over limit");
        assertThat(over.header("x-ratelimit-remaining")).isEqualTo("0");
        assertThat(over.header("x-ratelimit-reset")).isEqualTo("1");
        assertThat(pd.live()).as("a refused write stores nothing").isEmpty();

        Reply otherToken = new Http(pd.port()).get(PERSONS + "?api_token=" + OTHER_TOKEN);
        ok(otherToken);
        assertThat(otherToken.header("x-ratelimit-remaining")).as("limits are per token").isEqualTo("2");

        limitClock.advanceMillis(500);
        Reply nextWindow = api.get(PERSONS);
        ok(nextWindow);
        assertThat(nextWindow.header("x-ratelimit-remaining")).isEqualTo("2");

        pd.rateLimits().enabled(false);
        for (int i = 0; i < 5; i++) {
            ok(api.get(PERSONS));
        }
    }

    @Test
    void searchIsLimitedToTenPerWindowWhileOtherCallsGoOn() {
        for (int i = 0; i < 10; i++) {
            Reply search = api.get(PERSONS + "/search?term=ada");
            ok(search);
            assertThat(search.header("x-ratelimit-limit")).isEqualTo("10");
            assertThat(search.header("x-ratelimit-remaining")).isEqualTo(Integer.toString(9 - i));
        }
        assertThat(error(api.get(PERSONS + "/search?term=ada"), 429)).isEqualTo("Request over limit");
        Reply list = api.get(PERSONS);
        ok(list);
        assertThat(list.header("x-ratelimit-limit")).isEqualTo("80");
        assertThat(list.header("x-ratelimit-remaining")).as("searches count in the general window too")
                .isEqualTo(Integer.toString(80 - 12));

        limitClock.advance(Duration.ofSeconds(2));
        Reply again = api.get(PERSONS + "/search?term=ada");
        ok(again);
        assertThat(again.header("x-ratelimit-remaining")).isEqualTo("9");
    }

    @Test
    void dailyBudgetRefusesOnceSpentUntilTheNextUtcDay() {
        pd.rateLimits().dailyLimit(2);
        assertThat(api.get(PERSONS).header("x-daily-requests-left")).isEqualTo("1");
        assertThat(api.get(PERSONS).header("x-daily-requests-left")).isEqualTo("0");
        Reply spent = api.get(PERSONS);
        assertThat(error(spent, 429)).isEqualTo("Daily request budget exceeded");
        limitClock.advance(Duration.ofSeconds(10));
        Reply tomorrow = api.get(PERSONS);
        ok(tomorrow);
        assertThat(tomorrow.header("x-daily-requests-left")).isEqualTo("1");
    }

    // ---------------------------------------------------------------- webhooks

    @Test
    void webhooksArriveInOrderWithBasicCredentials() throws Exception {
        Receiver hooks = receiver("hook-user", "hook-pass");
        pd.seed(person("Seeded Person", "seed@example.com"));
        JsonNode ada = create(Map.of("name", "Ada Lovelace", "emails", List.of(Map.of("value", "ada@example.com")),
                "custom_fields", Map.of("k1", "a", "k2", "b")));
        long id = ada.get("id").asLong();
        clock.advance(Duration.ofSeconds(1));
        ok(api.patch(PERSONS + "/" + id, "{\"name\":\"Ada King\",\"custom_fields\":{\"k2\":\"c\"}}"));
        clock.advance(Duration.ofSeconds(1));
        ok(api.delete(PERSONS + "/" + id));

        Receiver.Received created = hooks.next();
        assertThat(created.authorization()).isEqualTo(basic("hook-user", "hook-pass"));
        JsonNode meta = created.meta();
        assertThat(meta.get("action").asText()).isEqualTo("create");
        assertThat(meta.get("entity").asText()).isEqualTo("person");
        assertThat(meta.get("entity_id").asText()).isEqualTo(Long.toString(id));
        assertThat(meta.get("attempt").asInt()).isEqualTo(1);
        assertThat(meta.get("timestamp").asText()).isEqualTo("2026-05-20T20:49:32Z");
        assertThat(meta.get("id").asText()).matches("[0-9a-f-]{36}");
        assertThat(meta.has("merged_to_id")).isFalse();
        assertThat(created.body().get("data")).isEqualTo(ada);
        assertThat(created.body().get("previous").isNull()).isTrue();

        Receiver.Received changed = hooks.next();
        assertThat(changed.authorization()).isEqualTo(basic("hook-user", "hook-pass"));
        assertThat(changed.meta().get("action").asText()).isEqualTo("change");
        assertThat(changed.meta().get("id").asText()).isNotEqualTo(meta.get("id").asText());
        assertThat(changed.body().get("data").get("name").asText()).isEqualTo("Ada King");
        assertThat(changed.body().get("previous").toString()).isEqualTo("{\"name\":\"Ada Lovelace\","
                + "\"last_name\":\"Lovelace\",\"update_time\":\"2026-05-20T20:49:32Z\",\"custom_fields\":{\"k2\":\"b\"}}");

        Receiver.Received deleted = hooks.next();
        assertThat(deleted.meta().get("action").asText()).isEqualTo("delete");
        assertThat(deleted.meta().get("timestamp").asText()).isEqualTo("2026-05-20T20:49:34Z");
        assertThat(deleted.body().get("data").isNull()).isTrue();
        assertThat(deleted.body().get("previous").get("name").asText()).isEqualTo("Ada King");

        assertThat(pd.webhooks().awaitIdle(Duration.ofSeconds(5))).isTrue();
        assertThat(hooks.received).as("the seed sent nothing").isEmpty();
        assertThat(pd.webhooks().events()).hasSize(3);
    }

    @Test
    void testHelpersSendWebhooksLikeTheApi() throws Exception {
        Receiver hooks = receiver(null, null);
        Map<String, Object> ada = pd.create(person("Ada Lovelace", "ada@example.com"));
        long id = (Long) ada.get("id");
        pd.update(id, Map.of("org_id", 9));
        pd.update(id, Map.of("org_id", 9));
        pd.delete(id);
        List<String> actions = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Receiver.Received r = hooks.next();
            assertThat(r.authorization()).as("no credentials set").isNull();
            actions.add(r.meta().get("action").asText() + " " + r.meta().get("entity_id").asText());
        }
        assertThat(actions).as("the second update changed nothing").containsExactly("create 1", "change 1", "delete 1");
        assertThat(pd.webhooks().awaitIdle(Duration.ofSeconds(5))).isTrue();
        assertThat(hooks.received).isEmpty();
    }

    @Test
    void aWebhookAnswered500IsRetriedWithGrowingDelaysAndLaterEventsWait() throws Exception {
        Receiver hooks = receiver("u", "p");
        hooks.statuses.add(500);
        hooks.statuses.add(500);
        create(person("Ada Lovelace", "ada@example.com"));
        ok(api.patch(PERSONS + "/1", "{\"org_id\":3}"));

        Receiver.Received first = hooks.next();
        Receiver.Received second = hooks.next();
        Receiver.Received third = hooks.next();
        Receiver.Received change = hooks.next();
        String eventId = first.meta().get("id").asText();
        assertThat(List.of(first, second, third)).extracting(r -> r.meta().get("id").asText() + "#"
                + r.meta().get("attempt").asInt()).containsExactly(eventId + "#1", eventId + "#2", eventId + "#3");
        assertThat(third.body().get("data")).isEqualTo(first.body().get("data"));
        assertThat(Duration.ofNanos(second.nanos() - first.nanos())).isGreaterThanOrEqualTo(Duration.ofMillis(20));
        assertThat(Duration.ofNanos(third.nanos() - second.nanos())).isGreaterThanOrEqualTo(Duration.ofMillis(40));
        assertThat(change.meta().get("action").asText()).isEqualTo("change");
        assertThat(change.meta().get("attempt").asInt()).isEqualTo(1);

        assertThat(pd.webhooks().awaitIdle(Duration.ofSeconds(5))).isTrue();
        assertThat(pd.webhooks().deliveries()).extracting(d -> d.action() + "#" + d.attempt() + " " + d.outcome()
                + " " + d.status()).containsExactly("create#1 FAILED 500", "create#2 FAILED 500",
                "create#3 DELIVERED 200", "change#1 DELIVERED 200");
    }

    @Test
    void aWebhookThatNeverGetsThroughIsGivenUpAfterTheLastRetry() throws Exception {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = socket.getLocalPort();
        }
        pd.webhooks().target("http://127.0.0.1:" + closedPort + "/hooks", "u", "p");
        create(person("Ada Lovelace", "ada@example.com"));
        assertThat(pd.webhooks().awaitIdle(Duration.ofSeconds(5))).isTrue();
        assertThat(pd.webhooks().deliveries()).extracting(d -> d.attempt() + " " + d.outcome() + " " + d.status())
                .containsExactly("1 FAILED 0", "2 FAILED 0", "3 FAILED 0", "4 GAVE_UP 0");
        assertThat(pd.webhooks().deliveries()).allSatisfy(d -> assertThat(d.error()).isNotBlank());

        Receiver hooks = receiver("u", "p");
        create(person("Grace Hopper", "grace@example.com"));
        Receiver.Received next = hooks.next();
        assertThat(next.meta().get("entity_id").asText()).isEqualTo("2");
        assertThat(next.meta().get("attempt").asInt()).isEqualTo(1);
    }

    @Test
    void lostWebhooksAreNeverSentAndTheNextOnesAre() throws Exception {
        Receiver hooks = receiver("u", "p");
        pd.webhooks().loseNext(2);
        create(person("Ada Lovelace", "ada@example.com"));
        create(person("Grace Hopper", "grace@example.com"));
        create(person("Edsger Dijkstra", "edsger@example.com"));
        Receiver.Received only = hooks.next();
        assertThat(only.meta().get("entity_id").asText()).isEqualTo("3");
        assertThat(pd.webhooks().awaitIdle(Duration.ofSeconds(5))).isTrue();
        assertThat(hooks.received).isEmpty();
        assertThat(pd.webhooks().deliveries()).extracting(d -> d.entityId() + " " + d.outcome())
                .containsExactly("1 LOST", "2 LOST", "3 DELIVERED");
        assertThat(pd.webhooks().events()).hasSize(3);
        assertThat(pd.webhooks().toLose()).isZero();
    }

    @Test
    void pausedWebhooksWaitUntilFlushed() throws Exception {
        Receiver hooks = receiver("u", "p");
        pd.webhooks().pause();
        create(person("Ada Lovelace", "ada@example.com"));
        create(person("Grace Hopper", "grace@example.com"));
        assertThat(pd.webhooks().pending()).extracting(e -> (Object) ((Map<?, ?>) e.get("meta")).get("entity_id"))
                .containsExactly("1", "2");
        assertThat(pd.webhooks().awaitIdle(Duration.ofMillis(100))).isFalse();
        assertThat(hooks.received).isEmpty();

        assertThat(pd.webhooks().flush(Duration.ofSeconds(5))).isTrue();
        assertThat(hooks.next().meta().get("entity_id").asText()).isEqualTo("1");
        assertThat(hooks.next().meta().get("entity_id").asText()).isEqualTo("2");
        assertThat(pd.webhooks().pending()).isEmpty();
    }

    @Test
    void webhooksQueuedWhenTheSimulatorStopsGoOutWhenItStartsAgain() throws Exception {
        Receiver hooks = receiver("u", "p");
        pd.webhooks().pause();
        pd.create(person("Ada Lovelace", "ada@example.com"));
        pd.stop();
        pd.webhooks().resume();
        assertThat(hooks.received.poll(100, TimeUnit.MILLISECONDS)).as("nothing is sent while stopped").isNull();
        pd.start();
        assertThat(hooks.next().meta().get("entity_id").asText()).isEqualTo("1");
    }

    // ---------------------------------------------------------------- merge

    @Test
    void mergeKeepsTheSurvivorsDataAndSendsADeleteWithMergedToIdThenAChange() throws Exception {
        Receiver hooks = receiver("u", "p");
        pd.seed(Map.of("name", "Ada Lovelace", "emails", List.of(Map.of("value", "ada@a.example")),
                "phones", List.of(Map.of("value", "+14155552671", "label", "mobile")),
                "custom_fields", Map.of("k1", "from merged", "k2", "only merged")));
        Map<String, Object> survivorFields = new LinkedHashMap<>();
        survivorFields.put("name", "A. Lovelace");
        survivorFields.put("emails", List.of(Map.of("value", "ada@b.example"), Map.of("value", "ADA@a.example")));
        survivorFields.put("org_id", 5);
        survivorFields.put("custom_fields", Map.of("k1", "from survivor"));
        pd.seed(survivorFields);
        clock.advance(Duration.ofSeconds(10));

        Reply merged = api.put("/api/v1/persons/1/merge", "{\"merge_with_id\":2}");
        JsonNode v1 = ok(merged);
        assertThat(merged.header("x-ratelimit-limit")).isEqualTo("80");
        assertThat(v1.get("id").asLong()).isEqualTo(2);
        assertThat(v1.get("name").asText()).isEqualTo("A. Lovelace");
        assertThat(v1.has("emails")).isFalse();
        assertThat(v1.get("email").toString()).isEqualTo("[{\"value\":\"ada@b.example\",\"primary\":true,"
                + "\"label\":\"work\"},{\"value\":\"ADA@a.example\",\"primary\":false,\"label\":\"work\"}]");
        assertThat(v1.get("phone").toString())
                .isEqualTo("[{\"value\":\"+14155552671\",\"primary\":true,\"label\":\"mobile\"}]");
        assertThat(v1.get("org_id").asLong()).isEqualTo(5);
        assertThat(v1.get("add_time").asText()).isEqualTo("2026-05-20 20:49:32");
        assertThat(v1.get("update_time").asText()).isEqualTo("2026-05-20 20:49:42");
        assertThat(v1.get("k1").asText()).isEqualTo("from survivor");
        assertThat(v1.get("k2").asText()).isEqualTo("only merged");

        error(api.get(PERSONS + "/1"), 404);
        assertThat(ok(api.get(PERSONS + "/2")).get("custom_fields").toString())
                .isEqualTo("{\"k1\":\"from survivor\",\"k2\":\"only merged\"}");

        Receiver.Received delete = hooks.next();
        assertThat(delete.meta().get("action").asText()).isEqualTo("delete");
        assertThat(delete.meta().get("entity_id").asText()).isEqualTo("1");
        assertThat(delete.meta().get("merged_to_id").asText()).isEqualTo("2");
        assertThat(delete.body().get("data").isNull()).isTrue();
        assertThat(delete.body().get("previous").get("name").asText()).isEqualTo("Ada Lovelace");
        Receiver.Received change = hooks.next();
        assertThat(change.meta().get("action").asText()).isEqualTo("change");
        assertThat(change.meta().get("entity_id").asText()).isEqualTo("2");
        assertThat(change.meta().has("merged_to_id")).isFalse();
        assertThat(change.body().get("data").get("phones").size()).isEqualTo(1);
        List<String> previousKeys = new ArrayList<>();
        change.body().get("previous").fieldNames().forEachRemaining(previousKeys::add);
        assertThat(previousKeys).containsExactly("phones", "update_time", "custom_fields");
        assertThat(change.body().get("previous").get("custom_fields").toString()).isEqualTo("{\"k2\":null}");

        assertThat(pd.deletions()).singleElement().satisfies(d -> assertThat(d.mergedToId()).isEqualTo(2L));
    }

    @Test
    void mergeRefusesItselfUnknownPersonsAndAMissingMergeWithId() {
        pd.seedDemo(3);
        assertThat(error(api.put("/api/v1/persons/2/merge", "{\"merge_with_id\":2}"), 400)).contains("another person");
        assertThat(error(api.put("/api/v1/persons/99/merge", "{\"merge_with_id\":2}"), 404)).isEqualTo("Person not found");
        assertThat(error(api.put("/api/v1/persons/1/merge", "{\"merge_with_id\":99}"), 404)).isEqualTo("Person not found");
        assertThat(error(api.put("/api/v1/persons/1/merge", "{}"), 400)).contains("merge_with_id");
        Reply get = api.get("/api/v1/persons/1/merge");
        error(get, 405);
        assertThat(get.header("Allow")).isEqualTo("PUT");
        assertThat(pd.live()).hasSize(3);
        assertThat(pd.deletions()).isEmpty();

        Map<String, Object> survivor = pd.merge(3, 1);
        assertThat(survivor.get("id")).isEqualTo(1L);
        assertThat(pd.live()).extracting(p -> p.get("id")).containsExactly(1L, 2L);
        assertThatThrownBy(() -> pd.merge(3, 1)).isInstanceOf(java.util.NoSuchElementException.class);
    }

    // ---------------------------------------------------------------- faults, counters, control

    @Test
    void faultsAnswerPipedriveErrorsAndChangeNothing() {
        pd.faults().failNext(1, 503, "POST", PERSONS);
        Reply failed = api.post(PERSONS, json(person("Ada Lovelace", "ada@example.com")));
        assertThat(error(failed, 503)).contains("Simulated 503");
        assertThat(failed.header("x-ratelimit-remaining")).as("a fault uses no limit").isEqualTo("80");
        assertThat(pd.live()).isEmpty();

        pd.faults().rateLimitNext(1, 3);
        Reply limited = api.get(PERSONS);
        assertThat(error(limited, 429)).isEqualTo("Request over limit");
        assertThat(limited.header("Retry-After")).isEqualTo("3");

        pd.faults().dropNext(1, "POST", null);
        assertThatThrownBy(() -> api.post(PERSONS, json(person("Ada Lovelace", "ada@example.com"))))
                .isInstanceOf(UncheckedIOException.class);
        assertThat(pd.live()).isEmpty();
        create(person("Ada Lovelace", "ada@example.com"));
        assertThat(pd.calls("POST /api/v2/persons")).isEqualTo(3);
        assertThat(pd.calls("GET /api/v2/persons")).isEqualTo(1);
    }

    @Test
    void callsAreCountedByEndpointAndControlEndpointsSetTheSwitches() throws Exception {
        Http control = new Http(pd.port());
        pd.seedDemo(2);
        api.get(PERSONS + "/1");
        api.get(PERSONS + "/2");
        api.get(PERSONS + "/search?term=ab");
        api.put("/api/v1/persons/1/merge", "{\"merge_with_id\":2}");
        JsonNode stats = control.get("/__sim/stats").json();
        assertThat(stats.get("calls").get("GET /api/v2/persons/{id}").asInt()).isEqualTo(2);
        assertThat(stats.get("calls").get("GET /api/v2/persons/search").asInt()).isEqualTo(1);
        assertThat(stats.get("calls").get("PUT /api/v1/persons/{id}/merge").asInt()).isEqualTo(1);
        assertThat(stats.get("total").asInt()).isEqualTo(4);
        assertThat(control.get("/__sim/requests").json().get("requests").size()).isEqualTo(4);

        assertThat(control.post("/__sim/ratelimit", "{\"limit\":1,\"reset\":true}").json().get("limit").asInt())
                .isEqualTo(1);
        ok(api.get(PERSONS));
        error(api.get(PERSONS), 429);
        control.post("/__sim/ratelimit", "{\"enabled\":false}");
        ok(api.get(PERSONS));
        Reply bad = control.post("/__sim/ratelimit", "{\"limit\":0}");
        assertThat(bad.status()).isEqualTo(400);
        assertThat(control.get("/__sim/ratelimit").json().get("limit").asInt()).isEqualTo(1);

        receiver = new Receiver();
        JsonNode hooks = control.post("/__sim/webhooks", json(Map.of("url", receiver.url(), "username", "u",
                "password", "p", "loseNext", 1, "paused", true, "retryDelaysMs", List.of(10)))).json();
        assertThat(hooks.get("basicAuth").asBoolean()).isTrue();
        assertThat(hooks.get("loseNext").asInt()).isEqualTo(1);
        assertThat(hooks.get("paused").asBoolean()).isTrue();
        assertThat(hooks.get("retryDelaysMs").toString()).isEqualTo("[10]");
        pd.create(person("Lost Person", "lost@example.com"));
        pd.create(person("Kept Person", "kept@example.com"));
        assertThat(control.get("/__sim/webhooks").json().get("queued").asInt()).isEqualTo(1);
        assertThat(control.post("/__sim/webhooks", "{\"flush\":true}").json().get("queued").asInt()).isZero();
        assertThat(receiver.next().body().get("data").get("name").asText()).isEqualTo("Kept Person");
        JsonNode deliveries = control.get("/__sim/webhooks/deliveries").json().get("deliveries");
        assertThat(deliveries.get(0).get("outcome").asText()).isEqualTo("LOST");
        assertThat(deliveries.get(1).get("outcome").asText()).isEqualTo("DELIVERED");
        JsonNode events = control.get("/__sim/webhooks/events").json().get("events");
        assertThat(events).as("the merge's delete and change (no target then), then the two creates")
                .extracting(e -> e.get("meta").get("action").asText())
                .containsExactly("delete", "change", "create", "create");
        assertThat(control.post("/__sim/webhooks", "{\"url\":\"ftp://nowhere\"}").status()).isEqualTo(400);
        assertThat(control.delete("/__sim/webhooks").status()).isEqualTo(204);
        assertThat(control.get("/__sim/webhooks").json().get("url").isNull()).isTrue();

        assertThat(control.post("/__sim/faults", "{\"kind\":\"status\",\"status\":500,\"count\":1}").status())
                .isEqualTo(200);
        error(api.get(PERSONS), 500);
        assertThat(control.get("/__sim/nothing").status()).isEqualTo(404);
    }

    @Test
    void unknownPathsAre404AndOtherMethods405() {
        assertThat(error(api.get("/api/v2/deals"), 404)).contains("Unknown endpoint");
        Reply put = api.put(PERSONS, "{}");
        error(put, 405);
        assertThat(put.header("Allow")).isEqualTo("GET, POST");
        error(api.post(PERSONS + "/search", "{}"), 405);
        error(new Http(pd.port()).get("/elsewhere"), 404);
    }

    @Test
    void resetForgetsPersonsAndRestartsIds() {
        pd.seedDemo(3);
        pd.delete(1);
        pd.reset();
        assertThat(pd.live()).isEmpty();
        assertThat(pd.deletions()).isEmpty();
        assertThat(create(person("Ada Lovelace", "ada@example.com")).get("id").asLong()).isEqualTo(1);
        assertThat(pd.callCounts()).containsOnlyKeys("POST /api/v2/persons");
    }
}
