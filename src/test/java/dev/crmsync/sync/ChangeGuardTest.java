package dev.crmsync.sync;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.Map;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import dev.crmsync.mapping.Mapping.RemoteRecord;
import dev.crmsync.sync.Links.Link;

/**
 * {@link ChangeGuard#of}. Dates are seconds after T; - for none. Columns: linked, the link's record
 * date, when we last wrote the record, erased, the survivor of a merge has its own record there, the
 * change is a delete, the record's date, when it was read, and the verdict.
 */
class ChangeGuardTest {

    private static final Instant T = Instant.parse("2026-12-05T21:30:00Z");

    @ParameterizedTest(name = "[{index}] linked {0} (known {1}, written {2}), erased {3}, survivor's own {4}, delete {5}, "
            + "record {6}, read {7}: {8}")
    @CsvSource(nullValues = "-", value = {
            "false, -, -,  false, false, false, 5, -,  APPLY",
            "false, -, -,  true,  false, false, 5, -,  ERASED",
            "false, -, -,  true,  false, true,  5, -,  ERASED",
            // a later version, read after our write
            "true,  5, 6,  false, false, false, 7, 8,  APPLY",
            "true,  5, 6,  false, true,  false, 7, 8,  MERGED_AWAY",
            "true,  5, 6,  false, false, false, 4, 8,  STALE",
            "true,  5, 6,  false, false, false, 5, 8,  APPLY",
            "true,  5, -,  false, false, false, -, 8,  APPLY",
            "true,  5, 6,  false, false, false, 7, 5,  READ_BEFORE_WRITE",
            "true,  5, 6,  false, false, false, 7, -,  APPLY",
            "true,  -, 6,  false, false, false, 7, 6,  APPLY",
            // a delete is applied under the tombstone rules, whatever its date
            "true,  5, 6,  false, true,  true,  4, 5,  APPLY",
            "true,  5, 6,  true,  false, true,  4, 5,  APPLY",
    })
    void aChangeIsAppliedUnlessItIsAnErasedPersonsAMergedPersonsStaleOrReadBeforeOurWrite(
            boolean linked, Long known, Long written, boolean erased, boolean survivorHasOwn, boolean delete, Long dated,
            Long read, ChangeGuard verdict) {
        Link link = linked ? new Link("pipedrive", "person", "7", "c-1", Map.of(), null, at(known), T, at(written), null)
                : null;
        RemoteRecord record = new RemoteRecord("7", at(dated), delete, Map.of(), null, null);

        assertThat(ChangeGuard.of(link, erased, survivorHasOwn, record, at(read))).isEqualTo(verdict);
    }

    private static Instant at(Long seconds) {
        return seconds == null ? null : T.plusSeconds(seconds);
    }
}
