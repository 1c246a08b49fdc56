package dev.crmsync.api;

import java.io.ByteArrayInputStream;
import java.io.IOException;

import dev.crmsync.config.CrmSyncProperties;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Refuses API bodies over {@code crmsync.api.max-body-size} with 413 before any route reads them:
 * at once when Content-Length says so, and for a chunked body as soon as it passes the limit.
 */
@Configuration
public class BodySizeLimit {

    @Bean
    FilterRegistrationBean<OncePerRequestFilter> bodySizeLimitFilter(CrmSyncProperties properties, Problems problems) {
        long max = properties.api().maxBodySize().toBytes();
        FilterRegistrationBean<OncePerRequestFilter> registration = new FilterRegistrationBean<>(new OncePerRequestFilter() {
            @Override
            protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
                    throws ServletException, IOException {
                long declared = request.getContentLengthLong();
                if (declared > max) {
                    tooLarge(response, request);
                    return;
                }
                if (declared < 0 && request.getHeader("Transfer-Encoding") != null) {
                    byte[] body = request.getInputStream().readNBytes((int) max + 1);
                    if (body.length > max) {
                        tooLarge(response, request);
                        return;
                    }
                    chain.doFilter(new BufferedBody(request, body), response);
                    return;
                }
                chain.doFilter(request, response);
            }

            private void tooLarge(HttpServletResponse response, HttpServletRequest request) throws IOException {
                // the connection may still carry the unread rest of the body: do not reuse it
                response.setHeader("Connection", "close");
                problems.write(response, new ApiProblem(413, "the request body is larger than "
                        + properties.api().maxBodySize() + " (crmsync.api.max-body-size)"), request.getRequestURI());
            }
        });
        registration.addUrlPatterns("/api/*", "/webhooks/*");
        return registration;
    }

    /** A request whose body was read up front to measure it. */
    private static final class BufferedBody extends HttpServletRequestWrapper {

        private final byte[] body;

        BufferedBody(HttpServletRequest request, byte[] body) {
            super(request);
            this.body = body;
        }

        @Override
        public int getContentLength() {
            return body.length;
        }

        @Override
        public long getContentLengthLong() {
            return body.length;
        }

        @Override
        public ServletInputStream getInputStream() {
            ByteArrayInputStream in = new ByteArrayInputStream(body);
            return new ServletInputStream() {
                @Override
                public int read() {
                    return in.read();
                }

                @Override
                public int read(byte[] b, int off, int len) {
                    return in.read(b, off, len);
                }

                @Override
                public boolean isFinished() {
                    return in.available() == 0;
                }

                @Override
                public boolean isReady() {
                    return true;
                }

                @Override
                public void setReadListener(ReadListener listener) {
                    throw new UnsupportedOperationException("the body is already buffered");
                }
            };
        }
    }
}
