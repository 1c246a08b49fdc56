package dev.crmsync.sync;

import static dev.crmsync.support.Simulated.PATIENCE;
import static dev.crmsync.support.Simulated.email;
import static dev.crmsync.support.Simulated.liveIn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.crmsync.sim.GenericCrmSimulator;
import dev.crmsync.sim.hubspot.HubSpotSimulator;
import dev.crmsync.sim.pipedrive.PipedriveSimulator;
import dev.crmsync.support.Http;
import dev.crmsync.support.ServiceTest;
import dev.crmsync.support.Simulated;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Values and ids from CRMs that the hub cannot hold, through Pipedrive's and HubSpot's webhooks, a
 * generic REST CRM's poll (crm1) and a generic REST CRM whose listing a test controls (crm2): each
 * value is left out of the merge with a data-quality entry in /api/conflicts while the record's other
 * fields sync and the contact stays editable; an over-long id is refused before anything is stored.
 */
@ServiceTest
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
class DataQualityFlowTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String HOOK_USER = "pipedrive-hooks";
    static final String HOOK_PASSWORD = "hook-secret-" + UUID.randomUUID();
    static final String SECRET = "hubspot-client-secret-for-tests";
    static final PipedriveSimulator PD = PipedriveSimulator.builder().apiToken("pd-token").build().start();
    static final HubSpotSimulator HS = HubSpotSimulator.builder().uniqueProperty(Simulated.HUBSPOT_HUB_ID).token("hs-token").clientSecret(SECRET).build().start();
    static final GenericCrmSimulator CRM1 = GenericCrmSimulator.builder().token("token-crm1").build().start();
    static final ListingCrm CRM2 = new ListingCrm();

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        Simulated.pipedrive(registry, PD, HOOK_USER, HOOK_PASSWORD);
        Simulated.hubspot(registry, HS, SECRET);
        Simulated.rest(registry, "crm1", CRM1);
        registry.add("crmsync.providers.crm2.enabled", () -> "true");
        registry.add("crmsync.providers.crm2.base-url", CRM2::baseUrl);
        registry.add("crmsync.providers.crm2.auth-value", () -> "Bearer crm2");
        registry.add("crmsync.providers.crm2.poll-cron", () -> "0 0 0 1 1 ? 2099");
        registry.add("crmsync.providers.crm2.deliver-period", () -> "100");
        Simulated.fastSync(registry);
    }

    @AfterAll
    static void stop() {
        PD.stop();
        HS.stop();
        CRM1.stop();
        CRM2.stop();
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
        PD.webhooks().target("http://127.0.0.1:" + port + "/webhooks/pipedrive", HOOK_USER, HOOK_PASSWORD);
        HS.webhooks().target("http://localhost:" + port + "/webhooks/hubspot").keepAll().resume();
    }

    @Test
    void aPipedrivePersonWithAnInvalidEmailSyncsItsOtherFieldsAndStaysEditable() {
        String last = surname("Pipedrive");
        long id = ((Number) PD.create(Map.of("name", "Nina " + last, "emails", List.of(primary("not-an-email")),
                "phones", List.of(primary("+1 415 555 0111")))).get("id")).longValue();

        JsonNode hub = await().atMost(PATIENCE).until(() -> hubByName(last), Objects::nonNull);
        assertThat(hub.get("email").isNull()).as("the email left out: %s", hub).isTrue();
        assertThat(hub.get("firstName").asText()).isEqualTo("Nina");
        assertThat(hub.get("phone").asText()).isEqualTo("+14155550111");
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(crm1ByName(last)).isPresent()
                .get().satisfies(record -> assertThat(record).containsEntry("Phone", "+14155550111")
                        .containsEntry("FirstName", "Nina")));
        JsonNode entry = onlyEntry("pipedrive", Long.toString(id), "email");
        assertThat(entry.get("remote_value").asText()).isEqualTo("\"not-an-email\"");
        assertThat(entry.get("reason").asText()).isEqualTo("'not-an-email' is not a valid email address");
        assertThat(entry.get("contact_id").asText()).isEqualTo(hub.get("id").asText());
        assertThat(entry.get("state").asText()).isEqualTo("open");
        Http.Reply choose = api.post("/api/conflicts/" + entry.get("id").asText() + "/resolve", "{\"winner\":\"pipedrive\"}");
        assertThat(choose.status()).as(choose.body()).isEqualTo(400);
        assertThat(choose.json().get("errors").get(0).get("detail").asText()).contains("dismiss").contains("pipedrive");

        Http.Reply patch = api.patch("/api/contacts/" + hub.get("id").asText(), "{\"title\":\"Engineer\"}",
                "Content-Type", "application/merge-patch+json");
        assertThat(patch.status()).as(patch.body()).isEqualTo(200);
        assertThat(patch.json().get("title").asText()).isEqualTo("Engineer");

        // the person changes again in Pipedrive, still with the same email: the change applies, no second entry
        PD.update(id, Map.of("name", "Nora " + last));
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(crm1ByName(last).orElseThrow())
                .containsEntry("FirstName", "Nora").containsEntry("Title", "Engineer"));
        assertThat(entries("pipedrive", Long.toString(id))).hasSize(1);
        assertAppliedWithoutDeadLetter("pipedrive", Long.toString(id));
        Http.Reply dismiss = api.post("/api/conflicts/" + entry.get("id").asText() + "/resolve", "{\"action\":\"dismiss\"}");
        assertThat(dismiss.status()).as(dismiss.body()).isEqualTo(200);
        assertThat(dismiss.json().get("state").asText()).isEqualTo("dismissed");
    }

    @Test
    void aHubSpotContactWithAnEmailTheHubRefusesSyncsItsOtherFieldsAndStaysEditable() {
        String last = surname("HubSpot");
        // HubSpot takes it (anything@anything.anything); the API does not (two dots in a row)
        String bad = "ann.." + last.toLowerCase() + "@example.com";
        String id = String.valueOf(HS.create(Map.of("email", bad, "firstname", "Ann", "lastname", last,
                "phone", "+1 415 555 0122", "company", "Typo Inc")).get("id"));

        JsonNode hub = await().atMost(PATIENCE).until(() -> hubByName(last), Objects::nonNull);
        assertThat(hub.get("email").isNull()).as("the email left out: %s", hub).isTrue();
        assertThat(hub.get("company").asText()).isEqualTo("Typo Inc");
        assertThat(hub.get("phone").asText()).isEqualTo("+14155550122");
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(crm1ByName(last)).isPresent()
                .get().satisfies(record -> assertThat(record).containsEntry("Company", "Typo Inc")));
        JsonNode entry = onlyEntry("hubspot", id, "email");
        assertThat(entry.get("remote_value").asText()).isEqualTo("\"" + bad + "\"");
        assertThat(entry.get("reason").asText()).contains("is not a valid email address");

        Http.Reply patch = api.patch("/api/contacts/" + hub.get("id").asText(), "{\"company\":\"Fixed Inc\"}",
                "Content-Type", "application/merge-patch+json");
        assertThat(patch.status()).as(patch.body()).isEqualTo(200);
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(HS.find(id).orElseThrow().toString()).contains("Fixed Inc"));
        assertThat(entries("hubspot", id)).hasSize(1);
        assertAppliedWithoutDeadLetter("hubspot", id);
    }

    @Test
    void aPolledRecordWithAnOverLongFirstNameAndABadPhoneSyncsItsOtherFieldsWithoutADeadLetter() {
        String email = email("long-name");
        String longName = "A".repeat(300);
        String crmId = (String) CRM1.seed(Map.of("Email", email, "FirstName", longName, "LastName", "Longname",
                "Phone", "12", "Company", "Wide Names Ltd")).get("Id");

        JsonNode hub = await().atMost(PATIENCE).until(() -> hub(email), Objects::nonNull);
        assertThat(hub.get("lastName").asText()).isEqualTo("Longname");
        assertThat(hub.get("company").asText()).isEqualTo("Wide Names Ltd");
        assertThat(hub.get("firstName").isNull()).isTrue();
        assertThat(hub.get("phone").isNull()).isTrue();
        Map<String, Object> person = await().atMost(PATIENCE).until(() -> PD.findByEmail(email).stream().findFirst(),
                Optional::isPresent).orElseThrow();
        assertThat(person.toString()).contains("Longname");
        JsonNode name = onlyEntry("crm1", crmId, "firstName");
        assertThat(name.get("reason").asText()).isEqualTo("is 300 characters long; at most 255 are allowed");
        assertThat(name.get("remote_value").asText()).startsWith("\"AAAA").contains("(300 characters)").hasSizeLessThan(160);
        assertThat(onlyEntry("crm1", crmId, "phone").get("reason").asText()).contains("'12' is not a valid phone number");

        // later polls read it again (the poll's overlap, a change of another field): still one entry per value
        CRM1.update(crmId, Map.of("Title", "Stretcher"));
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(hub(email).get("title").asText()).isEqualTo("Stretcher"));
        assertThat(entries("crm1", crmId)).hasSize(2);
        assertAppliedWithoutDeadLetter("crm1", crmId);
        Http.Reply patch = api.patch("/api/contacts/" + hub.get("id").asText(), "{\"firstName\":\"Alexandra\"}",
                "Content-Type", "application/merge-patch+json");
        assertThat(patch.status()).as(patch.body()).isEqualTo(200);
    }

    @Test
    void overLongIdsOnThePipedriveWebhookAnswerAProblemAndStoreNothing() throws Exception {
        long inbox = count("SELECT COUNT(*) FROM inbox");
        String auth = basic(HOOK_USER, HOOK_PASSWORD);
        String longEventId = "e".repeat(600);

        Http.Reply eventId = hooks.post("/webhooks/pipedrive", event("change", longEventId, "42", null), "Authorization", auth);
        Http.Reply entityId = hooks.post("/webhooks/pipedrive", event("change", UUID.randomUUID().toString(), "9".repeat(300),
                null), "Authorization", auth);
        Http.Reply survivor = hooks.post("/webhooks/pipedrive", event("delete", UUID.randomUUID().toString(), "42",
                "7".repeat(400)), "Authorization", auth);

        assertProblem(eventId, "#/meta/id");
        assertProblem(entityId, "#/meta/entity_id");
        assertProblem(survivor, "#/meta/merged_to_id");
        assertThat(count("SELECT COUNT(*) FROM inbox")).isEqualTo(inbox);
        JsonNode entry = onlyEntry("pipedrive", "e".repeat(254) + "…", "meta.id");
        assertThat(entry.get("reason").asText()).isEqualTo("is 600 characters long; the hub keeps ids of at most 255");
        assertThat(entry.get("contact_id").isNull()).isTrue();

        // Pipedrive retries the refused event: refused again, still one entry
        assertProblem(hooks.post("/webhooks/pipedrive", event("change", longEventId, "42", null), "Authorization", auth),
                "#/meta/id");
        assertThat(entries("pipedrive", "e".repeat(254) + "…")).hasSize(1);
    }

    @Test
    void overLongObjectIdsOnTheHubSpotWebhookAreRefusedAndTheirBatchKeepsItsValidEvents() throws Exception {
        long inbox = count("SELECT COUNT(*) FROM inbox");
        String longId = "8".repeat(600);
        String alone = "[{\"eventId\":700001,\"subscriptionType\":\"contact.creation\",\"objectId\":\"" + longId
                + "\",\"occurredAt\":1}]";

        Http.Reply refused = signed(alone);

        assertProblem(refused, "#/0/objectId");
        assertThat(count("SELECT COUNT(*) FROM inbox")).isEqualTo(inbox);

        String batch = "[{\"eventId\":700002,\"subscriptionType\":\"contact.propertyChange\",\"objectId\":424242,"
                + "\"propertyName\":\"firstname\",\"propertyValue\":\"Val\",\"occurredAt\":2},"
                + "{\"eventId\":700003,\"subscriptionType\":\"contact.creation\",\"objectId\":\"" + longId + "\",\"occurredAt\":3},"
                + "{\"eventId\":700004,\"subscriptionType\":\"contact.merge\",\"objectId\":434343,\"primaryObjectId\":\""
                + longId + "\",\"mergedObjectIds\":[434343],\"occurredAt\":4}]";
        Http.Reply mixed = signed(batch);

        assertThat(mixed.status()).as(mixed.body()).isEqualTo(200);
        assertThat(mixed.json().get("new").asInt()).isEqualTo(1);
        assertThat(mixed.json().get("refused").asInt()).isEqualTo(2);
        assertThat(jdbc.queryForList("SELECT external_id FROM inbox WHERE idempotency_key LIKE 'hubspot:event:70000%'",
                String.class)).containsExactly("424242");
        assertThat(count("SELECT COUNT(*) FROM inbox")).isEqualTo(inbox + 1);
        JsonNode entry = onlyEntry("hubspot", "8".repeat(254) + "…", "objectId");
        assertThat(entry.get("reason").asText()).isEqualTo("is 600 characters long; the hub keeps ids of at most 255");
        assertThat(entries("hubspot", "8".repeat(254) + "…")).extracting(e -> e.get("field").asText())
                .containsExactlyInAnyOrder("objectId", "primaryObjectId");
    }

    @Test
    void aPolledRecordWhoseIdIsTooLongIsSkippedVisiblyAndThePageMovesOnAndAValueItsMappingCannotConvertIsLeftOut() {
        String email = email("listed");
        String longId = "L".repeat(300);
        Instant at = Instant.parse("2026-11-20T09:00:00Z");
        CRM2.page.set(List.of(
                Map.of("Id", "ok-1", "Email", email, "Name", "Lia Listed", "Birthday", "1990-05-17", "Status", "Hot",
                        "LastModified", at.toString()),
                Map.of("Id", longId, "Email", email("too-long"), "Name", "Tim Toolong",
                        "LastModified", at.plusSeconds(1).toString())));

        poller.poll("crm2", "contact");
        poller.poll("crm2", "contact");

        JsonNode hub = await().atMost(PATIENCE).until(() -> hub(email), Objects::nonNull);
        assertThat(hub.get("lastName").asText()).isEqualTo("Listed");
        // a date in another format than the mapping's is left out; the record's other values are taken
        assertThat(hub.get("custom").get("status").asText()).isEqualTo("hot");
        assertThat(hub.get("custom").has("birthday")).isFalse();
        JsonNode birthday = onlyEntry("crm2", "ok-1", "custom.birthday");
        assertThat(birthday.get("remote_value").asText()).isEqualTo("\"1990-05-17\"");
        assertThat(birthday.get("reason").asText()).startsWith("mappings/crm2-contact.json cannot convert Birthday: ");
        assertThat(count("SELECT COUNT(*) FROM inbox WHERE source_system = 'crm2' AND external_id = 'ok-1'")).isEqualTo(1);
        assertThat(count("SELECT COUNT(*) FROM inbox WHERE source_system = 'crm2' AND LENGTH(external_id) > 255")).isZero();
        assertThat(jdbc.queryForObject("SELECT modified_at FROM sync_cursor WHERE system = 'crm2'", java.time.OffsetDateTime.class)
                .toInstant()).as("the cursor moved past the skipped record").isEqualTo(at.plusSeconds(1));
        JsonNode entry = onlyEntry("crm2", "L".repeat(254) + "…", "id");
        assertThat(entry.get("reason").asText()).isEqualTo("is 300 characters long; the hub keeps ids of at most 255");

        // a sync run reads the same listing: the record is skipped and counted as failed, the run completes
        Http.Reply started = api.post("/api/sync/crm2/runs", "{\"type\":\"initial\"}");
        assertThat(started.status()).as(started.body()).isEqualTo(202);
        String run = started.json().get("id").asText();
        JsonNode done = await().atMost(PATIENCE).until(() -> api.get("/api/sync/runs/" + run).json(),
                r -> r.get("state").asText().equals("completed"));
        assertThat(done.get("fetched").asInt()).isEqualTo(2);
        assertThat(done.get("failed").asInt()).isEqualTo(1);
        assertThat(done.get("errors").get(0).get("error").asText()).contains("300 characters long").contains("data-quality");
        assertThat(entries("crm2", "L".repeat(254) + "…")).hasSize(1);
    }

    // helpers

    /**
     * Every change of the record applied (none failed), and none of them in dead letters; the echo of the
     * test's last write may still be on its way in when this is called.
     */
    void assertAppliedWithoutDeadLetter(String system, String externalId) {
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(jdbc.queryForList("SELECT DISTINCT state FROM inbox "
                + "WHERE source_system = ? AND external_id = ?", String.class, system, externalId)).containsExactly("done"));
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM dead_letter d JOIN inbox i ON i.id = d.inbox_id "
                + "WHERE i.source_system = ? AND i.external_id = ?", Long.class, system, externalId)).isZero();
    }

    void assertProblem(Http.Reply reply, String pointer) {
        assertThat(reply.status()).as(reply.body()).isEqualTo(400);
        assertThat(reply.header("Content-Type")).startsWith("application/problem+json");
        assertThat(reply.json().get("errors").get(0).get("pointer").asText()).isEqualTo(pointer);
    }

    Http.Reply signed(String body) throws Exception {
        String url = "http://127.0.0.1:" + port + "/webhooks/hubspot";
        String now = Long.toString(System.currentTimeMillis());
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(SECRET.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        String signature = Base64.getEncoder().encodeToString(mac.doFinal(("POST" + url + body + now)
                .getBytes(StandardCharsets.UTF_8)));
        return hooks.post("/webhooks/hubspot", body, "X-HubSpot-Signature-v3", signature, "X-HubSpot-Request-Timestamp", now);
    }

    /** A v2 person event as Pipedrive sends it. */
    static String event(String action, String eventId, String personId, String mergedTo) throws Exception {
        Map<String, Object> meta = new java.util.LinkedHashMap<>(Map.of("action", action, "entity", "person",
                "entity_id", personId, "id", eventId, "timestamp", "2026-05-20T20:49:32Z", "version", "2.0"));
        if (mergedTo != null) {
            meta.put("merged_to_id", mergedTo);
        }
        return JSON.writeValueAsString(Map.of("meta", meta, "data", Map.of("id", 42, "name", "In Valid",
                "emails", List.of(primary("in.valid@example.com")), "update_time", "2026-05-20T20:49:32Z"), "previous", Map.of()));
    }

    static Map<String, Object> primary(String value) {
        return Map.of("value", value, "primary", true);
    }

    static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    static String surname(String system) {
        return system + UUID.randomUUID().toString().replaceAll("[^a-f]", "").substring(0, 6);
    }

    /** The data-quality entries of one record of a system, as /api/conflicts lists them. */
    List<JsonNode> entries(String system, String externalId) {
        List<JsonNode> found = new ArrayList<>();
        for (JsonNode item : api.get("/api/conflicts?kind=data-quality").json().get("items")) {
            assertThat(item.get("kind").asText()).isEqualTo("data-quality");
            if (item.get("remote_system").asText().equals(system) && item.get("external_id").asText().equals(externalId)) {
                found.add(item);
            }
        }
        return found;
    }

    JsonNode onlyEntry(String system, String externalId, String field) {
        List<JsonNode> found = entries(system, externalId).stream().filter(e -> e.get("field").asText().equals(field)).toList();
        assertThat(found).as("data-quality entries of %s %s %s", system, externalId, field).hasSize(1);
        return found.get(0);
    }

    JsonNode hub(String email) {
        JsonNode items = api.get("/api/contacts?email=" + email).json().get("items");
        return items.size() == 0 ? null : items.get(0);
    }

    JsonNode hubByName(String lastName) {
        JsonNode items = api.get("/api/contacts?q=" + lastName).json().get("items");
        assertThat(items.size()).as("hub contacts named %s", lastName).isLessThanOrEqualTo(1);
        return items.size() == 0 ? null : items.get(0);
    }

    Optional<Map<String, Object>> crm1ByName(String lastName) {
        return CRM1.live().stream().filter(r -> lastName.equals(r.get("LastName"))).findFirst();
    }

    long count(String sql) {
        return jdbc.queryForObject(sql, Long.class);
    }

    /**
     * A generic REST CRM whose listing is what the test sets: every list answers {@link #page}; finds
     * answer nothing; writes are taken as they come, with an id.
     */
    static final class ListingCrm {
        final AtomicReference<List<Map<String, Object>>> page = new AtomicReference<>(List.of());
        private final AtomicInteger ids = new AtomicInteger();
        private final HttpServer server;

        ListingCrm() {
            try {
                server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            server.createContext("/", this::handle);
            server.start();
        }

        String baseUrl() {
            return "http://127.0.0.1:" + server.getAddress().getPort();
        }

        void stop() {
            server.stop(0);
        }

        private void handle(HttpExchange exchange) throws IOException {
            String query = Objects.toString(exchange.getRequestURI().getQuery(), "");
            Object body;
            int status = 200;
            switch (exchange.getRequestMethod()) {
                case "GET" -> body = Map.of("records", query.contains("email=") ? List.of() : page.get());
                case "DELETE" -> body = Map.of();
                default -> {
                    Map<String, Object> record = new java.util.LinkedHashMap<>(
                            JSON.readValue(exchange.getRequestBody(), Map.class));
                    record.putIfAbsent("Id", "w-" + ids.incrementAndGet());
                    record.put("LastModified", Instant.now().toString());
                    body = record;
                    status = exchange.getRequestMethod().equals("POST") ? 201 : 200;
                }
            }
            byte[] bytes = JSON.writeValueAsBytes(body);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(status, bytes.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }
    }
}
