package dev.crmsync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crmsync.CrmContactSync;
import dev.crmsync.sim.GenericCrmSimulator;
import dev.crmsync.support.Http;
import dev.crmsync.support.ServiceTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * An initial sync of 20,000 records, interrupted by stopping the service, resumes when it is started
 * again on the same (H2 file) database and ends with each record exactly once: once in the inbox,
 * once in the hub, once in the CRM it is copied to.
 */
class InitialSyncResumeTest {

    static final int RECORDS = 20_000;

    static final GenericCrmSimulator crm1 = GenericCrmSimulator.builder().token("token-crm1").build().start();
    static final GenericCrmSimulator crm2 = GenericCrmSimulator.builder().token("token-crm2").build().start();

    @AfterAll
    static void stopSimulators() {
        crm1.stop();
        crm2.stop();
    }

    @Test
    void anInterruptedInitialSyncResumesFromItsLastCommittedPageAndCopiesEachRecordOnce(@TempDir Path data) {
        Set<String> emails = new HashSet<>();
        for (int i = 0; i < RECORDS; i++) {
            Map<String, Object> fields = new LinkedHashMap<>();
            fields.put("Email", "resume-" + i + "@example.com");
            fields.put("FirstName", "Resume");
            fields.put("LastName", "Person " + i);
            crm1.seed(fields);
            emails.add("resume-" + i + "@example.com");
        }
        // slow enough reads that the stop lands mid-run
        crm1.faults().latency(Duration.ofMillis(100));

        String runId;
        long fetchedAtStop;
        try (ConfigurableApplicationContext first = start(data)) {
            Http api = api(first);
            runId = api.post("/api/sync/crm1/runs", "{\"type\":\"initial\"}").json().get("id").asText();
            await().atMost(Duration.ofSeconds(60)).until(() -> api.get("/api/sync/runs/" + runId).json().get("fetched").asLong() >= 3000);
            fetchedAtStop = api.get("/api/sync/runs/" + runId).json().get("fetched").asLong();
        }
        assertThat(fetchedAtStop).isLessThan(RECORDS);
        crm1.faults().latency(Duration.ZERO);
        long listCallsBefore = crm1.calls("GET /api/contacts");

        try (ConfigurableApplicationContext second = start(data)) {
            Http api = api(second);
            JsonNode resumed = api.get("/api/sync/runs/" + runId).json();
            assertThat(resumed.get("fetched").asLong()).isGreaterThanOrEqualTo(fetchedAtStop);

            JsonNode run = await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(500))
                    .until(() -> api.get("/api/sync/runs/" + runId).json(), r -> !r.get("endedAt").isNull());
            assertThat(run.get("state").asText()).isEqualTo("completed");
            assertThat(run.get("fetched").asLong()).isEqualTo(RECORDS);
            assertThat(run.get("created").asLong()).isEqualTo(RECORDS);
            assertThat(run.get("failed").asLong()).isZero();
            // the second service read on from the checkpoint: far fewer than the 40 pages of the whole run
            assertThat(crm1.calls("GET /api/contacts") - listCallsBefore).isLessThan(40);

            JdbcTemplate jdbc = second.getBean(JdbcTemplate.class);
            assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM inbox WHERE source_system = 'crm1'", Integer.class)).isEqualTo(RECORDS);
            assertThat(jdbc.queryForObject("SELECT COUNT(DISTINCT external_id) FROM inbox WHERE source_system = 'crm1'", Integer.class))
                    .isEqualTo(RECORDS);
            assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM contact WHERE deleted_at IS NULL", Integer.class)).isEqualTo(RECORDS);
            assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM contact_link WHERE system = 'crm1'", Integer.class)).isEqualTo(RECORDS);

            await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofSeconds(1)).until(() -> crm2.live().size() >= RECORDS);
            List<String> copied = new ArrayList<>();
            crm2.live().forEach(record -> copied.add(String.valueOf(record.get("Email"))));
            assertThat(copied).hasSize(RECORDS).doesNotHaveDuplicates();
            assertThat(new HashSet<>(copied)).isEqualTo(emails);
        }
    }

    private ConfigurableApplicationContext start(Path data) {
        List<String> args = new ArrayList<>(List.of("--server.port=0", "--logging.level.root=WARN",
                "--spring.jmx.enabled=false", "--camel.main.jmx-enabled=false", "--camel.main.shutdown-timeout=5",
                "--crmsync.api-key=" + ServiceTest.API_KEY, "--crmsync.admin.password=" + ServiceTest.ADMIN_PASSWORD,
                "--crmsync.data-dir=" + data,
                "--crmsync.sync.process-period=100", "--crmsync.sync.runs-period=200"));
        for (String name : List.of("crm1", "crm2")) {
            GenericCrmSimulator crm = name.equals("crm1") ? crm1 : crm2;
            String p = "--crmsync.providers." + name + ".";
            args.addAll(List.of(p + "enabled=true", p + "base-url=" + crm.baseUrl(), p + "auth-value=Bearer " + crm.token(),
                    // only the run reads crm1; crm2's echoes are not this test's subject
                    p + "poll-cron=0 0 0 1 1 ? 2099", p + "deliver-period=100", p + "page-size=500"));
        }
        return new SpringApplicationBuilder(CrmContactSync.class).run(args.toArray(String[]::new));
    }

    private static Http api(ConfigurableApplicationContext context) {
        return new Http(Integer.parseInt(context.getEnvironment().getProperty("local.server.port")))
                .withHeader("X-Api-Key", ServiceTest.API_KEY);
    }
}
