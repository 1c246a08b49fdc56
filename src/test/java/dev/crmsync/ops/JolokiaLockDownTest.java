package dev.crmsync.ops;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.UUID;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crmsync.provider.ProviderPauses;
import dev.crmsync.sim.GenericCrmSimulator;
import dev.crmsync.support.Http;
import dev.crmsync.support.Http.Reply;
import dev.crmsync.support.ServiceTest;
import dev.crmsync.support.Simulated;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Jolokia as the admin reaches it, the way Hawtio calls it (POST of JSON, same origin, Basic login):
 * reading and the operator's operations work; evaluating expressions, diagnostic commands, heap
 * dumps, attribute writes, secret-bearing attributes, and any call a page on another origin could
 * make are refused, and their effect is absent.
 */
@ServiceTest
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
class JolokiaLockDownTest {

    static final GenericCrmSimulator CRM1 = GenericCrmSimulator.builder().token("token-crm1").build().start();

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        Simulated.rest(registry, "crm1", CRM1);
        registry.add("crmsync.providers.crm1.poll-cron", () -> "0 0 0 1 1 ? 2099");
    }

    @AfterAll
    static void stop() {
        CRM1.stop();
    }

    @LocalServerPort
    int port;

    @Autowired
    ProviderPauses pauses;

    Http http;
    String admin;
    String self;

    @Autowired
    SyncOperations operations;

    /** pauseProvider of this context's SyncOperations (another test's context may hold the plain name). */
    String PAUSE;

    @BeforeEach
    void client() throws Exception {
        PAUSE = "{\"type\":\"exec\",\"mbean\":\"" + operations.getObjectName() + "\","
                + "\"operation\":\"pauseProvider\",\"arguments\":[\"crm1\",30]}";
        admin = "Basic " + Base64.getEncoder().encodeToString(("admin:" + ServiceTest.ADMIN_PASSWORD).getBytes(StandardCharsets.UTF_8));
        self = "http://127.0.0.1:" + port;
        http = new Http(port).withHeader("Authorization", admin);
    }

    @AfterEach
    void resume() {
        pauses.resume("crm1");
    }

    /** As Hawtio's Jolokia client sends it: text/json, from the service's own page. */
    Reply hawtio(String path, String body) {
        return http.post(path, body, "Content-Type", "text/json", "Origin", self, "Referer", self + "/actuator/hawtio/");
    }

    @Test
    void hawtioListsTheRoutesReadsThemAndRunsPauseProvider() {
        for (String path : new String[]{"/actuator/jolokia", "/actuator/hawtio/jolokia"}) {
            Reply bulk = hawtio(path, "[{\"type\":\"search\",\"mbean\":\"org.apache.camel:type=routes,*\"},"
                    + "{\"type\":\"read\",\"mbean\":\"org.apache.camel:type=routes,*\",\"attribute\":\"State\"},"
                    + "{\"type\":\"list\",\"path\":\"dev.crmsync\"},{\"type\":\"version\"}]");

            assertThat(bulk.status()).as(path + ": " + bulk).isEqualTo(200);
            JsonNode replies = bulk.json();
            assertThat(replies).hasSize(4).allSatisfy(reply -> assertThat(reply.get("status").asInt()).as(reply.toString()).isEqualTo(200));
            assertThat(replies.get(0).get("value").toString()).contains("api-contacts-create");
            assertThat(replies.get(1).get("value").toString()).contains("Started");
            assertThat(replies.get(2).get("value").toString()).contains("pauseProvider");
        }

        Reply paused = hawtio("/actuator/hawtio/jolokia", PAUSE);

        assertThat(paused.json().get("status").asInt()).as(paused.toString()).isEqualTo(200);
        assertThat(paused.json().get("value").asText()).startsWith("crm1 is paused until");
        assertThat(pauses.paused("crm1")).isPresent();
    }

    @Test
    void anOperatorCanStopAndStartACamelRoute() {
        String route = "org.apache.camel:context=crm-contact-sync,type=routes,name=\\\"inbox-retention\\\"";

        Reply stopped = hawtio("/actuator/jolokia", "{\"type\":\"exec\",\"mbean\":\"" + route + "\",\"operation\":\"stop()\"}");
        assertThat(stopped.json().get("status").asInt()).as(stopped.toString()).isEqualTo(200);
        assertThat(state(route)).isEqualTo("Stopped");

        Reply started = hawtio("/actuator/jolokia", "{\"type\":\"exec\",\"mbean\":\"" + route + "\",\"operation\":\"start\"}");
        assertThat(started.json().get("status").asInt()).as(started.toString()).isEqualTo(200);
        assertThat(state(route)).isEqualTo("Started");
    }

    @Test
    void hawtiosRouteDiagramReadsTheRoutesWithTheirPlaceholdersUnresolved() {
        String context = "org.apache.camel:context=crm-contact-sync,type=context,name=\\\"crm-contact-sync\\\"";

        Reply routes = hawtio("/actuator/jolokia", "{\"type\":\"exec\",\"mbean\":\"" + context + "\",\"operation\":\"dumpRoutesAsXml()\"}");
        Reply resolved = hawtio("/actuator/jolokia", "{\"type\":\"exec\",\"mbean\":\"" + context + "\","
                + "\"operation\":\"dumpRoutesAsXml(boolean)\",\"arguments\":[true]}");

        assertThat(routes.json().get("status").asInt()).as(routes.toString()).isEqualTo(200);
        assertThat(routes.json().get("value").asText()).contains("inbox-process").contains("{{crmsync.sync.process-period");
        assertRefusedByPolicy(resolved);
    }

    @Test
    void theCamelContextEvaluatesNoExpression() {
        String context = "org.apache.camel:context=crm-contact-sync,type=context,name=\\\"crm-contact-sync\\\"";
        for (String call : new String[]{
                "\"operation\":\"requestBody(java.lang.String,java.lang.Object)\",\"arguments\":[\"language:simple:${properties:crmsync.api-key}\",\"x\"]",
                "\"operation\":\"requestBody\",\"arguments\":[\"language:simple:${properties:crmsync.admin.password}\",\"x\"]",
                "\"operation\":\"sendBody\",\"arguments\":[\"language:simple:${properties:crmsync.api-key}\",\"x\"]"}) {
            Reply reply = hawtio("/actuator/jolokia", "{\"type\":\"exec\",\"mbean\":\"" + context + "\"," + call + "}");

            assertRefusedByPolicy(reply);
            assertThat(reply.body()).doesNotContain(ServiceTest.API_KEY).doesNotContain(ServiceTest.ADMIN_PASSWORD);
        }
    }

    @Test
    void noHeapDumpIsWrittenAndNoDiagnosticCommandRuns(@TempDir Path dir) {
        Path dump = dir.resolve("dump-" + UUID.randomUUID() + ".hprof");

        Reply heap = hawtio("/actuator/jolokia", "{\"type\":\"exec\",\"mbean\":\"com.sun.management:type=HotSpotDiagnostic\","
                + "\"operation\":\"dumpHeap\",\"arguments\":[\"" + dump + "\",true]}");
        Reply command = hawtio("/actuator/jolokia", "{\"type\":\"exec\",\"mbean\":\"com.sun.management:type=DiagnosticCommand\","
                + "\"operation\":\"vmSystemProperties\",\"arguments\":[]}");
        Reply flag = hawtio("/actuator/jolokia", "{\"type\":\"exec\",\"mbean\":\"com.sun.management:type=HotSpotDiagnostic\","
                + "\"operation\":\"setVMOption\",\"arguments\":[\"HeapDumpOnOutOfMemoryError\",\"true\"]}");

        assertRefusedByPolicy(heap);
        assertThat(dump).doesNotExist();
        assertRefusedByPolicy(command);
        assertThat(command.body()).doesNotContain("java.home");
        assertRefusedByPolicy(flag);
    }

    @Test
    void noAttributeIsWrittenAndNoOtherCommandTypeRuns() {
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        boolean verbose = memory.isVerbose();

        Reply write = hawtio("/actuator/jolokia", "{\"type\":\"write\",\"mbean\":\"java.lang:type=Memory\",\"attribute\":\"Verbose\",\"value\":"
                + !verbose + "}");
        String client = hawtio("/actuator/jolokia", "{\"type\":\"notification\",\"command\":\"register\"}")
                .json().path("value").path("id").asText();
        Reply notification = hawtio("/actuator/jolokia", "{\"type\":\"notification\",\"command\":\"add\",\"client\":\""
                + client + "\",\"mode\":\"pull\",\"mbean\":\"JMImplementation:type=MBeanServerDelegate\"}");

        assertRefusedByPolicy(write);
        assertThat(memory.isVerbose()).isEqualTo(verbose);
        // no notification backend: no listener on any MBean
        assertThat(notification.json().get("status").asInt()).as(notification.toString()).isNotEqualTo(200);
    }

    @Test
    void noSecretIsReadableThroughAnyMBean() {
        String secret = "system-property-secret-" + UUID.randomUUID();
        System.setProperty("crmsync.test.secret", secret);
        try {
            Reply properties = hawtio("/actuator/jolokia", "{\"type\":\"read\",\"mbean\":\"java.lang:type=Runtime\",\"attribute\":\"SystemProperties\"}");
            Reply arguments = hawtio("/actuator/jolokia", "{\"type\":\"read\",\"mbean\":\"java.lang:type=Runtime\",\"attribute\":\"InputArguments\"}");
            Reply everything = hawtio("/actuator/jolokia", "{\"type\":\"read\",\"mbean\":\"*:*\",\"config\":{\"ignoreErrors\":true}}");

            assertRefusedByPolicy(properties);
            assertRefusedByPolicy(arguments);
            assertThat(everything.json().get("status").asInt()).as(everything.body().substring(0, 300)).isEqualTo(200);
            assertThat(everything.json().get("value").toString()).contains("java.lang:type=Runtime").contains("crm-contact-sync");
            assertThat(everything.body()).doesNotContain(secret).doesNotContain(ServiceTest.API_KEY)
                    .doesNotContain(ServiceTest.ADMIN_PASSWORD).doesNotContain("token-crm1");
        } finally {
            System.clearProperty("crmsync.test.secret");
        }
    }

    @Test
    void aPageOnAnotherOriginCannotDriveJolokia() {
        Reply foreign = http.post("/actuator/jolokia", PAUSE, "Content-Type", "application/json", "Origin", "http://evil.example");
        Reply foreignReferer = http.post("/actuator/jolokia", PAUSE, "Content-Type", "application/json",
                "Referer", "http://evil.example/page.html");
        Reply nullOrigin = http.post("/actuator/jolokia", PAUSE, "Content-Type", "application/json", "Origin", "null");
        Reply otherPort = http.post("/actuator/jolokia", PAUSE, "Content-Type", "application/json",
                "Origin", "http://127.0.0.1:" + (port == 65535 ? 1 : port + 1));
        Reply viaHawtio = http.post("/actuator/hawtio/jolokia", PAUSE, "Content-Type", "text/json", "Origin", "http://evil.example");
        Reply preflight = http.send("OPTIONS", "/actuator/jolokia", (String) null, "Origin", "http://evil.example",
                "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type");

        Reply options = http.send("OPTIONS", "/actuator/jolokia", (String) null);

        for (Reply reply : new Reply[]{foreign, foreignReferer, nullOrigin, otherPort, viaHawtio, preflight}) {
            assertProblem(reply, 403, "another origin");
        }
        assertProblem(options, 405, "GET and POST");
        for (Reply reply : new Reply[]{foreign, preflight}) {
            assertThat(reply.header("Access-Control-Allow-Origin")).isNull();
            assertThat(reply.header("Access-Control-Allow-Credentials")).isNull();
        }
        assertThat(pauses.paused("crm1")).isEmpty();
    }

    @Test
    void onlyJsonPostsAndReadingGetsReachJolokia() {
        Reply plain = http.post("/actuator/jolokia", PAUSE, "Content-Type", "text/plain");
        Reply form = http.post("/actuator/jolokia", PAUSE, "Content-Type", "application/x-www-form-urlencoded");
        Reply none = http.send("POST", "/actuator/jolokia", PAUSE);
        Reply getExec = http.get("/actuator/jolokia/exec/dev.crmsync:type=SyncOperations/pauseProvider/crm1/30");
        Reply getExecByParameter = http.get("/actuator/jolokia/?p=/exec/dev.crmsync:type=SyncOperations/pauseProvider/crm1/30");
        Reply getExecEncoded = http.get("/actuator/jolokia/%65xec/dev.crmsync:type=SyncOperations/pauseProvider/crm1/30");

        for (Reply reply : new Reply[]{plain, form, none}) {
            assertProblem(reply, 415, "JSON");
        }
        for (Reply reply : new Reply[]{getExec, getExecByParameter, getExecEncoded}) {
            assertProblem(reply, 405, "may only read");
        }
        assertThat(pauses.paused("crm1")).isEmpty();

        // reading by GET, and scripts without an Origin (curl, as in the README), still work
        Reply read = http.get("/actuator/jolokia/read/dev.crmsync:type=SyncOperations/HealthScores");
        assertThat(read.json().get("status").asInt()).as(read.toString()).isEqualTo(200);
        Reply curl = http.post("/actuator/jolokia", PAUSE, "Content-Type", "application/json");
        assertThat(curl.json().get("status").asInt()).as(curl.toString()).isEqualTo(200);
        assertThat(pauses.paused("crm1")).isPresent();
    }

    private String state(String route) {
        return hawtio("/actuator/jolokia", "{\"type\":\"read\",\"mbean\":\"" + route + "\",\"attribute\":\"State\"}")
                .json().get("value").asText();
    }

    private static void assertRefusedByPolicy(Reply reply) {
        JsonNode body = reply.json();
        assertThat(body.get("status").asInt()).as(reply.toString()).isEqualTo(403);
        assertThat(body.get("error").asText()).as(reply.toString()).contains("forbidden");
        assertThat(body.has("value")).as(reply.toString()).isFalse();
    }

    private static void assertProblem(Reply reply, int status, String detail) {
        assertThat(reply.status()).as(reply.toString()).isEqualTo(status);
        assertThat(reply.header("Content-Type")).as(reply.toString()).startsWith("application/problem+json");
        assertThat(reply.json().get("status").asInt()).isEqualTo(status);
        assertThat(reply.json().get("title").asText()).isNotBlank();
        assertThat(reply.json().get("detail").asText()).as(reply.toString()).contains(detail);
    }
}
