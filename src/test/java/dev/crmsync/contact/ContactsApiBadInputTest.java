package dev.crmsync.contact;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpRequest;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crmsync.support.Http;
import dev.crmsync.support.Http.Reply;
import dev.crmsync.support.ServiceTest;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * Every kind of bad request gets an RFC 9457 problem naming what is wrong, and changes nothing:
 * the tables read the same before and after.
 */
@ServiceTest
class ContactsApiBadInputTest {

    static final String LIVE = "{{live}}";
    static final String DELETED = "{{deleted}}";

    @LocalServerPort
    int port;

    @Autowired
    JdbcTemplate jdbc;

    Http api;
    String live;
    String deleted;

    @BeforeEach
    void contacts() {
        api = new Http(port).withHeader("X-Api-Key", ServiceTest.API_KEY);
        live = api.post("/api/contacts", "{\"email\":\"live-" + UUID.randomUUID() + "@example.com\",\"firstName\":\"Ada\"}")
                .json().get("id").asText();
        deleted = api.post("/api/contacts", "{\"email\":\"gone-" + UUID.randomUUID() + "@example.com\"}").json().get("id").asText();
        assertThat(api.delete("/api/contacts/" + deleted).status()).isEqualTo(204);
    }

    /** method, path, content type, body, expected status, expected pointer (or null), words the detail must hold. */
    static Stream<Arguments> badRequests() {
        String big = "{\"email\":\"big@example.com\",\"firstName\":\"" + "x".repeat(1024 * 1024) + "\"}";
        return Stream.of(
                Arguments.of("POST", "/api/contacts", "application/json", "{\"email\":\"a@example.com\",", 400, null, "not valid JSON"),
                Arguments.of("POST", "/api/contacts", "application/json", "[{\"email\":\"a@example.com\"}]", 400, null, "JSON object"),
                Arguments.of("POST", "/api/contacts", "application/json", "", 400, null, "empty"),
                Arguments.of("POST", "/api/contacts", "application/json", "{\"email\":\"a@example.com\",\"email\":\"b@example.com\"}", 400, null, "Duplicate field"),
                Arguments.of("POST", "/api/contacts", "application/json", "{\"email\":\"a@example.com\"} {}", 400, null, "not valid JSON"),
                Arguments.of("POST", "/api/contacts", "application/json", "{\"email\":42}", 400, "#/email", "must be a string"),
                Arguments.of("POST", "/api/contacts", "application/json", "{\"email\":\"a@example.com\",\"tags\":\"vip\"}", 400, "#/tags", "array"),
                Arguments.of("POST", "/api/contacts", "application/json", "{\"email\":\"a@example.com\",\"custom\":{\"x\":[1]}}", 400, "#/custom/x", "string, number or boolean"),
                Arguments.of("POST", "/api/contacts", "application/json", "{\"email\":\"a@example.com\",\"custom\":{\"x\":1e400}}", 400, "#/custom/x", "finite number"),
                Arguments.of("POST", "/api/contacts", "application/json", "{\"email\":\"a@example.com\",\"nickname\":\"Al\"}", 400, "#/nickname", "unknown field"),
                Arguments.of("POST", "/api/contacts", "application/json", "{\"email\":\"not-an-email\"}", 400, "#/email", "not a valid email"),
                Arguments.of("POST", "/api/contacts", "application/json", "{\"email\":\"a b@example.com\"}", 400, "#/email", "not a valid email"),
                Arguments.of("POST", "/api/contacts", "application/json", "{\"phone\":\"12345\"}", 400, "#/phone", "not a valid phone"),
                Arguments.of("POST", "/api/contacts", "application/json", "{\"firstName\":\"Ada\"}", 400, "#/email", "email or a phone"),
                Arguments.of("POST", "/api/contacts", "application/json", "{\"email\":\"  \",\"phone\":\"\"}", 400, "#/email", "email or a phone"),
                Arguments.of("POST", "/api/contacts", "application/json", "{\"id\":\"mine\",\"email\":\"a@example.com\"}", 400, "#/id", "assigned by the service"),
                Arguments.of("POST", "/api/contacts", "application/json", "{\"email\":\"a@example.com\",\"lastName\":\"" + "y".repeat(300) + "\"}", 400, "#/lastName", "at most 255"),
                Arguments.of("POST", "/api/contacts", "application/json", big, 413, null, "larger than"),
                Arguments.of("POST", "/api/contacts", "text/plain", "{\"email\":\"a@example.com\"}", 415, null, "not supported"),
                Arguments.of("POST", "/api/contacts", null, "{\"email\":\"a@example.com\"}", 415, null, "not supported"),
                Arguments.of("PUT", "/api/contacts/" + LIVE, "application/json", "{\"firstName\":\"NoEmail\"}", 400, "#/email", "email or a phone"),
                Arguments.of("PUT", "/api/contacts/" + LIVE, "application/json", "{\"id\":\"other\",\"email\":\"a@example.com\"}", 400, "#/id", "does not match"),
                Arguments.of("PUT", "/api/contacts/" + LIVE, "application/json", "{\"email\":\"a@example.com\",\"version\":\"one\"}", 400, "#/version", "whole number"),
                Arguments.of("PATCH", "/api/contacts/" + LIVE, "application/json", "{\"email\":null}", 400, "#/email", "email or a phone"),
                Arguments.of("PATCH", "/api/contacts/" + LIVE, "application/json", "{\"firstName\":true}", 400, "#/firstName", "must be a string"),
                Arguments.of("PATCH", "/api/contacts/" + LIVE, "application/xml", "<contact/>", 415, null, "not supported"),
                Arguments.of("PATCH", "/api/contacts/" + UUID.randomUUID(), "application/json", "{\"firstName\":\"A\"}", 404, null, "no contact"),
                Arguments.of("GET", "/api/contacts/" + UUID.randomUUID(), null, null, 404, null, "no contact"),
                Arguments.of("DELETE", "/api/contacts/" + UUID.randomUUID(), null, null, 404, null, "no contact"),
                Arguments.of("GET", "/api/contacts/" + DELETED, null, null, 410, null, "deleted"),
                Arguments.of("PATCH", "/api/contacts/" + DELETED, "application/json", "{\"firstName\":\"Back\"}", 410, null, "deleted"),
                Arguments.of("DELETE", "/api/contacts/" + DELETED, null, null, 410, null, "deleted"),
                Arguments.of("GET", "/api/contacts?limit=0", null, null, 400, null, "limit"),
                Arguments.of("GET", "/api/contacts?limit=abc", null, null, 400, null, "limit"),
                Arguments.of("GET", "/api/contacts?cursor=bm9wZQ", null, null, 400, null, "cursor"),
                Arguments.of("GET", "/api/contacts?updatedSince=yesterday", null, null, 400, null, "updatedSince"));
    }

    @ParameterizedTest(name = "{0} {1} [{2}] -> {4}")
    @MethodSource("badRequests")
    void aBadRequestGetsAProblemNamingTheFaultAndChangesNothing(String method, String path, String contentType, String body,
                                                               int status, String pointer, String detail) {
        String target = path.replace(LIVE, live).replace(DELETED, deleted);
        List<Map<String, Object>> before = snapshot();

        Reply reply = api.send(method, target, body == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofString(body), "Content-Type", contentType);

        assertThat(reply.status()).as(reply.toString()).isEqualTo(status);
        assertThat(reply.header("Content-Type")).startsWith("application/problem+json");
        JsonNode problem = reply.json();
        assertThat(problem.get("status").asInt()).isEqualTo(status);
        assertThat(problem.get("title").asText()).isNotBlank();
        assertThat(problem.get("detail").asText()).containsIgnoringCase(detail);
        if (pointer != null) {
            assertThat(problem.get("errors")).extracting(e -> e.get("pointer").asText()).contains(pointer);
        }
        assertThat(snapshot()).isEqualTo(before);
    }

    @org.junit.jupiter.api.Test
    void aWeakIfMatchNeverMatchesEvenOnTheCurrentVersion() {
        String etag = api.get("/api/contacts/" + live).header("ETag");
        List<Map<String, Object>> before = snapshot();

        for (Reply reply : new Reply[]{
                api.put("/api/contacts/" + live, "{\"email\":\"weak@example.com\"}", "If-Match", "W/" + etag),
                api.patch("/api/contacts/" + live, "{\"firstName\":\"Weak\"}", "If-Match", "W/" + etag),
                api.delete("/api/contacts/" + live, "If-Match", "W/" + etag)}) {
            assertThat(reply.status()).as(reply.toString()).isEqualTo(412);
            assertThat(reply.header("Content-Type")).startsWith("application/problem+json");
            assertThat(reply.json().get("status").asInt()).isEqualTo(412);
            assertThat(reply.json().get("detail").asText()).contains("weak");
            assertThat(reply.json().get("parameter").asText()).isEqualTo("If-Match");
        }
        assertThat(snapshot()).isEqualTo(before);
        // the same tag, strong, matches
        assertThat(api.patch("/api/contacts/" + live, "{\"firstName\":\"Strong\"}", "If-Match", etag).status()).isEqualTo(200);
    }

    private List<Map<String, Object>> snapshot() {
        List<Map<String, Object>> rows = new java.util.ArrayList<>(
                jdbc.queryForList("SELECT * FROM contact ORDER BY id"));
        rows.add(Map.of("history", jdbc.queryForObject("SELECT COUNT(*) FROM contact_history", Long.class),
                "outbox", jdbc.queryForObject("SELECT COUNT(*) FROM outbox", Long.class)));
        return rows;
    }
}
