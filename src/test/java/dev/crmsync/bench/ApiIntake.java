package dev.crmsync.bench;

import java.util.Arrays;
import java.util.List;
import java.util.Random;

import dev.crmsync.bench.Results.Latency;
import dev.crmsync.bench.Results.Row;
import dev.crmsync.support.ServiceProcess;

/**
 * api-intake: the contacts API alone (no CRM connected), over real HTTP/1.1 from {@code bench.api-clients}
 * client threads (16) in a closed loop: a warm-up of {@code bench.api-warmup} creates and as many
 * reads (10,000 each, not counted: with fewer the JIT was still compiling the Tomcat, Spring and Camel
 * stack during the measured phases, and the database measured first came out 30-40% slower), then
 * {@code bench.api-requests} creates with distinct emails (20,000), then as many reads of random
 * created ids. A non-2xx, a transport failure or a read whose body lacks the id is an error; the
 * contact table must end with exactly the creates that succeeded. The aim, on H2: creates at 1,000/s
 * or more with p99 under 50 ms.
 */
final class ApiIntake implements BenchmarkSuite.Scenario {

    @Override
    public String name() {
        return "api-intake";
    }

    @Override
    public void run(BenchmarkSuite suite, BenchDatabase db, List<Row> rows) throws Exception {
        Settings settings = suite.settings();
        int warmup = settings.apiWarmup();
        int requests = settings.apiRequests();
        int clients = settings.apiClients();
        String label = name() + " " + db.kind();
        String[] ids = new String[warmup + requests];
        Row create = new Row(name() + "/create", db.kind());
        rows.add(create);
        Row read;
        try (ServiceProcess service = suite.startService(name(), db, java.util.Map.of())) {
            HttpLoad load = new HttpLoad(service.baseUrl(), ServiceProcess.API_KEY);
            String tag = Long.toString(System.currentTimeMillis(), 36);
            if (warmup > 0) {
                System.out.printf("[%s] warm-up: %,d creates, %,d reads%n", label, warmup, warmup);
                HttpLoad.Outcome creates = load.creates(tag, ids, 0, warmup, clients);
                HttpLoad.Outcome reads = load.reads(created(ids, 0, warmup), picks(warmup, warmup, settings.seed() - 1), clients);
                if (creates.errors() + reads.errors() > 0) {
                    create.fail("the warm-up had " + (creates.errors() + reads.errors()) + " failed requests: "
                            + creates.errorSamples() + reads.errorSamples());
                }
            }
            System.out.printf("[%s] measuring %,d creates ...%n", label, requests);
            phase(create, service, db, () -> load.creates(tag, ids, warmup, requests, clients));

            read = new Row(name() + "/read", db.kind());
            rows.add(read);
            String[] pool = created(ids, warmup, requests);
            if (pool.length == 0) {
                read.fail("no contact was created to read");
            } else {
                System.out.printf("[%s] measuring %,d reads ...%n", label, requests);
                phase(read, service, db, () -> load.reads(pool, picks(requests, pool.length, settings.seed()), clients));
            }
        }
        // the store is read once the service has stopped
        long createdOk = Arrays.stream(ids).filter(id -> id != null).count();
        long rowsInStore = db.leftBehind().get("liveContacts");
        create.details.put("createdOk", createdOk);
        create.details.put("contactRows", rowsInStore);
        if (rowsInStore != createdOk) {
            create.fail("the contact table has " + rowsInStore + " rows but " + createdOk + " creates succeeded");
        }
        if (db.kind().equals("h2") && create.ok()) {
            boolean met = create.perSecond >= 1000 && create.latency.p99() < 50;
            create.note = met ? "aim met" : "aim NOT met";
        }
    }

    private interface Measured {
        HttpLoad.Outcome run() throws Exception;
    }

    private static void phase(Row row, ServiceProcess service, BenchDatabase db, Measured measured) throws Exception {
        service.heapSinceLastCall();
        Meter meter = Meter.start(service.handle(), db.server());
        HttpLoad.Outcome outcome = measured.run();
        row.cpu = meter.stop();
        row.heap = service.heapSinceLastCall();
        BenchmarkSuite.check(service);
        row.records = outcome.requests();
        row.seconds = outcome.seconds();
        row.perSecond = outcome.perSecond();
        row.latency = Latency.of(outcome.latencyNanos());
        row.details.put("statuses", outcome.statuses());
        row.details.put("errorSamples", outcome.errorSamples());
        row.details.put("serviceCpuMsPerRequest", Results.round(row.cpu.service() * outcome.seconds() * 1000 / outcome.requests()));
        if (outcome.errors() > 0) {
            row.fail(outcome.errors() + " of " + outcome.requests() + " requests failed " + outcome.statuses() + ": "
                    + outcome.errorSamples());
        }
        System.out.printf("[%s %s] %s: %,.0f/s, p50 %.2f ms, p99 %.2f ms, %d errors; cores: service %.2f, other %.2f%n",
                row.scenario, db.kind(), row.scenario, row.perSecond, row.latency.p50(), row.latency.p99(), outcome.errors(),
                row.cpu.service(), row.cpu.other());
    }

    private static String[] created(String[] ids, int from, int count) {
        return Arrays.stream(ids, from, from + count).filter(id -> id != null).toArray(String[]::new);
    }

    private static int[] picks(int requests, int poolSize, long seed) {
        Random random = new Random(seed);
        int[] picks = new int[requests];
        for (int i = 0; i < requests; i++) {
            picks[i] = random.nextInt(poolSize);
        }
        return picks;
    }
}
