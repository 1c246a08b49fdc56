package dev.crmsync.contact;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.crmsync.config.CrmSyncProperties;
import dev.crmsync.contact.ContactNormalizer.Refusal;
import dev.crmsync.contact.ContactNormalizer.Screened;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;
import org.springframework.util.unit.DataSize;

/** A CRM record's values through the API's own checks: each one the hub can hold is kept, each other one refused alone. */
class ContactNormalizerScreenTest {

    static final ContactNormalizer NORMALIZER = new ContactNormalizer(new CrmSyncProperties("home", "data", null,
            new CrmSyncProperties.Admin("admin", null), new CrmSyncProperties.Api(DataSize.ofMegabytes(1), 50, 500),
            new CrmSyncProperties.Phone("US"), Map.of()));

    @ParameterizedTest(name = "{0} = {1}: {2}")
    @CsvSource(delimiter = '|', value = {
            "email     | not-an-email         | 'not-an-email' is not a valid email address",
            "email     | ann..lee@example.com | 'ann..lee@example.com' is not a valid email address",
            "phone     | 12                   | '12' is not a valid phone number (region US is assumed without a +country code)",
            "firstName | LONG300              | is 300 characters long; at most 255 are allowed",
            "email     | LONG300              | is 300 characters long; at most 254 are allowed",
            "custom.x  | LONG3000             | is longer than 2000 characters"})
    void aValueTheApiWouldRefuseIsRefusedWithTheApisReasonAndTheOthersAreKept(String field, String value, String reason) {
        String raw = value.equals("LONG300") ? "a".repeat(300) : value.equals("LONG3000") ? "a".repeat(3000) : value;
        Map<String, Object> record = new LinkedHashMap<>();
        record.put("lastName", "Lee");
        record.put(field, raw);

        Screened screened = NORMALIZER.screen(record);

        assertThat(screened.refused()).containsExactly(new Refusal(field, raw, reason));
        assertThat(screened.accepted()).containsExactly(Map.entry("lastName", "Lee"));
    }

    @Test
    void valuesTheHubCanHoldAreKeptAsTheApiWouldStoreThem() {
        Map<String, Object> record = new LinkedHashMap<>();
        record.put("email", " Ann.Lee@Example.com ");
        record.put("phone", "(415) 555-2671");
        record.put("company", 42);
        record.put("title", "  ");
        record.put("tags", "vip");
        record.put("custom.score", 7);
        record.put("firstName", null);

        Screened screened = NORMALIZER.screen(record);

        assertThat(screened.refused()).isEmpty();
        Map<String, Object> expected = new LinkedHashMap<>();
        expected.put("email", "Ann.Lee@Example.com");
        expected.put("phone", "+14155552671");
        expected.put("company", "42");
        expected.put("title", null);
        expected.put("tags", List.of("vip"));
        expected.put("custom.score", 7);
        expected.put("firstName", null);
        assertThat(screened.accepted()).containsExactlyEntriesOf(expected);
    }

    @Test
    void aValueOfAWrongTypeIsRefusedNamingTheType() {
        Screened screened = NORMALIZER.screen(Map.of("custom.address", Map.of("street", "Main St"), "firstName", List.of("A")));

        assertThat(screened.accepted()).isEmpty();
        assertThat(screened.refused()).extracting(Refusal::field, Refusal::reason).containsExactlyInAnyOrder(
                org.assertj.core.groups.Tuple.tuple("custom.address", "a custom value is a string, number or boolean, not an object"),
                org.assertj.core.groups.Tuple.tuple("firstName", "must be a string, not an array"));
    }
}
