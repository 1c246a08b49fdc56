package dev.crmsync.erasure;

import dev.crmsync.support.TwoCrms;
import dev.crmsync.support.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/** The same erasures and purges with the hub on a real PostgreSQL 17. */
class PostgresErasureTest extends ErasureTests {

    static final TwoCrms CRMS = TwoCrms.start();

    PostgresErasureTest() {
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
