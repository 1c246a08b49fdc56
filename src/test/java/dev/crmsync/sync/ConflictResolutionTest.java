package dev.crmsync.sync;

import static dev.crmsync.support.Simulated.PATIENCE;
import static dev.crmsync.support.Simulated.byEmail;
import static dev.crmsync.support.Simulated.email;
import static dev.crmsync.support.Simulated.liveIn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crmsync.sim.GenericCrmSimulator;
import dev.crmsync.support.Http;
import dev.crmsync.support.ServiceTest;
import dev.crmsync.support.Simulated;
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
 * POST /api/conflicts/{id}/resolve against the running service and two generic CRMs: the operator's
 * choice lands in the hub and, through the outbox, in both simulators; bad requests change nothing.
 */
@ServiceTest
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
class ConflictResolutionTest {

    static final GenericCrmSimulator CRM1 = GenericCrmSimulator.builder().token("token-crm1").build().start();
    static final GenericCrmSimulator CRM2 = GenericCrmSimulator.builder().token("token-crm2").build().start();

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        Simulated.rest(registry, "crm1", CRM1);
        Simulated.rest(registry, "crm2", CRM2);
        Simulated.fastSync(registry);
    }

    @AfterAll
    static void stop() {
        CRM1.stop();
        CRM2.stop();
    }

    @LocalServerPort
    int port;

    @Autowired
    JdbcTemplate jdbc;

    @Autowired
    CamelContext camel;

    Http api;

    @BeforeEach
    void client() {
        api = new Http(port).withHeader("X-Api-Key", ServiceTest.API_KEY);
    }

    @AfterEach
    void deliver() throws Exception {
        camel.getRouteController().startRoute("crm1-deliver");
        camel.getRouteController().startRoute("crm2-deliver");
    }

    /** One person whose title the API and crm1 changed at once; crm1 changed it last, so it won. */
    record TitleConflict(long id, String contactId, String email, String crm1Id, String crm2Id) {
    }

    TitleConflict titleConflict(String who) throws Exception {
        String email = email(who);
        String crm1Id = (String) CRM1.seed(Map.of("Email", email, "FirstName", "Dorothy", "LastName", "Vaughan",
                "Title", "Computer")).get("Id");
        String crm2Id = (String) liveIn(CRM2, email).get("Id");
        String contactId = hub(email).get("id").asText();
        await().atMost(PATIENCE).until(() -> jdbc.queryForObject("SELECT COUNT(*) FROM contact_link WHERE contact_id = ? "
                + "AND synced_values IS NOT NULL", Long.class, contactId) == 2);
        camel.getRouteController().stopRoute("crm1-deliver");
        camel.getRouteController().stopRoute("crm2-deliver");

        assertThat(api.patch("/api/contacts/" + contactId, "{\"title\":\"Supervisor\"}").status()).isEqualTo(200);
        CRM1.update(crm1Id, Map.of("Title", "Programmer"));

        Long id = await().atMost(PATIENCE).until(() -> jdbc.queryForList("SELECT id FROM conflict WHERE contact_id = ? "
                        + "AND field = 'title' AND state = 'open'", Long.class, contactId).stream().findFirst().orElse(null),
                java.util.Objects::nonNull);
        camel.getRouteController().startRoute("crm1-deliver");
        camel.getRouteController().startRoute("crm2-deliver");
        Map<String, Object> conflict = jdbc.queryForMap("SELECT * FROM conflict WHERE id = ?", id);
        assertThat(conflict).containsEntry("hub_system", "api").containsEntry("remote_system", "crm1")
                .containsEntry("hub_value", "\"Supervisor\"").containsEntry("remote_value", "\"Programmer\"")
                .containsEntry("winner", "crm1");
        awaitTitle(crm1Id, crm2Id, "Programmer");
        return new TitleConflict(id, contactId, email, crm1Id, crm2Id);
    }

    @Test
    void theLosingSideNamedAsWinnerHasItsValueWrittenToTheHubAndEverySystem() throws Exception {
        TitleConflict conflict = titleConflict("winner");

        Http.Reply reply = api.post("/api/conflicts/" + conflict.id() + "/resolve", "{\"winner\":\"api\"}");

        assertThat(reply.status()).as(reply.toString()).isEqualTo(200);
        assertThat(reply.json().get("state").asText()).isEqualTo("resolved");
        assertThat(reply.json().get("winner").asText()).isEqualTo("api");
        assertThat(reply.json().get("resolved_by").asText()).isEqualTo("api-key");
        assertThat(reply.json().get("resolved_at").isNull()).isFalse();
        assertThat(hub(conflict.email()).get("title").asText()).isEqualTo("Supervisor");
        awaitTitle(conflict.crm1Id(), conflict.crm2Id(), "Supervisor");
        JsonNode last = lastHistory(conflict.contactId());
        assertThat(last.get("source").asText()).isEqualTo("api");
        assertThat(last.get("actor").asText()).isEqualTo("api-key");
        assertThat(last.get("changes").get("title").get("from").asText()).isEqualTo("Programmer");
        assertThat(last.get("changes").get("title").get("to").asText()).isEqualTo("Supervisor");
    }

    @Test
    void aValueOfTheOperatorsOwnIsWrittenToTheHubAndEverySystem() throws Exception {
        TitleConflict conflict = titleConflict("value");

        Http.Reply reply = api.post("/api/conflicts/" + conflict.id() + "/resolve", "{\"value\":\"  Head of Computing \"}");

        assertThat(reply.status()).as(reply.toString()).isEqualTo(200);
        assertThat(reply.json().get("winner").asText()).isEqualTo("value");
        assertThat(hub(conflict.email()).get("title").asText()).as("normalised like the contacts API")
                .isEqualTo("Head of Computing");
        awaitTitle(conflict.crm1Id(), conflict.crm2Id(), "Head of Computing");
        assertThat(lastHistory(conflict.contactId()).get("actor").asText()).isEqualTo("api-key");
    }

    @Test
    void dismissingKeepsWhatThePolicyDecidedAndChangesNoContact() throws Exception {
        TitleConflict conflict = titleConflict("dismiss");
        long version = hub(conflict.email()).get("version").asLong();

        Http.Reply reply = api.post("/api/conflicts/" + conflict.id() + "/resolve", "{\"action\":\"dismiss\"}");

        assertThat(reply.status()).as(reply.toString()).isEqualTo(200);
        assertThat(reply.json().get("state").asText()).isEqualTo("dismissed");
        assertThat(reply.json().get("winner").asText()).as("the policy's winner stays").isEqualTo("crm1");
        assertThat(reply.json().get("resolved_by").asText()).isEqualTo("api-key");
        assertThat(hub(conflict.email()).get("version").asLong()).isEqualTo(version);
        assertThat(hub(conflict.email()).get("title").asText()).isEqualTo("Programmer");
        assertThat(api.get("/api/conflicts?state=open").json().get("items").findValuesAsText("id"))
                .doesNotContain(Long.toString(conflict.id()));
        assertThat(api.get("/api/conflicts?state=dismissed").json().get("items").findValuesAsText("id"))
                .contains(Long.toString(conflict.id()));
    }

    @Test
    void aConflictAlreadyResolvedIsRefusedWith409AndKeepsItsResolution() throws Exception {
        TitleConflict conflict = titleConflict("twice");
        assertThat(api.post("/api/conflicts/" + conflict.id() + "/resolve", "{\"winner\":\"crm1\"}").status()).isEqualTo(200);

        Http.Reply again = api.post("/api/conflicts/" + conflict.id() + "/resolve", "{\"winner\":\"api\"}");

        assertProblem(again, 409, "is already resolved");
        assertThat(again.json().get("state").asText()).isEqualTo("resolved");
        assertThat(jdbc.queryForObject("SELECT winner FROM conflict WHERE id = ?", String.class, conflict.id())).isEqualTo("crm1");
        assertThat(hub(conflict.email()).get("title").asText()).isEqualTo("Programmer");
    }

    @Test
    void anUnknownConflictIsA404() {
        assertProblem(api.post("/api/conflicts/999999999/resolve", "{\"action\":\"dismiss\"}"), 404, "no conflict has id 999999999");
        assertProblem(api.post("/api/conflicts/abc/resolve", "{\"action\":\"dismiss\"}"), 404, "no conflict has id abc");
    }

    @Test
    void badResolutionsAreRefusedWithAProblemAndChangeNothing() throws Exception {
        TitleConflict conflict = titleConflict("bad");
        String path = "/api/conflicts/" + conflict.id() + "/resolve";
        long version = hub(conflict.email()).get("version").asLong();

        assertProblem(api.post(path, "{\"winner\":\"crm2\"}"), 400, "\"api\" or \"crm1\", not \"crm2\"", "#/winner");
        assertProblem(api.post(path, "{\"value\":42}"), 400, "as title: must be a string, not a number", "#/value");
        assertProblem(api.post(path, "{\"value\":\"" + "x".repeat(300) + "\"}"), 400, "at most 255", "#/value");
        assertProblem(api.post(path, "{\"winner\":"), 400, "not valid JSON");
        assertProblem(api.post(path, "{\"winner\":\"api\"} trailing"), 400, "not valid JSON");
        assertProblem(api.post(path, "{\"winner\":\"api\",\"winner\":\"crm1\"}"), 400, "Duplicate field");
        assertProblem(api.post(path, ""), 400, "the request body is empty");
        assertProblem(api.post(path, "[\"api\"]"), 400, "must be a JSON object");
        assertProblem(api.post(path, "{}"), 400, "send one of winner", "#/winner");
        assertProblem(api.post(path, "{\"winner\":\"api\",\"value\":\"x\"}"), 400, "only one of", "#/value");
        assertProblem(api.post(path, "{\"pick\":\"api\"}"), 400, "unknown field", "#/pick");
        assertProblem(api.post(path, "{\"winner\":7}"), 400, "non-blank string", "#/winner");
        assertProblem(api.post(path, "{\"action\":\"ignore\"}"), 400, "dismiss or merge", "#/action");
        assertProblem(api.post(path, "{\"action\":\"merge\"}"), 400, "for possible duplicates", "#/action");

        assertThat(jdbc.queryForObject("SELECT state FROM conflict WHERE id = ?", String.class, conflict.id())).isEqualTo("open");
        assertThat(hub(conflict.email()).get("version").asLong()).isEqualTo(version);
        assertThat(hub(conflict.email()).get("title").asText()).isEqualTo("Programmer");

        // once the contact is deleted, only dismissing is left
        assertThat(api.delete("/api/contacts/" + conflict.contactId()).status()).isEqualTo(204);
        assertProblem(api.post(path, "{\"winner\":\"api\"}"), 409, "was deleted; dismiss the conflict");
        assertThat(api.post(path, "{\"action\":\"dismiss\"}").status()).isEqualTo(200);
    }

    @Test
    void mergingAPossibleDuplicateMakesOneContactAndRemovesTheSecondRecordFromBothCrms() {
        String first = email("twin-a");
        String second = email("twin-b");
        CRM1.seed(Map.of("Email", first, "FirstName", "Mary", "LastName", "Jackson", "Company", "NACA"));
        String firstId = hubEventually(first).get("id").asText();
        String secondCrm1 = (String) CRM1.seed(Map.of("Email", second, "FirstName", "Mary", "LastName", "Jackson",
                "Company", "NACA", "Title", "Engineer")).get("Id");
        String secondId = hubEventually(second).get("id").asText();
        String secondCrm2 = (String) liveIn(CRM2, second).get("Id");
        liveIn(CRM2, first);
        Map<String, Object> conflict = jdbc.queryForMap("SELECT * FROM conflict WHERE kind = 'possible-duplicate' "
                + "AND contact_id = ?", secondId);
        assertThat(conflict).containsEntry("other_contact_id", firstId).containsEntry("state", "open");
        await().atMost(PATIENCE).until(() -> jdbc.queryForObject("SELECT COUNT(*) FROM contact_link WHERE contact_id IN (?, ?)",
                Long.class, firstId, secondId) == 4);

        Http.Reply reply = api.post("/api/conflicts/" + conflict.get("id") + "/resolve", "{\"action\":\"merge\"}");

        assertThat(reply.status()).as(reply.toString()).isEqualTo(200);
        assertThat(reply.json().get("state").asText()).isEqualTo("resolved");
        assertThat(reply.json().get("winner").asText()).as("the survivor").isEqualTo(firstId);
        Http.Reply moved = api.get("/api/contacts/" + secondId);
        assertThat(moved.status()).isEqualTo(301);
        assertThat(moved.header("Location")).isEqualTo("/api/contacts/" + firstId);
        assertThat(hub(first).get("title").asText()).as("filled from the merged contact").isEqualTo("Engineer");
        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(CRM1.find(secondCrm1).orElseThrow()).containsEntry("Deleted", true);
            assertThat(CRM2.find(secondCrm2).orElseThrow()).containsEntry("Deleted", true);
            assertThat(byEmail(CRM1, first).orElseThrow()).containsEntry("Title", "Engineer").containsEntry("Deleted", false);
            assertThat(byEmail(CRM2, first).orElseThrow()).containsEntry("Title", "Engineer").containsEntry("Deleted", false);
        });
        assertThat(lastHistory(firstId).get("actor").asText()).isEqualTo("api-key");
    }

    @Test
    void aPossibleDuplicateTakesOnlyMergeOrDismiss() {
        String first = email("pair-a");
        String second = email("pair-b");
        CRM1.seed(Map.of("Email", first, "FirstName", "Christine", "LastName", "Darden", "Company", "NASA"));
        String firstId = hubEventually(first).get("id").asText();
        CRM1.seed(Map.of("Email", second, "FirstName", "Christine", "LastName", "Darden", "Company", "NASA"));
        String secondId = hubEventually(second).get("id").asText();
        long id = jdbc.queryForObject("SELECT id FROM conflict WHERE kind = 'possible-duplicate' AND contact_id = ?",
                Long.class, secondId);
        String path = "/api/conflicts/" + id + "/resolve";

        assertProblem(api.post(path, "{\"winner\":\"crm1\"}"), 400, "resolved with {\"action\":\"merge\"}", "#/winner");
        assertProblem(api.post(path, "{\"value\":\"x\"}"), 400, "resolved with {\"action\":\"merge\"}", "#/value");
        assertProblem(api.post(path, "{\"action\":\"merge\",\"survivor\":\"nobody\"}"), 400, "not \"nobody\"", "#/survivor");
        assertProblem(api.post(path, "{\"action\":\"dismiss\",\"survivor\":\"" + firstId + "\"}"), 400, "goes with",
                "#/survivor");
        assertThat(hub(first)).isNotNull();
        assertThat(hub(second)).isNotNull();

        Http.Reply dismissed = api.post(path, "{\"action\":\"dismiss\"}");

        assertThat(dismissed.status()).isEqualTo(200);
        assertThat(dismissed.json().get("state").asText()).isEqualTo("dismissed");
        assertThat(hub(first).get("id").asText()).isEqualTo(firstId);
        assertThat(hub(second).get("id").asText()).isEqualTo(secondId);
    }

    private void awaitTitle(String crm1Id, String crm2Id, String title) {
        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(CRM1.find(crm1Id).orElseThrow()).containsEntry("Title", title);
            assertThat(CRM2.find(crm2Id).orElseThrow()).containsEntry("Title", title);
        });
    }

    private JsonNode hub(String email) {
        JsonNode items = api.get("/api/contacts?email=" + email).json().get("items");
        assertThat(items.size()).as("live hub contacts with %s", email).isLessThanOrEqualTo(1);
        return items.size() == 0 ? null : items.get(0);
    }

    private JsonNode hubEventually(String email) {
        return await().atMost(PATIENCE).until(() -> hub(email), java.util.Objects::nonNull);
    }

    private JsonNode lastHistory(String contactId) {
        JsonNode items = api.get("/api/contacts/" + contactId + "/history").json().get("items");
        return items.get(items.size() - 1);
    }

    static void assertProblem(Http.Reply reply, int status, String detail, String... pointers) {
        assertThat(reply.status()).as(reply.toString()).isEqualTo(status);
        assertThat(reply.header("Content-Type")).startsWith("application/problem+json");
        assertThat(reply.json().get("status").asInt()).isEqualTo(status);
        assertThat(reply.json().get("detail").asText()).contains(detail);
        if (pointers.length > 0) {
            assertThat(reply.json().get("errors").findValuesAsText("pointer")).containsExactly(pointers);
        }
    }
}
