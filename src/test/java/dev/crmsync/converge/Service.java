package dev.crmsync.converge;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import dev.crmsync.CrmContactSync;
import dev.crmsync.sim.hubspot.HubSpotSimulator;
import dev.crmsync.sim.pipedrive.PipedriveSimulator;
import dev.crmsync.sim.salesforce.SalesforceSimulator;
import dev.crmsync.support.Http;
import dev.crmsync.support.ServiceTest;
import dev.crmsync.support.TestPostgres;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * The service under test, connected to the three simulators, that the run stops and starts again on
 * the same database (an H2 file, or a PostgreSQL database on the embedded server) and the same port,
 * so the simulators' webhooks find it again once it is back.
 */
final class Service {

    static final String HUBSPOT_SECRET = "converge-hubspot-secret";
    static final String PIPEDRIVE_USER = "converge-hooks";
    static final String PIPEDRIVE_PASSWORD = "converge-hooks-password";

    private final List<String> args = new ArrayList<>();
    private final int port;
    private volatile ConfigurableApplicationContext context;
    private volatile Http api;

    Service(String database, Path data, SalesforceSimulator sf, HubSpotSimulator hs, PipedriveSimulator pd) {
        this.port = freePort();
        args.addAll(List.of("--server.port=" + port, "--logging.level.root=WARN",
                // every retry of a faulted call is a WARN line: thousands in a run
                "--logging.level.org.apache.camel.processor.errorhandler=ERROR",
                "--logging.level.dev.crmsync.sync.InboxProcessor=ERROR", "--logging.level.dev.crmsync.sync.SyncRunner=ERROR",
                "--logging.level.dev.crmsync.sync.DeadLetters=ERROR",
                "--spring.jmx.enabled=false", "--camel.main.jmx-enabled=false", "--camel.main.shutdown-timeout=5",
                "--crmsync.api-key=" + ServiceTest.API_KEY, "--crmsync.admin.password=" + ServiceTest.ADMIN_PASSWORD,
                "--crmsync.sync.process-period=100", "--crmsync.sync.runs-period=200",
                "--crmsync.delivery.redelivery-delay=100", "--crmsync.delivery.maximum-redelivery-delay=2000"));
        if (database.equals("postgres")) {
            args.addAll(List.of("--spring.datasource.url=" + TestPostgres.newDatabase(), "--spring.datasource.username=postgres",
                    "--spring.datasource.password=postgres"));
        } else {
            args.add("--crmsync.data-dir=" + data);
        }
        String p = "--crmsync.providers.salesforce.";
        args.addAll(List.of(p + "enabled=true", p + "login-url=" + sf.baseUrl(), p + "client-id=" + sf.clientId(),
                p + "client-secret=" + sf.clientSecret(), p + "username=" + sf.username(), p + "password=" + sf.password(),
                p + "poll-cron=0/1 * * * * ?", p + "deliver-period=100"));
        p = "--crmsync.providers.hubspot.";
        // HubSpot's and Pipedrive's polls are the fallback for lost webhooks, as in production, only sooner
        args.addAll(List.of(p + "enabled=true", p + "base-url=" + hs.baseUrl(), p + "access-token=" + hs.token(),
                p + "client-secret=" + HUBSPOT_SECRET, p + "poll-cron=0/20 * * * * ?", p + "deliver-period=100"));
        p = "--crmsync.providers.pipedrive.";
        args.addAll(List.of(p + "enabled=true", p + "base-url=" + pd.baseUrl(), p + "api-token=" + pd.apiToken(),
                p + "webhook-username=" + PIPEDRIVE_USER, p + "webhook-password=" + PIPEDRIVE_PASSWORD,
                p + "poll-cron=10/20 * * * * ?", p + "deliver-period=100"));
    }

    int port() {
        return port;
    }

    String url(String path) {
        return "http://127.0.0.1:" + port + path;
    }

    void start() {
        context = new SpringApplicationBuilder(CrmContactSync.class).run(args.toArray(String[]::new));
        api = new Http(port).withHeader("X-Api-Key", ServiceTest.API_KEY);
    }

    void stop() {
        ConfigurableApplicationContext running = context;
        api = null;
        context = null;
        if (running != null) {
            running.close();
        }
    }

    boolean up() {
        return context != null;
    }

    /** The API client while the service is up, else null. */
    Http api() {
        return api;
    }

    JdbcTemplate jdbc() {
        return bean(JdbcTemplate.class);
    }

    <T> T bean(Class<T> type) {
        ConfigurableApplicationContext running = context;
        if (running == null) {
            throw new IllegalStateException("the service is stopped");
        }
        return running.getBean(type);
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
