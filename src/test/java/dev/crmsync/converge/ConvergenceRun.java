package dev.crmsync.converge;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.crmsync.converge.Actors.Outcome;
import dev.crmsync.converge.Actors.Result;
import dev.crmsync.converge.Workload.Op;
import dev.crmsync.mapping.Mapping;
import dev.crmsync.mapping.Mappings;
import dev.crmsync.sim.Faults;
import dev.crmsync.sim.SimulatorServer;
import dev.crmsync.sim.hubspot.HubSpotSimulator;
import dev.crmsync.sim.pipedrive.PipedriveSimulator;
import dev.crmsync.sim.pipedrive.PipedriveWebhooks;
import dev.crmsync.sim.salesforce.SalesforceSimulator;
import dev.crmsync.support.Simulated;
import dev.crmsync.support.Http;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * A randomized, seeded convergence run (issue 7): the operations of a {@link Workload} are issued
 * concurrently through Salesforce, HubSpot, Pipedrive and the contacts API while the simulators
 * inject faults (5xx, 429, slow replies, dropped connections, lost webhooks) and the service is
 * stopped (SIGTERM) or killed (SIGKILL) in its own JVM and started again mid-run. Then the faults clear, the sync goes quiet, a reconcile runs for
 * each system, dead letters are replayed, and the {@link Checker} compares every system and the hub
 * with what the run did. The {@link Report} holds the figures.
 *
 * <p>Run it from {@link ConvergenceTest} ({@code mvn test -Dtest=ConvergenceTest}, a short run), or
 * as a main class for the long one:
 * {@code mvn -q test-compile exec:java -Dexec.mainClass=dev.crmsync.converge.ConvergenceRun
 * -Dexec.classpathScope=test -Dconverge.ops=20000}. Properties: {@code converge.seed},
 * {@code converge.ops}, {@code converge.workers}, {@code converge.rate} (operations per second),
 * {@code converge.restarts}, {@code converge.kills} (how many of the restarts, from the first, kill the
 * service with SIGKILL rather than stop it; default all), {@code converge.database} ({@code h2} or {@code postgres}).
 */
public final class ConvergenceRun {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final List<String> SYSTEMS = List.of("salesforce", "hubspot", "pipedrive");

    /** What a run does; every choice within it follows from the seed. */
    public record Settings(long seed, int ops, int initialPeople, int workers, double rate, int restarts, int kills,
                           String database, Duration quietFor, Duration patience) {

        /** From system properties ({@code converge.*}), with these defaults and a new seed. */
        public static Settings fromSystemProperties(int ops, double rate) {
            return fromSystemProperties(ops, rate, System.nanoTime() & 0xFFFF_FFFFL, Integer.MAX_VALUE, 2);
        }

        /** From system properties ({@code converge.*}), with these defaults; every restart after SIGKILL. */
        public static Settings fromSystemProperties(int ops, double rate, long defaultSeed) {
            return fromSystemProperties(ops, rate, defaultSeed, Integer.MAX_VALUE, 2);
        }

        /**
         * From system properties ({@code converge.*}), with these defaults; {@code defaultRestarts} restarts,
         * the first {@code defaultKills} of them after SIGKILL.
         */
        public static Settings fromSystemProperties(int ops, double rate, long defaultSeed, int defaultKills, int defaultRestarts) {
            long seed = Long.getLong("converge.seed", defaultSeed);
            int count = Integer.getInteger("converge.ops", ops);
            int restarts = Integer.getInteger("converge.restarts", defaultRestarts);
            // Pipedrive's search (10 per 2 s) before each create paces the initial people: a few hundred at most
            return new Settings(seed, count, Integer.getInteger("converge.people", Math.min(300, Math.max(30, count / 20))),
                    Integer.getInteger("converge.workers", 6),
                    Double.parseDouble(System.getProperty("converge.rate", Double.toString(rate))),
                    restarts, Math.min(restarts, Integer.getInteger("converge.kills", defaultKills)),
                    System.getProperty("converge.database", "h2"),
                    Duration.ofSeconds(2), Duration.ofSeconds(Long.getLong("converge.patience", 180)));
        }

        /** Whether restart {@code r} (from 0) kills the service with SIGKILL rather than stopping it. */
        boolean kill(int r) {
            return r < kills;
        }

        String replay() {
            return "-Dconverge.seed=" + seed + " -Dconverge.ops=" + ops + " -Dconverge.people=" + initialPeople
                    + " -Dconverge.workers=" + workers + " -Dconverge.rate=" + rate + " -Dconverge.restarts=" + restarts
                    + " -Dconverge.kills=" + kills + " -Dconverge.database=" + database;
        }
    }

    /** The figures of a run and the checker's findings. */
    public record Report(Settings settings, Map<String, Object> figures, Map<String, Integer> counts, List<String> details) {

        public boolean clean() {
            return counts.values().stream().allMatch(count -> count == 0);
        }

        public String describe() {
            StringBuilder text = new StringBuilder();
            text.append(String.format(Locale.ROOT, "%nConvergence run, seed %d (replay: %s)%n", settings.seed(), settings.replay()));
            figures.forEach((name, value) -> text.append(String.format(Locale.ROOT, "  %-28s %s%n", name, value)));
            text.append("  checker (all must be 0):\n");
            counts.forEach((name, value) -> text.append(String.format(Locale.ROOT, "    %-26s %d%n", name, value)));
            details.forEach(detail -> text.append("    ").append(detail).append('\n'));
            return text.toString();
        }

        public void write(Path file) {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("seed", settings.seed());
            json.put("replay", settings.replay());
            json.put("figures", figures);
            json.put("checker", counts);
            json.put("details", details);
            try {
                Files.createDirectories(file.getParent());
                JSON.writeValue(file.toFile(), json);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    private final Settings settings;
    private final Map<String, Object> figures = new LinkedHashMap<>();
    private final Map<Outcome, AtomicInteger> outcomes = new EnumMap<>(Outcome.class);
    private final Map<String, AtomicInteger> reasons = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> byKind = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> faults = new ConcurrentHashMap<>();
    private final List<String> errors = java.util.Collections.synchronizedList(new ArrayList<>());
    private final Map<Integer, Diagnostics.Ran> ran = new ConcurrentHashMap<>();

    public ConvergenceRun(Settings settings) {
        this.settings = settings;
        for (Outcome outcome : Outcome.values()) {
            outcomes.put(outcome, new AtomicInteger());
        }
    }

    public Report run(Path data) throws Exception {
        Workload workload = Workload.plan(settings.seed(), settings.initialPeople(), settings.ops(),
                (int) Math.max(10, settings.rate() * 5));
        Model model = new Model();
        SalesforceSimulator sf = SalesforceSimulator.builder().externalIdField(Simulated.SALESFORCE_HUB_ID).build().start();
        HubSpotSimulator hs = HubSpotSimulator.builder().uniqueProperty(Simulated.HUBSPOT_HUB_ID).token("converge-hubspot-token").clientSecret(Service.HUBSPOT_SECRET)
                .webhookFlushInterval(Duration.ofMillis(100)).webhookRetryDelay(Duration.ofMillis(500)).build().start();
        // Pipedrive's own retry delays (3 s, 30 s, 150 s) would hold every later event for minutes; these
        // still outlast a restart of the service's JVM
        PipedriveSimulator pd = PipedriveSimulator.builder().apiToken("converge-pipedrive-token")
                .webhookRetryDelays(Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(2),
                        Duration.ofSeconds(4), Duration.ofSeconds(8), Duration.ofSeconds(16), Duration.ofSeconds(32))
                .build().start();
        Service service = new Service(settings.database(), data, sf, hs, pd);
        try {
            hs.webhooks().target(service.url("/webhooks/hubspot"));
            pd.webhooks().target(service.url("/webhooks/pipedrive"), Service.PIPEDRIVE_USER, Service.PIPEDRIVE_PASSWORD);
            long started = System.nanoTime();
            service.start();
            figures.put("service start (s)", seconds(System.nanoTime() - started));
            Actors actors = new Actors(sf, hs, pd, service, model);
            seed(workload, actors, service, sf, hs, pd);

            long opsStarted = System.nanoTime();
            int restarts = operate(workload, actors, service, sf, hs, pd);
            long opsEnded = System.nanoTime();
            figures.put("operations", workload.ops().size());
            figures.put("operations acknowledged", outcomes.get(Outcome.ACKNOWLEDGED).get());
            figures.put("operations refused", outcomes.get(Outcome.REFUSED).get());
            figures.put("operations skipped", outcomes.get(Outcome.SKIPPED).get());
            figures.put("acknowledged by kind", new java.util.TreeMap<>(counts(byKind)));
            figures.put("refused or skipped, why", new java.util.TreeMap<>(counts(reasons)));
            figures.put("operations time (s)", seconds(opsEnded - opsStarted));
            figures.put("restarts", restarts);

            // quiescence: the faults clear and nothing new happens in the CRMs
            List<SimulatorServer> sims = List.of(sf, hs, pd);
            Map<String, Long> served = faultsServed(sims);
            sims.forEach(sim -> sim.faults().clear());
            hs.webhooks().keepAll().resume();
            pd.webhooks().resume();
            figures.put("faults injected", new java.util.TreeMap<>(counts(faults)));
            figures.put("faults served", served);
            figures.put("webhooks lost", Map.of("hubspot", hs.webhooks().lost().size(), "pipedrive",
                    pd.webhooks().deliveries().stream().filter(d -> d.outcome() == PipedriveWebhooks.Outcome.LOST).count()));

            long quiet = System.nanoTime();
            boolean quietBeforeReconcile = awaitQuiet(service, hs, pd);
            figures.put("quiet after ops (s)", seconds(System.nanoTime() - quiet));
            Checker before = new Checker().consistency(snapshot(service, sf, hs, pd));
            figures.put("differences before reconcile", before.counts);
            Map<String, Object> accounting = accounting(service.jdbc());
            figures.put("failures accounted", accounting);

            List<Map<String, Object>> reconciles = new ArrayList<>();
            reconciles.add(reconcile(service));
            boolean quietAfterReconcile = awaitQuiet(service, hs, pd);
            Map<String, Object> replayed = replayDeadLetters(service);
            boolean quietAfterReplay = true;
            if (!replayed.isEmpty()) {
                quietAfterReplay = awaitQuiet(service, hs, pd);
                reconciles.add(reconcile(service));
                quietAfterReplay &= awaitQuiet(service, hs, pd);
            }
            figures.put("reconciles", reconciles);
            figures.put("dead letters replayed", replayed);
            figures.put("time to converge (s)", seconds(System.nanoTime() - quiet - settings.quietFor().toNanos()));

            Checker.Snapshot end = snapshot(service, sf, hs, pd);
            Checker checker = new Checker().consistency(end).model(model, end);
            checker.counts.put("unaccountedFailures", ((Number) accounting.get("unaccounted")).intValue());
            checker.counts.put("failedReconciles", (int) reconciles.stream().flatMap(r -> r.values().stream())
                    .filter(r -> r instanceof Map<?, ?> m && !"completed".equals(m.get("state"))).count());
            checker.counts.put("notQuiet", (quietBeforeReconcile ? 0 : 1) + (quietAfterReconcile ? 0 : 1) + (quietAfterReplay ? 0 : 1));
            checker.counts.put("harnessErrors", errors.size());
            errors.stream().limit(10).forEach(error -> checker.details.add("harness: " + error));
            figures.put("people live at end (hub)", end.hub().size());
            System.out.println(new Report(settings, figures, checker.counts, checker.details).describe());
            if (!checker.suspects.isEmpty()) {
                Path file = Path.of("target", "converge", "diagnostics-" + settings.seed() + ".txt");
                Files.createDirectories(file.getParent());
                Files.writeString(file, Diagnostics.explain(service.namedJdbc(), model, workload, ran,
                        checker.suspects));
                figures.put("diagnostics", file.toAbsolutePath().toString());
            }
            return new Report(settings, figures, checker.counts, checker.details);
        } finally {
            service.stop();
            sf.stop();
            hs.stop();
            pd.stop();
        }
    }

    /** The initial people, created through the API and present in every system before the operations start. */
    private void seed(Workload workload, Actors actors, Service service, SalesforceSimulator sf, HubSpotSimulator hs,
                      PipedriveSimulator pd) throws InterruptedException {
        for (Op op : workload.initial()) {
            Result result = actors.run(op);
            if (result.outcome() != Outcome.ACKNOWLEDGED) {
                throw new IllegalStateException("seeding " + op + " failed: " + result.why());
            }
        }
        int people = workload.initial().size();
        // each person costs Pipedrive a search (5 a second) before it is created there
        long deadline = System.nanoTime() + settings.patience().plusSeconds(people / 4).toNanos();
        while (sf.live(SalesforceSimulator.CONTACT).size() < people || hs.live().size() < people || pd.live().size() < people) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the initial people did not reach every system");
            }
            Thread.sleep(200);
        }
        awaitQuiet(service, hs, pd);
    }

    /** Issues the operations from several workers at the set rate, with faults and restarts meanwhile. */
    private int operate(Workload workload, Actors actors, Service service, SalesforceSimulator sf, HubSpotSimulator hs,
                        PipedriveSimulator pd) throws Exception {
        Random random = new Random(settings.seed() * 31 + 7);
        List<Integer> restartAt = new ArrayList<>();
        for (int i = 0; i < settings.restarts(); i++) {
            double from = (i + 0.3) / (settings.restarts() + 0.5);
            restartAt.add((int) (workload.ops().size() * (from + random.nextDouble() * 0.25 / settings.restarts())));
        }
        List<Long> downtimes = restartAt.stream().map(at -> 500L + random.nextInt(2500)).toList();
        AtomicInteger next = new AtomicInteger();
        AtomicInteger restarted = new AtomicInteger();
        AtomicInteger killed = new AtomicInteger();
        AtomicLong downFor = new AtomicLong();
        long start = System.nanoTime();
        ExecutorService workers = Executors.newFixedThreadPool(settings.workers() + 2);
        List<Future<?>> running = new ArrayList<>();
        for (int w = 0; w < settings.workers(); w++) {
            running.add(workers.submit(() -> {
                for (int i = next.getAndIncrement(); i < workload.ops().size(); i = next.getAndIncrement()) {
                    pace(start, i);
                    Op op = workload.ops().get(i);
                    try {
                        long issued = System.currentTimeMillis();
                        Result result = actors.run(op);
                        ran.put(op.index(), new Diagnostics.Ran(issued, System.currentTimeMillis(),
                                result.outcome() + (result.why() == null ? "" : " " + result.why())));
                        outcomes.get(result.outcome()).incrementAndGet();
                        if (result.outcome() == Outcome.ACKNOWLEDGED) {
                            byKind.computeIfAbsent(op.actor().system + " " + op.kind().name().toLowerCase(Locale.ROOT),
                                    k -> new AtomicInteger()).incrementAndGet();
                        } else {
                            reasons.computeIfAbsent(result.outcome().name().toLowerCase(Locale.ROOT) + ": "
                                    + shorten(result.why()), k -> new AtomicInteger()).incrementAndGet();
                        }
                    } catch (RuntimeException e) {
                        errors.add(op + ": " + e);
                    }
                }
                return null;
            }));
        }
        Future<?> restarter = workers.submit(() -> {
            for (int r = 0; r < restartAt.size(); r++) {
                while (next.get() < restartAt.get(r)) {
                    Thread.sleep(20);
                }
                long down = System.nanoTime();
                if (settings.kill(r)) {
                    service.kill();
                    killed.incrementAndGet();
                } else {
                    service.stop();
                }
                Thread.sleep(downtimes.get(r));
                service.start();
                downFor.addAndGet(System.nanoTime() - down);
                restarted.incrementAndGet();
            }
            return null;
        });
        Future<?> chaos = workers.submit(() -> {
            Random faultRandom = new Random(settings.seed() * 17 + 3);
            while (next.get() < workload.ops().size()) {
                Thread.sleep(300 + faultRandom.nextInt(1200));
                inject(faultRandom, sf, hs, pd);
            }
            return null;
        });
        for (Future<?> worker : running) {
            worker.get();
        }
        restarter.get();
        chaos.get();
        workers.shutdown();
        workers.awaitTermination(10, TimeUnit.SECONDS);
        figures.put("service down (s)", seconds(downFor.get()));
        figures.put("restarts after SIGKILL", killed.get());
        return restarted.get();
    }

    private void pace(long start, int index) throws InterruptedException {
        long due = start + (long) (index * 1e9 / settings.rate());
        long wait = due - System.nanoTime();
        if (wait > 0) {
            TimeUnit.NANOSECONDS.sleep(wait);
        }
    }

    /** One fault, drawn from the seed: on one simulator's API, or on HubSpot's or Pipedrive's webhooks. */
    private void inject(Random random, SalesforceSimulator sf, HubSpotSimulator hs, PipedriveSimulator pd)
            throws InterruptedException {
        SimulatorServer[] sims = {sf, hs, pd};
        String[] names = {"salesforce", "hubspot", "pipedrive"};
        int which = random.nextInt(3);
        SimulatorServer sim = sims[which];
        int kind = random.nextInt(6);
        switch (kind) {
            case 0 -> {
                int count = 1 + random.nextInt(3);
                sim.faults().failNext(count, new int[]{500, 502, 503}[random.nextInt(3)]);
                count(names[which] + " 5xx", count);
            }
            case 1 -> {
                int count = 1 + random.nextInt(3);
                sim.faults().rateLimitNext(count, 1);
                count(names[which] + " 429", count);
            }
            case 2 -> {
                int count = 1 + random.nextInt(2);
                sim.faults().dropNext(count);
                count(names[which] + " dropped connection", count);
            }
            case 3 -> {
                sim.faults().latency(Duration.ofMillis(200 + random.nextInt(1300)));
                count(names[which] + " slow replies (windows)", 1);
                Thread.sleep(500 + random.nextInt(2000));
                sim.faults().latency(Duration.ZERO);
            }
            default -> {
                int count = 1 + random.nextInt(2);
                if (random.nextBoolean()) {
                    hs.webhooks().loseNext(count);
                    count("hubspot webhooks lost", count);
                } else {
                    pd.webhooks().loseNext(count);
                    count("pipedrive webhooks lost", count);
                }
            }
        }
    }

    private void count(String fault, int count) {
        faults.computeIfAbsent(fault, k -> new AtomicInteger()).addAndGet(count);
    }

    /** Counted faults the simulators answered with (injected minus those still pending). */
    private Map<String, Long> faultsServed(List<SimulatorServer> sims) {
        Map<String, Long> pending = new LinkedHashMap<>();
        String[] names = {"salesforce", "hubspot", "pipedrive"};
        for (int i = 0; i < sims.size(); i++) {
            pending.put(names[i], sims.get(i).faults().pending().stream().mapToLong(Faults.Rule::remaining).sum());
        }
        Map<String, Long> served = new LinkedHashMap<>();
        for (String name : names) {
            long injected = faults.entrySet().stream().filter(e -> e.getKey().startsWith(name + " ")
                            && !e.getKey().contains("webhooks") && !e.getKey().contains("slow"))
                    .mapToLong(e -> e.getValue().get()).sum();
            served.put(name, injected - pending.get(name));
        }
        return served;
    }

    /**
     * Waits until nothing is on its way: no webhook queued or retried, no inbox change or outbox row
     * pending, no sync run active, and that for {@link Settings#quietFor()} on end. False if the
     * patience ran out first.
     */
    private boolean awaitQuiet(Service service, HubSpotSimulator hs, PipedriveSimulator pd) throws InterruptedException {
        long deadline = System.nanoTime() + settings.patience().toNanos();
        String last = null;
        long since = 0;
        while (System.nanoTime() < deadline) {
            JdbcTemplate jdbc = service.jdbc();
            Map<String, Object> state = jdbc.queryForMap("SELECT (SELECT COUNT(*) FROM inbox WHERE state IN ('pending', 'claimed')) AS inbox, "
                    + "(SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'claimed')) AS outbox, "
                    + "(SELECT COUNT(*) FROM sync_run WHERE active_key IS NOT NULL) AS runs, "
                    + "(SELECT COUNT(*) FROM inbox) AS changes, (SELECT COUNT(*) FROM outbox) AS deliveries");
            boolean idle = ((Number) state.get("inbox")).longValue() == 0 && ((Number) state.get("outbox")).longValue() == 0
                    && ((Number) state.get("runs")).longValue() == 0 && hs.webhooks().queued() == 0
                    && hs.webhooks().retrying() == 0 && pd.webhooks().pending().isEmpty();
            String now = state.get("changes") + "/" + state.get("deliveries");
            if (!idle || !now.equals(last)) {
                last = idle ? now : null;
                since = System.nanoTime();
            } else if (System.nanoTime() - since >= settings.quietFor().toNanos()) {
                return true;
            }
            Thread.sleep(200);
        }
        errors.add("not quiet after " + settings.patience() + ": " + service.jdbc().queryForList(
                "SELECT 'inbox' AS t, state, COUNT(*) AS n FROM inbox GROUP BY state UNION ALL "
                        + "SELECT 'outbox', state, COUNT(*) FROM outbox GROUP BY state"));
        return false;
    }

    /** Every failure either delivered or in dead letters: nothing left pending, claimed, or failed without a dead letter. */
    private static Map<String, Object> accounting(JdbcTemplate jdbc) {
        Map<String, Object> figures = new LinkedHashMap<>();
        long stuck = jdbc.queryForObject("SELECT COUNT(*) FROM inbox WHERE state IN ('pending', 'claimed')", Long.class)
                + jdbc.queryForObject("SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'claimed')", Long.class);
        long lost = jdbc.queryForObject("SELECT COUNT(*) FROM outbox o WHERE o.state = 'dead' AND NOT EXISTS "
                + "(SELECT 1 FROM dead_letter d WHERE d.outbox_id = o.id)", Long.class)
                + jdbc.queryForObject("SELECT COUNT(*) FROM inbox i WHERE i.state = 'failed' AND NOT EXISTS "
                + "(SELECT 1 FROM dead_letter d WHERE d.inbox_id = i.id)", Long.class);
        figures.put("inbox changes", jdbc.queryForObject("SELECT COUNT(*) FROM inbox", Long.class));
        figures.put("outbox deliveries", jdbc.queryForObject("SELECT COUNT(*) FROM outbox", Long.class));
        figures.put("dead letters", jdbc.queryForList("SELECT route_id || ' ' || COALESCE(system, '-') AS k, COUNT(*) AS n "
                + "FROM dead_letter GROUP BY route_id, system").stream()
                .collect(java.util.stream.Collectors.toMap(r -> (String) r.get("k"), r -> r.get("n"))));
        figures.put("unaccounted", stuck + lost);
        return figures;
    }

    /** A reconcile of each system, one after the other; their outcome and what they repaired. */
    private Map<String, Object> reconcile(Service service) throws InterruptedException {
        Map<String, Object> runs = new LinkedHashMap<>();
        for (String system : SYSTEMS) {
            Http api = service.api();
            Http.Reply started = api.post("/api/sync/" + system + "/runs", "{\"type\":\"reconcile\"}");
            if (started.status() != 201 && started.status() != 202) {
                runs.put(system, Map.of("state", "not started: " + started));
                continue;
            }
            String id = started.json().get("id").asText();
            long deadline = System.nanoTime() + settings.patience().toNanos();
            JsonNode run = api.get("/api/sync/runs/" + id).json();
            while (run.path("endedAt").isNull() && System.nanoTime() < deadline) {
                Thread.sleep(200);
                run = api.get("/api/sync/runs/" + id).json();
            }
            Map<String, Object> outcome = new LinkedHashMap<>();
            outcome.put("state", run.path("state").asText());
            outcome.put("fetched", run.path("fetched").asLong());
            outcome.put("repaired", JSON.convertValue(run.path("repaired"), Map.class));
            if (run.path("errors").size() > 0) {
                outcome.put("errors", run.path("errors").toString());
            }
            runs.put(system, outcome);
        }
        return runs;
    }

    /** What an operator does with dead letters once the faults are gone: sends them again. */
    private static Map<String, Object> replayDeadLetters(Service service) {
        Map<String, Object> replayed = new LinkedHashMap<>();
        for (String system : SYSTEMS) {
            Http.Reply reply = service.api().post("/api/dead-letters/replay?system=" + system, "");
            JsonNode body = reply.json();
            long count = body.path("replayed").asLong(0);
            if (count > 0) {
                replayed.put(system, count);
            }
        }
        return replayed;
    }

    /** The hub's live contacts and each system's live records, as canonical values. */
    private static Checker.Snapshot snapshot(Service service, SalesforceSimulator sf, HubSpotSimulator hs, PipedriveSimulator pd) {
        Mappings mappings = service.mappings();
        List<Checker.Record> hub = service.jdbc().query("SELECT id, email, first_name, last_name, phone, company, title, custom "
                + "FROM contact WHERE deleted_at IS NULL ORDER BY id", (rs, n) -> {
            Map<String, Object> values = new LinkedHashMap<>();
            values.put("email", rs.getString("email"));
            values.put("firstName", rs.getString("first_name"));
            values.put("lastName", rs.getString("last_name"));
            values.put("phone", rs.getString("phone"));
            values.put("company", rs.getString("company"));
            values.put("title", rs.getString("title"));
            try {
                values.put("custom.mobile", JSON.readTree(rs.getString("custom")).path("mobile").textValue());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return new Checker.Record(rs.getString("id"), values);
        });
        Map<String, List<Checker.Record>> systems = new LinkedHashMap<>();
        Map<String, List<String>> compared = new LinkedHashMap<>();
        List<Map<String, Object>> contacts = new ArrayList<>(sf.live(SalesforceSimulator.CONTACT));
        // the run makes no Leads: one would be a person the hub created as the wrong object
        contacts.addAll(sf.live(SalesforceSimulator.LEAD));
        read(mappings.get("salesforce-contact"), contacts, systems, compared);
        read(mappings.get("hubspot-contact"), hs.live(), systems, compared);
        read(mappings.get("pipedrive-person"), pd.live(), systems, compared);
        return new Checker.Snapshot(hub, systems, compared);
    }

    private static void read(Mapping mapping, List<Map<String, Object>> live, Map<String, List<Checker.Record>> systems,
                             Map<String, List<String>> compared) {
        List<Checker.Record> records = new ArrayList<>();
        for (Map<String, Object> record : live) {
            Mapping.RemoteRecord remote = mapping.toCanonical(JSON.valueToTree(record));
            records.add(new Checker.Record(remote.externalId(), remote.values()));
        }
        systems.put(mapping.provider(), records);
        // fields that flow to the system and are read back from it
        compared.put(mapping.provider(), mapping.outboundFields().stream().filter(mapping.inboundFields()::contains).distinct().toList());
    }

    private static Map<String, Integer> counts(Map<String, AtomicInteger> counters) {
        Map<String, Integer> counts = new LinkedHashMap<>();
        counters.forEach((key, value) -> counts.put(key, value.get()));
        return counts;
    }

    private static String shorten(String why) {
        if (why == null) {
            return "";
        }
        String first = why.replaceAll("[0-9a-f]{8}-[0-9a-f-]{27}", "<id>").replaceAll("\\d+", "N");
        return first.length() > 80 ? first.substring(0, 80) : first;
    }

    private static double seconds(long nanos) {
        return Math.round(nanos / 1e8) / 10.0;
    }

    /**
     * The long run for the benchmark command: prints the figures and writes
     * {@code target/bench/convergence-summary.json}; exits 1 when the checker found something.
     */
    public static void main(String[] args) throws Exception {
        // as surefire sets it for the tests: the simulators' JDK HttpServer otherwise waits out delayed ACKs
        System.setProperty("sun.net.httpserver.nodelay", "true");
        Settings settings = Settings.fromSystemProperties(20_000, 25);
        Path data = Files.createTempDirectory("converge");
        Report report = new ConvergenceRun(settings).run(data);
        Path summary = Path.of("target", "bench", "convergence-summary.json");
        report.write(summary);
        System.out.println("Figures and findings: " + summary.toAbsolutePath());
        System.exit(report.clean() ? 0 : 1);
    }
}
