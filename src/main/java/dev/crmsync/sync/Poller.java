package dev.crmsync.sync;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crmsync.config.CrmSyncProperties;
import dev.crmsync.mapping.Mapping;
import dev.crmsync.mapping.Mapping.RemoteRecord;
import dev.crmsync.mapping.Mappings;
import dev.crmsync.provider.CrmClient;
import dev.crmsync.provider.CrmClient.Page;
import dev.crmsync.provider.ProviderActivity;
import dev.crmsync.provider.ProviderPausedException;
import dev.crmsync.provider.ProviderPauses;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.jdbc.core.namedparam.MapSqlParameterSource;
import org.springframework.jdbc.core.namedparam.NamedParameterJdbcTemplate;
import org.springframework.stereotype.Component;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * The poll-template's bean: pages through a system's changes since its cursor and stores each in
 * the inbox. Each page and the cursor it reaches commit together, so a poll that fails resumes
 * from its last committed page.
 */
@Component("poller")
public class Poller {

    private final CrmSyncProperties properties;
    private final BeanFactory beans;
    private final Mappings mappings;
    private final Inbox inbox;
    private final NamedParameterJdbcTemplate jdbc;
    private final TransactionTemplate transaction;
    private final Clock clock;
    private final int pageSize;
    private final int maxPages;
    private final Duration overlap;
    private final io.micrometer.core.instrument.MeterRegistry meters;
    private final ProviderPauses pauses;
    private final Links links;
    private final ProviderActivity activity;
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Poller.class);

    public Poller(CrmSyncProperties properties, BeanFactory beans, Mappings mappings, Inbox inbox,
                  NamedParameterJdbcTemplate jdbc, TransactionTemplate transaction, Clock clock,
                  @Value("${crmsync.sync.poll-page-size:200}") int pageSize,
                  @Value("${crmsync.sync.poll-max-pages:100}") int maxPages,
                  @Value("${crmsync.sync.poll-overlap:PT2S}") Duration overlap,
                  io.micrometer.core.instrument.MeterRegistry meters, ProviderPauses pauses, Links links,
                  ProviderActivity activity) {
        this.activity = activity;
        this.pauses = pauses;
        this.links = links;
        this.meters = meters;
        this.properties = properties;
        this.beans = beans;
        this.mappings = mappings;
        this.inbox = inbox;
        this.jdbc = jdbc;
        this.transaction = transaction;
        this.clock = clock;
        this.pageSize = pageSize;
        this.maxPages = maxPages;
        this.overlap = overlap;
    }

    /**
     * For the poll-template: a failed poll loses nothing (its cursor stays at the last committed
     * page) and the next tick tries again, so it is logged and counted rather than dead-lettered.
     */
    public int pollOnSchedule(String system, String objectType) {
        try {
            return poll(system, objectType);
        } catch (ProviderPausedException e) {
            return 0;
        } catch (RuntimeException e) {
            meters.counter("crmsync.poll.failures", "system", system).increment();
            LOG.warn("Poll of {} {} failed, retried on its next tick: {}", system, objectType, e.getMessage());
            return 0;
        }
    }

    /** Polls every object type of a system once; returns how many new changes went into the inbox. */
    public int poll(String system) {
        CrmSyncProperties.Provider provider = properties.providers().get(system);
        if (provider == null) {
            return 0;
        }
        int accepted = 0;
        for (String objectType : provider.objectTypes()) {
            accepted += poll(system, objectType);
        }
        return accepted;
    }

    /** Polls one object type of a system once; returns how many new changes went into the inbox. */
    public int poll(String system, String object) {
        CrmSyncProperties.Provider provider = properties.providers().get(system);
        if (provider == null || !provider.enabled() || pauses.paused(system).isPresent() || initialRunActive(system)) {
            return 0;
        }
        Mapping mapping = mappings.get(system + "-" + object);
        CrmClient client = beans.getBean(system + "Client", CrmClient.class);
        int limit = provider.pageSize() != null ? provider.pageSize() : pageSize;
        Instant cursor = cursor(system, object);
        // start a little before the cursor: a record written in the cursor's own timestamp with a lower id
        // sorts before it; what is read twice is dropped by the inbox's idempotency key
        Instant since = cursor == null ? null : cursor.minus(overlap);
        String afterId = null;
        int accepted = 0;
        for (int pages = 0; pages < maxPages; pages++) {
            Instant from = since;
            String after = afterId;
            Page page = activity.timed(system, () -> client.changedSince(object, from, after, limit));
            accepted += store(system, object, mapping, page);
            if (!page.hasNext()) {
                break;
            }
            if (!moves(from, after, page)) {
                meters.counter("crmsync.poll.stuck", "system", system).increment();
                LOG.warn("Poll of {} {} stopped: its page did not move the cursor past {} {}; the next tick reads from the cursor again",
                        system, object, from, after);
                break;
            }
            since = page.nextSince();
            afterId = page.nextAfterId();
        }
        activity.polled(system);
        return accepted;
    }

    /**
     * Whether the next page a page names starts after the one just read: a later time, or the same time
     * with another id or cursor. One that names the same start (or an earlier one) would be read again
     * and again until {@code poll-max-pages}, each read a call against the system's daily API budget.
     */
    static boolean moves(Instant since, String afterId, Page page) {
        Instant next = page.nextSince();
        if (next == null) {
            return false;
        }
        if (since == null) {
            return true;
        }
        return next.isAfter(since) || next.equals(since) && page.nextAfterId() != null && !page.nextAfterId().equals(afterId);
    }

    /** An initial sync run reads the whole system up to now and moves the cursor when it ends; polling meanwhile reads twice. */
    private boolean initialRunActive(String system) {
        return jdbc.queryForObject("SELECT COUNT(*) FROM sync_run WHERE active_key = :key",
                Map.of("key", system + ":initial"), Integer.class) > 0;
    }

    private int store(String system, String object, Mapping mapping, Page page) {
        Integer stored = transaction.execute(status -> {
            StoredPage result = storePage(system, object, mapping, page, null);
            result.skipped().stream().filter(Skipped::unreadable).findFirst().ifPresent(skipped -> {
                // the page waits for its mapping to be fixed: a poll's cursor never moves past an unread record
                throw new IllegalStateException(system + " " + object + " " + skipped.externalId() + ": " + skipped.reason());
            });
            return result.accepted();
        });
        return stored == null ? 0 : stored;
    }

    /** A page's records as the inbox took them: new, already there, or skipped; {@code seen}, the ids read. */
    record StoredPage(int accepted, int unchanged, List<String> seen, List<Skipped> skipped) {
    }

    /**
     * A record not stored: {@code unreadable} when the mapping could not read it, else its id was refused
     * ({@code externalId} is then cut to the length the inbox holds).
     */
    record Skipped(String externalId, String reason, boolean unreadable) {
    }

    /**
     * Stores a page of a system's records in the inbox, in the caller's transaction, for a poll or a
     * sync run ({@code runId}, else null): a record read before (a poll's overlap, a run reading what
     * a poll read) is dropped by its key; one whose id the inbox cannot hold is refused visibly (a
     * data-quality entry). The cursor moves to the last dated record, never back.
     */
    StoredPage storePage(String system, String object, Mapping mapping, Page page, String runId) {
        int accepted = 0;
        int unchanged = 0;
        Instant reached = null;
        String lastId = null;
        List<String> seen = new ArrayList<>();
        List<Skipped> skipped = new ArrayList<>();
        for (JsonNode remote : page.records()) {
            RemoteRecord record;
            try {
                record = mapping.toCanonical(remote);
            } catch (RuntimeException e) {
                skipped.add(new Skipped(mapping.remoteId().read(remote).asText(null), String.valueOf(e.getMessage()), true));
                continue;
            }
            Optional<String> tooLong = Inbox.idRefusal(record.externalId());
            if (tooLong.isPresent()) {
                inbox.refuse(system, object, record.externalId(), "id", tooLong.get());
                skipped.add(new Skipped(record.externalId().substring(0, Inbox.MAX_ID), "id " + tooLong.get()
                        + ": skipped (a data-quality entry in /api/conflicts)", false));
                if (record.modifiedAt() != null) {
                    reached = record.modifiedAt();
                    lastId = null;
                }
                continue;
            }
            seen.add(record.externalId());
            if (inbox.accept(key(system, object, record, remote), system, object, record.externalId(),
                    record.deleted() ? "delete" : "update", remote.toString(), record.modifiedAt(), runId)) {
                accepted++;
            } else {
                unchanged++;
            }
            if (record.modifiedAt() != null) {
                reached = record.modifiedAt();
                lastId = record.externalId();
            }
        }
        if (reached != null) {
            saveCursor(system, object, reached, lastId);
        }
        return new StoredPage(accepted, unchanged, seen, skipped);
    }

    /**
     * The inbox key of a polled record. The content's hash tells apart two versions that share a
     * timestamp (Salesforce's are whole seconds), while a record read again unchanged (a poll's
     * overlap, a sync run reading what a poll read) keeps its key and is dropped.
     */
    String key(String system, String object, RemoteRecord record, JsonNode remote) {
        return system + ":" + object + ":" + record.externalId() + ":" + record.modifiedAt()
                + ":" + links.hash(remote).substring(0, 16) + (record.deleted() ? ":deleted" : "");
    }

    /** How far before its cursor a poll starts reading. */
    Duration overlap() {
        return overlap;
    }

    Instant cursor(String system, String object) {
        return jdbc.query("SELECT modified_at FROM sync_cursor WHERE system = :system AND object_type = :object",
                Map.of("system", system, "object", object), (rs, n) -> Links.instant(rs, "modified_at"))
                .stream().findFirst().orElse(null);
    }

    /** Moves the cursor forward, never back: a sync run and the scheduled poll may both reach a point. */
    void saveCursor(String system, String object, Instant modifiedAt, String lastId) {
        MapSqlParameterSource parameters = new MapSqlParameterSource("system", system).addValue("object", object)
                .addValue("at", Links.at(modifiedAt)).addValue("id", lastId).addValue("now", Links.at(clock.instant()));
        int updated = jdbc.update("UPDATE sync_cursor SET modified_at = :at, last_id = :id, updated_at = :now "
                + "WHERE system = :system AND object_type = :object AND (modified_at IS NULL OR modified_at <= :at)", parameters);
        if (updated == 0 && cursorRow(system, object) == 0) {
            jdbc.update("INSERT INTO sync_cursor (system, object_type, modified_at, last_id, updated_at) "
                    + "VALUES (:system, :object, :at, :id, :now)", parameters);
        }
    }

    private int cursorRow(String system, String object) {
        return jdbc.queryForObject("SELECT COUNT(*) FROM sync_cursor WHERE system = :system AND object_type = :object",
                Map.of("system", system, "object", object), Integer.class);
    }
}
