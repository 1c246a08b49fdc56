package dev.crmsync.ops;

import java.util.LinkedHashMap;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.springframework.boot.actuate.health.CompositeHealth;
import org.springframework.boot.actuate.health.HealthComponent;
import org.springframework.boot.actuate.health.HealthEndpoint;
import org.springframework.boot.actuate.health.Status;
import org.springframework.stereotype.Component;

/**
 * {@code GET /healthz}: one small open answer for load balancers and uptime checks, 200 when the
 * database and Camel are up, 503 when a check is DOWN. The same checks, in detail, are at /actuator/health.
 */
@Component("healthz")
public class Healthz {

    private final HealthEndpoint health;
    private final CamelContext camel;
    private final ObjectMapper json;

    public Healthz(HealthEndpoint health, CamelContext camel, ObjectMapper json) {
        this.health = health;
        this.camel = camel;
        this.json = json;
    }

    public void check(Message message) throws JsonProcessingException {
        HealthComponent overall = health.health();
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", overall.getStatus().getCode());
        Map<String, String> checks = new LinkedHashMap<>();
        if (overall instanceof CompositeHealth composite) {
            composite.getComponents().forEach((name, component) -> checks.put(name, component.getStatus().getCode()));
        }
        body.put("checks", checks);
        body.put("camel", Map.of("name", camel.getName(), "status", camel.getStatus().name(),
                "routes", camel.getRoutesSize(), "version", camel.getVersion()));
        message.getHeaders().clear();
        // DEGRADED (a provider waiting out its API limit) still serves: only DOWN takes the service out
        boolean down = Status.DOWN.equals(overall.getStatus()) || Status.OUT_OF_SERVICE.equals(overall.getStatus());
        message.setHeader(Exchange.HTTP_RESPONSE_CODE, down ? 503 : 200);
        message.setHeader(Exchange.CONTENT_TYPE, "application/json");
        message.setBody(json.writeValueAsString(body));
    }
}
