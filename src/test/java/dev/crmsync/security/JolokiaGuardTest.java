package dev.crmsync.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.stream.Stream;

import dev.crmsync.security.JolokiaGuard.Origin;
import dev.crmsync.security.JolokiaGuard.Verdict;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The Jolokia guard's decision, by a table of requests as browsers and scripts send them. */
class JolokiaGuardTest {

    static final Origin SELF = Origin.ofHost("http", "crm.example:8080");

    /** method, GET command, content type, Origin, Referer, verdict. */
    static Stream<Arguments> requests() {
        return Stream.of(
                Arguments.of("POST", "", "text/json", "http://crm.example:8080", null, Verdict.PASS),
                Arguments.of("POST", "", "application/json; charset=UTF-8", null, null, Verdict.PASS),
                Arguments.of("POST", "", "application/json", "HTTP://CRM.EXAMPLE:8080", null, Verdict.PASS),
                Arguments.of("POST", "", "application/json", null, "http://crm.example:8080/actuator/hawtio/", Verdict.PASS),
                Arguments.of("POST", "", "application/json", "http://evil.example", null, Verdict.FOREIGN_ORIGIN),
                Arguments.of("POST", "", "application/json", "https://crm.example:8080", null, Verdict.FOREIGN_ORIGIN),
                Arguments.of("POST", "", "application/json", "http://crm.example", null, Verdict.FOREIGN_ORIGIN),
                Arguments.of("POST", "", "application/json", "null", null, Verdict.FOREIGN_ORIGIN),
                Arguments.of("POST", "", "application/json", null, "http://evil.example/x", Verdict.FOREIGN_ORIGIN),
                Arguments.of("POST", "", "application/json", "http://evil.example", "http://crm.example:8080/", Verdict.FOREIGN_ORIGIN),
                Arguments.of("POST", "", "text/plain", null, null, Verdict.NOT_JSON),
                Arguments.of("POST", "", "application/x-www-form-urlencoded", null, null, Verdict.NOT_JSON),
                Arguments.of("POST", "", "multipart/form-data; boundary=x", null, null, Verdict.NOT_JSON),
                Arguments.of("POST", "", null, null, null, Verdict.NOT_JSON),
                Arguments.of("GET", "read", null, null, null, Verdict.PASS),
                Arguments.of("GET", "", null, null, null, Verdict.PASS),
                Arguments.of("GET", "SEARCH", null, null, null, Verdict.PASS),
                Arguments.of("GET", "exec", null, null, null, Verdict.GET_MAY_ONLY_READ),
                Arguments.of("GET", "write", null, null, null, Verdict.GET_MAY_ONLY_READ),
                Arguments.of("GET", "read", null, "http://evil.example", null, Verdict.FOREIGN_ORIGIN),
                Arguments.of("OPTIONS", "", null, null, null, Verdict.METHOD_NOT_ALLOWED),
                Arguments.of("PUT", "", "application/json", null, null, Verdict.METHOD_NOT_ALLOWED));
    }

    @ParameterizedTest(name = "{0} {1} [{2}] Origin {3} Referer {4} -> {5}")
    @MethodSource("requests")
    void decides(String method, String command, String contentType, String origin, String referer, Verdict verdict) {
        assertThat(JolokiaGuard.decide(method, command, contentType, origin, referer, SELF)).isEqualTo(verdict);
    }

    static Stream<Arguments> hosts() {
        return Stream.of(
                Arguments.of("http", "crm.example", new Origin("http", "crm.example", 80)),
                Arguments.of("https", "crm.example", new Origin("https", "crm.example", 443)),
                Arguments.of("http", "127.0.0.1:8080", new Origin("http", "127.0.0.1", 8080)),
                Arguments.of("http", "[::1]:8080", new Origin("http", "[::1]", 8080)),
                Arguments.of("http", null, Origin.NONE));
    }

    @ParameterizedTest(name = "{0} Host {1}")
    @MethodSource("hosts")
    void theServiceOriginIsTheHostHeaderWithTheSchemeDefaultPort(String scheme, String host, Origin origin) {
        assertThat(Origin.ofHost(scheme, host)).isEqualTo(origin);
    }
}
