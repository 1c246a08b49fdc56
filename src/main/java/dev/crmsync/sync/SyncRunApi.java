package dev.crmsync.sync;

import java.time.Clock;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crmsync.api.ApiProblem;
import dev.crmsync.api.Caller;
import dev.crmsync.api.JsonBody;
import dev.crmsync.api.Replies;
import dev.crmsync.config.CrmSyncProperties;
import dev.crmsync.sync.SyncRuns.ActiveRunException;
import dev.crmsync.sync.SyncRuns.Run;
import org.apache.camel.Message;
import org.springframework.stereotype.Component;

/** The HTTP face of sync runs, called by routes/api-sync-runs. */
@Component("syncRunApi")
public class SyncRunApi {

    private static final int MAX_LIST = 100;

    private final SyncRuns runs;
    private final CrmSyncProperties properties;
    private final ObjectMapper json;
    private final Clock clock;

    public SyncRunApi(SyncRuns runs, CrmSyncProperties properties, ObjectMapper json, Clock clock) {
        this.runs = runs;
        this.properties = properties;
        this.json = json;
        this.clock = clock;
    }

    public void start(Message message) {
        String system = message.getHeader("system", String.class);
        JsonNode body = JsonBody.read(json, message.getBody(byte[].class),
                "send {\"type\": \"initial\"}, \"incremental\" or \"reconcile\"");
        Run run = start(system, body.path("type").asText(""), Caller.of(message));
        Replies.json(message, json, 202, run.toJson(clock.instant()), Map.of("Location", "/api/sync/runs/" + run.id()));
    }

    /** Starts a run; for the API and the JMX operation alike. */
    public Run start(String system, String type, String requestedBy) {
        if (!SyncRuns.TYPES.contains(type)) {
            throw new ApiProblem(400, "type: is initial, incremental or reconcile, not '" + type + "'",
                    List.of(ApiProblem.FieldError.of("type", "is initial, incremental or reconcile")));
        }
        CrmSyncProperties.Provider provider = properties.providers().get(system);
        if (provider == null) {
            throw ApiProblem.notFound("no provider is named '" + system + "'");
        }
        if (!provider.enabled()) {
            throw new ApiProblem(409, "provider " + system + " is not enabled");
        }
        try {
            return runs.start(system, type, requestedBy);
        } catch (ActiveRunException e) {
            throw new ApiProblem(409, "a " + type + " run of " + system + " is already active: " + e.runId())
                    .with("runId", e.runId()).with("location", "/api/sync/runs/" + e.runId());
        }
    }

    public void list(Message message) {
        String system = blankToNull(message.getHeader("system", String.class));
        String state = blankToNull(message.getHeader("state", String.class));
        if (state != null && !SyncRuns.STATES.contains(state)) {
            throw ApiProblem.invalidParameter("state", "is one of " + String.join(", ", SyncRuns.STATES) + ", not '" + state + "'");
        }
        Replies.json(message, json, 200, Map.of("items", runs.list(system, state, MAX_LIST).stream()
                .map(run -> run.toJson(clock.instant())).toList()), Map.of());
    }

    public void get(Message message) {
        Replies.json(message, json, 200, find(message).toJson(clock.instant()), Map.of());
    }

    public void cancel(Message message) {
        Replies.json(message, json, 200, cancel(message.getHeader("id", String.class)).toJson(clock.instant()), Map.of());
    }

    /** Cancels a run: it reads no further page; the changes it already stored are still applied. */
    public Run cancel(String id) {
        Run run = find(id);
        if (!runs.cancel(run.id())) {
            throw new ApiProblem(409, "run " + run.id() + " has already ended: " + run.state());
        }
        return find(id);
    }

    private Run find(Message message) {
        return find(message.getHeader("id", String.class));
    }

    private Run find(String id) {
        return runs.find(id).orElseThrow(() -> ApiProblem.notFound("no sync run has id " + id));
    }

    private static String blankToNull(String value) {
        return value == null || value.isBlank() ? null : value.strip();
    }
}
