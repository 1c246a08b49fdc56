package dev.crmsync.provider;

import java.time.Duration;

/**
 * A CRM answered with an error. {@link #retryable()} tells the dead-letter channel whether another
 * try can help (5xx, 408, 429, a dropped connection) or not (any other 4xx: the record itself is wrong).
 */
public class RemoteCallException extends RuntimeException {

    private final int status;
    private final Duration retryAfter;

    public RemoteCallException(String message, int status, Duration retryAfter, Throwable cause) {
        super(message, cause);
        this.status = status;
        this.retryAfter = retryAfter;
    }

    /** The HTTP status, or 0 when no answer came. */
    public int status() {
        return status;
    }

    /** How long the system asked us to wait (Retry-After), or null. */
    public Duration retryAfter() {
        return retryAfter;
    }

    public boolean retryable() {
        return status == 0 || status == 408 || status == 429 || status >= 500;
    }
}
