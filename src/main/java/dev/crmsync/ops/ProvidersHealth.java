package dev.crmsync.ops;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.springframework.boot.actuate.health.Health;
import org.springframework.boot.actuate.health.HealthIndicator;
import org.springframework.boot.actuate.health.Status;
import org.springframework.stereotype.Component;

/**
 * The {@code providers} health component: each enabled system's figures and status in the details
 * (see {@link SystemHealth}), the component as the worst of them. DEGRADED (a system paused, failing
 * often, slow or behind) still answers 200; DOWN (every call to a system fails) answers 503 here,
 * while /healthz keeps the service in its load balancer: the API and the other systems still work.
 */
@Component("providers")
public class ProvidersHealth implements HealthIndicator {

    /** Worst first, as application.yaml orders the statuses. */
    private static final List<Status> ORDER = List.of(Status.DOWN, SystemHealth.DEGRADED, Status.UP);

    private final SystemHealth systems;

    public ProvidersHealth(SystemHealth systems) {
        this.systems = systems;
    }

    @Override
    public Health health() {
        Map<String, Object> details = new LinkedHashMap<>();
        Status worst = Status.UP;
        for (SystemHealth.Report report : systems.reports().values()) {
            details.put(report.system(), report.details(systems.limits().window()));
            if (ORDER.indexOf(report.status()) < ORDER.indexOf(worst)) {
                worst = report.status();
            }
        }
        return Health.status(worst).withDetails(details).build();
    }
}
