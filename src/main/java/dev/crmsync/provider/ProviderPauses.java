package dev.crmsync.provider;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

/**
 * Providers whose API limit is spent. While one is paused its polls and deliveries wait (nothing is
 * called, no retry is spent); the first call after the pause ends tells whether the limit has reset,
 * and pauses again if not. Shown in /actuator/health and as the gauge {@code crmsync.provider.paused}.
 */
@Component
public class ProviderPauses {

    private static final Logger LOG = LoggerFactory.getLogger(ProviderPauses.class);

    /** Why a provider waits, and until when. */
    public record Pause(Instant until, String reason) {
    }

    private final Map<String, Pause> pauses = new ConcurrentHashMap<>();
    private final Map<String, Boolean> gauges = new ConcurrentHashMap<>();
    private final Clock clock;
    private final MeterRegistry meters;

    public ProviderPauses(Clock clock, MeterRegistry meters) {
        this.clock = clock;
        this.meters = meters;
    }

    /** Pauses a provider and answers the exception its caller throws instead of the failed call's. */
    public ProviderPausedException pause(String system, Duration duration, String reason) {
        Instant until = clock.instant().plus(duration);
        Pause previous = pauses.put(system, new Pause(until, reason));
        gauges.computeIfAbsent(system, name -> {
            Gauge.builder("crmsync.provider.paused", () -> paused(name).isPresent() ? 1 : 0)
                    .description("1 while the provider's API limit is spent and its sync waits").tag("system", name)
                    .register(meters);
            return true;
        });
        if (previous == null) {
            LOG.warn("{} is paused until {}: {}. Its polls and deliveries wait; nothing is lost.", system, until, reason);
        }
        return new ProviderPausedException(system + " is paused until " + until + ": " + reason, until);
    }

    /** Ends a provider's pause now (an operator's call); false when it was not paused. */
    public boolean resume(String system) {
        Pause pause = pauses.remove(system);
        if (pause != null) {
            LOG.info("{} resumes before its pause ended ({})", system, pause.reason());
        }
        return pause != null;
    }

    /** The pause in force for a provider now, if any. */
    public Optional<Pause> paused(String system) {
        Pause pause = pauses.get(system);
        if (pause == null) {
            return Optional.empty();
        }
        if (!clock.instant().isBefore(pause.until())) {
            if (pauses.remove(system, pause)) {
                LOG.info("{} resumes after its pause ({})", system, pause.reason());
            }
            return Optional.empty();
        }
        return Optional.of(pause);
    }

    /** Throws when the provider is paused: for a client about to call it. */
    public void check(String system) {
        paused(system).ifPresent(pause -> {
            throw new ProviderPausedException(system + " is paused until " + pause.until() + ": " + pause.reason(),
                    pause.until());
        });
    }
}
