package dev.crmsync.provider.pipedrive;

import static dev.crmsync.support.Simulated.email;
import static dev.crmsync.support.Simulated.liveIn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crmsync.sim.GenericCrmSimulator;
import dev.crmsync.sim.pipedrive.PipedriveSimulator;
import dev.crmsync.support.Http;
import dev.crmsync.support.ServiceTest;
import dev.crmsync.support.Simulated;
import dev.crmsync.sync.Poller;
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
 * Pipedrive through its simulator over real HTTP, with a generic REST CRM (crm1) and the API on the
 * other side: webhooks in (Basic auth, replays, merges), the poll as the fallback for a lost webhook,
 * writes in Pipedrive's shape, the search before a create, and its request limit. The poll's cron is
 * years away, so whatever arrives from Pipedrive without an explicit poll came by webhook. Each test
 * uses its own people.
 */
@ServiceTest
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
class PipedriveFlowTest {

    static final Duration PATIENCE = Duration.ofSeconds(20);
    static final String HOOK_USER = "pipedrive-hooks";
    static final String HOOK_PASSWORD = "hook-secret-" + UUID.randomUUID();
    static final ObjectMapper JSON = new ObjectMapper();
    static final PipedriveSimulator PD = PipedriveSimulator.builder().apiToken("pd-token")
            .webhookRetryDelays(Duration.ofMillis(300), Duration.ofSeconds(1)).build().start();
    static final GenericCrmSimulator CRM1 = GenericCrmSimulator.builder().token("token-crm1").build().start();

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        Simulated.pipedrive(registry, PD, HOOK_USER, HOOK_PASSWORD);
        registry.add("crmsync.providers.pipedrive.limit-pause", () -> "PT2S");
        Simulated.rest(registry, "crm1", CRM1);
        Simulated.fastSync(registry);
    }

    @AfterAll
    static void stop() {
        PD.stop();
        CRM1.stop();
    }

    @LocalServerPort
    int port;

    @Autowired
    JdbcTemplate jdbc;

    @Autowired
    Poller poller;

    Http api;
    Http hooks;

    @BeforeEach
    void connect() {
        api = new Http(port).withHeader("X-Api-Key", ServiceTest.API_KEY);
        hooks = new Http(port);
        PD.webhooks().target(webhookUrl(), HOOK_USER, HOOK_PASSWORD);
    }

    @AfterEach
    void restore() {
        PD.faults().clear();
        PD.rateLimits().limit(80).searchLimit(10).dailyLimit(100_000).reset();
        PD.webhooks().resume();
    }

    @Test
    void aPersonCreatedThenChangedInPipedriveReachesCrm1AndTheApiByWebhookWithoutAPoll() {
        long listings = PD.calls("GET /api/v2/persons");
        String email = email("grace");
        long start = System.nanoTime();
        long id = id(PD.create(Map.of("name", "Grace Hopper", "emails", List.of(primary(email)),
                "phones", List.of(primary("(415) 555-0199")))));

        JsonNode hub = await().atMost(Duration.ofSeconds(5)).until(() -> hub(email), java.util.Objects::nonNull);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("by webhook, not a poll").isLessThan(Duration.ofSeconds(5));
        assertThat(hub.get("firstName").asText()).isEqualTo("Grace");
        assertThat(hub.get("lastName").asText()).isEqualTo("Hopper");
        assertThat(hub.get("phone").asText()).isEqualTo("+14155550199");
        assertThat(liveIn(CRM1, email)).containsEntry("FirstName", "Grace").containsEntry("LastName", "Hopper")
                .containsEntry("Phone", "+14155550199");
        assertThat(links(hub.get("id").asText())).contains("pipedrive:person:" + id);

        PD.update(id, Map.of("name", "Grace Brewster Hopper", "phones", List.of(primary("+44 20 7946 0958"))));

        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(liveIn(CRM1, email))
                .containsEntry("FirstName", "Grace Brewster").containsEntry("LastName", "Hopper")
                .containsEntry("Phone", "+442079460958"));
        assertThat(hub(email).get("phone").asText()).isEqualTo("+442079460958");
        assertThat(PD.calls("GET /api/v2/persons")).as("no poll listed persons").isEqualTo(listings);
    }

    @Test
    void aChangeWhoseWebhookWasLostIsCaughtByThePollFallback() throws Exception {
        String email = email("lost");
        // the next event lost must be this test's, not one still queued from another test
        assertThat(PD.webhooks().awaitIdle(PATIENCE)).isTrue();
        PD.webhooks().loseNext(1);
        long id = id(PD.create(Map.of("name", "Lost Webhook", "emails", List.of(primary(email)))));
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(3)).until(() -> hub(email) == null);

        poller.poll("pipedrive", "person");

        JsonNode hub = await().atMost(PATIENCE).until(() -> hub(email), java.util.Objects::nonNull);
        assertThat(hub.get("lastName").asText()).isEqualTo("Webhook");
        assertThat(liveIn(CRM1, email)).containsEntry("FirstName", "Lost").containsEntry("LastName", "Webhook");
        assertThat(links(hub.get("id").asText())).contains("pipedrive:person:" + id);
    }

    @Test
    void anApiChangeReachesPipedriveInItsShapeAndKeepsTheEmailsTheHubDoesNotSync() {
        String email = email("ada");
        String hubId = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"firstName\":\"Ada\",\"lastName\":\"Lovelace\","
                + "\"phone\":\"(415) 555-2671\"}").json().get("id").asText();

        Map<String, Object> person = livePerson(PD, email);
        assertThat(person).containsEntry("name", "Ada Lovelace").containsEntry("first_name", "Ada")
                .containsEntry("last_name", "Lovelace");
        assertThat(person.get("emails")).isEqualTo(List.of(Map.of("value", email, "primary", true, "label", "work")));
        assertThat(person.get("phones")).isEqualTo(List.of(Map.of("value", "+14155552671", "primary", true, "label", "work")));
        long id = ((Number) person.get("id")).longValue();
        await().atMost(PATIENCE).until(() -> links(hubId).contains("pipedrive:person:" + id));

        // a second email someone added in Pipedrive, which the hub does not hold
        String home = email("ada-home");
        PD.update(id, Map.of("emails", List.of(Map.of("value", email, "primary", true, "label", "work"),
                Map.of("value", home, "primary", false, "label", "home"))));
        String changed = email("ada-new");
        api.patch("/api/contacts/" + hubId, "{\"email\":\"" + changed + "\",\"lastName\":\"King\"}",
                "Content-Type", "application/merge-patch+json");

        await().atMost(PATIENCE).untilAsserted(() -> assertThat(PD.find(id).orElseThrow()).containsEntry("name", "Ada King")
                .containsEntry("emails", List.of(Map.of("value", changed, "primary", true, "label", "work"),
                        Map.of("value", home, "primary", false, "label", "home"))));
        assertThat(PD.findByEmail(changed)).hasSize(1);
    }

    @Test
    void theTokenTravelsInTheHeaderAndNoRequestUrlCarriesIt() {
        String email = email("header");
        // a search and a create, a read and an update, a delete, a listing
        String hubId = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Header\"}").json()
                .get("id").asText();
        long id = id(livePerson(PD, email));
        await().atMost(PATIENCE).until(() -> links(hubId).contains("pipedrive:person:" + id));
        api.patch("/api/contacts/" + hubId, "{\"lastName\":\"Headers\"}", "Content-Type", "application/merge-patch+json");
        await().atMost(PATIENCE).until(() -> "Headers".equals(PD.find(id).orElseThrow().get("name")));
        api.delete("/api/contacts/" + hubId);
        await().atMost(PATIENCE).until(() -> PD.find(id).isEmpty());
        poller.poll("pipedrive", "person");

        assertThat(PD.requests()).extracting(r -> r.endpoint()).contains("GET /api/v2/persons/search", "POST /api/v2/persons",
                "GET /api/v2/persons/{id}", "PATCH /api/v2/persons/{id}", "DELETE /api/v2/persons/{id}", "GET /api/v2/persons");
        assertThat(PD.requests()).as("every call authenticated by the header").noneMatch(r -> r.status() == 401);
        assertThat(PD.requestUris()).isNotEmpty().allSatisfy(uri -> assertThat(uri)
                .doesNotContain(PD.apiToken()).doesNotContain("api_token"));
    }

    @Test
    void aContactWithoutANameIsCreatedInPipedriveUnderItsEmail() {
        String email = email("nameless");
        String hubId = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"phone\":\"+14155550142\"}").json()
                .get("id").asText();

        Map<String, Object> person = livePerson(PD, email);
        assertThat(person).containsEntry("name", email);
        await().atMost(PATIENCE).until(() -> links(hubId).contains("pipedrive:person:" + id(person)));
        assertThat(count("SELECT COUNT(*) FROM dead_letter WHERE contact_id = '" + hubId + "'")).isZero();
    }

    @Test
    void aPersonPipedriveRefusesLandsInDeadLettersWithItsMessageAndNoToken() {
        PD.faults().failNext(1, 400, "POST", "/api/v2/persons");
        String email = email("refused");
        String hubId = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Refused\"}").json()
                .get("id").asText();

        await().atMost(PATIENCE).until(() -> count("SELECT COUNT(*) FROM dead_letter WHERE contact_id = '" + hubId + "' "
                + "AND system = 'pipedrive'") == 1);
        Map<String, Object> letter = jdbc.queryForMap("SELECT * FROM dead_letter WHERE contact_id = ? AND system = 'pipedrive'", hubId);
        assertThat(letter).containsEntry("operation", "create");
        assertThat((String) letter.get("error_message")).contains("400").contains("POST /api/v2/persons")
                .doesNotContain(PD.apiToken()).doesNotContain("api_token");
        assertThat(((Number) letter.get("attempts")).intValue()).as("a refused record is not retried").isEqualTo(1);
        assertThat(PD.findByEmail(email)).isEmpty();
        assertThat(liveIn(CRM1, email)).containsEntry("LastName", "Refused");
    }

    @Test
    void aPersonDeletedInPipedriveIsDeletedEverywhereByWebhook() {
        String email = email("deleted");
        long id = id(PD.create(Map.of("name", "Short Lived", "emails", List.of(primary(email)))));
        Map<String, Object> inCrm1 = liveIn(CRM1, email);
        String hubId = hub(email).get("id").asText();

        PD.delete(id);

        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(api.get("/api/contacts/" + hubId).status()).isEqualTo(410);
            assertThat(CRM1.find((String) inCrm1.get("Id")).orElseThrow()).containsEntry("Deleted", true);
        });
        assertThat(count("SELECT COUNT(*) FROM dead_letter WHERE contact_id = '" + hubId + "'")).isZero();
    }

    @Test
    void aMergeInPipedriveLeavesOneContactInTheHubAndInCrm1() {
        String first = email("merge-a");
        String second = email("merge-b");
        long survivor = id(PD.create(Map.of("name", "Marie Curie", "emails", List.of(primary(first)))));
        long merged = id(PD.create(Map.of("name", "Maria Curie", "emails", List.of(primary(second)),
                "phones", List.of(primary("+14155550123")))));
        liveIn(CRM1, first);
        Map<String, Object> secondInCrm1 = liveIn(CRM1, second);
        String kept = await().atMost(PATIENCE).until(() -> hub(first), java.util.Objects::nonNull).get("id").asText();
        String gone = await().atMost(PATIENCE).until(() -> hub(second), java.util.Objects::nonNull).get("id").asText();
        await().atMost(PATIENCE).until(() -> links(gone).contains("pipedrive:person:" + merged));

        PD.merge(merged, survivor);

        await().atMost(PATIENCE).untilAsserted(() -> {
            Http.Reply moved = api.get("/api/contacts/" + gone);
            assertThat(moved.status()).isEqualTo(301);
            assertThat(moved.header("Location")).isEqualTo("/api/contacts/" + kept);
            assertThat(CRM1.find((String) secondInCrm1.get("Id")).orElseThrow()).containsEntry("Deleted", true);
        });
        assertThat(hub(second)).isNull();
        assertThat(hub(first).get("phone").asText()).as("filled from the merged person").isEqualTo("+14155550123");
        assertThat(links(kept)).contains("pipedrive:person:" + survivor).doesNotContain("pipedrive:person:" + merged);
        assertThat(PD.find(survivor)).isPresent();
        assertThat(PD.live()).noneMatch(p -> ((Number) p.get("id")).longValue() == merged);
    }

    @Test
    void aWebhookWithWrongCredentialsIsRefusedWith401AndNothingIsStored() {
        String eventId = UUID.randomUUID().toString();
        String event = event("change", eventId, 999_001, email("intruder"));

        Http.Reply wrongPassword = hooks.post("/webhooks/pipedrive", event, "Authorization", basic(HOOK_USER, "guess"));
        Http.Reply wrongUser = hooks.post("/webhooks/pipedrive", event, "Authorization", basic("admin", HOOK_PASSWORD));
        Http.Reply admin = hooks.post("/webhooks/pipedrive", event, "Authorization", basic("admin", ServiceTest.ADMIN_PASSWORD));
        Http.Reply none = hooks.post("/webhooks/pipedrive", event);

        for (Http.Reply reply : List.of(wrongPassword, wrongUser, admin, none)) {
            assertThat(reply.status()).isEqualTo(401);
            assertThat(reply.header("Content-Type")).startsWith("application/problem+json");
            assertThat(reply.header("WWW-Authenticate")).startsWith("Basic");
            assertThat(reply.json().get("detail").asText()).contains("webhook-username");
        }
        assertThat(count("SELECT COUNT(*) FROM inbox WHERE idempotency_key = 'pipedrive:webhook:" + eventId + "' "
                + "OR external_id = '999001'")).isZero();
    }

    @Test
    void aMalformedWebhookIsRefusedWith400AndNothingIsStored() {
        String marker = "malformed-" + UUID.randomUUID();
        String auth = basic(HOOK_USER, HOOK_PASSWORD);

        Http.Reply notJson = hooks.post("/webhooks/pipedrive", "{\"meta\": {\"id\": \"" + marker + "\", \"action\": ",
                "Authorization", auth);
        Http.Reply noMeta = hooks.post("/webhooks/pipedrive", "[1, 2]", "Authorization", auth);
        Http.Reply noEventId = hooks.post("/webhooks/pipedrive",
                "{\"meta\":{\"action\":\"change\",\"entity\":\"person\",\"entity_id\":\"999002\"},\"data\":{\"id\":999002}}",
                "Authorization", auth);
        Http.Reply v1 = hooks.post("/webhooks/pipedrive",
                "{\"meta\":{\"action\":\"updated\",\"object\":\"person\",\"id\":999002},\"current\":{\"id\":999002}}",
                "Authorization", auth);

        assertThat(notJson.status()).isEqualTo(400);
        assertThat(notJson.header("Content-Type")).startsWith("application/problem+json");
        assertThat(notJson.json().get("detail").asText()).contains("not valid JSON");
        assertThat(noMeta.status()).isEqualTo(400);
        assertThat(noEventId.status()).isEqualTo(400);
        assertThat(noEventId.json().at("/errors/0/pointer").asText()).isEqualTo("#/meta/id");
        assertThat(v1.status()).isEqualTo(400);
        assertThat(v1.json().get("detail").asText()).contains("version 2.0");
        assertThat(count("SELECT COUNT(*) FROM inbox WHERE idempotency_key LIKE '%" + marker + "%' "
                + "OR external_id = '999002'")).isZero();
    }

    @Test
    void anEventForAnotherObjectIsAcknowledgedAndNotStored() {
        String eventId = UUID.randomUUID().toString();
        Http.Reply reply = hooks.post("/webhooks/pipedrive", "{\"meta\":{\"action\":\"change\",\"entity\":\"deal\","
                + "\"entity_id\":\"999003\",\"id\":\"" + eventId + "\",\"version\":\"2.0\"},\"data\":{\"id\":999003}}",
                "Authorization", basic(HOOK_USER, HOOK_PASSWORD));

        assertThat(reply.status()).as("so Pipedrive does not retry it").isEqualTo(200);
        assertThat(reply.json().get("status").asText()).isEqualTo("ignored");
        assertThat(count("SELECT COUNT(*) FROM inbox WHERE idempotency_key = 'pipedrive:webhook:" + eventId + "'")).isZero();
    }

    @Test
    void aSpentDailyBudgetPausesPipedriveUntilItResetsWithoutDeadLetters() {
        PD.rateLimits().dailyLimit(Math.max(1, PD.rateLimits().usedToday(PD.apiToken())));
        String email = email("budget");
        String hubId = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Waiting\"}").json()
                .get("id").asText();

        Http admin = new Http(port).withHeader("Authorization", basic("admin", ServiceTest.ADMIN_PASSWORD));
        await().atMost(PATIENCE).untilAsserted(() -> {
            JsonNode health = admin.get("/actuator/health").json();
            assertThat(health.at("/components/providers/details/pipedrive/state").asText()).isEqualTo("paused");
            assertThat(health.at("/components/providers/details/pipedrive/reason").asText()).contains("daily");
        });
        assertThat(count("SELECT COUNT(*) FROM outbox WHERE contact_id = '" + hubId + "' AND target_system = 'pipedrive' "
                + "AND state = 'pending'")).isEqualTo(1);

        PD.rateLimits().dailyLimit(100_000).reset();

        assertThat(livePerson(PD, email)).containsEntry("name", "Waiting");
        assertThat(count("SELECT COUNT(*) FROM dead_letter WHERE contact_id = '" + hubId + "'")).isZero();
    }

    @Test
    void aFieldAnOlderEventChangedIsNotDatedByALaterEventOfAnotherFieldThatArrivesFirst() throws Exception {
        String email = email("order");
        long id = id(PD.create(Map.of("name", "Out Oforder", "emails", List.of(primary(email)),
                "phones", List.of(primary("+14155550101")))));
        String hubId = await().atMost(PATIENCE).until(() -> hub(email), java.util.Objects::nonNull).get("id").asText();
        await().atMost(PATIENCE).until(() -> links(hubId).contains("pipedrive:person:" + id));
        assertThat(PD.webhooks().awaitIdle(PATIENCE)).isTrue();
        String inHub = email("order-hub");
        String emailEvent;
        PD.webhooks().pause();
        try {
            // Pipedrive's email change at second S, the hub's own (through the API) after it, then Pipedrive's phone
            // change at S + 3; Pipedrive's webhooks arrive in the wrong order, the phone's carrying the email too
            String inPipedrive = email("order-pd");
            PD.update(id, Map.of("emails", List.of(primary(inPipedrive))));
            java.time.Instant emailChanged = java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
            await().atMost(Duration.ofSeconds(2)).until(() -> java.time.Instant.now().isAfter(emailChanged.plusMillis(1100)));
            assertThat(api.patch("/api/contacts/" + hubId, "{\"email\":\"" + inHub + "\"}",
                    "Content-Type", "application/merge-patch+json").status()).isEqualTo(200);
            PD.freezeClock(emailChanged.plusSeconds(3));
            PD.update(id, Map.of("phones", List.of(primary("+14155550102"))));
            PD.useSystemClock();
            List<Map<String, Object>> events = PD.webhooks().pending().stream()
                    .filter(e -> meta(e).get("entity_id").equals(Long.toString(id))).toList();
            assertThat(events).hasSize(2);
            emailEvent = "pipedrive:webhook:" + meta(events.get(0)).get("id");
            PD.webhooks().discardPending();

            for (Map<String, Object> event : List.of(events.get(1), events.get(0))) {
                assertThat(hooks.post("/webhooks/pipedrive", JSON.writeValueAsString(event),
                        "Authorization", basic(HOOK_USER, HOOK_PASSWORD)).status()).isEqualTo(200);
            }
        } finally {
            PD.webhooks().resume();
        }

        // the hub's email is newer than Pipedrive's (second S, not S + 3) and wins everywhere; the phone is Pipedrive's
        await().atMost(PATIENCE).untilAsserted(() -> {
            JsonNode contact = api.get("/api/contacts/" + hubId).json();
            assertThat(contact.get("email").asText()).isEqualTo(inHub);
            assertThat(contact.get("phone").asText()).isEqualTo("+14155550102");
            assertThat(PD.find(id).orElseThrow().get("emails")).isEqualTo(
                    List.of(Map.of("value", inHub, "primary", true, "label", "work")));
        });
        assertThat(jdbc.queryForObject("SELECT outcome FROM inbox WHERE idempotency_key = ?", String.class, emailEvent))
                .as("the email's event, arriving last, is older than what the hub holds").isEqualTo("stale_ignored");
    }

    @Test
    void aReplayedWebhookIsStoredAndAppliedOnce() throws Exception {
        String email = email("replay");
        long id = id(PD.create(Map.of("name", "Re Play", "emails", List.of(primary(email)))));
        assertThat(liveIn(CRM1, email)).containsEntry("LastName", "Play");
        String hubId = hub(email).get("id").asText();
        PD.update(id, Map.of("name", "Re Played"));
        Map<String, Object> change = PD.webhooks().events().stream()
                .filter(e -> meta(e).get("entity_id").equals(Long.toString(id)) && meta(e).get("action").equals("change"))
                .findFirst().orElseThrow();
        String key = "pipedrive:webhook:" + meta(change).get("id");
        // settled first: the change has reached the hub and crm1
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(liveIn(CRM1, email)).containsEntry("LastName", "Played"));
        String fromPipedrive = "SELECT COUNT(*) FROM contact_history WHERE contact_id = '" + hubId + "' AND source_system = 'pipedrive'";
        long versions = count(fromPipedrive);

        Http.Reply again = hooks.post("/webhooks/pipedrive", JSON.writeValueAsString(change),
                "Authorization", basic(HOOK_USER, HOOK_PASSWORD));

        assertThat(again.status()).isEqualTo(200);
        assertThat(again.json().get("status").asText()).isEqualTo("already received");
        assertThat(count("SELECT COUNT(*) FROM inbox WHERE idempotency_key = '" + key + "'")).isEqualTo(1);
        await().during(Duration.ofMillis(600)).atMost(Duration.ofSeconds(3)).until(() -> count(fromPipedrive) == versions);
    }

    @Test
    void aPersonPipedriveAlreadyHasIsFoundByEmailAndLinkedNotCreatedAgain() {
        String email = email("known");
        // already in Pipedrive (an import: no webhook), with another email as well
        long id = id(PD.seed(Map.of("name", "Kim Known", "emails", List.of(Map.of("value", "kim@old.example.com",
                "primary", false), Map.of("value", email.toUpperCase(), "primary", true)))));

        String hubId = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Known\","
                + "\"phone\":\"+14155550100\"}").json().get("id").asText();

        // each side keeps what the other lacked: Pipedrive's first name reaches the hub, the hub's phone Pipedrive
        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(PD.find(id).orElseThrow().get("phones"))
                    .isEqualTo(List.of(Map.of("value", "+14155550100", "primary", true, "label", "work")));
            assertThat(api.get("/api/contacts/" + hubId).json().get("firstName").asText()).isEqualTo("Kim");
        });
        assertThat(PD.findByEmail(email)).hasSize(1);
        assertThat(PD.calls("GET /api/v2/persons/search")).isPositive();
        assertThat(links(hubId)).contains("pipedrive:person:" + id);
    }

    @Test
    void requestsOverPipedrivesLimitWaitForTheWindowAndEndWithoutDeadLetters() {
        PD.rateLimits().reset().limit(3).searchLimit(1);
        String batch = UUID.randomUUID().toString().substring(0, 8);
        List<String> emails = List.of("limit1-" + batch + "@example.com", "limit2-" + batch + "@example.com",
                "limit3-" + batch + "@example.com");
        for (String email : emails) {
            api.post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Limited\"}");
        }

        await().atMost(PATIENCE).untilAsserted(() -> {
            for (String email : emails) {
                assertThat(PD.findByEmail(email)).hasSize(1);
            }
        });
        assertThat(PD.requests()).anyMatch(r -> r.status() == 429);
        assertThat(count("SELECT COUNT(*) FROM dead_letter WHERE system = 'pipedrive'")).isZero();
    }

    // helpers

    String webhookUrl() {
        return "http://127.0.0.1:" + port + "/webhooks/pipedrive";
    }

    @Test
    void anUpdateToAPersonPipedriveLostWithoutDeletingItCreatesItThereAgain() {
        String email = email("lost-in-pipedrive");
        CRM1.seed(Map.of("Email", email, "FirstName", "Lost", "LastName", "Person"));
        long lost = id(livePerson(PD, email));
        String contactId = await().atMost(PATIENCE).until(() -> jdbc.queryForList("SELECT contact_id FROM contact_link "
                + "WHERE system = 'pipedrive' AND external_id = ?", String.class, Long.toString(lost)), ids -> ids.size() == 1).get(0);
        PD.forget(lost);

        CRM1.update(String.valueOf(liveIn(CRM1, email).get("Id")), Map.of("LastName", "Found"));

        Map<String, Object> again = await().atMost(PATIENCE).until(() -> PD.findByEmail(email),
                found -> found.size() == 1 && "Found".equals(found.get(0).get("last_name"))).get(0);
        assertThat(id(again)).isNotEqualTo(lost);
        assertThat(api.get("/api/contacts/" + contactId).status()).isEqualTo(200);
        assertThat(liveIn(CRM1, email)).containsEntry("Deleted", false).containsEntry("LastName", "Found");
        JsonNode events = api.get("/api/contacts/" + contactId + "/sync").json().get("systems").get("pipedrive").get("events");
        assertThat(events).hasSize(1);
        assertThat(events.get(0).get("reason").asText()).isEqualTo("record lost by pipedrive");
        assertThat(events.get(0).get("lostExternalId").asText()).isEqualTo(Long.toString(lost));
    }

    @Test
    void anUpdateToAPersonDeletedInPipedriveDeletesThePersonWhenNoWebhookToldOfIt() {
        String email = email("deleted-quietly");
        CRM1.seed(Map.of("Email", email, "FirstName", "Deleted", "LastName", "Quietly"));
        long deleted = id(livePerson(PD, email));
        String contactId = await().atMost(PATIENCE).until(() -> jdbc.queryForList("SELECT contact_id FROM contact_link "
                + "WHERE system = 'pipedrive' AND external_id = ?", String.class, Long.toString(deleted)), ids -> ids.size() == 1).get(0);
        PD.webhooks().pause();
        PD.delete(deleted);
        CRM1.update(String.valueOf(liveIn(CRM1, email).get("Id")), Map.of("LastName", "Too late"));

        await().atMost(PATIENCE).until(() -> api.get("/api/contacts/" + contactId).status() == 410);
        await().atMost(PATIENCE).until(() -> Boolean.TRUE.equals(dev.crmsync.support.Simulated.byEmail(CRM1, email).orElseThrow().get("Deleted")));
        assertThat(PD.findByEmail(email)).isEmpty();
        assertThat(count("SELECT COUNT(*) FROM lost_record WHERE contact_id = '" + contactId + "'")).isZero();
    }

    static Map<String, Object> primary(String value) {
        return Map.of("value", value, "primary", true);
    }

    static long id(Map<String, Object> person) {
        return ((Number) person.get("id")).longValue();
    }

    static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> meta(Map<String, Object> event) {
        return (Map<String, Object>) event.get("meta");
    }

    /** A v2 person event as Pipedrive sends it. */
    static String event(String action, String eventId, long personId, String email) {
        return "{\"meta\":{\"action\":\"" + action + "\",\"entity\":\"person\",\"entity_id\":\"" + personId + "\",\"id\":\""
                + eventId + "\",\"timestamp\":\"2026-05-20T20:49:32Z\",\"attempt\":1,\"version\":\"2.0\"},"
                + "\"data\":{\"id\":" + personId + ",\"name\":\"In Truder\",\"first_name\":\"In\",\"last_name\":\"Truder\","
                + "\"emails\":[{\"value\":\"" + email + "\",\"primary\":true,\"label\":\"work\"}],\"phones\":[],"
                + "\"update_time\":\"2026-05-20T20:49:32Z\"},\"previous\":{}}";
    }

    static Map<String, Object> livePerson(PipedriveSimulator pd, String email) {
        return await().atMost(PATIENCE).until(() -> {
            List<Map<String, Object>> found = pd.findByEmail(email);
            assertThat(found).as("persons with %s in Pipedrive", email).hasSizeLessThanOrEqualTo(1);
            return found.stream().findFirst();
        }, Optional::isPresent).orElseThrow();
    }

    JsonNode hub(String email) {
        JsonNode items = api.get("/api/contacts?email=" + email).json().get("items");
        assertThat(items.size()).as("live hub contacts with %s", email).isLessThanOrEqualTo(1);
        return items.size() == 0 ? null : items.get(0);
    }

    List<String> links(String contactId) {
        return jdbc.queryForList("SELECT system || ':' || object_type || ':' || external_id FROM contact_link "
                + "WHERE contact_id = ? ORDER BY system", String.class, contactId);
    }

    long count(String sql) {
        return jdbc.queryForObject(sql, Long.class);
    }
}
