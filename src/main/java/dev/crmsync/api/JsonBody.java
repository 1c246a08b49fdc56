package dev.crmsync.api;

import java.io.IOException;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/** A request body read as JSON, or the 400 problem that says where it stops being JSON. */
public final class JsonBody {

    private JsonBody() {
    }

    /** {@code whenEmpty} is the detail of the problem for an empty body: what the sender should send. */
    public static JsonNode read(ObjectMapper json, byte[] body, String whenEmpty) {
        if (body == null || body.length == 0) {
            throw ApiProblem.badRequest(whenEmpty);
        }
        try {
            return json.readTree(body);
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? ""
                    : " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr();
            throw ApiProblem.badRequest("the body is not valid JSON" + where + ": " + e.getOriginalMessage());
        } catch (IOException e) {
            throw ApiProblem.badRequest("the body could not be read: " + e.getMessage());
        }
    }
}
