package dev.crmsync.api;

import org.apache.camel.Message;
import org.apache.camel.component.platform.http.springboot.PlatformHttpMessage;

/**
 * Who made the request being answered, for the "by whom" of runs and audits. Camel answers on
 * another thread than the one Spring Security authenticated on, so the name travels as a request
 * attribute rather than in the security context.
 */
public final class Caller {

    public static final String ATTRIBUTE = "crmsync.caller";

    private Caller() {
    }

    public static String name(Message message) {
        if (message instanceof PlatformHttpMessage http && http.getRequest().getAttribute(ATTRIBUTE) instanceof String name) {
            return name;
        }
        return null;
    }
}
