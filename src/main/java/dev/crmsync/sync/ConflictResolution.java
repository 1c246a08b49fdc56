package dev.crmsync.sync;

import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crmsync.api.ApiProblem;
import dev.crmsync.api.ApiProblem.FieldError;
import dev.crmsync.contact.Contact;
import dev.crmsync.contact.ContactNormalizer;
import dev.crmsync.contact.ContactService;
import dev.crmsync.contact.ContactService.Source;
import dev.crmsync.contact.ContactStore;
import dev.crmsync.sync.Conflicts.Conflict;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Transactional;

/**
 * An operator's answer to a conflict. For a field: one side's value, or a value of their own, written
 * to the contact as an API change (history names them; the outbox takes it to every system). For a
 * possible duplicate: the two contacts merged as a remote merge would merge them. Or dismissed: what
 * the policy decided stands.
 */
@Component
public class ConflictResolution {

    /** What the operator chose; exactly one of winner, value (a JSON value, null included) and action. */
    public record Choice(String winner, JsonNode value, String action, String survivor) {
    }

    private final Conflicts conflicts;
    private final ContactService service;
    private final ContactStore contacts;
    private final ContactNormalizer normalizer;
    private final SyncEngine engine;
    private final ObjectMapper json;

    public ConflictResolution(Conflicts conflicts, ContactService service, ContactStore contacts,
                              ContactNormalizer normalizer, SyncEngine engine, ObjectMapper json) {
        this.conflicts = conflicts;
        this.service = service;
        this.contacts = contacts;
        this.normalizer = normalizer;
        this.engine = engine;
        this.json = json;
    }

    /** Applies the choice and closes the conflict, in one transaction; returns the conflict as it is now. */
    @Transactional
    public Map<String, Object> resolve(long id, Choice choice, String actor) {
        Conflict conflict = conflicts.findForUpdate(id).orElseThrow(() -> ApiProblem.notFound("no conflict has id " + id));
        if (!conflict.state().equals("open")) {
            throw new ApiProblem(409, "conflict " + id + " is already " + conflict.state()).with("state", conflict.state());
        }
        Source source = new Source("api", actor);
        if ("dismiss".equals(choice.action())) {
            conflicts.close(id, "dismissed", null, actor);
        } else if (conflict.kind().equals("data-quality")) {
            // the value was never taken: there is nothing to choose in the hub; it is fixed in its system
            throw ApiProblem.invalid(List.of(FieldError.of("action", "a data-quality entry takes {\"action\":\"dismiss\"} "
                    + "once the value is fixed in " + conflict.remoteSystem())));
        } else if (conflict.kind().equals("field")) {
            resolveField(conflict, choice, source);
        } else {
            merge(conflict, choice, source);
        }
        return conflicts.find(id).orElseThrow();
    }

    private void resolveField(Conflict conflict, Choice choice, Source source) {
        if (choice.action() != null) {
            throw ApiProblem.invalid(List.of(FieldError.of("action", "a field conflict takes \"dismiss\", or a winner or "
                    + "a value instead; \"" + choice.action() + "\" is for possible duplicates")));
        }
        String winner = "value";
        JsonNode value = choice.value();
        String pointer = "value";
        if (choice.winner() != null) {
            if (choice.winner().equals(conflict.hubSystem())) {
                value = stored(conflict.hubValue());
            } else if (choice.winner().equals(conflict.remoteSystem())) {
                value = stored(conflict.remoteValue());
            } else {
                throw ApiProblem.invalid(List.of(FieldError.of("winner", "is one of the two sides of conflict "
                        + conflict.id() + ": \"" + conflict.hubSystem() + "\" or \"" + conflict.remoteSystem()
                        + "\", not \"" + choice.winner() + "\"")));
            }
            winner = choice.winner();
            pointer = "winner";
        }
        live(conflict.contactId(), conflict);
        ObjectNode patch = patch(conflict.field(), value);
        String at = pointer;
        try {
            service.update(conflict.contactId(), null, current -> normalizer.patch(current, patch), source);
        } catch (ApiProblem problem) {
            if (problem.status() != 400) {
                throw problem;
            }
            // the normaliser names the field in a patch the caller never sent: point at what they sent
            throw ApiProblem.invalid(problem.errors().stream()
                    .map(error -> FieldError.of(at, "as " + conflict.field() + ": " + error.detail())).toList());
        }
        conflicts.close(conflict.id(), "resolved", winner, source.actor());
    }

    private void merge(Conflict conflict, Choice choice, Source source) {
        if (!"merge".equals(choice.action())) {
            throw ApiProblem.invalid(List.of(FieldError.of(choice.action() != null ? "action" : choice.winner() != null
                    ? "winner" : "value", "a possible duplicate is resolved with {\"action\":\"merge\"} or "
                    + "{\"action\":\"dismiss\"}")));
        }
        if (conflict.otherContactId() == null) {
            throw new ApiProblem(409, "conflict " + conflict.id() + " is two records of one person in "
                    + conflict.remoteSystem() + " (" + conflict.hubValue() + " and " + conflict.remoteValue()
                    + "): merge them there, then dismiss this conflict");
        }
        String survivor = choice.survivor() != null ? choice.survivor() : conflict.otherContactId();
        if (!survivor.equals(conflict.contactId()) && !survivor.equals(conflict.otherContactId())) {
            throw ApiProblem.invalid(List.of(FieldError.of("survivor", "is one of the two contacts of conflict "
                    + conflict.id() + ": \"" + conflict.contactId() + "\" or \"" + conflict.otherContactId()
                    + "\", not \"" + survivor + "\"")));
        }
        String loser = survivor.equals(conflict.contactId()) ? conflict.otherContactId() : conflict.contactId();
        live(survivor, conflict);
        live(loser, conflict);
        engine.mergeContacts(survivor, loser, source);
        conflicts.close(conflict.id(), "resolved", survivor, source.actor());
    }

    /** The contact a resolution writes must still be live; otherwise the conflict can only be dismissed. */
    private void live(String contactId, Conflict conflict) {
        Contact contact = contacts.find(contactId).orElse(null);
        if (contact == null || contact.isDeleted()) {
            ApiProblem problem = new ApiProblem(409, "contact " + contactId + " of conflict " + conflict.id()
                    + (contact == null ? " no longer exists" : contact.mergedInto() != null
                    ? " was merged into " + contact.mergedInto() : " was deleted") + "; dismiss the conflict");
            throw contact != null && contact.mergedInto() != null ? problem.with("mergedInto", contact.mergedInto()) : problem;
        }
    }

    /** A merge patch of the contacts API that sets one canonical field ({@code custom.<key>} inside custom). */
    private ObjectNode patch(String field, JsonNode value) {
        ObjectNode patch = json.createObjectNode();
        if (field.startsWith("custom.")) {
            patch.putObject("custom").set(field.substring("custom.".length()), value);
        } else {
            patch.set(field, value);
        }
        return patch;
    }

    private JsonNode stored(String value) {
        try {
            return value == null ? json.nullNode() : json.readTree(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("conflict value is not JSON: " + e.getOriginalMessage(), e);
        }
    }
}
