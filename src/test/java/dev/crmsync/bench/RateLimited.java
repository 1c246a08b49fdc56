package dev.crmsync.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.IntSupplier;

import dev.crmsync.bench.Results.Calls;
import dev.crmsync.bench.Results.Row;
import dev.crmsync.sim.SimulatorServer;
import dev.crmsync.sim.hubspot.HubSpotSimulator;
import dev.crmsync.sim.pipedrive.PipedriveRateLimits;
import dev.crmsync.sim.pipedrive.PipedriveSimulator;
import dev.crmsync.support.ServiceProcess;
import dev.crmsync.support.Simulated;

/**
 * rate-limited: deliveries to one CRM under its rate limit, as a share of the most that limit lets
 * through. With the provider's deliver route stopped (through Jolokia, as an operator would in
 * Hawtio), contacts are created through the API until the outbox holds them all; the route starts
 * and the clock runs until the CRM has every one. Only that CRM is connected, and it sends its
 * webhooks for the service's writes, as in production.
 * <ul>
 *   <li>HubSpot ({@code bench.limited-hubspot} contacts, 40,000): 190 calls per rolling 10 s and 100
 *   contacts a call, a bound of 1,900 contacts/s;</li>
 *   <li>Pipedrive ({@code bench.limited-pipedrive} persons, 400): 80 calls per 2-second window and
 *   one person a call, a bound of 40 persons/s (its search, 10 per window, is not in the bound).</li>
 * </ul>
 * A rolling window lets a full window's calls through at once, so the rate that counts is the
 * steady one, after the first window; the overall rate is in the summary too. Salesforce has no
 * short-term limit (only a daily API quota), so its figure is calls per 1,000 records in the other
 * scenarios.
 */
final class RateLimited implements BenchmarkSuite.Scenario {

    private record Limit(String provider, int count, Duration window, double boundPerSecond, double callsBoundPer1000,
                         String bound) {
    }

    @Override
    public String name() {
        return "rate-limited";
    }

    @Override
    public void run(BenchmarkSuite suite, BenchDatabase db, List<Row> rows) throws Exception {
        Settings settings = suite.settings();
        Limit hubspot = new Limit("hubspot", settings.limitedHubSpot(), HubSpotSimulator.DEFAULT_RATE_INTERVAL,
                HubSpotSimulator.DEFAULT_RATE_LIMIT * HubSpotSimulator.MAX_BATCH * 1000.0
                        / HubSpotSimulator.DEFAULT_RATE_INTERVAL.toMillis(), 10,
                "190 calls per 10 s, 100 contacts per batch call: 1,900 contacts/s");
        try (HubSpotSimulator hs = Crms.hubspot(true, InitialLoad.HUBSPOT_WEBHOOK_FLUSH)) {
            measure(suite, db, rows, hubspot, hs, hs::liveCount,
                    BenchmarkSuite.wire(registry -> Simulated.hubspot(registry, hs, Crms.HUBSPOT_SECRET)),
                    service -> Crms.hubspotWebhooksTo(hs, service));
        }
        // Pipedrive gets a service and a database of its own: what HubSpot's run left must not compete
        Limit pipedrive = new Limit("pipedrive", settings.limitedPipedrive(), PipedriveRateLimits.DEFAULT_WINDOW,
                PipedriveRateLimits.DEFAULT_LIMIT * 1000.0 / PipedriveRateLimits.DEFAULT_WINDOW.toMillis(), 1000,
                "80 calls per 2 s, one person per call: 40 persons/s");
        BenchDatabase second = suite.newDatabase(db.kind(), name() + "-pipedrive");
        List<Row> mine = new ArrayList<>();
        try (PipedriveSimulator pd = Crms.pipedrive(true)) {
            measure(suite, second, mine, pipedrive, pd, pd::liveCount,
                    BenchmarkSuite.wire(registry -> Simulated.pipedrive(registry, pd, Crms.PIPEDRIVE_USER, Crms.PIPEDRIVE_PASSWORD)),
                    service -> Crms.pipedriveWebhooksTo(pd, service));
        } finally {
            rows.addAll(mine);
            suite.readStore(second, mine);
        }
    }

    private interface Webhooks {
        void to(ServiceProcess service);
    }

    private void measure(BenchmarkSuite suite, BenchDatabase db, List<Row> rows, Limit limit, SimulatorServer crm,
                         IntSupplier live, Map<String, String> wiring, Webhooks webhooks) throws Exception {
        String label = name() + "/" + limit.provider() + " " + db.kind();
        Row row = new Row(name() + "/" + limit.provider(), db.kind());
        rows.add(row);
        try (ServiceProcess service = suite.startService(name() + "-" + limit.provider(), db, wiring)) {
            webhooks.to(service);
            String route = limit.provider() + "-deliver";
            service.route(route, "stop");
            String[] ids = new String[limit.count()];
            HttpLoad.Outcome created = new HttpLoad(service.baseUrl(), ServiceProcess.API_KEY)
                    .creates(Long.toString(System.currentTimeMillis(), 36), ids, 0, limit.count(), suite.settings().apiClients());
            if (created.errors() > 0) {
                throw new IllegalStateException(created.errors() + " of " + limit.count() + " creates failed: "
                        + created.errorSamples());
            }
            System.out.printf("[%s] %,d contacts waiting in the outbox (created in %.1f s); delivering under the limit%n",
                    label, limit.count(), created.seconds());
            crm.resetCounters();
            service.heapSinceLastCall();
            Meter meter = Meter.start(service.handle(), db.server());
            long t0 = System.nanoTime();
            service.route(route, "start");
            // (seconds since the start, records in the CRM), every 100 ms
            List<double[]> progress = new ArrayList<>();
            long lastPrint = t0;
            while (true) {
                BenchmarkSuite.check(service);
                long now = System.nanoTime();
                int have = live.getAsInt();
                progress.add(new double[] {(now - t0) / 1e9, have});
                if (have >= limit.count()) {
                    break;
                }
                if (now - t0 > suite.settings().timeout().toNanos()) {
                    throw new IllegalStateException(String.format(Locale.ROOT, "%s has %,d of %,d after %d min", limit.provider(),
                            have, limit.count(), suite.settings().timeout().toMinutes()));
                }
                if (now - lastPrint > 15_000_000_000L) {
                    lastPrint = now;
                    System.out.printf("  [%s] %.0f s: %,d of %,d%n", label, (now - t0) / 1e9, have, limit.count());
                }
                Thread.sleep(100);
            }
            row.cpu = meter.stop();
            row.heap = service.heapSinceLastCall();
            double seconds = progress.get(progress.size() - 1)[0];
            double window = limit.window().toMillis() / 1000.0;
            double steady = Double.NaN;
            if (seconds > 2 * window) {
                double[] afterFirstWindow = progress.stream().filter(p -> p[0] >= window).findFirst().orElseThrow();
                steady = (limit.count() - afterFirstWindow[1]) / (seconds - afterFirstWindow[0]);
            }
            double rate = Double.isNaN(steady) ? limit.count() / seconds : steady;
            long refused = crm.requests().stream().filter(r -> r.status() == 429).count();
            row.records = limit.count();
            row.seconds = seconds;
            row.perSecond = limit.count() / seconds;
            row.calls.put(limit.provider(), Calls.of(crm.totalCalls(), limit.count(), limit.callsBoundPer1000(),
                    limit.provider().equals("hubspot") ? "100 per batch call" : "one person per call"));
            row.note = Results.number(100 * rate / limit.boundPerSecond(), 0) + "% of " + Results.number(limit.boundPerSecond(), 0)
                    + "/s" + (Double.isNaN(steady) ? " (no steady state: one window)" : "");
            row.details.put("bound", limit.bound());
            row.details.put("boundPerSecond", limit.boundPerSecond());
            row.details.put("steadyPerSecond", Results.round(steady));
            row.details.put("shareOfBound", Results.round(rate / limit.boundPerSecond()));
            row.details.put("responses429", refused);
            row.details.put("calls", crm.callCounts());
            row.details.put("createSeconds", Results.round(created.seconds()));
            System.out.printf("[%s] %,d in %.1f s: %.1f/s overall, %s/s steady; %s; %d answers 429%n", label, limit.count(),
                    seconds, row.perSecond, Results.number(steady, 1), row.note, refused);
        }
    }
}
