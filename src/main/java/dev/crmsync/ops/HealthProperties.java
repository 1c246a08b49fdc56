package dev.crmsync.ops;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/** The {@code crmsync.health.*} keys of application.yaml: when a connected system counts as unwell. */
@ConfigurationProperties("crmsync.health")
public record HealthProperties(
        @DefaultValue("PT5M") Duration window,
        @DefaultValue("5000") long refreshPeriod,
        @DefaultValue("3") int minCalls,
        @DefaultValue("0.2") double errorRate,
        @DefaultValue("PT5S") Duration slowCall,
        @DefaultValue("PT15M") Duration backlogAge,
        @DefaultValue("100") long deadLetters,
        @DefaultValue("PT30M") Duration silence,
        @DefaultValue("50") int scoreWarning) {
}
