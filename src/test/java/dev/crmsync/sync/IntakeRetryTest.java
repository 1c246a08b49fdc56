package dev.crmsync.sync;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.ConnectException;
import java.time.Duration;
import java.time.Instant;

import dev.crmsync.provider.ProviderPausedException;
import dev.crmsync.provider.RemoteCallException;
import dev.crmsync.sync.IntakeRetry.DeadLetter;
import dev.crmsync.sync.IntakeRetry.RetryAt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.dao.DataIntegrityViolationException;

/** The intake's retry decisions and back-off delays, as tables of cases. */
class IntakeRetryTest {

    static final Duration FIRST = Duration.ofSeconds(1);
    static final Duration CAP = Duration.ofMinutes(5);
    static final Duration MAX = Duration.ofHours(1);
    static final Instant NOW = Instant.parse("2026-12-02T12:00:00Z");

    @ParameterizedTest(name = "try {0}, jitter {1}: {2} ms")
    @CsvSource({
            // the first wait is half to all of the first delay, then each doubles
            "1, 0.0, 500", "1, 0.5, 750", "1, 0.999999, 999",
            "2, 0.0, 1000", "2, 0.5, 1500",
            "3, 0.0, 2000", "4, 0.0, 4000", "5, 0.5, 12000",
            // capped at five minutes from the tenth try, jitter still spreading below the cap
            "9, 0.0, 128000", "10, 0.0, 150000", "10, 0.999999, 299999",
            // many tries do not overflow: still the cap
            "40, 0.0, 150000", "1000, 0.0, 150000",
            // a try count of 0 (given back untried) waits like the first; jitter outside [0, 1) is held in it
            "0, 0.0, 500", "1, -1.0, 500", "1, 7.0, 1000"})
    void theBackOffDoublesFromTheFirstDelayUpToTheCapWithJitterInItsUpperHalf(int tries, double jitter, long millis) {
        assertThat(IntakeRetry.delay(tries, jitter, FIRST, CAP)).isEqualTo(Duration.ofMillis(millis));
    }

    @Test
    void aTransientFailureRetriesLaterUntilTheMaxRetryDurationHasPassedSinceItFirstFailed() {
        // its first failure: the clock starts now
        assertThat(decide(Failure.TRANSIENT, 1, null, null, null)).isEqualTo(new RetryAt(NOW.plusMillis(750), true));
        // 59 minutes in, the tenth try: the cap's wait
        assertThat(decide(Failure.TRANSIENT, 10, NOW.minus(Duration.ofMinutes(59)), null, null))
                .isEqualTo(new RetryAt(NOW.plusMillis(225_000), true));
        // an hour after its first failure: dead letters, however few the tries
        assertThat(decide(Failure.TRANSIENT, 2, NOW.minus(MAX), null, null)).isInstanceOf(DeadLetter.class);
        assertThat(decide(Failure.RATE_LIMITED, 2, NOW.minus(MAX).minusSeconds(1), null, null)).isInstanceOf(DeadLetter.class);
    }

    @Test
    void aRateLimitWaitsAtLeastAsLongAsTheSystemAsks() {
        assertThat(decide(Failure.RATE_LIMITED, 1, null, null, Duration.ofSeconds(10)))
                .isEqualTo(new RetryAt(NOW.plusSeconds(10), true));
        // a Retry-After shorter than the back-off does not shorten it
        assertThat(decide(Failure.RATE_LIMITED, 4, NOW, null, Duration.ofMillis(10)))
                .isEqualTo(new RetryAt(NOW.plusMillis(6000), true));
    }

    @Test
    void aChangeRefusedForGoodIsADeadLetterAtOnce() {
        assertThat(decide(Failure.REFUSED, 1, null, null, null)).isInstanceOf(DeadLetter.class);
    }

    @Test
    void aPausedProvidersChangeWaitsForThePausesEndWithoutSpendingATryHoweverLongItWaited() {
        Instant resume = NOW.plus(Duration.ofMinutes(15));
        assertThat(decide(Failure.PAUSED, 3, NOW.minus(Duration.ofHours(5)), resume, null)).isEqualTo(new RetryAt(resume, false));
        // a pause that ended meanwhile: at once
        assertThat(decide(Failure.PAUSED, 1, null, NOW.minusSeconds(1), null)).isEqualTo(new RetryAt(NOW, false));
    }

    @Test
    void failuresAreClassifiedAsDeliveryClassifiesThem() {
        assertThat(Failure.of(new RemoteCallException("no answer", 0, null, new ConnectException()))).isEqualTo(Failure.TRANSIENT);
        assertThat(Failure.of(new RemoteCallException("busy", 503, null, null))).isEqualTo(Failure.TRANSIENT);
        assertThat(Failure.of(new RemoteCallException("timeout", 408, null, null))).isEqualTo(Failure.TRANSIENT);
        assertThat(Failure.of(new RemoteCallException("slow down", 429, Duration.ofSeconds(1), null))).isEqualTo(Failure.RATE_LIMITED);
        assertThat(Failure.of(new RemoteCallException("bad record", 400, null, null))).isEqualTo(Failure.REFUSED);
        assertThat(Failure.of(new RemoteCallException("gone", 404, null, null))).isEqualTo(Failure.REFUSED);
        assertThat(Failure.of(new ProviderPausedException("paused", NOW))).isEqualTo(Failure.PAUSED);
        // wrapped: the cause decides
        assertThat(Failure.of(new RuntimeException("reading failed", new RemoteCallException("busy", 502, null, null))))
                .isEqualTo(Failure.TRANSIENT);
        assertThat(Failure.of(new IllegalArgumentException("neither an email nor a phone"))).isEqualTo(Failure.REFUSED);
        assertThat(Failure.of(new DataIntegrityViolationException("value too long"))).isEqualTo(Failure.REFUSED);
        assertThat(Failure.of(new IllegalStateException("something of our own"))).isEqualTo(Failure.TRANSIENT);
    }

    @Test
    void theInstanceIdIsTheConfiguredOneElseHostAndPortCutToTheClaimColumn() {
        assertThat(Instance.id("", "node-a", 8080)).isEqualTo("node-a:8080");
        assertThat(Instance.id(null, "node-a", 8080)).isEqualTo("node-a:8080");
        assertThat(Instance.id(" crmsync-0 ", "node-a", 8080)).isEqualTo("crmsync-0");
        assertThat(Instance.id("", "h".repeat(80), 8080)).hasSize(Instance.MAX_LENGTH);
    }

    private static Object decide(Failure failure, int tries, Instant firstFailedAt, Instant resumeAt, Duration retryAfter) {
        return IntakeRetry.decide(failure, tries, firstFailedAt, NOW, resumeAt, retryAfter, 0.5, FIRST, CAP, MAX);
    }
}
