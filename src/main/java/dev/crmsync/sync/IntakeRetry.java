package dev.crmsync.sync;

import java.time.Duration;
import java.time.Instant;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;

/**
 * What becomes of an inbox change that failed: a try again later (exponential back-off, capped,
 * jittered; a paused provider's change waits for its end without spending a try), or dead letters,
 * at once when it is refused for good and otherwise once {@code crmsync.sync.max-retry-duration} has
 * passed since it first failed. The failure is classified as delivery classifies it ({@link Failure}).
 */
@Component
public class IntakeRetry {

    /** The decision for one failed change. */
    public sealed interface Next {
    }

    /** Claimed again from {@code at}; {@code trySpent} false when the change waited and was not tried (a pause). */
    public record RetryAt(Instant at, boolean trySpent) implements Next {
    }

    /** Its tries are over: to dead letters. */
    public record DeadLetter() implements Next {
    }

    private final Duration firstDelay;
    private final Duration maxDelay;
    private final Duration maxRetryDuration;

    public IntakeRetry(@Value("${crmsync.sync.retry-delay:PT1S}") Duration firstDelay,
                       @Value("${crmsync.sync.max-retry-delay:PT5M}") Duration maxDelay,
                       @Value("${crmsync.sync.max-retry-duration:PT1H}") Duration maxRetryDuration) {
        this.firstDelay = firstDelay;
        this.maxDelay = maxDelay;
        this.maxRetryDuration = maxRetryDuration;
    }

    /**
     * @param failure       the failure's kind
     * @param tries         how many times the change has been tried, this one included
     * @param firstFailedAt when it first failed (null: this is its first failure)
     * @param resumeAt      for a paused provider, when its pause ends
     * @param retryAfter    how long the system asked us to wait (a 429's Retry-After), or null
     * @param jitter        a random number in [0, 1)
     */
    public Next decide(Failure failure, int tries, Instant firstFailedAt, Instant now, Instant resumeAt, Duration retryAfter,
                       double jitter) {
        return decide(failure, tries, firstFailedAt, now, resumeAt, retryAfter, jitter, firstDelay, maxDelay, maxRetryDuration);
    }

    static Next decide(Failure failure, int tries, Instant firstFailedAt, Instant now, Instant resumeAt, Duration retryAfter,
                       double jitter, Duration firstDelay, Duration maxDelay, Duration maxRetryDuration) {
        switch (failure) {
            case REFUSED:
                return new DeadLetter();
            case PAUSED:
                // the pause is the provider's, not the change's: it is waited out however long it lasts
                return new RetryAt(resumeAt == null || resumeAt.isBefore(now) ? now : resumeAt, false);
            default:
                Instant first = firstFailedAt == null ? now : firstFailedAt;
                if (!now.isBefore(first.plus(maxRetryDuration))) {
                    return new DeadLetter();
                }
                Duration wait = delay(tries, jitter, firstDelay, maxDelay);
                if (retryAfter != null && retryAfter.compareTo(wait) > 0) {
                    wait = retryAfter;
                }
                return new RetryAt(now.plus(wait), true);
        }
    }

    /**
     * The wait after the {@code tries}-th failed try: {@code firstDelay} doubled for each try before it,
     * at most {@code maxDelay}, then spread over its upper half by {@code jitter} (in [0, 1)) so that
     * changes that failed together do not all come back in the same instant.
     */
    static Duration delay(int tries, double jitter, Duration firstDelay, Duration maxDelay) {
        int doublings = Math.min(Math.max(tries, 1) - 1, 30);
        long base = Math.min(maxDelay.toMillis(), firstDelay.toMillis() << doublings);
        long half = base / 2;
        return Duration.ofMillis(base - half + (long) (half * Math.min(Math.max(jitter, 0), 1)));
    }
}
