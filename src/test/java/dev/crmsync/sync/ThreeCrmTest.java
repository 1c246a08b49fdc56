package dev.crmsync.sync;

import static dev.crmsync.sim.hubspot.HubSpotSimulator.property;
import static dev.crmsync.support.Simulated.PATIENCE;
import static dev.crmsync.support.Simulated.email;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crmsync.sim.hubspot.HubSpotSimulator;
import dev.crmsync.sim.pipedrive.PipedriveSimulator;
import dev.crmsync.sim.salesforce.SalesforceSimulator;
import dev.crmsync.support.Http;
import dev.crmsync.support.ServiceTest;
import dev.crmsync.support.Simulated;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Salesforce, HubSpot, Pipedrive and the API at once, each against its simulator, with the cases
 * the scripts this service replaces get wrong: one person entered in two CRMs, quick edits in
 * different systems, a delete racing an older update, a merge. Each test asserts the exact records
 * every system ends with: no duplicates, no ghosts, no lost updates.
 */
@ServiceTest
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
class ThreeCrmTest {

    static final String HS_SECRET = "three-crm-hubspot-secret";
    static final String PD_USER = "pd-hooks";
    static final String PD_PASSWORD = "pd-hooks-password";
    static final SalesforceSimulator SF = SalesforceSimulator.builder().externalIdField(Simulated.SALESFORCE_HUB_ID).build().start();
    static final HubSpotSimulator HS = HubSpotSimulator.builder().uniqueProperty(Simulated.HUBSPOT_HUB_ID).token("hs-token").clientSecret(HS_SECRET)
            .webhookFlushInterval(Duration.ofMillis(50)).build().start();
    static final PipedriveSimulator PD = PipedriveSimulator.builder().apiToken("pd-token")
            .webhookRetryDelays(Duration.ofMillis(200), Duration.ofSeconds(1)).build().start();

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        Simulated.salesforce(registry, SF);
        Simulated.hubspot(registry, HS, HS_SECRET);
        Simulated.pipedrive(registry, PD, PD_USER, PD_PASSWORD);
        Simulated.fastSync(registry);
    }

    @AfterAll
    static void stop() {
        SF.stop();
        HS.stop();
        PD.stop();
    }

    @LocalServerPort
    int port;

    @Autowired
    JdbcTemplate jdbc;

    @Autowired
    org.apache.camel.CamelContext camel;

    @Autowired
    dev.crmsync.provider.ProviderPauses pauses;

    @Autowired
    Poller poller;

    Http api;

    @BeforeEach
    void wire() {
        api = new Http(port).withHeader("X-Api-Key", ServiceTest.API_KEY);
        HS.webhooks().target("http://127.0.0.1:" + port + "/webhooks/hubspot").resume();
        PD.webhooks().target("http://127.0.0.1:" + port + "/webhooks/pipedrive", PD_USER, PD_PASSWORD);
        PD.webhooks().resume();
    }

    /** A test that failed while it held a system paused would otherwise fail the tests after it. */
    @org.junit.jupiter.api.AfterEach
    void resumeAll() {
        List.of("salesforce", "hubspot", "pipedrive").forEach(pauses::resume);
    }

    @Test
    void onePersonEnteredInTwoCrmsWithDifferentlyCasedEmailsIsOneContactLinkedEverywhere() {
        String email = email("ada");
        String upper = email.toUpperCase(Locale.ROOT);
        String sfId = id(SF.seed(SalesforceSimulator.CONTACT, Map.of("FirstName", "Ada", "LastName", "King", "Email", upper,
                "Title", "Countess")));
        String hsId = String.valueOf(HS.create(Map.of("email", email, "firstname", "Ada", "lastname", "King",
                "phone", "+14155550101")).get("id"));

        await().atMost(PATIENCE).untilAsserted(() -> {
            JsonNode contacts = api.get("/api/contacts?email=" + email).json().get("items");
            assertThat(contacts).hasSize(1);
            String hubId = contacts.get(0).get("id").asText();
            assertThat(PD.findByEmail(email)).hasSize(1);
            assertThat(links(hubId)).containsExactlyInAnyOrder("hubspot:contact:" + hsId, "salesforce:contact:" + sfId,
                    "pipedrive:person:" + PD.findByEmail(email).get(0).get("id"));
            // each system's values reach the others: Salesforce's title, HubSpot's phone
            assertThat(contacts.get(0).get("title").asText()).isEqualTo("Countess");
            assertThat(contacts.get(0).get("phone").asText()).isEqualTo("+14155550101");
        });
        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(liveSalesforce(email)).singleElement().satisfies(r -> assertThat(r)
                    .containsEntry("Id", sfId).containsEntry("Phone", "+14155550101"));
            assertThat(liveHubSpot(email)).singleElement().satisfies(c -> assertThat(property(c, "jobtitle")).isEqualTo("Countess"));
            assertThat(PD.findByEmail(email)).singleElement().satisfies(p -> assertThat(p).containsEntry("name", "Ada King"));
        });
    }

    @Test
    void quickEditsInDifferentSystemsAllSurviveAndTheLatestEditOfOneFieldWins() throws Exception {
        String email = email("grace");
        String hubId = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"firstName\":\"Grace\",\"lastName\":\"Hopper\"}")
                .json().get("id").asText();
        await().atMost(PATIENCE).until(() -> links(hubId).size() == 3);
        String hsId = externalId(hubId, "hubspot");
        String sfId = externalId(hubId, "salesforce");
        long pdId = Long.parseLong(externalId(hubId, "pipedrive"));

        HS.update(hsId, Map.of("jobtitle", "Commodore"));
        PD.update(pdId, Map.of("phones", List.of(Map.of("value", "+14155550102", "primary", true))));
        // the same field later in Salesforce: SystemModstamp has whole seconds, so later means a second on
        Thread.sleep(1100);
        SF.update(SalesforceSimulator.CONTACT, sfId, Map.of("Title", "Rear Admiral"));

        await().atMost(PATIENCE).untilAsserted(() -> {
            JsonNode hub = api.get("/api/contacts/" + hubId).json();
            assertThat(hub.get("title").asText()).isEqualTo("Rear Admiral");
            assertThat(hub.get("phone").asText()).isEqualTo("+14155550102");
            assertThat(SF.find(SalesforceSimulator.CONTACT, sfId).orElseThrow())
                    .containsEntry("Title", "Rear Admiral").containsEntry("Phone", "+14155550102");
            assertThat(property(HS.find(hsId).orElseThrow(), "jobtitle")).isEqualTo("Rear Admiral");
            assertThat(property(HS.find(hsId).orElseThrow(), "phone")).isEqualTo("+14155550102");
        });
        assertThat(liveSalesforce(email)).hasSize(1);
        assertThat(liveHubSpot(email)).hasSize(1);
        assertThat(PD.findByEmail(email)).singleElement().satisfies(p -> assertThat(String.valueOf(p.get("phones")))
                .contains("+14155550102"));
    }

    @Test
    void anUpdateSentToACrmWritesOnlyWhatTheHubChangedSoAnEditMadeThereMeanwhileSurvives() {
        String email = email("meanwhile");
        String hubId = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Meanwhile\",\"title\":\"Clerk\"}")
                .json().get("id").asText();
        await().atMost(PATIENCE).until(() -> links(hubId).size() == 3);
        String hsId = externalId(hubId, "hubspot");

        // edited in HubSpot while its webhooks are late: the hub does not know it yet when it writes the phone
        HS.webhooks().pause();
        HS.update(hsId, Map.of("jobtitle", "Director"));
        api.patch("/api/contacts/" + hubId, "{\"phone\":\"+14155550103\"}");
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(property(HS.find(hsId).orElseThrow(), "phone"))
                .isEqualTo("+14155550103"));
        assertThat(property(HS.find(hsId).orElseThrow(), "jobtitle")).isEqualTo("Director");

        HS.webhooks().resume();
        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(api.get("/api/contacts/" + hubId).json().get("title").asText()).isEqualTo("Director");
            assertThat(SF.find(SalesforceSimulator.CONTACT, externalId(hubId, "salesforce")).orElseThrow())
                    .containsEntry("Title", "Director").containsEntry("Phone", "+14155550103");
            assertThat(property(HS.find(hsId).orElseThrow(), "jobtitle")).isEqualTo("Director");
        });
    }

    @Test
    void aFieldEditedInHubSpotWhileTheHubsOlderEditOfItWasOnItsWayKeepsTheNewerEdit() {
        String email = email("sameField");
        String hubId = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Same\",\"title\":\"Clerk\"}")
                .json().get("id").asText();
        await().atMost(PATIENCE).until(() -> links(hubId).size() == 3);
        String hsId = externalId(hubId, "hubspot");

        // the hub's edit waits for HubSpot (paused); a person then edits the same field there, its webhook late
        pauses.pause("hubspot", Duration.ofMinutes(5), "test: the hub's delivery is on its way");
        api.patch("/api/contacts/" + hubId, "{\"title\":\"Manager\",\"phone\":\"+14155550104\"}");
        HS.webhooks().pause();
        HS.update(hsId, Map.of("jobtitle", "Director"));
        pauses.resume("hubspot");

        // the delivery reads the record first: the newer Director wins everywhere, the hub's phone still goes
        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(api.get("/api/contacts/" + hubId).json().get("title").asText()).isEqualTo("Director");
            assertThat(SF.find(SalesforceSimulator.CONTACT, externalId(hubId, "salesforce")).orElseThrow())
                    .containsEntry("Title", "Director").containsEntry("Phone", "+14155550104");
            assertThat(property(HS.find(hsId).orElseThrow(), "phone")).isEqualTo("+14155550104");
        });
        assertThat(property(HS.find(hsId).orElseThrow(), "jobtitle")).isEqualTo("Director");
        HS.webhooks().resume();
        await().atMost(PATIENCE).until(() -> outboxPending(hubId) == 0);
        assertThat(property(HS.find(hsId).orElseThrow(), "jobtitle")).isEqualTo("Director");
        assertThat(PD.findByEmail(email)).singleElement().satisfies(p -> assertThat(String.valueOf(p.get("phones")))
                .contains("+14155550104"));
    }

    @Test
    void aFieldEditedInHubSpotBeforeANewerEditInTheHubTakesTheHubsEdit() throws Exception {
        String email = email("hubNewer");
        String hubId = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Newer\",\"title\":\"Clerk\"}")
                .json().get("id").asText();
        await().atMost(PATIENCE).until(() -> links(hubId).size() == 3);
        String hsId = externalId(hubId, "hubspot");

        HS.webhooks().pause();
        HS.update(hsId, Map.of("jobtitle", "Director"));
        Thread.sleep(50);
        api.patch("/api/contacts/" + hubId, "{\"title\":\"Manager\"}");

        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(property(HS.find(hsId).orElseThrow(), "jobtitle")).isEqualTo("Manager");
            assertThat(SF.find(SalesforceSimulator.CONTACT, externalId(hubId, "salesforce")).orElseThrow())
                    .containsEntry("Title", "Manager");
        });
        HS.webhooks().resume();
        await().atMost(PATIENCE).until(() -> outboxPending(hubId) == 0);
        assertThat(api.get("/api/contacts/" + hubId).json().get("title").asText()).isEqualTo("Manager");
        assertThat(property(HS.find(hsId).orElseThrow(), "jobtitle")).isEqualTo("Manager");
    }

    @Test
    void aHubSpotEditOlderThanTheHubsIsDatedByItsOwnTimeNotByALaterEditOfAnotherField() throws Exception {
        String email = email("fieldDates");
        String hubId = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Dates\",\"title\":\"Clerk\"}")
                .json().get("id").asText();
        await().atMost(PATIENCE).until(() -> links(hubId).size() == 3);
        String hsId = externalId(hubId, "hubspot");

        // HubSpot's title is edited first, the API's later; then HubSpot's phone, which moves the record's date
        // past the API's edit. The hub reads the record after all three (webhooks late, deliveries held).
        pauses.pause("hubspot", Duration.ofMinutes(5), "test: the hub's title waits");
        HS.webhooks().pause();
        HS.update(hsId, Map.of("jobtitle", "Director"));
        Thread.sleep(50);
        api.patch("/api/contacts/" + hubId, "{\"title\":\"Manager\"}");
        Thread.sleep(50);
        HS.update(hsId, Map.of("phone", "+14155550108"));
        HS.webhooks().resume();
        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(api.get("/api/contacts/" + hubId).json().get("phone").asText()).isEqualTo("+14155550108");
            assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM inbox WHERE source_system = 'hubspot' AND external_id = ? "
                    + "AND state IN ('pending', 'claimed')", Integer.class, hsId)).isZero();
        });
        assertThat(api.get("/api/contacts/" + hubId).json().get("title").asText()).isEqualTo("Manager");
        pauses.resume("hubspot");

        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(property(HS.find(hsId).orElseThrow(), "jobtitle")).isEqualTo("Manager");
            assertThat(SF.find(SalesforceSimulator.CONTACT, externalId(hubId, "salesforce")).orElseThrow())
                    .containsEntry("Title", "Manager").containsEntry("Phone", "+14155550108");
        });
        assertThat(jdbc.queryForObject("SELECT winner FROM conflict WHERE contact_id = ? AND field = 'title'", String.class,
                hubId)).isEqualTo("api");
    }

    @Test
    void aFieldEditedInPipedriveWhileTheHubsOlderEditOfItWasOnItsWayKeepsTheNewerEdit() throws Exception {
        String email = email("pdSameField");
        String hubId = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Same\",\"phone\":\"+14155550105\"}")
                .json().get("id").asText();
        await().atMost(PATIENCE).until(() -> links(hubId).size() == 3);
        long pdId = Long.parseLong(externalId(hubId, "pipedrive"));

        pauses.pause("pipedrive", Duration.ofMinutes(5), "test: the hub's delivery is on its way");
        api.patch("/api/contacts/" + hubId, "{\"phone\":\"+14155550106\"}");
        PD.webhooks().pause();
        // Pipedrive stamps whole seconds: later means a second on
        Thread.sleep(1100);
        PD.update(pdId, Map.of("phones", List.of(Map.of("value", "+14155550107", "primary", true))));
        pauses.resume("pipedrive");

        // Pipedrive's update reads the person first: the newer phone wins everywhere
        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(api.get("/api/contacts/" + hubId).json().get("phone").asText()).isEqualTo("+14155550107");
            assertThat(property(HS.find(externalId(hubId, "hubspot")).orElseThrow(), "phone")).isEqualTo("+14155550107");
        });
        PD.webhooks().resume();
        await().atMost(PATIENCE).until(() -> outboxPending(hubId) == 0);
        assertThat(String.valueOf(PD.find(pdId).orElseThrow().get("phones"))).contains("+14155550107")
                .doesNotContain("+14155550106");
    }

    @Test
    void anEmailSalesforceDatesInTheSecondAPipedrivePersonWasLastChangedWinsOverTheEmailThatPersonHadLongBefore() {
        String hubId = api.post("/api/contacts", "{\"email\":\"" + email("sameSecond") + "\",\"lastName\":\"Second\","
                + "\"phone\":\"+14155550111\"}").json().get("id").asText();
        await().atMost(PATIENCE).until(() -> links(hubId).size() == 3);
        long pdId = Long.parseLong(externalId(hubId, "pipedrive"));
        String sfId = externalId(hubId, "salesforce");
        String older = email("sameSecondPipedrive");
        String newer = email("sameSecondSalesforce");
        // on clocks a little ahead (a later date than the person's create), which the real ones catch up with
        java.time.Instant t0 = java.time.Instant.now().plusSeconds(1);
        java.time.Instant t1 = t0.plusSeconds(2);
        try {
            // Pipedrive's email, then two seconds on its phone: the person's date is the phone's, and with both
            // webhooks lost the hub reads the person by a poll, without the date of each field
            PD.webhooks().loseNext(2);
            // and Salesforce takes no write meanwhile: its own edit is then merged before the hub's goes out
            pauses.pause("salesforce", Duration.ofMinutes(5), "test: Salesforce is edited before the hub's write");
            PD.freezeClock(t0);
            PD.update(pdId, Map.of("emails", List.of(Map.of("value", older, "primary", true))));
            PD.freezeClock(t1);
            PD.update(pdId, Map.of("phones", List.of(Map.of("value", "+14155550112", "primary", true))));
            poller.poll("pipedrive");
            await().atMost(PATIENCE).until(() -> older.equals(api.get("/api/contacts/" + hubId).json().get("email").asText()));

            // Salesforce's email in that same second, by its own field history
            SF.freezeClock(t1);
            SF.update(SalesforceSimulator.CONTACT, sfId, Map.of("Email", newer));
            pauses.resume("salesforce");

            await().atMost(PATIENCE).until(() -> newer.equals(api.get("/api/contacts/" + hubId).json().get("email").asText()));
            assertThat(jdbc.queryForObject("SELECT winner FROM conflict WHERE contact_id = ? AND field = 'email'",
                    String.class, hubId)).isEqualTo("salesforce");
            await().atMost(PATIENCE).untilAsserted(() -> {
                assertThat(PD.find(pdId).orElseThrow().get("emails").toString()).contains(newer).doesNotContain(older);
                assertThat(SF.find(SalesforceSimulator.CONTACT, sfId).orElseThrow()).containsEntry("Email", newer);
            });
        } finally {
            // the next tests' stamps must not go back before this one's
            await().atMost(PATIENCE).until(() -> java.time.Instant.now().isAfter(t1.plusSeconds(1)));
            PD.useSystemClock();
            SF.useSystemClock();
        }
    }

    @Test
    void aFirstNameSentToPipedriveKeepsTheLastNameChangedThereMeanwhile() {
        String email = email("names");
        String hubId = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"firstName\":\"Ada\",\"lastName\":\"Byron\"}")
                .json().get("id").asText();
        await().atMost(PATIENCE).until(() -> links(hubId).size() == 3);
        long pdId = Long.parseLong(externalId(hubId, "pipedrive"));

        // Pipedrive keeps both names in one name: the hub's first name must not carry its old last name back
        PD.webhooks().pause();
        PD.update(pdId, Map.of("last_name", "Lovelace"));
        api.patch("/api/contacts/" + hubId, "{\"firstName\":\"Augusta\"}");
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(PD.find(pdId).orElseThrow())
                .containsEntry("first_name", "Augusta").containsEntry("last_name", "Lovelace"));

        PD.webhooks().resume();
        await().atMost(PATIENCE).untilAsserted(() -> {
            JsonNode hub = api.get("/api/contacts/" + hubId).json();
            assertThat(hub.get("firstName").asText()).isEqualTo("Augusta");
            assertThat(hub.get("lastName").asText()).isEqualTo("Lovelace");
            assertThat(property(HS.find(externalId(hubId, "hubspot")).orElseThrow(), "lastname")).isEqualTo("Lovelace");
            assertThat(PD.find(pdId).orElseThrow()).containsEntry("name", "Augusta Lovelace");
        });
    }

    @Test
    void aDeleteInTheApiWinsOverAnOlderUpdateStillOnItsWayFromACrm() throws Exception {
        String email = email("gone");
        String hubId = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Gone\"}").json().get("id").asText();
        await().atMost(PATIENCE).until(() -> links(hubId).size() == 3);
        long pdId = Long.parseLong(externalId(hubId, "pipedrive"));
        String hsId = externalId(hubId, "hubspot");

        // edits made in Pipedrive and HubSpot before the delete, whose webhooks arrive after it
        PD.webhooks().pause();
        HS.webhooks().pause();
        PD.update(pdId, Map.of("name", "Still Here"));
        HS.update(hsId, Map.of("jobtitle", "Still Here"));
        assertThat(api.delete("/api/contacts/" + hubId).status()).isEqualTo(204);
        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(PD.findByEmail(email)).isEmpty();
            assertThat(liveHubSpot(email)).isEmpty();
            assertThat(liveSalesforce(email)).isEmpty();
        });
        PD.webhooks().resume();
        HS.webhooks().resume();
        PD.webhooks().awaitIdle(PATIENCE);
        HS.webhooks().awaitIdle(PATIENCE);

        await().during(Duration.ofSeconds(2)).atMost(PATIENCE).untilAsserted(() -> {
            assertThat(api.get("/api/contacts/" + hubId).status()).isEqualTo(410);
            assertThat(PD.findByEmail(email)).isEmpty();
            assertThat(liveHubSpot(email)).isEmpty();
            assertThat(liveSalesforce(email)).isEmpty();
        });
    }

    @Test
    void aHubSpotMergeLeavesOnePersonInEverySystem() {
        String kept = email("kept");
        String merged = email("merged");
        String keptHub = api.post("/api/contacts", "{\"email\":\"" + kept + "\",\"lastName\":\"Kept\"}").json().get("id").asText();
        String mergedHub = api.post("/api/contacts", "{\"email\":\"" + merged + "\",\"lastName\":\"Merged\",\"title\":\"CFO\"}")
                .json().get("id").asText();
        await().atMost(PATIENCE).until(() -> links(keptHub).size() == 3 && links(mergedHub).size() == 3);

        HS.merge(externalId(keptHub, "hubspot"), externalId(mergedHub, "hubspot"));

        // held for a few seconds: the polls read back the merge's deletes of the merged person's records
        await().during(Duration.ofSeconds(3)).atMost(PATIENCE).untilAsserted(() -> {
            assertThat(api.get("/api/contacts/" + mergedHub).status()).isEqualTo(301);
            assertThat(liveSalesforce(merged)).isEmpty();
            assertThat(PD.findByEmail(merged)).isEmpty();
            assertThat(liveSalesforce(kept)).hasSize(1);
            assertThat(PD.findByEmail(kept)).hasSize(1);
            assertThat(liveHubSpot(kept)).hasSize(1);
            assertThat(api.get("/api/contacts/" + keptHub).json().get("title").asText()).isEqualTo("CFO");
        });
        assertThat(liveHubSpot(merged)).isEmpty();
    }

    @Test
    void aRecordCreatedForAPersonMergedAwayWhileItWasOnItsWayGoesWithThatPersonNotOntoTheSurvivor() {
        String kept = email("keptOwn");
        String merged = email("mergedLate");
        String keptHub = api.post("/api/contacts", "{\"email\":\"" + kept + "\",\"lastName\":\"Kept\"}").json().get("id").asText();
        await().atMost(PATIENCE).until(() -> links(keptHub).size() == 3);

        // Pipedrive answers slowly: the merged person's create is on its way there while HubSpot merges the two
        PD.faults().latency(Duration.ofSeconds(3));
        String mergedHub = api.post("/api/contacts", "{\"email\":\"" + merged + "\",\"lastName\":\"Merged\"}")
                .json().get("id").asText();
        await().atMost(PATIENCE).until(() -> links(mergedHub).stream().anyMatch(link -> link.startsWith("hubspot:contact:"))
                && jdbc.queryForObject("SELECT COUNT(*) FROM outbox WHERE contact_id = ? AND target_system = 'pipedrive' "
                + "AND state = 'claimed'", Integer.class, mergedHub) == 1);
        HS.merge(externalId(keptHub, "hubspot"), externalId(mergedHub, "hubspot"));
        await().atMost(PATIENCE).until(() -> api.get("/api/contacts/" + mergedHub).status() == 301);
        // the survivor is deleted too, and Pipedrive's deliveries wait (a backlog) while the new record's webhook comes
        pauses.pause("pipedrive", Duration.ofMinutes(5), "test: a backlog");
        assertThat(api.delete("/api/contacts/" + keptHub).status()).isEqualTo(204);
        await().atMost(PATIENCE).until(() -> jdbc.queryForObject("SELECT COUNT(*) FROM inbox WHERE source_system = 'pipedrive' "
                + "AND state = 'done' AND payload LIKE ?", Integer.class, "%" + merged + "%") > 0);
        PD.faults().clear();
        pauses.resume("pipedrive");

        // the new record was the merged person's: deleted with them, not linked to the survivor in place of its own
        await().during(Duration.ofSeconds(2)).atMost(PATIENCE).untilAsserted(() -> {
            assertThat(PD.findByEmail(merged)).isEmpty();
            assertThat(PD.findByEmail(kept)).isEmpty();
            assertThat(api.get("/api/contacts/" + keptHub).status()).isEqualTo(410);
        });
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM dead_letter WHERE contact_id IN (?, ?)", Integer.class, keptHub,
                mergedHub)).isZero();
    }

    @Test
    void aValueTheHubFillsInOnAHubSpotMergeReachesHubSpotToo() {
        String kept = email("keptFill");
        String merged = email("mergedFill");
        String keptHub = api.post("/api/contacts", "{\"email\":\"" + kept + "\",\"lastName\":\"Kept\"}").json().get("id").asText();
        String mergedHub = api.post("/api/contacts", "{\"email\":\"" + merged + "\",\"lastName\":\"Merged\"}")
                .json().get("id").asText();
        await().atMost(PATIENCE).until(() -> links(keptHub).size() == 3 && links(mergedHub).size() == 3);
        String keptHs = externalId(keptHub, "hubspot");

        // HubSpot never had the merged person's company: the hub's merge fills it into the survivor
        pauses.pause("hubspot", Duration.ofMinutes(5), "test: HubSpot misses the company");
        api.patch("/api/contacts/" + mergedHub, "{\"company\":\"Acme\"}");
        HS.merge(keptHs, externalId(mergedHub, "hubspot"));
        await().atMost(PATIENCE).until(() -> api.get("/api/contacts/" + mergedHub).status() == 301);
        assertThat(api.get("/api/contacts/" + keptHub).json().get("company").asText()).isEqualTo("Acme");
        pauses.resume("hubspot");

        await().atMost(PATIENCE).untilAsserted(() -> assertThat(property(HS.find(keptHs).orElseThrow(), "company"))
                .isEqualTo("Acme"));
    }

    @Test
    void aValueAPipedriveMergeFillsInLosesToAnEditMadeAfterTheMergeBeforeTheHubHeardOfIt() throws Exception {
        String kept = email("keptLater");
        String merged = email("mergedLater");
        String keptHub = api.post("/api/contacts", "{\"email\":\"" + kept + "\",\"lastName\":\"Kept\"}").json().get("id").asText();
        String mergedHub = api.post("/api/contacts", "{\"email\":\"" + merged + "\",\"lastName\":\"Merged\",\"company\":\"Acme\"}")
                .json().get("id").asText();
        await().atMost(PATIENCE).until(() -> links(keptHub).size() == 3 && links(mergedHub).size() == 3);
        String keptHs = externalId(keptHub, "hubspot");

        // Pipedrive merges; the survivor's company is then set in HubSpot, before the hub hears of the merge
        PD.webhooks().pause();
        HS.webhooks().pause();
        PD.merge(Long.parseLong(externalId(mergedHub, "pipedrive")), Long.parseLong(externalId(keptHub, "pipedrive")));
        Thread.sleep(50);
        HS.update(keptHs, Map.of("company", "Globex"));
        PD.webhooks().resume();
        await().atMost(PATIENCE).until(() -> api.get("/api/contacts/" + mergedHub).status() == 301);
        HS.webhooks().resume();

        // the merge filled in the merged person's Acme; HubSpot's Globex came after the merge and wins
        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(api.get("/api/contacts/" + keptHub).json().get("company").asText()).isEqualTo("Globex");
            assertThat(property(HS.find(keptHs).orElseThrow(), "company")).isEqualTo("Globex");
        });
        await().atMost(PATIENCE).until(() -> outboxPending(keptHub) == 0);
        assertThat(api.get("/api/contacts/" + keptHub).json().get("company").asText()).isEqualTo("Globex");
        assertThat(property(HS.find(keptHs).orElseThrow(), "company")).isEqualTo("Globex");
    }

    @Test
    void aPipedriveMergeIntoAPersonDeletedMeanwhileEndsTheMergedPersonEverywhere() {
        String kept = email("kept");
        String merged = email("merged");
        String keptHub = api.post("/api/contacts", "{\"email\":\"" + kept + "\",\"lastName\":\"Kept\"}").json().get("id").asText();
        String mergedHub = api.post("/api/contacts", "{\"email\":\"" + merged + "\",\"lastName\":\"Merged\"}")
                .json().get("id").asText();
        await().atMost(PATIENCE).until(() -> links(keptHub).size() == 3 && links(mergedHub).size() == 3);

        // merged in Pipedrive while its webhooks are late; the survivor is deleted through the API before they come
        PD.webhooks().pause();
        PD.merge(Long.parseLong(externalId(mergedHub, "pipedrive")), Long.parseLong(externalId(keptHub, "pipedrive")));
        assertThat(api.delete("/api/contacts/" + keptHub).status()).isEqualTo(204);
        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(liveHubSpot(kept)).isEmpty();
            assertThat(liveSalesforce(kept)).isEmpty();
        });
        PD.webhooks().resume();

        await().during(Duration.ofSeconds(2)).atMost(PATIENCE).untilAsserted(() -> {
            assertThat(api.get("/api/contacts/" + mergedHub).status()).isEqualTo(301);
            assertThat(liveHubSpot(merged)).isEmpty();
            assertThat(liveSalesforce(merged)).isEmpty();
            assertThat(PD.findByEmail(merged)).isEmpty();
            assertThat(PD.findByEmail(kept)).isEmpty();
        });
    }

    @Test
    void anEditOfTheMergedPersonsRecordMadeBeforeTheMergeAndReadAfterItDoesNotOverwriteTheSurvivor() {
        String kept = email("keptOwnValues");
        String merged = email("mergedEdited");
        String edited = email("mergedEditedAgain");
        String mergedHub = api.post("/api/contacts", "{\"email\":\"" + merged + "\",\"lastName\":\"Merged\"}")
                .json().get("id").asText();
        await().atMost(PATIENCE).until(() -> links(mergedHub).size() == 3);
        String mergedHs = externalId(mergedHub, "hubspot");
        // the survivor's HubSpot create waits, so the merge moves the merged person's HubSpot record to it
        pauses.pause("hubspot", Duration.ofMinutes(5), "test: the survivor has no HubSpot record yet");
        String keptHub = api.post("/api/contacts", "{\"email\":\"" + kept + "\",\"lastName\":\"Kept\"}")
                .json().get("id").asText();
        await().atMost(PATIENCE).until(() -> links(keptHub).size() == 2);

        // the merged person's record is edited in HubSpot, webhook late; then Pipedrive merges the two people
        HS.webhooks().pause();
        HS.update(mergedHs, Map.of("email", edited, "lastname", "Edited"));
        PD.merge(Long.parseLong(externalId(mergedHub, "pipedrive")), Long.parseLong(externalId(keptHub, "pipedrive")));
        await().atMost(PATIENCE).until(() -> api.get("/api/contacts/" + mergedHub).status() == 301);
        assertThat(links(keptHub)).contains("hubspot:contact:" + mergedHs);
        HS.webhooks().resume();
        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM inbox WHERE source_system = 'hubspot' AND external_id = ? "
                    + "AND state = 'done' AND payload LIKE ?", Integer.class, mergedHs, "%" + edited + "%")).isPositive();
            assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM inbox WHERE source_system = 'hubspot' AND external_id = ? "
                    + "AND state IN ('pending', 'claimed')", Integer.class, mergedHs)).isZero();
        });
        JsonNode survivor = api.get("/api/contacts/" + keptHub).json();
        assertThat(survivor.get("email").asText()).isEqualTo(kept);
        assertThat(survivor.get("lastName").asText()).isEqualTo("Kept");
        pauses.resume("hubspot");

        // the moved record becomes the survivor's; the merged person's edit lives nowhere
        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(HS.find(mergedHs).orElseThrow()).satisfies(c -> {
                assertThat(property(c, "email")).isEqualTo(kept);
                assertThat(property(c, "lastname")).isEqualTo("Kept");
            });
            assertThat(liveSalesforce(kept)).singleElement().satisfies(r -> assertThat(r).containsEntry("LastName", "Kept"));
            assertThat(PD.findByEmail(kept)).hasSize(1);
        });
        assertThat(liveHubSpot(edited)).isEmpty();
        assertThat(liveSalesforce(edited)).isEmpty();
        assertThat(PD.findByEmail(edited)).isEmpty();
        assertThat(api.get("/api/contacts?email=" + edited).json().get("items")).isEmpty();
    }

    @Test
    void aHubSpotMergeWhileTheSurvivorsCreateIsOnItsWayToSalesforceLeavesOneRecordThere() {
        String kept = email("kept");
        String merged = email("merged");
        String mergedHub = api.post("/api/contacts", "{\"email\":\"" + merged + "\",\"lastName\":\"Merged\"}")
                .json().get("id").asText();
        await().atMost(PATIENCE).until(() -> links(mergedHub).size() == 3);

        // the survivor is new in HubSpot; its create in Salesforce is slow to answer when the merge comes
        SF.faults().latency(Duration.ofSeconds(4));
        String keptHs = String.valueOf(HS.create(Map.of("email", kept, "lastname", "Kept")).get("id"));
        String keptHub = await().atMost(PATIENCE).until(() -> api.get("/api/contacts?email=" + kept).json().get("items"),
                items -> items.size() == 1).get(0).get("id").asText();
        await().atMost(PATIENCE).until(() -> jdbc.queryForObject("SELECT COUNT(*) FROM outbox WHERE contact_id = ? "
                + "AND target_system = 'salesforce' AND state = 'claimed'", Integer.class, keptHub) == 1);
        HS.merge(keptHs, externalId(mergedHub, "hubspot"));
        await().atMost(PATIENCE).until(() -> api.get("/api/contacts/" + mergedHub).status() == 301);
        SF.faults().latency(Duration.ZERO);

        await().during(Duration.ofSeconds(3)).atMost(PATIENCE).untilAsserted(() -> {
            assertThat(liveSalesforce(kept)).hasSize(1);
            assertThat(liveSalesforce(merged)).isEmpty();
            assertThat(PD.findByEmail(kept)).hasSize(1);
            assertThat(PD.findByEmail(merged)).isEmpty();
        });
    }

    @Test
    void aPipedriveMergeIntoAPersonTheHubHasNotReadYetKeepsThatPersonsValuesOverTheMergedPersonsLaterEdit() {
        String mergedEmail = email("pdMerged");
        String changedEmail = email("pdMergedChanged");
        String survivorEmail = email("pdSurvivor");
        String hubId = api.post("/api/contacts", "{\"email\":\"" + mergedEmail + "\",\"lastName\":\"Merged\"}")
                .json().get("id").asText();
        await().atMost(PATIENCE).until(() -> links(hubId).size() == 3);

        // the survivor's creation is missed (webhook lost, no poll while Pipedrive is paused); the merged person is
        // edited in the hub after Pipedrive merged the two and before the hub hears of the merge
        pauses.pause("pipedrive", Duration.ofMinutes(5), "test: no poll finds the survivor");
        PD.webhooks().loseNext(1);
        long survivorPd = ((Number) PD.create(Map.of("name", "Surviving Person", "emails",
                List.of(Map.of("value", survivorEmail, "primary", true)))).get("id")).longValue();
        PD.webhooks().pause();
        PD.merge(Long.parseLong(externalId(hubId, "pipedrive")), survivorPd);
        api.patch("/api/contacts/" + hubId, "{\"email\":\"" + changedEmail + "\",\"lastName\":\"Edited\"}");
        PD.webhooks().resume();

        // the survivor's record, read first after the merge, keeps its own values
        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(links(hubId)).contains("pipedrive:person:" + survivorPd);
            assertThat(api.get("/api/contacts/" + hubId).json().get("email").asText()).isEqualTo(survivorEmail);
        });
        assertThat(api.get("/api/contacts/" + hubId).json().get("lastName").asText()).isEqualTo("Person");
        pauses.resume("pipedrive");
        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(liveSalesforce(survivorEmail)).singleElement().satisfies(r -> assertThat(r).containsEntry("LastName", "Person"));
            assertThat(liveHubSpot(survivorEmail)).hasSize(1);
        });
        assertThat(liveSalesforce(changedEmail)).isEmpty();
        assertThat(liveHubSpot(changedEmail)).isEmpty();
        assertThat(PD.findByEmail(changedEmail)).isEmpty();
    }

    @Test
    void aHubSpotMergeIntoAContactTheHubHasNotReadYetKeepsThatContactsOwnEmail() throws Exception {
        String mergedEmail = email("merged");
        String changedEmail = email("changed");
        String survivorEmail = email("survivor");
        String hubId = api.post("/api/contacts", "{\"email\":\"" + mergedEmail + "\",\"lastName\":\"Merged\"}")
                .json().get("id").asText();
        await().atMost(PATIENCE).until(() -> links(hubId).size() == 3);
        String mergedHs = externalId(hubId, "hubspot");

        // the hub changes the merged person while its HubSpot record is merged into one whose creation it missed
        camel.getRouteController().stopRoute("hubspot-deliver");
        api.patch("/api/contacts/" + hubId, "{\"email\":\"" + changedEmail + "\"}");
        HS.webhooks().loseShare(1.0);
        String survivorHs = String.valueOf(HS.create(Map.of("email", survivorEmail, "lastname", "Survivor")).get("id"));
        HS.webhooks().keepAll();
        HS.merge(survivorHs, mergedHs);
        await().atMost(PATIENCE).until(() -> links(hubId).contains("hubspot:contact:" + survivorHs));
        camel.getRouteController().startRoute("hubspot-deliver");
        await().atMost(PATIENCE).until(() -> jdbc.queryForObject("SELECT COUNT(*) FROM outbox WHERE contact_id = ? "
                + "AND target_system = 'hubspot' AND state IN ('pending', 'claimed')", Integer.class, hubId) == 0);
        // the survivor's record reaches the hub by a read of HubSpot (here a reconcile; the poll would too)
        String run = api.post("/api/sync/hubspot/runs", "{\"type\":\"reconcile\"}").json().get("id").asText();
        await().atMost(PATIENCE).until(() -> !api.get("/api/sync/runs/" + run).json().path("endedAt").isNull());

        await().during(Duration.ofSeconds(2)).atMost(PATIENCE).untilAsserted(() -> {
            assertThat(property(HS.find(survivorHs).orElseThrow(), "email")).isEqualTo(survivorEmail);
            assertThat(api.get("/api/contacts/" + hubId).json().get("email").asText()).isEqualTo(survivorEmail);
            assertThat(liveSalesforce(survivorEmail)).hasSize(1);
            assertThat(liveSalesforce(changedEmail)).isEmpty();
            assertThat(PD.findByEmail(survivorEmail)).hasSize(1);
        });
    }

    // helpers

    static String id(Map<String, Object> record) {
        return String.valueOf(record.get("Id"));
    }

    static List<Map<String, Object>> liveSalesforce(String email) {
        return SF.live(SalesforceSimulator.CONTACT).stream()
                .filter(r -> email.equalsIgnoreCase(String.valueOf(r.get("Email")))).toList();
    }

    static List<Map<String, Object>> liveHubSpot(String email) {
        return HS.live().stream().filter(c -> email.equalsIgnoreCase(String.valueOf(property(c, "email")))).toList();
    }

    List<String> links(String contactId) {
        return jdbc.queryForList("SELECT system || ':' || object_type || ':' || external_id FROM contact_link "
                + "WHERE contact_id = ?", String.class, contactId);
    }

    int outboxPending(String contactId) {
        return jdbc.queryForObject("SELECT COUNT(*) FROM outbox WHERE contact_id = ? AND state IN ('pending', 'claimed')",
                Integer.class, contactId);
    }

    String externalId(String contactId, String system) {
        return jdbc.queryForObject("SELECT external_id FROM contact_link WHERE contact_id = ? AND system = ?", String.class,
                contactId, system);
    }
}
