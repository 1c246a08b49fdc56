package dev.crmsync.mapping;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.PathType;
import com.networknt.schema.SchemaValidatorsConfig;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import dev.crmsync.config.CrmSyncProperties;
import dev.crmsync.contact.ContactNormalizer;
import dev.crmsync.mapping.Mapping.Direction;
import dev.crmsync.mapping.Mapping.Field;
import dev.crmsync.mapping.Mapping.RemoteRecord;
import dev.crmsync.mapping.Transform.DateFormat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

/**
 * The field mappings in {@code mappings/}: read and validated at start-up (a broken file stops the
 * service, naming the file, the JSON pointer and the problem), then used by routes as the
 * {@code mapper} bean in both directions.
 */
@Component("mapper")
public class Mappings {

    private static final Logger LOG = LoggerFactory.getLogger(Mappings.class);
    static final String SCHEMA_FILE = "mapping.schema.json";

    private final ObjectMapper json;
    private final ContactNormalizer normalizer;
    private final Map<String, Mapping> byName = new LinkedHashMap<>();

    public Mappings(CrmSyncProperties properties, ObjectMapper json, ContactNormalizer normalizer) {
        this.json = json;
        this.normalizer = normalizer;
        load(properties.homePath().resolve("mappings"));
    }

    /** The mapping of a provider object, by its name {@code <provider>-<object>} (the file name). */
    public Mapping get(String name) {
        Mapping mapping = byName.get(name.toLowerCase(Locale.ROOT));
        if (mapping == null) {
            throw new IllegalArgumentException("no mapping named " + name + " in mappings/ (have " + byName.keySet() + ")");
        }
        return mapping;
    }

    /**
     * The system that wins a conflict on {@code field} between systems {@code a} and {@code b}: one of
     * them, when some mapping declares {@code prefer:<it>} for the field; otherwise null (last write wins).
     */
    public String preferred(String field, String a, String b) {
        for (Mapping mapping : byName.values()) {
            for (Mapping.Field f : mapping.fields()) {
                String system = f.preferredSystem();
                if (system != null && f.canonical().contains(field) && (system.equals(a) || system.equals(b))) {
                    return system;
                }
            }
        }
        return null;
    }

    /** For routes: refuses a mapping name that is not loaded, with 404. */
    public void require(String name) {
        if (name == null || !byName.containsKey(name.toLowerCase(Locale.ROOT))) {
            throw dev.crmsync.api.ApiProblem.notFound("no mapping named " + name + " in mappings/; loaded: "
                    + String.join(", ", byName.keySet()));
        }
    }

    public Map<String, Mapping> all() {
        return Map.copyOf(byName);
    }

    /** For routes: a remote record, as JSON, to its canonical values. */
    public RemoteRecord toCanonical(String mapping, JsonNode remote) {
        return get(mapping).toCanonical(remote);
    }

    /** For routes: canonical values to the remote record's JSON. */
    public ObjectNode toRemote(String mapping, Map<String, Object> canonical) {
        return get(mapping).toRemote(canonical);
    }

    private void load(Path folder) {
        if (!Files.isDirectory(folder)) {
            throw new MappingException(folder + " is missing: the mappings folder belongs in crmsync.home");
        }
        JsonSchema schema = schema(folder.resolve(SCHEMA_FILE));
        List<Path> files;
        try (Stream<Path> list = Files.list(folder)) {
            files = list.filter(p -> p.getFileName().toString().endsWith(".json"))
                    .filter(p -> !p.getFileName().toString().equals(SCHEMA_FILE))
                    .sorted(Comparator.comparing(Path::toString)).toList();
        } catch (IOException e) {
            throw new MappingException("cannot list " + folder + ": " + e.getMessage());
        }
        for (Path file : files) {
            Mapping mapping = read(file, schema);
            String name = mapping.provider() + "-" + mapping.object().toLowerCase(Locale.ROOT);
            String expected = name + ".json";
            if (!file.getFileName().toString().equals(expected)) {
                throw new MappingException("mappings/" + file.getFileName() + ": maps provider '" + mapping.provider()
                        + "' object '" + mapping.object() + "', so it must be named " + expected);
            }
            byName.put(name, mapping);
        }
        LOG.info("Loaded {} field mappings from {}: {}", byName.size(), folder, byName.keySet());
    }

    private JsonSchema schema(Path file) {
        try {
            SchemaValidatorsConfig config = SchemaValidatorsConfig.builder().pathType(PathType.JSON_POINTER).build();
            return JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012)
                    .getSchema(json.readTree(file.toFile()), config);
        } catch (IOException e) {
            throw new MappingException("mappings/" + SCHEMA_FILE + " cannot be read: " + e.getMessage());
        }
    }

    private Mapping read(Path file, JsonSchema schema) {
        String name = "mappings/" + file.getFileName();
        JsonNode root;
        try {
            root = json.readTree(file.toFile());
        } catch (JsonProcessingException e) {
            throw new MappingException(name + " is not valid JSON at line " + e.getLocation().getLineNr()
                    + ", column " + e.getLocation().getColumnNr() + ": " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new MappingException(name + " cannot be read: " + e.getMessage());
        }
        Set<ValidationMessage> problems = schema.validate(root);
        if (!problems.isEmpty()) {
            ValidationMessage first = problems.stream()
                    .min(Comparator.comparing((ValidationMessage m) -> m.getInstanceLocation().toString())).orElseThrow();
            throw new MappingException(name + " at " + pointer(first.getInstanceLocation().toString()) + ": "
                    + first.getError() + (problems.size() > 1 ? " (and " + (problems.size() - 1) + " more problems)" : ""));
        }
        return parse(name, root);
    }

    private Mapping parse(String name, JsonNode root) {
        List<Field> fields = new ArrayList<>();
        Set<String> inbound = new HashSet<>();
        JsonNode list = root.get("fields");
        for (int i = 0; i < list.size(); i++) {
            JsonNode node = list.get(i);
            String at = name + " at /fields/" + i;
            List<String> canonical = new ArrayList<>();
            JsonNode names = node.get("canonical");
            if (names != null) {
                names.forEach(n -> canonical.add(n.asText()));
                if (names.isTextual()) {
                    canonical.add(names.asText());
                }
            }
            Direction direction = Direction.valueOf(node.get("direction").asText().toUpperCase(Locale.ROOT));
            List<Transform> transforms = new ArrayList<>();
            JsonNode transformNodes = node.path("transforms");
            for (JsonNode t : transformNodes) {
                transforms.add(transform(t));
            }
            boolean splits = transforms.stream().anyMatch(Transform::isSplit);
            if (canonical.size() > 1 && !splits) {
                throw new MappingException(at + "/canonical: several canonical fields need a split transform, e.g. {\"split\": \" \"}");
            }
            if (canonical.isEmpty() && direction.inbound()) {
                throw new MappingException(at + "/direction: a field with no canonical name is a constant and can only be outbound");
            }
            if (direction.inbound()) {
                for (String c : canonical) {
                    if (!inbound.add(c)) {
                        throw new MappingException(at + "/canonical: " + c + " is already filled inbound by another field");
                    }
                }
            }
            fields.add(new Field(List.copyOf(canonical), new FieldPath(node.get("remote").asText()), direction,
                    List.copyOf(transforms), node.path("conflict").asText("last-write-wins"),
                    node.hasNonNull("modified") ? new FieldPath(node.get("modified").asText()) : null));
        }
        JsonNode modified = root.get("remoteModified");
        return new Mapping(name, root.get("provider").asText(), root.get("object").asText(),
                new FieldPath(root.get("remoteId").asText()),
                modified == null ? null : new FieldPath(modified.get("path").asText()),
                DateFormat.of(modified == null ? null : modified.path("format").asText(null)),
                root.hasNonNull("remoteDeleted") ? new FieldPath(root.get("remoteDeleted").asText()) : null,
                root.hasNonNull("hubId") ? new FieldPath(root.get("hubId").asText()) : null,
                List.copyOf(fields));
    }

    private Transform transform(JsonNode node) {
        if (node.isTextual()) {
            // a number that is not valid stays as it came, so the engine's check refuses it visibly rather
            // than reading it as a phone the record cleared
            return Transform.named(node.asText(), raw -> {
                String e164 = normalizer.e164(raw);
                return e164 != null ? e164 : raw;
            });
        }
        if (node.has("split")) {
            return Transform.split(node.get("split").asText());
        }
        if (node.has("date")) {
            return Transform.date(node.get("date").asText());
        }
        if (node.has("default")) {
            return Transform.fallback(json.convertValue(node.get("default"), Object.class));
        }
        Map<Object, Object> values = new LinkedHashMap<>();
        node.get("map").properties().forEach(e -> values.put(e.getKey(), json.convertValue(e.getValue(), Object.class)));
        return Transform.map(values);
    }

    private static String pointer(String location) {
        return location.isEmpty() ? "/" : location;
    }

    /** A mapping file that cannot be used: the message names the file, the JSON pointer and the problem. */
    public static class MappingException extends RuntimeException {
        public MappingException(String message) {
            super(message);
        }
    }
}
