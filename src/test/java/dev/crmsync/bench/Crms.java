package dev.crmsync.bench;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

import dev.crmsync.sim.GenericCrmSimulator;
import dev.crmsync.sim.hubspot.HubSpotSimulator;
import dev.crmsync.sim.pipedrive.PipedriveSimulator;
import dev.crmsync.sim.salesforce.SalesforceSimulator;
import dev.crmsync.support.ServiceProcess;
import dev.crmsync.support.Simulated;

/**
 * Salesforce, HubSpot and Pipedrive simulators on loopback for one scenario, webhooks signed and
 * authenticated as the real ones are. By default without rate limits and with daily limits out of
 * reach: those scenarios measure the service, and {@link RateLimited} measures it under the limits.
 */
final class Crms implements AutoCloseable {

    static final String HUBSPOT_SECRET = "bench-hubspot-client-secret";
    static final String PIPEDRIVE_USER = "bench-hooks";
    static final String PIPEDRIVE_PASSWORD = "bench-hooks-password-0123";
    private static final long NO_DAILY_LIMIT = 1_000_000_000L;

    final SalesforceSimulator salesforce;
    final HubSpotSimulator hubspot;
    final PipedriveSimulator pipedrive;

    private Crms(SalesforceSimulator salesforce, HubSpotSimulator hubspot, PipedriveSimulator pipedrive) {
        this.salesforce = salesforce;
        this.hubspot = hubspot;
        this.pipedrive = pipedrive;
    }

    /** All three, without rate limits; HubSpot sends its webhooks every {@code webhookFlush}. */
    static Crms unlimited(Duration webhookFlush) {
        return new Crms(SalesforceSimulator.builder().externalIdField(Simulated.SALESFORCE_HUB_ID).threads(4).dailyLimit(NO_DAILY_LIMIT).build().start(),
                hubspot(false, webhookFlush), pipedrive(false));
    }

    static HubSpotSimulator hubspot(boolean rateLimits, Duration webhookFlush) {
        return HubSpotSimulator.builder().uniqueProperty(Simulated.HUBSPOT_HUB_ID).token("bench-hubspot").clientSecret(HUBSPOT_SECRET).threads(4)
                .rateLimits(rateLimits).dailyLimit(NO_DAILY_LIMIT).webhookFlushInterval(webhookFlush).build().start();
    }

    static PipedriveSimulator pipedrive(boolean rateLimits) {
        return PipedriveSimulator.builder().apiToken("bench-pipedrive").threads(4).rateLimiting(rateLimits)
                .dailyLimit(NO_DAILY_LIMIT).build().start();
    }

    /** The service properties that connect all three. */
    Map<String, String> wiring() {
        return BenchmarkSuite.wire(registry -> {
            Simulated.salesforce(registry, salesforce);
            Simulated.hubspot(registry, hubspot, HUBSPOT_SECRET);
            Simulated.pipedrive(registry, pipedrive, PIPEDRIVE_USER, PIPEDRIVE_PASSWORD);
        });
    }

    void sendWebhooksTo(ServiceProcess service) {
        hubspotWebhooksTo(hubspot, service);
        pipedriveWebhooksTo(pipedrive, service);
    }

    static void hubspotWebhooksTo(HubSpotSimulator hubspot, ServiceProcess service) {
        hubspot.webhooks().target(service.baseUrl() + "/webhooks/hubspot");
    }

    static void pipedriveWebhooksTo(PipedriveSimulator pipedrive, ServiceProcess service) {
        pipedrive.webhooks().target(service.baseUrl() + "/webhooks/pipedrive", PIPEDRIVE_USER, PIPEDRIVE_PASSWORD);
    }

    void resetCounters() {
        salesforce.resetCounters();
        hubspot.resetCounters();
        pipedrive.resetCounters();
    }

    /** Salesforce's API calls, less logins: what its API limit counts. */
    long salesforceDataCalls() {
        return salesforce.callCounts().entrySet().stream().filter(e -> !e.getKey().contains("oauth2"))
                .mapToLong(Map.Entry::getValue).sum();
    }

    /**
     * Contacts 0..n-1 in Salesforce as an import would put them there (no webhooks): the demo people's
     * names, distinct emails, a distinct valid phone for the first 100,000, a title.
     */
    void seedSalesforce(int n) {
        for (int i = 0; i < n; i++) {
            Map<String, Object> demo = GenericCrmSimulator.demoContact(i);
            Map<String, Object> contact = new LinkedHashMap<>();
            contact.put("FirstName", demo.get("FirstName"));
            contact.put("LastName", demo.get("LastName"));
            contact.put("Email", demo.get("Email"));
            contact.put("Title", demo.get("Title"));
            String phone = EngineBenchmark.phone(i);
            if (phone != null) {
                contact.put("Phone", phone);
            }
            salesforce.seed(SalesforceSimulator.CONTACT, contact);
        }
    }

    @Override
    public void close() {
        salesforce.stop();
        hubspot.stop();
        pipedrive.stop();
    }
}
