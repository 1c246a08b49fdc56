package dev.crmsync.mapping;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.UnaryOperator;

/**
 * One value transform of a mapping field, applied inbound (remote to canonical) and, inverted,
 * outbound. See mappings/mapping.schema.json for the forms.
 */
public final class Transform {

    enum Kind { TRIM, LOWERCASE, UPPERCASE, E164, SPLIT, DATE, DEFAULT, MAP }

    private final Kind kind;
    private final String separator;
    private final DateFormat date;
    private final Object fallback;
    private final Map<Object, Object> in;
    private final Map<Object, Object> out;
    private final UnaryOperator<String> phone;

    private Transform(Kind kind, String separator, DateFormat date, Object fallback, Map<Object, Object> in,
                      UnaryOperator<String> phone) {
        this.kind = kind;
        this.separator = separator;
        this.date = date;
        this.fallback = fallback;
        this.in = in;
        this.out = new HashMap<>();
        if (in != null) {
            in.forEach((remote, canonical) -> out.putIfAbsent(canonical, remote));
        }
        this.phone = phone;
    }

    static Transform named(String name, UnaryOperator<String> phone) {
        return new Transform(Kind.valueOf(name.toUpperCase(Locale.ROOT)), null, null, null, null, phone);
    }

    static Transform split(String separator) {
        return new Transform(Kind.SPLIT, separator, null, null, null, null);
    }

    static Transform date(String format) {
        return new Transform(Kind.DATE, null, DateFormat.of(format), null, null, null);
    }

    static Transform fallback(Object value) {
        return new Transform(Kind.DEFAULT, null, null, value, null, null);
    }

    static Transform map(Map<Object, Object> values) {
        return new Transform(Kind.MAP, null, null, null, Map.copyOf(values), null);
    }

    boolean isSplit() {
        return kind == Kind.SPLIT;
    }

    /** Remote to canonical; {@code parts} is how many canonical fields a split fills (0: a list of any length). */
    Object inbound(Object value, int parts) {
        return switch (kind) {
            case TRIM -> text(value, s -> s.isBlank() ? null : s.strip());
            case LOWERCASE -> text(value, s -> s.toLowerCase(Locale.ROOT));
            case UPPERCASE -> text(value, s -> s.toUpperCase(Locale.ROOT));
            case E164 -> text(value, phone);
            case SPLIT -> value instanceof String s ? splitText(s, parts) : value;
            case DATE -> value == null ? null : date.toIso(value);
            case DEFAULT -> value == null ? fallback : value;
            case MAP -> value == null ? null : in.getOrDefault(value, value);
        };
    }

    /** Canonical to remote: the inverse of {@link #inbound}. */
    Object outbound(Object value) {
        return switch (kind) {
            case TRIM -> text(value, s -> s.isBlank() ? null : s.strip());
            case LOWERCASE -> text(value, s -> s.toLowerCase(Locale.ROOT));
            case UPPERCASE -> text(value, s -> s.toUpperCase(Locale.ROOT));
            case E164 -> value;
            case SPLIT -> value instanceof List<?> list ? join(list) : value;
            case DATE -> value == null ? null : date.fromIso(value.toString());
            case DEFAULT -> value == null ? fallback : value;
            case MAP -> value == null ? null : out.getOrDefault(value, value);
        };
    }

    private Object splitText(String text, int parts) {
        String[] pieces = parts > 0 ? text.strip().split(java.util.regex.Pattern.quote(separator), parts)
                : text.split(java.util.regex.Pattern.quote(separator));
        List<String> values = new ArrayList<>();
        for (String piece : pieces) {
            String stripped = piece.strip();
            values.add(stripped.isEmpty() ? null : stripped);
        }
        if (parts == 0) {
            values.removeIf(Objects::isNull);
        }
        return values;
    }

    private String join(List<?> values) {
        List<String> present = values.stream().filter(Objects::nonNull).map(Object::toString)
                .filter(s -> !s.isBlank()).toList();
        return present.isEmpty() ? null : String.join(separator, present);
    }

    private static Object text(Object value, UnaryOperator<String> operation) {
        return value instanceof String s ? operation.apply(s) : value;
    }

    /** A remote date or time format: iso-8601, epoch-millis, epoch-seconds, or a java.time pattern read as UTC. */
    public record DateFormat(String name, DateTimeFormatter pattern) {

        public static DateFormat of(String name) {
            String value = name == null ? "iso-8601" : name;
            if (Arrays.asList("iso-8601", "epoch-millis", "epoch-seconds").contains(value)) {
                return new DateFormat(value, null);
            }
            return new DateFormat(value, DateTimeFormatter.ofPattern(value, Locale.ROOT).withZone(ZoneOffset.UTC));
        }

        public Instant parse(Object raw) {
            String text = raw.toString().strip();
            return switch (name) {
                case "iso-8601" -> DateTimeFormatter.ISO_DATE_TIME.parse(text, Instant::from);
                case "epoch-millis" -> Instant.ofEpochMilli(Long.parseLong(text));
                case "epoch-seconds" -> Instant.ofEpochSecond(Long.parseLong(text));
                default -> pattern.parse(text, Instant::from);
            };
        }

        public Object format(Instant instant) {
            return switch (name) {
                case "iso-8601" -> instant.toString();
                case "epoch-millis" -> instant.toEpochMilli();
                case "epoch-seconds" -> instant.getEpochSecond();
                default -> pattern.format(instant);
            };
        }

        /** A remote date, or date and time, in ISO-8601 (a date alone stays a date: 1990-11-21). */
        String toIso(Object raw) {
            if (pattern != null) {
                java.time.temporal.TemporalAccessor parsed = pattern.parse(raw.toString().strip());
                return parsed.isSupported(java.time.temporal.ChronoField.HOUR_OF_DAY)
                        ? Instant.from(parsed).toString() : java.time.LocalDate.from(parsed).toString();
            }
            return parse(raw).toString();
        }

        Object fromIso(String iso) {
            if (iso.length() == 10) {
                java.time.LocalDate day = java.time.LocalDate.parse(iso);
                return pattern != null ? pattern.format(day) : iso;
            }
            return format(Instant.parse(iso));
        }
    }
}
