package dev.crmsync.support;

import dev.crmsync.sim.GenericCrmSimulator;
import org.springframework.test.context.DynamicPropertyRegistry;

/**
 * Two generic REST CRMs, providers crm1 and crm2, for the end-to-end test classes that run once on
 * H2 and once on PostgreSQL: each variant starts and stops its own pair.
 */
public record TwoCrms(GenericCrmSimulator crm1, GenericCrmSimulator crm2) {

    public static TwoCrms start() {
        return new TwoCrms(GenericCrmSimulator.builder().token("token-crm1").build().start(),
                GenericCrmSimulator.builder().token("token-crm2").build().start());
    }

    /** Both as providers, polled every second, with fast inbox drains and retries. */
    public void wire(DynamicPropertyRegistry registry) {
        Simulated.rest(registry, "crm1", crm1);
        Simulated.rest(registry, "crm2", crm2);
        Simulated.fastSync(registry);
    }

    public void stop() {
        crm1.stop();
        crm2.stop();
    }
}
