package dev.crmsync.sync;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;

import dev.crmsync.provider.CrmClient.Page;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** When a poll goes on to the page a page names, and when it stops because that page would be read again. */
class PollerPageTest {

    @ParameterizedTest(name = "read from {0} after {1}, next {2} after {3}: moves {4}")
    @CsvSource(nullValues = "-", value = {
            // the first page of a system without a cursor
            "-,                        -,   2026-11-20T09:00:00Z,     a1, true",
            // a later time
            "2026-11-20T09:00:00Z,     a1,  2026-11-20T09:00:01Z,     a1, true",
            "2026-11-20T09:00:00.517Z, a1,  2026-11-20T09:00:00.518Z, a0, true",
            // the same time, a later id (Salesforce's keyset) or another cursor (Pipedrive, HubSpot)
            "2026-11-20T09:00:00Z,     a1,  2026-11-20T09:00:00Z,     a2, true",
            "2026-11-20T09:00:00Z,     -,   2026-11-20T09:00:00Z,     c1, true",
            // the page just read named again
            "2026-11-20T09:00:00.517Z, a1,  2026-11-20T09:00:00.517Z, a1, false",
            "2026-11-20T09:00:00Z,     -,   2026-11-20T09:00:00Z,     -,  false",
            // back in time
            "2026-11-20T09:00:01Z,     a1,  2026-11-20T09:00:00Z,     a9, false"})
    void aPageMovesOnlyWhenTheNextOneStartsAfterIt(String since, String afterId, String nextSince, String nextAfterId,
                                                  boolean moves) {
        Page page = new Page(List.of(), Instant.parse(nextSince), nextAfterId);
        assertThat(Poller.moves(since == null ? null : Instant.parse(since), afterId, page)).isEqualTo(moves);
    }
}
