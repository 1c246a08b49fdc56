package dev.crmsync.erasure;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.Period;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crmsync.api.ApiProblem;
import dev.crmsync.api.Caller;
import dev.crmsync.api.Replies;
import org.apache.camel.Message;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;

/**
 * The HTTP face of the erasure audit and the tombstone purge, called by routes/api-erasures and
 * routes/api-tombstones. A person's erasure starts at DELETE /api/contacts/{id}?purge=true (ContactApi).
 */
@Component("erasureApi")
public class ErasureApi {

    private static final int MAX_LIST = 500;

    private final Erasures erasures;
    private final ObjectMapper json;
    private final Clock clock;
    private final String retention;

    public ErasureApi(Erasures erasures, ObjectMapper json, Clock clock,
                      @Value("${crmsync.sync.tombstone-retention:P30D}") String retention) {
        this.erasures = erasures;
        this.json = json;
        this.clock = clock;
        try {
            cutoff(retention);
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("crmsync.sync.tombstone-retention is '" + retention + "': " + e.getMessage());
        }
        this.retention = retention;
    }

    public void get(Message message) {
        String id = message.getHeader("id", String.class);
        Map<String, Object> erasure = erasures.find(id).orElseThrow(() -> ApiProblem.notFound("no erasure has id " + id));
        Replies.json(message, json, 200, erasure, Map.of());
    }

    public void list(Message message) {
        String kind = parameter(message, "kind", "contact|tombstones", "contact or tombstones");
        String state = parameter(message, "state", "pending|completed", "pending or completed");
        String contactId = blankToNull(message.getHeader("contactId", String.class));
        Replies.json(message, json, 200, Map.of("items", erasures.list(kind, state, contactId, MAX_LIST)), Map.of());
    }

    /** {@code POST /api/tombstones/purge?olderThan=P30D}: the age defaults to crmsync.sync.tombstone-retention. */
    public void purgeTombstones(Message message) {
        String olderThan = blankToNull(message.getHeader("olderThan", String.class));
        Instant cutoff;
        try {
            cutoff = cutoff(olderThan == null ? retention : olderThan);
        } catch (IllegalArgumentException e) {
            throw ApiProblem.invalidParameter("olderThan", e.getMessage());
        }
        Map<String, Object> erasure = erasures.purgeTombstones(cutoff, olderThan == null ? retention : olderThan,
                Caller.of(message));
        Map<String, Object> body = new LinkedHashMap<>();
        @SuppressWarnings("unchecked")
        Map<String, Object> rows = (Map<String, Object>) ((Map<String, Object>) erasure.get("counts"))
                .getOrDefault("rows", Map.of());
        body.put("purged", rows.getOrDefault("contact", 0));
        body.put("erasure", erasure);
        Replies.json(message, json, 200, body, Map.of("Location", "/api/erasures/" + erasure.get("id")));
    }

    /** Now minus an ISO-8601 age: a duration (PT12H, P30D) or a period of days, months, years (P1M). */
    private Instant cutoff(String age) {
        Instant now = clock.instant();
        try {
            Duration duration = Duration.parse(age);
            if (duration.isNegative()) {
                throw new IllegalArgumentException("must not be negative, not '" + age + "'");
            }
            return now.minus(duration);
        } catch (DateTimeParseException notADuration) {
            try {
                Period period = Period.parse(age);
                if (period.isNegative()) {
                    throw new IllegalArgumentException("must not be negative, not '" + age + "'");
                }
                return now.atOffset(ZoneOffset.UTC).minus(period).toInstant();
            } catch (DateTimeParseException notAPeriod) {
                throw new IllegalArgumentException("is an ISO-8601 duration such as P30D or PT12H, not '" + age + "'");
            }
        }
    }

    private static String parameter(Message message, String name, String pattern, String allowed) {
        String value = blankToNull(message.getHeader(name, String.class));
        if (value != null && !value.matches(pattern)) {
            throw ApiProblem.invalidParameter(name, "is " + allowed + ", not '" + value + "'");
        }
        return value;
    }

    private static String blankToNull(String value) {
        return value == null || value.isBlank() ? null : value.strip();
    }
}
