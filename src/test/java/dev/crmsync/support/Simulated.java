package dev.crmsync.support;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import dev.crmsync.sim.GenericCrmSimulator;
import dev.crmsync.sim.hubspot.HubSpotSimulator;
import dev.crmsync.sim.pipedrive.PipedriveSimulator;
import dev.crmsync.sim.salesforce.SalesforceSimulator;
import org.springframework.test.context.DynamicPropertyRegistry;

/**
 * What the end-to-end tests share: wiring the service to the simulators (fast polls and deliveries,
 * short retries), a fresh email per person, and reading a person back from the generic CRM.
 */
public final class Simulated {

    public static final Duration PATIENCE = Duration.ofSeconds(30);
    /** The external id field the Salesforce mappings keep the hub id in ({@code hubId}), as an org would declare it. */
    public static final String SALESFORCE_HUB_ID = "CrmSync_Id__c";

    /** The unique-value contact property the HubSpot mapping keeps the hub id in (its {@code hubId}). */
    public static final String HUBSPOT_HUB_ID = "crmsync_id";

    private Simulated() {
    }

    /** Inbox drains and retries fast enough for a test to watch them. */
    public static void fastSync(DynamicPropertyRegistry registry) {
        registry.add("crmsync.sync.process-period", () -> "100");
        registry.add("crmsync.delivery.redelivery-delay", () -> "100");
        registry.add("crmsync.delivery.max-redeliveries", () -> "3");
    }

    /** A generic REST CRM simulator as provider {@code name}, polled every second. */
    public static void rest(DynamicPropertyRegistry registry, String name, GenericCrmSimulator crm) {
        String p = "crmsync.providers." + name + ".";
        registry.add(p + "enabled", () -> "true");
        registry.add(p + "base-url", crm::baseUrl);
        registry.add(p + "auth-value", () -> "Bearer " + crm.token());
        registry.add(p + "poll-cron", () -> "0/1 * * * * ?");
        registry.add(p + "deliver-period", () -> "100");
    }

    public static void salesforce(DynamicPropertyRegistry registry, SalesforceSimulator sf) {
        String p = "crmsync.providers.salesforce.";
        registry.add(p + "enabled", () -> "true");
        registry.add(p + "login-url", sf::baseUrl);
        registry.add(p + "client-id", sf::clientId);
        registry.add(p + "client-secret", sf::clientSecret);
        registry.add(p + "username", sf::username);
        registry.add(p + "password", sf::password);
        registry.add(p + "poll-cron", () -> "0/1 * * * * ?");
        registry.add(p + "deliver-period", () -> "100");
    }

    /** HubSpot, whose changes a test sees come by webhook: its poll is years away. */
    public static void hubspot(DynamicPropertyRegistry registry, HubSpotSimulator hs, String clientSecret) {
        String p = "crmsync.providers.hubspot.";
        registry.add(p + "enabled", () -> "true");
        registry.add(p + "base-url", hs::baseUrl);
        registry.add(p + "access-token", hs::token);
        registry.add(p + "client-secret", () -> clientSecret);
        registry.add(p + "poll-cron", () -> "0 0 0 1 1 ? 2099");
        registry.add(p + "deliver-period", () -> "100");
    }

    /** Pipedrive, whose changes a test sees come by webhook: its poll is years away. */
    public static void pipedrive(DynamicPropertyRegistry registry, PipedriveSimulator pd, String user, String password) {
        String p = "crmsync.providers.pipedrive.";
        registry.add(p + "enabled", () -> "true");
        registry.add(p + "base-url", pd::baseUrl);
        registry.add(p + "api-token", pd::apiToken);
        registry.add(p + "webhook-username", () -> user);
        registry.add(p + "webhook-password", () -> password);
        registry.add(p + "poll-cron", () -> "0 0 0 1 1 ? 2099");
        registry.add(p + "deliver-period", () -> "100");
    }

    /** An email no other test uses. */
    public static String email(String who) {
        return who + "-" + UUID.randomUUID().toString().substring(0, 8) + "@example.com";
    }

    /** The generic CRM's record with this email, deleted or not; there must not be two. */
    public static Optional<Map<String, Object>> byEmail(GenericCrmSimulator crm, String email) {
        List<Map<String, Object>> found = crm.records().stream()
                .filter(r -> email.equalsIgnoreCase(String.valueOf(r.get("Email")))).toList();
        assertThat(found).as("records with %s in the generic CRM", email).hasSizeLessThanOrEqualTo(1);
        return found.stream().findFirst();
    }

    /** Waits for the generic CRM's live record with this email. */
    public static Map<String, Object> liveIn(GenericCrmSimulator crm, String email) {
        return await().atMost(PATIENCE).until(() -> byEmail(crm, email).filter(r -> !Boolean.TRUE.equals(r.get("Deleted"))),
                Optional::isPresent).orElseThrow();
    }
}
