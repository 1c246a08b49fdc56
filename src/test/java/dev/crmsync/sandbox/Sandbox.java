package dev.crmsync.sandbox;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import dev.crmsync.CrmContactSync;
import dev.crmsync.sim.GenericCrmSimulator;
import dev.crmsync.sim.hubspot.HubSpotSimulator;
import dev.crmsync.sim.pipedrive.PipedriveSimulator;
import dev.crmsync.sim.salesforce.SalesforceSimulator;
import dev.crmsync.support.Simulated;
import org.springframework.boot.SpringApplication;

/**
 * The sandbox, started by {@code mvn spring-boot:test-run}: the service on its embedded H2 database
 * with generated credentials, and the CRM simulators running, seeded and wired in, so a newcomer sees
 * contacts move. crm1 and crm2 are generic REST CRMs; four people are in both, with differently
 * shaped records, and are matched by email. The Salesforce simulator holds six of crm1's people as
 * Contacts and three more as Leads; the HubSpot simulator five people, every other one of the demo
 * people, and sends its signed webhooks to the service. The Pipedrive simulator holds six people, three of them also in
 * crm1, and sends its webhooks to the service.
 *
 * <p>The simulators hold their records in memory and are seeded afresh at every start, so the hub's
 * database is started afresh with them: a hub that kept its links to records the simulators no longer
 * hold would take the missing ones for deletions, or hold people the systems never had.
 */
public final class Sandbox {

    static final int CRM1_PORT = 8091;
    static final int CRM2_PORT = 8092;
    static final int SALESFORCE_PORT = 8093;
    static final int HUBSPOT_PORT = 8094;
    static final String HUBSPOT_SECRET = "sandbox-hubspot-client-secret";
    static final int PIPEDRIVE_PORT = 8095;
    static final String PIPEDRIVE_TOKEN = "sandbox-pipedrive";
    static final String PIPEDRIVE_WEBHOOK_USER = "sandbox-pipedrive";
    static final String PIPEDRIVE_WEBHOOK_PASSWORD = "sandbox-pipedrive-webhooks";

    private Sandbox() {
    }

    public static void main(String[] args) {
        Path dataDir = dataDir();
        List<Path> removed = resetHub(dataDir);
        if (!removed.isEmpty()) {
            System.out.printf("%n  Sandbox: the simulators start seeded afresh, so the hub's database in %s does too"
                    + " (removed %s)%n%n", dataDir, removed.stream().map(f -> f.getFileName().toString()).toList());
        }
        GenericCrmSimulator crm1 = GenericCrmSimulator.builder().port(CRM1_PORT).token("sandbox-crm1").build().start();
        GenericCrmSimulator crm2 = GenericCrmSimulator.builder().port(CRM2_PORT).token("sandbox-crm2").build().start();
        crm1.seedDemo(8);
        for (int i = 4; i < 10; i++) {
            crm2.seed(crm2Shape(GenericCrmSimulator.demoContact(i)));
        }
        SalesforceSimulator salesforce = SalesforceSimulator.builder().externalIdField(Simulated.SALESFORCE_HUB_ID).port(SALESFORCE_PORT).build().start();
        salesforce.seedDemo(6);
        HubSpotSimulator hubspot = startHubSpot();
        wire("crm1", crm1);
        wire("crm2", crm2);
        String sf = "crmsync.providers.salesforce.";
        System.setProperty(sf + "enabled", "true");
        System.setProperty(sf + "login-url", salesforce.baseUrl());
        System.setProperty(sf + "client-id", salesforce.clientId());
        System.setProperty(sf + "client-secret", salesforce.clientSecret());
        System.setProperty(sf + "username", salesforce.username());
        System.setProperty(sf + "password", salesforce.password());
        PipedriveSimulator pipedrive = startPipedrive();
        SpringApplication.from(CrmContactSync::main).withAdditionalProfiles("sandbox").run(args);
        System.out.printf("%n  Sandbox CRMs: crm1 at %s (token %s), crm2 at %s (token %s), Salesforce at %s (%s),%n"
                        + "  HubSpot at %s (token %s; its webhooks come to /webhooks/hubspot)%n"
                        + "  Edit a record there (PATCH %s/api/contacts/c-000001) and watch it reach the others and the API.%n%n",
                crm1.baseUrl(), crm1.token(), crm2.baseUrl(), crm2.token(), salesforce.baseUrl(),
                salesforce.baseUrl() + "/__sim/stats", hubspot.baseUrl(), hubspot.token(), crm1.baseUrl());
        System.out.printf("  Pipedrive at %s (header x-api-token: %s), webhooks to %s%n%n", pipedrive.baseUrl(), PIPEDRIVE_TOKEN,
                pipedrive.webhooks().target());
    }

    /** Where the service keeps its H2 files: {@code crmsync.data-dir}, else {@code <crmsync.home>/data}, as in application.yaml. */
    static Path dataDir() {
        String dir = System.getProperty("crmsync.data-dir");
        if (dir == null) {
            dir = System.getProperty("crmsync.home", System.getenv().getOrDefault("CRMSYNC_HOME", ".")) + "/data";
        }
        return Path.of(dir);
    }

    /**
     * Removes the hub's H2 database ({@code crmsync.*} files, the name in application.yaml's datasource
     * URL) from {@code dataDir}, leaving anything else there; answers the files removed.
     */
    static List<Path> resetHub(Path dataDir) {
        if (!Files.isDirectory(dataDir)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(dataDir)) {
            List<Path> database = files.filter(f -> f.getFileName().toString().startsWith("crmsync.")).sorted().toList();
            for (Path file : database) {
                Files.deleteIfExists(file);
            }
            return database;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot reset the sandbox's hub database in " + dataDir
                    + ": stop any other sandbox using it, or delete the folder", e);
        }
    }

    /** Five of the demo people, seeded without webhooks; what changes afterwards arrives by webhook. */
    private static HubSpotSimulator startHubSpot() {
        HubSpotSimulator hubspot = HubSpotSimulator.builder().uniqueProperty(Simulated.HUBSPOT_HUB_ID).port(HUBSPOT_PORT).token("sandbox-hubspot")
                .clientSecret(HUBSPOT_SECRET).webhookTarget(serviceUrl() + "/webhooks/hubspot").build().start();
        for (int i = 2; i < 12; i += 2) {
            hubspot.seed(HubSpotSimulator.demoContact(i));
        }
        String hs = "crmsync.providers.hubspot.";
        System.setProperty(hs + "enabled", "true");
        System.setProperty(hs + "base-url", hubspot.baseUrl());
        System.setProperty(hs + "access-token", hubspot.token());
        System.setProperty(hs + "client-secret", HUBSPOT_SECRET);
        System.setProperty(hs + "poll-cron", "0/30 * * * * ?");
        return hubspot;
    }

    private static String serviceUrl() {
        return "http://127.0.0.1:" + System.getenv().getOrDefault("PORT", "8080");
    }

    /**
     * Persons 5 to 10 of the demo people (5, 6 and 7 are crm1's too, matched by email), seeded without
     * webhooks: they arrive by the poll; what changes afterwards arrives by webhook.
     */
    private static PipedriveSimulator startPipedrive() {
        String service = serviceUrl() + "/webhooks/pipedrive";
        PipedriveSimulator pipedrive = PipedriveSimulator.builder().port(PIPEDRIVE_PORT).apiToken(PIPEDRIVE_TOKEN)
                .webhook(service, PIPEDRIVE_WEBHOOK_USER, PIPEDRIVE_WEBHOOK_PASSWORD).build().start();
        for (int i = 5; i < 11; i++) {
            pipedrive.seed(PipedriveSimulator.demoPerson(i));
        }
        String pd = "crmsync.providers.pipedrive.";
        System.setProperty(pd + "enabled", "true");
        System.setProperty(pd + "base-url", pipedrive.baseUrl());
        System.setProperty(pd + "api-token", PIPEDRIVE_TOKEN);
        System.setProperty(pd + "webhook-username", PIPEDRIVE_WEBHOOK_USER);
        System.setProperty(pd + "webhook-password", PIPEDRIVE_WEBHOOK_PASSWORD);
        System.setProperty(pd + "poll-cron", "0/15 * * * * ?");
        return pipedrive;
    }

    private static void wire(String name, GenericCrmSimulator crm) {
        System.setProperty("crmsync.providers." + name + ".enabled", "true");
        System.setProperty("crmsync.providers." + name + ".base-url", crm.baseUrl());
        System.setProperty("crmsync.providers." + name + ".auth-value", "Bearer " + crm.token());
    }

    /** crm2 keeps a full name and an organisation, as mappings/crm2-contact.json says. */
    private static Map<String, Object> crm2Shape(Map<String, Object> contact) {
        Map<String, Object> shaped = new LinkedHashMap<>();
        shaped.put("Email", contact.get("Email"));
        shaped.put("Name", contact.get("FirstName") + " " + contact.get("LastName"));
        shaped.put("Phone", contact.get("Phone"));
        shaped.put("Organization", contact.get("Company"));
        shaped.put("Title", contact.get("Title"));
        return shaped;
    }
}
