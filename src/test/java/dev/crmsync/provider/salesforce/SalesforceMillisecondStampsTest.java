package dev.crmsync.provider.salesforce;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import dev.crmsync.sim.ManualClock;
import dev.crmsync.sim.salesforce.SalesforceSimulator;
import dev.crmsync.support.ServiceTest;
import dev.crmsync.support.Simulated;
import dev.crmsync.sync.Poller;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.jdbc.core.namedparam.NamedParameterJdbcTemplate;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * A Salesforce whose record times carry milliseconds: the poll's keyset must compare in the
 * precision its cursor keeps, or the page after a full one matches the one just read again and the
 * poll repeats it, a query against the daily API budget each time, without ever reaching the rest.
 */
@ServiceTest
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
class SalesforceMillisecondStampsTest {

    static final SalesforceSimulator SF = SalesforceSimulator.builder().externalIdField(Simulated.SALESFORCE_HUB_ID).millisecondStamps(true).build().start();
    static final int PAGE = 50;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        Simulated.salesforce(registry, SF);
        // polled by the test alone, so each poll's queries can be counted
        registry.add("crmsync.providers.salesforce.poll-cron", () -> "0 0 0 1 1 ? 2099");
        registry.add("crmsync.providers.salesforce.page-size", () -> Integer.toString(PAGE));
        Simulated.fastSync(registry);
    }

    @AfterAll
    static void stop() {
        SF.stop();
    }

    @Autowired
    Poller poller;

    @Autowired
    NamedParameterJdbcTemplate jdbc;

    @Test
    void aPollOfStampsWithMillisecondsTakesEveryRecordInOneQueryPerPage() {
        // three records per millisecond stamp, so page boundaries (every 50) fall inside a shared stamp
        ManualClock clock = SF.freezeClock(Instant.now().truncatedTo(ChronoUnit.SECONDS).plusSeconds(5).plusMillis(517));
        List<String> ids = seed(clock, 230, "first");

        long before = SF.calls("GET /queryAll");
        poller.poll("salesforce", "contact");

        assertThat(SF.calls("GET /queryAll") - before).as("queries of one poll: 230 records, 50 a page").isEqualTo(5);
        assertThat(polled(ids)).as("every record in the inbox once").isEqualTo(230);

        // the next poll starts two seconds before its cursor (.517 + 230 * 7 / 3 ms): it reads the 230 again,
        // which the inbox drops, and the 120 new ones, still one query per page
        ids.addAll(seed(clock, 120, "second"));
        before = SF.calls("GET /queryAll");
        poller.poll("salesforce", "contact");

        assertThat(SF.calls("GET /queryAll") - before)
                .as("queries of the second poll: 350 records, seven full pages of 50 and the empty one that ends it").isEqualTo(8);
        assertThat(polled(ids)).isEqualTo(350);
    }

    private static List<String> seed(ManualClock clock, int count, String batch) {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            if (i % 3 == 0) {
                clock.advanceMillis(7);
            }
            ids.add((String) SF.seed(SalesforceSimulator.CONTACT, Map.of("LastName", "Millis" + i,
                    "Email", "millis" + i + "-" + batch + "@example.com")).get("Id"));
        }
        return ids;
    }

    private long polled(List<String> ids) {
        return jdbc.queryForObject("SELECT COUNT(*) FROM inbox WHERE source_system = 'salesforce' AND external_id IN (:ids)",
                Map.of("ids", ids), Long.class);
    }
}
