package dev.crmsync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import dev.crmsync.CrmContactSync;
import dev.crmsync.sim.GenericCrmSimulator;
import dev.crmsync.support.Http;
import dev.crmsync.support.ServiceTest;
import org.apache.camel.CamelContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.datasource.DriverManagerDataSource;

/**
 * The service stopped and started again on the same database and port (so with the same instance
 * id): what a crash left claimed is taken back at once, other instances' claims keep their leases,
 * and a stop with deliveries in flight ends within 10 s and gives them back for the next start.
 */
class RestartTest {

    static final GenericCrmSimulator CRM1 = GenericCrmSimulator.builder().token("token-crm1").build().start();

    final String database = "jdbc:h2:mem:restart-" + UUID.randomUUID() + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;"
            + "DEFAULT_NULL_ORDERING=HIGH;DB_CLOSE_DELAY=-1";
    final JdbcTemplate jdbc = new JdbcTemplate(new DriverManagerDataSource(database, "sa", ""));
    final int port = freePort();
    ConfigurableApplicationContext service;

    @AfterEach
    void stopService() {
        if (service != null) {
            service.close();
        }
        CRM1.faults().clear();
    }

    @AfterAll
    static void stopCrm() {
        CRM1.stop();
    }

    @Test
    void whatACrashLeftClaimedIsTakenBackAtStartWhileAnotherInstancesLiveClaimWaitsForItsLease() {
        start(false);
        String ownId = service.getBean(Instance.class).id();
        Http api = new Http(port).withHeader("X-Api-Key", ServiceTest.API_KEY);
        String mine = email("delivery-mine");
        String theirs = email("delivery-theirs");
        String mineContact = api.post("/api/contacts", "{\"email\":\"" + mine + "\",\"lastName\":\"Mine\"}").json().get("id").asText();
        String theirsContact = api.post("/api/contacts", "{\"email\":\"" + theirs + "\",\"lastName\":\"Theirs\"}").json().get("id").asText();
        service.close();
        service = null;

        // as a killed process leaves them: claimed a moment ago, by this instance and by another one
        Instant claimedAt = Instant.now();
        String ownChange = email("change-mine");
        String otherChange = email("change-theirs");
        long ownInbox = claimedChange("r-own", ownChange, ownId, claimedAt);
        long ownOutbox = claimedDelivery(mineContact, ownId, claimedAt);

        start(true, "--crmsync.sync.claim-lease=PT15S");
        long started = System.nanoTime();
        // another instance, alive, claimed these just now
        Instant theirClaim = Instant.now();
        long otherInbox = claimedChange("r-other", otherChange, "another-host:8080", theirClaim);
        long otherOutbox = claimedDelivery(theirsContact, "another-host:8080", theirClaim);

        await().atMost(Duration.ofSeconds(5)).until(() -> state("inbox", ownInbox).equals("done")
                && state("outbox", ownOutbox).equals("delivered"));
        Duration recovered = Duration.ofNanos(System.nanoTime() - started);
        assertThat(recovered).isLessThan(Duration.ofSeconds(5));
        assertThat(jdbc.queryForObject("SELECT last_name FROM contact WHERE email = ?", String.class, ownChange)).isEqualTo("Own");
        assertThat(CRM1.live()).anySatisfy(record -> assertThat(record).containsEntry("Email", mine).containsEntry("LastName", "Mine"));
        // the other instance's claims are its own until their leases end
        assertThat(state("inbox", otherInbox)).isEqualTo("claimed");
        assertThat(jdbc.queryForObject("SELECT claimed_by FROM inbox WHERE id = ?", String.class, otherInbox)).isEqualTo("another-host:8080");
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM contact WHERE email = ?", Long.class, otherChange)).isZero();
        assertThat(state("outbox", otherOutbox)).isEqualTo("claimed");
        assertThat(CRM1.records()).noneSatisfy(record -> assertThat(record.get("Email")).isEqualTo(theirs));

        // once its lease (15 s) is over, the other instance's change is taken as a dead worker's
        await().atMost(Duration.ofSeconds(40)).until(() -> state("inbox", otherInbox).equals("done"));
        Instant processed = jdbc.queryForObject("SELECT processed_at FROM inbox WHERE id = ?", Timestamp.class, otherInbox).toInstant();
        assertThat(processed).isAfterOrEqualTo(theirClaim.plusSeconds(15));
        assertThat(jdbc.queryForObject("SELECT last_name FROM contact WHERE email = ?", String.class, otherChange)).isEqualTo("Other");
    }

    @Test
    void aStopWithHundredsOfDeliveriesInFlightEndsWithinTenSecondsAndTheNextStartDeliversThemAll() throws Exception {
        start(true, "--crmsync.providers.crm1.batch-size=300");
        Http api = new Http(port).withHeader("X-Api-Key", ServiceTest.API_KEY);
        // the deliveries wait while the contacts are written, so that one claim takes them all
        service.getBean(CamelContext.class).getRouteController().suspendRoute("crm1-deliver");
        // every call takes 3 s: ten at a time, 300 take a minute and a half
        CRM1.faults().latency(Duration.ofSeconds(3));
        String batch = UUID.randomUUID().toString().substring(0, 8);
        List<String> emails = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            String email = "stop" + i + "-" + batch + "@example.com";
            emails.add(email);
            assertThat(api.post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Stop" + i + "\"}").status()).isEqualTo(201);
        }
        service.getBean(CamelContext.class).getRouteController().resumeRoute("crm1-deliver");
        await().atMost(Duration.ofSeconds(30)).until(() -> count("SELECT COUNT(*) FROM outbox WHERE state = 'claimed'") >= 250);

        long closing = System.nanoTime();
        service.close();
        service = null;
        Duration stop = Duration.ofNanos(System.nanoTime() - closing);

        assertThat(stop).isLessThan(Duration.ofSeconds(10));
        assertThat(count("SELECT COUNT(*) FROM outbox WHERE state NOT IN ('pending', 'delivered')")).isZero();
        assertThat(count("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")).isPositive();
        assertThat(count("SELECT COUNT(*) FROM dead_letter")).isZero();

        // the calls the simulator was still answering land; then the next start sends what is left
        await().atMost(Duration.ofSeconds(30)).during(Duration.ofSeconds(4)).until(() -> CRM1.records().size(), size -> true);
        CRM1.faults().clear();
        start(true);
        await().atMost(Duration.ofSeconds(60)).until(() -> count("SELECT COUNT(*) FROM outbox WHERE state <> 'delivered'") == 0);
        for (String email : emails) {
            assertThat(CRM1.records().stream().filter(record -> email.equals(record.get("Email"))).count()).as(email).isEqualTo(1);
        }
        assertThat(count("SELECT COUNT(*) FROM dead_letter")).isZero();
        System.out.println("RestartTest: the stop with deliveries in flight took " + stop.toMillis() + " ms");
    }

    private void start(boolean crm1, String... extra) {
        List<String> args = new ArrayList<>(List.of("--server.port=" + port, "--spring.datasource.url=" + database,
                "--logging.level.root=WARN", "--spring.jmx.enabled=false", "--camel.main.jmx-enabled=false",
                "--crmsync.api-key=" + ServiceTest.API_KEY, "--crmsync.admin.password=" + ServiceTest.ADMIN_PASSWORD,
                "--crmsync.sync.process-period=100", "--crmsync.delivery.redelivery-delay=100"));
        if (crm1) {
            String p = "--crmsync.providers.crm1.";
            args.addAll(List.of(p + "enabled=true", p + "base-url=" + CRM1.baseUrl(), p + "auth-value=Bearer " + CRM1.token(),
                    p + "poll-cron=0 0 0 1 1 ? 2099", p + "deliver-period=100"));
        }
        args.addAll(List.of(extra));
        service = new SpringApplicationBuilder(CrmContactSync.class).run(args.toArray(String[]::new));
    }

    private long claimedChange(String externalId, String email, String worker, Instant at) {
        String payload = "{\"Id\":\"" + externalId + "\",\"Email\":\"" + email + "\",\"LastName\":\""
                + (externalId.equals("r-own") ? "Own" : "Other") + "\",\"LastModified\":\"" + at + "\"}";
        jdbc.update("INSERT INTO inbox (idempotency_key, source_system, object_type, external_id, operation, payload, "
                        + "remote_modified_at, received_at, state, claimed_by, claimed_at, attempts) "
                        + "VALUES (?, 'crm1', 'contact', ?, 'update', ?, ?, ?, 'claimed', ?, ?, 1)",
                "test:" + externalId, externalId, payload, Timestamp.from(at), Timestamp.from(at), worker, Timestamp.from(at));
        return jdbc.queryForObject("SELECT id FROM inbox WHERE idempotency_key = ?", Long.class, "test:" + externalId);
    }

    private long claimedDelivery(String contactId, String worker, Instant at) {
        jdbc.update("INSERT INTO outbox (contact_id, target_system, object_type, operation, contact_version, state, attempts, "
                        + "next_attempt_at, claimed_by, claimed_at, created_at) VALUES (?, 'crm1', 'contact', 'create', 1, 'claimed', 1, ?, ?, ?, ?)",
                contactId, Timestamp.from(at), worker, Timestamp.from(at), Timestamp.from(at));
        return jdbc.queryForObject("SELECT MAX(id) FROM outbox WHERE contact_id = ?", Long.class, contactId);
    }

    private String state(String table, long id) {
        return jdbc.queryForObject("SELECT state FROM " + table + " WHERE id = ?", String.class, id);
    }

    private long count(String sql) {
        return jdbc.queryForObject(sql, Long.class);
    }

    private static String email(String who) {
        return who + "-" + UUID.randomUUID().toString().substring(0, 8) + "@example.com";
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
