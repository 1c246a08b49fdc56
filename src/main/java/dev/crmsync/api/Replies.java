package dev.crmsync.api;

import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.camel.Exchange;
import org.apache.camel.Message;

/** Answers an HTTP request on its Camel message. */
public final class Replies {

    private Replies() {
    }

    /** Sets status, headers and a JSON body (none when {@code body} is null). */
    public static void json(Message message, ObjectMapper json, int status, Object body, Map<String, String> headers) {
        // the request's headers (the API key among them) must not be echoed into the reply
        message.getHeaders().clear();
        message.setHeader(Exchange.HTTP_RESPONSE_CODE, status);
        headers.forEach(message::setHeader);
        if (body == null) {
            message.setBody(null);
            return;
        }
        message.setHeader(Exchange.CONTENT_TYPE, "application/json");
        try {
            message.setBody(json.writeValueAsString(body));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write the reply", e);
        }
    }
}
