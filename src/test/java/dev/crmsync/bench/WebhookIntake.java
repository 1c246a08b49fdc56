package dev.crmsync.bench;

import java.io.IOException;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crmsync.bench.Results.Latency;
import dev.crmsync.bench.Results.Row;
import dev.crmsync.sim.hubspot.HubSpotWebhooks;
import dev.crmsync.support.ServiceProcess;

/**
 * webhook-intake: how fast the service acknowledges CRM webhooks, each event durable in its inbox
 * before the 200, with nothing applying the inbox meanwhile (the route that does,
 * {@code routes/inbox-process.camel.yaml}, is left out with {@code camel.main.routes-exclude-pattern}):
 * intake alone. From
 * {@code bench.api-clients} client threads (16) in a closed loop over HTTP/1.1, first Pipedrive v2
 * person changes, one event a request as Pipedrive sends them (the whole person as {@code data}, the
 * changed fields in {@code previous}, HTTP Basic as registered), then HubSpot v3-signed batches of
 * {@value #HUBSPOT_BATCH} {@code contact.propertyChange} events. Each provider gets
 * {@code bench.webhook-warmup} events (not counted) then {@code bench.webhook-events}, every one with
 * its own event id. A non-2xx, a transport failure or an answer that does not count every event new
 * is an error; after the service stops, the inbox must hold exactly one pending row per acknowledged
 * event.
 */
final class WebhookIntake implements BenchmarkSuite.Scenario {

    static final int HUBSPOT_BATCH = 50;
    /** The persons whose changes the Pipedrive events carry, cycled through. */
    private static final int PEOPLE = 1_000;
    /** The route that applies the inbox: not loaded, so intake is all the service does. */
    private static final String NOT_LOADED = "inbox-process.camel.yaml";

    private final ObjectMapper json = new ObjectMapper();

    @Override
    public String name() {
        return "webhook-intake";
    }

    @Override
    public void run(BenchmarkSuite suite, BenchDatabase db, List<Row> rows) throws Exception {
        Settings settings = suite.settings();
        int warmup = settings.webhookWarmup();
        int events = settings.webhookEvents();
        int clients = settings.apiClients();
        String label = name() + " " + db.kind();
        Row pipedrive = new Row(name() + "/pipedrive", db.kind());
        Row hubspot = new Row(name() + "/hubspot", db.kind());
        rows.add(pipedrive);
        rows.add(hubspot);
        Map<String, Long> acknowledged = new LinkedHashMap<>();
        try (Crms crms = Crms.unlimited(Duration.ofSeconds(1))) {
            List<JsonNode> people = crms.pipedrive.seedDemo(PEOPLE).stream().map(person -> (JsonNode) json.valueToTree(person)).toList();
            Map<String, String> properties = new LinkedHashMap<>(crms.wiring());
            properties.put("camel.main.routes-exclude-pattern", "**/" + NOT_LOADED);
            try (ServiceProcess service = suite.startService(name(), db, properties)) {
                HttpLoad load = new HttpLoad(service.baseUrl(), ServiceProcess.API_KEY);
                String tag = Long.toString(System.currentTimeMillis(), 36);
                String authorization = "Basic " + Base64.getEncoder().encodeToString(
                        (Crms.PIPEDRIVE_USER + ":" + Crms.PIPEDRIVE_PASSWORD).getBytes(StandardCharsets.UTF_8));
                Sender pipedriveEvents = (from, count) -> load.run(count, clients,
                        i -> pipedriveEvent(load, authorization, tag, from + i, people.get((from + i) % PEOPLE)));
                String url = service.baseUrl() + "/webhooks/hubspot";
                Sender hubspotBatches = (from, count) -> load.run(count / HUBSPOT_BATCH, clients,
                        i -> hubspotBatch(load, url, from + i * HUBSPOT_BATCH));

                acknowledged.put("pipedrive", (long) measure(pipedrive, label, service, db, pipedriveEvents, warmup, events, 1));
                acknowledged.put("hubspot", (long) measure(hubspot, label, service, db, hubspotBatches, warmup, events, HUBSPOT_BATCH));
            }
        }
        // the store is read once the service has stopped
        Map<String, Long> stored = db.pendingInboxBySystem();
        for (Row row : List.of(pipedrive, hubspot)) {
            String system = row.scenario.substring(row.scenario.indexOf('/') + 1);
            long expected = acknowledged.getOrDefault(system, 0L);
            long inInbox = stored.getOrDefault(system, 0L);
            row.details.put("acknowledgedEvents", expected);
            row.details.put("pendingInboxRows", inInbox);
            if (inInbox != expected) {
                row.fail("the inbox holds " + inInbox + " pending " + system + " rows (none is applied here) but " + expected
                        + " events were acknowledged");
            }
        }
    }

    /** Sends {@code count} events numbered from {@code from}. */
    private interface Sender {
        HttpLoad.Outcome send(int from, int count) throws Exception;
    }

    /** The warm-up, then the measured phase; answers how many events were acknowledged in both. */
    private static int measure(Row row, String label, ServiceProcess service, BenchDatabase db, Sender sender, int warmup,
                               int events, int perRequest) throws Exception {
        int acknowledged = 0;
        if (warmup >= perRequest) {
            System.out.printf("[%s] %s warm-up: %,d events%n", label, row.scenario, warmup);
            HttpLoad.Outcome outcome = sender.send(0, warmup);
            acknowledged += (outcome.requests() - outcome.errors()) * perRequest;
            if (outcome.errors() > 0) {
                row.fail("the warm-up had " + outcome.errors() + " failed requests: " + outcome.errorSamples());
            }
        }
        System.out.printf("[%s] measuring %,d %s events ...%n", label, events, row.scenario);
        service.heapSinceLastCall();
        Meter meter = Meter.start(service.handle(), db.server());
        HttpLoad.Outcome outcome = sender.send(warmup, events);
        row.cpu = meter.stop();
        row.heap = service.heapSinceLastCall();
        BenchmarkSuite.check(service);
        acknowledged += (outcome.requests() - outcome.errors()) * perRequest;
        row.records = (long) outcome.requests() * perRequest;
        row.seconds = outcome.seconds();
        row.perSecond = row.records / outcome.seconds();
        row.latency = Latency.of(outcome.latencyNanos());
        row.details.put("eventsPerRequest", perRequest);
        row.details.put("requestsPerSecond", Results.round(outcome.perSecond()));
        row.details.put("statuses", outcome.statuses());
        row.details.put("errorSamples", outcome.errorSamples());
        row.details.put("serviceCpuMsPerEvent", Results.round(row.cpu.service() * outcome.seconds() * 1000 / row.records));
        if (outcome.errors() > 0) {
            row.fail(outcome.errors() + " of " + outcome.requests() + " requests failed " + outcome.statuses() + ": "
                    + outcome.errorSamples());
        }
        System.out.printf("[%s] %s: %,.0f events/s (%,.0f requests/s), p50 %.2f ms, p99 %.2f ms, %d errors; cores: "
                        + "service %.2f, other %.2f%n", label, row.scenario, row.perSecond, outcome.perSecond(),
                row.latency.p50(), row.latency.p99(), outcome.errors(), row.cpu.service(), row.cpu.other());
        return acknowledged;
    }

    /** Event {@code n}: a new first name of {@code person}, as Pipedrive's v2 webhook sends a change. */
    private HttpLoad.Call pipedriveEvent(HttpLoad load, String authorization, String tag, int n, JsonNode person) {
        String now = Instant.now().toString();
        ObjectNode data = person.deepCopy();
        data.put("first_name", "Bench" + n).put("update_time", now.substring(0, 19) + "Z");
        ObjectNode event = json.createObjectNode();
        event.putObject("meta").put("action", "change").put("entity", "person").put("entity_id", person.get("id").asText())
                .put("id", tag + "-" + n).put("timestamp", now).put("attempt", 1).put("version", "2.0");
        event.set("data", data);
        event.putObject("previous").put("first_name", person.path("first_name").asText())
                .put("update_time", person.path("update_time").asText());
        HttpRequest request = load.request("/webhooks/pipedrive").header("Content-Type", "application/json")
                .header("Authorization", authorization).POST(HttpRequest.BodyPublishers.ofString(event.toString())).build();
        return new HttpLoad.Call(request, response -> response.statusCode() == 200
                && new String(response.body(), StandardCharsets.UTF_8).contains("\"accepted\""));
    }

    /** Events {@code from} to {@code from + HUBSPOT_BATCH - 1} in one request, signed as HubSpot signs them. */
    private HttpLoad.Call hubspotBatch(HttpLoad load, String url, int from) {
        long now = System.currentTimeMillis();
        ArrayNode batch = json.createArrayNode();
        for (int n = from; n < from + HUBSPOT_BATCH; n++) {
            batch.addObject().put("eventId", 1_000_000_000L + n).put("subscriptionId", 4242).put("portalId", 62515)
                    .put("appId", 1234).put("occurredAt", now).put("subscriptionType", "contact.propertyChange")
                    .put("attemptNumber", 0).put("objectId", 100_000L + n % PEOPLE).put("propertyName", "lastname")
                    .put("propertyValue", "Bench " + n).put("changeSource", "CRM_UI");
        }
        String body = batch.toString();
        HttpRequest request = load.request("/webhooks/hubspot").header("Content-Type", "application/json")
                .header("X-HubSpot-Signature-v3", HubSpotWebhooks.signatureV3(Crms.HUBSPOT_SECRET, "POST", url, body, now))
                .header("X-HubSpot-Request-Timestamp", Long.toString(now))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        return new HttpLoad.Call(request, response -> {
            if (response.statusCode() != 200) {
                return false;
            }
            try {
                return json.readTree(response.body()).path("new").asInt() == HUBSPOT_BATCH;
            } catch (IOException e) {
                return false;
            }
        });
    }
}
