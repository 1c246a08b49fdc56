package dev.crmsync.api;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.servlet.RequestDispatcher;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.apache.catalina.Host;
import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.Response;
import org.apache.catalina.core.StandardHost;
import org.apache.catalina.valves.ErrorReportValve;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.web.embedded.tomcat.TomcatServletWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.boot.web.servlet.error.ErrorController;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * Every refusal the service's own code does not answer, as an RFC 9457 problem document instead of
 * Tomcat's HTML page or Spring Boot's default JSON: what Spring Boot sends to {@code /error} (Spring
 * MVC's 404 and 405, a servlet's {@code sendError}, an exception no route caught), and what Tomcat
 * refuses before any servlet runs (a request line or URL it cannot parse, headers over its limit,
 * an encoded slash or NUL), through its error report valve.
 */
@Configuration
public class Refusals {

    private static final Logger LOG = LoggerFactory.getLogger(Refusals.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The body of a problem document with this status, detail and (when known) the path it concerns. */
    public static Map<String, Object> document(int status, String detail, String path) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("type", "about:blank");
        HttpStatus known = HttpStatus.resolve(status);
        body.put("title", known != null ? known.getReasonPhrase() : "Error");
        body.put("status", status);
        body.put("detail", detail);
        if (path != null) {
            body.put("instance", path);
        }
        return body;
    }

    /** What to tell the caller for a refusal that came with no message of its own. */
    public static String detailFor(int status, String method, String path) {
        return switch (status) {
            case 400 -> "the request could not be read: check its URL (no encoded slashes, NUL, '..' or characters "
                    + "that must be percent-encoded), request line and headers";
            case 401 -> "this resource needs credentials";
            case 403 -> "these credentials may not use " + (path != null ? path : "this resource");
            case 404 -> "nothing is at " + (path != null ? path : "this URL") + "; the API is under /api (see the README)";
            case 405 -> (method != null ? method : "this method") + " is not allowed on " + (path != null ? path : "this URL");
            case 408 -> "the request took too long to arrive";
            case 413 -> "the request is too large";
            case 414 -> "the URL is too long";
            case 431 -> "the request's headers are too large";
            case 505 -> "only HTTP/1.1 (and HTTP/1.0) are spoken here";
            default -> status >= 500 ? "the request failed unexpectedly" : "the request was refused";
        };
    }

    static byte[] bytes(Map<String, Object> body) {
        try {
            return JSON.writeValueAsBytes(body);
        } catch (IOException e) {
            throw new IllegalStateException("cannot write a problem document", e);
        }
    }

    /**
     * Spring Boot's error page (found by component scanning): replaces BasicErrorController, which
     * answers HTML or its own JSON.
     */
    @RestController
    static class ProblemErrorController implements ErrorController {

        @RequestMapping("${server.error.path:${error.path:/error}}")
        void error(HttpServletRequest request, HttpServletResponse response) throws IOException {
            Object code = request.getAttribute(RequestDispatcher.ERROR_STATUS_CODE);
            int status = code instanceof Integer i ? i : response.getStatus() >= 400 ? response.getStatus() : 404;
            String path = (String) request.getAttribute(RequestDispatcher.ERROR_REQUEST_URI);
            Throwable failure = (Throwable) request.getAttribute(RequestDispatcher.ERROR_EXCEPTION);
            String detail;
            Map<String, Object> extra = Map.of();
            if (status >= 500) {
                // the caller gets an id to quote, the log gets the cause: no internals leak into the reply
                String incident = UUID.randomUUID().toString();
                LOG.error("Unexpected failure answering {} (incident {})", path, incident, failure);
                detail = "the request failed unexpectedly; quote incident " + incident + " when reporting it";
                extra = Map.of("incident", incident);
            } else {
                detail = detailFor(status, request.getMethod(), path);
            }
            Map<String, Object> body = document(status, detail, path);
            body.putAll(extra);
            if (response.isCommitted()) {
                return;
            }
            response.resetBuffer();
            response.setStatus(status);
            response.setContentType(Problems.MEDIA_TYPE);
            response.getOutputStream().write(bytes(body));
        }
    }

    /** Tomcat's error report valve on the host, writing problem documents. */
    @Bean
    WebServerFactoryCustomizer<TomcatServletWebServerFactory> problemReportValve() {
        return factory -> factory.addContextCustomizers(context -> {
            Host host = (Host) context.getParent();
            if (host instanceof StandardHost standard) {
                standard.setErrorReportValveClass(ProblemReportValve.class.getName());
            }
        });
    }

    /**
     * Answers what Tomcat refused before the application saw it, and any error response still
     * without a body, as a problem document. It never shows a stack trace or server version.
     */
    public static class ProblemReportValve extends ErrorReportValve {

        @Override
        protected void report(Request request, Response response, Throwable throwable) {
            int status = response.getStatus();
            if (status < 400 || response.getContentWritten() > 0 || !response.setErrorReported()) {
                return;
            }
            java.util.concurrent.atomic.AtomicBoolean ioAllowed = new java.util.concurrent.atomic.AtomicBoolean();
            response.getCoyoteResponse().action(org.apache.coyote.ActionCode.IS_IO_ALLOWED, ioAllowed);
            if (!ioAllowed.get()) {
                return;
            }
            String path = request.getRequestURI();
            String method = request.getMethod();
            byte[] body = bytes(document(status, detailFor(status, method, path), path));
            try {
                response.setContentType(Problems.MEDIA_TYPE);
                response.setCharacterEncoding(StandardCharsets.UTF_8.name());
                response.getOutputStream().write(body);
                response.finishResponse();
            } catch (IOException | IllegalStateException e) {
                // the client went away, or the response cannot take a body any more: nothing to answer
            }
        }
    }
}
