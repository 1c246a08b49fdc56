package dev.crmsync.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crmsync.support.RawHttp;
import dev.crmsync.support.RawHttp.Reply;
import dev.crmsync.support.ServiceTest;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * Every URL, path and request-line refusal, whoever makes it (Tomcat before the application, Spring
 * Security's firewall and login, Spring MVC, the routes), answers an RFC 9457 problem document: a
 * status, a title and a detail, no HTML and no stack trace; and stores nothing. Sent over a raw
 * socket, since an HTTP client would normalise or refuse these URLs itself.
 */
@ServiceTest
class RefusalsTest {

    static final String KEY = "\r\nX-Api-Key: " + ServiceTest.API_KEY;
    static final String ADMIN = "\r\nAuthorization: Basic " + java.util.Base64.getEncoder()
            .encodeToString(("admin:" + ServiceTest.ADMIN_PASSWORD).getBytes(java.nio.charset.StandardCharsets.UTF_8));
    static final String BODY = "{\"email\":\"r@example.com\"}";
    static final String CREATE = "\r\nContent-Type: application/json\r\nContent-Length: " + BODY.length();

    @LocalServerPort
    int port;

    @Autowired
    JdbcTemplate jdbc;

    RawHttp http;

    @BeforeEach
    void client() {
        http = new RawHttp(port);
    }

    /** what is refused, the request line and headers, the status it answers. */
    static Stream<Arguments> refusals() {
        return Stream.of(
                Arguments.of("dot-dot, encoded", "POST /api/contacts/%2e%2e HTTP/1.1" + KEY + CREATE, 400),
                Arguments.of("dot-dot, then a path", "POST /api/contacts/%2e%2e/x HTTP/1.1" + KEY + CREATE, 400),
                Arguments.of("encoded slash", "POST /api/contacts/a%2Fb HTTP/1.1" + KEY + CREATE, 400),
                Arguments.of("encoded backslash", "GET /api/contacts/a%5Cb HTTP/1.1" + KEY, 400),
                Arguments.of("encoded NUL", "POST /api/contacts/a%00b HTTP/1.1" + KEY + CREATE, 400),
                Arguments.of("encoded percent", "GET /api/contacts/%25 HTTP/1.1" + KEY, 400),
                Arguments.of("bad percent-encoding", "GET /api/contacts/%zz HTTP/1.1" + KEY, 400),
                Arguments.of("overlong UTF-8", "GET /api/contacts/%c0%ae HTTP/1.1" + KEY, 400),
                Arguments.of("matrix parameter", "POST /api/contacts;jsessionid=abc HTTP/1.1" + KEY + CREATE, 400),
                Arguments.of("dot-dot with a path parameter", "POST /api/contacts/..;/x HTTP/1.1" + KEY + CREATE, 400),
                Arguments.of("double slashes", "POST //api//contacts HTTP/1.1" + KEY + CREATE, 400),
                Arguments.of("raw | in the query", "GET /api/contacts?q=a|b HTTP/1.1" + KEY, 400),
                Arguments.of("raw { in the query", "GET /api/contacts?q={x} HTTP/1.1" + KEY, 400),
                Arguments.of("raw space in the target", "GET /api/con tacts HTTP/1.1" + KEY, 400),
                Arguments.of("no HTTP version", "GET /api/contacts HTTP/x" + KEY, 400),
                Arguments.of("an HTTP version not spoken", "GET /api/contacts HTTP/2.1" + KEY, 505),
                Arguments.of("a URL over the header limit", "GET /api/contacts?q=" + "x".repeat(9000) + " HTTP/1.1" + KEY, 400),
                Arguments.of("a header over the limit", "GET /api/contacts HTTP/1.1" + KEY + "\r\nX-Big: " + "y".repeat(9000), 400),
                Arguments.of("an unknown path under /api", "GET /api/nothing-here HTTP/1.1" + KEY, 404),
                Arguments.of("an unknown path", "GET /nothing-here HTTP/1.1", 404),
                Arguments.of("a wrong method", "DELETE /api/contacts HTTP/1.1" + KEY, 405),
                Arguments.of("no API key", "POST /api/contacts HTTP/1.1" + CREATE, 401),
                Arguments.of("actuator without credentials", "GET /actuator/prometheus HTTP/1.1", 401),
                Arguments.of("actuator with the API key", "GET /actuator/prometheus HTTP/1.1" + KEY, 401),
                Arguments.of("actuator with a wrong password", "GET /actuator/jolokia HTTP/1.1\r\nAuthorization: Basic YWRtaW46d3Jvbmc=", 401),
                Arguments.of("an unknown actuator endpoint", "GET /actuator/env HTTP/1.1" + ADMIN, 404),
                Arguments.of("a wrong method on actuator", "DELETE /actuator/prometheus HTTP/1.1" + ADMIN, 404));
    }

    @ParameterizedTest(name = "{0} -> {2}")
    @MethodSource("refusals")
    void aRefusalIsAProblemDocumentAndStoresNothing(String what, String head, int status) {
        List<Long> before = counts();

        Reply reply = http.send(head, head.contains(CREATE) ? BODY.getBytes(java.nio.charset.StandardCharsets.UTF_8) : new byte[0]);

        assertThat(reply.status()).as(what + ": " + reply).isEqualTo(status);
        assertThat(reply.header("Content-Type")).as(what + ": " + reply).startsWith("application/problem+json");
        JsonNode problem = reply.json();
        assertThat(problem.get("status").asInt()).as(what).isEqualTo(status);
        assertThat(problem.get("title").asText()).as(what).isNotBlank();
        assertThat(problem.get("detail").asText()).as(what).isNotBlank();
        assertThat(reply.body()).as(what).doesNotContain("<html").doesNotContain("\tat ").doesNotContain("Exception");
        if (status == 401) {
            assertThat(reply.header("WWW-Authenticate")).as(what).isNotBlank();
        }
        assertThat(counts()).as(what).isEqualTo(before);
    }

    private List<Long> counts() {
        return List.of(jdbc.queryForObject("SELECT COUNT(*) FROM contact", Long.class),
                jdbc.queryForObject("SELECT COUNT(*) FROM inbox", Long.class),
                jdbc.queryForObject("SELECT COUNT(*) FROM outbox", Long.class));
    }
}
