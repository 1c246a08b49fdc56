package dev.crmsync.api;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A request the API refuses, answered as RFC 9457 {@code application/problem+json}. Thrown by the
 * beans the routes call; the shared routeConfiguration turns it into the reply.
 */
public class ApiProblem extends RuntimeException {

    /** One thing wrong with the input: an RFC 6901 pointer into the request body and why. */
    public record FieldError(String pointer, String detail) {
        public static FieldError of(String field, String detail) {
            return new FieldError("#/" + field, detail);
        }
    }

    private final int status;
    private final List<FieldError> errors;
    private final Map<String, Object> properties = new LinkedHashMap<>();

    public ApiProblem(int status, String detail) {
        this(status, detail, List.of());
    }

    public ApiProblem(int status, String detail, List<FieldError> errors) {
        super(detail);
        this.status = status;
        this.errors = List.copyOf(errors);
    }

    public static ApiProblem badRequest(String detail) {
        return new ApiProblem(400, detail);
    }

    public static ApiProblem invalid(List<FieldError> errors) {
        FieldError first = errors.get(0);
        String detail = errors.size() == 1
                ? first.pointer().substring(2) + ": " + first.detail()
                : errors.size() + " fields are invalid, first " + first.pointer().substring(2) + ": " + first.detail();
        return new ApiProblem(400, detail, errors);
    }

    public static ApiProblem invalidParameter(String name, String detail) {
        return new ApiProblem(400, "query parameter " + name + ": " + detail).with("parameter", name);
    }

    public static ApiProblem notFound(String detail) {
        return new ApiProblem(404, detail);
    }

    /** Adds an RFC 9457 extension member, such as the id of the contact a duplicate collides with. */
    public ApiProblem with(String name, Object value) {
        properties.put(name, value);
        return this;
    }

    public int status() {
        return status;
    }

    public List<FieldError> errors() {
        return errors;
    }

    public Map<String, Object> properties() {
        return properties;
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
        // an expected answer to bad input, not a fault: no stack trace to build or log
        return this;
    }
}
