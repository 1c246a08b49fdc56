package dev.crmsync.sync;

import dev.crmsync.support.TwoCrms;
import dev.crmsync.support.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/** The same calls with the hub on a real PostgreSQL 17. */
class PostgresContactSyncStatusTest extends ContactSyncStatusTests {

    static final TwoCrms CRMS = TwoCrms.start();

    PostgresContactSyncStatusTest() {
        super(CRMS);
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        providers(registry, CRMS);
        TestPostgres.register(registry);
    }

    @AfterAll
    static void stop() {
        CRMS.stop();
    }
}
