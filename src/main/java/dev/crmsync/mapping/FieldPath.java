package dev.crmsync.mapping;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A dot path into a remote record: {@code properties.email}, {@code emails[0].value}, or
 * {@code emails[primary=true].value} (the element of an array whose key has that value).
 */
public final class FieldPath {

    private static final Pattern SEGMENT = Pattern.compile("([^.\\[\\]]+)(?:\\[(?:(\\d+)|([^=\\]]+)=([^\\]]+))])?");

    private record Segment(String name, Integer index, String key, String value) {

        boolean selects() {
            return index != null || key != null;
        }

        boolean matches(JsonNode element) {
            JsonNode actual = element.get(key);
            return actual != null && !actual.isContainerNode() && actual.asText().equals(value);
        }
    }

    private final String text;
    private final List<Segment> segments = new ArrayList<>();

    public FieldPath(String text) {
        this.text = text;
        for (String part : text.split("\\.(?![^\\[]*])")) {
            Matcher m = SEGMENT.matcher(part);
            if (!m.matches()) {
                throw new IllegalArgumentException("'" + text + "' is not a field path (segment '" + part + "')");
            }
            segments.add(new Segment(m.group(1), m.group(2) == null ? null : Integer.valueOf(m.group(2)), m.group(3), m.group(4)));
        }
    }

    /** The top-level property this path starts at: what an API that selects fields (SOQL) must ask for. */
    public String root() {
        return segments.get(0).name();
    }

    /** The value at this path, or null when any step is missing. */
    public JsonNode read(JsonNode root) {
        JsonNode node = root;
        for (Segment segment : segments) {
            node = node == null ? null : node.get(segment.name());
            if (node != null && segment.selects()) {
                node = select(node, segment);
            }
            if (node == null || node.isMissingNode()) {
                return null;
            }
        }
        return node.isNull() ? null : node;
    }

    /**
     * Whether a partial record (some properties only, such as the values an event changed) holds this
     * path: its top-level property, or within an object property the key this path goes on to, and so on.
     */
    public boolean within(JsonNode partial) {
        JsonNode node = partial;
        for (Segment segment : segments) {
            if (node == null || !node.isObject() || !node.has(segment.name())) {
                return false;
            }
            node = node.get(segment.name());
            if (segment.selects() || !node.isObject()) {
                return true;
            }
        }
        return true;
    }

    /**
     * Writes {@code value} at this path, creating objects and the selected array element on the way. A
     * null written through a {@code [key=value]} selection whose element is absent creates no element
     * (the array is created, empty).
     */
    public void write(ObjectNode root, JsonNode value) {
        ObjectNode parent = root;
        for (int i = 0; i < segments.size(); i++) {
            Segment segment = segments.get(i);
            boolean last = i == segments.size() - 1;
            if (!segment.selects()) {
                if (last) {
                    parent.set(segment.name(), value);
                    return;
                }
                JsonNode next = parent.get(segment.name());
                parent = next instanceof ObjectNode object ? object : parent.putObject(segment.name());
                continue;
            }
            JsonNode existing = parent.get(segment.name());
            ArrayNode array = existing instanceof ArrayNode a ? a : parent.putArray(segment.name());
            JsonNode element = select(array, segment);
            if (element == null && segment.key() != null && (value == null || value.isNull())) {
                // no value for the selected element: leave it out rather than write {"primary":true,"value":null},
                // which APIs with such lists (Pipedrive's emails and phones) refuse
                return;
            }
            if (last) {
                // a selected leaf: replace the element itself
                replace(array, segment, value);
                return;
            }
            if (!(element instanceof ObjectNode)) {
                ObjectNode created = JsonNodeFactory.instance.objectNode();
                if (segment.key() != null) {
                    created.put(segment.key(), coerce(segment.value()));
                }
                replace(array, segment, created);
                element = created;
            }
            parent = (ObjectNode) element;
        }
    }

    private static JsonNode select(JsonNode array, Segment segment) {
        if (!array.isArray()) {
            return null;
        }
        if (segment.index() != null) {
            return array.get(segment.index());
        }
        for (JsonNode element : array) {
            if (segment.matches(element)) {
                return element;
            }
        }
        return null;
    }

    private static void replace(ArrayNode array, Segment segment, JsonNode value) {
        if (segment.index() != null) {
            while (array.size() <= segment.index()) {
                array.addNull();
            }
            array.set(segment.index(), value);
            return;
        }
        for (int i = 0; i < array.size(); i++) {
            if (segment.matches(array.get(i))) {
                array.set(i, value);
                return;
            }
        }
        array.add(value);
    }

    private static JsonNode coerce(String value) {
        if (value.equals("true") || value.equals("false")) {
            return JsonNodeFactory.instance.booleanNode(Boolean.parseBoolean(value));
        }
        return JsonNodeFactory.instance.textNode(value);
    }

    @Override
    public String toString() {
        return text;
    }
}
