package dev.crmsync.sync;

import static dev.crmsync.support.Simulated.PATIENCE;
import static dev.crmsync.support.Simulated.byEmail;
import static dev.crmsync.support.Simulated.email;
import static dev.crmsync.support.Simulated.liveIn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crmsync.support.Http;
import dev.crmsync.support.ServiceTest;
import dev.crmsync.support.TwoCrms;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * A system that loses a record without deleting it (reseeded, restored from an old backup) does not
 * make the hub delete the person: its deletion signal (here a generic CRM's 410 or Deleted flag)
 * says it never deleted it, so the record is created there again and the event is shown.
 */
@ServiceTest
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
class LostRecordsTest {

    static final TwoCrms CRMS = TwoCrms.start();

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        CRMS.wire(registry);
    }

    @AfterAll
    static void stop() {
        CRMS.stop();
    }

    @LocalServerPort
    int port;

    @Autowired
    JdbcTemplate jdbc;

    Http api() {
        return new Http(port).withHeader("X-Api-Key", ServiceTest.API_KEY);
    }

    /** A person in crm1, copied to crm2 and linked there: answers the hub's contact id and crm2's record id. */
    private String[] shared(String email) {
        CRMS.crm1().seed(Map.of("Email", email, "FirstName", "Lost", "LastName", "Person"));
        String inCrm2 = (String) liveIn(CRMS.crm2(), email).get("Id");
        String contactId = await().atMost(PATIENCE).until(() -> jdbc.queryForList(
                "SELECT contact_id FROM contact_link WHERE system = 'crm2' AND external_id = ?", String.class, inCrm2),
                ids -> ids.size() == 1).get(0);
        return new String[] {contactId, inCrm2};
    }

    @Test
    void anUpdateToARecordTheSystemLostCreatesItThereAgainAndThePersonStaysEverywhere() {
        String email = email("lost-on-update");
        String[] shared = shared(email);
        String contactId = shared[0];
        String lostId = shared[1];
        CRMS.crm2().forget(lostId);

        String inCrm1 = (String) byEmail(CRMS.crm1(), email).orElseThrow().get("Id");
        CRMS.crm1().update(inCrm1, Map.of("Title", "Found again"));

        Map<String, Object> again = await().atMost(PATIENCE).until(() -> byEmail(CRMS.crm2(), email),
                r -> r.isPresent() && "Found again".equals(r.get().get("Title"))).orElseThrow();
        assertThat(again.get("Id")).isNotEqualTo(lostId);
        assertThat(again.get("Deleted")).isEqualTo(false);
        assertThat(CRMS.crm1().find(inCrm1).orElseThrow()).containsEntry("Deleted", false).containsEntry("Title", "Found again");
        Http.Reply contact = api().get("/api/contacts/" + contactId);
        assertThat(contact.status()).isEqualTo(200);
        assertThat(contact.json().get("title").asText()).isEqualTo("Found again");
        await().atMost(PATIENCE).until(() -> jdbc.queryForList("SELECT external_id FROM contact_link WHERE contact_id = ? "
                + "AND system = 'crm2'", String.class, contactId).equals(java.util.List.of(again.get("Id"))));

        JsonNode crm2 = api().get("/api/contacts/" + contactId + "/sync").json().get("systems").get("crm2");
        assertThat(crm2.get("externalId").asText()).isEqualTo(again.get("Id"));
        assertThat(crm2.get("events")).hasSize(1);
        JsonNode event = crm2.get("events").get(0);
        assertThat(event.get("event").asText()).isEqualTo("recreated");
        assertThat(event.get("reason").asText()).isEqualTo("record lost by crm2");
        assertThat(event.get("detectedBy").asText()).isEqualTo("update");
        assertThat(event.get("lostExternalId").asText()).isEqualTo(lostId);
        assertThat(api().get("/api/contacts/" + contactId + "/sync").json().get("systems").get("crm1").get("events")).isEmpty();
    }

    @Test
    void aReconcileThatFindsARecordAbsentWithoutADeletionCreatesItThereAgain() {
        String email = email("lost-on-reconcile");
        String[] shared = shared(email);
        String contactId = shared[0];
        String lostId = shared[1];
        CRMS.crm2().forget(lostId);

        String runId = api().post("/api/sync/crm2/runs", "{\"type\":\"reconcile\"}").json().get("id").asText();
        JsonNode run = await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                .until(() -> api().get("/api/sync/runs/" + runId).json(), r -> !r.get("endedAt").isNull());

        assertThat(run.get("state").asText()).isEqualTo("completed");
        assertThat(run.get("repaired").get("recreated").asLong()).isEqualTo(1);
        assertThat(run.get("repaired").get("remoteDeleted").asLong()).isZero();
        Map<String, Object> again = liveIn(CRMS.crm2(), email);
        assertThat(again.get("Id")).isNotEqualTo(lostId);
        assertThat(api().get("/api/contacts/" + contactId).status()).isEqualTo(200);
        assertThat(byEmail(CRMS.crm1(), email).orElseThrow()).containsEntry("Deleted", false);
        JsonNode events = api().get("/api/contacts/" + contactId + "/sync").json().get("systems").get("crm2").get("events");
        assertThat(events).hasSize(1);
        assertThat(events.get(0).get("detectedBy").asText()).isEqualTo("reconcile");
        assertThat(events.get(0).get("runId").asText()).isEqualTo(runId);
        assertThat(events.get(0).get("lostExternalId").asText()).isEqualTo(lostId);
    }

    @Test
    void aRecordTheSystemDeletedStillDeletesThePerson() {
        String email = email("deleted-for-real");
        String[] shared = shared(email);
        CRMS.crm2().delete(shared[1]);

        await().atMost(PATIENCE).until(() -> api().get("/api/contacts/" + shared[0]).status() == 410);
        await().atMost(PATIENCE).until(() -> Boolean.TRUE.equals(byEmail(CRMS.crm1(), email).orElseThrow().get("Deleted")));
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM lost_record WHERE contact_id = ?", Long.class, shared[0])).isZero();
    }
}
