package dev.crmsync.converge;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import javax.sql.DataSource;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crmsync.config.CrmSyncProperties;
import dev.crmsync.contact.ContactNormalizer;
import dev.crmsync.mapping.Mappings;
import dev.crmsync.sim.hubspot.HubSpotSimulator;
import dev.crmsync.sim.pipedrive.PipedriveSimulator;
import dev.crmsync.sim.salesforce.SalesforceSimulator;
import dev.crmsync.support.Http;
import dev.crmsync.support.ServiceProcess;
import dev.crmsync.support.TestPostgres;
import org.springframework.boot.env.YamlPropertySourceLoader;
import org.springframework.core.env.MapPropertySource;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.io.FileSystemResource;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.core.namedparam.NamedParameterJdbcTemplate;
import org.springframework.jdbc.datasource.DriverManagerDataSource;
import org.springframework.util.unit.DataSize;

/**
 * The service under test in a JVM of its own ({@link ServiceProcess}), connected to the three
 * simulators in this one, that the run stops (SIGTERM) or kills (SIGKILL) and starts again on the same
 * database (an H2 file, or a PostgreSQL database on the embedded server) and the same port, so the
 * simulators' webhooks find it again once it is back.
 *
 * <p>The run reads the service's database while it is up: PostgreSQL directly; the H2 file through the
 * server H2 starts in the service for it ({@code AUTO_SERVER=TRUE}), so the file stays the service's own
 * and is never opened here while the service is down. The JVM is started with the client compiler only
 * ({@code -XX:TieredStopAtLevel=1}): it starts three times in a short run.
 */
final class Service {

    static final String HUBSPOT_SECRET = "converge-hubspot-secret";
    static final String PIPEDRIVE_USER = "converge-hooks";
    static final String PIPEDRIVE_PASSWORD = "converge-hooks-password";

    private static final Path HOME = Path.of("").toAbsolutePath();

    private final Map<String, String> properties = new LinkedHashMap<>();
    private final Map<String, String> environment = new LinkedHashMap<>();
    private final int port;
    private final DataSource database;
    private volatile ServiceProcess process;
    private volatile Http api;
    private Mappings mappings;

    private static final ObjectMapper JSON = com.fasterxml.jackson.databind.json.JsonMapper.builder().findAndAddModules()
            .build();

    Service(String database, Path data, SalesforceSimulator sf, HubSpotSimulator hs, PipedriveSimulator pd) {
        try {
            this.port = ServiceProcess.freePort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        properties.put("crmsync.home", HOME.toString());
        properties.put("logging.level.root", "WARN");
        // every retry of a faulted call is a WARN line: thousands in a run
        properties.put("logging.level.org.apache.camel.processor.errorhandler", "ERROR");
        properties.put("logging.level.dev.crmsync.sync.InboxProcessor", "ERROR");
        properties.put("logging.level.dev.crmsync.sync.SyncRunner", "ERROR");
        properties.put("logging.level.dev.crmsync.sync.DeadLetters", "ERROR");
        properties.put("spring.jmx.enabled", "false");
        properties.put("camel.main.jmx-enabled", "false");
        properties.put("camel.main.shutdown-timeout", "5");
        properties.put("crmsync.sync.process-period", "100");
        properties.put("crmsync.sync.runs-period", "200");
        properties.put("crmsync.delivery.redelivery-delay", "100");
        properties.put("crmsync.delivery.maximum-redelivery-delay", "2000");
        if (database.equals("postgres")) {
            String url = TestPostgres.newDatabase();
            properties.put("spring.profiles.active", "postgres");
            environment.putAll(Map.of("CRMSYNC_DB_URL", url, "CRMSYNC_DB_USER", "postgres", "CRMSYNC_DB_PASSWORD", "postgres"));
            this.database = TestPostgres.dataSource(url);
        } else {
            // H2 refuses AUTO_SERVER with DB_CLOSE_ON_EXIT=FALSE; the hook this restores closes the database at
            // SIGTERM under requests still in flight, so the run's restarts kill (converge.kills)
            String url = h2Url(data).replace(";DB_CLOSE_ON_EXIT=FALSE", "") + ";AUTO_SERVER=TRUE";
            properties.put("spring.datasource.url", url);
            this.database = new DriverManagerDataSource(url, "sa", "");
        }
        String p = "crmsync.providers.salesforce.";
        properties.putAll(Map.of(p + "enabled", "true", p + "login-url", sf.baseUrl(), p + "client-id", sf.clientId(),
                p + "client-secret", sf.clientSecret(), p + "username", sf.username(), p + "password", sf.password(),
                p + "poll-cron", "0/1 * * * * ?", p + "deliver-period", "100"));
        p = "crmsync.providers.hubspot.";
        // HubSpot's and Pipedrive's polls are the fallback for lost webhooks, as in production, only sooner
        properties.putAll(Map.of(p + "enabled", "true", p + "base-url", hs.baseUrl(), p + "access-token", hs.token(),
                p + "client-secret", HUBSPOT_SECRET, p + "poll-cron", "0/20 * * * * ?", p + "deliver-period", "100"));
        p = "crmsync.providers.pipedrive.";
        properties.putAll(Map.of(p + "enabled", "true", p + "base-url", pd.baseUrl(), p + "api-token", pd.apiToken(),
                p + "webhook-username", PIPEDRIVE_USER, p + "webhook-password", PIPEDRIVE_PASSWORD,
                p + "poll-cron", "10/20 * * * * ?", p + "deliver-period", "100"));
    }

    /** The service's own H2 URL from {@code application.yaml}, with this data folder. */
    private static String h2Url(Path data) {
        try {
            StandardEnvironment env = new StandardEnvironment();
            new YamlPropertySourceLoader().load("application.yaml", new FileSystemResource(HOME.resolve("application.yaml")))
                    .stream().filter(d -> d.getProperty("spring.config.activate.on-profile") == null)
                    .forEach(env.getPropertySources()::addLast);
            env.getPropertySources().addFirst(new MapPropertySource("converge",
                    Map.of("crmsync.data-dir", data.toAbsolutePath().toString())));
            return env.getRequiredProperty("spring.datasource.url");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    int port() {
        return port;
    }

    String url(String path) {
        return "http://127.0.0.1:" + port + path;
    }

    void start() {
        try {
            ServiceProcess previous = process;
            process = previous == null
                    ? ServiceProcess.start("converge-service", HOME, Path.of("target", "converge").toAbsolutePath(), "1g",
                    List.of("-XX:TieredStopAtLevel=1"), properties, environment, port)
                    : previous.startAgain();
        } catch (Exception e) {
            throw new IllegalStateException("the service did not start: " + e.getMessage(), e);
        }
        api = process.api();
    }

    /** Stops the service as its operators would (SIGTERM: a graceful shutdown). */
    void stop() {
        api = null;
        ServiceProcess running = process;
        if (running != null) {
            try {
                running.close();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }

    /** Ends the service with SIGKILL: no shutdown hook, nothing flushed, claims left as they were. */
    void kill() {
        api = null;
        ServiceProcess running = process;
        if (running != null) {
            try {
                running.kill();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }

    boolean up() {
        return api != null;
    }

    /** The API client while the service is up, else null. */
    Http api() {
        return api;
    }

    JdbcTemplate jdbc() {
        return new JdbcTemplate(database());
    }

    NamedParameterJdbcTemplate namedJdbc() {
        return new NamedParameterJdbcTemplate(database());
    }

    private DataSource database() {
        if (api == null) {
            // an H2 client here while the service is down would open the file itself
            throw new IllegalStateException("the service is stopped");
        }
        return database;
    }

    /** The mappings the service reads, from the same files. */
    synchronized Mappings mappings() {
        if (mappings == null) {
            CrmSyncProperties settings = new CrmSyncProperties(HOME.toString(), HOME.resolve("data").toString(), null,
                    new CrmSyncProperties.Admin("admin", null), new CrmSyncProperties.Api(DataSize.ofMegabytes(1), 50, 500),
                    new CrmSyncProperties.Phone("US"), Map.of());
            mappings = new Mappings(settings, JSON, new ContactNormalizer(settings));
        }
        return mappings;
    }
}
