package dev.crmsync.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.IntStream;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.i18n.phonenumbers.PhoneNumberUtil;
import dev.crmsync.support.Http;
import dev.crmsync.support.Http.Reply;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The generic REST CRM simulator over real HTTP: its data, paging, errors, faults and counters. */
class GenericCrmSimulatorTest {

    static final String TOKEN = "test-token";

    GenericCrmSimulator crm;
    Http api;

    @BeforeEach
    void start() {
        crm = GenericCrmSimulator.builder().token(TOKEN).build().start();
        api = new Http(crm.port()).withHeader("Authorization", "Bearer " + TOKEN);
    }

    @AfterEach
    void stop() {
        crm.stop();
    }

    static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    /** Walks the changed-since listing page by page; answers every record in order and the page sizes. */
    record Walk(List<JsonNode> records, List<Integer> pageSizes) {
        List<String> ids() {
            return records.stream().map(r -> r.get("Id").asText()).toList();
        }
    }

    Walk walk(int limit, String modifiedSince) {
        List<JsonNode> records = new ArrayList<>();
        List<Integer> sizes = new ArrayList<>();
        String query = "?limit=" + limit + (modifiedSince == null ? "" : "&modifiedSince=" + enc(modifiedSince));
        for (int guard = 0; guard < 100; guard++) {
            Reply page = api.get("/api/contacts" + query);
            assertThat(page.status()).as(page.toString()).isEqualTo(200);
            JsonNode body = page.json();
            body.get("records").forEach(records::add);
            sizes.add(body.get("records").size());
            JsonNode next = body.get("next");
            if (next == null) {
                return new Walk(records, sizes);
            }
            JsonNode last = body.get("records").get(body.get("records").size() - 1);
            assertThat(next.get("modifiedSince").asText()).isEqualTo(last.get("LastModified").asText());
            assertThat(next.get("afterId").asText()).isEqualTo(last.get("Id").asText());
            query = "?limit=" + limit + "&modifiedSince=" + enc(next.get("modifiedSince").asText())
                    + "&afterId=" + enc(next.get("afterId").asText());
        }
        throw new AssertionError("the listing never ended");
    }

    static List<String> idsInKeysetOrder(List<Map<String, Object>> records) {
        return records.stream()
                .sorted(Comparator.comparing((Map<String, Object> r) -> (String) r.get("LastModified"))
                        .thenComparing(r -> (String) r.get("Id")))
                .map(r -> (String) r.get("Id"))
                .toList();
    }

    // ------------------------------------------------------------------ records

    @Test
    void createReadPatchDeleteRoundTripKeepsEveryPropertyAndOwnsIdLastModifiedDeleted() {
        ManualClock clock = crm.freezeClock(Instant.parse("2026-11-22T21:00:00Z"));
        Reply created = api.post("/api/contacts", """
                {"Id":"forged","LastModified":"1999-01-01T00:00:00Z","Deleted":true,
                 "Email":"ada.lovelace@example.com","FirstName":"Ada","LastName":"Lovelace","Phone":"+14155552671",
                 "Company":"Analytical Engines","Title":"Countess","Source":"web","Score":3,"Vip":true,"Notes":null}
                """);

        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        assertThat(created.header("Location")).isEqualTo("/api/contacts/c-000001");
        assertThat(created.header("Content-Type")).isEqualTo("application/json; charset=utf-8");
        assertThat(created.body()).isEqualTo("{\"Id\":\"c-000001\",\"Email\":\"ada.lovelace@example.com\","
                + "\"FirstName\":\"Ada\",\"LastName\":\"Lovelace\",\"Phone\":\"+14155552671\","
                + "\"Company\":\"Analytical Engines\",\"Title\":\"Countess\",\"Source\":\"web\",\"Score\":3,"
                + "\"Vip\":true,\"Notes\":null,\"LastModified\":\"2026-11-22T21:00:00.000Z\",\"Deleted\":false}");
        assertThat(api.get("/api/contacts/c-000001").body()).isEqualTo(created.body());

        clock.advanceMillis(1500);
        Reply patched = api.patch("/api/contacts/c-000001", "{\"Title\":null,\"Phone\":\"+14155552672\",\"Id\":\"x\"}");
        assertThat(patched.status()).as(patched.toString()).isEqualTo(200);
        JsonNode record = patched.json();
        assertThat(record.get("Id").asText()).isEqualTo("c-000001");
        assertThat(record.get("Title").isNull()).isTrue();
        assertThat(record.get("Phone").asText()).isEqualTo("+14155552672");
        assertThat(record.get("Email").asText()).isEqualTo("ada.lovelace@example.com");
        assertThat(record.get("Score").asInt()).isEqualTo(3);
        assertThat(record.get("LastModified").asText()).isEqualTo("2026-11-22T21:00:01.500Z");
        assertThat(crm.find("c-000001")).hasValueSatisfying(stored -> {
            assertThat(stored.get("Phone")).isEqualTo("+14155552672");
            assertThat(stored).containsEntry("Title", null);
        });

        clock.advanceMillis(1);
        assertThat(api.delete("/api/contacts/c-000001").status()).isEqualTo(204);
        assertThat(crm.find("c-000001")).hasValueSatisfying(tombstone -> {
            assertThat(tombstone.get("Deleted")).isEqualTo(true);
            assertThat(tombstone.get("LastModified")).isEqualTo("2026-11-22T21:00:01.501Z");
            assertThat(tombstone.get("Email")).isEqualTo("ada.lovelace@example.com");
        });
        assertThat(api.get("/api/contacts/c-000001").json().get("error").asText()).isEqualTo("deleted");
        assertThat(api.delete("/api/contacts/c-000001").status()).isEqualTo(410);
        assertThat(api.patch("/api/contacts/c-000001", "{\"FirstName\":\"Back\"}").status()).isEqualTo(410);
        assertThat(crm.find("c-000001").orElseThrow().get("FirstName")).isEqualTo("Ada");

        for (Reply unknown : List.of(api.get("/api/contacts/c-999999"),
                api.patch("/api/contacts/c-999999", "{}"), api.delete("/api/contacts/c-999999"))) {
            assertThat(unknown.status()).isEqualTo(404);
            assertThat(unknown.json().get("error").asText()).isEqualTo("not_found");
        }
        assertThat(crm.records()).hasSize(1);
        assertThat(crm.live()).isEmpty();
    }

    @Test
    void keysetPagingReturnsEveryRecordExactlyOnceWhenPageBoundariesFallInsideEqualTimestamps() {
        ManualClock clock = crm.freezeClock(Instant.parse("2026-11-22T21:00:00.123Z"));
        crm.seedDemo(7);
        clock.advanceMillis(1);
        crm.seedDemo(6);
        clock.advanceMillis(1);
        crm.seed(Map.of("Email", "last@example.com"));
        crm.update("c-000002", Map.of("Title", "Moved to the end"));
        // Now 6 records share .123, 6 share .124 and 2 share .125: pages of 5 end inside the first two runs.

        Walk walk = walk(5, null);

        List<String> expected = idsInKeysetOrder(crm.records());
        assertThat(expected).hasSize(14).startsWith("c-000001", "c-000003");
        assertThat(walk.ids()).containsExactlyElementsOf(expected).doesNotHaveDuplicates();
        assertThat(walk.pageSizes()).containsExactly(5, 5, 4);
        assertThat(walk.records().get(4).get("LastModified").asText())
                .isEqualTo(walk.records().get(5).get("LastModified").asText());
        assertThat(walk.records().get(9).get("LastModified").asText())
                .isEqualTo(walk.records().get(10).get("LastModified").asText());

        // A last page that is exactly full has no next; pages of one walk through a run of equal stamps.
        assertThat(walk(7, null).pageSizes()).containsExactly(7, 7);
        assertThat(walk(1, null).ids()).containsExactlyElementsOf(expected);
        assertThat(walk(500, null).pageSizes()).containsExactly(14);
    }

    @Test
    void modifiedSinceAloneIsInclusiveAndAfterIdMakesItStrict() {
        ManualClock clock = crm.freezeClock(Instant.parse("2026-11-22T21:00:00Z"));
        crm.seedDemo(2);
        clock.advanceMillis(10);
        crm.seedDemo(2);
        clock.advanceMillis(10);
        crm.seedDemo(1);

        assertThat(walk(100, "2026-11-22T21:00:00.010Z").ids()).containsExactly("c-000003", "c-000004", "c-000005");
        assertThat(walk(100, "2026-11-22T22:00:00.010+01:00").ids()).containsExactly("c-000003", "c-000004", "c-000005");
        assertThat(walk(100, "2026-11-22T21:00:00.011Z").ids()).containsExactly("c-000005");
        JsonNode after = api.get("/api/contacts?modifiedSince=" + enc("2026-11-22T21:00:00.010Z") + "&afterId=c-000003")
                .json();
        assertThat(after.get("records")).extracting(r -> r.get("Id").asText()).containsExactly("c-000004", "c-000005");
        assertThat(after.has("next")).isFalse();
        assertThat(walk(100, "2030-01-01T00:00:00Z").records()).isEmpty();
    }

    @Test
    void deletedRecordsStayInTheListingWithDeletedTrueAndAnswer410() {
        ManualClock clock = crm.freezeClock(Instant.parse("2026-11-22T21:00:00Z"));
        crm.seedDemo(3);
        Walk before = walk(100, null);
        JsonNode last = before.records().get(2);
        clock.advanceMillis(1);

        assertThat(api.delete("/api/contacts/c-000002").status()).isEqualTo(204);

        JsonNode changed = api.get("/api/contacts?modifiedSince=" + enc(last.get("LastModified").asText())
                + "&afterId=" + last.get("Id").asText()).json();
        assertThat(changed.get("records")).hasSize(1);
        JsonNode tombstone = changed.get("records").get(0);
        assertThat(tombstone.get("Id").asText()).isEqualTo("c-000002");
        assertThat(tombstone.get("Deleted").asBoolean()).isTrue();
        assertThat(tombstone.get("Email").asText()).isEqualTo("liam.garcia@example.com");
        assertThat(tombstone.get("LastModified").asText()).isEqualTo("2026-11-22T21:00:00.001Z");
        assertThat(walk(100, null).ids()).containsExactly("c-000001", "c-000003", "c-000002");

        Reply gone = api.get("/api/contacts/c-000002");
        assertThat(gone.status()).isEqualTo(410);
        assertThat(gone.json().get("error").asText()).isEqualTo("deleted");
        assertThat(crm.live()).extracting(r -> r.get("Id")).containsExactly("c-000001", "c-000003");
        assertThat(crm.records()).extracting(r -> r.get("Deleted")).containsExactly(false, true, false);
    }

    @Test
    void aPermanentDeleteRemovesALiveRecordOrATombstoneForGood() {
        crm.seedDemo(3);
        assertThat(api.delete("/api/contacts/c-000003").status()).isEqualTo(204);

        assertThat(api.delete("/api/contacts/c-000002?permanent=true").status()).isEqualTo(204);
        assertThat(api.delete("/api/contacts/c-000003?permanent=true").status()).isEqualTo(204);

        assertThat(api.get("/api/contacts/c-000002").status()).isEqualTo(404);
        assertThat(api.delete("/api/contacts/c-000002?permanent=true").status()).isEqualTo(404);
        assertThat(walk(100, null).ids()).containsExactly("c-000001");
        assertThat(api.get("/api/contacts?email=liam.garcia@example.com").json().get("records")).isEmpty();
        assertThat(crm.records()).extracting(r -> r.get("Id")).containsExactly("c-000001");
    }

    @Test
    void userEditsInTheCrmBumpLastModifiedAndShowUpInTheChangedSinceListing() {
        ManualClock clock = crm.freezeClock(Instant.parse("2026-11-22T21:00:00Z"));
        crm.seedDemo(3);
        clock.advanceMillis(5);

        Map<String, Object> edited = crm.update("c-000001", Map.of("Company", "Initech"));
        clock.advanceMillis(5);
        Map<String, Object> deleted = crm.delete("c-000003");

        assertThat(edited.get("LastModified")).isEqualTo("2026-11-22T21:00:00.005Z");
        assertThat(deleted.get("LastModified")).isEqualTo("2026-11-22T21:00:00.010Z");
        Walk changes = walk(100, "2026-11-22T21:00:00.001Z");
        assertThat(changes.ids()).containsExactly("c-000001", "c-000003");
        assertThat(changes.records().get(0).get("Company").asText()).isEqualTo("Initech");
        assertThat(changes.records().get(1).get("Deleted").asBoolean()).isTrue();
        assertThatThrownBy(() -> crm.update("c-000003", Map.of("Company", "x"))).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> crm.delete("c-000404")).isInstanceOf(java.util.NoSuchElementException.class);
        assertThat(crm.totalCalls()).isEqualTo(1);   // the one listing; Java-side edits are not API calls
    }

    @Test
    void lastModifiedNeverGoesBackWhenTheClockDoes() {
        ManualClock clock = crm.freezeClock(Instant.parse("2020-01-01T21:00:00.500Z"));
        crm.seed(Map.of("Email", "a@example.com"));
        clock.set(Instant.parse("2020-01-01T20:00:00Z"));
        Map<String, Object> second = crm.seed(Map.of("Email", "b@example.com"));
        clock.set(Instant.parse("2020-01-01T21:00:00.5009Z"));
        Map<String, Object> third = crm.seed(Map.of("Email", "c@example.com"));

        assertThat(second.get("LastModified")).isEqualTo("2020-01-01T21:00:00.500Z");
        assertThat(third.get("LastModified")).isEqualTo("2020-01-01T21:00:00.500Z");

        crm.useSystemClock();
        Map<String, Object> now = crm.seed(Map.of("Email", "d@example.com"));
        assertThat(Instant.parse((String) now.get("LastModified"))).isAfter(Instant.parse("2020-01-01T21:00:00.500Z"));
        assertThat((String) now.get("LastModified")).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z");
    }

    @Test
    void findByEmailIgnoresCaseAndSkipsDeletedRecords() {
        crm.seed(Map.of("Email", "Ada.Lovelace@Example.com", "FirstName", "Ada"));
        crm.seed(Map.of("Email", "grace.hopper@example.com"));
        crm.seed(Map.of("Email", "ada.lovelace@example.com", "FirstName", "Old Ada"));
        crm.delete("c-000003");

        Reply found = api.get("/api/contacts?email=" + enc("ADA.LOVELACE@example.COM"));

        assertThat(found.status()).isEqualTo(200);
        assertThat(found.json().get("records")).extracting(r -> r.get("Id").asText()).containsExactly("c-000001");
        assertThat(found.json().has("next")).isFalse();
        assertThat(api.get("/api/contacts?email=" + enc("nobody@example.com")).json().get("records")).isEmpty();
    }

    // ------------------------------------------------------------------ refusals

    @Test
    void requestsWithoutTheRightBearerTokenAre401AndChangeNothing() {
        Http anonymous = new Http(crm.port());
        crm.seedDemo(1);
        List<Reply> refused = List.of(
                anonymous.get("/api/contacts"),
                anonymous.get("/api/contacts/c-000001", "Authorization", "Bearer wrong"),
                anonymous.post("/api/contacts", "{\"Email\":\"a@example.com\"}", "Authorization", "Basic " + TOKEN),
                anonymous.delete("/api/contacts/c-000001", "Authorization", TOKEN));

        for (Reply reply : refused) {
            assertThat(reply.status()).as(reply.toString()).isEqualTo(401);
            assertThat(reply.header("WWW-Authenticate")).isEqualTo("Bearer");
            assertThat(reply.json().get("error").asText()).isEqualTo("unauthorized");
            assertThat(reply.json().get("message").asText()).isNotBlank();
        }
        assertThat(crm.live()).hasSize(1);
        assertThat(anonymous.get("/api/contacts", "Authorization", "bearer " + TOKEN).status()).isEqualTo(200);
    }

    @Test
    void bodiesThatAreNotOneFlatJsonObjectAre400AndStoreNothing() {
        for (String body : List.of("", "[1,2]", "\"text\"", "not json", "{\"Email\":\"a@example.com\"} {}",
                "{\"Address\":{\"City\":\"Oslo\"}}", "{\"Tags\":[\"vip\"]}")) {
            Reply reply = api.post("/api/contacts", body);
            assertThat(reply.status()).as(body).isEqualTo(400);
            assertThat(reply.json().get("error").asText()).isEqualTo("invalid");
        }
        assertThat(api.post("/api/contacts", "{\"Tags\":[\"vip\"]}").json().get("field").asText()).isEqualTo("Tags");
        assertThat(crm.records()).isEmpty();
    }

    @Test
    void requireEmailRefusesACreateOrUpdateLeavingNoEmailAndNamesTheField() {
        crm.requireEmail(true);
        Map<String, Object> kept = crm.seed(Map.of("Email", "kept@example.com"));

        for (Reply reply : List.of(api.post("/api/contacts", "{\"FirstName\":\"NoMail\"}"),
                api.post("/api/contacts", "{\"Email\":\"  \"}"),
                api.patch("/api/contacts/c-000001", "{\"Email\":null}"))) {
            assertThat(reply.status()).as(reply.toString()).isEqualTo(400);
            assertThat(reply.body()).isEqualTo("{\"error\":\"invalid\",\"message\":\"Email is required\",\"field\":\"Email\"}");
        }
        assertThat(crm.records()).containsExactly(kept);

        assertThat(api.post("/__sim/rules", "{\"requireEmail\":false}").status()).isEqualTo(200);
        assertThat(api.post("/api/contacts", "{\"FirstName\":\"NoMail\"}").status()).isEqualTo(201);
    }

    @Test
    void badListingParametersAre400NamingTheParameter() {
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put("?limit=0", "limit");
        cases.put("?limit=501", "limit");
        cases.put("?limit=ten", "limit");
        cases.put("?afterId=c-000001", "afterId");
        cases.put("?modifiedSince=yesterday", "modifiedSince");
        cases.put("?email=", "email");
        cases.forEach((query, field) -> {
            Reply reply = api.get("/api/contacts" + query);
            assertThat(reply.status()).as(query).isEqualTo(400);
            assertThat(reply.json().get("field").asText()).as(query).isEqualTo(field);
        });
        assertThat(api.send("PUT", "/api/contacts/c-000001", "{}").header("Allow")).isEqualTo("GET, PATCH, DELETE");
        assertThat(api.get("/api/accounts").status()).isEqualTo(404);
    }

    // ------------------------------------------------------------------ faults

    @Test
    void statusFaultAnswersOnlyMatchingRequestsAndAFaultedWriteChangesNothing() {
        crm.seedDemo(1);
        Map<String, Object> before = crm.find("c-000001").orElseThrow();
        crm.faults().failNext(2, 503, "POST", "/api/contacts").failNext(1, 500, "PATCH", null);

        assertThat(api.get("/api/contacts").status()).isEqualTo(200);        // not a POST: not faulted
        Reply first = api.post("/api/contacts", "{\"Email\":\"new@example.com\"}");
        Reply second = api.post("/api/contacts", "{\"Email\":\"new@example.com\"}");
        Reply patch = api.patch("/api/contacts/c-000001", "{\"FirstName\":\"Changed\"}");

        assertThat(first.status()).isEqualTo(503);
        assertThat(first.json().get("error").asText()).isEqualTo("server_error");
        assertThat(second.status()).isEqualTo(503);
        assertThat(patch.status()).isEqualTo(500);
        assertThat(crm.records()).containsExactly(before);
        assertThat(crm.faults().pending()).isEmpty();

        assertThat(api.post("/api/contacts", "{\"Email\":\"new@example.com\"}").status()).isEqualTo(201);
        assertThat(crm.live()).hasSize(2);
    }

    @Test
    void rateLimitAnswers429WithRetryAfterAndTheRequestLogShowsWhetherTheClientWaited() throws Exception {
        crm.faults().rateLimitNext(2, 1, "GET", "/api/contacts");

        Reply limited = api.get("/api/contacts");
        Reply impatient = api.get("/api/contacts");               // retried at once: also limited
        assertThat(limited.status()).isEqualTo(429);
        assertThat(limited.header("Retry-After")).isEqualTo("1");
        assertThat(limited.json().get("error").asText()).isEqualTo("rate_limited");
        assertThat(impatient.status()).isEqualTo(429);

        Thread.sleep(Long.parseLong(impatient.header("Retry-After")) * 1000);
        assertThat(api.get("/api/contacts").status()).isEqualTo(200);

        List<CallStats.Request> tries = crm.requests("GET /api/contacts");
        assertThat(tries).extracting(CallStats.Request::status).containsExactly(429, 429, 200);
        assertThat(tries.get(0).until(tries.get(1))).isLessThan(Duration.ofSeconds(1));
        assertThat(tries.get(1).until(tries.get(2))).isGreaterThanOrEqualTo(Duration.ofSeconds(1));
    }

    @Test
    void latencyDelaysEveryRequestUntilCleared() {
        crm.faults().latency(Duration.ofMillis(300));

        long start = System.nanoTime();
        Reply reply = api.post("/api/contacts", "{\"Email\":\"slow@example.com\"}");
        Duration took = Duration.ofNanos(System.nanoTime() - start);

        assertThat(reply.status()).isEqualTo(201);
        assertThat(took).isGreaterThanOrEqualTo(Duration.ofMillis(300));
        assertThat(crm.faults().clear().latency()).isZero();
    }

    @Test
    void droppedConnectionGivesTheClientAnIOExceptionAndChangesNothing() {
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        HttpRequest create = HttpRequest.newBuilder(URI.create(crm.baseUrl() + "/api/contacts"))
                .header("Authorization", "Bearer " + TOKEN)
                .POST(HttpRequest.BodyPublishers.ofString("{\"Email\":\"dropped@example.com\"}")).build();
        HttpRequest list = HttpRequest.newBuilder(URI.create(crm.baseUrl() + "/api/contacts"))
                .header("Authorization", "Bearer " + TOKEN).build();

        crm.faults().dropNext(1, "POST", null);
        assertThatThrownBy(() -> client.send(create, HttpResponse.BodyHandlers.ofString()))
                .isInstanceOf(IOException.class);
        assertThat(crm.records()).isEmpty();

        // java.net.http retries a GET once on a dropped connection by itself: two drops make it fail.
        crm.faults().dropNext(2, "GET", null);
        assertThatThrownBy(() -> client.send(list, HttpResponse.BodyHandlers.ofString()))
                .isInstanceOf(IOException.class);

        assertThat(crm.requests()).extracting(CallStats.Request::status)
                .containsExactly(CallStats.DROPPED, CallStats.DROPPED, CallStats.DROPPED);
        assertThat(crm.calls("POST /api/contacts")).isEqualTo(1);
        assertThat(crm.calls("GET /api/contacts")).isEqualTo(2);
        assertThat(api.post("/api/contacts", "{\"Email\":\"dropped@example.com\"}").status()).isEqualTo(201);
        assertThat(crm.live()).hasSize(1);
    }

    @Test
    void stickyModeFailsEveryRequestUntilCleared() {
        crm.seedDemo(1);
        List<Map<String, Object>> before = crm.records();
        crm.faults().sticky(503);

        List<Reply> replies = List.of(api.get("/api/contacts"), api.get("/api/contacts/c-000001"),
                api.post("/api/contacts", "{\"Email\":\"x@example.com\"}"),
                api.patch("/api/contacts/c-000001", "{\"FirstName\":\"X\"}"), api.delete("/api/contacts/c-000001"),
                new Http(crm.port()).get("/api/contacts"));
        assertThat(replies).extracting(Reply::status).containsOnly(503);
        assertThat(crm.records()).isEqualTo(before);

        crm.faults().clear();
        assertThat(api.get("/api/contacts/c-000001").status()).isEqualTo(200);
    }

    @Test
    void faultsAreSetAndClearedOverHttp() {
        Http control = new Http(crm.port());
        Reply set = control.post("/__sim/faults", """
                [{"kind":"status","status":500,"count":1,"method":"GET"},
                 {"kind":"rateLimit","count":1,"retryAfterSeconds":7,"pathPrefix":"/api/contacts"}]
                """);
        assertThat(set.status()).as(set.toString()).isEqualTo(200);
        assertThat(set.json().get("pending")).hasSize(2);

        assertThat(api.get("/api/contacts").status()).isEqualTo(500);
        Reply limited = api.post("/api/contacts", "{\"Email\":\"a@example.com\"}");
        assertThat(limited.status()).isEqualTo(429);
        assertThat(limited.header("Retry-After")).isEqualTo("7");

        assertThat(control.post("/__sim/faults", "{\"kind\":\"sticky\"}").json().get("sticky").asInt()).isEqualTo(503);
        assertThat(api.get("/api/contacts").status()).isEqualTo(503);
        assertThat(control.post("/__sim/faults", "{\"kind\":\"latency\",\"ms\":50}").json().get("latencyMs").asInt())
                .isEqualTo(50);
        Reply bad = control.post("/__sim/faults", "[{\"kind\":\"drop\"},{\"kind\":\"status\",\"status\":200}]");
        assertThat(bad.status()).isEqualTo(400);
        assertThat(crm.faults().pending()).isEmpty();                // all or nothing

        assertThat(control.delete("/__sim/faults").status()).isEqualTo(204);
        assertThat(crm.faults().sticky()).isEmpty();
        assertThat(crm.faults().latency()).isZero();
        assertThat(api.get("/api/contacts").status()).isEqualTo(200);
        assertThat(crm.records()).isEmpty();
    }

    // ------------------------------------------------------------------ counters and concurrency

    @Test
    void countersCountEveryRequestByEndpointFaultedOrNotButNotTheControlEndpoints() {
        crm.seedDemo(2);
        api.get("/api/contacts");
        api.get("/api/contacts?email=x%40example.com");
        api.get("/api/contacts/c-000001");
        api.get("/api/contacts/c-999999");
        api.post("/api/contacts", "{\"Email\":\"new@example.com\"}");
        crm.faults().failNext(1, 500);
        api.post("/api/contacts", "{\"Email\":\"new@example.com\"}");
        api.patch("/api/contacts/c-000001", "{\"Title\":\"CEO\"}");
        api.delete("/api/contacts/c-000002");
        new Http(crm.port()).delete("/api/contacts/c-000001");       // refused: counted all the same
        api.get("/__sim/faults");

        Map<String, Long> expected = Map.of("GET /api/contacts", 2L, "GET /api/contacts/{id}", 2L,
                "POST /api/contacts", 2L, "PATCH /api/contacts/{id}", 1L, "DELETE /api/contacts/{id}", 2L);
        assertThat(crm.callCounts()).isEqualTo(expected);
        assertThat(crm.calls("POST /api/contacts")).isEqualTo(2);
        assertThat(crm.calls("PUT /api/contacts/{id}")).isZero();
        assertThat(crm.totalCalls()).isEqualTo(9);

        JsonNode stats = api.get("/__sim/stats").json();
        assertThat(stats.get("total").asLong()).isEqualTo(9);
        expected.forEach((endpoint, n) -> assertThat(stats.get("calls").get(endpoint).asLong()).isEqualTo(n));

        crm.resetCounters();
        assertThat(crm.totalCalls()).isZero();
        assertThat(crm.requests()).isEmpty();
        api.get("/api/contacts");
        assertThat(api.delete("/__sim/stats").status()).isEqualTo(204);
        assertThat(api.get("/__sim/stats").json().get("total").asLong()).isZero();
    }

    @Test
    void concurrentCreatesEachGetTheirOwnIdAndAllAppearInTheListing() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<CompletableFuture<Reply>> creates = IntStream.range(0, 200)
                    .mapToObj(i -> CompletableFuture.supplyAsync(
                            () -> api.post("/api/contacts", "{\"Email\":\"p" + i + "@example.com\"}"), pool))
                    .toList();
            Set<String> ids = new HashSet<>();
            for (CompletableFuture<Reply> create : creates) {
                Reply reply = create.get();
                assertThat(reply.status()).isEqualTo(201);
                ids.add(reply.json().get("Id").asText());
            }
            assertThat(ids).hasSize(200);
            assertThat(walk(37, null).ids()).containsExactlyElementsOf(idsInKeysetOrder(crm.records()))
                    .containsExactlyInAnyOrderElementsOf(ids);
            assertThat(crm.calls("POST /api/contacts")).isEqualTo(200);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void demoContactsHaveRealisticNamesDistinctEmailsAndValidE164Phones() {
        List<Map<String, Object>> demo = crm.seedDemo(450);
        PhoneNumberUtil phones = PhoneNumberUtil.getInstance();

        assertThat(demo.get(0)).containsEntry("Email", "olivia.johnson@example.com")
                .containsEntry("FirstName", "Olivia").containsEntry("LastName", "Johnson")
                .containsEntry("Phone", "+14155552671");
        assertThat(demo.get(1).get("Phone")).isEqualTo("+14155552672");
        assertThat(demo).extracting(c -> c.get("Email")).doesNotHaveDuplicates();
        assertThat(demo).extracting(c -> (String) c.get("Email"))
                .allMatch(e -> e.matches("[a-z]+\\.[a-z]+\\d*@example\\.com"));
        assertThat(demo).extracting(c -> (String) c.get("Phone")).doesNotHaveDuplicates().allSatisfy(phone -> {
            assertThat(phone).matches("\\+1415555\\d{4}");
            try {
                assertThat(phones.isValidNumber(phones.parse(phone, null))).as(phone).isTrue();
            } catch (com.google.i18n.phonenumbers.NumberParseException e) {
                throw new AssertionError(phone, e);
            }
        });
    }
}
