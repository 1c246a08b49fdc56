package dev.crmsync.sync;

import static dev.crmsync.support.Simulated.PATIENCE;
import static dev.crmsync.support.Simulated.byEmail;
import static dev.crmsync.support.Simulated.email;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crmsync.sim.GenericCrmSimulator;
import dev.crmsync.support.Http;
import dev.crmsync.support.Http.Reply;
import dev.crmsync.support.ServiceTest;
import dev.crmsync.support.TwoCrms;
import dev.crmsync.support.Simulated;
import org.apache.camel.CamelContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;

/**
 * POST /api/sync/contact and GET /api/contacts/{id}/sync against two generic CRM simulators, with
 * the whole service running: each answer is checked against the records in both simulators and the
 * rows in the store. Run on H2 and on PostgreSQL by the subclasses, each with its own simulators.
 */
@ServiceTest
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
abstract class ContactSyncStatusTests {

    static final List<String> ROUTES = List.of("crm1-deliver", "crm2-deliver");

    final GenericCrmSimulator sim1;
    final GenericCrmSimulator sim2;

    ContactSyncStatusTests(TwoCrms crms) {
        this.sim1 = crms.crm1();
        this.sim2 = crms.crm2();
    }

    static void providers(DynamicPropertyRegistry registry, TwoCrms crms) {
        crms.wire(registry);
        // two waiting callers fill the places, so the test of the bound needs only three
        registry.add("crmsync.api.sync-contact-max-waiting", () -> "2");
    }

    @LocalServerPort
    int port;

    @Autowired
    JdbcTemplate jdbc;

    @Autowired
    CamelContext camel;

    @Autowired
    Inbox inbox;

    @Autowired
    InboxProcessor processor;

    @Autowired
    DeliveryResults deliveryResults;

    Http api;

    @BeforeEach
    void client() {
        api = new Http(port).withHeader("X-Api-Key", ServiceTest.API_KEY);
    }

    @AfterEach
    void heal() throws Exception {
        sim1.faults().clear();
        sim2.faults().clear();
        sim2.requireEmail(false);
        for (String route : ROUTES) {
            camel.getRouteController().startRoute(route);
        }
    }

    Reply sync(String body) {
        return api.post("/api/sync/contact", body);
    }

    JsonNode status(String id) {
        Reply reply = api.get("/api/contacts/" + id + "/sync");
        assertThat(reply.status()).as(reply.toString()).isEqualTo(200);
        return reply.json();
    }

    @Test
    void aNewContactIsInBothCrmsWhenTheCallAnswers() {
        String email = email("ada");

        Reply reply = sync("{\"email\":\"" + email + "\",\"firstName\":\"Ada\",\"lastName\":\"Lovelace\",\"company\":\"Engines\"}");

        assertThat(reply.status()).as(reply.toString()).isEqualTo(200);
        JsonNode body = reply.json();
        assertThat(body.get("status").asText()).isEqualTo("success");
        assertThat(body.get("hub").asText()).isEqualTo("created");
        assertThat(body.get("version").asLong()).isEqualTo(1);
        assertThat(body.get("results").get("crm1").asText()).isEqualTo("created");
        assertThat(body.get("results").get("crm2").asText()).isEqualTo("created");
        String id = body.get("contactId").asText();
        // no waiting here: the answer came after both systems had the record
        Map<String, Object> in1 = byEmail(sim1, email).orElseThrow();
        Map<String, Object> in2 = byEmail(sim2, email).orElseThrow();
        assertThat(in1).containsEntry("FirstName", "Ada").containsEntry("Company", "Engines");
        assertThat(in2).containsEntry("Name", "Ada Lovelace").containsEntry("Organization", "Engines");
        assertThat(jdbc.queryForList("SELECT system || ':' || external_id FROM contact_link WHERE contact_id = ? ORDER BY system",
                String.class, id)).containsExactly("crm1:" + in1.get("Id"), "crm2:" + in2.get("Id"));
        assertThat(jdbc.queryForObject("SELECT source_system FROM contact_history WHERE contact_id = ?", String.class, id))
                .isEqualTo("api");

        JsonNode status = status(id);
        assertThat(status.get("contactId").asText()).isEqualTo(id);
        assertThat(status.get("deleted").asBoolean()).isFalse();
        JsonNode crm1 = status.get("systems").get("crm1");
        assertThat(crm1.get("externalId").asText()).isEqualTo(in1.get("Id"));
        assertThat(crm1.get("objectType").asText()).isEqualTo("contact");
        assertThat(Instant.parse(crm1.get("lastSyncedAt").asText())).isBeforeOrEqualTo(Instant.now());
        assertThat(Instant.parse(crm1.get("remoteModifiedAt").asText()))
                .isEqualTo(Instant.parse((String) in1.get("LastModified")));
        assertThat(crm1.get("pending")).isEmpty();
        assertThat(crm1.get("lastError").isNull()).isTrue();
        assertThat(status.get("systems").get("crm2").get("externalId").asText()).isEqualTo(in2.get("Id"));
        assertThat(status.get("openConflicts")).isEmpty();
    }

    @Test
    void aSecondCallWithTheSameEmailUpdatesTheContactEverywhereWithoutADuplicate() {
        String email = email("grace");
        String id = sync("{\"email\":\"" + email + "\",\"firstName\":\"Grace\",\"lastName\":\"Hopper\"}").json()
                .get("contactId").asText();

        Reply again = sync("{\"email\":\"" + email.toUpperCase() + "\",\"title\":\"Rear Admiral\"}");

        assertThat(again.status()).as(again.toString()).isEqualTo(200);
        JsonNode body = again.json();
        assertThat(body.get("contactId").asText()).isEqualTo(id);
        assertThat(body.get("hub").asText()).isEqualTo("updated");
        assertThat(body.get("version").asLong()).isEqualTo(2);
        assertThat(body.get("results").get("crm1").asText()).isEqualTo("updated");
        assertThat(body.get("results").get("crm2").asText()).isEqualTo("updated");
        // fields the call left out stay
        assertThat(byEmail(sim1, email).orElseThrow()).containsEntry("FirstName", "Grace").containsEntry("Title", "Rear Admiral");
        assertThat(byEmail(sim2, email).orElseThrow()).containsEntry("Name", "Grace Hopper").containsEntry("Title", "Rear Admiral");
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM contact WHERE email_lower = ?", Long.class, email)).isEqualTo(1);
        assertThat(sim1.records().stream().filter(r -> email.equalsIgnoreCase((String) r.get("Email")))).hasSize(1);
        assertThat(sim2.records().stream().filter(r -> email.equalsIgnoreCase((String) r.get("Email")))).hasSize(1);
    }

    @Test
    void aCallThatChangesNothingAnswersUnchangedAndCallsNoCrm() {
        String email = email("same");
        String json = "{\"email\":\"" + email + "\",\"firstName\":\"Same\",\"tags\":[\"a\"]}";
        String id = sync(json).json().get("contactId").asText();
        sim1.resetCounters();
        sim2.resetCounters();

        Reply again = sync(json);

        assertThat(again.status()).as(again.toString()).isEqualTo(200);
        JsonNode body = again.json();
        assertThat(body.get("hub").asText()).isEqualTo("unchanged");
        assertThat(body.get("version").asLong()).isEqualTo(1);
        assertThat(body.get("results").get("crm1").asText()).isEqualTo("unchanged");
        assertThat(body.get("results").get("crm2").asText()).isEqualTo("unchanged");
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM outbox WHERE contact_id = ?", Long.class, id)).isEqualTo(2);
        assertThat(writes(sim1) + writes(sim2)).isZero();
    }

    @Test
    void aChangeOneCrmDoesNotMapIsUnchangedThereAndUpdatedInTheOther() {
        String email = email("status");
        String id = sync("{\"email\":\"" + email + "\",\"lastName\":\"Lead\"}").json().get("contactId").asText();
        sim1.resetCounters();

        // custom.status is mapped to crm2's Status only (mappings/crm2-contact.json)
        Reply reply = sync("{\"email\":\"" + email + "\",\"custom\":{\"status\":\"hot\"}}");

        assertThat(reply.status()).as(reply.toString()).isEqualTo(200);
        assertThat(reply.json().get("results").get("crm1").asText()).isEqualTo("unchanged");
        assertThat(reply.json().get("results").get("crm2").asText()).isEqualTo("updated");
        assertThat(byEmail(sim2, email).orElseThrow()).containsEntry("Status", "Hot");
        assertThat(writes(sim1)).isZero();
        assertThat(jdbc.queryForObject("SELECT state FROM outbox WHERE contact_id = ? AND target_system = 'crm1' "
                + "AND contact_version = 2", String.class, id)).isEqualTo("delivered");
    }

    @Test
    void changesCoalescedIntoOneDeliveryAnswerWithWhatThatDeliveryDid() throws Exception {
        stopDelivery();
        String email = email("coalesced");
        JsonNode first = api.post("/api/sync/contact?timeout=PT0S", "{\"email\":\"" + email + "\",\"firstName\":\"First\"}").json();
        assertThat(first.get("status").asText()).isEqualTo("pending");
        String id = first.get("contactId").asText();
        CompletableFuture<Reply> second = CompletableFuture.supplyAsync(() ->
                sync("{\"email\":\"" + email + "\",\"firstName\":\"Second\"}"));
        await().atMost(PATIENCE).until(() -> jdbc.queryForObject(
                "SELECT COUNT(*) FROM outbox WHERE contact_id = ? AND contact_version = 2", Long.class, id) == 2);

        startDelivery();

        Reply reply = second.get();
        assertThat(reply.status()).as(reply.toString()).isEqualTo(200);
        // version 1 never went out on its own: version 2's delivery created the record
        assertThat(reply.json().get("results").get("crm1").asText()).isEqualTo("created");
        assertThat(reply.json().get("results").get("crm2").asText()).isEqualTo("created");
        assertThat(jdbc.queryForList("SELECT outcome FROM outbox WHERE contact_id = ? AND contact_version = 1",
                String.class, id)).containsOnly("superseded");
        assertThat(deliveryResults.of(id, 1, true, List.of("crm1", "crm2")).values())
                .extracting(DeliveryResults.Result::outcome).containsOnly("created");
        assertThat(byEmail(sim1, email).orElseThrow()).containsEntry("FirstName", "Second");
    }

    @Test
    void aSlowCrmMakesTheCallAnswer202WithTheStatusUrlWhichShowsThePendingCreateUntilItLands() {
        sim2.faults().latency(Duration.ofSeconds(2));
        String email = email("slow");

        Reply reply = api.post("/api/sync/contact?timeout=PT0.5S", "{\"email\":\"" + email + "\",\"lastName\":\"Slow\"}");

        assertThat(reply.status()).as(reply.toString()).isEqualTo(202);
        JsonNode body = reply.json();
        String id = body.get("contactId").asText();
        assertThat(body.get("status").asText()).isEqualTo("pending");
        assertThat(body.get("statusUrl").asText()).isEqualTo("/api/contacts/" + id + "/sync");
        assertThat(reply.header("Location")).isEqualTo("/api/contacts/" + id + "/sync");
        assertThat(body.get("results").get("crm2").asText()).isEqualTo("pending");
        assertThat(body.get("results").get("crm1").asText()).isIn("created", "pending");

        JsonNode before = status(id).get("systems").get("crm2");
        assertThat(before.get("externalId").isNull()).isTrue();
        assertThat(before.get("objectType").asText()).isEqualTo("contact");
        assertThat(before.get("pending")).singleElement().satisfies(row -> {
            assertThat(row.get("operation").asText()).isEqualTo("create");
            assertThat(row.get("contactVersion").asLong()).isEqualTo(1);
            assertThat(row.get("attempts").asInt()).isEqualTo(1);
            assertThat(row.get("state").asText()).isEqualTo("claimed");
            assertThat(row.get("nextAttemptAt").asText()).isNotBlank();
        });

        JsonNode after = await().atMost(PATIENCE).until(() -> status(id).get("systems").get("crm2"),
                crm2 -> !crm2.get("externalId").isNull());
        assertThat(after.get("pending")).isEmpty();
        assertThat(after.get("externalId").asText()).isEqualTo(byEmail(sim2, email).orElseThrow().get("Id"));
    }

    @Test
    void aCrmThatRefusesTheContactMakesTheCallAnswer502WithItsErrorAndADeadLetter() {
        sim2.requireEmail(true);
        String phone = "+1415555" + (1000 + (int) (Math.random() * 9000));

        Reply reply = sync("{\"phone\":\"" + phone + "\",\"lastName\":\"NoEmail\"}");

        assertThat(reply.status()).as(reply.toString()).isEqualTo(502);
        JsonNode body = reply.json();
        String id = body.get("contactId").asText();
        assertThat(body.get("status").asText()).isEqualTo("failed");
        assertThat(body.get("results").get("crm1").asText()).isEqualTo("created");
        assertThat(body.get("results").get("crm2").asText()).isEqualTo("failed");
        assertThat(body.get("errors").get("crm2").asText()).contains("400").contains("Email is required");
        assertThat(body.get("errors").has("crm1")).isFalse();
        assertThat(sim1.live().stream().filter(r -> phone.equals(r.get("Phone")))).hasSize(1);
        assertThat(sim2.records().stream().filter(r -> phone.equals(r.get("Phone")))).isEmpty();
        Map<String, Object> letter = jdbc.queryForMap("SELECT id, system, error_message FROM dead_letter WHERE contact_id = ?", id);
        assertThat(letter.get("system")).isEqualTo("crm2");
        assertThat((String) letter.get("error_message")).contains("Email is required");

        JsonNode crm2 = status(id).get("systems").get("crm2");
        assertThat(crm2.get("externalId").isNull()).isTrue();
        assertThat(crm2.get("pending")).isEmpty();
        assertThat(crm2.get("lastError").get("source").asText()).isEqualTo("dead-letter");
        assertThat(crm2.get("lastError").get("deadLetterId").asLong()).isEqualTo(((Number) letter.get("id")).longValue());
        assertThat(crm2.get("lastError").get("message").asText()).contains("Email is required");
        assertThat(status(id).get("systems").get("crm1").get("lastError").isNull()).isTrue();
    }

    @Test
    void aDeletedContactStillShowsItsPendingDeletesThenTheirDelivery() throws Exception {
        String email = email("deleted");
        String id = sync("{\"email\":\"" + email + "\",\"lastName\":\"Gone\"}").json().get("contactId").asText();
        String in2 = (String) byEmail(sim2, email).orElseThrow().get("Id");
        camel.getRouteController().stopRoute("crm2-deliver");

        assertThat(api.delete("/api/contacts/" + id).status()).isEqualTo(204);

        JsonNode deleted = status(id);
        assertThat(deleted.get("deleted").asBoolean()).isTrue();
        assertThat(deleted.get("deletedAt").asText()).isNotBlank();
        assertThat(deleted.get("version").asLong()).isEqualTo(2);
        JsonNode crm2 = deleted.get("systems").get("crm2");
        assertThat(crm2.get("externalId").asText()).isEqualTo(in2);
        assertThat(crm2.get("pending")).singleElement().satisfies(row -> {
            assertThat(row.get("operation").asText()).isEqualTo("delete");
            assertThat(row.get("contactVersion").asLong()).isEqualTo(2);
        });

        camel.getRouteController().startRoute("crm2-deliver");

        await().atMost(PATIENCE).untilAsserted(() -> assertThat(status(id).get("systems").get("crm2").get("pending")).isEmpty());
        assertThat(sim2.find(in2).orElseThrow()).containsEntry("Deleted", true);
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(byEmail(sim1, email).orElseThrow()).containsEntry("Deleted", true));
    }

    @Test
    void aMergedContactRedirectsToTheSurvivorsStatus() throws Exception {
        String survivor = sync("{\"email\":\"" + email("survivor") + "\",\"lastName\":\"Curie\"}").json().get("contactId").asText();
        String loser = sync("{\"email\":\"" + email("loser") + "\",\"lastName\":\"Curie\"}").json().get("contactId").asText();
        String survivorIn1 = status(survivor).get("systems").get("crm1").get("externalId").asText();
        String loserIn1 = status(loser).get("systems").get("crm1").get("externalId").asText();

        // crm1 merged the two records (as HubSpot's contact.merge or Pipedrive's merged_to_id report it)
        inbox.accept("merge-" + UUID.randomUUID(), "crm1", "contact", survivorIn1, "merge",
                "{\"survivor\":\"" + survivorIn1 + "\",\"merged\":[\"" + loserIn1 + "\"]}", Instant.now());
        processor.drain();

        Reply moved = await().atMost(PATIENCE).until(() -> api.get("/api/contacts/" + loser + "/sync"), r -> r.status() != 200);
        assertThat(moved.status()).as(moved.toString()).isEqualTo(301);
        assertThat(moved.header("Location")).isEqualTo("/api/contacts/" + survivor + "/sync");
        assertThat(moved.json().get("mergedInto").asText()).isEqualTo(survivor);
        assertThat(status(survivor).get("contactId").asText()).isEqualTo(survivor);
    }

    @Test
    void anUnknownContactHasNoStatus() {
        Reply reply = api.get("/api/contacts/" + UUID.randomUUID() + "/sync");

        assertThat(reply.status()).isEqualTo(404);
        assertThat(reply.header("Content-Type")).startsWith("application/problem+json");
        assertThat(reply.json().get("detail").asText()).startsWith("no contact has id ");
    }

    @Test
    void badInputIsRefusedWithAProblemAndWritesNothing() {
        String marker = "Nobody-" + UUID.randomUUID().toString().substring(0, 8);
        String email = email("bad");
        long outbox = jdbc.queryForObject("SELECT COUNT(*) FROM outbox", Long.class);

        assertProblem(sync("{\"email\":\"" + email + "\",\"firstName\":"), 400, "not valid JSON");
        assertProblem(sync("{\"firstName\":\"" + marker + "\"}"), 400, "a contact needs an email or a phone");
        assertProblem(sync("{\"email\":\"not-an-email\",\"firstName\":\"" + marker + "\"}"), 400, "not a valid email address");
        assertProblem(sync("{\"email\":\"" + email + "\",\"nickname\":\"x\"}"), 400, "unknown field");
        assertProblem(sync("[{\"email\":\"" + email + "\"}]"), 400, "must be a JSON object");
        assertProblem(sync("{\"id\":\"mine\",\"email\":\"" + email + "\"}"), 400, "assigned by the service");
        assertProblem(api.post("/api/sync/contact", "{\"email\":\"" + email + "\"}", "Content-Type", "text/plain"), 415,
                "Content-Type");
        for (String timeout : List.of("2s", "-PT1S", "PT", "soon")) {
            Reply reply = api.post("/api/sync/contact?timeout=" + timeout, "{\"email\":\"" + email + "\"}");
            assertProblem(reply, 400, "query parameter timeout");
            assertThat(reply.json().get("parameter").asText()).isEqualTo("timeout");
        }

        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM contact WHERE first_name = ? OR email_lower = ?", Long.class,
                marker, email)).isZero();
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM outbox", Long.class)).isEqualTo(outbox);
        assertThat(byEmail(sim1, email)).isEmpty();
    }

    @Test
    void aTimeoutLongerThanTheConfiguredOneIsCappedNotRefused() {
        Reply reply = api.post("/api/sync/contact?timeout=PT1H", "{\"email\":\"" + email("capped") + "\"}");

        assertThat(reply.status()).as(reply.toString()).isEqualTo(200);
    }

    @Test
    void onlyTheConfiguredNumberOfCallersWaitAtOnceTheRestAnswerAtOnce() throws Exception {
        stopDelivery();
        // crmsync.api.sync-contact-max-waiting is 2 in this class: two callers take both places
        List<CompletableFuture<Reply>> waiting = List.of(
                CompletableFuture.supplyAsync(() -> api.post("/api/sync/contact?timeout=PT3S", "{\"email\":\"" + email("w1") + "\"}")),
                CompletableFuture.supplyAsync(() -> api.post("/api/sync/contact?timeout=PT3S", "{\"email\":\"" + email("w2") + "\"}")));
        Thread.sleep(700);

        long start = System.nanoTime();
        Reply third = api.post("/api/sync/contact?timeout=PT3S", "{\"email\":\"" + email("w3") + "\"}");
        Duration took = Duration.ofNanos(System.nanoTime() - start);

        assertThat(third.status()).as(third.toString()).isEqualTo(202);
        assertThat(took).isLessThan(Duration.ofMillis(1500));
        for (CompletableFuture<Reply> call : waiting) {
            assertThat(call.get().status()).isEqualTo(202);
        }
    }

    private static void assertProblem(Reply reply, int status, String detail) {
        assertThat(reply.status()).as(reply.toString()).isEqualTo(status);
        assertThat(reply.header("Content-Type")).startsWith("application/problem+json");
        assertThat(reply.json().get("detail").asText()).contains(detail);
    }

    private static long writes(GenericCrmSimulator crm) {
        return crm.calls("POST /api/contacts") + crm.calls("PATCH /api/contacts/{id}") + crm.calls("DELETE /api/contacts/{id}");
    }

    private void stopDelivery() throws Exception {
        for (String route : ROUTES) {
            camel.getRouteController().stopRoute(route);
        }
    }

    private void startDelivery() throws Exception {
        for (String route : ROUTES) {
            camel.getRouteController().startRoute(route);
        }
    }
}
