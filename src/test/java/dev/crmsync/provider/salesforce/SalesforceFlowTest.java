package dev.crmsync.provider.salesforce;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static dev.crmsync.support.Simulated.PATIENCE;
import static dev.crmsync.support.Simulated.byEmail;
import static dev.crmsync.support.Simulated.email;
import static dev.crmsync.support.Simulated.liveIn;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crmsync.provider.CrmClient.Page;
import dev.crmsync.provider.ProviderPauses;
import dev.crmsync.provider.RemoteCallException;
import dev.crmsync.sim.GenericCrmSimulator;
import dev.crmsync.sim.ManualClock;
import dev.crmsync.sim.salesforce.SalesforceSimulator;
import dev.crmsync.support.Http;
import dev.crmsync.support.ServiceTest;
import dev.crmsync.support.Simulated;
import dev.crmsync.sync.Poller;
import org.apache.camel.CamelContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Salesforce through the real camel-salesforce component against the Salesforce simulator, with a
 * generic REST CRM (crm1) and the API on the other side: polls of Contact and Lead, batch writes,
 * sessions that expire, faults, the daily API limit. Each test uses its own people.
 */
@ServiceTest
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
class SalesforceFlowTest {

    static final SalesforceSimulator SF = SalesforceSimulator.builder().externalIdField(Simulated.SALESFORCE_HUB_ID).build().start();
    static final GenericCrmSimulator CRM1 = GenericCrmSimulator.builder().token("token-crm1").build().start();
    static final String CONTACT = SalesforceSimulator.CONTACT;
    static final String LEAD = SalesforceSimulator.LEAD;
    static final String HUB_ID = Simulated.SALESFORCE_HUB_ID;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        Simulated.salesforce(registry, SF);
        registry.add("crmsync.providers.salesforce.limit-pause", () -> "PT2S");
        Simulated.rest(registry, "crm1", CRM1);
        Simulated.fastSync(registry);
    }

    @AfterAll
    static void stop() {
        SF.stop();
        CRM1.stop();
    }

    @LocalServerPort
    int port;

    @Autowired
    JdbcTemplate jdbc;

    @Autowired
    CamelContext camel;

    @Autowired
    SalesforceClient salesforceClient;

    @Autowired
    Poller poller;

    @Autowired
    ProviderPauses pauses;

    Http api;

    @BeforeEach
    void client() throws Exception {
        api = new Http(port).withHeader("X-Api-Key", ServiceTest.API_KEY);
    }

    @AfterEach
    void restore() throws Exception {
        SF.faults().clear();
        SF.useSystemClock();
        SF.dailyLimit(SalesforceSimulator.DEFAULT_DAILY_LIMIT).resetDailyUsage();
        CRM1.faults().clear();
        pauses.resume("salesforce");
        for (String route : List.of("salesforce-contact-poll", "salesforce-lead-poll", "salesforce-deliver", "inbox-process")) {
            camel.getRouteController().startRoute(route);
        }
    }

    @Test
    void contactsAndLeadsChangedInSalesforceReachTheOtherSystemAndTheApi() throws Exception {
        String contactEmail = email("ada");
        String leadEmail = email("lead");
        String contactId = id(SF.seed(CONTACT, Map.of("FirstName", "Ada", "LastName", "Lovelace", "Email", contactEmail,
                "Phone", "(415) 555-2671", "Title", "Countess")));
        String leadId = id(SF.seed(LEAD, Map.of("FirstName", "Lin", "LastName", "Lead", "Email", leadEmail,
                "Company", "Prospects Inc")));

        assertThat(liveIn(CRM1, contactEmail)).containsEntry("FirstName", "Ada").containsEntry("LastName", "Lovelace")
                .containsEntry("Phone", "+14155552671").containsEntry("Title", "Countess");
        assertThat(liveIn(CRM1, leadEmail)).containsEntry("LastName", "Lead").containsEntry("Company", "Prospects Inc");
        assertThat(hub(contactEmail).get("phone").asText()).isEqualTo("+14155552671");
        assertThat(links(hub(leadEmail).get("id").asText())).contains("salesforce:lead:" + leadId);

        SF.update(CONTACT, contactId, Map.of("Title", "Analyst"));
        SF.update(LEAD, leadId, Map.of("Company", "Customers Ltd"));
        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(liveIn(CRM1, contactEmail)).containsEntry("Title", "Analyst");
            assertThat(liveIn(CRM1, leadEmail)).containsEntry("Company", "Customers Ltd");
        });

        SF.delete(CONTACT, contactId);
        SF.delete(LEAD, leadId);
        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(byEmail(CRM1, contactEmail).orElseThrow()).containsEntry("Deleted", true);
            assertThat(byEmail(CRM1, leadEmail).orElseThrow()).containsEntry("Deleted", true);
        });
        assertThat(hub(contactEmail)).isNull();
    }

    @Test
    void changesElsewhereAreWrittenToSalesforceInCollectionsAndALeadIsUpdatedWhereItIs() throws Exception {
        long creates = SF.calls("POST /composite/sobjects");
        String email = email("api");
        String hubId = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"firstName\":\"Api\","
                + "\"lastName\":\"Person\",\"title\":\"Buyer\"}").json().get("id").asText();

        Map<String, Object> created = liveRecord(SF, CONTACT, email);
        assertThat(created).containsEntry("FirstName", "Api").containsEntry("LastName", "Person").containsEntry("Title", "Buyer");
        assertThat(SF.calls("POST /composite/sobjects")).isGreaterThan(creates);
        await().atMost(PATIENCE).until(() -> links(hubId).contains("salesforce:contact:" + created.get("Id")));

        api.patch("/api/contacts/" + hubId, "{\"title\":\"Head Buyer\"}", "Content-Type", "application/merge-patch+json");
        await().atMost(PATIENCE).untilAsserted(() ->
                assertThat(SF.find(CONTACT, id(created)).orElseThrow()).containsEntry("Title", "Head Buyer"));
        assertThat(SF.calls("PATCH /composite/sobjects")).isPositive();

        // a person Salesforce holds as a Lead is updated as that Lead, never created again as a Contact
        String leadEmail = email("lead");
        String leadId = id(SF.seed(LEAD, Map.of("LastName", "Prospect", "Email", leadEmail, "Company", "Acme")));
        Map<String, Object> inCrm1 = liveIn(CRM1, leadEmail);
        CRM1.update(id(inCrm1), Map.of("Title", "CTO"));
        await().atMost(PATIENCE).untilAsserted(() ->
                assertThat(SF.find(LEAD, leadId).orElseThrow()).containsEntry("Title", "CTO").containsEntry("Company", "Acme"));
        assertThat(SF.live(CONTACT)).noneMatch(r -> leadEmail.equalsIgnoreCase(String.valueOf(r.get("Email"))));

        api.delete("/api/contacts/" + hubId);
        await().atMost(PATIENCE).untilAsserted(() ->
                assertThat(SF.find(CONTACT, id(created)).orElseThrow()).containsEntry("IsDeleted", true));
    }

    @Test
    void aPersonSalesforceAlreadyHasIsLinkedAndMergedNotCreatedAgain() throws Exception {
        camel.getRouteController().stopRoute("salesforce-contact-poll");
        String email = email("known");
        String sfId = id(SF.seed(CONTACT, Map.of("LastName", "Known", "Email", email.toUpperCase(), "Title", "CEO")));

        String hubId = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Known\","
                + "\"phone\":\"+14155550100\"}").json().get("id").asText();

        // each side keeps what the other lacked: Salesforce's title reaches the hub, the hub's phone Salesforce
        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(SF.find(CONTACT, sfId).orElseThrow()).containsEntry("Phone", "+14155550100").containsEntry("Title", "CEO");
            assertThat(api.get("/api/contacts/" + hubId).json().get("title").asText()).isEqualTo("CEO");
        });
        assertThat(SF.live(CONTACT)).filteredOn(r -> email.equalsIgnoreCase(String.valueOf(r.get("Email")))).hasSize(1);
        assertThat(links(hubId)).contains("salesforce:contact:" + sfId);

        // one Salesforce holds as a Lead is linked to that Lead, not created as a Contact
        camel.getRouteController().stopRoute("salesforce-lead-poll");
        String leadEmail = email("known-lead");
        String leadId = id(SF.seed(LEAD, Map.of("LastName", "Lead", "Email", leadEmail, "Company", "Acme")));
        String leadHubId = api.post("/api/contacts", "{\"email\":\"" + leadEmail + "\",\"lastName\":\"Lead\"}")
                .json().get("id").asText();
        await().atMost(PATIENCE).until(() -> links(leadHubId).contains("salesforce:lead:" + leadId));
        assertThat(SF.live(CONTACT)).noneMatch(r -> leadEmail.equalsIgnoreCase(String.valueOf(r.get("Email"))));
    }

    @Test
    @Order(Integer.MAX_VALUE) // last: its 5,000 deliveries to crm1 would slow the tests after it
    void fiveThousandRecordsAcrossPagesSharingTimestampsArriveExactlyOnce() throws Exception {
        // a stopped clock that moves a second every 700 records: the page boundaries (2,000 and 4,000)
        // fall inside runs of records that share one SystemModstamp
        ManualClock clock = SF.freezeClock(Instant.now().plusSeconds(60));
        String batch = UUID.randomUUID().toString().substring(0, 8);
        List<String> ids = new ArrayList<>();
        camel.getRouteController().stopRoute("salesforce-contact-poll");
        camel.getRouteController().stopRoute("salesforce-lead-poll");
        for (int i = 0; i < 5000; i++) {
            if (i % 700 == 0) {
                clock.advance(Duration.ofSeconds(1));
            }
            ids.add(id(SF.seed(CONTACT, Map.of("LastName", "Bulk" + i, "Email", "bulk" + i + "-" + batch + "@example.com"))));
        }
        long queries = SF.calls("GET /queryAll");

        // one poll: 2,000 a page, so three pages
        poller.poll("salesforce", "contact");
        assertThat(SF.calls("GET /queryAll") - queries).isEqualTo(3);
        camel.getRouteController().startRoute("salesforce-contact-poll");

        await().atMost(Duration.ofSeconds(90)).until(() -> count("SELECT COUNT(*) FROM contact_link WHERE system = 'salesforce' "
                + "AND external_id IN (" + quoted(ids) + ")") == 5000);
        assertThat(count("SELECT COUNT(*) FROM inbox WHERE source_system = 'salesforce' AND external_id IN (" + quoted(ids) + ")"))
                .as("each record read into the hub once").isEqualTo(5000);
        assertThat(count("SELECT COUNT(*) FROM contact WHERE deleted_at IS NULL AND email LIKE '%-" + batch + "@example.com'"))
                .isEqualTo(5000);

        // a record written later in the cursor's own second, with a lower id, is not skipped
        String early = ids.get(4990);
        SF.update(CONTACT, early, Map.of("Title", "Late edit"));
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(hub("bulk4990-" + batch + "@example.com").get("title").asText())
                .isEqualTo("Late edit"));
    }

    @Test
    void anExpiredSessionIsRenewedMidPollAndThePollGoesOn() throws Exception {
        camel.getRouteController().stopRoute("salesforce-contact-poll");
        Instant start = Instant.now().minusSeconds(1);
        String batch = UUID.randomUUID().toString().substring(0, 8);
        for (int i = 0; i < 250; i++) {
            SF.seed(CONTACT, Map.of("LastName", "Session" + i, "Email", "session" + i + "-" + batch + "@example.com"));
        }
        Page first = salesforceClient.changedSince("contact", start, null, 200);
        assertThat(first.records()).hasSize(200);
        long logins = SF.logins();

        SF.expireTokens();
        Page second = salesforceClient.changedSince("contact", first.nextSince(), first.nextAfterId(), 200);

        assertThat(SF.logins()).isEqualTo(logins + 1);
        List<String> all = new ArrayList<>();
        first.records().forEach(r -> all.add(r.get("Email").asText()));
        second.records().forEach(r -> all.add(r.get("Email").asText()));
        assertThat(all).filteredOn(e -> e.endsWith(batch + "@example.com")).hasSize(250).doesNotHaveDuplicates();
    }

    @Test
    void serverErrorsAndDroppedConnectionsAreRetriedWithoutDuplicates() throws Exception {
        // polls: a 500 and a dropped connection fail two polls; the next tick reads on from the cursor
        SF.faults().failNext(1, 500, "GET", "/queryAll").dropNext(2, "GET", "/queryAll");
        String inbound = email("poll");
        SF.seed(CONTACT, Map.of("LastName", "Polled", "Email", inbound));
        assertThat(liveIn(CRM1, inbound)).containsEntry("LastName", "Polled");

        // writes: a 503 then a connection dropped before the answer; the batch is retried and written once
        SF.faults().failNext(1, 503, "POST", "/composite/sobjects").dropNext(1, "POST", "/composite/sobjects");
        String outbound = email("write");
        api.post("/api/contacts", "{\"email\":\"" + outbound + "\",\"lastName\":\"Written\"}");
        assertThat(liveRecord(SF, CONTACT, outbound)).containsEntry("LastName", "Written");
        await().during(Duration.ofSeconds(2)).atMost(PATIENCE).untilAsserted(() ->
                assertThat(SF.live(CONTACT)).filteredOn(r -> outbound.equalsIgnoreCase(String.valueOf(r.get("Email")))).hasSize(1));
        assertThat(count("SELECT COUNT(*) FROM dead_letter WHERE system = 'salesforce' AND payload LIKE '%" + outbound + "%'"))
                .isZero();
    }

    @Test
    void theDailyLimitPausesPollingAndDeliveryUntilItResets() throws Exception {
        SF.dailyLimit(SF.apiUsage());
        String email = email("limited");
        String hubId = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Waiting\"}").json().get("id").asText();

        Http admin = new Http(port).withHeader("Authorization", "Basic " + java.util.Base64.getEncoder()
                .encodeToString(("admin:" + ServiceTest.ADMIN_PASSWORD).getBytes()));
        await().atMost(PATIENCE).untilAsserted(() -> {
            JsonNode health = admin.get("/actuator/health").json();
            assertThat(health.get("status").asText()).isEqualTo("DEGRADED");
            assertThat(health.at("/components/providers/details/salesforce/state").asText()).isEqualTo("paused");
            assertThat(health.at("/components/providers/details/salesforce/reason").asText()).contains("REQUEST_LIMIT_EXCEEDED");
        });
        assertThat(new Http(port).get("/healthz").status()).isEqualTo(200);
        long refused = SF.requests().stream().filter(r -> r.status() == 403).count();
        // while paused, nothing is called and nothing is spent
        await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(5)).until(() ->
                SF.requests().stream().filter(r -> r.status() == 403).count() <= refused + 2);
        assertThat(count("SELECT COUNT(*) FROM outbox WHERE contact_id = '" + hubId + "' AND target_system = 'salesforce' "
                + "AND state = 'pending'")).isEqualTo(1);

        SF.dailyLimit(SalesforceSimulator.DEFAULT_DAILY_LIMIT).resetDailyUsage();

        assertThat(liveRecord(SF, CONTACT, email)).containsEntry("LastName", "Waiting");
        assertThat(count("SELECT COUNT(*) FROM dead_letter WHERE contact_id = '" + hubId + "'")).isZero();
        await().atMost(PATIENCE).untilAsserted(() ->
                assertThat(admin.get("/actuator/health").json().get("status").asText()).isEqualTo("UP"));
    }

    @Test
    void aRateLimitedAnswerIsTriedAgainSoonWithoutPausingSalesforceForTheDailyLimit() throws Exception {
        camel.getRouteController().stopRoute("salesforce-contact-poll");
        camel.getRouteController().stopRoute("salesforce-lead-poll");
        // a 429 carries REQUEST_LIMIT_EXCEEDED too; only the daily limit's 403 pauses the provider for limit-pause
        SF.faults().rateLimitNext(1, 1, "GET", "/queryAll");

        assertThatThrownBy(() -> salesforceClient.changedSince("contact", Instant.now(), null, 10))
                .isInstanceOfSatisfying(RemoteCallException.class, e -> assertThat(e.status()).isEqualTo(429));
        assertThat(pauses.paused("salesforce")).isEmpty();

        SF.faults().rateLimitNext(2, 1, "POST", "/composite/sobjects");
        String email = email("limited");
        api.post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Soon\"}");
        assertThat(liveRecord(SF, CONTACT, email)).containsEntry("LastName", "Soon");
        assertThat(SF.requests("POST /composite/sobjects")).filteredOn(r -> r.status() == 429).hasSize(2);
        assertThat(pauses.paused("salesforce")).isEmpty();
    }

    @Test
    void aPolledRecordReadBeforeOurWriteToItDoesNotUndoTheWrite() throws Exception {
        Linked clerk = linkedClerk("stale", "Stale");
        String email = clerk.email();
        String sfId = clerk.sfId();
        String hubId = clerk.hubId();

        // a page read from Salesforce (a title changed there) waits in the inbox while the hub writes a
        // phone there: against the base that write leaves, the page would read as Salesforce undoing it
        camel.getRouteController().stopRoute("inbox-process");
        SF.update(CONTACT, sfId, Map.of("Title", "Analyst"));
        camel.getRouteController().stopRoute("salesforce-contact-poll");
        poller.poll("salesforce", "contact");
        api.patch("/api/contacts/" + hubId, "{\"phone\":\"+14155550190\"}");
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(SF.find(CONTACT, sfId).orElseThrow())
                .containsEntry("Phone", "+14155550190").containsEntry("Title", "Analyst"));
        camel.getRouteController().startRoute("inbox-process");
        camel.getRouteController().startRoute("salesforce-contact-poll");

        await().during(Duration.ofSeconds(2)).atMost(PATIENCE).untilAsserted(() -> {
            assertThat(hub(email).get("phone").asText()).isEqualTo("+14155550190");
            assertThat(hub(email).get("title").asText()).isEqualTo("Analyst");
            assertThat(CRM1.find(id(byEmail(CRM1, email).orElseThrow())).orElseThrow())
                    .containsEntry("Phone", "+14155550190").containsEntry("Title", "Analyst");
            assertThat(SF.find(CONTACT, sfId).orElseThrow()).containsEntry("Phone", "+14155550190");
        });
        assertThat(count("SELECT COUNT(*) FROM contact_history WHERE contact_id = '" + hubId + "' AND source_system = 'salesforce' "
                + "AND changes LIKE '%\"phone\"%'")).as("the page is left for the next read, not taken for Salesforce clearing the phone")
                .isZero();
    }

    @Test
    void aTitleEditedInSalesforceWhileTheHubsOlderEditOfItWasOnItsWayKeepsTheNewerEdit() throws Exception {
        Linked clerk = linkedClerk("newer", "Newer");
        String email = clerk.email();
        String sfId = clerk.sfId();
        String hubId = clerk.hubId();

        // the hub's edit waits for Salesforce (paused); a second later a person edits the same field there,
        // and no poll reads it: only the delivery's read before writing can see it
        camel.getRouteController().stopRoute("salesforce-contact-poll");
        pauses.pause("salesforce", Duration.ofMinutes(5), "test: the hub's delivery is on its way");
        api.patch("/api/contacts/" + hubId, "{\"title\":\"Director\"}");
        nextSecond();
        SF.update(CONTACT, sfId, Map.of("Title", "Analyst"));
        pauses.resume("salesforce");

        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(hub(email).get("title").asText()).isEqualTo("Analyst");
            assertThat(CRM1.find(id(byEmail(CRM1, email).orElseThrow())).orElseThrow()).containsEntry("Title", "Analyst");
        });
        await().atMost(PATIENCE).until(() -> count("SELECT COUNT(*) FROM outbox WHERE contact_id = '" + hubId
                + "' AND state IN ('pending', 'claimed')") == 0);
        assertThat(SF.find(CONTACT, sfId).orElseThrow()).containsEntry("Title", "Analyst");
    }

    @Test
    void aCreateRetriedAfterItsFirstTryReachedSalesforceLinksThatRecordThoughItsEmailChangedThere() throws Exception {
        camel.getRouteController().stopRoute("salesforce-contact-poll");
        pauses.pause("salesforce", Duration.ofMinutes(5), "test: the create is on its way");
        String email = email("retried");
        String hubId = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Retried\","
                + "\"title\":\"Clerk\"}").json().get("id").asText();
        // the first try made the record and its answer was lost (a crash); a person then changed its email there
        String changed = email("renamed");
        nextSecond();
        String sfId = id(SF.seed(CONTACT, Map.of("LastName", "Retried", "Email", changed, "Title", "Clerk",
                HUB_ID, hubId)));
        pauses.resume("salesforce");

        await().atMost(PATIENCE).until(() -> links(hubId).contains("salesforce:contact:" + sfId));
        await().atMost(PATIENCE).untilAsserted(() ->
                assertThat(api.get("/api/contacts/" + hubId).json().get("email").asText()).isEqualTo(changed));
        assertThat(SF.live(CONTACT)).filteredOn(r -> hubId.equals(r.get(HUB_ID))).hasSize(1);
        assertThat(SF.live(CONTACT)).noneMatch(r -> email.equalsIgnoreCase(String.valueOf(r.get("Email"))));
        assertThat(liveIn(CRM1, changed)).containsEntry("Title", "Clerk");
    }

    @Test
    void aPolledRecordCarryingAHubIdIsThatPersonsWhateverItsEmail() throws Exception {
        // deliveries held: the poll alone can link the record, not the create's own look-up
        camel.getRouteController().stopRoute("salesforce-deliver");
        String email = email("carried");
        String hubId = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Carried\"}")
                .json().get("id").asText();
        String sfId = id(SF.seed(CONTACT, Map.of("LastName", "Carried", "Email", email("elsewhere"), HUB_ID, hubId)));

        await().atMost(PATIENCE).until(() -> links(hubId).contains("salesforce:contact:" + sfId));
        assertThat(count("SELECT COUNT(*) FROM contact WHERE deleted_at IS NULL AND merged_into IS NULL AND last_name = 'Carried'"))
                .as("one hub contact for the person").isEqualTo(1);

        camel.getRouteController().startRoute("salesforce-deliver");
        await().atMost(PATIENCE).until(() -> count("SELECT COUNT(*) FROM outbox WHERE contact_id = '" + hubId
                + "' AND state IN ('pending', 'claimed')") == 0);
        // the one record and the hub agree, whichever email won by date
        String hubEmail = api.get("/api/contacts/" + hubId).json().get("email").asText();
        assertThat(SF.live(CONTACT)).filteredOn(r -> hubId.equals(r.get(HUB_ID))).singleElement()
                .satisfies(r -> assertThat(r).containsEntry("Id", sfId).containsEntry("Email", hubEmail));
    }

    @Test
    void aFieldIsDatedByItsOwnChangeInSalesforceNotByALaterChangeOfAnotherField() throws Exception {
        Linked clerk = linkedClerk("dated", "Dated");
        String email = clerk.email();
        String sfId = clerk.sfId();
        String hubId = clerk.hubId();

        // while the service reads nothing from Salesforce: its title changes there, then elsewhere a second
        // later, then its first name there a second after that; the record's date is the last of the three
        camel.getRouteController().stopRoute("salesforce-contact-poll");
        pauses.pause("salesforce", Duration.ofMinutes(5), "test: the service is down");
        SF.update(CONTACT, sfId, Map.of("Title", "Analyst"));
        nextSecond();
        api.patch("/api/contacts/" + hubId, "{\"title\":\"Director\"}");
        nextSecond();
        SF.update(CONTACT, sfId, Map.of("FirstName", "Dana"));
        pauses.resume("salesforce");
        camel.getRouteController().startRoute("salesforce-contact-poll");

        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(SF.find(CONTACT, sfId).orElseThrow()).containsEntry("Title", "Director").containsEntry("FirstName", "Dana");
            assertThat(CRM1.find(id(byEmail(CRM1, email).orElseThrow())).orElseThrow())
                    .containsEntry("Title", "Director").containsEntry("FirstName", "Dana");
        });
        assertThat(hub(email).get("title").asText()).isEqualTo("Director");
    }

    @Test
    void aRecordSalesforceRefusesLandsInDeadLettersWithItsMessage() throws Exception {
        String email = email("nolast");
        String hubId = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"firstName\":\"Only\"}").json().get("id").asText();

        await().atMost(PATIENCE).until(() -> count("SELECT COUNT(*) FROM dead_letter WHERE contact_id = '" + hubId + "'") == 1);
        Map<String, Object> letter = jdbc.queryForMap("SELECT * FROM dead_letter WHERE contact_id = ?", hubId);
        assertThat(letter).containsEntry("system", "salesforce").containsEntry("operation", "create");
        assertThat((String) letter.get("error_message")).contains("REQUIRED_FIELD_MISSING").contains("LastName");
        assertThat(((Number) letter.get("attempts")).intValue()).as("a refused record is not retried").isEqualTo(1);
        assertThat(SF.live(CONTACT)).noneMatch(r -> email.equalsIgnoreCase(String.valueOf(r.get("Email"))));
        assertThat(liveIn(CRM1, email)).containsEntry("FirstName", "Only");
    }

    @Test
    void anUpdateOfARecordDeletedInSalesforceMeanwhileFollowsTheTombstoneRules() throws Exception {
        String email = email("gone");
        String sfId = id(SF.seed(CONTACT, Map.of("LastName", "Gone", "Email", email)));
        Map<String, Object> inCrm1 = liveIn(CRM1, email);
        String hubId = hub(email).get("id").asText();
        await().atMost(PATIENCE).until(() -> links(hubId).contains("salesforce:contact:" + sfId));
        camel.getRouteController().stopRoute("salesforce-contact-poll");

        SF.delete(CONTACT, sfId);
        CRM1.update(id(inCrm1), Map.of("Title", "Edited elsewhere"));

        // the update meets ENTITY_IS_DELETED: the delete wins (authoritative deletes) and reaches crm1
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(CRM1.find(id(inCrm1)).orElseThrow()).containsEntry("Deleted", true));
        assertThat(api.get("/api/contacts/" + hubId).status()).isEqualTo(410);
        assertThat(count("SELECT COUNT(*) FROM dead_letter WHERE contact_id = '" + hubId + "'")).isZero();
    }

    // helpers

    record Linked(String email, String sfId, String hubId) {
    }

    /** A clerk seeded in Salesforce, once it reached crm1 and the hub linked its record. */
    Linked linkedClerk(String name, String lastName) {
        String email = email(name);
        String sfId = id(SF.seed(CONTACT, Map.of("LastName", lastName, "Email", email, "Title", "Clerk")));
        assertThat(liveIn(CRM1, email)).containsEntry("Title", "Clerk");
        String hubId = hub(email).get("id").asText();
        await().atMost(PATIENCE).until(() -> links(hubId).contains("salesforce:contact:" + sfId));
        return new Linked(email, sfId, hubId);
    }

    static String id(Map<String, Object> record) {
        return (String) record.get("Id");
    }

    static Map<String, Object> liveRecord(SalesforceSimulator sf, String type, String email) {
        return await().atMost(PATIENCE).until(() -> sf.live(type).stream()
                .filter(r -> email.equalsIgnoreCase(String.valueOf(r.get("Email")))).findFirst(), Optional::isPresent).orElseThrow();
    }

    JsonNode hub(String email) {
        JsonNode items = api.get("/api/contacts?email=" + email).json().get("items");
        assertThat(items.size()).as("live hub contacts with %s", email).isLessThanOrEqualTo(1);
        return items.size() == 0 ? null : items.get(0);
    }

    List<String> links(String contactId) {
        return jdbc.queryForList("SELECT system || ':' || object_type || ':' || external_id FROM contact_link "
                + "WHERE contact_id = ? ORDER BY system", String.class, contactId);
    }

    long count(String sql) {
        return jdbc.queryForObject(sql, Long.class);
    }

    /** Waits until the clock is in a later second than now: Salesforce dates changes to the second. */
    static void nextSecond() {
        long second = Instant.now().getEpochSecond();
        await().pollInterval(Duration.ofMillis(10)).until(() -> Instant.now().getEpochSecond() > second);
    }

    static String quoted(List<String> ids) {
        return String.join(",", ids.stream().map(id -> "'" + id + "'").toList());
    }
}
