package dev.crmsync.sync;

import dev.crmsync.support.TwoCrms;
import org.junit.jupiter.api.AfterAll;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

class H2SyncFlowTest extends SyncFlowTests {

    static final TwoCrms CRMS = TwoCrms.start();

    H2SyncFlowTest() {
        super(CRMS);
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        providers(registry, CRMS);
    }

    @AfterAll
    static void stop() {
        CRMS.stop();
    }
}
