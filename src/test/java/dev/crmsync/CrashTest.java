package dev.crmsync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crmsync.sim.hubspot.HubSpotSimulator;
import dev.crmsync.sim.hubspot.HubSpotWebhooks;
import dev.crmsync.sim.pipedrive.PipedriveSimulator;
import dev.crmsync.sim.pipedrive.PipedriveWebhooks;
import dev.crmsync.sim.salesforce.SalesforceSimulator;
import dev.crmsync.support.Http;
import dev.crmsync.support.ServiceProcess;
import dev.crmsync.support.Simulated;
import dev.crmsync.support.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Durable acknowledgement, proved from outside: the service in its own JVM, writers on the contacts
 * API (creates and PATCHes), HubSpot's signed webhooks, Pipedrive's webhooks with Basic credentials
 * and Salesforce's poll, a SIGKILL while they write, a start on the same data. Every change the
 * service answered 2xx must then be in the hub with its value, and no person twice. HubSpot's and
 * Pipedrive's polls are off, so a change whose webhook was acknowledged reaches the hub only through
 * what the service stored before answering.
 */
class CrashTest {

    private static final Duration WRITING = Duration.ofSeconds(5);
    private static final Duration PATIENCE = Duration.ofSeconds(90);
    private static final String HUBSPOT_SECRET = "crash-hubspot-client-secret";
    private static final String PIPEDRIVE_USER = "crash-hooks";
    private static final String PIPEDRIVE_PASSWORD = "crash-hooks-password-0123";

    @TempDir
    Path temp;

    @Test
    void everyAcknowledgedChangeSurvivesSigkillOnH2() throws Exception {
        Path data = temp.resolve("data");
        Map<String, String> properties = Map.of("crmsync.data-dir", data.toString());
        crashAndRestart("h2", properties, Map.of(), () -> DriverManager.getConnection("jdbc:h2:file:" + data
                + "/crmsync;MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE", "sa", ""));
    }

    @Test
    void everyAcknowledgedChangeSurvivesSigkillOnPostgres() throws Exception {
        String url = TestPostgres.newDatabase();
        crashAndRestart("postgres", Map.of("spring.profiles.active", "postgres"),
                Map.of("CRMSYNC_DB_URL", url, "CRMSYNC_DB_USER", "postgres", "CRMSYNC_DB_PASSWORD", "postgres"),
                () -> TestPostgres.dataSource(url).getConnection());
    }

    interface Store {
        Connection open() throws SQLException;
    }

    /** What the writers were told was done, and what they sent without an answer. */
    static final class Acknowledged {
        /** email -> the API contact's id, once its create answered 201. */
        final Map<String, String> apiCreated = new ConcurrentHashMap<>();
        /** email -> the title its last PATCH answered 200 for. */
        final Map<String, String> apiTitle = new ConcurrentHashMap<>();
        /** email -> a title sent whose answer never came (it may or may not have been applied). */
        final Map<String, String> apiTitleUnanswered = new ConcurrentHashMap<>();
        /** HubSpot contact id -> email, of the contacts the test made in HubSpot. */
        final Map<String, String> hubspotMade = new ConcurrentHashMap<>();
        /** Pipedrive person id -> email, of the persons the test made in Pipedrive. */
        final Map<Long, String> pipedriveMade = new ConcurrentHashMap<>();
        /** emails of the Contacts the test made in Salesforce. */
        final Set<String> salesforceMade = ConcurrentHashMap.newKeySet();
        final AtomicInteger apiPatches = new AtomicInteger();
        /** A permit for each 2xx the API writers got. */
        final Semaphore answered = new Semaphore(0);
    }

    private void crashAndRestart(String database, Map<String, String> dbProperties, Map<String, String> environment,
                                 Store store) throws Exception {
        SalesforceSimulator sf = SalesforceSimulator.builder().externalIdField(Simulated.SALESFORCE_HUB_ID).build().start();
        HubSpotSimulator hs = HubSpotSimulator.builder().uniqueProperty(Simulated.HUBSPOT_HUB_ID).token("crash-hubspot-token").clientSecret(HUBSPOT_SECRET)
                .propertyChangesOnCreate(false).webhookFlushInterval(Duration.ofMillis(100))
                .webhookRetryDelay(Duration.ofMillis(500)).build().start();
        PipedriveSimulator pd = PipedriveSimulator.builder().apiToken("crash-pipedrive-token")
                .webhookRetryDelays(Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(2),
                        Duration.ofSeconds(4), Duration.ofSeconds(8)).build().start();
        ServiceProcess service = null;
        try {
            Map<String, String> properties = new LinkedHashMap<>(wiring(sf, hs, pd));
            properties.put("crmsync.home", Path.of("").toAbsolutePath().toString());
            properties.put("logging.level.root", "WARN");
            properties.put("crmsync.sync.process-period", "100");
            properties.putAll(dbProperties);
            service = ServiceProcess.start("crash-" + database, Path.of("").toAbsolutePath(),
                    Path.of("target", "crash").toAbsolutePath(), "512m",
                    // the client compiler only: the process starts twice, and throughput is not measured here
                    List.of("-XX:TieredStopAtLevel=1"), properties, environment);
            hs.webhooks().target(service.baseUrl() + "/webhooks/hubspot");
            pd.webhooks().target(service.baseUrl() + "/webhooks/pipedrive", PIPEDRIVE_USER, PIPEDRIVE_PASSWORD);

            Acknowledged acked = new Acknowledged();
            AtomicBoolean writing = new AtomicBoolean(true);
            ExecutorService writers = Executors.newFixedThreadPool(6);
            List<Future<?>> running = new ArrayList<>();
            Http api = service.api();
            for (int w = 0; w < 3; w++) {
                int writer = w;
                running.add(writers.submit(() -> apiWriter(writer, api, acked, writing)));
            }
            running.add(writers.submit(() -> crmWriter(writing, n -> {
                String email = email("hs", n);
                Map<String, Object> made = hs.create(Map.of("email", email, "firstname", "Hub", "lastname", "Spot" + n));
                acked.hubspotMade.put(String.valueOf(made.get("id")), email);
            })));
            running.add(writers.submit(() -> crmWriter(writing, n -> {
                String email = email("pd", n);
                Map<String, Object> made = pd.create(Map.of("first_name", "Pipe", "last_name", "Drive" + n,
                        "emails", List.of(Map.of("value", email, "primary", true, "label", "work"))));
                acked.pipedriveMade.put(((Number) made.get("id")).longValue(), email);
            })));
            running.add(writers.submit(() -> crmWriter(writing, n -> {
                String email = email("sf", n);
                sf.seed(SalesforceSimulator.CONTACT, Map.of("FirstName", "Sales", "LastName", "Force" + n, "Email", email));
                acked.salesforceMade.add(email);
            })));

            Thread.sleep(WRITING.toMillis()); // the load's duration, not a wait for a condition
            // the kill follows a 2xx at once, while that change is the newest commit: the instant a
            // store that writes committed changes later loses them
            acked.answered.drainPermits();
            assertThat(acked.answered.tryAcquire(60, TimeUnit.SECONDS)).as("an API write answered 2xx").isTrue();
            service.kill();
            writing.set(false);
            for (Future<?> writer : running) {
                writer.get(30, TimeUnit.SECONDS);
            }
            writers.shutdown();

            service = service.startAgain();
            ServiceProcess restarted = service;
            Map<String, Integer> figures = new LinkedHashMap<>();
            await().atMost(PATIENCE).pollInterval(Duration.ofSeconds(1)).untilAsserted(() ->
                    assertThat(lost(restarted.api(), acked, hs, pd, figures))
                            .as(() -> "acknowledged changes not in the hub (acknowledged: " + figures + ")")
                            .isEmpty());
            Map<String, List<String>> hubByEmail = hub(service.api()).stream().collect(Collectors.groupingBy(
                    c -> c.path("email").asText().toLowerCase(Locale.ROOT), Collectors.mapping(c -> c.path("id").asText(),
                            Collectors.toList())));
            System.out.printf("[crash %s] acknowledged %s; lost 0; hub contacts %d%n", database, figures, hubByEmail.size());
            assertThat(hubByEmail.entrySet().stream().filter(e -> e.getValue().size() > 1).map(Map.Entry::getKey).toList())
                    .as("emails with more than one live hub contact").isEmpty();
            assertThat(figures.get("api creates")).as("API creates acknowledged before the kill").isPositive();
            assertThat(figures.get("hubspot events")).as("HubSpot events acknowledged").isPositive();
            assertThat(figures.get("pipedrive events")).as("Pipedrive events acknowledged").isPositive();

            service.close();
            try (Connection connection = store.open(); Statement statement = connection.createStatement();
                 ResultSet rs = statement.executeQuery("SELECT COUNT(*) FROM (SELECT idempotency_key FROM inbox "
                         + "WHERE idempotency_key IS NOT NULL GROUP BY idempotency_key HAVING COUNT(*) > 1) d")) {
                rs.next();
                assertThat(rs.getLong(1)).as("inbox idempotency keys stored twice").isZero();
            }
        } finally {
            if (service != null) {
                service.close();
            }
            sf.stop();
            hs.stop();
            pd.stop();
        }
    }

    /** Creates contacts and PATCHes the one it created before, until told to stop. */
    private static Void apiWriter(int writer, Http api, Acknowledged acked, AtomicBoolean writing) {
        String previous = null;
        for (int n = 0; writing.get(); n++) {
            String email = email("api" + writer, n);
            try {
                Http.Reply created = api.post("/api/contacts", "{\"email\":\"" + email + "\",\"firstName\":\"Api\",\"lastName\":\"W"
                        + writer + "\"}");
                if (created.status() == 201) {
                    acked.apiCreated.put(email, created.json().path("id").asText());
                    acked.answered.release();
                }
            } catch (RuntimeException e) {
                // no answer: the create may or may not have been applied
            }
            if (previous != null && acked.apiCreated.containsKey(previous)) {
                String title = "Title " + n;
                acked.apiTitleUnanswered.put(previous, title);
                try {
                    Http.Reply patched = api.patch("/api/contacts/" + acked.apiCreated.get(previous),
                            "{\"title\":\"" + title + "\"}", "Content-Type", "application/merge-patch+json");
                    if (patched.status() == 200) {
                        acked.apiTitle.put(previous, title);
                        acked.apiTitleUnanswered.remove(previous);
                        acked.apiPatches.incrementAndGet();
                        acked.answered.release();
                    }
                } catch (RuntimeException e) {
                    // no answer: the title may or may not have been applied
                }
            }
            previous = email;
        }
        return null;
    }

    interface Write {
        void make(int n) throws Exception;
    }

    /** A person made in a CRM every 50 ms, as people there would, until told to stop. */
    private static Void crmWriter(AtomicBoolean writing, Write write) throws Exception {
        for (int n = 0; writing.get(); n++) {
            write.make(n);
            Thread.sleep(50);
        }
        return null;
    }

    /**
     * Every acknowledged change that is not in the hub as acknowledged, and the counts of what was
     * acknowledged into {@code figures}.
     */
    private static List<String> lost(Http api, Acknowledged acked, HubSpotSimulator hs, PipedriveSimulator pd,
                                     Map<String, Integer> figures) {
        Map<String, JsonNode> hub = new HashMap<>();
        for (JsonNode contact : hub(api)) {
            hub.put(contact.path("email").asText().toLowerCase(Locale.ROOT), contact);
        }
        List<String> lost = new ArrayList<>();
        acked.apiCreated.forEach((email, id) -> {
            JsonNode contact = hub.get(email);
            if (contact == null) {
                lost.add("API create " + email + " (201, id " + id + ")");
                return;
            }
            String title = contact.path("title").isNull() ? null : contact.path("title").asText(null);
            String acknowledged = acked.apiTitle.get(email);
            String unanswered = acked.apiTitleUnanswered.get(email);
            boolean fine = java.util.Objects.equals(title, acknowledged) || (unanswered != null && unanswered.equals(title));
            if (!fine) {
                lost.add("API PATCH of " + email + ": title " + title + ", acknowledged " + acknowledged);
            }
        });
        Set<Long> hubspotAcked = hs.webhooks().deliveries().stream().filter(HubSpotWebhooks.Delivery::succeeded)
                .flatMap(d -> d.eventIds().stream()).collect(Collectors.toSet());
        List<HubSpotWebhooks.Event> hubspotEvents = hs.webhooks().events().stream()
                .filter(e -> hubspotAcked.contains(e.eventId()) && acked.hubspotMade.containsKey(String.valueOf(e.objectId())))
                .toList();
        for (HubSpotWebhooks.Event event : hubspotEvents) {
            String email = acked.hubspotMade.get(String.valueOf(event.objectId()));
            if (!hub.containsKey(email)) {
                lost.add("HubSpot " + event.subscriptionType() + " event " + event.eventId() + " of " + email + " (200)");
            }
        }
        List<PipedriveWebhooks.Delivery> pipedriveAcked = pd.webhooks().deliveries().stream()
                .filter(d -> d.outcome() == PipedriveWebhooks.Outcome.DELIVERED && acked.pipedriveMade.containsKey(d.entityId()))
                .toList();
        for (PipedriveWebhooks.Delivery delivery : pipedriveAcked) {
            String email = acked.pipedriveMade.get(delivery.entityId());
            if (!hub.containsKey(email)) {
                lost.add("Pipedrive " + delivery.action() + " event " + delivery.eventId() + " of " + email + " (200)");
            }
        }
        // a poll page is read again when its cursor was not kept, so every Salesforce Contact arrives
        for (String email : acked.salesforceMade) {
            if (!hub.containsKey(email)) {
                lost.add("Salesforce Contact " + email);
            }
        }
        figures.put("api creates", acked.apiCreated.size());
        figures.put("api patches", acked.apiPatches.get());
        figures.put("hubspot events", hubspotEvents.size());
        figures.put("pipedrive events", pipedriveAcked.size());
        figures.put("salesforce contacts", acked.salesforceMade.size());
        return lost;
    }

    /** Every live hub contact, through the API. */
    private static List<JsonNode> hub(Http api) {
        List<JsonNode> contacts = new ArrayList<>();
        String cursor = null;
        do {
            Http.Reply page = api.get("/api/contacts?limit=500" + (cursor == null ? "" : "&cursor=" + cursor));
            assertThat(page.status()).as("listing the hub: %s", page).isEqualTo(200);
            JsonNode json = page.json();
            json.path("items").forEach(contacts::add);
            cursor = json.path("nextCursor").isTextual() ? json.path("nextCursor").asText() : null;
        } while (cursor != null);
        return contacts;
    }

    private static String email(String who, int n) {
        return who + "-" + n + "-" + java.util.UUID.randomUUID().toString().substring(0, 6) + "@example.com";
    }

    /** The service properties that connect the three simulators (HubSpot's and Pipedrive's polls off). */
    private static Map<String, String> wiring(SalesforceSimulator sf, HubSpotSimulator hs, PipedriveSimulator pd) {
        Map<String, String> properties = new LinkedHashMap<>();
        org.springframework.test.context.DynamicPropertyRegistry registry =
                (name, value) -> properties.put(name, String.valueOf(value.get()));
        Simulated.salesforce(registry, sf);
        Simulated.hubspot(registry, hs, HUBSPOT_SECRET);
        Simulated.pipedrive(registry, pd, PIPEDRIVE_USER, PIPEDRIVE_PASSWORD);
        return properties;
    }
}
