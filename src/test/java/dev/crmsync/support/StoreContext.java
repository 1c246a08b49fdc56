package dev.crmsync.support;

import java.util.List;
import java.util.Map;

import javax.sql.DataSource;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.zaxxer.hikari.HikariDataSource;
import dev.crmsync.config.CrmSyncProperties;
import dev.crmsync.config.CrmSyncProperties.Provider;
import dev.crmsync.contact.ContactNormalizer;
import dev.crmsync.contact.ContactService;
import dev.crmsync.contact.ContactStore;
import dev.crmsync.sync.Outbox;
import org.flywaydb.core.Flyway;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.core.namedparam.NamedParameterJdbcTemplate;
import org.springframework.jdbc.datasource.DataSourceTransactionManager;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.annotation.EnableTransactionManagement;
import org.springframework.transaction.support.TransactionTemplate;
import org.springframework.util.unit.DataSize;

/**
 * The store layer of the service on one fresh database, as a small Spring context: the pool, the
 * Flyway migration, the JDBC template, the transaction manager (so {@code @Transactional} on
 * {@link ContactService} and {@link Outbox} really opens and rolls back transactions), a Jackson
 * mapper, a {@link TestClock}, the properties and the contact beans of src/main.
 */
public final class StoreContext implements AutoCloseable {

    /** The providers most tests run with: two enabled targets and one switched off. */
    public static final Map<String, Provider> PROVIDERS = Map.of(
            "crm1", new Provider(true, "rest", "contact", null, null),
            "crm2", new Provider(true, "rest", "person", null, null),
            "crm3", new Provider(false, "rest", "contact", null, null));

    /** Every table V1 creates, children before parents. */
    public static final List<String> TABLES = List.of("lost_record", "conflict", "contact_link", "contact_history", "outbox",
            "dead_letter", "inbox", "sync_run", "sync_cursor", "contact", "erased_record", "erasure");

    private final TestDatabase database;
    private final HikariDataSource dataSource;
    private final AnnotationConfigApplicationContext context;

    private StoreContext(TestDatabase database, Map<String, Provider> providers) {
        this.database = database;
        this.dataSource = database.newDataSource();
        CrmSyncProperties properties = properties(providers);
        AnnotationConfigApplicationContext spring = new AnnotationConfigApplicationContext();
        spring.registerBean(DataSource.class, () -> dataSource, bean -> bean.setDestroyMethodName(""));
        spring.registerBean(CrmSyncProperties.class, () -> properties);
        // the one Clock bean: ContactService reads time from it
        spring.registerBean(TestClock.class, TestClock::new);
        spring.register(Beans.class);
        try {
            spring.refresh();
        } catch (RuntimeException e) {
            dataSource.close();
            throw e;
        }
        this.context = spring;
    }

    public static StoreContext start(TestDatabase database) {
        return new StoreContext(database, PROVIDERS);
    }

    public static StoreContext start(TestDatabase database, Map<String, Provider> providers) {
        return new StoreContext(database, providers);
    }

    public static CrmSyncProperties properties(Map<String, Provider> providers) {
        return new CrmSyncProperties(".", "./data", null,
                new CrmSyncProperties.Admin("admin", null),
                new CrmSyncProperties.Api(DataSize.ofMegabytes(1), 50, 500),
                new CrmSyncProperties.Phone("US"), providers);
    }

    public TestDatabase database() {
        return database;
    }

    public <T> T bean(Class<T> type) {
        return context.getBean(type);
    }

    public ContactService service() {
        return bean(ContactService.class);
    }

    public ContactStore store() {
        return bean(ContactStore.class);
    }

    public ContactNormalizer normalizer() {
        return bean(ContactNormalizer.class);
    }

    public TestClock clock() {
        return bean(TestClock.class);
    }

    public ObjectMapper json() {
        return bean(ObjectMapper.class);
    }

    public JdbcTemplate sql() {
        return bean(JdbcTemplate.class);
    }

    public NamedParameterJdbcTemplate namedSql() {
        return bean(NamedParameterJdbcTemplate.class);
    }

    public TransactionTemplate transactions() {
        return new TransactionTemplate(bean(PlatformTransactionManager.class));
    }

    public DataSource dataSource() {
        return dataSource;
    }

    /** Empties every table and resets the clock: each test starts from a migrated, empty store. */
    public void clear() {
        TABLES.forEach(table -> sql().update("DELETE FROM " + table));
        clock().reset();
    }

    public long count(String table) {
        return sql().queryForObject("SELECT COUNT(*) FROM " + table, Long.class);
    }

    @Override
    public void close() {
        try {
            context.close();
            database.drop(dataSource);
        } finally {
            dataSource.close();
        }
    }

    @Configuration(proxyBeanMethods = false)
    @EnableTransactionManagement
    @Import({ContactStore.class, Outbox.class, ContactService.class, ContactNormalizer.class, dev.crmsync.mapping.Mappings.class})
    static class Beans {

        @Bean(initMethod = "migrate")
        Flyway flyway(DataSource dataSource) {
            return Flyway.configure().dataSource(dataSource).locations("classpath:db/migration")
                    .failOnMissingLocations(true).load();
        }

        /** Depends on Flyway, so nothing touches the tables before the migration ran. */
        @Bean
        NamedParameterJdbcTemplate namedParameterJdbcTemplate(DataSource dataSource, Flyway flyway) {
            return new NamedParameterJdbcTemplate(dataSource);
        }

        @Bean
        JdbcTemplate jdbcTemplate(NamedParameterJdbcTemplate named) {
            return named.getJdbcTemplate();
        }

        @Bean
        PlatformTransactionManager transactionManager(DataSource dataSource) {
            return new DataSourceTransactionManager(dataSource);
        }

        @Bean
        ObjectMapper objectMapper() {
            return new ObjectMapper().findAndRegisterModules();
        }
    }
}
