package dev.crmsync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crmsync.sim.GenericCrmSimulator;
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
 * The service's first start against two CRMs that already hold the same people, crm1 slow to list
 * them: crm2's poll is applied and its people sent to crm1 before crm1's own listing is read. Each
 * system must still end with each person once, and the hub too.
 */
@ServiceTest
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
class FirstStartWithSharedPeopleTest {

    static final int PEOPLE = 60;
    static final TwoCrms CRMS = seeded(TwoCrms.start());

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        CRMS.wire(registry);
    }

    @AfterAll
    static void stop() {
        CRMS.stop();
    }

    /** The same people in both, emails upper-cased in crm1, and crm1's listing slower than its deliveries. */
    static TwoCrms seeded(TwoCrms crms) {
        for (int i = 0; i < PEOPLE; i++) {
            Map<String, Object> person = GenericCrmSimulator.demoContact(i);
            Map<String, Object> inCrm1 = new LinkedHashMap<>(person);
            inCrm1.put("Email", ((String) person.get("Email")).toUpperCase(Locale.ROOT));
            crms.crm1().seed(inCrm1);
            Map<String, Object> inCrm2 = new LinkedHashMap<>();
            inCrm2.put("Email", person.get("Email"));
            inCrm2.put("Name", person.get("FirstName") + " " + person.get("LastName"));
            inCrm2.put("Phone", person.get("Phone"));
            inCrm2.put("Organization", person.get("Company"));
            crms.crm2().seed(inCrm2);
        }
        crms.crm1().listingDelay(Duration.ofSeconds(4));
        return crms;
    }

    @LocalServerPort
    int port;

    @Autowired
    JdbcTemplate jdbc;

    @Autowired
    Poller poller;

    @Test
    void bothSystemsAndTheHubEndWithEachSharedPersonOnce() {
        // crm1's own listing read and applied, and nothing left on its way in or out
        await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(250)).until(() ->
                poller.cursor("crm1", "contact") != null && poller.cursor("crm2", "contact") != null
                        && jdbc.queryForObject("SELECT COUNT(*) FROM inbox WHERE state IN ('pending', 'claimed')", Long.class) == 0
                        && jdbc.queryForObject("SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'claimed')", Long.class) == 0);

        assertThat(emails(CRMS.crm1().live())).as("people in crm1").hasSize(PEOPLE);
        assertThat(CRMS.crm1().live()).as("records in crm1").hasSize(PEOPLE);
        assertThat(CRMS.crm2().live()).as("records in crm2").hasSize(PEOPLE);
        Http api = new Http(port).withHeader("X-Api-Key", ServiceTest.API_KEY);
        JsonNode hub = api.get("/api/contacts?limit=500").json().get("items");
        assertThat(hub.size()).as("contacts in the hub").isEqualTo(PEOPLE);
        Set<String> hubEmails = new TreeSet<>();
        hub.forEach(contact -> hubEmails.add(contact.get("email").asText().toLowerCase(Locale.ROOT)));
        assertThat(hubEmails).isEqualTo(emails(CRMS.crm2().live()));
        assertThat(jdbc.queryForList("SELECT system, COUNT(*) AS n FROM contact_link GROUP BY system ORDER BY system"))
                .extracting(row -> row.get("system") + "=" + ((Number) row.get("n")).longValue())
                .containsExactly("crm1=" + PEOPLE, "crm2=" + PEOPLE);
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM conflict WHERE kind = 'possible-duplicate'", Long.class))
                .as("possible duplicates").isZero();
    }

    private static Set<String> emails(List<Map<String, Object>> records) {
        Set<String> emails = new TreeSet<>();
        records.forEach(r -> emails.add(String.valueOf(r.get("Email")).toLowerCase(Locale.ROOT)));
        return emails;
    }
}
