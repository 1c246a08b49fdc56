package dev.crmsync.erasure;

import static dev.crmsync.support.Simulated.PATIENCE;
import static dev.crmsync.support.Simulated.email;
import static dev.crmsync.support.Simulated.liveIn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crmsync.sim.GenericCrmSimulator;
import dev.crmsync.support.Http;
import dev.crmsync.support.ServiceTest;
import dev.crmsync.support.TwoCrms;
import dev.crmsync.support.Simulated;
import dev.crmsync.sync.Inbox;
import dev.crmsync.sync.InboxProcessor;
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
 * Erasure of a person and purge of tombstones against the running service and two generic CRMs:
 * what is left afterwards is looked for in every text column of every table and in both simulators.
 * Run on H2 and on PostgreSQL by the subclasses; each class has its own simulators and service.
 */
@ServiceTest
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
abstract class ErasureTests {

    final GenericCrmSimulator crm1;
    final GenericCrmSimulator crm2;

    ErasureTests(TwoCrms crms) {
        this.crm1 = crms.crm1();
        this.crm2 = crms.crm2();
    }

    static void providers(DynamicPropertyRegistry registry, TwoCrms crms) {
        crms.wire(registry);
        registry.add("crmsync.sync.erasure-period", () -> "200");
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
    ObjectMapper json;

    Http api;

    @BeforeEach
    void client() {
        api = new Http(port).withHeader("X-Api-Key", ServiceTest.API_KEY);
    }

    @AfterEach
    void clearFaults() throws Exception {
        crm1.faults().clear();
        crm2.faults().clear();
        camel.getRouteController().startRoute("crm2-deliver");
    }

    /** A person made in crm1 and synced to crm2 and the hub, with something in every table about them. */
    record Person(String contactId, String email, String lastName, String phone, String crm1Id, String crm2Id) {
    }

    Person person(String who) {
        String email = email(who);
        String lastName = "Zq" + UUID.randomUUID().toString().substring(0, 8);
        String phone = "+1415555" + String.format("%04d", (int) (Math.random() * 9000) + 1000);
        String crm1Id = (String) crm1.seed(Map.of("Email", email, "FirstName", "Erin", "LastName", lastName,
                "Phone", phone, "Company", "Forgetful Inc")).get("Id");
        String crm2Id = (String) liveIn(crm2, email).get("Id");
        String contactId = hub(email).get("id").asText();
        assertThat(api.patch("/api/contacts/" + contactId, "{\"title\":\"Data Subject\"}").status()).isEqualTo(200);
        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(crm1.find(crm1Id).orElseThrow()).containsEntry("Title", "Data Subject");
            assertThat(crm2.find(crm2Id).orElseThrow()).containsEntry("Title", "Data Subject");
        });
        return new Person(contactId, email, lastName, phone, crm1Id, crm2Id);
    }

    @Test
    void erasingAPersonLeavesNoTraceInAnyTableNorInEitherCrmAndAuditsOnlyCounts() {
        Person person = person("erase");
        assertThat(traces(person)).as("the person is in the store before").isNotEmpty();

        Http.Reply accepted = api.delete("/api/contacts/" + person.contactId() + "?purge=true");

        assertThat(accepted.status()).as(accepted.toString()).isEqualTo(202);
        String location = accepted.header("Location");
        assertThat(location).startsWith("/api/erasures/");
        assertThat(accepted.json().get("kind").asText()).isEqualTo("contact");
        assertThat(accepted.json().get("contactId").asText()).isEqualTo(person.contactId());
        assertThat(accepted.json().get("requestedBy").asText()).isEqualTo("api-key");
        JsonNode erasure = completed(location);

        assertThat(traces(person)).as("columns still holding the person").isEmpty();
        assertThat(crm1.find(person.crm1Id())).isEmpty();
        assertThat(crm2.find(person.crm2Id())).isEmpty();
        assertThat(crm1.records().toString() + crm2.records()).doesNotContain(person.email(), person.lastName(), person.phone());
        JsonNode counts = erasure.get("counts");
        assertThat(counts.get("rows").get("contact").asInt()).isEqualTo(1);
        assertThat(counts.get("rows").get("contact_link").asInt()).isEqualTo(2);
        assertThat(counts.get("rows").get("contact_history").asInt()).as("create, update, delete").isEqualTo(3);
        assertThat(counts.get("rows").get("inbox").asInt()).isPositive();
        assertThat(counts.get("rows").get("outbox").asInt()).isPositive();
        assertThat(counts.get("erasedRecords").asInt()).isEqualTo(2);
        assertThat(counts.get("systems").get("crm1").get("delivered").asInt()).isEqualTo(1);
        assertThat(counts.get("systems").get("crm2").get("delivered").asInt()).isEqualTo(1);
        assertThat(erasure.get("requestedBy").asText()).isEqualTo("api-key");
        assertThat(erasure.has("contactId")).as("the id goes with the person").isFalse();
        assertThat(erasure.get("completedAt").isNull()).isFalse();
        // whoever knows the id can still learn that the person was erased
        assertThat(api.get("/api/erasures?contactId=" + person.contactId()).json().get("items").findValuesAsText("id"))
                .containsExactly(erasure.get("id").asText());
        Http.Reply again = api.delete("/api/contacts/" + person.contactId() + "?purge=true");
        assertThat(again.status()).isEqualTo(410);
        assertThat(again.json().get("erasure").asText()).isEqualTo(location);
    }

    @Test
    void aLateChangeOfAnErasedRecordDoesNotBringThePersonBack() throws Exception {
        Person person = person("late");
        completed(api.delete("/api/contacts/" + person.contactId() + "?purge=true").header("Location"));

        // crm1 sends a change of the record it had before the erasure (a delayed webhook, a slow poll)
        Map<String, Object> stale = new HashMap<>(Map.of("Id", person.crm1Id(), "Email", person.email(),
                "LastName", person.lastName(), "Phone", person.phone(), "LastModified", Instant.now().toString(),
                "Deleted", false));
        String key = "late-" + UUID.randomUUID();
        inbox.accept(key, "crm1", "contact", person.crm1Id(), "update", json.writeValueAsString(stale), Instant.now());
        processor.drain();

        assertThat(hub(person.email())).isNull();
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM contact WHERE LOWER(email) = ?", Long.class, person.email()))
                .isZero();
        assertThat(jdbc.queryForMap("SELECT state, payload FROM inbox WHERE idempotency_key = ?", key))
                .as("handled, and what it said of the person dropped").containsEntry("state", "done").containsEntry("payload", null);
        Thread.sleep(1500);
        assertThat(crm2.records().toString()).doesNotContain(person.email());
        assertThat(personalData(person)).isEmpty();

        // a new record with the same email is a new person: the guard is per erased record, not per email
        crm1.seed(Map.of("Email", person.email(), "LastName", "Newcomer"));
        assertThat(await().atMost(PATIENCE).until(() -> hub(person.email()), Objects::nonNull).get("id").asText())
                .isNotEqualTo(person.contactId());
    }

    @Test
    void anErasureWaitsForEverySystemAndAuditsADeleteThatEndedDead() {
        Person person = person("refused");
        crm2.faults().failNext(100, 503, "DELETE", "/api/contacts/");

        String location = api.delete("/api/contacts/" + person.contactId() + "?purge=true").header("Location");

        assertThat(api.get(location).json().get("state").asText()).isEqualTo("pending");
        JsonNode erasure = completed(location);
        assertThat(erasure.get("counts").get("systems").get("crm2").get("dead").asInt()).isEqualTo(1);
        assertThat(erasure.get("counts").get("systems").get("crm1").get("delivered").asInt()).isEqualTo(1);
        assertThat(erasure.get("counts").get("rows").get("dead_letter").asInt()).isEqualTo(1);
        assertThat(crm2.calls("DELETE /api/contacts/{id}")).as("retried before giving up").isGreaterThan(1);
        assertThat(crm1.find(person.crm1Id())).isEmpty();
        assertThat(crm2.find(person.crm2Id())).as("what the audit reports: crm2 still holds the record").isPresent();
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM dead_letter WHERE contact_id = ?", Long.class,
                person.contactId())).isZero();
        // crm2's polls keep reading the record it still holds: each read is ignored and its payload dropped
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(personalData(person)).isEmpty());
        assertThat(hub(person.email())).isNull();
    }

    @Test
    void erasingASurvivorAlsoErasesTheContactMergedIntoItWhoseOwnIdIsRefused() throws Exception {
        String first = email("merged-a");
        String second = email("merged-b");
        String a1 = (String) crm1.seed(Map.of("Email", first, "LastName", "Survivor")).get("Id");
        String b1 = (String) crm1.seed(Map.of("Email", second, "LastName", "Merged", "Title", "Twin")).get("Id");
        liveIn(crm2, first);
        liveIn(crm2, second);
        String survivor = await().atMost(PATIENCE).until(() -> hub(first), Objects::nonNull).get("id").asText();
        String loser = await().atMost(PATIENCE).until(() -> hub(second), Objects::nonNull).get("id").asText();
        // crm1 merged b1 into a1: b1 is gone there, and its merge reaches the hub
        crm1.erase(b1);
        inbox.accept("merge-" + UUID.randomUUID(), "crm1", "contact", a1, "merge",
                "{\"survivor\":\"" + a1 + "\",\"merged\":[\"" + b1 + "\"]}", Instant.now());
        processor.drain();

        Http.Reply refused = api.delete("/api/contacts/" + loser + "?purge=true");
        assertThat(refused.status()).as(refused.toString()).isEqualTo(409);
        assertThat(refused.json().get("mergedInto").asText()).isEqualTo(survivor);

        completed(api.delete("/api/contacts/" + survivor + "?purge=true").header("Location"));

        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM contact WHERE id IN (?, ?)", Long.class, survivor, loser)).isZero();
        assertThat(crm1.records().toString() + crm2.records()).doesNotContain(first, second);
        for (String needle : List.of(survivor, loser, first, second)) {
            assertThat(traces(needle)).as("columns holding %s", needle).isEmpty();
        }
    }

    @Test
    void badErasureRequestsAreRefusedAndEraseNothing() {
        String email = email("keep");
        String id = api.post("/api/contacts", "{\"email\":\"" + email + "\"}").json().get("id").asText();

        assertProblem(api.delete("/api/contacts/" + id + "?purge=yes"), 400, "purge: is true");
        assertProblem(api.delete("/api/contacts/no-such-contact?purge=true"), 404, "no contact has id no-such-contact");
        assertProblem(api.get("/api/erasures/no-such-erasure"), 404, "no erasure has id");
        assertProblem(api.get("/api/erasures?state=gone"), 400, "state: is pending or completed");
        assertProblem(api.get("/api/erasures?kind=all"), 400, "kind: is contact or tombstones");

        assertThat(hub(email).get("id").asText()).isEqualTo(id);
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM erasure WHERE contact_id = ?", Long.class, id)).isZero();
    }

    // ---- tombstones

    @Test
    void aTombstonePurgeRemovesOnlyTombstonesOlderThanAskedWithTheirRowsAndAuditsTheCount() throws Exception {
        String old = tombstone("old");
        String recent = tombstone("recent");
        String oldCrm1 = jdbc.queryForObject("SELECT external_id FROM contact_link WHERE contact_id = ? AND system = 'crm1'",
                String.class, old);
        age(old, 40);

        Http.Reply reply = api.post("/api/tombstones/purge?olderThan=P30D", "");

        assertThat(reply.status()).as(reply.toString()).isEqualTo(200);
        assertThat(reply.json().get("purged").asInt()).isEqualTo(1);
        JsonNode audit = api.get(reply.header("Location")).json();
        assertThat(audit.get("kind").asText()).isEqualTo("tombstones");
        assertThat(audit.get("state").asText()).isEqualTo("completed");
        assertThat(audit.get("olderThan").asText()).isEqualTo("P30D");
        assertThat(audit.get("requestedBy").asText()).isEqualTo("api-key");
        assertThat(audit.get("counts").get("rows").get("contact").asInt()).isEqualTo(1);
        assertThat(audit.get("counts").get("rows").get("contact_link").asInt()).isEqualTo(2);
        assertThat(audit.get("counts").get("rows").get("contact_history").asInt()).isEqualTo(2);
        for (String table : List.of("contact_history", "contact_link", "outbox")) {
            assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM " + table + " WHERE contact_id = ?", Long.class, old))
                    .as(table + " of the old tombstone").isZero();
            assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM " + table + " WHERE contact_id = ?", Long.class, recent))
                    .as(table + " of the recent one").isPositive();
        }
        assertThat(jdbc.queryForList("SELECT id FROM contact WHERE id IN (?, ?)", String.class, old, recent))
                .containsExactly(recent);
        assertThat(api.get("/api/contacts/" + recent).status()).isEqualTo(410);
        assertThat(api.get("/api/contacts/" + old).status()).isEqualTo(404);

        // deletes are authoritative: the purged tombstone's records stay ignored
        String revenant = email("revenant");
        inbox.accept("late-" + UUID.randomUUID(), "crm1", "contact", oldCrm1, "update", json.writeValueAsString(
                Map.of("Id", oldCrm1, "Email", revenant, "LastModified", Instant.now().toString())), Instant.now());
        processor.drain();
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM contact_link WHERE external_id = ? AND system = 'crm1'",
                Long.class, oldCrm1)).isZero();
        assertThat(hub(revenant)).isNull();
    }

    @Test
    void aTombstoneWhoseDeleteIsStillOnItsWayIsKeptUntilItSettles() throws Exception {
        camel.getRouteController().stopRoute("crm2-deliver");
        String waiting = tombstoneDeliveredTo("waiting", "crm1");
        age(waiting, 400);

        Http.Reply reply = api.post("/api/tombstones/purge?olderThan=P365D", "");

        assertThat(reply.status()).isEqualTo(200);
        assertThat(reply.json().get("purged").asInt()).isZero();
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM contact WHERE id = ?", Long.class, waiting)).isEqualTo(1);

        camel.getRouteController().startRoute("crm2-deliver");
        settled(waiting);
        assertThat(api.post("/api/tombstones/purge?olderThan=P365D", "").json().get("purged").asInt()).isEqualTo(1);
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM contact WHERE id = ?", Long.class, waiting)).isZero();
    }

    @Test
    void purgingATombstoneThatAnotherWasMergedIntoLeavesTheOtherWithoutADanglingPointer() throws Exception {
        String first = email("chain-a");
        String second = email("chain-b");
        String a1 = (String) crm1.seed(Map.of("Email", first, "LastName", "Kept")).get("Id");
        String b1 = (String) crm1.seed(Map.of("Email", second, "LastName", "Folded")).get("Id");
        liveIn(crm2, first);
        liveIn(crm2, second);
        String survivor = await().atMost(PATIENCE).until(() -> hub(first), Objects::nonNull).get("id").asText();
        String merged = await().atMost(PATIENCE).until(() -> hub(second), Objects::nonNull).get("id").asText();
        inbox.accept("merge-" + UUID.randomUUID(), "crm1", "contact", a1, "merge",
                "{\"survivor\":\"" + a1 + "\",\"merged\":[\"" + b1 + "\"]}", Instant.now());
        processor.drain();
        assertThat(api.delete("/api/contacts/" + survivor).status()).isEqualTo(204);
        settled(survivor);
        settled(merged);
        age(survivor, 800);

        Http.Reply reply = api.post("/api/tombstones/purge?olderThan=P730D", "");

        assertThat(reply.status()).as(reply.toString()).isEqualTo(200);
        assertThat(reply.json().get("purged").asInt()).isEqualTo(1);
        assertThat(jdbc.queryForMap("SELECT deleted_at, merged_into FROM contact WHERE id = ?", merged))
                .containsEntry("merged_into", null);
        assertThat(api.get("/api/contacts/" + merged).status()).as("deleted, no longer a redirect").isEqualTo(410);
    }

    @Test
    void aTombstonePurgeTakesItsAgeFromTheRetentionSettingAndRefusesABadAge() {
        Http.Reply reply = api.post("/api/tombstones/purge", "");
        assertThat(reply.status()).as(reply.toString()).isEqualTo(200);
        assertThat(reply.json().get("erasure").get("olderThan").asText()).isEqualTo("P30D");

        assertProblem(api.post("/api/tombstones/purge?olderThan=30%20days", ""), 400, "olderThan: is an ISO-8601 duration");
        assertProblem(api.post("/api/tombstones/purge?olderThan=-P1D", ""), 400, "must not be negative");
        assertThat(api.get("/api/erasures?kind=tombstones").json().get("items").findValuesAsText("olderThan"))
                .doesNotContain("30 days", "-P1D");
    }

    // ---- helpers

    /** A contact made through the API, synced to both CRMs, then deleted there: a tombstone. */
    private String tombstone(String who) {
        String id = tombstoneDeliveredTo(who, "crm1", "crm2");
        settled(id);
        return id;
    }

    private String tombstoneDeliveredTo(String who, String... systems) {
        String email = email(who);
        String id = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Tomb\"}").json().get("id").asText();
        for (String system : systems) {
            liveIn(system.equals("crm1") ? crm1 : crm2, email);
        }
        await().atMost(PATIENCE).until(() -> jdbc.queryForObject("SELECT COUNT(*) FROM contact_link WHERE contact_id = ?",
                Long.class, id) == systems.length);
        assertThat(api.delete("/api/contacts/" + id).status()).isEqualTo(204);
        return id;
    }

    private void settled(String contactId) {
        await().atMost(PATIENCE).until(() -> jdbc.queryForObject("SELECT COUNT(*) FROM outbox WHERE contact_id = ? "
                + "AND state IN ('pending', 'claimed')", Long.class, contactId) == 0);
    }

    /** Moves a tombstone's deletion back in time, as if it had been deleted {@code days} ago. */
    private void age(String contactId, int days) {
        jdbc.update("UPDATE contact SET deleted_at = deleted_at - INTERVAL '" + days + "' DAY WHERE id = ?", contactId);
    }

    private JsonNode completed(String location) {
        return await().atMost(PATIENCE).until(() -> api.get(location).json(),
                erasure -> erasure.get("state").asText().equals("completed"));
    }

    private JsonNode hub(String email) {
        JsonNode items = api.get("/api/contacts?email=" + email).json().get("items");
        assertThat(items.size()).as("live hub contacts with %s", email).isLessThanOrEqualTo(1);
        return items.size() == 0 ? null : items.get(0);
    }

    /** Columns holding the person's id, email, name or phone, and inbox rows of their two records. */
    private List<String> traces(Person person) {
        List<String> found = personalData(person);
        found.addAll(jdbc.queryForList("SELECT 'inbox ' || external_id FROM inbox WHERE (source_system = 'crm1' AND "
                + "external_id = ?) OR (source_system = 'crm2' AND external_id = ?)", String.class, person.crm1Id(), person.crm2Id()));
        return found;
    }

    private List<String> personalData(Person person) {
        List<String> found = new ArrayList<>();
        for (String needle : List.of(person.contactId(), person.email(), person.lastName(), person.phone())) {
            found.addAll(traces(needle));
        }
        return found;
    }

    /** Every text column of every table that holds {@code needle}, as table.column. */
    private List<String> traces(String needle) {
        List<String> found = new ArrayList<>();
        List<Map<String, Object>> columns = jdbc.queryForList("SELECT LOWER(table_name) AS t, LOWER(column_name) AS c "
                + "FROM information_schema.columns WHERE LOWER(table_schema) = 'public' "
                + "AND LOWER(data_type) IN ('character varying', 'varchar', 'text', 'character', 'character large object')");
        assertThat(columns).as("text columns to search").hasSizeGreaterThan(20);
        for (Map<String, Object> column : columns) {
            Long hits = jdbc.queryForObject("SELECT COUNT(*) FROM " + column.get("t") + " WHERE LOWER(" + column.get("c")
                    + ") LIKE ?", Long.class, "%" + needle.toLowerCase() + "%");
            if (hits != null && hits > 0) {
                found.add(column.get("t") + "." + column.get("c"));
            }
        }
        return found;
    }

    private static void assertProblem(Http.Reply reply, int status, String detail) {
        assertThat(reply.status()).as(reply.toString()).isEqualTo(status);
        assertThat(reply.header("Content-Type")).startsWith("application/problem+json");
        assertThat(reply.json().get("detail").asText()).contains(detail);
    }
}
