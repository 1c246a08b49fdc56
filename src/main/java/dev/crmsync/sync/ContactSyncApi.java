package dev.crmsync.sync;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crmsync.api.ApiProblem;
import dev.crmsync.api.Replies;
import dev.crmsync.contact.Contact;
import dev.crmsync.contact.ContactApi;
import dev.crmsync.contact.ContactService.Upserted;
import dev.crmsync.contact.ContactStore;
import dev.crmsync.sync.DeliveryResults.Result;
import org.apache.camel.Message;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;

/**
 * One contact's sync, over HTTP: where it stands in every system (GET /api/contacts/{id}/sync, in
 * routes/api-contacts) and the synchronous entry point that writes a contact and waits until every
 * system has it (POST /api/sync/contact, routes/api-sync-contact).
 */
@Component("contactSyncApi")
public class ContactSyncApi {

    /** Between two looks at the outbox: short at first (a fast system answers in tens of ms), then this. */
    private static final long MAX_PAUSE_MILLIS = 50;

    private final ContactApi contactApi;
    private final ContactStore contacts;
    private final ContactSyncStatus status;
    private final DeliveryResults results;
    private final ObjectMapper json;
    private final Duration maxTimeout;
    /*
     * Camel's platform-http runs every API request and webhook on one shared executor (Spring's task
     * executor, 8 threads unless spring.task.execution.pool.* says otherwise): a caller that waits holds
     * one of them. Only this many wait at once, so waiting callers can never starve the rest.
     */
    private final Semaphore waiting;

    public ContactSyncApi(ContactApi contactApi, ContactStore contacts, ContactSyncStatus status, DeliveryResults results,
                          ObjectMapper json,
                          @Value("${crmsync.api.sync-contact-timeout:PT10S}") Duration maxTimeout,
                          @Value("${crmsync.api.sync-contact-max-waiting:4}") int maxWaiting) {
        this.contactApi = contactApi;
        this.contacts = contacts;
        this.status = status;
        this.results = results;
        this.json = json;
        this.maxTimeout = maxTimeout;
        this.waiting = new Semaphore(Math.max(0, maxWaiting));
    }

    /** GET /api/contacts/{id}/sync. */
    public void status(Message message) {
        String id = message.getHeader("id", String.class);
        Contact contact = contacts.find(id).orElseThrow(() -> ApiProblem.notFound("no contact has id " + id));
        if (contact.mergedInto() != null) {
            Replies.json(message, json, 301, Map.of("id", id, "mergedInto", contact.mergedInto()),
                    Map.of("Location", statusUrl(contact.mergedInto())));
            return;
        }
        // a deleted contact still answers: its delete is on its way to the systems that hold it
        Replies.json(message, json, 200, status.of(contact), Map.of());
    }

    /**
     * POST /api/sync/contact: upserts the contact by email, then waits, holding no transaction or
     * connection, until the outbox rows of the version it wrote settle in every system, or the timeout.
     */
    public void syncContact(Message message) {
        Duration timeout = timeout(message.getHeader("timeout", String.class));
        Upserted upserted = contactApi.upsert(message);
        Contact contact = upserted.contact();
        Map<String, Result> outcome = await(contact, upserted.changed(), timeout);

        Map<String, Object> body = new LinkedHashMap<>();
        boolean failed = outcome.values().stream().anyMatch(Result::failed);
        boolean pending = outcome.values().stream().anyMatch(result -> !result.settled());
        body.put("status", failed ? "failed" : pending ? "pending" : "success");
        body.put("contactId", contact.id());
        body.put("version", contact.version());
        body.put("hub", upserted.created() ? "created" : upserted.changed() ? "updated" : "unchanged");
        Map<String, String> byTarget = new LinkedHashMap<>();
        Map<String, String> errors = new LinkedHashMap<>();
        outcome.forEach((system, result) -> {
            byTarget.put(system, result.outcome());
            if (result.failed()) {
                errors.put(system, result.error());
            }
        });
        body.put("results", byTarget);
        if (failed) {
            body.put("errors", errors);
        }
        body.put("statusUrl", statusUrl(contact.id()));
        if (failed) {
            Replies.json(message, json, 502, body, Map.of());
        } else if (pending) {
            Replies.json(message, json, 202, body, Map.of("Location", statusUrl(contact.id())));
        } else {
            Replies.json(message, json, 200, body, Map.of());
        }
    }

    private Map<String, Result> await(Contact contact, boolean written, Duration timeout) {
        Map<String, Result> outcome = results.of(contact.id(), contact.version(), written, status.systems());
        if (settled(outcome) || timeout.isZero() || !waiting.tryAcquire()) {
            return outcome;
        }
        try {
            long deadline = System.nanoTime() + timeout.toNanos();
            long pause = 5;
            while (!settled(outcome)) {
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (left <= 0) {
                    break;
                }
                Thread.sleep(Math.min(pause, left));
                pause = Math.min(pause * 2, MAX_PAUSE_MILLIS);
                outcome = results.of(contact.id(), contact.version(), written, status.systems());
            }
        } catch (InterruptedException e) {
            // shutting down: answer with what is known
            Thread.currentThread().interrupt();
        } finally {
            waiting.release();
        }
        return outcome;
    }

    private static boolean settled(Map<String, Result> outcome) {
        return outcome.values().stream().allMatch(Result::settled);
    }

    /** The caller's ?timeout= (ISO-8601, such as PT2S), at most crmsync.api.sync-contact-timeout. */
    private Duration timeout(String value) {
        if (value == null || value.isBlank()) {
            return maxTimeout;
        }
        try {
            Duration asked = Duration.parse(value.strip());
            if (!asked.isNegative()) {
                return asked.compareTo(maxTimeout) > 0 ? maxTimeout : asked;
            }
        } catch (DateTimeParseException e) {
            // refused below
        }
        throw ApiProblem.invalidParameter("timeout", "must be an ISO-8601 duration from PT0S to " + maxTimeout
                + " (crmsync.api.sync-contact-timeout), such as PT2S, not '" + value + "'");
    }

    private static String statusUrl(String contactId) {
        return "/api/contacts/" + contactId + "/sync";
    }
}
