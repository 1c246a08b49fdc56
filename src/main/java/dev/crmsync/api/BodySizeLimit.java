package dev.crmsync.api;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;

import dev.crmsync.config.CrmSyncProperties;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import org.apache.camel.Message;
import org.apache.camel.component.platform.http.springboot.PlatformHttpMessage;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Reads every API and webhook body before a route does: refuses one over {@code crmsync.api.max-body-size}
 * with 413 (at once when Content-Length says so, and for a chunked body as soon as it passes the limit),
 * decodes it by its declared charset ({@link BodyDecoding}: 415 or 400 when it cannot be), and hands on
 * a request whose reader gives that text and whose input stream gives the bytes as they were sent
 * (webhook signatures are computed over those; see {@link #rawBody}).
 */
@Configuration
public class BodySizeLimit {

    private static final String RAW_BODY = BodySizeLimit.class.getName() + ".rawBody";

    /**
     * The body's bytes exactly as the sender wrote them, for a route bean that must check a signature;
     * null when the request had no body.
     */
    public static byte[] rawBody(Message message) {
        if (message instanceof PlatformHttpMessage http && http.getRequest() != null
                && http.getRequest().getAttribute(RAW_BODY) instanceof byte[] raw) {
            return raw;
        }
        return message.getBody(byte[].class);
    }

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
                if (declared <= 0 && request.getHeader("Transfer-Encoding") == null) {
                    chain.doFilter(request, response);
                    return;
                }
                byte[] body = request.getInputStream().readNBytes((int) max + 1);
                if (body.length > max) {
                    tooLarge(response, request);
                    return;
                }
                BodyDecoding.Result decoded = BodyDecoding.decode(request.getContentType(), body);
                if (decoded instanceof BodyDecoding.Refused refused) {
                    response.setHeader("Connection", "close");
                    problems.write(response, refused.problem(), request.getRequestURI());
                    return;
                }
                request.setAttribute(RAW_BODY, body);
                chain.doFilter(new BufferedBody(request, body, ((BodyDecoding.Text) decoded).text()), response);
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

    /**
     * A request whose body was read up front: its reader gives the decoded text (what Camel's
     * platform-http reads, as UTF-8 from here on), its input stream the bytes as sent.
     */
    private static final class BufferedBody extends HttpServletRequestWrapper {

        private final byte[] body;
        private final String text;

        BufferedBody(HttpServletRequest request, byte[] body, String text) {
            super(request);
            this.body = body;
            this.text = text;
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
        public String getCharacterEncoding() {
            return StandardCharsets.UTF_8.name();
        }

        @Override
        public void setCharacterEncoding(String encoding) {
            // the body is decoded already, by the charset it declared
        }

        @Override
        public BufferedReader getReader() {
            return new BufferedReader(new StringReader(text));
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
