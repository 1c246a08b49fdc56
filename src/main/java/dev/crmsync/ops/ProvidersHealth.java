package dev.crmsync.ops;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

import dev.crmsync.config.CrmSyncProperties;
import dev.crmsync.provider.ProviderPauses;
import org.springframework.boot.actuate.health.Health;
import org.springframework.boot.actuate.health.HealthIndicator;
import org.springframework.boot.actuate.health.Status;
import org.springframework.stereotype.Component;

/**
 * The {@code providers} health component: DEGRADED while a provider waits out its API limit (the
 * service itself is fine, so load balancers keep it: see the status order in application.yaml),
 * with each enabled provider's state in the details.
 */
@Component("providers")
public class ProvidersHealth implements HealthIndicator {

    public static final Status DEGRADED = new Status("DEGRADED", "a provider is paused");

    private final CrmSyncProperties properties;
    private final ProviderPauses pauses;

    public ProvidersHealth(CrmSyncProperties properties, ProviderPauses pauses) {
        this.properties = properties;
        this.pauses = pauses;
    }

    @Override
    public Health health() {
        Map<String, Object> details = new TreeMap<>();
        boolean degraded = false;
        for (var provider : properties.providers().entrySet()) {
            if (!provider.getValue().enabled()) {
                continue;
            }
            var pause = pauses.paused(provider.getKey());
            Map<String, Object> state = new LinkedHashMap<>();
            state.put("state", pause.isPresent() ? "paused" : "active");
            pause.ifPresent(p -> {
                state.put("until", p.until().toString());
                state.put("reason", p.reason());
            });
            details.put(provider.getKey(), state);
            degraded |= pause.isPresent();
        }
        return Health.status(degraded ? DEGRADED : Status.UP).withDetails(details).build();
    }
}
