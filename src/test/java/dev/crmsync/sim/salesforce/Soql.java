package dev.crmsync.sim.salesforce;

import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.crmsync.sim.salesforce.SObjectType.Field;
import dev.crmsync.sim.salesforce.SObjectType.Kind;

/**
 * A small, strict SOQL: the statements a sync connector sends, answered exactly, and an error for
 * everything else rather than a silently wrong answer.
 *
 * <pre>
 * SELECT item [, item]... FROM Contact|Lead
 *   [WHERE condition]
 *   [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST] [, ...]]
 *   [LIMIT n]
 *
 * item      := field
 *            | ( SELECT historyField [, historyField]... FROM Histories
 *                [WHERE condition] [ORDER BY ...] [LIMIT n] )           (at most one)
 * historyField := Id | ContactId (Contact) | LeadId (Lead) | Field | OldValue | NewValue | CreatedDate
 * condition := term [AND term]... | term [OR term]...      (mixing AND and OR needs parentheses, as in SOQL)
 * term      := ( condition ) | NOT term
 *            | field (= | != | &lt;&gt; | &lt; | &lt;= | &gt; | &gt;=) literal
 *            | field [NOT] IN ( literal [, literal]... )
 * literal   := 'text' (escapes \' \" \\ \n \r \t \b \f) | 2026-05-20T20:49:32.000+0000 | ...Z | ...+00:00
 *            | true | false | null | 42 | -1.5
 * </pre>
 *
 * Keywords and field names in any case. Text compares ignoring case, ids exactly (a 15-character id
 * literal is taken as its 18-character form), datetimes by instant. {@code != 'x'} and {@code NOT IN}
 * also match null values. Without ORDER BY, rows come in Id order, and a record's history rows oldest
 * first. The {@code Histories} sub-query reads the record's field history ({@code ContactHistory},
 * {@code LeadHistory}); its conditions and order name the history fields. Errors are Salesforce's:
 * {@code MALFORMED_QUERY} for syntax and for the parts of SOQL not supported here (relationship
 * fields, functions, semi-joins and nested sub-queries, LIKE, date literals, bind variables, GROUP BY,
 * OFFSET, ...), {@code INVALID_FIELD} for an unknown field or a literal of the wrong type,
 * {@code INVALID_TYPE} for another object or a child relationship other than {@code Histories},
 * {@code INVALID_QUERY_FILTER_OPERATOR} for a bad id literal or operator.
 */
final class Soql {

    /** A query Salesforce would refuse: {@code errorCode} and a message in Salesforce's form. */
    static final class SoqlException extends RuntimeException {
        private final String errorCode;

        SoqlException(String errorCode, String message) {
            super(message);
            this.errorCode = errorCode;
        }

        String errorCode() {
            return errorCode;
        }
    }

    /** Resolves a field name of an object, in any case, to its field; null if it has none such. */
    interface Schema {
        Field field(SObjectType type, String name);
    }

    /** A record as a query sees it: values by canonical field name, datetimes as {@link Instant}. */
    interface Row {
        Object get(String field);
    }

    enum Op {
        EQ, NE, LT, LE, GT, GE;

        boolean range() {
            return this != EQ && this != NE;
        }
    }

    enum LiteralKind {
        STRING, DATETIME, DATE, NUMBER, BOOLEAN, NULL
    }

    record Literal(LiteralKind kind, Object value, String text) {
    }

    sealed interface Condition permits All, Any, Not, Compare, In {
        boolean test(Row row);
    }

    record All(List<Condition> parts) implements Condition {
        public boolean test(Row row) {
            return parts.stream().allMatch(p -> p.test(row));
        }
    }

    record Any(List<Condition> parts) implements Condition {
        public boolean test(Row row) {
            return parts.stream().anyMatch(p -> p.test(row));
        }
    }

    record Not(Condition inner) implements Condition {
        public boolean test(Row row) {
            return !inner.test(row);
        }
    }

    record Compare(Field field, Op op, Literal literal) implements Condition {
        public boolean test(Row row) {
            Object value = row.get(field.name());
            if (literal.kind() == LiteralKind.NULL) {
                return op == Op.EQ ? value == null : value != null;
            }
            if (value == null) {
                return op == Op.NE;
            }
            Integer c = compare(field.kind(), value, literal);
            if (c == null) {
                return op == Op.NE;
            }
            return switch (op) {
                case EQ -> c == 0;
                case NE -> c != 0;
                case LT -> c < 0;
                case LE -> c <= 0;
                case GT -> c > 0;
                case GE -> c >= 0;
            };
        }
    }

    record In(Field field, boolean negated, List<Literal> literals) implements Condition {
        public boolean test(Row row) {
            Object value = row.get(field.name());
            boolean found = false;
            for (Literal literal : literals) {
                if (literal.kind() == LiteralKind.NULL ? value == null
                        : value != null && Integer.valueOf(0).equals(compare(field.kind(), value, literal))) {
                    found = true;
                    break;
                }
            }
            return found != negated;
        }
    }

    record Order(Field field, boolean descending, boolean nullsFirst) {
    }

    /**
     * A parsed query: the object, the selected fields (canonical names, in order), the child
     * sub-queries (at most one, on {@code Histories}), filter, order, limit.
     */
    record Query(SObjectType type, List<Field> fields, List<SubQuery> children, Condition where,
                 List<Order> orderBy, Integer limit) {

        boolean matches(Row row) {
            return where == null || where.test(row);
        }

        /** The ORDER BY as a comparator; ties keep the order they came in (Id order). */
        Comparator<Row> comparator() {
            return Soql.comparator(orderBy);
        }
    }

    /**
     * A parent-to-child sub-query in the SELECT list: {@code name} as the query spelled the
     * relationship (the key its rows are answered under), {@code position} the number of plain fields
     * selected before it, then the history fields, filter, order and limit.
     */
    record SubQuery(String name, int position, List<Field> fields, Condition where, List<Order> orderBy,
                    Integer limit) {

        boolean matches(Row row) {
            return where == null || where.test(row);
        }

        /** The ORDER BY as a comparator; without one rows stay in the order they came in (oldest first). */
        Comparator<Row> comparator() {
            return Soql.comparator(orderBy);
        }

        /** Whether the first sort key is descending: rows equal on it then come newest first. */
        boolean descending() {
            return !orderBy.isEmpty() && orderBy.get(0).descending();
        }
    }

    private static Comparator<Row> comparator(List<Order> orderBy) {
        Comparator<Row> all = (a, b) -> 0;
        for (Order order : orderBy) {
            all = all.thenComparing((a, b) -> compareForOrder(order, a.get(order.field().name()),
                    b.get(order.field().name())));
        }
        return all;
    }

    private static final Set<String> RESERVED = Set.of("SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN",
            "ORDER", "BY", "LIMIT", "ASC", "DESC", "NULLS", "TRUE", "FALSE", "NULL", "LIKE", "INCLUDES",
            "EXCLUDES", "GROUP", "HAVING", "OFFSET", "WITH", "FOR", "USING", "TYPEOF", "UPDATE", "ALL");
    private static final Set<String> UNSUPPORTED = Set.of("LIKE", "INCLUDES", "EXCLUDES", "GROUP", "HAVING",
            "OFFSET", "WITH", "FOR", "USING", "TYPEOF", "UPDATE", "ALL");

    private static final Pattern DATETIME =
            Pattern.compile("\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,3})?(Z|[+-]\\d{2}:?\\d{2})");
    private static final Pattern DATE = Pattern.compile("\\d{4}-\\d{2}-\\d{2}");
    private static final Pattern NUMBER = Pattern.compile("[+-]?\\d+(\\.\\d+)?");

    private enum TokenType {
        WORD, STRING, DATETIME, DATE, NUMBER, SYMBOL, END
    }

    private record Token(TokenType type, String text, Object value, int pos) {

        boolean is(String keyword) {
            return type == TokenType.WORD && text.equalsIgnoreCase(keyword);
        }

        boolean isSymbol(String symbol) {
            return type == TokenType.SYMBOL && text.equals(symbol);
        }

        String shown() {
            return type == TokenType.END ? "<EOF>" : text;
        }
    }

    private final String soql;
    private final Schema schema;
    private final List<Token> tokens;
    private int next;
    private SObjectType type;
    /** Inside a {@code Histories} sub-query: names resolve to the history object's fields. */
    private boolean inHistory;

    private Soql(String soql, Schema schema) {
        this.soql = soql;
        this.schema = schema;
        this.tokens = tokenize();
    }

    static Query parse(String soql, Schema schema) {
        return new Soql(soql, schema).query();
    }

    // ---------------------------------------------------------------- grammar

    private Query query() {
        expectKeyword("SELECT");
        List<Token> fieldTokens = new ArrayList<>();
        // Sub-queries are parsed once FROM has named the parent object: where each starts, and how
        // many plain fields come before it.
        List<int[]> subQueryStarts = new ArrayList<>();
        do {
            Token t = peek();
            if (t.isSymbol("(")) {
                subQueryStarts.add(new int[] {next, fieldTokens.size()});
                skipParenthesised();
                continue;
            }
            if (t.is("TYPEOF")) {
                throw unsupported(t, "TYPEOF");
            }
            fieldTokens.add(fieldName());
        } while (acceptSymbol(","));
        expectKeyword("FROM");
        Token from = next();
        if (from.type() != TokenType.WORD || RESERVED.contains(from.text().toUpperCase(Locale.ROOT))) {
            throw malformed(from, "unexpected token: '" + from.shown() + "'");
        }
        type = SObjectType.named(from.text()).orElseThrow(() -> error("INVALID_TYPE", from,
                "sObject type '" + from.text() + "' is not supported. The simulator holds Contact and Lead."));
        List<Field> fields = selected(fieldTokens);
        int afterFrom = next;
        List<SubQuery> children = new ArrayList<>();
        for (int[] start : subQueryStarts) {
            next = start[0];
            Token at = peek();
            SubQuery child = subQuery(start[1]);
            if (!children.isEmpty()) {
                throw malformed(at, "duplicate field selected: " + child.name());
            }
            children.add(child);
        }
        next = afterFrom;
        Condition where = null;
        if (acceptKeyword("WHERE")) {
            where = condition();
        }
        List<Order> orderBy = orderBy();
        Integer limit = limit();
        Token end = peek();
        if (end.type() != TokenType.END) {
            if (end.type() == TokenType.WORD && UNSUPPORTED.contains(end.text().toUpperCase(Locale.ROOT))) {
                throw unsupported(end, end.text().toUpperCase(Locale.ROOT));
            }
            throw malformed(end, "unexpected token: '" + end.shown() + "'");
        }
        return new Query(type, List.copyOf(fields), List.copyOf(children), where, List.copyOf(orderBy), limit);
    }

    /** Moves past a parenthesised part of the SELECT list, nested parentheses included. */
    private void skipParenthesised() {
        int depth = 0;
        do {
            Token t = next();
            if (t.type() == TokenType.END) {
                throw malformed(t, "unexpected token: '" + t.shown() + "' (expected ))");
            }
            if (t.isSymbol("(")) {
                depth++;
            } else if (t.isSymbol(")")) {
                depth--;
            }
        } while (depth > 0);
    }

    /**
     * {@code (SELECT f [, f]... FROM Histories [WHERE ...] [ORDER BY ...] [LIMIT n])}: the only child
     * relationship here is a record's field history; fields and conditions name the history object's
     * fields ({@link SObjectType#historyField(String)}).
     */
    private SubQuery subQuery(int position) {
        expectSymbol("(");
        expectKeyword("SELECT");
        List<Token> fieldTokens = new ArrayList<>();
        do {
            Token t = peek();
            if (t.isSymbol("(")) {
                throw malformed(t, "unexpected token: '(' (a sub-query cannot hold another sub-query)");
            }
            fieldTokens.add(fieldName());
        } while (acceptSymbol(","));
        expectKeyword("FROM");
        Token relationship = next();
        if (relationship.type() != TokenType.WORD
                || RESERVED.contains(relationship.text().toUpperCase(Locale.ROOT))) {
            throw malformed(relationship, "unexpected token: '" + relationship.shown() + "'");
        }
        if (!relationship.text().equalsIgnoreCase(SObjectType.HISTORIES)) {
            throw error("INVALID_TYPE", relationship, "Didn't understand relationship '" + relationship.text()
                    + "' in field path. If you are attempting to use a custom relationship, be sure to append the"
                    + " '__r' after the custom relationship name. Please reference your WSDL or the describe call"
                    + " for the appropriate names. (The Salesforce simulator serves only Histories.)");
        }
        inHistory = true;
        try {
            List<Field> fields = selected(fieldTokens);
            Condition where = null;
            if (acceptKeyword("WHERE")) {
                where = condition();
            }
            List<Order> orderBy = orderBy();
            Integer limit = limit();
            Token end = peek();
            if (end.type() == TokenType.WORD && UNSUPPORTED.contains(end.text().toUpperCase(Locale.ROOT))) {
                throw unsupported(end, end.text().toUpperCase(Locale.ROOT));
            }
            expectSymbol(")");
            return new SubQuery(relationship.text(), position, List.copyOf(fields), where, List.copyOf(orderBy),
                    limit);
        } finally {
            inHistory = false;
        }
    }

    private List<Order> orderBy() {
        List<Order> orderBy = new ArrayList<>();
        if (acceptKeyword("ORDER")) {
            expectKeyword("BY");
            do {
                Field field = resolve(fieldName());
                boolean descending = false;
                if (acceptKeyword("DESC")) {
                    descending = true;
                } else {
                    acceptKeyword("ASC");
                }
                boolean nullsFirst = !descending;
                if (acceptKeyword("NULLS")) {
                    if (acceptKeyword("FIRST")) {
                        nullsFirst = true;
                    } else if (acceptKeyword("LAST")) {
                        nullsFirst = false;
                    } else {
                        throw malformed(peek(), "unexpected token: '" + peek().shown() + "'");
                    }
                }
                orderBy.add(new Order(field, descending, nullsFirst));
            } while (acceptSymbol(","));
        }
        return orderBy;
    }

    private Integer limit() {
        if (!acceptKeyword("LIMIT")) {
            return null;
        }
        Token n = next();
        if (n.type() != TokenType.NUMBER || ((BigDecimal) n.value()).signum() < 0
                || ((BigDecimal) n.value()).scale() > 0 || ((BigDecimal) n.value()).compareTo(
                BigDecimal.valueOf(Integer.MAX_VALUE)) > 0) {
            throw malformed(n, "unexpected token: '" + n.shown() + "' (LIMIT takes a whole number)");
        }
        return ((BigDecimal) n.value()).intValueExact();
    }

    private Condition condition() {
        List<Condition> parts = new ArrayList<>();
        parts.add(term());
        String connective = null;
        while (peek().is("AND") || peek().is("OR")) {
            Token t = next();
            String word = t.text().toUpperCase(Locale.ROOT);
            if (connective != null && !connective.equals(word)) {
                throw malformed(t, "unexpected token: '" + t.text() + "' (put parentheses around conditions"
                        + " to combine AND with OR)");
            }
            connective = word;
            parts.add(term());
        }
        if (parts.size() == 1) {
            return parts.get(0);
        }
        return "AND".equals(connective) ? new All(List.copyOf(parts)) : new Any(List.copyOf(parts));
    }

    private Condition term() {
        if (acceptSymbol("(")) {
            Condition inner = condition();
            expectSymbol(")");
            return inner;
        }
        if (acceptKeyword("NOT")) {
            return new Not(term());
        }
        Token name = fieldName();
        Field field = resolve(name);
        Token op = next();
        if (op.is("IN")) {
            return in(field, false);
        }
        if (op.is("NOT")) {
            expectKeyword("IN");
            return in(field, true);
        }
        if (op.type() == TokenType.WORD && UNSUPPORTED.contains(op.text().toUpperCase(Locale.ROOT))) {
            throw unsupported(op, op.text().toUpperCase(Locale.ROOT));
        }
        if (op.type() != TokenType.SYMBOL) {
            throw malformed(op, "unexpected token: '" + op.shown() + "'");
        }
        Op operator = switch (op.text()) {
            case "=" -> Op.EQ;
            case "!=", "<>" -> Op.NE;
            case "<" -> Op.LT;
            case "<=" -> Op.LE;
            case ">" -> Op.GT;
            case ">=" -> Op.GE;
            default -> throw malformed(op, "unexpected token: '" + op.shown() + "'");
        };
        Token at = peek();
        Literal literal = checked(field, operator, literal(), at);
        return new Compare(field, operator, literal);
    }

    private Condition in(Field field, boolean negated) {
        expectSymbol("(");
        List<Literal> literals = new ArrayList<>();
        do {
            Token at = peek();
            literals.add(checked(field, Op.EQ, literal(), at));
        } while (acceptSymbol(","));
        expectSymbol(")");
        return new In(field, negated, List.copyOf(literals));
    }

    private Literal literal() {
        Token t = next();
        return switch (t.type()) {
            case STRING -> new Literal(LiteralKind.STRING, t.value(), t.text());
            case DATETIME -> new Literal(LiteralKind.DATETIME, t.value(), t.text());
            case DATE -> new Literal(LiteralKind.DATE, t.value(), t.text());
            case NUMBER -> new Literal(LiteralKind.NUMBER, t.value(), t.text());
            case WORD -> {
                if (t.is("true") || t.is("false")) {
                    yield new Literal(LiteralKind.BOOLEAN, t.is("true"), t.text());
                }
                if (t.is("null")) {
                    yield new Literal(LiteralKind.NULL, null, t.text());
                }
                throw malformed(t, "unexpected token: '" + t.text() + "' (the simulator takes quoted text,"
                        + " datetimes, numbers, true, false and null; no date literals such as TODAY)");
            }
            default -> throw malformed(t, "unexpected token: '" + t.shown() + "'");
        };
    }

    /** Checks a literal fits its field, as Salesforce does; answers it, ids in 18-character form. */
    private Literal checked(Field field, Op op, Literal literal, Token at) {
        if (literal.kind() == LiteralKind.NULL) {
            if (op.range()) {
                throw error("INVALID_QUERY_FILTER_OPERATOR", at, "invalid operator on null: only = and != compare"
                        + " with null");
            }
            return literal;
        }
        switch (field.kind()) {
            case ID -> {
                if (literal.kind() != LiteralKind.STRING) {
                    throw wrongType(at, field, "id", true);
                }
                String id = SalesforceIds.normalize((String) literal.value());
                if (id == null) {
                    throw error("INVALID_QUERY_FILTER_OPERATOR", at, "invalid ID field: " + literal.value());
                }
                return new Literal(LiteralKind.STRING, id, literal.text());
            }
            case BOOLEAN -> {
                if (literal.kind() != LiteralKind.BOOLEAN) {
                    throw wrongType(at, field, "boolean", false);
                }
                if (op.range()) {
                    throw error("INVALID_QUERY_FILTER_OPERATOR", at, "invalid operator on boolean field: "
                            + field.name());
                }
                return literal;
            }
            case DATETIME -> {
                if (literal.kind() != LiteralKind.DATETIME) {
                    throw wrongType(at, field, "dateTime", false);
                }
                return literal;
            }
            case STRING -> {
                if (literal.kind() != LiteralKind.STRING) {
                    throw wrongType(at, field, "string", true);
                }
                return literal;
            }
            default -> {
                return literal;
            }
        }
    }

    private SoqlException wrongType(Token at, Field field, String typeName, boolean quoted) {
        return error("INVALID_FIELD", at, "value of filter criterion for field '" + field.name() + "' must be of type "
                + typeName + " and should " + (quoted ? "" : "not ") + "be enclosed in quotes");
    }

    private Token fieldName() {
        Token t = next();
        if (t.type() != TokenType.WORD || RESERVED.contains(t.text().toUpperCase(Locale.ROOT))) {
            if (t.type() == TokenType.WORD && UNSUPPORTED.contains(t.text().toUpperCase(Locale.ROOT))) {
                throw unsupported(t, t.text().toUpperCase(Locale.ROOT));
            }
            throw malformed(t, "unexpected token: '" + t.shown() + "'");
        }
        if (peek().isSymbol("(")) {
            throw unsupported(t, "functions such as " + t.text() + "()");
        }
        return t;
    }

    /** The fields a SELECT list names, resolved on the object in scope; a field named twice is refused. */
    private List<Field> selected(List<Token> fieldTokens) {
        List<Field> fields = new ArrayList<>();
        Set<String> seen = new LinkedHashSet<>();
        for (Token t : fieldTokens) {
            Field field = resolve(t);
            if (!seen.add(field.name())) {
                throw malformed(t, "duplicate field selected: " + field.name());
            }
            fields.add(field);
        }
        return fields;
    }

    private Field resolve(Token name) {
        if (inHistory) {
            return type.historyField(name.text()).orElseThrow(() -> error("INVALID_FIELD", name, "No such column '"
                    + name.text() + "' on entity '" + type.historyName() + "'. If you are attempting to use a custom"
                    + " field, be sure to append the '__c' after the custom field name. Please reference your WSDL or"
                    + " the describe call for the appropriate names. (The simulator's history rows have Id, "
                    + type.apiName() + "Id, Field, OldValue, NewValue and CreatedDate.)"));
        }
        Field field = schema.field(type, name.text());
        if (field == null) {
            throw error("INVALID_FIELD", name, "No such column '" + name.text() + "' on entity '" + type.apiName()
                    + "'. If you are attempting to use a custom field, be sure to append the '__c' after the custom"
                    + " field name. Please reference your WSDL or the describe call for the appropriate names.");
        }
        return field;
    }

    // ---------------------------------------------------------------- tokens

    private Token peek() {
        return tokens.get(next);
    }

    private Token next() {
        Token t = tokens.get(next);
        if (t.type() != TokenType.END) {
            next++;
        }
        return t;
    }

    private boolean acceptKeyword(String keyword) {
        if (peek().is(keyword)) {
            next++;
            return true;
        }
        return false;
    }

    private boolean acceptSymbol(String symbol) {
        if (peek().isSymbol(symbol)) {
            next++;
            return true;
        }
        return false;
    }

    private void expectKeyword(String keyword) {
        Token t = next();
        if (!t.is(keyword)) {
            throw malformed(t, "unexpected token: '" + t.shown() + "' (expected " + keyword + ")");
        }
    }

    private void expectSymbol(String symbol) {
        Token t = next();
        if (!t.isSymbol(symbol)) {
            throw malformed(t, "unexpected token: '" + t.shown() + "' (expected " + symbol + ")");
        }
    }

    private List<Token> tokenize() {
        List<Token> list = new ArrayList<>();
        int i = 0;
        int n = soql.length();
        while (true) {
            while (i < n && Character.isWhitespace(soql.charAt(i))) {
                i++;
            }
            if (i >= n) {
                list.add(new Token(TokenType.END, "", null, n));
                return list;
            }
            char c = soql.charAt(i);
            int start = i;
            if (Character.isLetter(c) || c == '_') {
                while (i < n && (Character.isLetterOrDigit(soql.charAt(i)) || soql.charAt(i) == '_')) {
                    i++;
                }
                String word = soql.substring(start, i);
                if (i < n && soql.charAt(i) == '.') {
                    throw unsupportedAt(start, "relationship fields such as " + word + ".Name");
                }
                if (i < n && soql.charAt(i) == ':') {
                    throw unsupportedAt(start, "date literals such as " + word + ":n");
                }
                list.add(new Token(TokenType.WORD, word, null, start));
            } else if (c == '\'') {
                StringBuilder text = new StringBuilder();
                i++;
                boolean closed = false;
                while (i < n) {
                    char d = soql.charAt(i);
                    if (d == '\\') {
                        if (i + 1 >= n) {
                            break;
                        }
                        char e = soql.charAt(i + 1);
                        switch (e) {
                            case '\'', '"', '\\' -> text.append(e);
                            case 'n' -> text.append('\n');
                            case 'r' -> text.append('\r');
                            case 't' -> text.append('\t');
                            case 'b' -> text.append('\b');
                            case 'f' -> text.append('\f');
                            default -> throw malformedAt(i, "Invalid string literal '" + soql.substring(start,
                                    Math.min(n, i + 2)) + "...'. Illegal character sequence '\\" + e
                                    + "' in string literal.");
                        }
                        i += 2;
                    } else if (d == '\'') {
                        i++;
                        closed = true;
                        break;
                    } else {
                        text.append(d);
                        i++;
                    }
                }
                if (!closed) {
                    throw malformedAt(start, "unterminated string literal: " + soql.substring(start));
                }
                list.add(new Token(TokenType.STRING, soql.substring(start, i), text.toString(), start));
            } else if (Character.isDigit(c) || ((c == '-' || c == '+') && i + 1 < n
                    && Character.isDigit(soql.charAt(i + 1)))) {
                Matcher m = DATETIME.matcher(soql).region(i, n);
                Token token;
                if (m.lookingAt()) {
                    i = m.end();
                    token = new Token(TokenType.DATETIME, m.group(), datetime(m.group(), start), start);
                } else if ((m = DATE.matcher(soql).region(i, n)).lookingAt()) {
                    i = m.end();
                    try {
                        token = new Token(TokenType.DATE, m.group(), LocalDate.parse(m.group()), start);
                    } catch (DateTimeParseException e) {
                        throw malformedAt(start, "invalid date: " + m.group());
                    }
                } else if ((m = NUMBER.matcher(soql).region(i, n)).lookingAt()) {
                    i = m.end();
                    token = new Token(TokenType.NUMBER, m.group(), new BigDecimal(m.group()), start);
                } else {
                    throw malformedAt(start, "unexpected token: '" + c + "'");
                }
                if (i < n && (Character.isLetterOrDigit(soql.charAt(i)) || soql.charAt(i) == '_'
                        || soql.charAt(i) == ':' || soql.charAt(i) == '.')) {
                    throw malformedAt(start, "unexpected token: '" + soql.substring(start, Math.min(n, i + 1))
                            + "' (datetimes are written 2026-05-20T20:49:32.000+0000 or 2026-05-20T20:49:32Z)");
                }
                list.add(token);
            } else if (c == ':') {
                throw unsupportedAt(start, "bind variables");
            } else {
                String two = i + 1 < n ? soql.substring(i, i + 2) : "";
                if (two.equals("!=") || two.equals("<>") || two.equals("<=") || two.equals(">=")) {
                    list.add(new Token(TokenType.SYMBOL, two, null, start));
                    i += 2;
                } else if ("=<>(),".indexOf(c) >= 0) {
                    list.add(new Token(TokenType.SYMBOL, String.valueOf(c), null, start));
                    i++;
                } else {
                    throw malformedAt(start, "unexpected token: '" + c + "'");
                }
            }
        }
    }

    private Instant datetime(String text, int pos) {
        String iso = text;
        if (!iso.endsWith("Z")) {
            String offset = iso.substring(iso.length() - (iso.charAt(iso.length() - 3) == ':' ? 6 : 5));
            if (offset.length() == 5) {
                iso = iso.substring(0, iso.length() - 5) + offset.substring(0, 3) + ":" + offset.substring(3);
            }
        }
        try {
            return OffsetDateTime.parse(iso).toInstant();
        } catch (DateTimeParseException e) {
            throw malformedAt(pos, "invalid datetime: " + text);
        }
    }

    // ---------------------------------------------------------------- comparison

    /** How a stored value compares with a literal; null when they cannot be compared (no match). */
    static Integer compare(Kind kind, Object value, Literal literal) {
        Object other = literal.value();
        switch (kind) {
            case ID:
                return value.toString().compareTo((String) other);
            case STRING:
                return String.CASE_INSENSITIVE_ORDER.compare(value.toString(), (String) other);
            case DATETIME:
                return ((Instant) value).compareTo((Instant) other);
            case BOOLEAN:
                return Boolean.compare((Boolean) value, (Boolean) other);
            default:
                if (value instanceof String s && literal.kind() == LiteralKind.STRING) {
                    return String.CASE_INSENSITIVE_ORDER.compare(s, (String) other);
                }
                if (value instanceof Number num && literal.kind() == LiteralKind.NUMBER) {
                    return new BigDecimal(num.toString()).compareTo((BigDecimal) other);
                }
                if (value instanceof Boolean b && literal.kind() == LiteralKind.BOOLEAN) {
                    return Boolean.compare(b, (Boolean) other);
                }
                return null;
        }
    }

    private static int compareForOrder(Order order, Object a, Object b) {
        if (a == null || b == null) {
            if (a == b) {
                return 0;
            }
            return (a == null) == order.nullsFirst() ? -1 : 1;
        }
        int c;
        if (a instanceof String x && b instanceof String y) {
            c = order.field().kind() == Kind.ID ? x.compareTo(y) : String.CASE_INSENSITIVE_ORDER.compare(x, y);
        } else if (a instanceof Instant x && b instanceof Instant y) {
            c = x.compareTo(y);
        } else if (a instanceof Boolean x && b instanceof Boolean y) {
            c = Boolean.compare(x, y);
        } else if (a instanceof Number x && b instanceof Number y) {
            c = new BigDecimal(x.toString()).compareTo(new BigDecimal(y.toString()));
        } else {
            c = a.getClass().getSimpleName().compareTo(b.getClass().getSimpleName());
        }
        return order.descending() ? -c : c;
    }

    // ---------------------------------------------------------------- errors

    private SoqlException malformed(Token at, String detail) {
        return error("MALFORMED_QUERY", at, detail);
    }

    private SoqlException unsupported(Token at, String what) {
        return error("MALFORMED_QUERY", at, "unexpected token: '" + at.shown() + "' (the Salesforce simulator"
                + " does not support " + what + ")");
    }

    private SoqlException error(String code, Token at, String detail) {
        return new SoqlException(code, located(at.pos(), detail));
    }

    private SoqlException malformedAt(int pos, String detail) {
        return new SoqlException("MALFORMED_QUERY", located(pos, detail));
    }

    private SoqlException unsupportedAt(int pos, String what) {
        return new SoqlException("MALFORMED_QUERY", located(pos, "the Salesforce simulator does not support "
                + what));
    }

    /** Salesforce's form: the query line, a caret under the spot, {@code ERROR at Row:r:Column:c}, detail. */
    private String located(int pos, String detail) {
        int row = 1;
        int lineStart = 0;
        for (int i = 0; i < pos && i < soql.length(); i++) {
            if (soql.charAt(i) == '\n') {
                row++;
                lineStart = i + 1;
            }
        }
        int lineEnd = soql.indexOf('\n', lineStart);
        String line = soql.substring(lineStart, lineEnd < 0 ? soql.length() : lineEnd);
        int column = pos - lineStart + 1;
        return "\n" + line + "\n" + " ".repeat(Math.max(0, column - 1)) + "^\nERROR at Row:" + row + ":Column:"
                + column + "\n" + detail;
    }
}
