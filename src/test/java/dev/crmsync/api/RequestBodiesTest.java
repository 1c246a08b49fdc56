package dev.crmsync.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.UUID;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import dev.crmsync.sim.hubspot.HubSpotSimulator;
import dev.crmsync.sim.pipedrive.PipedriveSimulator;
import dev.crmsync.support.RawHttp;
import dev.crmsync.support.RawHttp.Reply;
import dev.crmsync.support.ServiceTest;
import dev.crmsync.support.Simulated;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Request bodies as real clients send them: chunked, in a declared charset, or not decodable at all.
 * Each is either taken (the row is in the store) or refused with a problem document that says why
 * (and nothing is stored); none answers 500.
 */
@ServiceTest
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
class RequestBodiesTest {

    static final String SECRET = "hubspot-client-secret-for-body-tests";
    static final String HOOK_USER = "pipedrive-hooks";
    static final String HOOK_PASSWORD = "hook-secret-" + UUID.randomUUID();
    static final HubSpotSimulator HS = HubSpotSimulator.builder().uniqueProperty(Simulated.HUBSPOT_HUB_ID).token("hs-token").clientSecret(SECRET).build().start();
    static final PipedriveSimulator PD = PipedriveSimulator.builder().apiToken("pd-token").build().start();

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        Simulated.hubspot(registry, HS, SECRET);
        Simulated.pipedrive(registry, PD, HOOK_USER, HOOK_PASSWORD);
        registry.add("crmsync.api.max-body-size", () -> "64KB");
    }

    @AfterAll
    static void stop() {
        HS.stop();
        PD.stop();
    }

    @LocalServerPort
    int port;

    @Autowired
    JdbcTemplate jdbc;

    RawHttp http;

    @BeforeEach
    void client() {
        http = new RawHttp(port);
    }

    @Test
    void aChunkedCreateIsStored() {
        String email = email();

        Reply reply = http.send(api("POST", "/api/contacts", "application/json") + "\r\nTransfer-Encoding: chunked",
                RawHttp.chunked(("{\"email\":\"" + email + "\",\"firstName\":\"Chunk\"}").getBytes(StandardCharsets.UTF_8)));

        assertThat(reply.status()).as(reply.toString()).isEqualTo(201);
        assertThat(reply.json().get("email").asText()).isEqualTo(email);
        assertThat(firstName(email)).isEqualTo("Chunk");
    }

    @Test
    void chunkedPatchAndPutChangeTheContact() {
        String email = email();
        String id = create(email);

        Reply patch = http.send(api("PATCH", "/api/contacts/" + id, "application/merge-patch+json") + "\r\nTransfer-Encoding: chunked",
                RawHttp.chunked("{\"firstName\":\"Patched\"}".getBytes(StandardCharsets.UTF_8)));
        assertThat(patch.status()).as(patch.toString()).isEqualTo(200);
        assertThat(firstName(email)).isEqualTo("Patched");

        Reply put = http.send(api("PUT", "/api/contacts/" + id, "application/json") + "\r\nTransfer-Encoding: chunked",
                RawHttp.chunked(("{\"email\":\"" + email + "\",\"firstName\":\"Put\"}").getBytes(StandardCharsets.UTF_8)));
        assertThat(put.status()).as(put.toString()).isEqualTo(200);
        assertThat(firstName(email)).isEqualTo("Put");
    }

    @Test
    void aChunkedBodyOverTheLimitIsRefusedWith413AndNotStored() {
        String email = email();
        byte[] big = ("{\"email\":\"" + email + "\",\"firstName\":\"" + "x".repeat(70 * 1024) + "\"}").getBytes(StandardCharsets.UTF_8);

        Reply reply = http.send(api("POST", "/api/contacts", "application/json") + "\r\nTransfer-Encoding: chunked",
                RawHttp.chunked(big));

        assertProblem(reply, 413, "larger than");
        assertThat(contacts(email)).isZero();
    }

    @Test
    void aBodyInADeclaredCharsetIsDecodedByIt() {
        for (String charset : new String[]{"ISO-8859-1", "utf-16", "windows-1252"}) {
            String email = email();
            byte[] body = ("{\"email\":\"" + email + "\",\"firstName\":\"Zoë\",\"lastName\":\"Brontë\"}").getBytes(Charset.forName(charset));

            Reply reply = http.send(api("POST", "/api/contacts", "application/json; charset=" + charset)
                    + "\r\nContent-Length: " + body.length, body);

            assertThat(reply.status()).as(charset + ": " + reply).isEqualTo(201);
            assertThat(firstName(email)).as(charset).isEqualTo("Zoë");
        }
    }

    @Test
    void aChunkedBodyInADeclaredCharsetIsDecodedByIt() {
        String email = email();
        byte[] body = ("{\"email\":\"" + email + "\",\"firstName\":\"Zoë\"}").getBytes(StandardCharsets.ISO_8859_1);

        Reply reply = http.send(api("POST", "/api/contacts", "application/json;charset=iso-8859-1")
                + "\r\nTransfer-Encoding: chunked", RawHttp.chunked(body));

        assertThat(reply.status()).as(reply.toString()).isEqualTo(201);
        assertThat(firstName(email)).isEqualTo("Zoë");
    }

    @Test
    void anUnknownCharsetIsRefusedWith415AndNothingIsStored() {
        for (String charset : new String[]{"klingon-8", "\"utf-9\"", "x@y"}) {
            String email = email();
            byte[] body = ("{\"email\":\"" + email + "\"}").getBytes(StandardCharsets.UTF_8);

            Reply reply = http.send(api("POST", "/api/contacts", "application/json; charset=" + charset)
                    + "\r\nContent-Length: " + body.length, body);

            assertProblem(reply, 415, "charset");
            assertThat(contacts(email)).as(charset).isZero();
        }
    }

    @Test
    void bytesThatAreNotValidInTheirCharsetAreRefusedWith400AndNothingIsStored() {
        String email = email();
        // 0xC3 0x28: a UTF-8 lead byte followed by one that cannot continue it; 0xE9: no ASCII character
        byte[] notUtf8 = concat(("{\"email\":\"" + email + "\",\"firstName\":\"").getBytes(StandardCharsets.US_ASCII),
                new byte[]{(byte) 0xC3, 0x28}, "\"}".getBytes(StandardCharsets.US_ASCII));
        byte[] notAscii = concat(("{\"email\":\"" + email + "\",\"firstName\":\"Zo").getBytes(StandardCharsets.US_ASCII),
                new byte[]{(byte) 0xE9}, "\"}".getBytes(StandardCharsets.US_ASCII));

        for (String[] sent : new String[][]{{"application/json", "UTF-8"}, {"application/json; charset=utf-8", "UTF-8"},
                {"application/json; charset=us-ascii", "US-ASCII"}}) {
            byte[] body = sent[1].equals("UTF-8") ? notUtf8 : notAscii;
            Reply reply = http.send(api("POST", "/api/contacts", sent[0]) + "\r\nContent-Length: " + body.length, body);
            assertProblem(reply, 400, "not valid " + sent[1]);
        }
        Reply chunked = http.send(api("PATCH", "/api/contacts/" + create(email()), "application/json")
                + "\r\nTransfer-Encoding: chunked", RawHttp.chunked(notUtf8));
        assertProblem(chunked, 400, "not valid UTF-8");
        assertThat(contacts(email)).isZero();
    }

    @Test
    void aChunkedPipedriveWebhookIsStoredAndAnUndecodableOneIsRefused() {
        String event = UUID.randomUUID().toString();
        byte[] body = ("{\"meta\":{\"action\":\"delete\",\"entity\":\"person\",\"id\":\"" + event
                + "\",\"entity_id\":\"424242\",\"timestamp\":\"2026-12-01T10:00:00Z\"},\"previous\":{\"name\":\"Zoë\"}}")
                .getBytes(StandardCharsets.UTF_8);
        String auth = "Authorization: Basic " + Base64.getEncoder().encodeToString((HOOK_USER + ":" + HOOK_PASSWORD)
                .getBytes(StandardCharsets.UTF_8));

        Reply reply = http.send("POST /webhooks/pipedrive HTTP/1.1\r\nContent-Type: application/json\r\n" + auth
                + "\r\nTransfer-Encoding: chunked", RawHttp.chunked(body));

        assertThat(reply.status()).as(reply.toString()).isEqualTo(200);
        assertThat(inbox("pipedrive:webhook:" + event)).isEqualTo(1);

        String other = UUID.randomUUID().toString();
        byte[] bad = concat(("{\"meta\":{\"action\":\"delete\",\"entity\":\"person\",\"id\":\"" + other
                + "\",\"entity_id\":\"434343\"},\"previous\":{\"name\":\"Zo").getBytes(StandardCharsets.US_ASCII),
                new byte[]{(byte) 0xFF}, "\"}}".getBytes(StandardCharsets.US_ASCII));
        Reply refused = http.send("POST /webhooks/pipedrive HTTP/1.1\r\nContent-Type: application/json\r\n" + auth
                + "\r\nContent-Length: " + bad.length, bad);
        assertProblem(refused, 400, "not valid UTF-8");
        assertThat(inbox("pipedrive:webhook:" + other)).isZero();
    }

    @Test
    void aHubSpotWebhookIsVerifiedOverItsRawBytesChunkedOrInAnotherCharset() throws Exception {
        for (String[] sent : new String[][]{{"application/json", "UTF-8", "chunked"},
                {"application/json; charset=ISO-8859-1", "ISO-8859-1", "length"}}) {
            long eventId = Math.abs(UUID.randomUUID().getMostSignificantBits() % 1_000_000_000L);
            byte[] body = ("[{\"eventId\":" + eventId + ",\"subscriptionType\":\"contact.propertyChange\",\"objectId\":77,"
                    + "\"occurredAt\":1,\"propertyName\":\"firstname\",\"propertyValue\":\"Zoë\"}]").getBytes(Charset.forName(sent[1]));
            String now = Long.toString(System.currentTimeMillis());
            String signature = sign(("POST" + "http://127.0.0.1:" + port + "/webhooks/hubspot").getBytes(StandardCharsets.UTF_8),
                    body, now.getBytes(StandardCharsets.UTF_8));
            String head = "POST /webhooks/hubspot HTTP/1.1\r\nContent-Type: " + sent[0] + "\r\nX-HubSpot-Signature-v3: " + signature
                    + "\r\nX-HubSpot-Request-Timestamp: " + now;

            Reply reply = sent[2].equals("chunked") ? http.send(head + "\r\nTransfer-Encoding: chunked", RawHttp.chunked(body))
                    : http.send(head + "\r\nContent-Length: " + body.length, body);

            assertThat(reply.status()).as(sent[0] + ": " + reply).isEqualTo(200);
            assertThat(reply.json().get("new").asInt()).isEqualTo(1);
            assertThat(inbox("hubspot:event:" + eventId + ":77:1")).isEqualTo(1);
        }
    }

    private String api(String method, String path, String contentType) {
        return method + " " + path + " HTTP/1.1\r\nX-Api-Key: " + ServiceTest.API_KEY + "\r\nContent-Type: " + contentType;
    }

    private String create(String email) {
        byte[] body = ("{\"email\":\"" + email + "\"}").getBytes(StandardCharsets.UTF_8);
        Reply reply = http.send(api("POST", "/api/contacts", "application/json") + "\r\nContent-Length: " + body.length, body);
        assertThat(reply.status()).as(reply.toString()).isEqualTo(201);
        return reply.json().get("id").asText();
    }

    private static void assertProblem(Reply reply, int status, String detail) {
        assertThat(reply.status()).as(reply.toString()).isEqualTo(status);
        assertThat(reply.header("Content-Type")).as(reply.toString()).startsWith("application/problem+json");
        assertThat(reply.json().get("status").asInt()).isEqualTo(status);
        assertThat(reply.json().get("title").asText()).isNotBlank();
        assertThat(reply.json().get("detail").asText()).as(reply.toString()).containsIgnoringCase(detail);
    }

    private String firstName(String email) {
        return jdbc.queryForObject("SELECT first_name FROM contact WHERE email = ?", String.class, email);
    }

    private long contacts(String email) {
        return jdbc.queryForObject("SELECT COUNT(*) FROM contact WHERE email = ?", Long.class, email);
    }

    private long inbox(String key) {
        return jdbc.queryForObject("SELECT COUNT(*) FROM inbox WHERE idempotency_key = ?", Long.class, key);
    }

    private static String email() {
        return "body-" + UUID.randomUUID().toString().substring(0, 8) + "@example.com";
    }

    private static byte[] concat(byte[]... parts) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }

    private static String sign(byte[]... parts) throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(SECRET.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        for (byte[] part : parts) {
            mac.update(part);
        }
        return Base64.getEncoder().encodeToString(mac.doFinal());
    }
}
