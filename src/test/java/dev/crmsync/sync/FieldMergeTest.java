package dev.crmsync.sync;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import dev.crmsync.contact.ContactStore.FieldStamp;
import dev.crmsync.mapping.Mapping.RemoteRecord;

/**
 * {@link FieldMerge}: one field, {@code title}, sent by Pipedrive. Dates are seconds after T; the hub
 * contact's own date is T. Columns: base (- before the first link), incoming, hub, the hub's stamp
 * (system@s, ~ when it only bounds the date; - for none), the record's date (@s for the record's,
 * title@s for the field's own), moved (s or -), preferred system (or -), what the merge decides
 * (take; keep: the hub keeps its value and sends it; skip), and the contest's winner (or -).
 */
class FieldMergeTest {

    private static final Instant T = Instant.parse("2026-12-05T21:00:00Z");

    @ParameterizedTest(name = "[{index}] base {0}, incoming {1}, hub {2} ({3}), record {4}, moved {5}, prefer {6}: {7}, {8} wins")
    @CsvSource(nullValues = "-", value = {
            // the record did not change the field since the last sync, or already agrees with the hub
            "Ada,    Ada,    Grace,  hubspot@5,    @9,       -, -,          skip, -",
            "Ada,    Grace,  Grace,  hubspot@5,    @9,       -, -,          skip, -",
            // only the record changed it
            "Ada,    Grace,  Ada,    hubspot@5,    @1,       -, -,          take, -",
            // first link: the record lacks what the hub knows, or the hub lacks what the record has
            "-,      '',     Grace,  hubspot@5,    @9,       -, -,          keep, -",
            "-,      Grace,  '',     -,            @1,       -, -,          take, -",
            // both changed it: the later write wins
            "Ada,    Grace,  Lin,    hubspot@5,    @7,       -, -,          take, pipedrive",
            "Ada,    Grace,  Lin,    hubspot@5,    @3,       -, -,          keep, hubspot",
            "Ada,    Grace,  Lin,    -,            @1,       -, -,          take, pipedrive",
            "-,      Grace,  Lin,    hubspot@5,    @7,       -, -,          take, pipedrive",
            // the same second: a field's own date over a record's, which only bounds it
            "Ada,    Grace,  Lin,    hubspot@5~,   title@5,  -, -,          take, pipedrive",
            "Ada,    Grace,  Lin,    hubspot@5,    @5,       -, -,          keep, hubspot",
            "Ada,    Grace,  Lin,    hubspot@5,    title@5,  -, -,          keep, hubspot",
            // a mapping that prefers a system decides, whatever the dates
            "Ada,    Grace,  Lin,    salesforce@5, @9,       -, salesforce, keep, salesforce",
            "Ada,    Grace,  Lin,    salesforce@9, @5,       -, pipedrive,  take, pipedrive",
            // changed before a remote merge moved the record to this person: the merged person's value
            "Ada,    Grace,  Lin,    hubspot@1,    @5,       6, -,          keep, -",
            "Ada,    Grace,  '',     hubspot@1,    @5,       6, -,          take, pipedrive",
            "Ada,    Grace,  Lin,    hubspot@1,    @7,       6, -,          take, pipedrive",
            // the first read of a record a merge kept as the survivor: its values win over the hub's from before
            "-,      Grace,  Lin,    hubspot@4,    @3,       6, -,          take, pipedrive",
    })
    void decidesEachFieldByItsChangesDatesAndPolicy(String base, String incoming, String hub, String stamp, String dated,
                                                    String moved, String preferred, String decision, String winner) {
        FieldMerge.Result result = FieldMerge.merge(input(base, incoming, hub, stamp, dated, moved, false, Set.of()),
                (field, a, b) -> preferred);

        FieldMerge.Merged merged = (FieldMerge.Merged) result;
        assertThat(decision(merged)).isEqualTo(decision);
        if (decision.equals("take")) {
            assertThat(merged.taken()).containsEntry("title", incoming);
        }
        assertThat(merged.contests()).hasSize(winner == null ? 0 : 1);
        if (winner != null) {
            FieldMerge.Contest contest = merged.contests().get(0);
            assertThat(contest.winner()).isEqualTo(winner);
            assertThat(contest.remoteValue()).isEqualTo(incoming);
            assertThat(contest.hubValue()).isEqualTo(hub);
            assertThat(contest.rule()).isEqualTo(preferred == null ? "last-write-wins" : "prefer:" + preferred);
        }
    }

    @Test
    void aChangeOnlyDatedByTheRecordOfASystemThatDatesFieldsAsksForTheDatedReadFirst() {
        FieldMerge.Input input = input("Ada", "Grace", "Lin", "hubspot@5", "@7", null, true, Set.of());

        assertThat(FieldMerge.merge(input, (field, a, b) -> null)).isInstanceOf(FieldMerge.NeedsDatedRead.class);
        assertThat(decision((FieldMerge.Merged) FieldMerge.merge(input.withDatedReadMade(), (field, a, b) -> null)))
                .isEqualTo("take");
        // so does one only the record changed, as the change the hub takes is stamped with its date; one it did not, none
        FieldMerge.Input uncontested = input("Ada", "Grace", "Ada", "hubspot@5", "@7", null, true, Set.of());
        assertThat(FieldMerge.merge(uncontested, (field, a, b) -> null)).isInstanceOf(FieldMerge.NeedsDatedRead.class);
        FieldMerge.Input unchanged = input("Ada", "Ada", "Lin", "hubspot@5", "@7", null, true, Set.of());
        assertThat(decision((FieldMerge.Merged) FieldMerge.merge(unchanged, (field, a, b) -> null))).isEqualTo("skip");
    }

    @Test
    void aValueTheHubCannotHoldTakesNoPart() {
        FieldMerge.Merged merged = (FieldMerge.Merged) FieldMerge.merge(
                input("Ada", "Grace", "Lin", "hubspot@5", "@7", null, false, Set.of("title")), (field, a, b) -> null);

        assertThat(decision(merged)).isEqualTo("skip");
        assertThat(merged.contests()).isEmpty();
    }

    @Test
    void theFieldsTakenAreStampedWithTheirOwnDateElseTheRecordsAsABound() {
        RemoteRecord record = new RemoteRecord("7", T.plusSeconds(9), false, Map.of("title", "CTO", "company", "Acme",
                "email", "ada@example.com"), Map.of("title", T.plusSeconds(4)), null);

        Map<String, FieldStamp> stamps = FieldMerge.stamps("pipedrive", Set.of("title", "company", "email"),
                Map.of("title", "CEO", "email", "ada@example.com"),
                Map.of("title", "CTO", "company", "Acme", "email", "ada@example.com"), record, T.plusSeconds(9));

        // the email taken was the hub's already (as the API normalises it): no stamp moves
        assertThat(stamps).containsOnly(Map.entry("title", new FieldStamp("pipedrive", T.plusSeconds(4))),
                Map.entry("company", new FieldStamp("pipedrive", T.plusSeconds(9), true)));
    }

    @Test
    void valuesAreTheSameWhenEqualOrBothEmpty() {
        assertThat(FieldMerge.sameValues(Map.of("a", "", "b", List.of()), new HashMap<>(), List.of("a", "b", "c"))).isTrue();
        assertThat(FieldMerge.sameValues(Map.of("a", "x"), Map.of("a", "X"), List.of("a"))).isFalse();
        assertThat(FieldMerge.sameValues(Map.of("a", "x", "b", "y"), Map.of("a", "x"), List.of("a"))).isTrue();
    }

    private static String decision(FieldMerge.Merged merged) {
        return merged.taken().containsKey("title") ? "take" : merged.hubKeeps() ? "keep" : "skip";
    }

    private static FieldMerge.Input input(String base, String incoming, String hub, String stamp, String dated, String moved,
                                          boolean datesFields, Set<String> leftOut) {
        Instant at = T.plusSeconds(Long.parseLong(dated.substring(dated.indexOf('@') + 1)));
        boolean own = !dated.startsWith("@");
        RemoteRecord record = new RemoteRecord("7", at, false, Map.of("title", incoming),
                own ? Map.of("title", at) : null, null);
        Map<String, FieldStamp> stamps = new HashMap<>();
        if (stamp != null) {
            String[] parts = stamp.replace("~", "").split("@");
            stamps.put("title", new FieldStamp(parts[0], T.plusSeconds(Long.parseLong(parts[1])), stamp.endsWith("~")));
        }
        return new FieldMerge.Input("pipedrive", List.of("title"), leftOut, record, at,
                base == null ? null : Map.of("title", base), Map.of("title", hub), stamps, T,
                moved == null ? null : T.plusSeconds(Long.parseLong(moved)), datesFields, false);
    }
}
