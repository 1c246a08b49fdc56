package dev.crmsync.ops;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

import javax.management.MBeanServer;
import javax.management.MalformedObjectNameException;
import javax.management.ObjectName;

import dev.crmsync.api.ApiProblem;
import dev.crmsync.provider.ProviderPauses;
import dev.crmsync.sync.DeadLetters;
import dev.crmsync.sync.OutboxDelivery;
import dev.crmsync.sync.SyncRunApi;
import dev.crmsync.sync.SyncRuns.Run;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.jmx.export.annotation.ManagedAttribute;
import org.springframework.jmx.export.annotation.ManagedOperation;
import org.springframework.jmx.export.annotation.ManagedOperationParameter;
import org.springframework.jmx.export.annotation.ManagedOperationParameters;
import org.springframework.jmx.export.annotation.ManagedResource;
import org.springframework.jmx.export.naming.SelfNaming;
import org.springframework.stereotype.Component;

/**
 * The operator's controls over JMX ({@value #OBJECT_NAME}, shown by Hawtio and JConsole next to
 * Camel's MBeans): start and cancel sync runs, replay a system's dead letters, pause and resume a
 * provider, and each system's health figures. Every operation names the system as under {@code crmsync.providers}.
 */
@Component
@ManagedResource(description = "CRM Contact Sync: sync runs, dead letters, provider pauses and each connected system's health")
public class SyncOperations implements SelfNaming {

    public static final String OBJECT_NAME = "dev.crmsync:type=SyncOperations";
    /** Longest pause an operator may set: a forgotten pause should not outlive a week of changes. */
    static final int MAX_PAUSE_MINUTES = 7 * 24 * 60;
    private static final Logger LOG = LoggerFactory.getLogger(SyncOperations.class);

    private final SystemHealth health;
    private final DeadLetters deadLetters;
    private final ProviderPauses pauses;
    private final OutboxDelivery outbox;
    private final SyncRunApi runs;
    private ObjectName name;

    public SyncOperations(SystemHealth health, DeadLetters deadLetters, ProviderPauses pauses, OutboxDelivery outbox,
                          SyncRunApi runs) {
        this.runs = runs;
        this.health = health;
        this.deadLetters = deadLetters;
        this.pauses = pauses;
        this.outbox = outbox;
    }

    @ManagedOperation(description = "Sends every dead letter of a system not replayed yet back through the outbox "
            + "(the contact as it is now) or the inbox; answers how many")
    @ManagedOperationParameters(@ManagedOperationParameter(name = "system", description = "e.g. hubspot"))
    public int replayDeadLetters(String system) {
        String known = enabled(system);
        int replayed = deadLetters.replayAll(known);
        LOG.info("{} dead letters of {} replayed through JMX", replayed, known);
        return replayed;
    }

    @ManagedOperation(description = "Pauses a provider's polls and deliveries: its changes wait in the inbox and "
            + "outbox, nothing is lost or retried; answers until when")
    @ManagedOperationParameters({
            @ManagedOperationParameter(name = "system", description = "e.g. hubspot"),
            @ManagedOperationParameter(name = "minutes", description = "how long, 1 to 10080 (a week)")})
    public String pauseProvider(String system, int minutes) {
        String known = enabled(system);
        if (minutes < 1 || minutes > MAX_PAUSE_MINUTES) {
            throw new IllegalArgumentException("minutes must be 1 to " + MAX_PAUSE_MINUTES + ", not " + minutes);
        }
        pauses.pause(known, Duration.ofMinutes(minutes), "paused by an operator through JMX");
        return known + " is paused until " + pauses.paused(known).orElseThrow().until();
    }

    @ManagedOperation(description = "Ends a provider's pause now, an operator's or an API limit's; what it held "
            + "back is sent at once")
    @ManagedOperationParameters(@ManagedOperationParameter(name = "system", description = "e.g. hubspot"))
    public String resumeProvider(String system) {
        String known = enabled(system);
        if (!pauses.resume(known)) {
            return known + " was not paused";
        }
        int due = outbox.resumed(known);
        return known + " resumed" + (due == 0 ? "" : "; " + due + " deliveries it deferred are due now");
    }

    @ManagedOperation(description = "Starts a sync run of a system, as POST /api/sync/{system}/runs; answers its id "
            + "(follow it at /api/sync/runs/{id})")
    @ManagedOperationParameters({
            @ManagedOperationParameter(name = "system", description = "e.g. salesforce"),
            @ManagedOperationParameter(name = "type", description = "initial, incremental or reconcile")})
    public String startRun(String system, String type) {
        try {
            Run run = runs.start(enabled(system), type == null ? "" : type.strip(), "jmx");
            LOG.info("{} run {} of {} started through JMX", run.type(), run.id(), run.system());
            return run.id();
        } catch (ApiProblem e) {
            throw new IllegalArgumentException(e.getMessage());
        }
    }

    @ManagedOperation(description = "Cancels a sync run: it reads nothing more; what it read is still applied")
    @ManagedOperationParameters(@ManagedOperationParameter(name = "id", description = "the run's id"))
    public String cancelRun(String id) {
        try {
            return "run " + runs.cancel(id == null ? "" : id.strip()).id() + " cancelled";
        } catch (ApiProblem e) {
            throw new IllegalArgumentException(e.getMessage());
        }
    }

    @ManagedAttribute(description = "Each enabled system's status, reason, health score, calls in the health window, "
            + "backlog, dead letters and API usage, as in /actuator/health")
    public Map<String, Map<String, Object>> getSystems() {
        Map<String, Map<String, Object>> systems = new LinkedHashMap<>();
        health.reports().forEach((system, report) -> systems.put(system, report.details(health.limits().window())));
        return systems;
    }

    @ManagedAttribute(description = "Each enabled system's health score, 0 to 100")
    public Map<String, Integer> getHealthScores() {
        Map<String, Integer> scores = new LinkedHashMap<>();
        health.reports().forEach((system, report) -> scores.put(system, report.score()));
        return scores;
    }

    private String enabled(String system) {
        String name = system == null ? "" : system.strip();
        if (!health.systems().contains(name)) {
            throw new IllegalArgumentException("'" + name + "' is not an enabled provider; enabled: "
                    + String.join(", ", health.systems()));
        }
        return name;
    }

    /**
     * {@value #OBJECT_NAME}; a second application context in the same JVM (tests) gets a {@code context}
     * key added instead of failing its start.
     */
    @Override
    public synchronized ObjectName getObjectName() throws MalformedObjectNameException {
        if (name == null) {
            MBeanServer server = ManagementFactory.getPlatformMBeanServer();
            ObjectName candidate = new ObjectName(OBJECT_NAME);
            for (int n = 2; server.isRegistered(candidate); n++) {
                candidate = new ObjectName(OBJECT_NAME + ",context=" + n);
            }
            name = candidate;
        }
        return name;
    }
}
