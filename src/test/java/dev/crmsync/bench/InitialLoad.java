package dev.crmsync.bench;

import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crmsync.bench.Results.Calls;
import dev.crmsync.bench.Results.Row;
import dev.crmsync.sim.salesforce.SalesforceSimulator;
import dev.crmsync.support.ServiceProcess;

/**
 * initial-load: N contacts wait in Salesforce ({@code bench.records}, 100,000 by default); the
 * service starts on an empty database and is asked for an initial sync run of Salesforce
 * ({@code POST /api/sync/salesforce/runs}); the clock runs until every one of them is in HubSpot and
 * in Pipedrive. HubSpot and Pipedrive send their webhooks for what the service wrote, as they do in
 * production. Figures: records/s end to end, the time to the hub, API calls per 1,000 records per
 * provider, and the service's heap, whose aim is to stay flat under 512 MB whatever N is.
 */
final class InitialLoad implements BenchmarkSuite.Scenario {

    static final Duration HUBSPOT_WEBHOOK_FLUSH = Duration.ofMillis(200);

    /** What one initial run took, in seconds from the request. */
    record Timing(String runId, double hubSeconds, double hubspotSeconds, double pipedriveSeconds, JsonNode run) {
    }

    @Override
    public String name() {
        return "initial-load";
    }

    @Override
    public void run(BenchmarkSuite suite, BenchDatabase db, List<Row> rows) throws Exception {
        int n = suite.settings().records();
        Row row = new Row(name(), db.kind());
        rows.add(row);
        try (Crms crms = Crms.unlimited(HUBSPOT_WEBHOOK_FLUSH)) {
            long t0 = System.nanoTime();
            crms.seedSalesforce(n);
            System.out.printf("[%s %s] %,d contacts seeded in Salesforce in %.1f s%n", name(), db.kind(), n,
                    (System.nanoTime() - t0) / 1e9);
            try (ServiceProcess service = suite.startService(name(), db, crms.wiring())) {
                crms.sendWebhooksTo(service);
                crms.resetCounters();
                service.heapSinceLastCall(); // start-up is not the load
                long webhooksBefore = webhookEvents(service);
                Meter meter = Meter.start(service.handle(), db.server());
                Timing timing = load(service, crms, n, suite.settings().timeout(), name() + " " + db.kind());
                row.cpu = meter.stop();
                row.heap = service.heapSinceLastCall();
                // HubSpot and Pipedrive report the service's own writes back: work the inbox does besides the run
                row.details.put("webhookEventsReceived", webhookEvents(service) - webhooksBefore);
                row.records = n;
                row.seconds = Math.max(timing.hubspotSeconds(), timing.pipedriveSeconds());
                row.perSecond = n / row.seconds;
                row.calls.put("salesforce", Calls.of(crms.salesforceDataCalls(), n, 0.5,
                        "reads: 2,000 records per query page"));
                row.calls.put("hubspot", Calls.of(crms.hubspot.totalCalls(), n, 10, "writes: 100 per batch call"));
                row.calls.put("pipedrive", Calls.of(crms.pipedrive.totalCalls(), n, 1000,
                        "writes: one person per call (no batch create)"));
                row.details.put("hubSeconds", Results.round(timing.hubSeconds()));
                row.details.put("hubRecordsPerSecond", Results.round(n / timing.hubSeconds()));
                row.details.put("hubspotSeconds", Results.round(timing.hubspotSeconds()));
                row.details.put("pipedriveSeconds", Results.round(timing.pipedriveSeconds()));
                row.details.put("run", timing.run());
                row.details.put("salesforceCalls", crms.salesforce.callCounts());
                row.details.put("hubspotCalls", crms.hubspot.callCounts());
                row.details.put("pipedriveCalls", crms.pipedrive.callCounts());
                verify(row, crms, n, timing.run());
                row.note = "hub " + Results.number(n / timing.hubSeconds(), 0) + "/s";
                System.out.printf("[%s %s] %,d records in HubSpot and Pipedrive after %.1f s (%.0f/s; in the hub after %.1f s); "
                                + "service heap peak %d MB, held after GC at most %d MB%n", name(), db.kind(), n, row.seconds,
                        row.perSecond, timing.hubSeconds(), row.heap.peakBytes() >> 20, row.heap.maxLiveBytes() >> 20);
            }
        }
    }

    /**
     * Starts an initial sync run of Salesforce and waits until it has completed and HubSpot and
     * Pipedrive each hold {@code n} people. Used by the webhook storm to set up its people too.
     */
    static Timing load(ServiceProcess service, Crms crms, int n, Duration timeout, String label) throws Exception {
        long t0 = System.nanoTime();
        JsonNode started = service.api().post("/api/sync/salesforce/runs", "{\"type\":\"initial\"}").json();
        String runId = started.path("id").asText();
        if (runId.isEmpty()) {
            throw new IllegalStateException("the initial run did not start: " + started);
        }
        double hubspotAt = Double.NaN;
        double pipedriveAt = Double.NaN;
        JsonNode run = started;
        long lastRunRead = 0;
        long lastPrint = System.nanoTime();
        // the run's counters add up its inbox rows: read them every few seconds, the simulators every 200 ms
        while (true) {
            BenchmarkSuite.check(service);
            long now = System.nanoTime();
            double seconds = (now - t0) / 1e9;
            if (Double.isNaN(hubspotAt) && crms.hubspot.liveCount() >= n) {
                hubspotAt = seconds;
            }
            if (Double.isNaN(pipedriveAt) && crms.pipedrive.liveCount() >= n) {
                pipedriveAt = seconds;
            }
            boolean targetsDone = !Double.isNaN(hubspotAt) && !Double.isNaN(pipedriveAt);
            if (targetsDone || now - lastRunRead > 5_000_000_000L) {
                run = service.api().get("/api/sync/runs/" + runId).json();
                lastRunRead = now;
                if (run.path("state").asText().equals("failed") || run.path("state").asText().equals("cancelled")) {
                    throw new IllegalStateException("the initial run ended " + run.path("state").asText() + ": " + run);
                }
            }
            if (targetsDone && !run.path("endedAt").isNull()) {
                break;
            }
            if (now - lastPrint > 15_000_000_000L) {
                lastPrint = now;
                System.out.printf("  [%s] %.0f s: run %s, %,d fetched, %,d created; HubSpot %,d, Pipedrive %,d%n", label,
                        seconds, run.path("state").asText(), run.path("fetched").asLong(), run.path("created").asLong(),
                        crms.hubspot.liveCount(), crms.pipedrive.liveCount());
            }
            if (seconds > timeout.toSeconds()) {
                throw new IllegalStateException(String.format(Locale.ROOT, "not done after %d min: run %s with %,d fetched "
                                + "and %,d created; HubSpot has %,d and Pipedrive %,d of %,d (raise bench.timeout-minutes "
                                + "if the machine is that slow)", timeout.toMinutes(), run.path("state").asText(),
                        run.path("fetched").asLong(), run.path("created").asLong(), crms.hubspot.liveCount(),
                        crms.pipedrive.liveCount(), n));
            }
            Thread.sleep(200);
        }
        double hubSeconds = Duration.between(instant(run.path("createdAt")), instant(run.path("endedAt"))).toMillis() / 1000.0;
        return new Timing(runId, hubSeconds, hubspotAt, pipedriveAt, run);
    }

    /** Webhook events the service has taken in so far (HubSpot's and Pipedrive's counters). */
    static long webhookEvents(ServiceProcess service) {
        return service.counters("crmsync_webhooks_events_total", "crmsync_webhook_events_total");
    }

    /** A run's time as the API gives it: ISO-8601, or (today) epoch seconds with a fraction. */
    private static Instant instant(JsonNode value) {
        return Instant.parse(value.asText());
    }

    /** Every record exactly once in every system: none lost, none doubled, none failed. */
    private static void verify(Row row, Crms crms, int n, JsonNode run) {
        if (!run.path("state").asText().equals("completed") || run.path("fetched").asLong() != n
                || run.path("created").asLong() != n || run.path("failed").asLong() != 0) {
            row.fail("the run did not read and create each record once: " + run.path("state").asText() + ", fetched "
                    + run.path("fetched").asLong() + ", created " + run.path("created").asLong() + ", failed "
                    + run.path("failed").asLong());
        }
        if (crms.hubspot.liveCount() != n) {
            row.fail("HubSpot has " + crms.hubspot.liveCount() + " contacts, not " + n);
        }
        List<Map<String, Object>> persons = crms.pipedrive.live();
        Set<String> emails = new HashSet<>();
        for (Map<String, Object> person : persons) {
            Object list = person.get("emails");
            if (list instanceof List<?> items && !items.isEmpty() && items.get(0) instanceof Map<?, ?> first) {
                emails.add(String.valueOf(first.get("value")).toLowerCase(Locale.ROOT));
            }
        }
        if (persons.size() != n || emails.size() != n) {
            row.fail("Pipedrive has " + persons.size() + " persons with " + emails.size() + " distinct emails, not " + n);
        }
        int salesforce = crms.salesforce.live(SalesforceSimulator.CONTACT).size();
        if (salesforce != n) {
            row.fail("Salesforce has " + salesforce + " contacts, not the " + n + " seeded");
        }
    }
}
