package dev.crmsync.sync;

import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crmsync.api.ApiProblem;
import dev.crmsync.api.Replies;
import org.apache.camel.Message;
import org.springframework.stereotype.Component;

/** The HTTP face of dead letters and conflicts, called by routes/api-dead-letters and api-conflicts. */
@Component("syncApi")
public class SyncApi {

    private static final int MAX_LIST = 500;

    private final DeadLetters deadLetters;
    private final Conflicts conflicts;
    private final ObjectMapper json;

    public SyncApi(DeadLetters deadLetters, Conflicts conflicts, ObjectMapper json) {
        this.deadLetters = deadLetters;
        this.conflicts = conflicts;
        this.json = json;
    }

    public void listDeadLetters(Message message) {
        String system = message.getHeader("system", String.class);
        Replies.json(message, json, 200, Map.of("items", deadLetters.list(blankToNull(system), MAX_LIST)), Map.of());
    }

    public void replayDeadLetter(Message message) {
        long id = id(message);
        deadLetters.find(id).orElseThrow(() -> ApiProblem.notFound("no dead letter has id " + id));
        if (!deadLetters.replay(id)) {
            throw new ApiProblem(409, "dead letter " + id + " was already replayed");
        }
        Replies.json(message, json, 202, Map.of("replayed", 1), Map.of());
    }

    public void replayDeadLetters(Message message) {
        String system = blankToNull(message.getHeader("system", String.class));
        if (system == null) {
            throw ApiProblem.invalidParameter("system", "name the system whose dead letters to replay");
        }
        Replies.json(message, json, 202, Map.of("replayed", deadLetters.replayAll(system)), Map.of());
    }

    public void deleteDeadLetter(Message message) {
        long id = id(message);
        if (!deadLetters.delete(id)) {
            throw ApiProblem.notFound("no dead letter has id " + id);
        }
        Replies.json(message, json, 204, null, Map.of());
    }

    public void listConflicts(Message message) {
        String state = blankToNull(message.getHeader("state", String.class));
        if (state != null && !state.matches("open|resolved|dismissed")) {
            throw ApiProblem.invalidParameter("state", "is open, resolved or dismissed, not '" + state + "'");
        }
        Replies.json(message, json, 200, Map.of("items", conflicts.list(state, MAX_LIST)), Map.of());
    }

    private static long id(Message message) {
        String id = message.getHeader("id", String.class);
        try {
            return Long.parseLong(id);
        } catch (NumberFormatException e) {
            throw ApiProblem.notFound("no dead letter has id " + id);
        }
    }

    private static String blankToNull(String value) {
        return value == null || value.isBlank() ? null : value.strip();
    }
}
