package dev.crmsync.provider;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

class RollingRateLimiterTest {

    @Test
    void aCallOverTheBudgetWaitsUntilTheOldestCallLeavesTheWindow() {
        RollingRateLimiter limiter = new RollingRateLimiter(3, Duration.ofMillis(400));
        List<Long> at = new ArrayList<>();
        long start = System.nanoTime();
        for (int i = 0; i < 7; i++) {
            limiter.acquire();
            at.add(System.nanoTime() - start);
        }
        // the 4th call waits for the 1st to be 400 ms old, the 7th for the 4th: no window ever holds more than 3
        for (int i = 3; i < at.size(); i++) {
            assertThat(Duration.ofNanos(at.get(i) - at.get(i - 3))).as("call %d", i + 1)
                    .isGreaterThanOrEqualTo(Duration.ofMillis(400));
        }
    }

    @Test
    void aBudgetBelowOneCallIsRefused() {
        assertThatThrownBy(() -> new RollingRateLimiter(0, Duration.ofSeconds(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least one call");
    }
}
