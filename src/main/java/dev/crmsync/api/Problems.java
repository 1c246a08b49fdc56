package dev.crmsync.api;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.servlet.http.HttpServletResponse;
import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Component;

/**
 * Writes RFC 9457 problem documents, for the Camel routes (through the shared routeConfiguration)
 * and for the servlet filters that answer before a route runs.
 */
@Component("problems")
public class Problems {

    public static final String MEDIA_TYPE = "application/problem+json";
    private static final Logger LOG = LoggerFactory.getLogger(Problems.class);

    private final ObjectMapper json;

    public Problems(ObjectMapper json) {
        this.json = json;
    }

    /** Answers the exception a route caught: an {@link ApiProblem} as it says, anything else as a 500. */
    public void respond(Exchange exchange) {
        Exception caught = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Exception.class);
        ApiProblem problem = caught instanceof ApiProblem p ? p
                : caught instanceof com.fasterxml.jackson.core.JsonProcessingException json
                ? ApiProblem.badRequest("the body is not valid JSON: " + json.getOriginalMessage())
                : internalError(caught, exchange.getFromRouteId());
        respondWith(exchange, problem);
    }

    /**
     * Answers a problem from a bean that adds headers afterwards (a 401's WWW-Authenticate); a separate
     * name, so routes calling {@code respond} by name find one method.
     */
    public void respondWith(Exchange exchange, ApiProblem problem) {
        Message message = exchange.getMessage();
        String path = message.getHeader(Exchange.HTTP_PATH, String.class);
        Map<String, Object> body = document(problem, path);
        message.getHeaders().clear();
        message.setHeader(Exchange.HTTP_RESPONSE_CODE, problem.status());
        message.setHeader(Exchange.CONTENT_TYPE, MEDIA_TYPE);
        message.setBody(write(body));
    }

    /** Answers from a servlet filter, before any route has run. */
    public void write(HttpServletResponse response, ApiProblem problem, String path) throws IOException {
        response.setStatus(problem.status());
        response.setContentType(MEDIA_TYPE);
        response.getOutputStream().write(write(document(problem, path)).getBytes(StandardCharsets.UTF_8));
    }

    private static ApiProblem internalError(Exception caught, String routeId) {
        // the caller gets an id to quote, the log gets the cause: no internals leak into the reply
        String incident = UUID.randomUUID().toString();
        LOG.error("Unexpected failure in route {} (incident {})", routeId, incident, caught);
        return new ApiProblem(500, "the request failed unexpectedly; quote incident "
                + incident + " when reporting it").with("incident", incident);
    }

    private static Map<String, Object> document(ApiProblem problem, String path) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("type", "about:blank");
        HttpStatus status = HttpStatus.resolve(problem.status());
        body.put("title", status != null ? status.getReasonPhrase() : "Error");
        body.put("status", problem.status());
        body.put("detail", problem.getMessage());
        if (path != null) {
            body.put("instance", path);
        }
        if (!problem.errors().isEmpty()) {
            body.put("errors", problem.errors());
        }
        body.putAll(problem.properties());
        return body;
    }

    private String write(Map<String, Object> body) {
        try {
            return json.writeValueAsString(body);
        } catch (IOException e) {
            throw new IllegalStateException("cannot write a problem document", e);
        }
    }
}
