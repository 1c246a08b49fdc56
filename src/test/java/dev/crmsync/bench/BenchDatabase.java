package dev.crmsync.bench;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import dev.crmsync.support.TestPostgres;
import org.springframework.boot.env.YamlPropertySourceLoader;
import org.springframework.core.env.MapPropertySource;
import org.springframework.core.env.PropertySource;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.io.FileSystemResource;

/**
 * The database of one scenario's service, always empty at the start: H2 in a fresh folder under
 * {@code target/bench/data/}, or a new database on the embedded PostgreSQL 17 server
 * ({@link TestPostgres}) that this JVM starts. It also reads the store once the service has stopped,
 * so a run can tell what it left behind (dead letters, failed changes).
 */
final class BenchDatabase {

    private final String kind;
    private final Map<String, String> properties;
    private final Map<String, String> environment;
    private final String jdbcUrl;
    private final String user;
    private final String password;
    private final ProcessHandle server;

    private BenchDatabase(String kind, Map<String, String> properties, Map<String, String> environment, String jdbcUrl,
                          String user, String password, ProcessHandle server) {
        this.kind = kind;
        this.properties = properties;
        this.environment = environment;
        this.jdbcUrl = jdbcUrl;
        this.user = user;
        this.password = password;
        this.server = server;
    }

    static BenchDatabase create(String kind, Path home, Path dataRoot, String scenario) throws IOException {
        if (kind.equals("h2")) {
            Path dir = dataRoot.resolve(scenario + "-h2").toAbsolutePath();
            deleteTree(dir);
            Files.createDirectories(dir);
            StandardEnvironment env = serviceDefaults(home, dir);
            return new BenchDatabase(kind, Map.of("crmsync.data-dir", dir.toString()), Map.of(),
                    env.getRequiredProperty("spring.datasource.url"), env.getProperty("spring.datasource.username", "sa"),
                    env.getProperty("spring.datasource.password", ""), null);
        }
        String url = TestPostgres.newDatabase();
        return new BenchDatabase(kind, Map.of("spring.profiles.active", "postgres"),
                Map.of("CRMSYNC_DB_URL", url, "CRMSYNC_DB_USER", "postgres", "CRMSYNC_DB_PASSWORD", "postgres"),
                url, "postgres", "postgres", postmaster(url));
    }

    String kind() {
        return kind;
    }

    /** Service properties that select this database. */
    Map<String, String> properties() {
        return properties;
    }

    /** Environment variables the service reads its connection from (the postgres profile's). */
    Map<String, String> environment() {
        return environment;
    }

    /** The PostgreSQL server process (its postmaster), whose CPU a run counts; null for H2. */
    ProcessHandle server() {
        return server;
    }

    /** Product and version (H2's from its jar: the service holds the file open). */
    String describe() {
        if (kind.equals("h2")) {
            return "H2 " + org.h2.engine.Constants.FULL_VERSION;
        }
        try (Connection connection = connect()) {
            var meta = connection.getMetaData();
            return meta.getDatabaseProductName() + " " + meta.getDatabaseProductVersion();
        } catch (SQLException e) {
            return kind + " (" + e.getMessage() + ")";
        }
    }

    /**
     * What the service left in its store, read after it stopped (H2 allows one process at a time):
     * live contacts, changes not applied or failed, deliveries not made, dead letters.
     */
    Map<String, Long> leftBehind() {
        Map<String, Long> counts = new LinkedHashMap<>();
        try (Connection connection = connect(); Statement statement = connection.createStatement()) {
            counts.put("liveContacts", count(statement, "SELECT COUNT(*) FROM contact WHERE deleted_at IS NULL"));
            counts.put("inboxNotApplied", count(statement, "SELECT COUNT(*) FROM inbox WHERE state IN ('pending', 'claimed')"));
            counts.put("inboxFailed", count(statement, "SELECT COUNT(*) FROM inbox WHERE state = 'failed'"));
            counts.put("outboxNotDelivered", count(statement, "SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'claimed')"));
            counts.put("deadLetters", count(statement, "SELECT COUNT(*) FROM dead_letter"));
        } catch (SQLException e) {
            throw new IllegalStateException("cannot read the " + kind + " store after the run: " + e.getMessage(), e);
        }
        return counts;
    }

    /** The inbox's rows waiting to be applied, by the system that sent them, read after the service stopped. */
    Map<String, Long> pendingInboxBySystem() {
        Map<String, Long> counts = new LinkedHashMap<>();
        try (Connection connection = connect(); Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SELECT source_system, COUNT(*) FROM inbox WHERE state = 'pending' GROUP BY source_system")) {
            while (rs.next()) {
                counts.put(rs.getString(1), rs.getLong(2));
            }
        } catch (SQLException e) {
            throw new IllegalStateException("cannot read the " + kind + " inbox after the run: " + e.getMessage(), e);
        }
        return counts;
    }

    private Connection connect() throws SQLException {
        return DriverManager.getConnection(jdbcUrl, user, password);
    }

    private static long count(Statement statement, String sql) throws SQLException {
        try (ResultSet rs = statement.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /**
     * The service's own datasource settings from {@code application.yaml} (its default profile) with
     * this data dir, so the benchmark opens the H2 file exactly as the service does.
     */
    private static StandardEnvironment serviceDefaults(Path home, Path dataDir) throws IOException {
        StandardEnvironment env = new StandardEnvironment();
        List<PropertySource<?>> documents = new YamlPropertySourceLoader()
                .load("application.yaml", new FileSystemResource(home.resolve("application.yaml")));
        documents.stream().filter(d -> d.getProperty("spring.config.activate.on-profile") == null)
                .forEach(env.getPropertySources()::addLast);
        env.getPropertySources().addFirst(new MapPropertySource("bench", Map.of("crmsync.data-dir", dataDir.toString())));
        return env;
    }

    /** The postmaster listening on the port of a JDBC URL, if it runs on this machine. */
    private static ProcessHandle postmaster(String jdbcUrl) {
        Matcher port = Pattern.compile("//[^:/]+:(\\d+)/").matcher(jdbcUrl);
        if (!port.find()) {
            return null;
        }
        String flag = "-p " + port.group(1);
        return ProcessHandle.allProcesses()
                .filter(p -> p.info().commandLine().map(c -> c.contains("postgres") && c.contains(flag)).orElse(false))
                .filter(p -> p.parent().map(parent -> !parent.info().command().orElse("").endsWith("postgres")).orElse(true))
                .findFirst().orElse(null);
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
        }
    }
}
