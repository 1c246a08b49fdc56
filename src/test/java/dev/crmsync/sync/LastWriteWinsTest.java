package dev.crmsync.sync;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@link FieldMerge#later}: which of two dated values of one field is the later write. */
class LastWriteWinsTest {

    private static final Instant T = Instant.parse("2026-12-05T15:56:31Z");

    @ParameterizedTest(name = "incoming {0}s bounded={1}, hub {2}s bounded={3}: incoming wins {4}")
    @CsvSource({
            // a second later wins, whatever the dates are
            "1, false, 0, false, true",
            "1, true,  0, false, true",
            "0, false, 1, true,  false",
            // the same second: a field's own date over a record's, which only bounds when the field was set
            "0, false, 0, true,  true",
            "0, true,  0, false, false",
            // the same second, both alike: the hub keeps its value
            "0, false, 0, false, false",
            "0, true,  0, true,  false",
    })
    void laterDateWinsAndInTheSameSecondAFieldsOwnDateWinsOverARecords(long incoming, boolean incomingBounded, long hub,
                                                                        boolean hubBounded, boolean wins) {
        assertThat(FieldMerge.later(T.plusSeconds(incoming), incomingBounded, T.plusSeconds(hub), hubBounded)).isEqualTo(wins);
    }

    @org.junit.jupiter.api.Test
    void anUndatedValueNeverWinsByDate() {
        assertThat(FieldMerge.later(null, false, T, true)).isFalse();
    }
}
