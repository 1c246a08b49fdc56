package dev.crmsync.sync;

import static dev.crmsync.support.Simulated.email;
import static dev.crmsync.support.Simulated.liveIn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

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
 * A delivery that is waiting out its retries when the service stops is sent as soon as the service
 * is back, not after its claim's five-minute lease: the stopping service gives its claims back.
 */
class DeliveryResumeTest {

    static final GenericCrmSimulator crm1 = GenericCrmSimulator.builder().token("token-crm1").build().start();
    static final GenericCrmSimulator crm2 = GenericCrmSimulator.builder().token("token-crm2").build().start();

    @AfterAll
    static void stopSimulators() {
        crm1.stop();
        crm2.stop();
    }

    @Test
    void aDeliveryInterruptedByAStopIsSentAtOnceWhenTheServiceIsBack(@TempDir Path data) {
        String email = email("resumed");
        crm2.faults().sticky(503);
        String contactId;
        try (ConfigurableApplicationContext first = start(data)) {
            contactId = api(first).post("/api/contacts", "{\"email\":\"" + email + "\",\"lastName\":\"Resumed\"}")
                    .json().get("id").asText();
            JdbcTemplate jdbc = first.getBean(JdbcTemplate.class);
            await().atMost(Duration.ofSeconds(30)).until(() -> state(jdbc, contactId).equals("claimed") && crm2.totalCalls() > 0);
        }
        crm2.faults().clear();

        try (ConfigurableApplicationContext second = start(data)) {
            JdbcTemplate jdbc = second.getBean(JdbcTemplate.class);
            assertThat(liveIn(crm2, email)).containsEntry("Name", "Resumed");
            await().atMost(Duration.ofSeconds(10)).until(() -> state(jdbc, contactId).equals("delivered"));
            assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM dead_letter", Integer.class)).isZero();
        }
        assertThat(crm2.live()).filteredOn(r -> email.equals(r.get("Email"))).hasSize(1);
    }

    private static String state(JdbcTemplate jdbc, String contactId) {
        return jdbc.queryForObject("SELECT state FROM outbox WHERE contact_id = ? AND target_system = 'crm2'", String.class,
                contactId);
    }

    private ConfigurableApplicationContext start(Path data) {
        List<String> args = new ArrayList<>(List.of("--server.port=0", "--logging.level.root=WARN",
                "--logging.level.org.apache.camel.processor.errorhandler=ERROR",
                "--spring.jmx.enabled=false", "--camel.main.jmx-enabled=false", "--camel.main.shutdown-timeout=2",
                "--crmsync.api-key=" + ServiceTest.API_KEY, "--crmsync.admin.password=" + ServiceTest.ADMIN_PASSWORD,
                "--crmsync.data-dir=" + data, "--crmsync.sync.process-period=100",
                // the stop lands while the delivery waits for its next try
                "--crmsync.delivery.redelivery-delay=3000", "--crmsync.delivery.max-redeliveries=6"));
        for (GenericCrmSimulator crm : List.of(crm1, crm2)) {
            String p = "--crmsync.providers." + (crm == crm1 ? "crm1" : "crm2") + ".";
            args.addAll(List.of(p + "enabled=true", p + "base-url=" + crm.baseUrl(), p + "auth-value=Bearer " + crm.token(),
                    p + "poll-cron=0 0 0 1 1 ? 2099", p + "deliver-period=100"));
        }
        return new SpringApplicationBuilder(CrmContactSync.class).run(args.toArray(String[]::new));
    }

    private static Http api(ConfigurableApplicationContext context) {
        return new Http(Integer.parseInt(context.getEnvironment().getProperty("local.server.port")))
                .withHeader("X-Api-Key", ServiceTest.API_KEY);
    }
}
