package dev.crmsync.sandbox;

import dev.crmsync.CrmContactSync;
import org.springframework.boot.SpringApplication;

/**
 * The sandbox: the service on its embedded H2 database with generated credentials, started by
 * {@code mvn spring-boot:test-run}. Later the CRM simulators start here too, seeded and wired in.
 */
public final class Sandbox {

    private Sandbox() {
    }

    public static void main(String[] args) {
        SpringApplication.from(CrmContactSync::main)
                .withAdditionalProfiles("sandbox")
                .run(args);
    }
}
