package dev.crmsync.provider.hubspot;

import static dev.crmsync.sim.hubspot.HubSpotSimulator.property;
import static dev.crmsync.support.Simulated.PATIENCE;
import static dev.crmsync.support.Simulated.byEmail;
import static dev.crmsync.support.Simulated.email;
import static dev.crmsync.support.Simulated.liveIn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.Set;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crmsync.provider.CrmClient.Page;
import dev.crmsync.sim.GenericCrmSimulator;
import dev.crmsync.sim.hubspot.HubSpotSimulator;
import dev.crmsync.sim.hubspot.HubSpotWebhooks;
import dev.crmsync.support.Http;
import dev.crmsync.support.ServiceTest;
import dev.crmsync.support.Simulated;
import dev.crmsync.sync.Poller;
import org.apache.camel.CamelContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * HubSpot against its simulator, with a generic REST CRM (crm1) and the API on the other side:
 * signed webhooks into the inbox, batch reads of what they name, batch writes, the search poll as
 * the fallback, and the account's rate limit. The poll is off unless a test runs it, so what arrives
 * came by webhook.
 */
@ServiceTest
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
class HubSpotFlowTest {

    static final String SECRET = "hubspot-client-secret-for-tests";
    static final String HUB_ID = Simulated.HUBSPOT_HUB_ID;
    static final HubSpotSimulator HS = HubSpotSimulator.builder().uniqueProperty(Simulated.HUBSPOT_HUB_ID).token("hs-token").clientSecret(SECRET)
            .webhookFlushInterval(Duration.ofMillis(50)).build().start();
    static final GenericCrmSimulator CRM1 = GenericCrmSimulator.builder().token("token-crm1").build().start();

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        Simulated.hubspot(registry, HS, SECRET);
        registry.add("crmsync.providers.hubspot.search-per-second", () -> "25");
        Simulated.rest(registry, "crm1", CRM1);
        Simulated.fastSync(registry);
    }

    @AfterAll
    static void stop() {
        HS.stop();
        CRM1.stop();
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
    HubSpotClient hubspotClient;

    Http api;
    Http webhooks;

    @BeforeEach
    void wire() {
        api = new Http(port).withHeader("X-Api-Key", ServiceTest.API_KEY);
        webhooks = new Http(port);
        HS.webhooks().target("http://localhost:" + port + "/webhooks/hubspot").keepAll().resume();
    }

    @AfterEach
    void restore() {
        HS.faults().clear();
        HS.rateLimits(true).rateLimit(HubSpotSimulator.DEFAULT_RATE_LIMIT, Duration.ofSeconds(10)).resetRateLimits()
                .searchRateLimit(HubSpotSimulator.DEFAULT_SEARCH_PER_SECOND);
        CRM1.faults().clear();
    }

    @Test
    void contactsCreatedChangedAndDeletedInHubSpotArriveByWebhook() {
        String email = email("ada");
        String id = id(HS.create(Map.of("email", email, "firstname", "Ada", "lastname", "Lovelace", "phone", "(415) 555-2671",
                "company", "Analytical Engines", "jobtitle", "Countess")));

        assertThat(liveIn(CRM1, email)).containsEntry("FirstName", "Ada").containsEntry("Phone", "+14155552671")
                .containsEntry("Company", "Analytical Engines").containsEntry("Title", "Countess");
        assertThat(count("SELECT COUNT(*) FROM inbox WHERE source_system = 'hubspot' AND idempotency_key LIKE 'hubspot:event:%' "
                + "AND external_id = '" + id + "'")).isPositive();

        HS.update(id, Map.of("jobtitle", "Analyst"));
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(liveIn(CRM1, email)).containsEntry("Title", "Analyst"));

        HS.delete(id);
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(byEmail(CRM1, email).orElseThrow()).containsEntry("Deleted", true));
        assertThat(hub(email)).isNull();
    }

    @Test
    void aMergeInHubSpotLeavesOneContactEverywhere() {
        String first = email("first");
        String second = email("second");
        String survivor = id(HS.create(Map.of("email", first, "lastname", "Survivor")));
        String merged = id(HS.create(Map.of("email", second, "lastname", "Merged")));
        liveIn(CRM1, first);
        liveIn(CRM1, second);
        String mergedHubId = hub(second).get("id").asText();

        HS.merge(survivor, merged);

        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(api.get("/api/contacts/" + mergedHubId).status()).isEqualTo(301);
            assertThat(byEmail(CRM1, second).orElseThrow()).containsEntry("Deleted", true);
        });
        assertThat(liveIn(CRM1, first)).containsEntry("LastName", "Survivor");
    }

    @Test
    void badlySignedStaleOrMalformedWebhooksAreRefusedAndStoreNothing() throws Exception {
        long inbox = count("SELECT COUNT(*) FROM inbox");
        // the URL the test client sends to, as HubSpot signs the one it was given
        String url = "http://127.0.0.1:" + port + "/webhooks/hubspot";
        String body = "[{\"eventId\":900001,\"subscriptionType\":\"contact.creation\",\"objectId\":1,\"occurredAt\":1}]";
        String now = Long.toString(System.currentTimeMillis());

        var unsigned = webhooks.post("/webhooks/hubspot", body);
        var forged = webhooks.post("/webhooks/hubspot", body, "X-HubSpot-Signature-v3", sign("wrong-secret", url, body, now),
                "X-HubSpot-Request-Timestamp", now);
        String old = Long.toString(System.currentTimeMillis() - Duration.ofMinutes(6).toMillis());
        var stale = webhooks.post("/webhooks/hubspot", body, "X-HubSpot-Signature-v3", sign(SECRET, url, body, old),
                "X-HubSpot-Request-Timestamp", old);
        String notAnArray = "{\"eventId\":1}";
        var malformed = webhooks.post("/webhooks/hubspot", notAnArray, "X-HubSpot-Signature-v3",
                sign(SECRET, url, notAnArray, now), "X-HubSpot-Request-Timestamp", now);

        assertThat(unsigned.status()).isEqualTo(401);
        assertThat(forged.status()).isEqualTo(401);
        assertThat(forged.json().get("detail").asText()).contains("signature");
        assertThat(stale.status()).isEqualTo(401);
        assertThat(stale.json().get("detail").asText()).contains("at most 300 s");
        assertThat(malformed.status()).isEqualTo(400);
        assertThat(count("SELECT COUNT(*) FROM inbox")).isEqualTo(inbox);

        // signed right, and sent twice as HubSpot's retries do: stored once
        var accepted = webhooks.post("/webhooks/hubspot", body, "X-HubSpot-Signature-v3", sign(SECRET, url, body, now),
                "X-HubSpot-Request-Timestamp", now);
        var again = webhooks.post("/webhooks/hubspot", body, "X-HubSpot-Signature-v3", sign(SECRET, url, body, now),
                "X-HubSpot-Request-Timestamp", now);
        assertThat(accepted.status()).isEqualTo(200);
        assertThat(accepted.json().get("new").asInt()).isEqualTo(1);
        assertThat(again.json().get("new").asInt()).isZero();
        assertThat(count("SELECT COUNT(*) FROM inbox WHERE idempotency_key LIKE 'hubspot:event:900001:%'")).isEqualTo(1);
    }

    @Test
    void changesElsewhereAreWrittenInBatchesAndAPersonHubSpotHasIsLinkedNotDuplicated() throws Exception {
        String known = email("known");
        String knownId = id(HS.seed(Map.of("email", known, "lastname", "Known", "jobtitle", "CEO")));
        long upserts = HS.calls("POST /crm/v3/objects/contacts/batch/upsert");
        long reads = HS.calls("POST /crm/v3/objects/contacts/batch/read");
        camel.getRouteController().stopRoute("hubspot-deliver");
        String batch = UUID.randomUUID().toString().substring(0, 8);
        for (int i = 0; i < 150; i++) {
            api.post("/api/contacts", "{\"email\":\"many" + i + "-" + batch + "@example.com\",\"lastName\":\"Many" + i + "\"}");
        }
        String knownHubId = api.post("/api/contacts", "{\"email\":\"" + known + "\",\"lastName\":\"Known\","
                + "\"phone\":\"+14155550100\"}").json().get("id").asText();
        camel.getRouteController().startRoute("hubspot-deliver");

        await().atMost(PATIENCE).until(() -> HS.live().stream()
                .filter(c -> String.valueOf(property(c, "email")).endsWith("-" + batch + "@example.com")).count() == 150);
        // each side keeps what the other lacked, and HubSpot still has one contact with that email
        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(property(HS.find(knownId).orElseThrow(), "phone")).isEqualTo("+14155550100");
            assertThat(api.get("/api/contacts/" + knownHubId).json().get("title").asText()).isEqualTo("CEO");
        });
        assertThat(HS.live()).filteredOn(c -> known.equalsIgnoreCase(String.valueOf(property(c, "email")))).hasSize(1);
        assertThat(HS.calls("POST /crm/v3/objects/contacts")).as("no single creates").isZero();
        assertThat(HS.calls("POST /crm/v3/objects/contacts/batch/upsert") - upserts).as("151 creates, 100 a call").isEqualTo(2);
        // the webhooks our own writes cause (a creation and property changes each) are known echoes: not read back
        HS.webhooks().awaitIdle(PATIENCE);
        await().atMost(PATIENCE).until(() -> count("SELECT COUNT(*) FROM inbox WHERE state IN ('pending', 'claimed')") == 0);
        assertThat(HS.calls("POST /crm/v3/objects/contacts/batch/read") - reads).as("reads of the merged person only")
                .isLessThanOrEqualTo(2);
    }

    @Test
    void aCreateRetriedAfterItsFirstTryReachedHubSpotLinksThatContactThoughItsEmailChangedThere() throws Exception {
        long reads = HS.calls("POST /crm/v3/objects/contacts/batch/read");
        createWhoseFirstTryReachedHubSpot(true);
        assertThat(HS.calls("POST /crm/v3/objects/contacts/batch/read") - reads).as("the look-up by hub id").isPositive();
    }

    @Test
    void aCreateNotKnownAsRetriedLinksTheContactHubSpotSaysHoldsItsHubId() throws Exception {
        createWhoseFirstTryReachedHubSpot(false);
        assertThat(HS.requests("POST /crm/v3/objects/contacts")).as("the create refused for the taken hub id")
                .anyMatch(r -> r.status() == 400);
    }

    /**
     * The first try of a create made the contact and its answer was lost with the instance that claimed
     * it (the outbox row shows the claim when {@code claimed}); then a person changed the contact's email in
     * HubSpot. The create's next try links that contact instead of making a second.
     */
    void createWhoseFirstTryReachedHubSpot(boolean claimed) throws Exception {
        camel.getRouteController().stopRoute("hubspot-deliver");
        String email = email("retried");
        String hubId = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Retried\","
                + "\"title\":\"Clerk\"}").json().get("id").asText();
        await().atMost(PATIENCE).until(() -> count("SELECT COUNT(*) FROM outbox WHERE contact_id = '" + hubId
                + "' AND target_system = 'hubspot'") == 1);
        if (claimed) {
            jdbc.update("UPDATE outbox SET attempts = 1 WHERE contact_id = ? AND target_system = 'hubspot'", hubId);
        }
        String changed = email("renamed");
        String hsId = id(HS.seed(Map.of("email", changed, "lastname", "Retried", "jobtitle", "Clerk", HUB_ID, hubId)));
        camel.getRouteController().startRoute("hubspot-deliver");

        await().atMost(PATIENCE).until(() -> links(hubId).contains("hubspot:contact:" + hsId));
        await().atMost(PATIENCE).untilAsserted(() ->
                assertThat(api.get("/api/contacts/" + hubId).json().get("email").asText()).isEqualTo(changed));
        assertThat(HS.live()).filteredOn(c -> hubId.equals(property(c, HUB_ID))).hasSize(1);
        assertThat(HS.live()).noneMatch(c -> email.equalsIgnoreCase(String.valueOf(property(c, "email"))));
        assertThat(liveIn(CRM1, changed)).containsEntry("Title", "Clerk");
        assertThat(count("SELECT COUNT(*) FROM dead_letter d JOIN outbox o ON o.id = d.outbox_id WHERE o.contact_id = '"
                + hubId + "'")).isZero();
    }

    @Test
    void aCreateCarriesThePersonsHubId() {
        String email = email("keyed");
        String hubId = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Keyed\"}")
                .json().get("id").asText();

        Map<String, Object> contact = await().atMost(PATIENCE).until(() -> HS.live().stream()
                .filter(c -> email.equals(property(c, "email"))).findFirst(), Optional::isPresent).orElseThrow();
        assertThat(property(contact, HUB_ID)).isEqualTo(hubId);
    }

    @Test
    void aBatchRefusedAsAWholeIsSentRecordByRecordAndA409LinksTheContactHubSpotHas() throws Exception {
        String known = email("known409");
        String knownId = id(HS.seed(Map.of("email", known, "lastname", "Known", "jobtitle", "CTO")));
        String fresh = email("fresh");
        camel.getRouteController().stopRoute("hubspot-deliver");
        String knownHub = api.post("/api/contacts", "{\"email\":\"" + known + "\",\"lastName\":\"Known\"}")
                .json().get("id").asText();
        api.post("/api/contacts", "{\"email\":\"" + fresh + "\",\"lastName\":\"Fresh\"}");
        HS.faults().failNext(1, 400, "POST", "/crm/v3/objects/contacts/batch/upsert");
        long singles = HS.calls("POST /crm/v3/objects/contacts");

        camel.getRouteController().startRoute("hubspot-deliver");

        // both went on their own: the new one is created, the one HubSpot has answers 409 and is linked
        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(HS.live()).filteredOn(c -> fresh.equalsIgnoreCase(String.valueOf(property(c, "email")))).hasSize(1);
            assertThat(count("SELECT COUNT(*) FROM contact_link WHERE system = 'hubspot' AND external_id = '" + knownId
                    + "' AND contact_id = '" + knownHub + "'")).isEqualTo(1);
            assertThat(api.get("/api/contacts/" + knownHub).json().get("title").asText()).isEqualTo("CTO");
        });
        assertThat(HS.calls("POST /crm/v3/objects/contacts") - singles).isEqualTo(2);
        assertThat(HS.requests("POST /crm/v3/objects/contacts")).anyMatch(r -> r.status() == 409);
        assertThat(HS.live()).filteredOn(c -> known.equalsIgnoreCase(String.valueOf(property(c, "email")))).hasSize(1);
        assertThat(count("SELECT COUNT(*) FROM dead_letter WHERE system = 'hubspot'")).isZero();
    }

    @Test
    void aLostWebhookIsCaughtByTheSearchPoll() {
        String email = email("lost");
        HS.webhooks().loseNext(100);
        HS.create(Map.of("email", email, "lastname", "Lost"));
        HS.webhooks().keepAll();

        poller.poll("hubspot");

        assertThat(liveIn(CRM1, email)).containsEntry("LastName", "Lost");
        assertThat(HS.calls("POST /crm/v3/objects/contacts/search")).isPositive();
    }

    @Test
    void aReconcileFindsAnArchivedContactAndAChangeWhoseWebhooksWereLost() {
        String archived = email("archived");
        String changed = email("changed");
        String archivedId = id(HS.create(Map.of("email", archived, "lastname", "Archived")));
        String changedId = id(HS.create(Map.of("email", changed, "lastname", "Changed")));
        liveIn(CRM1, archived);
        liveIn(CRM1, changed);
        HS.webhooks().loseNext(100);
        HS.delete(archivedId);
        HS.update(changedId, Map.of("jobtitle", "Reconciled"));
        HS.webhooks().keepAll();

        String run = api.post("/api/sync/hubspot/runs", "{\"type\":\"reconcile\"}").json().get("id").asText();
        JsonNode ended = await().atMost(PATIENCE).until(() -> api.get("/api/sync/runs/" + run).json(),
                r -> !r.get("endedAt").isNull());

        assertThat(ended.get("state").asText()).isEqualTo("completed");
        assertThat(ended.get("repaired").get("remoteDeleted").asLong()).isPositive();
        assertThat(ended.get("repaired").get("missed").asLong()).isPositive();
        assertThat(hub(archived)).isNull();
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(byEmail(CRM1, archived).orElseThrow()).containsEntry("Deleted", true));
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(liveIn(CRM1, changed)).containsEntry("Title", "Reconciled"));
    }

    @Test
    void theSearchPollMovesItsLowerBoundInsteadOfPagingPastTenThousandResults() {
        HS.searchRateLimit(0);
        String batch = UUID.randomUUID().toString().substring(0, 8);
        Instant from = Instant.now().minusMillis(1);
        for (int i = 0; i < 10_100; i++) {
            HS.seed(Map.of("email", "cap" + i + "-" + batch + "@example.com", "lastname", "Cap" + i));
        }

        Set<String> seen = new HashSet<>();
        Instant since = from;
        String after = null;
        for (int pages = 0; pages < 200; pages++) {
            Page page = hubspotClient.changedSince("contact", since, after, 200);
            page.records().stream().filter(r -> r.at("/properties/email").asText().endsWith("-" + batch + "@example.com"))
                    .forEach(r -> seen.add(r.get("id").asText()));
            if (!page.hasNext()) {
                break;
            }
            since = page.nextSince();
            after = page.nextAfterId();
        }

        assertThat(seen).hasSize(10_100);
        assertThat(HS.requests("POST /crm/v3/objects/contacts/search")).noneMatch(r -> r.status() == 400);
    }

    @Test
    void theAccountsRateLimitIsSharedAndA429IsWaitedOut() throws Exception {
        // HubSpot's window (2 calls a second) is narrower than the client's budget here, so 429s happen
        // and must be waited out: the webhook reads come in bursts
        HS.rateLimit(2, Duration.ofSeconds(1));
        String batch = UUID.randomUUID().toString().substring(0, 8);
        for (int i = 0; i < 30; i++) {
            String email = "limit" + i + "-" + batch + "@example.com";
            HS.create(Map.of("email", email, "lastname", "Limit" + i));
            // spread out, so the webhooks come in many small bursts and their reads outrun the window
            Thread.sleep(60);
        }
        await().atMost(Duration.ofSeconds(60)).until(() -> CRM1.live().stream()
                .filter(r -> String.valueOf(r.get("Email")).endsWith("-" + batch + "@example.com")).count() == 30);
        assertThat(HS.requests()).as("the simulator's window is narrower than the client's budget").anyMatch(r -> r.status() == 429);
        assertThat(count("SELECT COUNT(*) FROM dead_letter WHERE system = 'hubspot' OR payload LIKE '%-" + batch + "%'")).isZero();
        assertThat(count("SELECT COUNT(*) FROM inbox WHERE source_system = 'hubspot' AND state = 'failed'")).isZero();
    }

    @Test
    void anUpdateToAContactHubSpotLostWithoutArchivingItCreatesItThereAgain() {
        String email = email("lost-in-hubspot");
        CRM1.seed(Map.of("Email", email, "FirstName", "Lost", "LastName", "Contact"));
        String lost = await().atMost(PATIENCE).until(() -> HS.findByEmail(email), java.util.Optional::isPresent)
                .map(HubSpotFlowTest::id).orElseThrow();
        String contactId = await().atMost(PATIENCE).until(() -> jdbc.queryForList("SELECT contact_id FROM contact_link "
                + "WHERE system = 'hubspot' AND external_id = ?", String.class, lost), ids -> ids.size() == 1).get(0);
        HS.forget(lost);

        CRM1.update(String.valueOf(byEmail(CRM1, email).orElseThrow().get("Id")), Map.of("Title", "Found again"));

        Map<String, Object> again = await().atMost(PATIENCE).until(() -> HS.findByEmail(email),
                c -> c.isPresent() && "Found again".equals(property(c.get(), "jobtitle"))).orElseThrow();
        assertThat(id(again)).isNotEqualTo(lost);
        assertThat(api.get("/api/contacts/" + contactId).status()).isEqualTo(200);
        assertThat(byEmail(CRM1, email).orElseThrow()).containsEntry("Deleted", false);
        JsonNode events = api.get("/api/contacts/" + contactId + "/sync").json().get("systems").get("hubspot").get("events");
        assertThat(events).hasSize(1);
        assertThat(events.get(0).get("reason").asText()).isEqualTo("record lost by hubspot");
        assertThat(events.get(0).get("lostExternalId").asText()).isEqualTo(lost);
    }

    @Test
    void anUpdateToAContactArchivedInHubSpotDeletesThePersonWhenNoWebhookToldOfIt() {
        String email = email("archived-quietly");
        CRM1.seed(Map.of("Email", email, "FirstName", "Archived", "LastName", "Contact"));
        String archived = await().atMost(PATIENCE).until(() -> HS.findByEmail(email), java.util.Optional::isPresent)
                .map(HubSpotFlowTest::id).orElseThrow();
        String contactId = await().atMost(PATIENCE).until(() -> jdbc.queryForList("SELECT contact_id FROM contact_link "
                + "WHERE system = 'hubspot' AND external_id = ?", String.class, archived), ids -> ids.size() == 1).get(0);
        HS.webhooks().pause();
        try {
            HS.delete(archived);
            CRM1.update(String.valueOf(byEmail(CRM1, email).orElseThrow().get("Id")), Map.of("Title", "Too late"));

            await().atMost(PATIENCE).until(() -> api.get("/api/contacts/" + contactId).status() == 410);
        } finally {
            HS.webhooks().resume();
        }
        await().atMost(PATIENCE).until(() -> Boolean.TRUE.equals(byEmail(CRM1, email).orElseThrow().get("Deleted")));
        assertThat(HS.findByEmail(email)).isEmpty();
        assertThat(count("SELECT COUNT(*) FROM lost_record WHERE contact_id = '" + contactId + "'")).isZero();
    }

    // helpers

    static String sign(String secret, String url, String body, String timestamp) {
        return HubSpotWebhooks.signatureV3(secret, "POST", url, body, Long.parseLong(timestamp));
    }

    static String id(Map<String, Object> contact) {
        return String.valueOf(contact.get("id"));
    }

    JsonNode hub(String email) {
        JsonNode items = api.get("/api/contacts?email=" + email).json().get("items");
        return items.size() == 0 ? null : items.get(0);
    }

    long count(String sql) {
        return jdbc.queryForObject(sql, Long.class);
    }

    List<String> links(String contactId) {
        return jdbc.queryForList("SELECT system || ':' || object_type || ':' || external_id FROM contact_link "
                + "WHERE contact_id = ? ORDER BY system", String.class, contactId);
    }
}
