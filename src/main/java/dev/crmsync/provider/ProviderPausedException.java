package dev.crmsync.provider;

import java.time.Instant;

/**
 * A provider is paused (its API limit is spent): the call was not made, and the record waits in the
 * outbox until {@link #resumeAt()} instead of spending its retries.
 */
public class ProviderPausedException extends RuntimeException {

    private final Instant resumeAt;

    public ProviderPausedException(String message, Instant resumeAt) {
        super(message);
        this.resumeAt = resumeAt;
    }

    public Instant resumeAt() {
        return resumeAt;
    }
}
