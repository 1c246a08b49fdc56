package dev.crmsync.contact;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.i18n.phonenumbers.NumberParseException;
import com.google.i18n.phonenumbers.PhoneNumberUtil;
import com.google.i18n.phonenumbers.Phonenumber.PhoneNumber;
import dev.crmsync.api.ApiProblem;
import dev.crmsync.api.ApiProblem.FieldError;
import dev.crmsync.config.CrmSyncProperties;
import dev.crmsync.contact.Contact.ContactFields;
import org.springframework.stereotype.Component;

/**
 * Turns a JSON body into normalised contact fields, or refuses it naming every field at fault:
 * strings trimmed (blank means absent), emails checked, phones in E.164, tags and custom values
 * checked for type and size.
 */
@Component
public class ContactNormalizer {

    /** Fields a client may send back as it got them; the API checks id and version itself. */
    static final Set<String> READ_ONLY = Set.of("id", "version", "createdAt", "updatedAt", "deletedAt");

    private static final int MAX_TEXT = 255;
    private static final int MAX_EMAIL = 254;
    private static final int MAX_TAGS = 100;
    private static final int MAX_TAG = 64;
    private static final int MAX_CUSTOM = 100;
    private static final int MAX_CUSTOM_VALUE = 2000;
    private static final Pattern EMAIL = Pattern.compile(
            "[\\p{L}\\p{N}!#$%&'*+/=?^_`{|}~-]+(\\.[\\p{L}\\p{N}!#$%&'*+/=?^_`{|}~-]+)*"
                    + "@([\\p{L}\\p{N}]([\\p{L}\\p{N}-]*[\\p{L}\\p{N}])?\\.)+\\p{L}{2,}");
    private static final Pattern CUSTOM_KEY = Pattern.compile("[A-Za-z0-9_.-]{1,64}");

    private static final ObjectMapper JSON = new ObjectMapper();

    private final PhoneNumberUtil phones = PhoneNumberUtil.getInstance();
    private final String defaultRegion;

    public ContactNormalizer(CrmSyncProperties properties) {
        this.defaultRegion = properties.phone().defaultRegion();
    }

    /** A whole contact (create, replace): fields the body leaves out are empty. */
    public ContactFields complete(ObjectNode body) {
        return normalise(body, null);
    }

    /** An RFC 7396 merge patch on {@code current}: absent fields stay, null clears, custom merges by key. */
    public ContactFields patch(ContactFields current, ObjectNode body) {
        return normalise(body, current);
    }

    /** E.164 form of a phone number, or null when it is not a valid number. */
    public String e164(String raw) {
        try {
            PhoneNumber number = phones.parse(raw, defaultRegion);
            return phones.isValidNumber(number) ? phones.format(number, PhoneNumberUtil.PhoneNumberFormat.E164) : null;
        } catch (NumberParseException e) {
            return null;
        }
    }

    private ContactFields normalise(ObjectNode body, ContactFields current) {
        List<FieldError> errors = new ArrayList<>();
        body.fieldNames().forEachRemaining(name -> {
            if (!ContactFields.NAMES.contains(name) && !READ_ONLY.contains(name)) {
                errors.add(FieldError.of(name, "unknown field; a contact has " + String.join(", ", ContactFields.NAMES)));
            }
        });
        Map<String, Object> base = current == null ? Map.of() : current.asMap();
        String email = email(body, base, errors);
        String phone = phone(body, base, errors);
        ContactFields fields = new ContactFields(email,
                text(body, "firstName", base, MAX_TEXT, errors),
                text(body, "lastName", base, MAX_TEXT, errors),
                phone,
                text(body, "company", base, MAX_TEXT, errors),
                text(body, "title", base, MAX_TEXT, errors),
                tags(body, current, errors),
                custom(body, current, errors));
        if (errors.isEmpty() && fields.email() == null && fields.phone() == null) {
            errors.add(FieldError.of("email", "a contact needs an email or a phone"));
            errors.add(FieldError.of("phone", "a contact needs an email or a phone"));
        }
        if (!errors.isEmpty()) {
            throw ApiProblem.invalid(errors);
        }
        return fields;
    }

    /**
     * A CRM record's canonical values (as a mapping reads them, custom fields as {@code custom.<key>})
     * checked by the same rules as the API's: each value the hub can hold, normalised as the API
     * would store it, is accepted; each other one is refused with the API's reason. A record is
     * never refused as a whole here: what it holds that is valid still syncs.
     */
    public Screened screen(Map<String, Object> canonical) {
        Map<String, Object> accepted = new LinkedHashMap<>();
        List<Refusal> refused = new ArrayList<>();
        canonical.forEach((field, value) -> {
            if (value instanceof Unconvertible unconvertible) {
                refused.add(new Refusal(field, unconvertible.value(), unconvertible.reason()));
                return;
            }
            List<FieldError> errors = new ArrayList<>();
            Object normalised = value == null ? null : check(field, value, errors);
            if (errors.isEmpty()) {
                accepted.put(field, normalised);
            } else {
                refused.add(new Refusal(field, value, String.join("; ", errors.stream().map(FieldError::detail).toList())));
            }
        });
        return new Screened(accepted, List.copyOf(refused));
    }

    /** A remote value its mapping could not convert to a canonical one: the value as it came, and why. */
    public record Unconvertible(Object value, String reason) {
    }

    /** A CRM's value the hub cannot hold: the canonical field, the value as the mapping read it, and why. */
    public record Refusal(String field, Object value, String reason) {
    }

    /** What {@link #screen} made of a record's values; {@code accepted} has no entry for a refused field. */
    public record Screened(Map<String, Object> accepted, List<Refusal> refused) {
    }

    /** One canonical value through the API's check of its field, as a body of that field alone would be. */
    private Object check(String field, Object value, List<FieldError> errors) {
        ObjectNode body = JSON.createObjectNode();
        if (field.startsWith("custom.")) {
            String key = field.substring("custom.".length());
            body.putObject("custom").set(key, JSON.valueToTree(value));
            return custom(body, null, errors).get(key);
        }
        if (field.equals("tags")) {
            // a mapping may read a single tag as a string; the hub holds it as a list of one
            body.set("tags", JSON.valueToTree(value instanceof List<?> ? value : List.of(value)));
            return tags(body, null, errors);
        }
        // a number or a boolean in a text field is its text, as the hub has always taken it
        body.set(field, JSON.valueToTree(value instanceof Number || value instanceof Boolean ? value.toString() : value));
        return switch (field) {
            case "email" -> email(body, Map.of(), errors);
            case "phone" -> phone(body, Map.of(), errors);
            case "firstName", "lastName", "company", "title" -> text(body, field, Map.of(), MAX_TEXT, errors);
            default -> value;
        };
    }

    private static String email(ObjectNode body, Map<String, Object> base, List<FieldError> errors) {
        String email = text(body, "email", base, MAX_EMAIL, errors);
        if (email != null && !EMAIL.matcher(email).matches()) {
            errors.add(FieldError.of("email", "'" + email + "' is not a valid email address"));
        }
        return email;
    }

    private String phone(ObjectNode body, Map<String, Object> base, List<FieldError> errors) {
        String phone = text(body, "phone", base, 64, errors);
        if (phone != null && !body.path("phone").isMissingNode()) {
            String normalised = e164(phone);
            if (normalised == null) {
                errors.add(FieldError.of("phone", "'" + phone + "' is not a valid phone number (region "
                        + defaultRegion + " is assumed without a +country code)"));
            }
            phone = normalised;
        }
        return phone;
    }

    private static String text(ObjectNode body, String field, Map<String, Object> base, int max, List<FieldError> errors) {
        JsonNode node = body.get(field);
        if (node == null) {
            return (String) base.get(field);
        }
        if (node.isNull()) {
            return null;
        }
        if (!node.isTextual()) {
            errors.add(FieldError.of(field, "must be a string, not " + kind(node)));
            return null;
        }
        String value = node.textValue().strip();
        if (value.length() > max) {
            errors.add(FieldError.of(field, "is " + value.length() + " characters long; at most " + max + " are allowed"));
            return null;
        }
        return value.isEmpty() ? null : value;
    }

    private static List<String> tags(ObjectNode body, ContactFields current, List<FieldError> errors) {
        JsonNode node = body.get("tags");
        if (node == null) {
            return current == null ? List.of() : current.tags();
        }
        if (node.isNull()) {
            return List.of();
        }
        if (!node.isArray()) {
            errors.add(FieldError.of("tags", "must be an array of strings, not " + kind(node)));
            return List.of();
        }
        if (node.size() > MAX_TAGS) {
            errors.add(FieldError.of("tags", "has " + node.size() + " tags; at most " + MAX_TAGS + " are allowed"));
            return List.of();
        }
        Set<String> tags = new LinkedHashSet<>();
        for (int i = 0; i < node.size(); i++) {
            JsonNode tag = node.get(i);
            String value = tag.isTextual() ? tag.textValue().strip() : null;
            if (value == null || value.isEmpty() || value.length() > MAX_TAG) {
                errors.add(FieldError.of("tags/" + i, "a tag is a non-blank string of at most " + MAX_TAG + " characters"));
            } else {
                tags.add(value);
            }
        }
        return List.copyOf(tags);
    }

    private static Map<String, Object> custom(ObjectNode body, ContactFields current, List<FieldError> errors) {
        JsonNode node = body.get("custom");
        Map<String, Object> custom = new LinkedHashMap<>(current == null ? Map.of() : current.custom());
        if (node == null) {
            return custom;
        }
        if (node.isNull()) {
            return Map.of();
        }
        if (!node.isObject()) {
            errors.add(FieldError.of("custom", "must be an object of strings, numbers and booleans, not " + kind(node)));
            return Map.of();
        }
        node.fields().forEachRemaining(entry -> {
            String key = entry.getKey();
            JsonNode value = entry.getValue();
            String pointer = "custom/" + key.replace("~", "~0").replace("/", "~1");
            if (!CUSTOM_KEY.matcher(key).matches()) {
                errors.add(FieldError.of(pointer, "a custom key has 1 to 64 letters, digits, '_', '.' or '-'"));
            } else if (value.isNull()) {
                custom.remove(key);
            } else if (value.isTextual() && value.textValue().length() <= MAX_CUSTOM_VALUE) {
                custom.put(key, value.textValue());
            } else if (value.isNumber() && Double.isFinite(value.doubleValue())) {
                custom.put(key, value.numberValue());
            } else if (value.isBoolean()) {
                custom.put(key, value.booleanValue());
            } else {
                errors.add(FieldError.of(pointer, value.isTextual()
                        ? "is longer than " + MAX_CUSTOM_VALUE + " characters"
                        : value.isNumber() ? "must be a finite number"
                        : "a custom value is a string, number or boolean, not " + kind(value)));
            }
        });
        if (custom.size() > MAX_CUSTOM) {
            errors.add(FieldError.of("custom", "has " + custom.size() + " keys; at most " + MAX_CUSTOM + " are allowed"));
        }
        return custom;
    }

    private static String kind(JsonNode node) {
        return switch (node.getNodeType()) {
            case ARRAY -> "an array";
            case OBJECT -> "an object";
            case NUMBER -> "a number";
            case BOOLEAN -> "a boolean";
            case STRING -> "a string";
            default -> node.getNodeType().name().toLowerCase();
        };
    }
}
