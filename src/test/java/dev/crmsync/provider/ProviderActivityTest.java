package dev.crmsync.provider;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;

import dev.crmsync.support.TestClock;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ProviderActivityTest {

    final TestClock clock = new TestClock();
    ProviderActivity activity;

    @BeforeEach
    void frozenClock() {
        clock.tick(Duration.ZERO);
        activity = new ProviderActivity(clock, Duration.ofSeconds(30));
    }

    @Test
    void theWindowCountsFailedCallsAndTheirLastErrorUntilTheyAgeOut() {
        for (int i = 0; i < 7; i++) {
            activity.succeeded("crm1", Duration.ofMillis(40));
        }
        for (int i = 0; i < 3; i++) {
            activity.ended("crm1", Duration.ofMillis(40), new RemoteCallException("crm1 answered 50" + i, 500 + i, null, null));
        }

        ProviderActivity.Window window = activity.window("crm1");
        assertThat(window.calls()).isEqualTo(10);
        assertThat(window.failures()).isEqualTo(3);
        assertThat(window.errorRate()).isEqualTo(0.3);
        assertThat(window.lastError()).isEqualTo("crm1 answered 502");
        assertThat(activity.window("crm2").calls()).isZero();

        clock.set(clock.peek().plusSeconds(31));
        assertThat(activity.window("crm1").calls()).isZero();
        assertThat(activity.window("crm1").lastError()).isNull();
    }

    @Test
    void rateLimitsAndPausesAreNotFailuresAndARefusedRecordIsAnAnsweredCall() {
        activity.ended("hubspot", Duration.ofMillis(5), new RemoteCallException("429", 429, Duration.ofSeconds(1), null));
        activity.ended("hubspot", Duration.ZERO, new ProviderPausedException("paused", Instant.now()));
        activity.ended("hubspot", Duration.ofMillis(5), new RemoteCallException("bad email", 400, null, null));
        activity.ended("hubspot", Duration.ofMillis(5), new RemoteCallException("token revoked", 401, null, null));
        activity.ended("hubspot", Duration.ofMillis(5), new RemoteCallException("no answer", 0, null, null));

        assertThat(activity.window("hubspot").calls()).isEqualTo(3);
        assertThat(activity.window("hubspot").failures()).isEqualTo(2);
    }

    @Test
    void p95IsTheBucketBoundHoldingTheNinetyFifthPercentileAndNeverAboveTheSlowestCall() {
        for (int i = 0; i < 95; i++) {
            activity.succeeded("crm1", Duration.ofMillis(80));
        }
        for (int i = 0; i < 5; i++) {
            activity.succeeded("crm1", Duration.ofMillis(4000));
        }
        assertThat(activity.window("crm1").p95()).isEqualTo(Duration.ofMillis(100));

        activity.succeeded("crm2", Duration.ofMillis(3));
        assertThat(activity.window("crm2").p95()).isEqualTo(Duration.ofMillis(3));

        activity.succeeded("crm3", Duration.ofMinutes(2));
        assertThat(activity.window("crm3").p95()).isEqualTo(Duration.ofMinutes(2));
    }

    @Test
    void timedPassesTheResultOrTheErrorThroughAndRecordsTheCall() {
        assertThat(activity.timed("crm1", () -> "page")).isEqualTo("page");
        assertThatThrownBy(() -> activity.timed("crm1", () -> {
            throw new RemoteCallException("crm1 answered 503", 503, null, null);
        })).hasMessage("crm1 answered 503");

        assertThat(activity.window("crm1").calls()).isEqualTo(2);
        assertThat(activity.window("crm1").failures()).isEqualTo(1);
    }

    @Test
    void pollsAndWebhooksAreRememberedPerSystem() {
        activity.polled("crm1");
        clock.set(clock.peek().plusSeconds(5));
        activity.heard("hubspot");

        assertThat(activity.lastPoll("crm1")).contains(TestClock.START);
        assertThat(activity.lastWebhook("hubspot")).contains(TestClock.START.plusSeconds(5));
        assertThat(activity.lastPoll("hubspot")).isEmpty();
    }
}
