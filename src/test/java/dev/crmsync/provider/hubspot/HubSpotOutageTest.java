package dev.crmsync.provider.hubspot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.crmsync.sim.hubspot.HubSpotSimulator;
import dev.crmsync.support.Http;
import dev.crmsync.support.ServiceTest;
import dev.crmsync.support.Simulated;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * HubSpot unreachable for a minute while its webhooks keep coming: the changes they name back off
 * and wait, none goes to dead letters, and every one is applied once HubSpot answers again.
 */
@ServiceTest
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
class HubSpotOutageTest {

    static final String SECRET = "hubspot-outage-secret";
    static final HubSpotSimulator HS = HubSpotSimulator.builder().uniqueProperty(Simulated.HUBSPOT_HUB_ID).token("hs-token").clientSecret(SECRET).build().start();
    static final Duration OUTAGE = Duration.ofSeconds(60);

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        Simulated.hubspot(registry, HS, SECRET);
        Simulated.fastSync(registry);
        // a short cap, so the changes come back within seconds of HubSpot's return; the retry clock is the default hour
        registry.add("crmsync.sync.retry-delay", () -> "PT0.5S");
        registry.add("crmsync.sync.max-retry-delay", () -> "PT5S");
    }

    @AfterAll
    static void stop() {
        HS.stop();
    }

    @LocalServerPort
    int port;

    @Autowired
    JdbcTemplate jdbc;

    final ObjectMapper json = new ObjectMapper();

    @Test
    void aThousandWebhookEventsDuringAMinuteWithoutHubSpotAreAllAppliedOnceItIsBackAndNoneIsADeadLetter() throws Exception {
        String batch = UUID.randomUUID().toString().substring(0, 8);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            ids.add(String.valueOf(HS.seed(Map.of("email", "down" + i + "-" + batch + "@example.com", "lastname", "Down" + i))
                    .get("id")));
        }
        // every call to HubSpot gets no answer: the connection is closed unanswered
        HS.faults().dropNext(1_000_000);
        long outageStart = System.nanoTime();
        Http webhooks = new Http(port);
        String url = "http://127.0.0.1:" + port + "/webhooks/hubspot";
        long events = 0;
        for (int request = 0; request < 10; request++) {
            ArrayNode body = json.createArrayNode();
            for (String id : ids.subList(request * 100, request * 100 + 100)) {
                body.addObject().put("eventId", ++events).put("subscriptionType", "contact.creation").put("objectId", Long.parseLong(id))
                        .put("occurredAt", System.currentTimeMillis()).put("portalId", 62515);
            }
            String timestamp = Long.toString(System.currentTimeMillis());
            var answer = webhooks.post("/webhooks/hubspot", body.toString(), "X-HubSpot-Signature-v3",
                    HubSpotFlowTest.sign(SECRET, url, body.toString(), timestamp), "X-HubSpot-Request-Timestamp", timestamp);
            assertThat(answer.status()).isEqualTo(200);
            assertThat(answer.json().get("new").asInt()).isEqualTo(100);
            // the next request comes once this one's changes have failed to be read at least once
            long through = events;
            await().atMost(Duration.ofSeconds(30)).until(() -> count("SELECT COUNT(*) FROM inbox WHERE source_system = 'hubspot' "
                    + "AND last_error IS NOT NULL AND first_failed_at IS NOT NULL AND state = 'pending'") >= through);
        }
        assertThat(events).isEqualTo(1000);

        // the rest of the minute: nothing is given up, nothing reaches the hub
        Duration left = OUTAGE.minus(Duration.ofNanos(System.nanoTime() - outageStart));
        if (!left.isNegative()) {
            await().during(left).atMost(left.plusSeconds(10)).until(() -> count("SELECT COUNT(*) FROM dead_letter") == 0
                    && count("SELECT COUNT(*) FROM inbox WHERE state = 'failed'") == 0);
        }
        assertThat(count("SELECT COUNT(*) FROM contact WHERE email LIKE '%-" + batch + "@example.com'")).isZero();
        // backing off: a minute of 100 ms drains would be 600 tries each; a doubling back-off capped at 5 s is a few
        assertThat(count("SELECT MAX(attempts) FROM inbox WHERE source_system = 'hubspot'")).isBetween(2L, 25L);

        HS.faults().clear();

        await().atMost(Duration.ofSeconds(60)).until(() -> count("SELECT COUNT(*) FROM contact WHERE deleted_at IS NULL "
                + "AND email LIKE '%-" + batch + "@example.com'") == 1000);
        assertThat(jdbc.queryForList("SELECT email FROM contact WHERE email LIKE '%-" + batch + "@example.com'", String.class))
                .hasSize(1000).doesNotHaveDuplicates().contains("down0-" + batch + "@example.com", "down999-" + batch + "@example.com");
        assertThat(jdbc.queryForObject("SELECT last_name FROM contact WHERE email = ?", String.class, "down517-" + batch + "@example.com"))
                .isEqualTo("Down517");
        await().atMost(Duration.ofSeconds(30)).until(() -> count("SELECT COUNT(*) FROM inbox WHERE state <> 'done'") == 0);
        assertThat(count("SELECT COUNT(*) FROM dead_letter")).isZero();
    }

    long count(String sql) {
        Long value = jdbc.queryForObject(sql, Long.class);
        return value == null ? 0 : value;
    }
}
