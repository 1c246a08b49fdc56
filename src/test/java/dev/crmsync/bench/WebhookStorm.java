package dev.crmsync.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;

import dev.crmsync.bench.Results.Calls;
import dev.crmsync.bench.Results.Latency;
import dev.crmsync.bench.Results.Row;
import dev.crmsync.sim.GenericCrmSimulator;
import dev.crmsync.sim.hubspot.HubSpotSimulator;
import dev.crmsync.sim.salesforce.SalesforceSimulator;
import dev.crmsync.support.ServiceProcess;

/**
 * webhook-storm: people linked in all three CRMs (an initial run of {@code bench.storm-people} from
 * Salesforce sets them up), then HubSpot and Pipedrive users edit them at a steady
 * {@code bench.storm-rate} changes a second in all (half in each) for {@code bench.storm-seconds};
 * each change is a new last name, which reaches the service as the CRM's webhook. The latency of a
 * change runs from the edit in its CRM until the new value is in both other CRMs (a checker reads the
 * simulators every {@value #CHECK_MILLIS} ms, so figures are that coarse); HubSpot's webhook batching
 * ({@value #HUBSPOT_FLUSH_MILLIS} ms here) and the service's own inbox and delivery periods are in it.
 * The service kept up when every change arrived and the latency of the storm's last quarter is no
 * worse than twice its first quarter's plus a second: a backlog that grows shows as a growing latency.
 */
final class WebhookStorm implements BenchmarkSuite.Scenario {

    static final int CHECK_MILLIS = 10;
    static final int HUBSPOT_FLUSH_MILLIS = 100;
    /** How long after the last edit the checker waits for stragglers before it calls them lost. */
    static final Duration DRAIN = Duration.ofMinutes(2);

    private static final int SALESFORCE = 0;
    private static final int HUBSPOT = 1;
    private static final int PIPEDRIVE = 2;
    private static final String[] SYSTEMS = {"salesforce", "hubspot", "pipedrive"};

    /** One person's ids in each CRM. */
    private record Person(String salesforceId, String hubspotId, long pipedriveId) {
    }

    /** One edit and when it arrived in each other CRM (0: not yet). */
    private static final class Change {
        final int source;
        final String value;
        final long editedAt;
        final long[] arrivedAt = new long[3];
        boolean done;
        boolean superseded;

        Change(int source, String value, long editedAt) {
            this.source = source;
            this.value = value;
            this.editedAt = editedAt;
        }

        boolean arrivedEverywhere() {
            for (int system = 0; system < 3; system++) {
                if (system != source && arrivedAt[system] == 0) {
                    return false;
                }
            }
            return true;
        }

        long latency() {
            long last = 0;
            for (int system = 0; system < 3; system++) {
                if (system != source) {
                    last = Math.max(last, arrivedAt[system]);
                }
            }
            return last - editedAt;
        }
    }

    @Override
    public String name() {
        return "webhook-storm";
    }

    @Override
    public void run(BenchmarkSuite suite, BenchDatabase db, List<Row> rows) throws Exception {
        Settings settings = suite.settings();
        int people = settings.stormPeople() - settings.stormPeople() % 2;
        String label = name() + " " + db.kind();
        Row row = new Row(name(), db.kind());
        rows.add(row);
        try (Crms crms = Crms.unlimited(Duration.ofMillis(HUBSPOT_FLUSH_MILLIS))) {
            crms.seedSalesforce(people);
            try (ServiceProcess service = suite.startService(name(), db, crms.wiring())) {
                crms.sendWebhooksTo(service);
                InitialLoad.Timing setup = InitialLoad.load(service, crms, people, settings.timeout(), label);
                awaitQuiet(service, crms);
                System.out.printf("[%s] %,d people linked in all three CRMs after %.1f s; storm: %d changes/s for %d s%n",
                        label, people, Math.max(setup.hubspotSeconds(), setup.pipedriveSeconds()), settings.stormRate(),
                        settings.stormSeconds());
                List<Person> index = index(crms, people);

                crms.resetCounters();
                service.heapSinceLastCall();
                long webhooksBefore = InitialLoad.webhookEvents(service);
                Meter meter = Meter.start(service.handle(), db.server());
                Storm storm = new Storm(crms, index, settings.stormRate(), settings.stormSeconds(), service);
                storm.run();
                row.cpu = meter.stop();
                row.heap = service.heapSinceLastCall();
                storm.report(row, crms);
                row.details.put("webhookEventsReceived", InitialLoad.webhookEvents(service) - webhooksBefore);
                System.out.printf("[%s] %,d changes in %.1f s; in both other CRMs: p50 %s ms, p95 %s ms, p99 %s ms; %s%n",
                        label, row.records, row.seconds, Results.number(row.latency == null ? Double.NaN : row.latency.p50(), 0),
                        Results.number(row.latency == null ? Double.NaN : row.latency.p95(), 0),
                        Results.number(row.latency == null ? Double.NaN : row.latency.p99(), 0), row.note);
            }
        }
    }

    /**
     * Waits until the set-up's echoes are done: no webhook waiting in either CRM, and neither the
     * service (its change and delivery counters on {@code /actuator/prometheus}) nor any CRM busy for 3 s.
     */
    private static void awaitQuiet(ServiceProcess service, Crms crms) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        long last = -1;
        while (System.nanoTime() < deadline) {
            BenchmarkSuite.check(service);
            crms.hubspot.webhooks().awaitIdle(Duration.ofSeconds(30));
            crms.pipedrive.webhooks().awaitIdle(Duration.ofSeconds(30));
            long activity = service.counters("crmsync_sync_changes_total", "crmsync_sync_echoes_total",
                    "crmsync_delivery_sent_total") + crms.salesforce.totalCalls() + crms.hubspot.totalCalls()
                    + crms.pipedrive.totalCalls();
            if (activity == last) {
                return;
            }
            last = activity;
            Thread.sleep(3_000);
        }
        throw new IllegalStateException("the service did not go quiet within 3 minutes after the set-up");
    }

    /** Each person's ids, found by email in each CRM. */
    private static List<Person> index(Crms crms, int people) {
        Map<String, String> salesforce = new HashMap<>();
        crms.salesforce.live(SalesforceSimulator.CONTACT).forEach(r -> salesforce.put(lower(r.get("Email")), (String) r.get("Id")));
        Map<String, String> hubspot = new HashMap<>();
        crms.hubspot.live().forEach(c -> hubspot.put(lower(HubSpotSimulator.property(c, "email")), String.valueOf(c.get("id"))));
        Map<String, Long> pipedrive = new HashMap<>();
        crms.pipedrive.live().forEach(p -> {
            if (p.get("emails") instanceof List<?> emails && !emails.isEmpty() && emails.get(0) instanceof Map<?, ?> first) {
                pipedrive.put(lower(first.get("value")), ((Number) p.get("id")).longValue());
            }
        });
        List<Person> index = new ArrayList<>();
        for (int i = 0; i < people; i++) {
            String email = lower(GenericCrmSimulator.demoContact(i).get("Email"));
            Person person = new Person(salesforce.get(email), hubspot.get(email), pipedrive.getOrDefault(email, -1L));
            if (person.salesforceId() == null || person.hubspotId() == null || person.pipedriveId() < 0) {
                throw new IllegalStateException(email + " is not in all three CRMs after the set-up: " + person);
            }
            index.add(person);
        }
        return index;
    }

    private static String lower(Object value) {
        return String.valueOf(value).toLowerCase(Locale.ROOT);
    }

    /** The edits, paced on one thread, and the checker that times their arrival on another. */
    private static final class Storm {
        private final Crms crms;
        private final List<Person> people;
        private final int rate;
        private final int seconds;
        private final ServiceProcess service;
        private final Map<Integer, Change> pending = new ConcurrentHashMap<>();
        private final List<Change> completed = java.util.Collections.synchronizedList(new ArrayList<>());
        private volatile boolean editing = true;
        private int issued;
        private int superseded;
        private long firstEdit;
        private long lastEdit;
        private long lastArrival;
        private int lost;
        private final Map<String, Integer> queuedAtEnd = new LinkedHashMap<>();
        private double pipedriveWebhooksPerSecond;

        Storm(Crms crms, List<Person> people, int rate, int seconds, ServiceProcess service) {
            this.crms = crms;
            this.people = people;
            this.rate = rate;
            this.seconds = seconds;
            this.service = service;
        }

        void run() throws Exception {
            Thread checker = new Thread(this::check, "storm-checker");
            checker.setDaemon(true);
            checker.start();
            int total = rate * seconds;
            int half = people.size() / 2;
            long period = 1_000_000_000L / rate;
            firstEdit = System.nanoTime();
            java.time.Instant stormStart = java.time.Instant.now();
            try {
                for (int k = 0; k < total; k++) {
                    long due = firstEdit + k * period;
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        LockSupport.parkNanos(wait);
                    }
                    if (k % rate == 0) {
                        BenchmarkSuite.check(service);
                    }
                    // HubSpot edits the even people and Pipedrive the odd ones: no person is edited in two
                    // CRMs at once, so every change has one right value
                    int source = k % 2 == 0 ? HUBSPOT : PIPEDRIVE;
                    int index = 2 * ((k / 2) % half) + (source == HUBSPOT ? 0 : 1);
                    Person person = people.get(index);
                    String value = "Storm" + k;
                    Change change = new Change(source, value, System.nanoTime());
                    Change before = pending.put(index, change);
                    if (before != null) {
                        synchronized (before) {
                            if (!before.done) {
                                before.superseded = true;
                                superseded++;
                            }
                        }
                    }
                    if (source == HUBSPOT) {
                        crms.hubspot.update(person.hubspotId(), Map.of("lastname", value));
                    } else {
                        crms.pipedrive.update(person.pipedriveId(), Map.of("last_name", value));
                    }
                    issued++;
                }
            } finally {
                lastEdit = System.nanoTime();
                editing = false;
                // events the CRMs could not hand over yet: a sender that waits for each answer shows the
                // service's webhook intake as its queue
                queuedAtEnd.put("hubspot", crms.hubspot.webhooks().queued());
                queuedAtEnd.put("pipedrive", crms.pipedrive.webhooks().pending().size());
                java.time.Instant stormEnd = java.time.Instant.now();
                long sent = crms.pipedrive.webhooks().deliveries().stream()
                        .filter(d -> !d.at().isBefore(stormStart) && d.at().isBefore(stormEnd)).count();
                pipedriveWebhooksPerSecond = sent / (Duration.between(stormStart, stormEnd).toMillis() / 1000.0);
            }
            checker.join(DRAIN.toMillis() + 10_000);
            pending.values().forEach(c -> {
                if (!c.done && !c.superseded) {
                    lost++;
                }
            });
        }

        /** Until every change has arrived (or the drain time is over), reads each pending one's targets. */
        private void check() {
            while (true) {
                long now = System.nanoTime();
                if (!editing && (pending.isEmpty() || now - lastEdit > DRAIN.toNanos())) {
                    return;
                }
                for (Map.Entry<Integer, Change> entry : pending.entrySet()) {
                    Change change = entry.getValue();
                    Person person = people.get(entry.getKey());
                    for (int system = 0; system < 3; system++) {
                        if (system != change.source && change.arrivedAt[system] == 0
                                && change.value.equals(valueIn(system, person))) {
                            change.arrivedAt[system] = System.nanoTime();
                        }
                    }
                    if (change.arrivedEverywhere()) {
                        synchronized (change) {
                            if (!change.superseded) {
                                change.done = true;
                                completed.add(change);
                                lastArrival = Math.max(lastArrival, System.nanoTime());
                            }
                        }
                        pending.remove(entry.getKey(), change);
                    }
                }
                LockSupport.parkNanos(CHECK_MILLIS * 1_000_000L);
            }
        }

        private String valueIn(int system, Person person) {
            return switch (system) {
                case SALESFORCE -> crms.salesforce.find(SalesforceSimulator.CONTACT, person.salesforceId())
                        .map(r -> (String) r.get("LastName")).orElse(null);
                case HUBSPOT -> crms.hubspot.find(person.hubspotId()).map(c -> HubSpotSimulator.property(c, "lastname"))
                        .orElse(null);
                default -> crms.pipedrive.find(person.pipedriveId()).map(p -> (String) p.get("last_name")).orElse(null);
            };
        }

        void report(Row row, Crms crms) {
            List<Change> done;
            synchronized (completed) {
                done = new ArrayList<>(completed);
            }
            double editSeconds = (lastEdit - firstEdit) / 1e9;
            row.records = issued;
            row.seconds = editSeconds;
            row.perSecond = issued / editSeconds;
            row.latency = Latency.of(done.stream().mapToLong(Change::latency).toArray());
            Map<String, Object> toEach = new LinkedHashMap<>();
            for (int system = 0; system < 3; system++) {
                int target = system;
                Latency latency = Latency.of(done.stream().filter(c -> c.source != target)
                        .mapToLong(c -> c.arrivedAt[target] - c.editedAt).toArray());
                toEach.put(SYSTEMS[target], latency == null ? null : latency.toJson());
            }
            Map<String, Object> fromEach = new LinkedHashMap<>();
            for (int source : new int[] {HUBSPOT, PIPEDRIVE}) {
                Latency latency = Latency.of(done.stream().filter(c -> c.source == source).mapToLong(Change::latency).toArray());
                fromEach.put(SYSTEMS[source], latency == null ? null : latency.toJson());
            }
            long quarter = (lastEdit - firstEdit) / 4;
            Latency first = Latency.of(done.stream().filter(c -> c.editedAt < firstEdit + quarter).mapToLong(Change::latency).toArray());
            Latency last = Latency.of(done.stream().filter(c -> c.editedAt >= lastEdit - quarter).mapToLong(Change::latency).toArray());
            double drainSeconds = lastArrival == 0 ? Double.NaN : Math.max(0, lastArrival - lastEdit) / 1e9;
            boolean steady = first != null && last != null && last.p95() <= 2 * first.p95() + 1000;
            boolean keptUp = lost == 0 && steady && row.perSecond >= 0.95 * rate;

            row.details.put("targetRate", rate);
            row.details.put("changes", issued);
            row.details.put("arrivedEverywhere", done.size());
            row.details.put("superseded", superseded);
            row.details.put("lost", lost);
            row.details.put("drainSecondsAfterLastChange", Results.round(drainSeconds));
            row.details.put("latencyToEachSystem", toEach);
            row.details.put("latencyFromEachSource", fromEach);
            row.details.put("firstQuarterLatency", first == null ? null : first.toJson());
            row.details.put("lastQuarterLatency", last == null ? null : last.toJson());
            row.details.put("keptUp", keptUp);
            row.details.put("webhooksQueuedInTheCrmsAtTheEnd", queuedAtEnd);
            // Pipedrive posts one event at a time and waits for each answer; its changes and the echoes of
            // the service's own writes share that one line
            row.details.put("pipedriveWebhooksDeliveredPerSecond", Results.round(pipedriveWebhooksPerSecond));
            row.details.put("hubspotWebhookFlushMs", HUBSPOT_FLUSH_MILLIS);
            row.details.put("checkerIntervalMs", CHECK_MILLIS);
            row.details.put("salesforceCalls", crms.salesforce.callCounts());
            row.details.put("hubspotCalls", crms.hubspot.callCounts());
            row.details.put("pipedriveCalls", crms.pipedrive.callCounts());
            // every change is written to Salesforce; HubSpot's half is read from HubSpot (its webhook names
            // the contact only) and Pipedrive's half written there; HubSpot's half is written to Pipedrive
            row.calls.put("salesforce", Calls.of(crms.salesforceDataCalls(), issued, 5, "every change written, 200 per call"));
            row.calls.put("hubspot", Calls.of(crms.hubspot.totalCalls(), issued, 10,
                    "half the changes read and half written, 100 per call"));
            row.calls.put("pipedrive", Calls.of(crms.pipedrive.totalCalls(), issued, 500,
                    "half the changes written, one person per call"));
            row.note = keptUp ? "kept up" : "fell behind";
            if (lost > 0) {
                row.fail(lost + " changes never reached the other CRMs within " + DRAIN.toMinutes() + " min of the storm's end");
            }
            if (done.isEmpty()) {
                row.fail("no change reached the other CRMs");
            }
        }
    }
}
