package dev.crmsync.erasure;

import dev.crmsync.sim.GenericCrmSimulator;
import org.junit.jupiter.api.AfterAll;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

class H2ErasureTest extends ErasureTests {

    static final GenericCrmSimulator[] CRMS = simulators();

    H2ErasureTest() {
        super(CRMS);
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        providers(registry, CRMS);
    }

    @AfterAll
    static void stop() {
        CRMS[0].stop();
        CRMS[1].stop();
    }
}
