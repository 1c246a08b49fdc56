package dev.crmsync.sync;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.MeterRegistry;
import dev.crmsync.mapping.Mapping;
import dev.crmsync.mapping.Mappings;
import dev.crmsync.provider.CrmClient;
import dev.crmsync.provider.ProviderActivity;
import dev.crmsync.provider.ProviderPausedException;
import dev.crmsync.provider.RemoteCallException;
import dev.crmsync.sync.Inbox.Change;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.ApplicationListener;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.dao.ConcurrencyFailureException;
import org.springframework.dao.DataIntegrityViolationException;
import org.springframework.stereotype.Component;

/**
 * Drains the inbox for the inbox-process route: claims a batch, keeps the order of changes of one
 * remote record, and applies independent records in parallel. A change that fails backs off and is
 * retried on a later batch, or goes to dead letters, as {@link IntakeRetry} decides; later changes of
 * its record wait for it.
 */
@Component("inboxProcessor")
public class InboxProcessor implements DisposableBean, ApplicationListener<ContextClosedEvent> {

    private static final Logger LOG = LoggerFactory.getLogger(InboxProcessor.class);

    private final Inbox inbox;
    private final SyncEngine engine;
    private final DeadLetters deadLetters;
    private final SyncRuns runs;
    private final BeanFactory beans;
    private final Mappings mappings;
    private final Links links;
    private final ObjectMapper json;
    private final MeterRegistry meters;
    private final ProviderActivity activity;
    private final int batchSize;
    private final IntakeRetry retry;
    private final java.time.Clock clock;
    private final Duration lease;
    private final ExecutorService workers;
    private final String worker;
    private volatile boolean stopping;

    public InboxProcessor(Inbox inbox, SyncEngine engine, DeadLetters deadLetters, SyncRuns runs, BeanFactory beans, Mappings mappings,
                          Links links, ObjectMapper json, MeterRegistry meters, ProviderActivity activity,
                          IntakeRetry retry, java.time.Clock clock, Instance instance,
                          @Value("${crmsync.sync.batch-size:500}") int batchSize,
                          @Value("${crmsync.sync.workers:4}") int workers,
                          @Value("${crmsync.sync.claim-lease:PT5M}") Duration lease) {
        this.inbox = inbox;
        this.engine = engine;
        this.beans = beans;
        this.mappings = mappings;
        this.links = links;
        this.json = json;
        this.meters = meters;
        this.activity = activity;
        this.deadLetters = deadLetters;
        this.runs = runs;
        this.batchSize = batchSize;
        this.retry = retry;
        this.clock = clock;
        this.worker = instance.id();
        this.lease = lease;
        this.workers = Pools.fixed("crmsync-sync", workers);
    }

    /** Applies batches until the inbox is empty; returns how many changes were applied. */
    public int drain() throws Exception {
        int total = 0;
        int applied;
        do {
            applied = processBatch();
            total += applied;
        } while (applied > 0 && !stopping);
        return total;
    }

    public int processBatch() throws Exception {
        List<Change> batch = resolveFetches(inbox.claim(batchSize, worker, lease));
        Map<String, List<Change>> byRecord = new LinkedHashMap<>();
        batch.forEach(change -> byRecord.computeIfAbsent(change.recordKey(), key -> new ArrayList<>()).add(change));
        List<Future<Integer>> running = new ArrayList<>();
        for (List<Change> changes : byRecord.values()) {
            running.add(workers.submit(() -> applyInOrder(changes)));
        }
        int applied = 0;
        for (Future<Integer> result : running) {
            applied += result.get();
        }
        return applied;
    }

    private int applyInOrder(List<Change> changes) {
        int applied = 0;
        for (int i = 0; i < changes.size(); i++) {
            Change change = changes.get(i);
            try {
                applyWithRetry(change);
                applied++;
            } catch (RuntimeException e) {
                if (failed(change, e)) {
                    LOG.warn("Change {} of {} failed (try {}), tried again later: {}", change.id(), change.recordKey(),
                            change.attempts(), e.toString());
                    // later changes of this record wait for it, to keep their order
                    inbox.waitFor(change.id(), changes.subList(i + 1, changes.size()).stream().map(Change::id).toList());
                    return applied;
                }
            }
        }
        return applied;
    }

    /**
     * Webhook changes that name an id only (HubSpot's) become the record as it is now, read for all
     * of a batch at once (a burst of events is a few batch reads). An id the system no longer has is
     * done: its deletion or merge arrives as an event of its own.
     */
    private List<Change> resolveFetches(List<Change> batch) {
        Map<String, List<Change>> fetches = new LinkedHashMap<>();
        batch.stream().filter(change -> change.operation().equals("fetch"))
                .forEach(change -> fetches.computeIfAbsent(change.sourceSystem() + "-" + change.objectType(),
                        key -> new ArrayList<>()).add(change));
        if (fetches.isEmpty()) {
            return batch;
        }
        Map<Long, Optional<Change>> resolved = new HashMap<>();
        Map<String, Long> waiting = new HashMap<>();
        fetches.forEach((mappingName, all) -> {
            Change first = all.get(0);
            CrmClient client = beans.getBean(first.sourceSystem() + "Client", CrmClient.class);
            List<Change> changes = new ArrayList<>();
            for (Change change : all) {
                if (client.echoes(read(change.payload()), links.find(change.sourceSystem(), change.objectType(),
                        change.externalId()).orElse(null))) {
                    inbox.done(change.id());
                    resolved.put(change.id(), Optional.empty());
                    meters.counter("crmsync.sync.echoes", "system", change.sourceSystem()).increment();
                } else {
                    changes.add(change);
                }
            }
            if (changes.isEmpty()) {
                return;
            }
            try {
                List<String> ids = changes.stream().map(Change::externalId).distinct().toList();
                Mapping mapping = mappings.get(mappingName);
                // with each field's date where the mapping says where it is: the record's own date is that of its
                // latest change of any field, which would date all of them
                Map<String, JsonNode> records = activity.timed(first.sourceSystem(), () -> mapping.datesFields()
                        ? client.fetchDated(first.objectType(), ids) : client.fetch(first.objectType(), ids));
                for (Change change : changes) {
                    JsonNode record = records.get(change.externalId());
                    if (record == null) {
                        inbox.done(change.id());
                        resolved.put(change.id(), Optional.empty());
                        continue;
                    }
                    Instant modified = mapping.toCanonical(record).modifiedAt();
                    inbox.resolve(change.id(), "update", record.toString(), modified);
                    resolved.put(change.id(), Optional.of(change.resolved(record.toString(), modified)));
                }
            } catch (RuntimeException e) {
                LOG.warn("Reading {} records named by webhooks failed, retried later: {}", first.sourceSystem(), e.toString());
                for (Change change : changes) {
                    if (failed(change, e)) {
                        waiting.putIfAbsent(change.recordKey(), change.id());
                    }
                    resolved.put(change.id(), Optional.empty());
                }
            }
        });
        // a record whose read waits: its later changes in this batch wait with it, to keep their order
        for (Change change : batch) {
            Long earlier = waiting.get(change.recordKey());
            if (earlier != null && change.id() > earlier && !resolved.containsKey(change.id())) {
                inbox.waitFor(earlier, List.of(change.id()));
                resolved.put(change.id(), Optional.empty());
            }
        }
        return batch.stream().map(change -> resolved.getOrDefault(change.id(), Optional.of(change)))
                .flatMap(Optional::stream).toList();
    }

    /**
     * Records a failed change: backing off (answers true: it waits, and so do later changes of its record)
     * or in dead letters (false).
     */
    private boolean failed(Change change, RuntimeException e) {
        Failure failure = Failure.of(e);
        Instant now = clock.instant();
        ProviderPausedException paused = org.apache.camel.util.ObjectHelper.getException(ProviderPausedException.class, e);
        RemoteCallException remote = org.apache.camel.util.ObjectHelper.getException(RemoteCallException.class, e);
        IntakeRetry.Next next = retry.decide(failure, change.attempts(),
                failure == Failure.REFUSED || failure == Failure.PAUSED ? null : inbox.firstFailedAt(change.id()), now,
                paused == null ? null : paused.resumeAt(), remote == null ? null : remote.retryAfter(),
                ThreadLocalRandom.current().nextDouble());
        if (next instanceof IntakeRetry.RetryAt at) {
            inbox.retryAt(change.id(), String.valueOf(e.getMessage()), at.at(), at.trySpent());
            return true;
        }
        inbox.failed(change.id(), String.valueOf(e.getMessage()), false);
        deadLetters.recordInbox(change, e);
        if (change.runId() != null) {
            runs.error(change.runId(), change.externalId(), String.valueOf(e.getMessage()));
        }
        return false;
    }

    private JsonNode read(String payload) {
        try {
            return json.readTree(payload);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            return json.createObjectNode();
        }
    }

    /** Two records of one person arriving at once race for the same email; the loser matches the winner on retry. */
    private void applyWithRetry(Change change) {
        for (int attempt = 1; ; attempt++) {
            try {
                engine.apply(change);
                return;
            } catch (DataIntegrityViolationException | ConcurrencyFailureException e) {
                if (attempt >= 3) {
                    throw e;
                }
            }
        }
    }

    /** Closing starts: the batch in hand is finished, no other is claimed. */
    @Override
    public void onApplicationEvent(ContextClosedEvent event) {
        stopping = true;
    }

    /**
     * Gives back what this process claimed and did not apply, so the next start takes it at once
     * rather than after the claim's lease.
     */
    @Override
    public void destroy() throws InterruptedException {
        stopping = true;
        Pools.finish(workers, Duration.ofSeconds(2));
        inbox.release(worker);
    }
}
