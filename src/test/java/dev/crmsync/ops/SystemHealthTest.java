package dev.crmsync.ops;

import static dev.crmsync.support.Simulated.PATIENCE;
import static dev.crmsync.support.Simulated.byEmail;
import static dev.crmsync.support.Simulated.email;
import static dev.crmsync.support.Simulated.liveIn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.management.MBeanServer;
import javax.management.ObjectName;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crmsync.provider.ProviderPauses;
import dev.crmsync.sim.GenericCrmSimulator;
import dev.crmsync.sim.hubspot.HubSpotSimulator;
import dev.crmsync.support.Http;
import dev.crmsync.support.Http.Reply;
import dev.crmsync.support.ServiceTest;
import dev.crmsync.support.Simulated;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.autoconfigure.actuate.observability.AutoConfigureObservability;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.context.TestPropertySource;

/**
 * Each connected system's health as operators see it, against two generic CRM simulators: the
 * providers health component, /healthz, the Prometheus gauges and the JMX operations. The health
 * window is a few seconds here, so a failure ages out within a test.
 */
@ServiceTest
@AutoConfigureObservability // Spring Boot tests turn metrics export off unless asked
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
@ExtendWith(OutputCaptureExtension.class)
@TestPropertySource(properties = "logging.level.dev.crmsync.ops=INFO") // the score's WARN and INFO lines
class SystemHealthTest {

    static final GenericCrmSimulator CRM1 = GenericCrmSimulator.builder().token("token-crm1").build().start();
    static final GenericCrmSimulator CRM2 = GenericCrmSimulator.builder().token("token-crm2").build().start();
    static final String HS_SECRET = "health-hubspot-secret";
    static final HubSpotSimulator HS = HubSpotSimulator.builder().uniqueProperty(Simulated.HUBSPOT_HUB_ID).token("hs-token").clientSecret(HS_SECRET)
            .webhookFlushInterval(Duration.ofMillis(50)).build().start();

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        Simulated.rest(registry, "crm1", CRM1);
        Simulated.rest(registry, "crm2", CRM2);
        Simulated.hubspot(registry, HS, HS_SECRET);
        Simulated.fastSync(registry);
        registry.add("crmsync.health.window", () -> "PT6S");
        registry.add("crmsync.health.refresh-period", () -> "250");
        registry.add("crmsync.health.min-calls", () -> "2");
        registry.add("crmsync.health.slow-call", () -> "PT0.75S");
    }

    @AfterAll
    static void stop() {
        CRM1.stop();
        CRM2.stop();
        HS.stop();
    }

    @LocalServerPort
    int port;

    @Autowired
    JdbcTemplate jdbc;

    @Autowired
    SyncOperations operations;

    @Autowired
    ProviderPauses pauses;

    Http api;
    Http admin;
    Http anyone;

    @BeforeEach
    void clients() {
        api = new Http(port).withHeader("X-Api-Key", ServiceTest.API_KEY);
        admin = new Http(port).withHeader("Authorization", "Basic " + Base64.getEncoder()
                .encodeToString(("admin:" + ServiceTest.ADMIN_PASSWORD).getBytes(StandardCharsets.UTF_8)));
        anyone = new Http(port);
        HS.webhooks().target("http://127.0.0.1:" + port + "/webhooks/hubspot").resume();
    }

    @AfterEach
    void healthy() {
        CRM1.faults().clear();
        CRM2.faults().clear();
        pauses.resume("crm1");
        pauses.resume("crm2");
    }

    @Test
    void aSystemAnsweringOnly500sIsDownWithTheReasonThenDegradedThenUpAfterItRecovers(CapturedOutput output) {
        int logged = healthyFromNow("crm1", output);

        CRM1.faults().sticky(500);

        await().atMost(PATIENCE).untilAsserted(() -> {
            Reply health = admin.get("/actuator/health");
            JsonNode crm1 = health.json().at("/components/providers/details/crm1");
            assertThat(crm1.get("status").asText()).isEqualTo("DOWN");
            assertThat(crm1.get("reason").asText()).startsWith("all ").contains("calls in the last 6s failed")
                    .contains("crm1 answered 500");
            assertThat(crm1.get("healthScore").asInt()).isZero();
            assertThat(crm1.at("/calls/failed").asLong()).isEqualTo(crm1.at("/calls/total").asLong());
            assertThat(health.json().at("/components/providers/status").asText()).isEqualTo("DOWN");
            assertThat(health.json().at("/components/providers/details/crm2/status").asText()).isEqualTo("UP");
        });
        // the service itself still works: a load balancer keeps it
        Reply healthz = anyone.get("/healthz");
        assertThat(healthz.status()).isEqualTo(200);
        assertThat(healthz.json().get("status").asText()).isEqualTo("DEGRADED");
        assertThat(healthz.json().at("/checks/providers").asText()).isEqualTo("DOWN");
        await().atMost(PATIENCE).until(() -> output.getOut().substring(logged)
                .matches("(?s).*WARN.*crm1 health score fell to \\d+ \\(crmsync.health.score-warning is 50\\).*crm1 answered 500.*"));

        CRM1.faults().clear();

        // while the failures are still in the window, next to the new successes
        await().atMost(PATIENCE).pollInterval(Duration.ofMillis(100)).untilAsserted(() -> {
            JsonNode crm1 = details("crm1");
            assertThat(crm1.get("status").asText()).isEqualTo("DEGRADED");
            assertThat(crm1.get("reason").asText()).containsPattern("\\d+ of \\d+ calls in the last 6s failed");
        });
        // UP once the failed share is under crmsync.health.error-rate; 100 once the failures left the window
        awaitStatus("crm1", "UP");
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(details("crm1").get("healthScore").asInt()).isEqualTo(100));
        assertThat(details("crm1").has("reason")).isFalse();
        assertThat(anyone.get("/healthz").json().get("status").asText()).isEqualTo("UP");
        await().atMost(PATIENCE).until(() -> output.getOut().substring(logged).contains("INFO")
                && output.getOut().substring(logged).contains("crm1 health score recovered to"));
    }

    @Test
    void slowCallsMakeASystemDegradedAndLowerItsScore(CapturedOutput output) {
        int logged = healthyFromNow("crm2", output);
        CRM2.faults().latency(Duration.ofMillis(2000));

        await().atMost(PATIENCE).untilAsserted(() -> {
            JsonNode crm2 = details("crm2");
            assertThat(crm2.get("status").asText()).isEqualTo("DEGRADED");
            assertThat(crm2.get("reason").asText()).contains("calls are slow: 95% took up to")
                    .contains("crmsync.health.slow-call is 750 ms");
            assertThat(crm2.at("/calls/p95Ms").asLong()).isGreaterThanOrEqualTo(2000);
            // 750 ms of 2000 and more
            assertThat(crm2.get("healthScore").asInt()).isBetween(1, 38);
            assertThat(crm2.at("/calls/failed").asLong()).isZero();
        });
        await().atMost(PATIENCE).until(() -> output.getOut().substring(logged).contains("crm2 health score fell to"));

        CRM2.faults().clear();

        awaitStatus("crm2", "UP");
        await().atMost(PATIENCE).until(() -> output.getOut().substring(logged).contains("crm2 health score recovered to"));
    }

    @Test
    void prometheusShowsEachSystemsBacklogDeadLettersScoreAndPollAge() {
        long before = unreplayed("crm2");
        CRM2.faults().failNext(3, 400, "POST", "/api/contacts");
        for (int i = 0; i < 3; i++) {
            api.post("/api/contacts", "{\"email\":\"" + email("refused") + "\",\"lastName\":\"Refused\"}");
        }
        await().atMost(PATIENCE).until(() -> unreplayed("crm2") == before + 3);

        await().atMost(PATIENCE).untilAsserted(() -> {
            String metrics = admin.get("/actuator/prometheus").body();
            assertThat(gauge(metrics, "crmsync_system_dead_letters", "system=\"crm2\"")).isEqualTo(before + 3);
            assertThat(gauge(metrics, "crmsync_system_health_score", "system=\"crm1\"")).isEqualTo(100);
            assertThat(gauge(metrics, "crmsync_system_error_rate", "system=\"crm2\"")).isZero();
            assertThat(gauge(metrics, "crmsync_system_backlog", "queue=\"outbox\",system=\"crm2\"")).isZero();
            assertThat(gauge(metrics, "crmsync_system_backlog_oldest_age_seconds", "queue=\"inbox\",system=\"crm1\""))
                    .isZero();
            // polled every second
            assertThat(gauge(metrics, "crmsync_system_last_poll_age_seconds", "system=\"crm1\"")).isBetween(0.0, 5.0);
            assertThat(gauge(metrics, "crmsync_system_latency_p95_seconds", "system=\"crm1\"")).isBetween(0.0, 1.0);
        });
        assertThat(details("crm2").get("deadLetters").asLong()).isEqualTo(before + 3);
    }

    @Test
    void aWebhookCountsAsHeardFromAndHubSpotsRateLimitUsageIsShown() {
        // its poll is years away: only its webhooks are heard
        assertThat(details("hubspot").get("lastSuccessfulPoll").isNull()).isTrue();
        String email = email("hooked");
        Instant created = Instant.now();

        HS.create(Map.of("email", email, "lastname", "Hooked"));

        // the webhook was stored, the contact read (a call in the account's budget) and delivered on
        assertThat(liveIn(CRM1, email)).containsEntry("LastName", "Hooked");
        JsonNode hubspot = details("hubspot");
        assertThat(Instant.parse(hubspot.get("lastHeardFrom").asText())).isAfter(created);
        assertThat(hubspot.get("lastSuccessfulPoll").isNull()).isTrue();
        assertThat(hubspot.at("/apiUsage/limit").asLong()).isEqualTo(190);
        assertThat(hubspot.at("/apiUsage/used").asLong()).isPositive();
        assertThat(hubspot.at("/apiUsage/window").asText()).isEqualTo("PT10S");
        await().atMost(PATIENCE).untilAsserted(() -> {
            String metrics = admin.get("/actuator/prometheus").body();
            assertThat(gauge(metrics, "crmsync_system_api_usage_ratio", "system=\"hubspot\"")).isBetween(0.0, 1.0);
            // the generic REST client knows no budget: no figure is made up for it
            assertThat(metrics).doesNotContain("crmsync_system_api_usage_ratio{system=\"crm1\"}");
        });
    }

    @Test
    void aProviderPausedOverJmxHoldsItsDeliveriesAndResumingSendsThem() throws Exception {
        String until = (String) invoke("pauseProvider", new Object[]{"crm2", 10}, String.class, int.class);
        assertThat(until).startsWith("crm2 is paused until ");
        String email = email("held");

        String id = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Held\"}").json().get("id").asText();

        liveIn(CRM1, email);
        await().during(Duration.ofSeconds(1)).atMost(PATIENCE).until(() -> byEmail(CRM2, email).isEmpty());
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM outbox WHERE contact_id = ? AND target_system = 'crm2' "
                + "AND state = 'pending'", Long.class, id)).isEqualTo(1);
        await().atMost(PATIENCE).untilAsserted(() -> {
            String metrics = admin.get("/actuator/prometheus").body();
            assertThat(gauge(metrics, "crmsync_system_backlog", "queue=\"outbox\",system=\"crm2\"")).isEqualTo(1);
            assertThat(gauge(metrics, "crmsync_system_backlog_oldest_age_seconds", "queue=\"outbox\",system=\"crm2\""))
                    .isPositive();
        });
        JsonNode crm2 = details("crm2");
        assertThat(crm2.at("/outbox/pending").asLong()).isEqualTo(1);
        assertThat(crm2.get("state").asText()).isEqualTo("paused");
        assertThat(crm2.get("status").asText()).isEqualTo("DEGRADED");
        assertThat(crm2.get("reason").asText()).contains("paused by an operator through JMX");

        assertThat(invoke("resumeProvider", new Object[]{"crm2"}, String.class)).isEqualTo("crm2 resumed");

        assertThat(liveIn(CRM2, email)).containsEntry("Name", "Held");
        assertThat(details("crm2").get("state").asText()).isEqualTo("active");
        assertThat(invoke("resumeProvider", new Object[]{"crm2"}, String.class)).isEqualTo("crm2 was not paused");
    }

    @Test
    void replayingASystemsDeadLettersOverJmxDeliversThem() throws Exception {
        CRM2.faults().failNext(1, 400, "POST", "/api/contacts");
        String email = email("replayed");
        String id = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Replayed\"}").json().get("id").asText();
        await().atMost(PATIENCE).until(() -> jdbc.queryForObject("SELECT COUNT(*) FROM dead_letter WHERE contact_id = ? "
                + "AND system = 'crm2' AND replayed_at IS NULL", Long.class, id) == 1);
        long waiting = unreplayed("crm2");

        Object replayed = invoke("replayDeadLetters", new Object[]{"crm2"}, String.class);

        assertThat(replayed).isEqualTo((int) waiting);
        assertThat(unreplayed("crm2")).isZero();
        assertThat(liveIn(CRM2, email)).containsEntry("Name", "Replayed");
    }

    @Test
    void aRunStartedOverJmxReadsTheSystemAndIsRecordedAsJmxs() throws Exception {
        String email = email("jmx-run");
        CRM1.seed(Map.of("Email", email, "LastName", "Jmx"));

        String id = (String) invoke("startRun", new Object[]{"crm1", "incremental"}, String.class, String.class);

        await().atMost(PATIENCE).until(() -> jdbc.queryForObject("SELECT state FROM sync_run WHERE id = ?", String.class, id),
                "completed"::equals);
        assertThat(jdbc.queryForObject("SELECT requested_by FROM sync_run WHERE id = ?", String.class, id)).isEqualTo("jmx");
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM contact WHERE email_key = ?", Integer.class, email)).isEqualTo(1);
        assertThatThrownBy(() -> invoke("cancelRun", new Object[]{id}, String.class))
                .rootCause().hasMessage("run " + id + " has already ended: completed");
        assertThatThrownBy(() -> invoke("startRun", new Object[]{"crm1", "everything"}, String.class, String.class))
                .rootCause().hasMessageStartingWith("type: is initial, incremental or reconcile");
    }

    @Test
    void jmxRefusesAnUnknownSystemOrPauseLengthAndChangesNothing() {
        assertThatThrownBy(() -> invoke("pauseProvider", new Object[]{"nope", 5}, String.class, int.class))
                .rootCause().hasMessage("'nope' is not an enabled provider; enabled: crm1, crm2, hubspot");
        assertThatThrownBy(() -> invoke("pauseProvider", new Object[]{"crm2", 0}, String.class, int.class))
                .rootCause().hasMessage("minutes must be 1 to 10080, not 0");
        assertThatThrownBy(() -> invoke("replayDeadLetters", new Object[]{""}, String.class))
                .rootCause().hasMessageStartingWith("'' is not an enabled provider");

        assertThat(pauses.paused("crm2")).isEmpty();
        assertThat(details("crm2").get("state").asText()).isEqualTo("active");
    }

    @Test
    void jmxAttributesShowEachSystemAndHawtioReadsThemThroughJolokia() throws Exception {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        ObjectName name = operations.getObjectName();

        @SuppressWarnings("unchecked")
        Map<String, Integer> scores = (Map<String, Integer>) server.getAttribute(name, "HealthScores");
        @SuppressWarnings("unchecked")
        Map<String, Map<String, Object>> systems = (Map<String, Map<String, Object>>) server.getAttribute(name, "Systems");

        assertThat(scores).containsOnlyKeys("crm1", "crm2", "hubspot");
        assertThat(systems.get("crm1")).containsKeys("status", "healthScore", "lastSuccessfulPoll", "inbox", "outbox",
                "calls", "deadLetters");
        Reply jolokia = admin.get("/actuator/jolokia/read/" + name + "/HealthScores");
        assertThat(jolokia.status()).isEqualTo(200);
        assertThat(jolokia.json().at("/value/crm1").isInt()).as(jolokia.body()).isTrue();
        assertThat(anyone.get("/actuator/jolokia/read/" + name + "/HealthScores").status()).isEqualTo(401);
        long waiting = unreplayed("crm1");
        Reply exec = admin.post("/actuator/jolokia", "{\"type\":\"exec\",\"mbean\":\"" + name
                + "\",\"operation\":\"replayDeadLetters\",\"arguments\":[\"crm1\"]}");
        assertThat(exec.json().get("status").asInt()).as(exec.body()).isEqualTo(200);
        assertThat(exec.json().get("value").asLong()).isEqualTo(waiting);
        assertThat(unreplayed("crm1")).isZero();
    }

    // helpers

    Object invoke(String operation, Object[] arguments, Class<?>... signature) throws Exception {
        String[] types = new String[signature.length];
        for (int i = 0; i < signature.length; i++) {
            types[i] = signature[i].getName();
        }
        return ManagementFactory.getPlatformMBeanServer().invoke(operations.getObjectName(), operation, arguments, types);
    }

    JsonNode details(String system) {
        return admin.get("/actuator/health").json().at("/components/providers/details/" + system);
    }

    /**
     * Waits until the system is UP with score 100 for a few refreshes (start-up's slow first calls have
     * left the window and any low score was logged as recovered); answers where the log stands.
     */
    int healthyFromNow(String system, CapturedOutput output) {
        await().atMost(PATIENCE).during(Duration.ofSeconds(1)).untilAsserted(() -> {
            assertThat(details(system).get("status").asText()).isEqualTo("UP");
            assertThat(details(system).get("healthScore").asInt()).isEqualTo(100);
        });
        return output.getOut().length();
    }

    void awaitStatus(String system, String status) {
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(details(system).get("status").asText()).isEqualTo(status));
    }

    long unreplayed(String system) {
        return jdbc.queryForObject("SELECT COUNT(*) FROM dead_letter WHERE system = ? AND replayed_at IS NULL", Long.class,
                system);
    }

    /** The value of one gauge in Prometheus' text format, by name and labels as written there. */
    static double gauge(String metrics, String name, String labels) {
        Matcher line = Pattern.compile("(?m)^" + name + "\\{" + Pattern.quote(labels) + "} (\\S+)$").matcher(metrics);
        assertThat(line.find()).as(name + "{" + labels + "} in\n" + metrics.lines()
                .filter(l -> l.startsWith("crmsync_system")).reduce("", (a, b) -> a + b + "\n")).isTrue();
        return Double.parseDouble(line.group(1));
    }
}
