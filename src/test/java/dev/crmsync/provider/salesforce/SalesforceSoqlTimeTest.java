package dev.crmsync.provider.salesforce;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;

import org.junit.jupiter.api.Test;

/** The keyset's SOQL datetime literal keeps the precision of the cursor it comes from. */
class SalesforceSoqlTimeTest {

    @Test
    void aCursorInWholeSecondsIsWrittenInWholeSeconds() {
        assertThat(SalesforceClient.soqlTime(Instant.parse("2026-05-20T20:49:32Z"))).isEqualTo("2026-05-20T20:49:32Z");
    }

    @Test
    void aCursorWithMillisecondsKeepsThem() {
        assertThat(SalesforceClient.soqlTime(Instant.parse("2026-05-20T20:49:32.517Z"))).isEqualTo("2026-05-20T20:49:32.517Z");
        assertThat(SalesforceClient.soqlTime(Instant.parse("2026-05-20T20:49:32.050Z"))).isEqualTo("2026-05-20T20:49:32.050Z");
    }
}
