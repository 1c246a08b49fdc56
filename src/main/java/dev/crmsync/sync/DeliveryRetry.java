package dev.crmsync.sync;

import org.apache.camel.Exchange;
import org.apache.camel.Predicate;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;

/**
 * The dead-letter channel's retry rule: try again while retries are left and another try can help
 * ({@link Failure}). A record refused for good (a 4xx other than 408 and 429, a value the store
 * cannot hold) goes to dead letters at once.
 * A 429 is waited out (its Retry-After) without spending a try.
 */
@Component("deliveryRetry")
public class DeliveryRetry implements Predicate {

    /** Exchange property: how many times the delivery has been tried, for its dead letter. */
    public static final String ATTEMPTS = "crmsyncAttempts";
    /** Exchange property: how many times a rate limit made the delivery wait. */
    static final String WAITS = "crmsyncWaits";
    /** Waits for a rate limit before the delivery is a dead letter after all: the limit never lifted. */
    static final int MAX_WAITS = 50;

    private final int maxRedeliveries;

    public DeliveryRetry(@Value("${crmsync.delivery.max-redeliveries:6}") int maxRedeliveries) {
        this.maxRedeliveries = maxRedeliveries;
    }

    @Override
    public boolean matches(Exchange exchange) {
        Exception error = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Exception.class);
        if (error == null) {
            error = exchange.getException();
        }
        Failure failure = Failure.of(error);
        if (failure == Failure.RATE_LIMITED) {
            // "wait", not "failed": a rate limit spends none of the record's tries, up to a bound
            int waits = exchange.getProperty(WAITS, 0, Integer.class) + 1;
            exchange.setProperty(WAITS, waits);
            return waits <= MAX_WAITS;
        }
        int failures = exchange.getProperty(ATTEMPTS, 0, Integer.class) + 1;
        exchange.setProperty(ATTEMPTS, failures);
        boolean helps = failure != Failure.REFUSED;
        return helps && failures <= maxRedeliveries;
    }
}
