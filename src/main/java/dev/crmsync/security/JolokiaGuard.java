package dev.crmsync.security;

import java.io.IOException;
import java.net.URI;
import java.util.Locale;
import java.util.Set;

import dev.crmsync.api.ApiProblem;
import dev.crmsync.api.Problems;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * What a browser may send to Jolokia, checked after the admin's login and before Jolokia runs (what
 * Jolokia itself may do is {@code jolokia-access.xml}). The admin's browser sends the admin's Basic
 * credentials to any page that calls this service, so the request must show it comes from this
 * service's own pages, as Hawtio's calls do:
 * <ul>
 * <li>an {@code Origin} (or, without one, a {@code Referer}) must be this service's own origin; a
 * request without either (curl, scripts) carries no browser's ambient credentials by accident;</li>
 * <li>a POST must be JSON ({@code application/json}, or {@code text/json} as Hawtio sends): the content
 * types a cross-site form or a no-preflight {@code fetch} can send ({@code text/plain}, forms) are refused;</li>
 * <li>a GET may only read ({@code read}, {@code list}, {@code search}, {@code version}): an image tag
 * cannot run an operation;</li>
 * <li>no other method: this service answers no CORS preflight, so no other origin is ever allowed.</li>
 * </ul>
 */
@Configuration
public class JolokiaGuard {

    /** Why a Jolokia request is refused, or that it may pass. */
    public enum Verdict {
        PASS, FOREIGN_ORIGIN, NOT_JSON, GET_MAY_ONLY_READ, METHOD_NOT_ALLOWED
    }

    private static final Set<String> READ_COMMANDS = Set.of("", "read", "list", "search", "version");

    /**
     * The decision for one request. {@code command} is the first segment of a GET's path (or of its
     * {@code p} parameter); {@code self} is this service's origin as the request reached it.
     */
    public static Verdict decide(String method, String command, String contentType, String origin, String referer, Origin self) {
        String from = origin != null ? origin : referer;
        if (from != null && !self.equals(Origin.parse(from))) {
            return Verdict.FOREIGN_ORIGIN;
        }
        return switch (method) {
            case "GET" -> READ_COMMANDS.contains(command.toLowerCase(Locale.ROOT)) ? Verdict.PASS : Verdict.GET_MAY_ONLY_READ;
            case "POST" -> isJson(contentType) ? Verdict.PASS : Verdict.NOT_JSON;
            default -> Verdict.METHOD_NOT_ALLOWED;
        };
    }

    /** An origin as RFC 6454 compares them: scheme, host and port (the scheme's default when none is written). */
    public record Origin(String scheme, String host, int port) {

        static final Origin NONE = new Origin("", "", -1);

        /** An Origin or Referer header's origin; {@link #NONE} (matching nothing) for "null" or one that does not parse. */
        public static Origin parse(String value) {
            try {
                URI uri = new URI(value.strip());
                if (uri.getScheme() == null || uri.getHost() == null) {
                    return NONE;
                }
                String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
                return of(scheme, uri.getHost(), uri.getPort());
            } catch (java.net.URISyntaxException e) {
                return NONE;
            }
        }

        /** This service's origin from the request's scheme and Host header ({@code host}, {@code host:port}, {@code [v6]:port}). */
        public static Origin ofHost(String scheme, String hostHeader) {
            if (hostHeader == null || hostHeader.isBlank()) {
                return NONE;
            }
            return parse(scheme + "://" + hostHeader.strip());
        }

        private static Origin of(String scheme, String host, int port) {
            int effective = port != -1 ? port : scheme.equals("https") ? 443 : scheme.equals("http") ? 80 : -1;
            return new Origin(scheme, host.toLowerCase(Locale.ROOT), effective);
        }
    }

    static boolean isJson(String contentType) {
        if (contentType == null) {
            return false;
        }
        String type = contentType.split(";", 2)[0].strip().toLowerCase(Locale.ROOT);
        return type.equals("application/json") || type.equals("text/json")
                || (type.startsWith("application/") && type.endsWith("+json"));
    }

    @Bean
    FilterRegistrationBean<OncePerRequestFilter> jolokiaGuardFilter(Problems problems) {
        FilterRegistrationBean<OncePerRequestFilter> registration = new FilterRegistrationBean<>(new OncePerRequestFilter() {
            @Override
            protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
                    throws ServletException, IOException {
                String forwardedProto = request.getHeader("X-Forwarded-Proto");
                String forwardedHost = request.getHeader("X-Forwarded-Host");
                String scheme = forwardedProto != null ? forwardedProto.split(",")[0].strip() : request.getScheme();
                Origin self = Origin.ofHost(scheme, forwardedHost != null ? forwardedHost.split(",")[0] : request.getHeader("Host"));
                // only a GET's command is read: a POST's parameters would be read from its body
                String command = "GET".equals(request.getMethod()) ? command(request) : "";
                Verdict verdict = decide(request.getMethod(), command, request.getContentType(),
                        request.getHeader("Origin"), request.getHeader("Referer"), self);
                if (verdict == Verdict.PASS) {
                    chain.doFilter(request, response);
                    return;
                }
                ApiProblem problem = switch (verdict) {
                    case FOREIGN_ORIGIN -> new ApiProblem(403, "Jolokia answers only this service's own pages (Hawtio); "
                            + "a request from another origin is refused");
                    case NOT_JSON -> new ApiProblem(415, "send Jolokia requests as JSON (Content-Type: application/json)");
                    case GET_MAY_ONLY_READ -> new ApiProblem(405, "a GET may only read, list, search or ask the version; "
                            + "send other commands as a POST of JSON");
                    default -> new ApiProblem(405, "Jolokia takes GET and POST only");
                };
                if (verdict == Verdict.METHOD_NOT_ALLOWED || verdict == Verdict.GET_MAY_ONLY_READ) {
                    response.setHeader("Allow", verdict == Verdict.METHOD_NOT_ALLOWED ? "GET, POST" : "POST");
                }
                problems.write(response, problem, request.getRequestURI());
            }

            @Override
            protected boolean shouldNotFilterAsyncDispatch() {
                return true;
            }
        });
        // Hawtio reaches Jolokia through a forward from /actuator/hawtio/jolokia
        registration.setDispatcherTypes(DispatcherType.REQUEST, DispatcherType.FORWARD);
        registration.addUrlPatterns("/actuator/jolokia", "/actuator/jolokia/*");
        return registration;
    }

    /** A GET's Jolokia command: the first segment of its path, or of its {@code p} parameter when it has one. */
    private static String command(HttpServletRequest request) {
        String path = request.getParameter("p");
        if (path == null) {
            path = request.getPathInfo();
        }
        if (path == null) {
            return "";
        }
        String trimmed = path.startsWith("/") ? path.substring(1) : path;
        int slash = trimmed.indexOf('/');
        return slash < 0 ? trimmed : trimmed.substring(0, slash);
    }
}
