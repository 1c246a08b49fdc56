package dev.crmsync.ops;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Set;

import javax.management.ObjectName;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crmsync.support.Http;
import dev.crmsync.support.Http.Reply;
import dev.crmsync.support.ServiceTest;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.autoconfigure.actuate.observability.AutoConfigureObservability;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;

@ServiceTest
@AutoConfigureObservability // Spring Boot tests turn metrics export off unless asked
class SecurityAndMonitoringTest {

    @LocalServerPort
    int port;

    @Autowired
    JdbcTemplate jdbc;

    Http http;
    String admin;

    @BeforeEach
    void client() {
        http = new Http(port);
        admin = "Basic " + Base64.getEncoder().encodeToString(("admin:" + ServiceTest.ADMIN_PASSWORD)
                .getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void theApiRefusesCallsWithoutTheRightKeyAndStoresNothing() {
        long before = jdbc.queryForObject("SELECT COUNT(*) FROM contact", Long.class);
        String body = "{\"email\":\"nokey@example.com\"}";

        for (Reply reply : new Reply[]{
                http.post("/api/contacts", body),
                http.post("/api/contacts", body, "X-Api-Key", "wrong-key-0123456789"),
                http.post("/api/contacts", body, "Authorization", "Bearer wrong-key-0123456789"),
                http.post("/api/contacts", body, "Authorization", admin),
                http.get("/api/contacts")}) {
            assertThat(reply.status()).as(reply.toString()).isEqualTo(401);
            assertThat(reply.header("Content-Type")).startsWith("application/problem+json");
            assertThat(reply.json().get("detail").asText()).contains("X-Api-Key");
        }
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM contact", Long.class)).isEqualTo(before);
    }

    @Test
    void theApiKeyWorksAsHeaderOrBearerToken() {
        assertThat(http.get("/api/contacts", "X-Api-Key", ServiceTest.API_KEY).status()).isEqualTo(200);
        assertThat(http.get("/api/contacts", "Authorization", "Bearer " + ServiceTest.API_KEY).status()).isEqualTo(200);
    }

    @Test
    void healthzIsOpenAndReportsTheDatabaseAndCamel() {
        Reply reply = http.get("/healthz");

        assertThat(reply.status()).isEqualTo(200);
        JsonNode body = reply.json();
        assertThat(body.get("status").asText()).isEqualTo("UP");
        assertThat(body.get("checks").get("db").asText()).isEqualTo("UP");
        assertThat(body.get("checks").get("camelHealth").asText()).isEqualTo("UP");
        assertThat(body.get("camel").get("status").asText()).isEqualTo("Started");
        assertThat(body.get("camel").get("routes").asInt()).isGreaterThanOrEqualTo(8);
    }

    @Test
    void actuatorHealthIsOpenButTheRestOfActuatorNeedsTheAdmin() {
        Reply health = http.get("/actuator/health");
        assertThat(health.status()).isEqualTo(200);
        assertThat(health.json().get("components").get("db").get("status").asText()).isEqualTo("UP");
        assertThat(health.json().get("components").get("db").has("details")).isFalse();

        for (String path : new String[]{"/actuator/prometheus", "/actuator/jolokia", "/actuator/hawtio/", "/actuator/env"}) {
            Reply refused = http.get(path);
            assertThat(refused.status()).as(path).isEqualTo(401);
            assertThat(refused.header("WWW-Authenticate")).as(path).startsWith("Basic");
            assertThat(http.get(path, "X-Api-Key", ServiceTest.API_KEY).status()).as(path).isEqualTo(401);
        }
        assertThat(http.get("/actuator/health", "Authorization", admin).json().get("components").get("db").has("details")).isTrue();
    }

    @Test
    void prometheusExposesCamelRouteMetricsToTheAdmin() {
        http.get("/api/contacts", "X-Api-Key", ServiceTest.API_KEY);

        Reply metrics = http.get("/actuator/prometheus", "Authorization", admin);

        assertThat(metrics.status()).isEqualTo(200);
        assertThat(metrics.body()).containsPattern("camel_exchanges_total\\{[^}]*routeId=\"api-contacts-list\"");
    }

    @Test
    void hawtioAndJolokiaShowTheCamelRoutesToTheAdmin() {
        Reply hawtio = http.get("/actuator/hawtio/", "Authorization", admin);
        assertThat(hawtio.status()).isEqualTo(200);
        assertThat(hawtio.body()).containsIgnoringCase("hawtio");

        Reply routes = http.get("/actuator/jolokia/search/org.apache.camel:type=routes,*", "Authorization", admin);
        assertThat(routes.status()).isEqualTo(200);
        assertThat(routes.json().get("value").toString()).contains("api-contacts-create");
    }

    @Test
    void camelRegistersItsRoutesAsJmxMBeans() throws Exception {
        Set<ObjectName> routes = ManagementFactory.getPlatformMBeanServer()
                .queryNames(new ObjectName("org.apache.camel:type=routes,*"), null);

        assertThat(routes).extracting(name -> name.getKeyProperty("name"))
                .contains("\"api-contacts-create\"", "\"healthz\"");
    }
}
