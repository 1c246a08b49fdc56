package dev.crmsync.sync;

import dev.crmsync.provider.ProviderPausedException;
import dev.crmsync.provider.RemoteCallException;
import org.springframework.dao.DataIntegrityViolationException;

/**
 * What a failure says about trying again: the one classification of delivery (the dead-letter
 * channel's {@link DeliveryRetry}) and of intake ({@link InboxProcessor}).
 */
public enum Failure {

    /** The provider is paused (its API limit is spent): nothing was called, the work waits for it, no try is spent. */
    PAUSED,
    /** The system asked us to slow down (429): waited out, as long as it says. */
    RATE_LIMITED,
    /** Another try can help: no answer (unreachable, dropped), 5xx, 408, or a failure of our own not tied to the record. */
    TRANSIENT,
    /**
     * Refused for good: a 4xx other than 408 and 429 (the system refuses the record), a record the mapping
     * cannot read or the store cannot hold. Another try would fail the same way.
     */
    REFUSED;

    /** The kind of the first classified exception in the cause chain; anything unknown is transient. */
    public static Failure of(Throwable error) {
        for (Throwable e = error; e != null; e = e.getCause() == e ? null : e.getCause()) {
            if (e instanceof ProviderPausedException) {
                return PAUSED;
            }
            if (e instanceof RemoteCallException remote) {
                return remote.status() == 429 ? RATE_LIMITED : remote.retryable() ? TRANSIENT : REFUSED;
            }
            if (e instanceof IllegalArgumentException || e instanceof DataIntegrityViolationException) {
                return REFUSED;
            }
        }
        return TRANSIENT;
    }
}
