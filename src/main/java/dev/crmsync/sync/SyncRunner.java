package dev.crmsync.sync;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crmsync.config.CrmSyncProperties;
import dev.crmsync.mapping.Mapping;
import dev.crmsync.mapping.Mappings;
import dev.crmsync.provider.CrmClient;
import dev.crmsync.provider.CrmClient.Page;
import dev.crmsync.provider.ProviderActivity;
import dev.crmsync.provider.ProviderPausedException;
import dev.crmsync.sync.SyncRuns.Run;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.ApplicationListener;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.jdbc.core.namedparam.MapSqlParameterSource;
import org.springframework.jdbc.core.namedparam.NamedParameterJdbcTemplate;
import org.springframework.stereotype.Component;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Carries out sync runs for the sync-runs route. A run reads its system page by page into the
 * inbox, tagged with its id, and commits each page with the checkpoint where it resumes: a run
 * interrupted by a stop goes on from its last committed page when the service is back. The engine
 * applies the run's changes like any other, and counts their outcomes on the run.
 *
 * <p>Initial and reconcile runs read every record from the start, incremental runs from the poll's
 * cursor; every page also moves that cursor forward. Only one page is held at a time, and the next
 * is read while the last is stored. A reconcile then compares what it read with the hub: linked
 * records it did not see were deleted in the system (when its deletion signal says so; otherwise the
 * system lost them and they are created there again), live contacts the system lacks are sent again.
 */
@Component("syncRunner")
public class SyncRunner implements DisposableBean, ApplicationListener<ContextClosedEvent> {

    private static final Logger LOG = LoggerFactory.getLogger(SyncRunner.class);
    private static final int FETCH_TRIES = 5;
    private static final String SWEEP_KEY = "reconcile:";

    private final SyncRuns runs;
    private final Poller poller;
    private final Inbox inbox;
    private final Mappings mappings;
    private final Outbox outbox;
    private final CrmSyncProperties properties;
    private final BeanFactory beans;
    private final NamedParameterJdbcTemplate jdbc;
    private final TransactionTemplate transaction;
    private final ObjectMapper json;
    private final Clock clock;
    private final ProviderActivity activity;
    private final LostRecords lostRecords;
    private final int pageSize;
    private final double maxDeleteShare;
    private final Duration retryDelay;
    private final ExecutorService executor;
    private final Map<String, Future<?>> running = new ConcurrentHashMap<>();
    private volatile boolean stopping;

    public SyncRunner(SyncRuns runs, Poller poller, Inbox inbox, Mappings mappings, Outbox outbox,
                      CrmSyncProperties properties, BeanFactory beans, NamedParameterJdbcTemplate jdbc,
                      TransactionTemplate transaction, ObjectMapper json, Clock clock, ProviderActivity activity,
                      LostRecords lostRecords,
                      @Value("${crmsync.sync.poll-page-size:200}") int pageSize,
                      @Value("${crmsync.sync.reconcile-max-delete-share:0.25}") double maxDeleteShare,
                      @Value("${crmsync.sync.run-retry-delay:PT1S}") Duration retryDelay) {
        this.activity = activity;
        this.lostRecords = lostRecords;
        this.runs = runs;
        this.poller = poller;
        this.inbox = inbox;
        this.mappings = mappings;
        this.outbox = outbox;
        this.properties = properties;
        this.beans = beans;
        this.jdbc = jdbc;
        this.transaction = transaction;
        this.json = json;
        this.clock = clock;
        this.pageSize = pageSize;
        this.maxDeleteShare = maxDeleteShare;
        this.retryDelay = retryDelay;
        this.executor = Pools.cached("crmsync-sync-run");
    }

    /**
     * For the sync-runs route: starts queued runs and resumes those a stop interrupted (every active
     * run this process is not carrying out), and completes runs whose changes are all applied.
     */
    public void advance() {
        if (stopping) {
            return;
        }
        running.values().removeIf(Future::isDone);
        for (Run run : runs.active()) {
            if (run.state().equals("processing")) {
                if (runs.completeIfApplied(run)) {
                    LOG.info("Sync run {} ({} {}) completed", run.id(), run.system(), run.type());
                }
            } else {
                running.computeIfAbsent(run.id(), id -> executor.submit(() -> execute(run)));
            }
        }
    }

    /** Whether this process is reading for the run now. */
    public boolean reading(String runId) {
        Future<?> future = running.get(runId);
        return future != null && !future.isDone();
    }

    private void execute(Run run) {
        try {
            runs.fetching(run.id());
            CrmSyncProperties.Provider provider = properties.providers().get(run.system());
            if (provider == null || !provider.enabled()) {
                runs.failed(run.id(), "system " + run.system() + " is not an enabled provider");
                return;
            }
            Checkpoint checkpoint = Checkpoint.read(json, run.cursor());
            List<String> objects = provider.objectTypes();
            int first = checkpoint == null ? 0 : Math.max(0, objects.indexOf(checkpoint.object()));
            Map<String, Long> repaired = new LinkedHashMap<>();
            for (String object : objects.subList(first, objects.size())) {
                Checkpoint start = checkpoint != null && checkpoint.object().equals(object) ? checkpoint : start(run, object);
                read(run, provider, object, start);
                if (run.type().equals("reconcile")) {
                    sweep(run, object);
                }
            }
            if (run.type().equals("reconcile")) {
                // counted from the inbox, so a run resumed after a stop still reports what it found before
                repaired.put("remoteDeleted", inboxRows(run, "LIKE"));
                repaired.put("missed", inboxRows(run, "NOT LIKE"));
                repaired.put("recreated", lostRecords.ofRun(run.id()));
                repaired.put("resent", resend(run, provider));
            }
            runs.fetched(run.id(), repaired);
        } catch (InterruptedException | Stopped e) {
            // cancelled, or the service is stopping: then the run resumes from its checkpoint when it is back
        } catch (RuntimeException e) {
            if (stopping) {
                return;
            }
            LOG.warn("Sync run {} of {} failed: {}", run.id(), run.system(), e.toString());
            runs.failed(run.id(), String.valueOf(e.getMessage()));
        }
    }

    private Checkpoint start(Run run, String object) {
        if (!run.type().equals("incremental")) {
            return new Checkpoint(object, null, null);
        }
        Instant cursor = poller.cursor(run.system(), object);
        return new Checkpoint(object, cursor == null ? null : cursor.minus(poller.overlap()), null);
    }

    /** Reads one object type page by page, from a checkpoint; throws {@link Stopped} when cancelled or stopping. */
    private void read(Run run, CrmSyncProperties.Provider provider, String object, Checkpoint from)
            throws InterruptedException {
        if (from.finished()) {
            return;
        }
        CrmClient client = beans.getBean(run.system() + "Client", CrmClient.class);
        Mapping mapping = mappings.get(run.system() + "-" + object);
        int limit = provider.pageSize() != null ? provider.pageSize() : pageSize;
        Page page = fetch(run, client, object, from.since(), from.afterId(), limit);
        while (true) {
            checkActive(run);
            Checkpoint next = page.hasNext() ? new Checkpoint(object, page.nextSince(), page.nextAfterId()) : null;
            // the next page is read while this one is stored
            CompletableFuture<Page> following = next == null ? null : CompletableFuture.supplyAsync(() -> {
                try {
                    return fetch(run, client, object, next.since(), next.afterId(), limit);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new CompletionException(e);
                }
            }, executor);
            store(run, object, mapping, page, next == null ? new Checkpoint(object, null, null).done() : next);
            if (following == null) {
                return;
            }
            try {
                page = following.join();
            } catch (CompletionException e) {
                if (e.getCause() instanceof InterruptedException interrupted) {
                    throw interrupted;
                }
                throw e.getCause() instanceof RuntimeException cause ? cause : e;
            }
        }
    }

    private Page fetch(Run run, CrmClient client, String object, Instant since, String afterId, int limit)
            throws InterruptedException {
        for (int attempt = 1; ; attempt++) {
            try {
                Page page = activity.timed(run.system(), () -> client.changedSince(object, since, afterId, limit));
                // counts as the system's poll: while an initial run reads it, its scheduled polls stand aside
                activity.polled(run.system());
                return page;
            } catch (ProviderPausedException e) {
                // a spent API limit: the run waits for it, as polls do
                sleepUntil(e.resumeAt(), run);
                attempt--;
            } catch (RuntimeException e) {
                if (attempt >= FETCH_TRIES) {
                    throw e;
                }
                LOG.info("Sync run {}: reading a page of {} failed (try {} of {}): {}", run.id(), run.system(), attempt,
                        FETCH_TRIES, e.getMessage());
                Thread.sleep(retryDelay.toMillis() << (attempt - 1));
            }
            checkActive(run);
        }
    }

    private void sleepUntil(Instant until, Run run) throws InterruptedException {
        while (clock.instant().isBefore(until)) {
            checkActive(run);
            Thread.sleep(Math.min(1000, Math.max(1, Duration.between(clock.instant(), until).toMillis())));
        }
    }

    private void checkActive(Run run) {
        if (stopping || !runs.isActive(run.id())) {
            throw new Stopped();
        }
    }

    /** One page, its counts and the run's next position commit together. */
    private void store(Run run, String object, Mapping mapping, Page page, Checkpoint next) {
        transaction.executeWithoutResult(status -> {
            Poller.StoredPage stored = poller.storePage(run.system(), object, mapping, page, run.id());
            // a run's listing moves on past a record it could not store, and reports it
            stored.skipped().forEach(skipped -> runs.error(run.id(), skipped.externalId(), skipped.reason()));
            if (run.type().equals("reconcile") && !stored.seen().isEmpty()) {
                jdbc.update("UPDATE contact_link SET seen_by_run = :run WHERE system = :system AND object_type = :object "
                        + "AND external_id IN (:ids)", new MapSqlParameterSource("run", run.id()).addValue("system", run.system())
                        .addValue("object", object).addValue("ids", stored.seen()));
            }
            runs.page(run.id(), page.records().size(), stored.unchanged(), stored.skipped().size(), next.write(json));
        });
    }

    /**
     * Links of live contacts the reconcile did not see. Each is asked of the system's deletion signal:
     * one it deleted becomes a delete in the inbox, applied under the engine's tombstone rules; one it
     * knows nothing of was lost, and is created there again ({@link LostRecords}). A reconcile that
     * would delete more than its share of the system's people fails instead: a listing that came
     * back short (a changed permission, a filter) must not delete people everywhere.
     */
    private void sweep(Run run, String object) {
        MapSqlParameterSource parameters = new MapSqlParameterSource("run", run.id()).addValue("system", run.system())
                .addValue("object", object).addValue("started", Links.at(run.startedAt() != null ? run.startedAt() : run.createdAt()));
        String unseen = " FROM contact_link l JOIN contact c ON c.id = l.contact_id WHERE l.system = :system "
                + "AND l.object_type = :object AND (l.seen_by_run IS NULL OR l.seen_by_run <> :run) "
                + "AND l.created_at < :started AND c.deleted_at IS NULL AND c.merged_into IS NULL";
        long gone = jdbc.queryForObject("SELECT COUNT(*)" + unseen, parameters, Long.class);
        if (gone == 0) {
            return;
        }
        long linked = jdbc.queryForObject("SELECT COUNT(*) FROM contact_link WHERE system = :system AND object_type = :object",
                parameters, Long.class);
        if (gone > 10 && gone > linked * maxDeleteShare) {
            throw new IllegalStateException(gone + " of " + linked + " linked " + object + " records were not in " + run.system()
                    + "'s listing, more than crmsync.sync.reconcile-max-delete-share (" + maxDeleteShare
                    + "): nothing was deleted");
        }
        Instant now = clock.instant();
        CrmClient client = beans.getBean(run.system() + "Client", CrmClient.class);
        List<Map<String, Object>> absent = jdbc.queryForList("SELECT l.external_id, l.contact_id" + unseen, parameters);
        for (Map<String, Object> record : absent) {
            checkActive(run);
            String externalId = (String) record.get("external_id");
            // only the system's own deletion signal deletes the person: a record it merely lost is created again
            switch (activity.timed(run.system(), () -> client.recordState(object, externalId))) {
                case DELETED -> inbox.accept(SWEEP_KEY + run.id() + ":" + run.system() + ":" + object + ":" + externalId,
                        run.system(), object, externalId, "delete", null, now, run.id());
                case ABSENT -> lostRecords.recreate(run.system(), object, externalId, (String) record.get("contact_id"),
                        RecordLoss.RECONCILE, run.id(), null);
                case PRESENT -> LOG.info("Sync run {}: {} record {} was not in the listing but is there: left linked",
                        run.id(), run.system(), externalId);
            }
        }
    }

    /**
     * The run's changes whose key is ({@code LIKE}) or is not ({@code NOT LIKE}) a sweep's: the deletes
     * it found, or the changes it read that the hub had not seen (what webhooks and polls missed).
     */
    private long inboxRows(Run run, String like) {
        return jdbc.queryForObject("SELECT COUNT(*) FROM inbox WHERE run_id = :run AND idempotency_key " + like + " :sweep",
                Map.of("run", run.id(), "sweep", SWEEP_KEY + "%"), Long.class);
    }

    /** Live contacts the system has no record of and nothing on the way to: sent to it again. */
    private long resend(Run run, CrmSyncProperties.Provider provider) {
        if (!outbox.targets("hub").contains(run.system())) {
            return 0;
        }
        Instant now = clock.instant();
        return jdbc.update("INSERT INTO outbox (contact_id, target_system, object_type, operation, contact_version, "
                + "next_attempt_at, created_at) SELECT c.id, :system, :object, 'create', c.version, :now, :now FROM contact c "
                + "WHERE c.deleted_at IS NULL AND c.merged_into IS NULL AND c.created_at < :started "
                + "AND NOT EXISTS (SELECT 1 FROM contact_link l WHERE l.contact_id = c.id AND l.system = :system) "
                + "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.contact_id = c.id AND o.target_system = :system "
                + "AND o.state IN ('pending', 'claimed'))", new MapSqlParameterSource("system", run.system())
                .addValue("object", provider.primaryObjectType()).addValue("now", Links.at(now))
                .addValue("started", Links.at(run.startedAt() != null ? run.startedAt() : run.createdAt())));
    }

    /** Closing starts: runs stop after the page in hand, before the providers' clients are stopped. */
    @Override
    public void onApplicationEvent(ContextClosedEvent event) {
        stopping = true;
    }

    /** Lets each run finish the page in hand; what is not committed is read again when the run resumes. */
    @Override
    public void destroy() throws InterruptedException {
        stopping = true;
        Pools.finish(executor, Duration.ofSeconds(2));
    }

    /** Leaves a run that was cancelled, or whose service is stopping, where it stands. */
    private static final class Stopped extends RuntimeException {
        Stopped() {
            super(null, null, false, false);
        }
    }

    /** Where a run resumes: an object type and the position of its next page ({@code done} once read). */
    record Checkpoint(String object, Instant since, String afterId, boolean finished) {

        Checkpoint(String object, Instant since, String afterId) {
            this(object, since, afterId, false);
        }

        Checkpoint done() {
            return new Checkpoint(object, since, afterId, true);
        }

        String write(ObjectMapper json) {
            Map<String, Object> fields = new LinkedHashMap<>();
            fields.put("object", object);
            fields.put("since", since == null ? null : since.toString());
            fields.put("afterId", afterId);
            if (finished) {
                fields.put("finished", true);
            }
            try {
                return json.writeValueAsString(fields);
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        }

        static Checkpoint read(ObjectMapper json, String text) {
            if (text == null) {
                return null;
            }
            try {
                JsonNode node = json.readTree(text);
                return new Checkpoint(node.path("object").asText(), node.hasNonNull("since")
                        ? Instant.parse(node.get("since").asText()) : null, node.path("afterId").asText(null),
                        node.path("finished").asBoolean(false));
            } catch (JsonProcessingException e) {
                throw new IllegalStateException("sync_run holds a malformed checkpoint: " + text, e);
            }
        }
    }
}
