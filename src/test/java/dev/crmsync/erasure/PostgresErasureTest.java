package dev.crmsync.erasure;

import dev.crmsync.sim.GenericCrmSimulator;
import dev.crmsync.support.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/** The same erasures and purges with the hub on a real PostgreSQL 17. */
class PostgresErasureTest extends ErasureTests {

    static final GenericCrmSimulator[] CRMS = simulators();

    PostgresErasureTest() {
        super(CRMS);
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        providers(registry, CRMS);
        String url = TestPostgres.newDatabase();
        registry.add("spring.datasource.url", () -> url);
        registry.add("spring.datasource.username", () -> "postgres");
        registry.add("spring.datasource.password", () -> "postgres");
    }

    @AfterAll
    static void stop() {
        CRMS[0].stop();
        CRMS[1].stop();
    }
}
