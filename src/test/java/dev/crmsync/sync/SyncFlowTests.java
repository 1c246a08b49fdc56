package dev.crmsync.sync;

import static dev.crmsync.support.Simulated.PATIENCE;
import static dev.crmsync.support.Simulated.byEmail;
import static dev.crmsync.support.Simulated.email;
import static dev.crmsync.support.Simulated.liveIn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crmsync.sim.CallStats;
import dev.crmsync.sim.GenericCrmSimulator;
import dev.crmsync.support.Http;
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
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.annotation.DirtiesContext;

/**
 * Two generic REST CRMs (simulators on loopback) and the API kept in sync by the running service:
 * polls, the inbox, the engine, the outbox and delivery, all for real. Each test uses its own people.
 * Run on H2 and on PostgreSQL by the subclasses; each class has its own simulators and service.
 */
@ServiceTest
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
abstract class SyncFlowTests {


    final GenericCrmSimulator crm1;
    final GenericCrmSimulator crm2;

    SyncFlowTests(TwoCrms crms) {
        this.crm1 = crms.crm1();
        this.crm2 = crms.crm2();
    }

    static void providers(DynamicPropertyRegistry registry, TwoCrms crms) {
        crms.wire(registry);
    }

    @LocalServerPort
    int port;

    @Autowired
    JdbcTemplate jdbc;

    @Autowired
    CamelContext camel;

    @Autowired
    Poller poller;

    @Autowired
    InboxProcessor processor;

    @Autowired
    Inbox inbox;

    @Autowired
    ObjectMapper json;

    @Autowired
    io.micrometer.core.instrument.MeterRegistry meters;

    Http api;

    @BeforeEach
    void client() {
        api = new Http(port).withHeader("X-Api-Key", ServiceTest.API_KEY);
    }

    @AfterEach
    void clearFaults() throws Exception {
        crm1.faults().clear();
        crm2.faults().clear();
        crm2.requireEmail(false);
        for (String route : List.of("crm1-deliver", "crm2-deliver", "crm1-poll", "crm2-poll")) {
            camel.getRouteController().startRoute(route);
        }
    }

    JsonNode hub(String email) {
        JsonNode items = api.get("/api/contacts?email=" + email).json().get("items");
        assertThat(items.size()).as("live hub contacts with %s", email).isLessThanOrEqualTo(1);
        return items.size() == 0 ? null : items.get(0);
    }

    @Test
    void aContactCreatedInCrm1AppearsInCrm2AndTheApi() {
        String email = email("ada");
        crm1.seed(Map.of("Email", email, "FirstName", "Ada", "LastName", "Lovelace", "Phone", "(415) 555-2671",
                "Company", "Analytical Engines", "Tags", "vip,founder"));

        Map<String, Object> inCrm2 = liveIn(crm2, email);

        assertThat(inCrm2).containsEntry("Name", "Ada Lovelace").containsEntry("Phone", "+14155552671")
                .containsEntry("Organization", "Analytical Engines").containsEntry("Source", "CRM1");
        JsonNode contact = hub(email);
        assertThat(contact.get("firstName").asText()).isEqualTo("Ada");
        assertThat(contact.get("tags")).extracting(JsonNode::asText).containsExactly("vip", "founder");
        // the link commits just after crm2 answered
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(jdbc.queryForList(
                "SELECT system || ':' || external_id FROM contact_link WHERE contact_id = ? ORDER BY system",
                String.class, contact.get("id").asText()))
                .containsExactly("crm1:" + byEmail(crm1, email).orElseThrow().get("Id"), "crm2:" + inCrm2.get("Id")));
    }

    @Test
    void anUpdateInCrm2FlowsBackToCrm1AndTheHub() {
        String email = email("grace");
        Map<String, Object> original = crm1.seed(Map.of("Email", email, "FirstName", "Grace", "LastName", "Hopper"));
        Map<String, Object> inCrm2 = liveIn(crm2, email);

        crm2.update((String) inCrm2.get("Id"), Map.of("Title", "Rear Admiral", "Status", "Hot"));

        await().atMost(PATIENCE).untilAsserted(() ->
                assertThat(crm1.find((String) original.get("Id")).orElseThrow()).containsEntry("Title", "Rear Admiral"));
        JsonNode contact = hub(email);
        assertThat(contact.get("title").asText()).isEqualTo("Rear Admiral");
        assertThat(contact.get("custom").get("status").asText()).isEqualTo("hot");
    }

    @Test
    void aContactCreatedThroughTheApiReachesBothCrms() {
        String email = email("api");
        api.post("/api/contacts", "{\"email\":\"" + email + "\",\"firstName\":\"Api\",\"lastName\":\"Person\",\"company\":\"Hub\"}");

        assertThat(liveIn(crm1, email)).containsEntry("FirstName", "Api").containsEntry("Company", "Hub");
        assertThat(liveIn(crm2, email)).containsEntry("Name", "Api Person").containsEntry("Organization", "Hub");
    }

    @Test
    void concurrentEditsOfDifferentFieldsOnTwoSystemsBothSurvive() throws Exception {
        String email = email("both");
        Map<String, Object> in1 = crm1.seed(Map.of("Email", email, "FirstName", "Alan", "LastName", "Turing"));
        Map<String, Object> in2 = liveIn(crm2, email);
        awaitQuiet();
        stopDelivery();

        crm1.update((String) in1.get("Id"), Map.of("Title", "Mathematician"));
        crm2.update((String) in2.get("Id"), Map.of("Organization", "Bletchley Park"));
        settle();
        startDelivery();

        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(crm1.find((String) in1.get("Id")).orElseThrow())
                    .containsEntry("Title", "Mathematician").containsEntry("Company", "Bletchley Park");
            assertThat(crm2.find((String) in2.get("Id")).orElseThrow())
                    .containsEntry("Title", "Mathematician").containsEntry("Organization", "Bletchley Park");
        });
        JsonNode contact = hub(email);
        assertThat(contact.get("title").asText()).isEqualTo("Mathematician");
        assertThat(contact.get("company").asText()).isEqualTo("Bletchley Park");
    }

    @Test
    void aSameFieldConflictIsDecidedByItsPolicyAndRecorded() throws Exception {
        String email = email("conflict");
        Map<String, Object> in1 = crm1.seed(Map.of("Email", email, "FirstName", "Kath", "LastName", "Johnson", "Company", "NACA"));
        Map<String, Object> in2 = liveIn(crm2, email);
        awaitQuiet();
        stopDelivery();

        // company is "prefer:crm2" in mappings/crm2-contact.json: crm2 wins whoever is later
        crm2.update((String) in2.get("Id"), Map.of("Organization", "NASA Langley"));
        crm1.update((String) in1.get("Id"), Map.of("Company", "NASA"));
        settle();
        startDelivery();

        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(crm1.find((String) in1.get("Id")).orElseThrow()).containsEntry("Company", "NASA Langley");
            assertThat(crm2.find((String) in2.get("Id")).orElseThrow()).containsEntry("Organization", "NASA Langley");
        });
        String id = hub(email).get("id").asText();
        assertThat(hub(email).get("company").asText()).isEqualTo("NASA Langley");
        JsonNode conflicts = api.get("/api/conflicts?state=open").json().get("items");
        JsonNode conflict = null;
        for (JsonNode item : conflicts) {
            if (item.get("contact_id").asText().equals(id) && item.get("field").asText().equals("company")) {
                conflict = item;
            }
        }
        assertThat(conflict).as("a conflict row for the company of %s in %s", id, conflicts).isNotNull();
        assertThat(conflict.get("rule").asText()).isEqualTo("prefer:crm2");
        assertThat(conflict.get("winner").asText()).isEqualTo("crm2");
        assertThat(conflict.get("kind").asText()).isEqualTo("field");
    }

    @Test
    void aDeleteThroughTheApiRemovesBothCrmRecordsAndAStaleUpdateCannotBringItBack() throws Exception {
        String email = email("gone");
        String id = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"firstName\":\"Gone\"}").json().get("id").asText();
        Map<String, Object> in1 = liveIn(crm1, email);
        liveIn(crm2, email);

        assertThat(api.delete("/api/contacts/" + id).status()).isEqualTo(204);

        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(byEmail(crm1, email).orElseThrow()).containsEntry("Deleted", true);
            assertThat(byEmail(crm2, email).orElseThrow()).containsEntry("Deleted", true);
        });
        // crm1 sends an update it made before the delete, late (a delayed webhook or a slow poll)
        Map<String, Object> stale = new HashMap<>(in1);
        stale.put("FirstName", "Back from the dead");
        inbox.accept("late-" + UUID.randomUUID(), "crm1", "contact", (String) in1.get("Id"), "update",
                json.writeValueAsString(stale), Instant.parse((String) in1.get("LastModified")));
        processor.drain();

        assertThat(api.get("/api/contacts/" + id).status()).isEqualTo(410);
        assertThat(hub(email)).isNull();
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM contact WHERE LOWER(email) = ?", Long.class, email)).isEqualTo(1);
        Thread.sleep(1500);
        assertThat(byEmail(crm1, email).orElseThrow()).containsEntry("Deleted", true).containsEntry("FirstName", "Gone");
        assertThat(byEmail(crm2, email).orElseThrow()).containsEntry("Deleted", true);
    }

    @Test
    void ourOwnWritesEchoingBackAreDroppedWithoutFurtherCalls() throws Exception {
        String email = email("echo");
        Map<String, Object> in1 = crm1.seed(Map.of("Email", email, "FirstName", "Echo", "LastName", "Chamber"));
        Map<String, Object> in2 = liveIn(crm2, email);
        awaitQuiet();
        String contactId = hub(email).get("id").asText();
        long versionBefore = hub(email).get("version").asLong();
        crm1.resetCounters();
        crm2.resetCounters();
        double echoes = meters.counter("crmsync.sync.echoes", "system", "crm2").count();

        // several polls of both systems see our own writes: nothing may go back out
        crm2.update((String) in2.get("Id"), Map.of());
        Thread.sleep(3000);
        awaitQuiet();

        assertThat(crm1.calls("PATCH /api/contacts/{id}") + crm1.calls("POST /api/contacts")).isZero();
        assertThat(crm2.calls("PATCH /api/contacts/{id}") + crm2.calls("POST /api/contacts")).isZero();
        assertThat(hub(email).get("version").asLong()).isEqualTo(versionBefore);
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM contact_history WHERE contact_id = ?", Long.class, contactId))
                .isEqualTo(versionBefore);
        assertThat(meters.counter("crmsync.sync.echoes", "system", "crm2").count())
                .as("crm2's touched record carries only what we wrote: an echo").isGreaterThan(echoes);
        assertThat(in1.get("Id")).isNotNull();
    }

    @Test
    void anEmailChangeOntoAnotherPersonsEmailKeepsTheEmailAppliesTheRestAndIsRecorded() throws Exception {
        String taken = email("taken");
        String mine = email("mine");
        crm1.seed(Map.of("Email", taken, "LastName", "Holder"));
        Map<String, Object> other = crm1.seed(Map.of("Email", mine, "LastName", "Mover"));
        awaitQuiet();
        String holder = hub(taken).get("id").asText();
        String mover = hub(mine).get("id").asText();

        crm1.update((String) other.get("Id"), Map.of("Email", taken.toUpperCase(), "Title", "Moved"));
        awaitQuiet();

        JsonNode stayed = api.get("/api/contacts/" + mover).json();
        assertThat(stayed.get("email").asText()).isEqualTo(mine);
        assertThat(stayed.get("title").asText()).isEqualTo("Moved");
        assertThat(hub(taken).get("id").asText()).isEqualTo(holder);
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM conflict WHERE kind = 'possible-duplicate' AND contact_id = ? "
                + "AND other_contact_id = ?", Long.class, mover, holder)).isEqualTo(1);
    }

    @Test
    void aRemoteRecordTheHubCannotTakeEndsInDeadLettersAtItsFirstTry() {
        // neither an email nor a valid phone: no contact can be made of it
        Map<String, Object> record = crm1.seed(Map.of("FirstName", "Nobody", "Phone", "12"));

        JsonNode letter = await().atMost(PATIENCE).until(() -> {
            for (JsonNode item : api.get("/api/dead-letters?system=crm1").json().get("items")) {
                if (item.path("payload").asText().contains((String) record.get("Id"))) {
                    return item;
                }
            }
            return null;
        }, java.util.Objects::nonNull);

        assertThat(letter.get("route_id").asText()).isEqualTo("inbox-process");
        assertThat(letter.get("error_message").asText()).contains("neither an email nor a valid phone");
        // refused for good: another try would fail the same way
        assertThat(letter.get("attempts").asInt()).isEqualTo(1);
        assertThat(jdbc.queryForObject("SELECT state FROM inbox WHERE id = ?", String.class, letter.get("inbox_id").asLong()))
                .isEqualTo("failed");
    }

    @Test
    void aRemoteMergeMovesTheLinksAndMergesTheTwoHubContacts() throws Exception {
        String first = email("merge-a");
        String second = email("merge-b");
        Map<String, Object> a1 = crm1.seed(Map.of("Email", first, "FirstName", "Marie", "LastName", "Curie"));
        Map<String, Object> b1 = crm1.seed(Map.of("Email", second, "FirstName", "Maria", "Title", "Physicist"));
        liveIn(crm2, first);
        Map<String, Object> b2 = liveIn(crm2, second);
        awaitQuiet();
        String survivor = hub(first).get("id").asText();
        String loser = hub(second).get("id").asText();

        // crm1 merged b1 into a1 (as HubSpot's contact.merge or Pipedrive's merged_to_id report it)
        String key = "merge-" + UUID.randomUUID();
        inbox.accept(key, "crm1", "contact", (String) a1.get("Id"), "merge",
                "{\"survivor\":\"" + a1.get("Id") + "\",\"merged\":[\"" + b1.get("Id") + "\"]}", Instant.now());
        // the inbox-process route drains too: the change may be in its hands rather than this drain's
        await().atMost(PATIENCE).untilAsserted(() -> {
            processor.drain();
            assertThat(inbox.waiting(key)).isFalse();
        });

        var moved = api.get("/api/contacts/" + loser);
        assertThat(moved.status()).isEqualTo(301);
        assertThat(moved.header("Location")).isEqualTo("/api/contacts/" + survivor);
        assertThat(hub(first).get("title").asText()).as("filled from the merged contact").isEqualTo("Physicist");
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM contact_link WHERE system = 'crm1' AND external_id = ?",
                Long.class, b1.get("Id"))).isZero();
        // crm2 held both people: the merged one's record there is deleted, the survivor's stays
        await().atMost(PATIENCE).untilAsserted(() ->
                assertThat(crm2.find((String) b2.get("Id")).orElseThrow()).containsEntry("Deleted", true));
        assertThat(liveIn(crm2, first)).containsEntry("Title", "Physicist");
    }

    @Test
    void aCrashBetweenClaimAndCommitIsRecoveredWithoutADuplicateInAnyCrm() throws Exception {
        stopDelivery();
        String email = email("crash");
        String id = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Crash\"}").json().get("id").asText();
        OutboxDelivery delivery = bean(OutboxDelivery.class);
        List<Delivery> claimed = delivery.claim("crm2", 100);
        Delivery mine = claimed.stream().filter(d -> d.getContactId().equals(id)).findFirst().orElseThrow();
        // the call reaches crm2, then the service dies before the link and the outbox row commit
        ((dev.crmsync.provider.CrmClient) camel.getRegistry().lookupByName("crm2Client")).create(mine);
        assertThat(byEmail(crm2, email)).isPresent();
        jdbc.update("UPDATE outbox SET claimed_at = claimed_at - INTERVAL '1' HOUR WHERE state = 'claimed'");
        for (Delivery other : claimed) {
            if (other != mine) {
                jdbc.update("UPDATE outbox SET state = 'pending' WHERE id = ?", other.getOutboxId());
            }
        }
        startDelivery();

        await().atMost(PATIENCE).untilAsserted(() -> assertThat(jdbc.queryForObject(
                "SELECT COUNT(*) FROM contact_link WHERE contact_id = ? AND system = 'crm2'", Long.class, id)).isEqualTo(1));
        assertThat(crm2.records().stream().filter(r -> email.equals(r.get("Email")))).hasSize(1);
        liveIn(crm1, email);
        assertThat(crm1.records().stream().filter(r -> email.equals(r.get("Email")))).hasSize(1);
    }

    @Test
    void aClaimedInboxChangeWhoseWorkerDiedIsAppliedOnceAfterItsLeaseRunsOut() throws Exception {
        String email = email("lease");
        stopPolls();
        Map<String, Object> record = crm1.seed(Map.of("Email", email, "LastName", "Lease"));
        poller.poll("crm1");
        List<Inbox.Change> taken = inbox.claim(1000, "dead-worker", Duration.ofMinutes(5));
        assertThat(taken).extracting(Inbox.Change::externalId).contains((String) record.get("Id"));
        jdbc.update("UPDATE inbox SET claimed_at = claimed_at - INTERVAL '1' HOUR WHERE claimed_by = 'dead-worker'");

        processor.drain();
        processor.drain();

        assertThat(hub(email)).isNotNull();
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM contact WHERE email_key = ?", Long.class, email)).isEqualTo(1);
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM contact_history h JOIN contact c ON c.id = h.contact_id "
                + "WHERE c.email_key = ?", Long.class, email)).isEqualTo(1);
    }

    @Test
    void aPoisonChangeLandsInDeadLettersAndAReplayAfterTheFixDeliversIt() {
        crm2.requireEmail(true);
        String phoneOnly = "+1415555" + String.format("%04d", (int) (Math.random() * 9000) + 1000);
        String id = api.post("/api/contacts", "{\"phone\":\"" + phoneOnly + "\",\"lastName\":\"NoEmail\"}").json().get("id").asText();

        JsonNode letter = await().atMost(PATIENCE).until(() -> deadLetterOf(id), java.util.Objects::nonNull);
        assertThat(letter.get("system").asText()).isEqualTo("crm2");
        assertThat(letter.get("error_message").asText()).contains("400").contains("Email is required");
        assertThat(letter.get("attempts").asInt()).as("a 400 is not retried").isEqualTo(1);
        assertThat(crm2.records().stream().filter(r -> phoneOnly.equals(r.get("Phone")))).isEmpty();

        crm2.requireEmail(false);
        assertThat(api.post("/api/dead-letters/" + letter.get("id").asText() + "/replay", "").status()).isEqualTo(202);

        await().atMost(PATIENCE).untilAsserted(() ->
                assertThat(crm2.live().stream().filter(r -> phoneOnly.equals(r.get("Phone")))).hasSize(1));
        assertThat(deadLetterOf(id)).isNull();
    }

    @Test
    void serverErrorsAreRetriedWithBackOffThenDeadLettered() {
        crm2.faults().sticky(503);
        String email = email("retry");
        String id = api.post("/api/contacts", "{\"email\":\"" + email + "\"}").json().get("id").asText();

        JsonNode letter = await().atMost(PATIENCE).until(() -> deadLetterOf(id), java.util.Objects::nonNull);

        assertThat(letter.get("attempts").asInt()).isEqualTo(4);
        assertThat(letter.get("error_message").asText()).contains("503");
        List<CallStats.Request> tries = crm2.requests("GET /api/contacts");
        assertThat(tries.size()).isGreaterThanOrEqualTo(4);
        crm2.faults().stickyOff();
        api.post("/api/dead-letters/replay?system=crm2", "");
        liveIn(crm2, email);
    }

    @Test
    void aNewerChangeWaitsForAnOlderDeliveryStillRetryingSoTheCrmEndsWithTheNewest() {
        String email = email("order");
        String id = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Order\",\"title\":\"First\"}")
                .json().get("id").asText();
        String inCrm2 = (String) liveIn(crm2, email).get("Id");
        // the second title's delivery is waiting out its retries when the third title comes
        crm2.faults().failNext(3, 503, "PATCH", "/api/contacts/");
        api.patch("/api/contacts/" + id, "{\"title\":\"Second\"}");
        await().atMost(PATIENCE).until(() -> crm2.requests().stream().anyMatch(r -> r.status() == 503));
        api.patch("/api/contacts/" + id, "{\"title\":\"Third\"}");

        await().during(Duration.ofSeconds(2)).atMost(PATIENCE).untilAsserted(() ->
                assertThat(crm2.find(inCrm2).orElseThrow()).containsEntry("Title", "Third"));
        assertThat(hub(email).get("title").asText()).isEqualTo("Third");
    }

    @Test
    void aCrmAnswering429WithRetryAfterIsWaitedForNotHammered() {
        crm2.faults().rateLimitNext(1, 2, "POST", "/api/contacts");
        String email = email("limited");
        api.post("/api/contacts", "{\"email\":\"" + email + "\"}");

        liveIn(crm2, email);

        List<CallStats.Request> creates = crm2.requests("POST /api/contacts");
        CallStats.Request limited = creates.stream().filter(r -> r.status() == 429).findFirst().orElseThrow();
        CallStats.Request next = creates.get(creates.indexOf(limited) + 1);
        assertThat(next.status()).isEqualTo(201);
        assertThat(limited.until(next)).isGreaterThanOrEqualTo(Duration.ofSeconds(2));
        assertThat(creates.size()).as("one refused, one accepted: no hammering").isEqualTo(creates.indexOf(limited) + 2);
    }

    private JsonNode deadLetterOf(String contactId) {
        for (JsonNode item : api.get("/api/dead-letters?system=crm2").json().get("items")) {
            if (contactId.equals(item.path("contact_id").asText())) {
                return item;
            }
        }
        return null;
    }

    private <T> T bean(Class<T> type) {
        return camel.getRegistry().findSingleByType(type);
    }

    private void stopDelivery() throws Exception {
        camel.getRouteController().stopRoute("crm1-deliver");
        camel.getRouteController().stopRoute("crm2-deliver");
    }

    private void startDelivery() throws Exception {
        camel.getRouteController().startRoute("crm1-deliver");
        camel.getRouteController().startRoute("crm2-deliver");
    }

    private void stopPolls() throws Exception {
        camel.getRouteController().stopRoute("crm1-poll");
        camel.getRouteController().stopRoute("crm2-poll");
    }

    /** Polls both systems and applies what came in, while delivery is stopped. */
    @Test
    void anOlderVersionReadLateDoesNotUndoANewerChange() throws Exception {
        String email = email("late");
        Map<String, Object> seeded = crm1.seed(Map.of("Email", email, "LastName", "Reader", "Title", "Old"));
        String crm1Id = (String) seeded.get("Id");
        liveIn(crm2, email);
        awaitQuiet();
        Map<String, Object> older = crm1.find(crm1Id).orElseThrow();

        api.patch("/api/contacts/" + hub(email).get("id").asText(), "{\"title\":\"New\"}");
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(crm1.find(crm1Id).orElseThrow()).containsEntry("Title", "New"));
        awaitQuiet();
        // the version before our write arrives after it, as a late poll or a retried webhook brings it
        inbox.accept("late-" + crm1Id, "crm1", "contact", crm1Id, "update", json.writeValueAsString(older),
                Instant.parse((String) older.get("LastModified")));
        processor.drain();

        assertThat(hub(email).get("title").asText()).isEqualTo("New");
        assertThat(jdbc.queryForObject("SELECT state FROM inbox WHERE idempotency_key = ?", String.class, "late-" + crm1Id))
                .isEqualTo("done");
        awaitQuiet();
        assertThat(crm1.find(crm1Id).orElseThrow()).containsEntry("Title", "New");
        assertThat(liveIn(crm2, email)).containsEntry("Title", "New");
    }

    private void settle() throws Exception {
        poller.poll("crm1");
        poller.poll("crm2");
        processor.drain();
    }

    /** Waits until nothing is pending anywhere: inbox, outbox. */
    private void awaitQuiet() {
        await().atMost(PATIENCE).pollDelay(Duration.ofMillis(300)).untilAsserted(() -> {
            poller.poll("crm1");
            poller.poll("crm2");
            processor.drain();
            assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'claimed')", Long.class)).isZero();
            assertThat(inbox.backlog()).isZero();
        });
    }
}
