package dev.crmsync.support;

import java.util.UUID;

import javax.sql.DataSource;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;

/**
 * The two databases the one Flyway set must serve: H2 in PostgreSQL mode (the embedded default,
 * with the same URL options as application.yaml) and a real PostgreSQL 17 ({@link TestPostgres}).
 * Each call gives a small connection pool on a fresh, empty database; close it when done.
 */
public enum TestDatabase {

    H2 {
        @Override
        public HikariDataSource newDataSource() {
            String name = "crmsync_" + UUID.randomUUID().toString().replace("-", "");
            return pool("jdbc:h2:mem:" + name
                    + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH;DB_CLOSE_DELAY=-1", "sa", "");
        }

        @Override
        public void drop(DataSource dataSource) {
            // DB_CLOSE_DELAY=-1 keeps an in-memory database until it is shut down
            try (var connection = dataSource.getConnection(); var statement = connection.createStatement()) {
                statement.execute("SHUTDOWN");
            } catch (java.sql.SQLException e) {
                // 90121: closing the connection after SHUTDOWN finds the database already gone
                if (e.getErrorCode() != org.h2.api.ErrorCode.DATABASE_CALLED_AT_SHUTDOWN) {
                    throw new IllegalStateException("cannot shut down H2 database", e);
                }
            }
        }
    },

    POSTGRES {
        @Override
        public HikariDataSource newDataSource() {
            return pool(TestPostgres.newDatabase(), "postgres", "postgres");
        }

        @Override
        public void drop(DataSource dataSource) {
            // the database lives on the shared embedded server, which is removed when the JVM exits
        }
    };

    /** A pool on a new, empty database. */
    public abstract HikariDataSource newDataSource();

    /** Frees what the database holds beyond the pool (called before the pool is closed). */
    public abstract void drop(DataSource dataSource);

    private static HikariDataSource pool(String url, String user, String password) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setUsername(user);
        config.setPassword(password);
        config.setMaximumPoolSize(6);
        config.setMinimumIdle(1);
        config.setPoolName("test-" + url.replaceAll("[^A-Za-z0-9_]", "_").substring(0, Math.min(40, url.length())));
        return new HikariDataSource(config);
    }
}
