package dev.crmsync.sync;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crmsync.api.ApiProblem;
import dev.crmsync.api.ApiProblem.FieldError;
import dev.crmsync.api.Caller;
import dev.crmsync.api.JsonBody;
import dev.crmsync.api.Replies;
import org.apache.camel.Message;
import org.springframework.stereotype.Component;

/** The HTTP face of dead letters and conflicts, called by routes/api-dead-letters and api-conflicts. */
@Component("syncApi")
public class SyncApi {

    private static final int MAX_LIST = 500;

    private static final Set<String> CHOICES = Set.of("winner", "value", "action");

    private final DeadLetters deadLetters;
    private final Conflicts conflicts;
    private final ConflictResolution resolution;
    private final ObjectMapper json;

    public SyncApi(DeadLetters deadLetters, Conflicts conflicts, ConflictResolution resolution, ObjectMapper json) {
        this.deadLetters = deadLetters;
        this.conflicts = conflicts;
        this.resolution = resolution;
        // duplicate keys and trailing garbage are refused, as the contacts API refuses them
        this.json = json.copy()
                .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
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
        String kind = blankToNull(message.getHeader("kind", String.class));
        if (kind != null && !kind.matches("field|possible-duplicate|data-quality")) {
            throw ApiProblem.invalidParameter("kind", "is field, possible-duplicate or data-quality, not '" + kind + "'");
        }
        Replies.json(message, json, 200, Map.of("items", conflicts.list(state, kind, MAX_LIST)), Map.of());
    }

    /**
     * {@code POST /api/conflicts/{id}/resolve} with {"winner":"<system>"}, {"value":...}, {"action":"dismiss"}
     * or, for a possible duplicate, {"action":"merge"} (and optionally "survivor", one of its two contacts).
     */
    public void resolveConflict(Message message) {
        long id = id(message, "conflict");
        JsonNode node = JsonBody.read(json, message.getBody(byte[].class),
                "the request body is empty; send {\"winner\":\"<system>\"}, {\"value\":...} or {\"action\":\"dismiss\"}");
        if (!(node instanceof ObjectNode body)) {
            throw ApiProblem.badRequest("the body must be a JSON object, not " + node.getNodeType().name().toLowerCase());
        }
        List<FieldError> errors = new ArrayList<>();
        body.fieldNames().forEachRemaining(name -> {
            if (!CHOICES.contains(name) && !name.equals("survivor")) {
                errors.add(FieldError.of(name, "unknown field; send one of winner, value or action"));
            }
        });
        List<String> given = body.properties().stream().map(Map.Entry::getKey).filter(CHOICES::contains).toList();
        if (errors.isEmpty() && given.size() != 1) {
            errors.add(FieldError.of(given.isEmpty() ? "winner" : given.get(1), given.isEmpty()
                    ? "send one of winner (the side that wins), value (the field's new value) or action (dismiss or merge)"
                    : "send only one of winner, value and action"));
        }
        String winner = text(body, "winner", errors);
        String action = text(body, "action", errors);
        String survivor = text(body, "survivor", errors);
        if (action != null && !action.equals("dismiss") && !action.equals("merge")) {
            errors.add(FieldError.of("action", "is dismiss or merge, not \"" + action + "\""));
        }
        if (survivor != null && !"merge".equals(action)) {
            errors.add(FieldError.of("survivor", "goes with {\"action\":\"merge\"} only"));
        }
        if (!errors.isEmpty()) {
            throw ApiProblem.invalid(errors);
        }
        ConflictResolution.Choice choice = new ConflictResolution.Choice(winner, body.get("value"), action, survivor);
        Replies.json(message, json, 200, resolution.resolve(id, choice, Caller.of(message)), Map.of());
    }

    private static String text(ObjectNode body, String field, List<FieldError> errors) {
        JsonNode node = body.get(field);
        if (node == null) {
            return null;
        }
        if (!node.isTextual() || node.textValue().isBlank()) {
            errors.add(FieldError.of(field, "must be a non-blank string"));
            return null;
        }
        return node.textValue().strip();
    }

    private static long id(Message message) {
        return id(message, "dead letter");
    }

    private static long id(Message message, String what) {
        String id = message.getHeader("id", String.class);
        try {
            return Long.parseLong(id);
        } catch (NumberFormatException e) {
            throw ApiProblem.notFound("no " + what + " has id " + id);
        }
    }

    private static String blankToNull(String value) {
        return value == null || value.isBlank() ? null : value.strip();
    }
}
