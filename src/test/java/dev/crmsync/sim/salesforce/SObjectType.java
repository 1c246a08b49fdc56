package dev.crmsync.sim.salesforce;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The person objects the simulated org holds, with the standard fields the connector uses. Field names
 * are matched ignoring case, as Salesforce does, and answered in their canonical spelling. Any name
 * ending in {@code __c} is a custom field of either object (see {@link SalesforceSimulator}). Each
 * object also has its field history object ({@code ContactHistory}, {@code LeadHistory}), reached from
 * a record through the child relationship {@code Histories}.
 */
enum SObjectType {

    CONTACT("Contact", "003", "ContactHistory", "ContactId", List.of(
            Field.text("FirstName", "First Name", 40),
            Field.text("LastName", "Last Name", 80),
            Field.email("Email", "Email", 80),
            Field.text("Phone", "Business Phone", 40),
            Field.text("MobilePhone", "Mobile Phone", 40),
            Field.text("Title", "Title", 128),
            Field.reference("AccountId", "Account ID", "001")),
            List.of("LastName")),

    LEAD("Lead", "00Q", "LeadHistory", "LeadId", List.of(
            Field.text("FirstName", "First Name", 40),
            Field.text("LastName", "Last Name", 80),
            Field.email("Email", "Email", 80),
            Field.text("Phone", "Phone", 40),
            Field.text("MobilePhone", "Mobile Phone", 40),
            Field.text("Title", "Title", 128),
            Field.text("Company", "Company", 255)),
            List.of("LastName", "Company"));

    /** How a field's values compare and which SOQL literals it takes. */
    enum Kind {
        /** An 18-character record id (Id and lookups such as AccountId); compared exactly. */
        ID,
        BOOLEAN,
        DATETIME,
        /** Text; compared ignoring case, as SOQL does. */
        STRING,
        /** A custom field: whatever scalar was stored. */
        ANY
    }

    /**
     * One field. {@code writable} false for the fields the server owns; {@code maxLength} 0 for no
     * limit; {@code referencePrefix} the key prefix a lookup's value must carry.
     */
    record Field(String name, String label, Kind kind, boolean writable, int maxLength, boolean email,
                 String referencePrefix) {

        static Field text(String name, String label, int maxLength) {
            return new Field(name, label, Kind.STRING, true, maxLength, false, null);
        }

        static Field email(String name, String label, int maxLength) {
            return new Field(name, label, Kind.STRING, true, maxLength, true, null);
        }

        static Field reference(String name, String label, String prefix) {
            return new Field(name, label, Kind.ID, true, 18, false, prefix);
        }

        static Field system(String name, String label, Kind kind) {
            return new Field(name, label, kind, false, 0, false, null);
        }

        static Field custom(String name) {
            return new Field(name, name, Kind.ANY, true, 0, false, null);
        }
    }

    static final String ID = "Id";
    static final String IS_DELETED = "IsDeleted";
    static final String CREATED_DATE = "CreatedDate";
    static final String LAST_MODIFIED_DATE = "LastModifiedDate";
    static final String SYSTEM_MODSTAMP = "SystemModstamp";

    /** The child relationship from a record to its field history rows. */
    static final String HISTORIES = "Histories";
    /** The key prefix of history row ids (ContactHistory's; LeadHistory shares it here). */
    static final String HISTORY_KEY_PREFIX = "017";
    static final String HISTORY_FIELD = "Field";
    static final String HISTORY_OLD_VALUE = "OldValue";
    static final String HISTORY_NEW_VALUE = "NewValue";
    /** The {@code Field} of the one row a create writes, as Salesforce writes it. */
    static final String HISTORY_CREATED = "created";

    private final String apiName;
    private final String keyPrefix;
    /** Every standard field in the order a full record lists them. */
    private final Map<String, Field> fields = new LinkedHashMap<>();
    private final Map<String, Field> byLowerName = new LinkedHashMap<>();
    private final List<String> required;
    private final String historyName;
    private final Map<String, Field> historyByLowerName = new LinkedHashMap<>();

    SObjectType(String apiName, String keyPrefix, String historyName, String historyParentField,
                List<Field> userFields, List<String> required) {
        this.apiName = apiName;
        this.keyPrefix = keyPrefix;
        this.required = required;
        this.historyName = historyName;
        for (Field field : List.of(Field.system(ID, "History ID", Kind.ID),
                Field.system(historyParentField, apiName + " ID", Kind.ID),
                Field.system(HISTORY_FIELD, "Changed Field", Kind.STRING),
                Field.system(HISTORY_OLD_VALUE, "Old Value", Kind.ANY),
                Field.system(HISTORY_NEW_VALUE, "New Value", Kind.ANY),
                Field.system(CREATED_DATE, "Created Date", Kind.DATETIME))) {
            historyByLowerName.put(field.name().toLowerCase(Locale.ROOT), field);
        }
        add(Field.system(ID, "Record ID", Kind.ID));
        add(Field.system(IS_DELETED, "Deleted", Kind.BOOLEAN));
        userFields.forEach(this::add);
        add(Field.system(CREATED_DATE, "Created Date", Kind.DATETIME));
        add(Field.system(LAST_MODIFIED_DATE, "Last Modified Date", Kind.DATETIME));
        add(Field.system(SYSTEM_MODSTAMP, "System Modstamp", Kind.DATETIME));
    }

    private void add(Field field) {
        fields.put(field.name(), field);
        byLowerName.put(field.name().toLowerCase(Locale.ROOT), field);
    }

    String apiName() {
        return apiName;
    }

    String keyPrefix() {
        return keyPrefix;
    }

    Map<String, Field> fields() {
        return fields;
    }

    /** The standard field with this name in any case. */
    Optional<Field> standard(String name) {
        return Optional.ofNullable(byLowerName.get(name.toLowerCase(Locale.ROOT)));
    }

    List<String> required() {
        return required;
    }

    /** {@code ContactHistory} or {@code LeadHistory}: the object of this one's {@code Histories} rows. */
    String historyName() {
        return historyName;
    }

    /**
     * A field of the history object in any case: {@code Id}, {@code ContactId} or {@code LeadId},
     * {@code Field}, {@code OldValue}, {@code NewValue}, {@code CreatedDate}.
     */
    Optional<Field> historyField(String name) {
        return Optional.ofNullable(historyByLowerName.get(name.toLowerCase(Locale.ROOT)));
    }

    /** {@code Contact} or {@code Lead} in any case. */
    static Optional<SObjectType> named(String name) {
        for (SObjectType type : values()) {
            if (type.apiName.equalsIgnoreCase(name)) {
                return Optional.of(type);
            }
        }
        return Optional.empty();
    }

    /** The object a record id belongs to, by its key prefix. */
    static Optional<SObjectType> ofId(String id) {
        for (SObjectType type : values()) {
            if (id != null && id.startsWith(type.keyPrefix)) {
                return Optional.of(type);
            }
        }
        return Optional.empty();
    }

    static boolean isCustomName(String name) {
        return name.length() > 3 && name.regionMatches(true, name.length() - 3, "__c", 0, 3)
                && name.matches("[A-Za-z][A-Za-z0-9_]*");
    }

    @Override
    public String toString() {
        return apiName;
    }
}
