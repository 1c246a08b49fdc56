package dev.crmsync.sim.hubspot;

import java.math.BigDecimal;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One {@code POST /crm/v3/objects/contacts/search} body, checked and ready to match, sort and page
 * contacts. What it accepts is described on {@link HubSpotSimulator}; every refusal is an
 * {@link Invalid} whose message says which part of the body to fix.
 */
final class ContactSearch {

    static final int DEFAULT_LIMIT = 10;
    static final int MAX_LIMIT = 200;
    /** HubSpot answers at most this many results per query, however it is paged. */
    static final int RESULT_CAP = 10_000;
    static final int MAX_GROUPS = 5;
    static final int MAX_FILTERS_PER_GROUP = 6;
    static final int MAX_FILTERS = 18;

    static final Set<String> OPERATORS = Set.of("EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
            "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN");
    private static final Pattern NUMBER = Pattern.compile("\\s*-?\\d+(\\.\\d+)?\\s*");
    /** Searched by the free-text {@code query}. */
    private static final List<String> QUERY_PROPERTIES =
            List.of("firstname", "lastname", "email", "phone", "mobilephone", "company");

    /** A contact as search sees it: property values as strings, and the typed values it sorts dates and ids by. */
    interface Row {
        long id();

        long createdMillis();

        long modifiedMillis();

        /** The value of any property, server-owned ones included; null when it has none. */
        String value(String property);
    }

    static final class Invalid extends IllegalArgumentException {
        Invalid(String message) {
            super(message);
        }
    }

    private enum Kind {
        CREATED, MODIFIED, ID, TEXT
    }

    private record Filter(String property, Kind kind, String operator, Comparable<?> value, Comparable<?> high,
                          List<Comparable<?>> values) {
    }

    private final List<List<Filter>> groups;
    private final String sortProperty;
    private final boolean descending;
    private final List<String> properties;
    private final int limit;
    private final int after;
    private final List<String> queryTerms;

    private ContactSearch(List<List<Filter>> groups, String sortProperty, boolean descending, List<String> properties,
                          int limit, int after, List<String> queryTerms) {
        this.groups = groups;
        this.sortProperty = sortProperty;
        this.descending = descending;
        this.properties = properties;
        this.limit = limit;
        this.after = after;
        this.queryTerms = queryTerms;
    }

    /** Requested properties, or null for the default set. */
    List<String> properties() {
        return properties;
    }

    int limit() {
        return limit;
    }

    /** The offset of the first result to answer. */
    int after() {
        return after;
    }

    static ContactSearch parse(JsonNode body) {
        if (body == null || !body.isObject()) {
            throw new Invalid("The search body must be a JSON object such as {\"filterGroups\":[...],\"sorts\":[...],"
                    + "\"limit\":100,\"after\":\"0\"}");
        }
        List<List<Filter>> groups = new ArrayList<>();
        JsonNode groupsNode = body.path("filterGroups");
        if (!groupsNode.isMissingNode() && !groupsNode.isNull()) {
            if (!groupsNode.isArray()) {
                throw new Invalid("filterGroups must be an array of {\"filters\":[...]}");
            }
            if (groupsNode.size() > MAX_GROUPS) {
                throw new Invalid("Too many filterGroups: at most " + MAX_GROUPS + ", got " + groupsNode.size());
            }
            int total = 0;
            for (JsonNode group : groupsNode) {
                JsonNode filters = group.path("filters");
                if (!filters.isArray()) {
                    throw new Invalid("Each filter group needs a filters array");
                }
                if (filters.size() > MAX_FILTERS_PER_GROUP) {
                    throw new Invalid("Too many filters in one group: at most " + MAX_FILTERS_PER_GROUP + ", got "
                            + filters.size());
                }
                total += filters.size();
                List<Filter> parsed = new ArrayList<>();
                for (JsonNode filter : filters) {
                    parsed.add(filter(filter));
                }
                groups.add(parsed);
            }
            if (total > MAX_FILTERS) {
                throw new Invalid("Too many filters: at most " + MAX_FILTERS + " in all groups together, got " + total);
            }
        }
        String sortProperty = null;
        boolean descending = false;
        JsonNode sorts = body.path("sorts");
        if (!sorts.isMissingNode() && !sorts.isNull()) {
            if (!sorts.isArray()) {
                throw new Invalid("sorts must be an array such as [{\"propertyName\":\"lastmodifieddate\","
                        + "\"direction\":\"ASCENDING\"}]");
            }
            if (sorts.size() > 1) {
                throw new Invalid("Search sorts by one property only; got " + sorts.size() + " sorts");
            }
            if (sorts.size() == 1) {
                JsonNode sort = sorts.get(0);
                if (sort.isTextual()) {
                    sortProperty = sort.textValue();
                } else {
                    sortProperty = text(sort, "propertyName");
                    String direction = sort.path("direction").asText("ASCENDING");
                    if (!direction.equals("ASCENDING") && !direction.equals("DESCENDING")) {
                        throw new Invalid("Sort direction must be ASCENDING or DESCENDING, not '" + direction + "'");
                    }
                    descending = direction.equals("DESCENDING");
                }
            }
        }
        List<String> properties = null;
        JsonNode props = body.path("properties");
        if (props.isArray() && props.size() > 0) {
            properties = new ArrayList<>();
            for (JsonNode p : props) {
                properties.add(p.asText());
            }
        }
        int limit = DEFAULT_LIMIT;
        JsonNode limitNode = body.path("limit");
        if (!limitNode.isMissingNode() && !limitNode.isNull()) {
            limit = wholeNumber(limitNode, "limit");
            if (limit < 1 || limit > MAX_LIMIT) {
                throw new Invalid("limit must be from 1 to " + MAX_LIMIT + ", not " + limit);
            }
        }
        int after = 0;
        JsonNode afterNode = body.path("after");
        if (!afterNode.isMissingNode() && !afterNode.isNull() && !afterNode.asText().isEmpty()) {
            after = wholeNumber(afterNode, "after");
            if (after < 0) {
                throw new Invalid("after must be a paging cursor from a previous page, not " + after);
            }
            if (after >= RESULT_CAP) {
                throw new Invalid("Search answers at most " + RESULT_CAP + " results per query; paging to " + after
                        + " is past it. Narrow the query (for example raise the lastmodifieddate lower bound) "
                        + "instead of paging deeper");
            }
        }
        List<String> terms = new ArrayList<>();
        if (body.hasNonNull("query")) {
            for (String term : body.get("query").asText().toLowerCase(Locale.ROOT).split("\\s+")) {
                if (!term.isEmpty()) {
                    terms.add(term);
                }
            }
        }
        return new ContactSearch(groups, sortProperty, descending, properties, limit, after, terms);
    }

    boolean matches(Row row) {
        for (String term : queryTerms) {
            if (!matchesTerm(row, term)) {
                return false;
            }
        }
        if (groups.isEmpty()) {
            return true;
        }
        for (List<Filter> group : groups) {
            boolean all = true;
            for (Filter filter : group) {
                if (!test(filter, row)) {
                    all = false;
                    break;
                }
            }
            if (all) {
                return true;
            }
        }
        return false;
    }

    /** The sort asked for, ties (and no sort at all) by id ascending; rows without the value sort last. */
    Comparator<Row> order() {
        Comparator<Row> byId = Comparator.comparingLong(Row::id);
        if (sortProperty == null) {
            return byId;
        }
        Kind kind = kind(sortProperty);
        Comparator<Row> primary = switch (kind) {
            case CREATED -> Comparator.comparingLong(Row::createdMillis);
            case MODIFIED -> Comparator.comparingLong(Row::modifiedMillis);
            case ID -> byId;
            case TEXT -> (a, b) -> {
                String x = a.value(sortProperty);
                String y = b.value(sortProperty);
                if (x == null || y == null) {
                    return x == null ? (y == null ? 0 : 1) : -1;
                }
                return compareText(x, y) * (descending ? -1 : 1);
            };
        };
        if (kind != Kind.TEXT && descending) {
            primary = primary.reversed();
        }
        return primary.thenComparing(byId);
    }

    private static Filter filter(JsonNode node) {
        String property = text(node, "propertyName");
        String operator = text(node, "operator");
        if (!OPERATORS.contains(operator)) {
            throw new Invalid("Unknown filter operator '" + operator + "'; use one of " + new TreeSet<>(OPERATORS));
        }
        Kind kind = kind(property);
        Comparable<?> value = null;
        Comparable<?> high = null;
        List<Comparable<?>> values = new ArrayList<>();
        switch (operator) {
            case "HAS_PROPERTY", "NOT_HAS_PROPERTY" -> {
            }
            case "IN", "NOT_IN" -> {
                JsonNode list = node.path("values");
                if (!list.isArray() || list.isEmpty()) {
                    throw new Invalid(operator + " on " + property + " needs a non-empty values array");
                }
                for (JsonNode v : list) {
                    values.add(operand(property, kind, v));
                }
            }
            case "BETWEEN" -> {
                value = operand(property, kind, required(node, "value", property, operator));
                high = operand(property, kind, required(node, "highValue", property, operator));
            }
            default -> value = operand(property, kind, required(node, "value", property, operator));
        }
        return new Filter(property, kind, operator, value, high, values);
    }

    private static JsonNode required(JsonNode filter, String field, String property, String operator) {
        JsonNode value = filter.get(field);
        if (value == null || value.isNull() || value.isContainerNode()) {
            throw new Invalid(operator + " on " + property + " needs a " + field);
        }
        return value;
    }

    private static Kind kind(String property) {
        return switch (property) {
            case "createdate" -> Kind.CREATED;
            case "lastmodifieddate" -> Kind.MODIFIED;
            case "hs_object_id" -> Kind.ID;
            default -> Kind.TEXT;
        };
    }

    /** A filter operand as the property's kind compares it: milliseconds for dates, a long for ids. */
    private static Comparable<?> operand(String property, Kind kind, JsonNode node) {
        String text = node.asText();
        switch (kind) {
            case CREATED, MODIFIED -> {
                Long millis = millis(text);
                if (millis == null) {
                    throw new Invalid("The value for " + property + " must be epoch milliseconds such as "
                            + "1767225600000 or an ISO-8601 instant, not '" + text + "'");
                }
                return millis;
            }
            case ID -> {
                try {
                    return Long.parseLong(text.trim());
                } catch (NumberFormatException e) {
                    throw new Invalid("The value for hs_object_id must be a whole number, not '" + text + "'");
                }
            }
            default -> {
                return text;
            }
        }
    }

    private static Long millis(String text) {
        try {
            return Long.parseLong(text.trim());
        } catch (NumberFormatException e) {
            try {
                return Instant.parse(text).toEpochMilli();
            } catch (DateTimeParseException notInstant) {
                try {
                    return OffsetDateTime.parse(text).toInstant().toEpochMilli();
                } catch (DateTimeParseException notOffset) {
                    return null;
                }
            }
        }
    }

    private static boolean test(Filter f, Row row) {
        String raw = row.value(f.property());
        boolean present = raw != null;
        return switch (f.operator()) {
            case "HAS_PROPERTY" -> present;
            case "NOT_HAS_PROPERTY" -> !present;
            case "EQ" -> present && compare(f, row, f.value()) == 0;
            case "NEQ" -> !present || compare(f, row, f.value()) != 0;
            case "LT" -> present && compare(f, row, f.value()) < 0;
            case "LTE" -> present && compare(f, row, f.value()) <= 0;
            case "GT" -> present && compare(f, row, f.value()) > 0;
            case "GTE" -> present && compare(f, row, f.value()) >= 0;
            case "BETWEEN" -> present && compare(f, row, f.value()) >= 0 && compare(f, row, f.high()) <= 0;
            case "IN" -> present && f.values().stream().anyMatch(v -> compare(f, row, v) == 0);
            case "NOT_IN" -> !present || f.values().stream().noneMatch(v -> compare(f, row, v) == 0);
            case "CONTAINS_TOKEN" -> present && containsToken(raw, String.valueOf(f.value()));
            case "NOT_CONTAINS_TOKEN" -> !present || !containsToken(raw, String.valueOf(f.value()));
            default -> false;
        };
    }

    /** The row's value against an operand: dates and ids as numbers, text ignoring case (as numbers when both are). */
    private static int compare(Filter f, Row row, Comparable<?> operand) {
        return switch (f.kind()) {
            case CREATED -> Long.compare(row.createdMillis(), (Long) operand);
            case MODIFIED -> Long.compare(row.modifiedMillis(), (Long) operand);
            case ID -> Long.compare(row.id(), (Long) operand);
            case TEXT -> compareText(row.value(f.property()), (String) operand);
        };
    }

    private static int compareText(String a, String b) {
        if (NUMBER.matcher(a).matches() && NUMBER.matcher(b).matches()) {
            return new BigDecimal(a.trim()).compareTo(new BigDecimal(b.trim()));
        }
        return a.compareToIgnoreCase(b);
    }

    /** A word of the value equals the token ignoring case; {@code *} in the token matches any characters. */
    private static boolean containsToken(String value, String token) {
        String regex = "\\Q" + token.toLowerCase(Locale.ROOT).replace("*", "\\E.*\\Q") + "\\E";
        String lower = value.toLowerCase(Locale.ROOT);
        if (lower.matches(regex)) {
            return true;
        }
        for (String word : lower.split("[\\s@.,;:_\\-]+")) {
            if (word.matches(regex)) {
                return true;
            }
        }
        return false;
    }

    /** A free-text term matches when some word of a searched property starts with it. */
    private static boolean matchesTerm(Row row, String term) {
        for (String property : QUERY_PROPERTIES) {
            String value = row.value(property);
            if (value == null) {
                continue;
            }
            String lower = value.toLowerCase(Locale.ROOT);
            if (lower.startsWith(term)) {
                return true;
            }
            for (String word : lower.split("[\\s@.,;:_\\-]+")) {
                if (word.startsWith(term)) {
                    return true;
                }
            }
        }
        return false;
    }

    private static String text(JsonNode node, String field) {
        JsonNode value = node.path(field);
        if (!value.isTextual() || value.textValue().isBlank()) {
            throw new Invalid("Each filter and sort needs " + field + " as a string");
        }
        return value.textValue();
    }

    private static int wholeNumber(JsonNode node, String field) {
        String text = node.asText().trim();
        try {
            return Integer.parseInt(text);
        } catch (NumberFormatException e) {
            throw new Invalid(field + " must be a whole number, not '" + text + "'");
        }
    }
}
