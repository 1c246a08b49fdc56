package dev.crmsync.provider;

import java.time.Instant;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crmsync.sync.Delivery;

/**
 * What the sync needs from a CRM's API: the escape hatch where data (mappings, properties) cannot
 * say it. The deliver-template calls create, update and delete with a {@link Delivery}; the
 * poll-template pages through changes.
 */
public interface CrmClient {

    /** Creates the record, or, when the system already has this person (same email), updates that one. */
    void create(Delivery delivery);

    void update(Delivery delivery);

    /** Deletes the record; one that is already gone counts as deleted. */
    void delete(Delivery delivery);

    /** Records changed at or after a position, deletions included, oldest first. */
    Page changedSince(Instant since, String afterId, int limit);

    /** A page of changed records and, when more follow, where the next page starts. */
    record Page(List<JsonNode> records, Instant nextSince, String nextAfterId) {
        public boolean hasNext() {
            return nextSince != null;
        }
    }
}
