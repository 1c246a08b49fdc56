package dev.crmsync.api;

import org.apache.camel.Message;
import org.apache.camel.component.platform.http.springboot.PlatformHttpMessage;
import org.springframework.security.core.Authentication;
import org.springframework.security.core.context.SecurityContext;
import org.springframework.security.core.context.SecurityContextHolder;
import org.springframework.security.web.context.RequestAttributeSecurityContextRepository;

/** Who made an API request: the name of the principal Spring Security authenticated, for history and audit. */
public final class Caller {

    private static final RequestAttributeSecurityContextRepository REQUEST = new RequestAttributeSecurityContextRepository();

    private Caller() {
    }

    /**
     * The authenticated principal's name, or "unknown". platform-http runs the route on a Camel thread,
     * not the servlet thread, so SecurityContextHolder is empty there: the security filter also keeps
     * the context on the request (see SecurityConfig), and it is read back from there.
     */
    public static String of(Message message) {
        Authentication here = SecurityContextHolder.getContext().getAuthentication();
        if (here != null && here.isAuthenticated()) {
            return here.getName();
        }
        Message in = message.getExchange().getIn();
        if (in instanceof PlatformHttpMessage http && http.getRequest() != null) {
            SecurityContext saved = REQUEST.loadDeferredContext(http.getRequest()).get();
            if (saved != null && saved.getAuthentication() != null && saved.getAuthentication().isAuthenticated()) {
                return saved.getAuthentication().getName();
            }
        }
        return "unknown";
    }
}
