package dev.crmsync.provider;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crmsync.sync.Delivery;
import dev.crmsync.sync.DeliveryRetry;
import dev.crmsync.sync.Links;
import org.apache.camel.Exchange;

/**
 * What the sync needs from a CRM's API: the escape hatch where data (mappings, properties) cannot
 * say it. The deliver-template hands a claimed batch to {@link #writeBatch}, then sends each record
 * the batch did not settle through create, update or delete; the poll-template pages through changes.
 */
public interface CrmClient {

    /** Camel's header that overrides the next redelivery's delay: how a Retry-After is honoured. */
    String REDELIVERY_DELAY = "CamelRedeliveryDelay";

    /**
     * Writes a claimed batch through the system's batch endpoints and records each record's outcome
     * on its delivery: sent, refused (its error, raised when the record is sent alone), or deferred.
     * A call that fails as a whole throws: the deliver-template retries the batch when another try
     * can help, and otherwise sends each unsettled record on its own. Systems
     * without batch endpoints leave every record to create, update and delete.
     */
    default void writeBatch(List<Delivery> batch) {
    }

    /**
     * Reads the records a batch's updates are about to write, so that one a person changed there
     * meanwhile is merged by the engine first rather than overwritten ({@link Delivery#changedMeanwhile}).
     * Systems with a batch read use {@link #readBack}; Pipedrive reads each record before its update
     * anyway; a system that does neither writes unread.
     */
    default void readBeforeWrite(List<Delivery> batch) {
    }

    /** {@link #readBeforeWrite} through a batch read: one call per object type and batch. */
    static void readBack(List<Delivery> batch, java.util.function.BiFunction<String, List<String>, Map<String, JsonNode>> read) {
        batch.stream().filter(Delivery::isPending).filter(d -> !d.hasBatchFailure())
                .filter(d -> d.getOperation().equals("update") && d.getChangedFields() != null)
                .collect(java.util.stream.Collectors.groupingBy(Delivery::getObjectType))
                .forEach((objectType, updates) -> {
                    Map<String, JsonNode> current = read.apply(objectType, updates.stream().map(Delivery::getExternalId).toList());
                    // a record absent from the answer is gone: its update finds that out and says so
                    updates.forEach(update -> update.changedMeanwhile(current.get(update.getExternalId())));
                });
    }

    /** Creates the record, or, when the system already has this person (same email), updates that one. */
    void create(Delivery delivery);

    /**
     * Updates the record; one the system no longer has (a 404) is marked {@link Delivery#gone()}, and
     * the update step then asks {@link #recordState} whether the system deleted it or lost it.
     */
    void update(Delivery delivery);

    /**
     * The record as the system's own deletion signal tells it: whether a record an update or a
     * reconcile could not find was deleted there (then the person is deleted) or lost (then it is
     * created again). A client without such a signal keeps a missing record's old meaning: deleted.
     */
    default RecordState recordState(String objectType, String externalId) {
        return RecordState.DELETED;
    }

    /**
     * Turns each gone delivery the system never deleted into a lost one ({@link Delivery#lost()}). A
     * record the system says it still holds is not lost either: the update is tried again.
     */
    static void checkGone(CrmClient client, List<Delivery> deliveries) {
        for (Delivery delivery : deliveries) {
            if (!delivery.isGone() || delivery.getOperation().equals("delete")) {
                continue;
            }
            RecordState state = client.recordState(delivery.getObjectType(), delivery.getExternalId());
            switch (state) {
                case DELETED -> { }
                case ABSENT -> delivery.lost();
                case PRESENT -> throw new RemoteCallException(delivery.getSystem() + " answered that record "
                        + delivery.getExternalId() + " was not found, yet still holds it: the update is tried again",
                        503, null, null);
            }
        }
    }

    /** Deletes the record; one that is already gone counts as deleted. */
    void delete(Delivery delivery);

    /**
     * Removes the record of an erased person for good ({@link Delivery#isErasure()}). A system whose API
     * has no permanent delete gets its ordinary delete: the record is then as deleted as the system allows.
     */
    default void erase(Delivery delivery) {
        delete(delivery);
    }

    /** Records of one object type changed at or after a position, deletions included, oldest first. */
    Page changedSince(String objectType, Instant since, String afterId, int limit);

    /**
     * The current records of the ids a webhook named, for systems whose webhooks carry ids only
     * (HubSpot): keyed by id; an id the system no longer has is absent.
     */
    default Map<String, JsonNode> fetch(String objectType, List<String> ids) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " has no fetch: its webhooks carry records");
    }

    /** Whether {@link #fetch} reads records by id here. */
    default boolean fetches() {
        return false;
    }

    /**
     * {@link #fetch} with the date each field was last set, where the mapping says where a record
     * keeps it ({@code modified}): how records named by webhooks are read for such a mapping, and what
     * the engine asks for when a record read without them (a poll) would change the hub.
     */
    default Map<String, JsonNode> fetchDated(String objectType, List<String> ids) {
        return fetch(objectType, ids);
    }

    /**
     * Whether a webhook event that names an id only reports what the hub itself wrote (as its link
     * to that record holds it), so the record need not be read. Only for systems with such webhooks.
     */
    default boolean echoes(JsonNode event, Links.Link link) {
        return false;
    }

    /** How much of the system's API budget is spent, where the client knows it; empty otherwise. */
    default Optional<ApiUsage> apiUsage() {
        return Optional.empty();
    }

    /** Calls made within the system's rate-limit window, against the calls it allows in that window. */
    record ApiUsage(long used, long limit, Duration window) {
        public double ratio() {
            return limit <= 0 ? 0 : (double) used / limit;
        }
    }

    /** A page of changed records and, when more follow, where the next page starts. */
    record Page(List<JsonNode> records, Instant nextSince, String nextAfterId) {
        public boolean hasNext() {
            return nextSince != null;
        }
    }

    // The deliver-template's steps: the delivery (or the batch) is the body of the exchange.

    @SuppressWarnings("unchecked")
    default void writeBatch(Exchange exchange) {
        List<Delivery> batch = exchange.getMessage().getBody(List.class);
        if (exchange.getProperty(DeliveryRetry.ATTEMPTS, 0, Integer.class) > 0) {
            // the failed try may have created records before its answer was lost
            batch.stream().filter(d -> d.getOperation().equals("create")).forEach(Delivery::retried);
        }
        try {
            step(exchange, () -> {
                readBeforeWrite(batch);
                writeBatch(batch);
                checkGone(this, batch);
            });
        } catch (RemoteCallException e) {
            if (e.retryable()) {
                throw e;
            }
            // the system refused the call as a whole (one bad record can do that): each record the batch
            // did not settle is sent on its own, so only the bad one ends in dead letters
        }
        // the records' own tries start afresh
        exchange.removeProperty(DeliveryRetry.ATTEMPTS);
    }

    default void create(Exchange exchange) {
        Delivery delivery = exchange.getMessage().getBody(Delivery.class);
        if (exchange.getProperty(DeliveryRetry.ATTEMPTS, 0, Integer.class) > 0) {
            // the last try may have created the record before its answer was lost
            delivery.retried();
        }
        send(exchange, delivery, () -> create(delivery));
    }

    default void update(Exchange exchange) {
        Delivery delivery = exchange.getMessage().getBody(Delivery.class);
        send(exchange, delivery, () -> {
            readBeforeWrite(List.of(delivery));
            if (delivery.isPending()) {
                update(delivery);
            }
            checkGone(this, List.of(delivery));
        });
    }

    default void delete(Exchange exchange) {
        Delivery delivery = exchange.getMessage().getBody(Delivery.class);
        send(exchange, delivery, () -> {
            if (delivery.isErasure()) {
                erase(delivery);
            } else {
                delete(delivery);
            }
        });
    }

    private static void send(Exchange exchange, Delivery delivery, Runnable call) {
        step(exchange, () -> {
            // the batch's answer for this record counts as its first try; a redelivery sends it alone
            delivery.raiseBatchFailure();
            call.run();
        });
    }

    private static void step(Exchange exchange, Runnable call) {
        exchange.getMessage().removeHeader(REDELIVERY_DELAY);
        try {
            timed(exchange, call);
        } catch (ProviderPausedException e) {
            Object body = exchange.getMessage().getBody();
            if (body instanceof Delivery delivery) {
                delivery.defer(e.resumeAt());
            } else if (body instanceof List<?> batch) {
                batch.forEach(item -> ((Delivery) item).defer(e.resumeAt()));
            }
        } catch (RemoteCallException e) {
            if (e.retryAfter() != null) {
                // Retry-After is the least wait; a little more, spread, keeps parallel calls from colliding again
                long wait = e.retryAfter().toMillis();
                exchange.getMessage().setHeader(REDELIVERY_DELAY,
                        wait + java.util.concurrent.ThreadLocalRandom.current().nextLong(wait / 4 + 1));
            }
            throw e;
        }
    }

    /** Runs a step and records its call in the system's {@link ProviderActivity}, for its health. */
    private static void timed(Exchange exchange, Runnable call) {
        Object body = exchange.getMessage().getBody();
        String system = body instanceof Delivery delivery ? delivery.getSystem()
                : body instanceof List<?> batch && !batch.isEmpty() ? ((Delivery) batch.get(0)).getSystem() : null;
        ProviderActivity activity = system == null ? null
                : exchange.getContext().getRegistry().lookupByNameAndType("providerActivity", ProviderActivity.class);
        // a record the batch refused is refused again without a call: that call was counted with the batch
        if (activity == null || body instanceof Delivery delivery && delivery.hasBatchFailure()) {
            call.run();
            return;
        }
        long pending = pending(body);
        long started = System.nanoTime();
        try {
            call.run();
        } catch (RuntimeException e) {
            activity.ended(system, Duration.ofNanos(System.nanoTime() - started), e);
            throw e;
        }
        // a batch step with nothing to send, or of a system without batch endpoints, made no call
        if (pending(body) < pending) {
            activity.succeeded(system, Duration.ofNanos(System.nanoTime() - started));
        }
    }

    private static long pending(Object body) {
        if (body instanceof Delivery delivery) {
            return delivery.isPending() ? 1 : 0;
        }
        return ((List<?>) body).stream().filter(item -> ((Delivery) item).isPending()).count();
    }
}
