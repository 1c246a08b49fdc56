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
 * database and Camel are up, 503 when one of the service's own checks is DOWN. A connected system that
 * is DOWN shows in {@code checks.providers} and makes the status DEGRADED, still 200. The same checks,
 * in detail, are at /actuator/health.
 */
@Component("healthz")
public class Healthz {

    /** The health component of the connected systems (see {@link ProvidersHealth}). */
    private static final String PROVIDERS = "providers";

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
        Map<String, String> checks = new LinkedHashMap<>();
        boolean down = false;
        if (overall instanceof CompositeHealth composite) {
            for (var component : composite.getComponents().entrySet()) {
                Status status = component.getValue().getStatus();
                checks.put(component.getKey(), status.getCode());
                // a connected CRM that fails leaves the API and the other systems working: taking the service
                // out of its load balancer would not help, so only the service's own checks decide
                down |= !component.getKey().equals(PROVIDERS)
                        && (Status.DOWN.equals(status) || Status.OUT_OF_SERVICE.equals(status));
            }
        } else {
            down = Status.DOWN.equals(overall.getStatus()) || Status.OUT_OF_SERVICE.equals(overall.getStatus());
        }
        Map<String, Object> body = new LinkedHashMap<>();
        Status status = overall.getStatus();
        body.put("status", !down && Status.DOWN.equals(status) ? SystemHealth.DEGRADED.getCode() : status.getCode());
        body.put("checks", checks);
        body.put("camel", Map.of("name", camel.getName(), "status", camel.getStatus().name(),
                "routes", camel.getRoutesSize(), "version", camel.getVersion()));
        message.getHeaders().clear();
        // DEGRADED (a provider paused, failing or behind) still serves: only the service's own DOWN takes it out
        message.setHeader(Exchange.HTTP_RESPONSE_CODE, down ? 503 : 200);
        message.setHeader(Exchange.CONTENT_TYPE, "application/json");
        message.setBody(json.writeValueAsString(body));
    }
}
