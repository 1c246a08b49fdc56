package dev.crmsync.sync;

import static dev.crmsync.support.Simulated.PATIENCE;
import static dev.crmsync.support.Simulated.byEmail;
import static dev.crmsync.support.Simulated.email;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crmsync.sim.GenericCrmSimulator;
import dev.crmsync.support.Http;
import dev.crmsync.support.ServiceTest;
import dev.crmsync.support.Simulated;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Sync runs through the API against two generic CRMs: crm1 is read by runs only (its poll is years
 * away), crm2 receives what the hub learns. Every assertion is on the run's counters, the hub's rows
 * or the simulators' records.
 */
@ServiceTest
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
// in this order each test knows which of crm1's records the hub has read: the later ones leave some unread
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SyncRunsTest {

    static final GenericCrmSimulator crm1 = GenericCrmSimulator.builder().token("token-crm1").build().start();
    static final GenericCrmSimulator crm2 = GenericCrmSimulator.builder().token("token-crm2").build().start();

    @DynamicPropertySource
    static void providers(DynamicPropertyRegistry registry) {
        Simulated.rest(registry, "crm1", crm1);
        Simulated.rest(registry, "crm2", crm2);
        registry.add("crmsync.providers.crm1.poll-cron", () -> "0 0 0 1 1 ? 2099");
        Simulated.fastSync(registry);
        registry.add("crmsync.sync.runs-period", () -> "200");
        registry.add("crmsync.sync.run-retry-delay", () -> "PT0.1S");
    }

    @AfterAll
    static void stopSimulators() {
        crm1.stop();
        crm2.stop();
    }

    @LocalServerPort
    int port;

    @Autowired
    JdbcTemplate jdbc;

    @Autowired
    Inbox inbox;

    @AfterEach
    void endRunsAndClearFaults() {
        crm1.faults().clear();
        crm2.faults().clear();
        for (JsonNode run : api().get("/api/sync/runs").json().get("items")) {
            if (run.get("endedAt").isNull()) {
                api().delete("/api/sync/runs/" + run.get("id").asText());
            }
        }
    }

    Http api() {
        return new Http(port).withHeader("X-Api-Key", ServiceTest.API_KEY);
    }

    @Test
    @Order(2)
    void anInitialRunReadsEverySystemRecordOnceAndCountsWhatTheEngineDidWithIt() {
        List<String> emails = seed(crm1, "initial", 450);

        Http.Reply started = api().post("/api/sync/crm1/runs", "{\"type\":\"initial\"}");
        assertThat(started.status()).isEqualTo(202);
        String id = started.json().get("id").asText();
        assertThat(started.header("Location")).isEqualTo("/api/sync/runs/" + id);
        assertThat(started.json().get("state").asText()).isEqualTo("queued");
        assertThat(started.json().get("requestedBy").asText()).isEqualTo("api-key");

        JsonNode run = awaitEnded(id);
        assertThat(run.get("state").asText()).isEqualTo("completed");
        assertThat(run.get("fetched").asLong()).isGreaterThanOrEqualTo(450);
        assertThat(run.get("created").asLong()).isEqualTo(450);
        assertThat(run.get("failed").asLong()).isZero();
        assertThat(run.get("recordsPerSecond").asDouble()).isPositive();
        assertThat(java.time.Instant.parse(run.get("endedAt").asText())).isAfterOrEqualTo(java.time.Instant.parse(run.get("startedAt").asText()));
        assertThat(run.get("cursor").asText()).contains("\"finished\":true");
        assertEveryRecordCountedOnce(run);
        for (String email : emails) {
            assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM contact c JOIN contact_link l ON l.contact_id = c.id "
                    + "AND l.system = 'crm1' WHERE c.email_key = ?", Integer.class, email)).as(email).isEqualTo(1);
        }
        await().atMost(PATIENCE).until(() -> emails.stream().allMatch(email -> byEmail(crm2, email).isPresent()));
        // the poll's cursor moved with the run: crm1's next poll starts where the run ended
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM sync_cursor WHERE system = 'crm1'", Integer.class)).isEqualTo(1);

        // a second initial run reads it all again and finds nothing new
        JsonNode again = awaitEnded(api().post("/api/sync/crm1/runs", "{\"type\":\"initial\"}").json().get("id").asText());
        assertThat(again.get("state").asText()).isEqualTo("completed");
        assertThat(again.get("fetched").asLong()).isGreaterThanOrEqualTo(450);
        assertThat(again.get("created").asLong() + again.get("updated").asLong()).isZero();
        assertThat(api().get("/api/sync/runs?system=crm1&state=completed").json().get("items").findValuesAsText("id"))
                .contains(id, again.get("id").asText());
    }

    @Test
    @Order(3)
    void syncNowReadsWhatChangedSinceTheCursorAndPropagatesIt() {
        List<String> emails = seed(crm1, "now", 5);
        awaitEnded(api().post("/api/sync/crm1/runs", "{\"type\":\"initial\"}").json().get("id").asText());
        await().atMost(PATIENCE).until(() -> byEmail(crm2, emails.get(0)).isPresent());

        String changed = emails.get(1);
        crm1.update(byEmail(crm1, changed).orElseThrow().get("Id").toString(), Map.of("Title", "Head of Sync"));
        JsonNode run = awaitEnded(api().post("/api/sync/crm1/runs", "{\"type\":\"incremental\"}").json().get("id").asText());

        assertThat(run.get("state").asText()).isEqualTo("completed");
        assertThat(run.get("updated").asLong()).isEqualTo(1);
        await().atMost(PATIENCE).until(() -> "Head of Sync".equals(byEmail(crm2, changed).orElseThrow().get("Title")));
    }

    @Test
    @Order(6)
    void oneRunOfAKindPerSystemAtATime() {
        seed(crm1, "one-at-a-time", 600);
        crm1.faults().latency(Duration.ofMillis(400));
        String first = api().post("/api/sync/crm1/runs", "{\"type\":\"initial\"}").json().get("id").asText();

        Http.Reply second = api().post("/api/sync/crm1/runs", "{\"type\":\"initial\"}");
        assertThat(second.status()).isEqualTo(409);
        assertThat(second.json().get("runId").asText()).isEqualTo(first);
        assertThat(second.header("Content-Type")).startsWith("application/problem+json");
        // another kind of run, or the same kind for another system, may run alongside
        Http.Reply other = api().post("/api/sync/crm2/runs", "{\"type\":\"initial\"}");
        assertThat(other.status()).isEqualTo(202);
    }

    @Test
    @Order(7)
    void aCancelledRunReadsNoFurtherPageAndItsChangesAreStillApplied() {
        seed(crm1, "cancel", 2000);
        crm1.faults().latency(Duration.ofMillis(300));
        String id = api().post("/api/sync/crm1/runs", "{\"type\":\"initial\"}").json().get("id").asText();
        // past the records earlier tests' runs already read, so this run has stored changes of its own
        await().atMost(PATIENCE).until(() -> {
            JsonNode run = api().get("/api/sync/runs/" + id).json();
            return run.get("fetched").asLong() - run.get("unchanged").asLong() > 0;
        });

        Http.Reply cancelled = api().delete("/api/sync/runs/" + id);
        assertThat(cancelled.status()).isEqualTo(200);
        assertThat(cancelled.json().get("state").asText()).isEqualTo("cancelled");
        assertThat(cancelled.json().get("endedAt").isNull()).isFalse();

        long fetched = awaitQuiet(id);
        assertThat(fetched).isLessThan(2000);
        long reads = crm1.calls("GET /api/contacts");
        pause(Duration.ofSeconds(1));
        assertThat(crm1.calls("GET /api/contacts")).as("list calls after the cancel settled").isEqualTo(reads);
        // what the run had stored before the cancel is applied, not dropped
        await().atMost(PATIENCE).until(() -> jdbc.queryForObject(
                "SELECT COUNT(*) FROM inbox WHERE run_id = ? AND state IN ('pending', 'claimed')", Integer.class, id) == 0);
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM inbox WHERE run_id = ? AND state = 'done'", Long.class, id))
                .isPositive();
        assertEveryRecordCountedOnce(api().get("/api/sync/runs/" + id).json());
        assertThat(api().delete("/api/sync/runs/" + id).status()).isEqualTo(409);
    }

    @Test
    @Order(4)
    void aReconcileFindsARecordLostWithoutADeletionAChangeThePollMissedAndAContactTheSystemLacks() {
        List<String> emails = seed(crm1, "reconcile", 20);
        awaitEnded(api().post("/api/sync/crm1/runs", "{\"type\":\"initial\"}").json().get("id").asText());
        await().atMost(PATIENCE).until(() -> emails.stream().allMatch(email -> byEmail(crm2, email).isPresent()));

        // gone from crm1 without a tombstone (reseeded, restored from a backup): crm1 never deleted it
        String purged = emails.get(0);
        String purgedId = byEmail(crm1, purged).orElseThrow().get("Id").toString();
        crm1.forget(purgedId);
        // changed while nothing reads crm1 (a lost webhook, a poll that is off)
        String missed = emails.get(1);
        crm1.update(byEmail(crm1, missed).orElseThrow().get("Id").toString(), Map.of("Title", "Seen by reconcile"));
        // a contact crm1 refused (its create is a dead letter) is missing there
        crm1.faults().sticky(500);
        String lacking = email("lacking");
        String lackingId = api().post("/api/contacts", "{\"email\":\"" + lacking + "\",\"lastName\":\"Lacking\"}").json().get("id").asText();
        await().atMost(PATIENCE).until(() -> jdbc.queryForObject(
                "SELECT COUNT(*) FROM dead_letter WHERE contact_id = ? AND system = 'crm1'", Integer.class, lackingId) == 1);
        crm1.faults().clear();

        JsonNode run = awaitEnded(api().post("/api/sync/crm1/runs", "{\"type\":\"reconcile\"}").json().get("id").asText());

        assertThat(run.get("state").asText()).isEqualTo("completed");
        assertThat(run.get("repaired").get("remoteDeleted").asLong()).isZero();
        assertThat(run.get("repaired").get("recreated").asLong()).isEqualTo(1);
        assertThat(run.get("repaired").get("missed").asLong()).isEqualTo(1);
        assertThat(run.get("repaired").get("resent").asLong()).isEqualTo(1);
        assertThat(run.get("deleted").asLong()).isZero();
        assertThat(run.get("updated").asLong()).isEqualTo(1);
        // the person stays, and crm1 has them again under a new id
        assertThat(jdbc.queryForObject("SELECT deleted_at IS NULL FROM contact WHERE email = ?", Boolean.class, purged)).isTrue();
        await().atMost(PATIENCE).until(() -> byEmail(crm1, purged).filter(r -> !r.get("Id").equals(purgedId)).isPresent());
        assertThat(byEmail(crm2, purged).orElseThrow()).containsEntry("Deleted", false);
        await().atMost(PATIENCE).until(() -> "Seen by reconcile".equals(byEmail(crm2, missed).orElseThrow().get("Title")));
        await().atMost(PATIENCE).until(() -> byEmail(crm1, lacking).isPresent());
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM contact_link WHERE contact_id = ? AND system = 'crm1'",
                Integer.class, lackingId)).isEqualTo(1);
    }

    @Test
    @Order(8)
    void aReconcileThatWouldDeleteMostOfASystemFailsAndDeletesNothing() {
        List<String> emails = seed(crm1, "short-listing", 40);
        awaitEnded(api().post("/api/sync/crm1/runs", "{\"type\":\"initial\"}").json().get("id").asText());
        crm1.records().stream().map(record -> record.get("Id").toString()).skip(5).forEach(crm1::erase);

        JsonNode run = awaitEnded(api().post("/api/sync/crm1/runs", "{\"type\":\"reconcile\"}").json().get("id").asText());

        assertThat(run.get("state").asText()).isEqualTo("failed");
        assertThat(run.get("errors").get(0).get("error").asText()).contains("reconcile-max-delete-share").contains("nothing was deleted");
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM contact WHERE deleted_at IS NOT NULL AND email IN ("
                + String.join(",", emails.stream().map(e -> "'" + e + "'").toList()) + ")", Integer.class)).isZero();
    }

    @Test
    @Order(5)
    void appliedChangesOlderThanTheRetentionAreForgottenAndTheRestKept() {
        List<String> emails = seed(crm1, "retention", 3);
        String id = awaitEnded(api().post("/api/sync/crm1/runs", "{\"type\":\"incremental\"}").json().get("id").asText())
                .get("id").asText();
        String mine = "run_id = '" + id + "' AND external_id IN (" + String.join(",", emails.stream()
                .map(email -> "'" + byEmail(crm1, email).orElseThrow().get("Id") + "'").toList()) + ")";
        List<Long> rows = jdbc.queryForList("SELECT id FROM inbox WHERE " + mine + " ORDER BY id", Long.class);
        assertThat(rows).hasSize(3);
        jdbc.update("UPDATE inbox SET processed_at = processed_at - INTERVAL '15' DAY WHERE id IN (?, ?)", rows.get(0), rows.get(1));
        jdbc.update("UPDATE inbox SET state = 'failed' WHERE id = ?", rows.get(1));
        long before = jdbc.queryForObject("SELECT COUNT(*) FROM inbox", Long.class);

        assertThat(inbox.expire()).isEqualTo(1);

        assertThat(jdbc.queryForList("SELECT id FROM inbox WHERE " + mine + " ORDER BY id", Long.class))
                .containsExactly(rows.get(1), rows.get(2));
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM inbox", Long.class)).isEqualTo(before - 1);
        assertThat(emails).allSatisfy(email -> assertThat(jdbc.queryForObject(
                "SELECT COUNT(*) FROM contact WHERE email_key = ?", Integer.class, email)).isEqualTo(1));
    }

    @Test
    @Order(5)
    void aPageThatKeepsFailingFailsTheRunWithItsError() {
        seed(crm1, "failing", 3);
        crm1.faults().sticky(503);
        JsonNode run = awaitEnded(api().post("/api/sync/crm1/runs", "{\"type\":\"initial\"}").json().get("id").asText());
        assertThat(run.get("state").asText()).isEqualTo("failed");
        assertThat(run.get("errors").get(0).get("error").asText()).contains("503");
        assertThat(crm1.calls("GET /api/contacts")).isGreaterThanOrEqualTo(5);
    }

    @Test
    @Order(1)
    void badRequestsGetProblemsAndStartNothing() {
        Http api = api();
        assertThat(api.post("/api/sync/nowhere/runs", "{\"type\":\"initial\"}").status()).isEqualTo(404);
        Http.Reply badType = api.post("/api/sync/crm1/runs", "{\"type\":\"everything\"}");
        assertThat(badType.status()).isEqualTo(400);
        assertThat(badType.json().get("detail").asText()).contains("initial, incremental or reconcile");
        assertThat(api.post("/api/sync/crm1/runs", "{\"type\":").status()).isEqualTo(400);
        assertThat(api.post("/api/sync/crm1/runs", "").status()).isEqualTo(400);
        assertThat(api.get("/api/sync/runs/no-such-run").status()).isEqualTo(404);
        assertThat(api.delete("/api/sync/runs/no-such-run").status()).isEqualTo(404);
        assertThat(api.get("/api/sync/runs?state=sleeping").status()).isEqualTo(400);
        assertThat(new Http(port).post("/api/sync/crm1/runs", "{\"type\":\"initial\"}").status()).isEqualTo(401);
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM sync_run WHERE active_key IS NOT NULL", Integer.class)).isZero();
    }

    private static List<String> seed(GenericCrmSimulator crm, String who, int count) {
        List<String> emails = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            String email = email(who + i);
            Map<String, Object> fields = new LinkedHashMap<>();
            fields.put("Email", email);
            fields.put("FirstName", "Run" + i);
            fields.put("LastName", who + "-" + email.substring(email.indexOf('-') + 1, email.indexOf('@')));
            crm.seed(fields);
            emails.add(email);
        }
        return emails;
    }

    /** Each record read ends in exactly one of the outcome counters. */
    private static void assertEveryRecordCountedOnce(JsonNode run) {
        assertThat(run.get("created").asLong() + run.get("updated").asLong() + run.get("deleted").asLong()
                + run.get("unchanged").asLong() + run.get("failed").asLong()).as("outcomes of %s", run)
                .isEqualTo(run.get("fetched").asLong());
    }

    private JsonNode awaitEnded(String id) {
        return await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                .until(() -> api().get("/api/sync/runs/" + id).json(), run -> !run.get("endedAt").isNull());
    }

    /** Waits until the run's fetched count stays put for a second; answers it. */
    private long awaitQuiet(String id) {
        long[] last = {-1};
        await().atMost(PATIENCE).pollInterval(Duration.ofSeconds(1)).until(() -> {
            long now = api().get("/api/sync/runs/" + id).json().get("fetched").asLong();
            boolean quiet = now == last[0];
            last[0] = now;
            return quiet;
        });
        return last[0];
    }

    private static void pause(Duration duration) {
        try {
            Thread.sleep(duration.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
