package dev.crmsync.provider.salesforce;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crmsync.mapping.FieldPath;
import dev.crmsync.mapping.Mapping;
import dev.crmsync.mapping.Mappings;
import dev.crmsync.provider.CrmClient;
import dev.crmsync.provider.ProviderPauses;
import dev.crmsync.provider.RecordState;
import dev.crmsync.provider.RemoteCallException;
import dev.crmsync.sync.Delivery;
import io.micrometer.core.instrument.MeterRegistry;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.component.salesforce.AuthenticationType;
import org.apache.camel.component.salesforce.SalesforceComponent;
import org.apache.camel.component.salesforce.SalesforceEndpointConfig;
import org.apache.camel.component.salesforce.api.SalesforceException;
import org.apache.camel.component.salesforce.api.dto.DeleteSObjectResult;
import org.apache.camel.component.salesforce.api.dto.RestError;
import org.apache.camel.component.salesforce.api.dto.SaveSObjectResult;
import org.apache.camel.util.ObjectHelper;

/**
 * A Salesforce org through Camel's own camel-salesforce component (registered under the provider's
 * name): polls with SOQL {@code queryAll} on a (SystemModstamp, Id) keyset, so deletions come with
 * the changes; writes through sObject Collections, 200 records a call, after a query per object for the
 * people Salesforce already has. A spent daily API limit pauses the provider instead of spending retries.
 */
public class SalesforceClient implements CrmClient {

    /** Largest sObject Collections request. */
    public static final int COLLECTION_SIZE = 200;
    /** SOQL datetime literals; SystemModstamp has whole seconds. */
    private static final DateTimeFormatter SOQL_TIME =
            DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss'Z'", Locale.ROOT).withZone(ZoneOffset.UTC);
    /** SOQL datetime literals for a cursor whose stamp carries milliseconds. */
    private static final DateTimeFormatter SOQL_TIME_MILLIS =
            DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'", Locale.ROOT).withZone(ZoneOffset.UTC);
    /** Times in records: 2026-05-20T20:49:32.000+0000. */
    private static final DateTimeFormatter RECORD_TIME = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSZ", Locale.ROOT);
    /** Per-record codes that say the record is already gone. */
    private static final Set<String> GONE = Set.of("ENTITY_IS_DELETED", "NOT_FOUND", "INVALID_CROSS_REFERENCE_KEY");
    /**
     * Field History Tracking: each tracked field's changes, newest first, for mappings whose
     * {@code modified} paths read them. A record's SystemModstamp is its latest change of any field.
     */
    static final String HISTORIES = "(SELECT Field, CreatedDate FROM Histories ORDER BY CreatedDate DESC LIMIT 100)";
    /** Per-record codes another try can cure. */
    private static final Set<String> TRANSIENT = Set.of("UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION");

    private final String name;
    private final SalesforceProviderProperties properties;
    private final Mappings mappings;
    private final ProviderPauses pauses;
    private final ObjectMapper json;
    private final MeterRegistry meters;
    private final Supplier<ProducerTemplate> camel;

    public SalesforceClient(String name, SalesforceProviderProperties properties, Mappings mappings,
                            ProviderPauses pauses, ObjectMapper json, MeterRegistry meters,
                            Supplier<ProducerTemplate> camel) {
        this.name = name;
        this.properties = properties;
        this.mappings = mappings;
        this.pauses = pauses;
        this.json = json;
        this.meters = meters;
        this.camel = camel;
    }

    /**
     * The provider's camel-salesforce component: the login flow follows from the credentials given;
     * the login is lazy, so the service starts while Salesforce is unreachable and its polls retry.
     */
    public static SalesforceComponent component(SalesforceProviderProperties properties) {
        SalesforceComponent component = new SalesforceComponent();
        component.setLoginUrl(properties.loginUrl());
        component.setClientId(properties.clientId());
        component.setClientSecret(properties.clientSecret());
        if (properties.refreshToken() != null && !properties.refreshToken().isBlank()) {
            component.setAuthenticationType(AuthenticationType.REFRESH_TOKEN);
            component.setRefreshToken(properties.refreshToken());
        } else if (properties.username() != null && !properties.username().isBlank()) {
            component.setAuthenticationType(AuthenticationType.USERNAME_PASSWORD);
            component.setUserName(properties.username());
            component.setPassword(properties.password());
        } else {
            component.setAuthenticationType(AuthenticationType.CLIENT_CREDENTIALS);
        }
        component.setLazyLogin(true);
        SalesforceEndpointConfig config = new SalesforceEndpointConfig();
        config.setApiVersion(properties.apiVersion());
        component.setConfig(config);
        component.setHttpRequestTimeout(properties.timeout().toMillis());
        // a SOQL page of 2,000 records is a few megabytes
        component.setHttpMaxContentLength(64 * 1024 * 1024);
        return component;
    }

    @Override
    public Page changedSince(String objectType, Instant since, String afterId, int limit) {
        String sObject = properties.sObject(objectType);
        StringBuilder soql = new StringBuilder("SELECT ").append(fields(objectType)).append(" FROM ").append(sObject);
        if (since != null) {
            String at = soqlTime(since);
            soql.append(afterId == null ? " WHERE SystemModstamp >= " + at
                    : " WHERE (SystemModstamp > " + at + " OR (SystemModstamp = " + at + " AND Id > '" + afterId + "'))");
        }
        soql.append(" ORDER BY SystemModstamp ASC, Id ASC LIMIT ").append(limit);
        // queryAll, not query: deleted records (IsDeleted = true) come in the same keyset as the changes
        JsonNode page = read(call("queryAll", "salesforce:queryAll?rawPayload=true", soql.toString(), String.class));
        List<JsonNode> records = new ArrayList<>();
        page.path("records").forEach(records::add);
        if (records.size() < limit) {
            return new Page(records, null, null);
        }
        JsonNode last = records.get(records.size() - 1);
        return new Page(records, RECORD_TIME.parse(last.get("SystemModstamp").asText(), Instant::from), last.get("Id").asText());
    }

    /**
     * The keyset's datetime literal, in the precision the cursor keeps: whole seconds as Salesforce
     * stamps them, milliseconds when a stamp carried them. Cut to the second, a cursor at .517 would
     * compare as .000, and {@code SystemModstamp > at} would match the page just read again.
     */
    static String soqlTime(Instant at) {
        Instant millis = at.truncatedTo(ChronoUnit.MILLIS);
        return millis.equals(at.truncatedTo(ChronoUnit.SECONDS)) ? SOQL_TIME.format(millis) : SOQL_TIME_MILLIS.format(millis);
    }

    @Override
    public boolean fetches() {
        return true;
    }

    /** The current records of these ids, 200 a query; an id Salesforce no longer has (deleted) is absent. */
    @Override
    public Map<String, JsonNode> fetch(String objectType, List<String> ids) {
        Map<String, JsonNode> found = new HashMap<>();
        for (int i = 0; i < ids.size(); i += COLLECTION_SIZE) {
            String in = ids.subList(i, Math.min(ids.size(), i + COLLECTION_SIZE)).stream()
                    .map(id -> "'" + soqlText(id) + "'").collect(Collectors.joining(", "));
            JsonNode page = read(call("read", "salesforce:query?rawPayload=true", "SELECT " + fields(objectType) + " FROM "
                    + properties.sObject(objectType) + " WHERE Id IN (" + in + ")", String.class));
            page.path("records").forEach(record -> found.put(record.path("Id").asText(), record));
        }
        return found;
    }

    @Override
    public void readBeforeWrite(List<Delivery> batch) {
        CrmClient.readBack(batch, (objectType, ids) -> {
            pauses.check(name);
            return fetch(objectType, ids);
        });
    }

    /**
     * Creates, updates and deletes of a claimed batch, up to 200 a call. Records already settled by an
     * earlier try of the same batch are skipped, so a retried batch never writes one twice.
     */
    @Override
    public void writeBatch(List<Delivery> batch) {
        List<Delivery> pending = batch.stream().filter(Delivery::isPending).filter(d -> !d.hasBatchFailure()).toList();
        if (pending.isEmpty()) {
            return;
        }
        pauses.check(name);
        // Salesforce allows duplicates: a person it already has (imported before the hub knew them, or
        // created by a try whose answer was lost) is linked and merged, not created again
        for (List<Delivery> chunk : chunks(pending.stream().filter(d -> d.getOperation().equals("create")).toList())) {
            findExisting(chunk);
        }
        List<Delivery> creates = new ArrayList<>();
        List<Delivery> updates = new ArrayList<>();
        List<Delivery> deletes = new ArrayList<>();
        for (Delivery delivery : pending) {
            if (delivery.isPending()) {
                switch (delivery.getOperation()) {
                    case "create" -> creates.add(delivery);
                    case "update" -> updates.add(delivery);
                    default -> deletes.add(delivery);
                }
            }
        }
        for (List<Delivery> chunk : chunks(creates)) {
            List<Map<String, Object>> records = chunk.stream().map(d -> record(d, null, keyed(d))).toList();
            List<SaveSObjectResult> results = collection("compositeCreateSObjectCollections", records);
            for (int i = 0; i < chunk.size(); i++) {
                SaveSObjectResult result = results.get(i);
                if (Boolean.TRUE.equals(result.getSuccess())) {
                    chunk.get(i).sent(result.getId(), null, false);
                } else {
                    chunk.get(i).failedInBatch(refusal("create", result.getErrors()));
                }
            }
        }
        for (List<Delivery> chunk : chunks(updates)) {
            List<Map<String, Object>> records = chunk.stream().map(d -> record(d, d.getExternalId(), d.getPayload())).toList();
            List<SaveSObjectResult> results = collection("compositeUpdateSObjectCollections", records);
            for (int i = 0; i < chunk.size(); i++) {
                Delivery delivery = chunk.get(i);
                SaveSObjectResult result = results.get(i);
                if (Boolean.TRUE.equals(result.getSuccess())) {
                    delivery.sent(result.getId(), null, false);
                } else if (gone(result.getErrors())) {
                    delivery.gone();
                } else {
                    delivery.failedInBatch(refusal("update", result.getErrors()));
                }
            }
        }
        for (List<Delivery> chunk : chunks(deletes)) {
            List<String> ids = chunk.stream().map(Delivery::getExternalId).toList();
            @SuppressWarnings("unchecked")
            List<DeleteSObjectResult> results = (List<DeleteSObjectResult>) call("delete",
                    "salesforce:compositeDeleteSObjectCollections?allOrNone=false", ids, List.class);
            for (int i = 0; i < chunk.size(); i++) {
                DeleteSObjectResult result = results.get(i);
                if (Boolean.TRUE.equals(result.getSuccess()) || gone(result.getErrors())) {
                    chunk.get(i).sent(chunk.get(i).getExternalId(), null, false);
                } else {
                    chunk.get(i).failedInBatch(refusal("delete", result.getErrors()));
                }
            }
        }
    }

    /** One record on its own: after the batch refused it, or for a retry. */
    @Override
    public void create(Delivery delivery) {
        pauses.check(name);
        findExisting(List.of(delivery));
        if (delivery.isFound()) {
            return;
        }
        JsonNode reply = read(call("create", "salesforce:createSObject?rawPayload=true&sObjectName="
                + properties.sObject(delivery.getObjectType()), keyed(delivery).toString(), String.class));
        delivery.sent(reply.get("id").asText(), null, false);
    }

    @Override
    public void update(Delivery delivery) {
        pauses.check(name);
        try {
            camelCall("update", () -> camel.get().requestBodyAndHeader(endpoint("salesforce:updateSObject?rawPayload=true"
                    + "&sObjectName=" + properties.sObject(delivery.getObjectType())), delivery.getPayload().toString(),
                    "sObjectId", delivery.getExternalId()));
        } catch (RemoteCallException e) {
            if (e.status() == 404) {
                delivery.gone();
                return;
            }
            throw e;
        }
        delivery.sent(delivery.getExternalId(), null, false);
    }

    @Override
    public void delete(Delivery delivery) {
        pauses.check(name);
        try {
            call("delete", "salesforce:deleteSObject?sObjectName=" + properties.sObject(delivery.getObjectType()),
                    delivery.getExternalId(), String.class);
        } catch (RemoteCallException e) {
            if (e.status() != 404) {
                throw e;
            }
        }
        delivery.sent(delivery.getExternalId(), null, false);
    }

    /**
     * Salesforce's deletion signal: a deleted record stays in the recycle bin, which only
     * {@code queryAll} reads, with {@code IsDeleted = true}
     * (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_queryall.htm).
     */
    @Override
    public RecordState recordState(String objectType, String externalId) {
        pauses.check(name);
        JsonNode page = read(call("queryAll", "salesforce:queryAll?rawPayload=true", "SELECT Id, IsDeleted FROM "
                + properties.sObject(objectType) + " WHERE Id = '" + soqlText(externalId) + "'", String.class));
        JsonNode record = page.path("records").path(0);
        if (record.isMissingNode()) {
            return RecordState.ABSENT;
        }
        return record.path("IsDeleted").asBoolean(false) ? RecordState.DELETED : RecordState.PRESENT;
    }

    /**
     * Marks the creates whose person Salesforce already has, as any of its objects (a Contact, else
     * a Lead), found: one query per object for those still unmatched. A record an earlier try of the
     * same create made carries the person's hub id in the external id field, whatever was edited since;
     * else a record with the person's email is theirs.
     */
    private void findExisting(List<Delivery> creates) {
        for (String objectType : objectTypes()) {
            FieldPath key = mapping(objectType).hubId();
            List<Delivery> open = creates.stream().filter(Delivery::isPending)
                    .filter(d -> d.getEmail() != null || key != null).toList();
            if (open.isEmpty()) {
                return;
            }
            List<String> where = new ArrayList<>();
            if (key != null) {
                where.add(key + " IN (" + quoted(open.stream().map(Delivery::getContactId)) + ")");
            }
            String emails = quoted(open.stream().map(Delivery::getEmail).filter(Objects::nonNull));
            if (!emails.isEmpty()) {
                where.add("Email IN (" + emails + ")");
            }
            JsonNode page = read(call("find-existing", "salesforce:query?rawPayload=true", "SELECT " + fields(objectType)
                    + " FROM " + properties.sObject(objectType) + " WHERE " + String.join(" OR ", where) + " ORDER BY Id",
                    String.class));
            Map<String, JsonNode> byHubId = new HashMap<>();
            Map<String, JsonNode> byEmail = new HashMap<>();
            page.path("records").forEach(r -> {
                JsonNode carried = key == null ? null : key.read(r);
                if (carried != null) {
                    byHubId.putIfAbsent(carried.asText(), r);
                }
                byEmail.putIfAbsent(r.path("Email").asText().toLowerCase(Locale.ROOT), r);
            });
            for (Delivery delivery : open) {
                JsonNode record = byHubId.get(delivery.getContactId());
                if (record == null && delivery.getEmail() != null) {
                    record = byEmail.get(delivery.getEmail().toLowerCase(Locale.ROOT));
                }
                if (record != null) {
                    delivery.found(record.get("Id").asText(), objectType, record);
                }
            }
        }
    }

    private static String quoted(Stream<String> values) {
        return values.map(value -> "'" + soqlText(value) + "'").distinct().collect(Collectors.joining(", "));
    }

    private List<String> objectTypes() {
        return properties.objects().stream().map(o -> o.toLowerCase(Locale.ROOT)).toList();
    }

    /** The fields a read asks for: the keyset's, those the object's mapping reads, and the history it dates fields by. */
    private String fields(String objectType) {
        Set<String> fields = new LinkedHashSet<>(List.of("Id", "IsDeleted", "SystemModstamp"));
        Mapping mapping = mapping(objectType);
        fields.addAll(mapping.remoteProperties());
        if (mapping.datesFields()) {
            fields.add(HISTORIES);
        }
        return String.join(", ", fields);
    }

    private Mapping mapping(String objectType) {
        return mappings.get(name + "-" + objectType);
    }

    /** A create's fields, with the person's hub id where the mapping keeps it. */
    private ObjectNode keyed(Delivery delivery) {
        return mapping(delivery.getObjectType()).keyed(delivery.getPayload(), delivery.getContactId());
    }

    private Map<String, Object> record(Delivery delivery, String id, ObjectNode payload) {
        Map<String, Object> record = new LinkedHashMap<>();
        record.put("attributes", Map.of("type", properties.sObject(delivery.getObjectType())));
        if (id != null) {
            record.put("Id", id);
        }
        record.putAll(json.convertValue(payload, Map.class));
        return record;
    }

    @SuppressWarnings("unchecked")
    private List<SaveSObjectResult> collection(String operation, List<Map<String, Object>> records) {
        return (List<SaveSObjectResult>) call(operation, "salesforce:" + operation + "?allOrNone=false", records, List.class);
    }

    private Object call(String operation, String uri, Object body, Class<?> type) {
        return camelCall(operation, () -> camel.get().requestBody(endpoint(uri), body, type));
    }

    /** The provider's own camel-salesforce component is registered under its name. */
    private String endpoint(String uri) {
        return name + uri.substring("salesforce".length());
    }

    private Object camelCall(String operation, Supplier<Object> call) {
        meters.counter("crmsync.provider.calls", "system", name, "operation", operation).increment();
        try {
            return call.get();
        } catch (RuntimeException e) {
            throw failure(operation, e);
        }
    }

    private RuntimeException failure(String operation, RuntimeException e) {
        SalesforceException refused = ObjectHelper.getException(SalesforceException.class, e);
        if (refused == null) {
            return new RemoteCallException(name + " " + operation + " failed: " + e.getMessage(), 0, null, e);
        }
        String errors = describe(refused.getErrors());
        int status = refused.getStatusCode();
        // the daily limit is a 403; a 429 with the same code is a short rate limit that another try soon cures
        if (status != 429 && (errors.contains("REQUEST_LIMIT_EXCEEDED")
                || status == 403 && String.valueOf(refused.getMessage()).contains("REQUEST_LIMIT_EXCEEDED"))) {
            return pauses.pause(name, properties.limitPause(), "Salesforce daily API limit spent (REQUEST_LIMIT_EXCEEDED)");
        }
        return new RemoteCallException(name + " answered " + status + " to " + operation + ": "
                + (errors.isEmpty() ? refused.getMessage() : errors), status, null, e);
    }

    private RemoteCallException refusal(String operation, List<RestError> errors) {
        boolean transientError = errors != null && errors.stream().anyMatch(error -> TRANSIENT.contains(error.getErrorCode()));
        return new RemoteCallException(name + " refused the " + operation + ": " + describe(errors),
                transientError ? 503 : 400, null, null);
    }

    private static boolean gone(List<RestError> errors) {
        return errors != null && errors.stream().anyMatch(error -> GONE.contains(error.getErrorCode()));
    }

    private static String describe(List<RestError> errors) {
        if (errors == null) {
            return "";
        }
        return errors.stream().map(error -> error.getErrorCode() + ": " + error.getMessage()
                        + (error.getFields() == null || error.getFields().isEmpty() ? "" : " " + error.getFields()))
                .collect(Collectors.joining("; "));
    }

    private static List<List<Delivery>> chunks(List<Delivery> deliveries) {
        List<List<Delivery>> chunks = new ArrayList<>();
        for (int i = 0; i < deliveries.size(); i += COLLECTION_SIZE) {
            chunks.add(deliveries.subList(i, Math.min(deliveries.size(), i + COLLECTION_SIZE)));
        }
        return chunks;
    }

    private static String soqlText(String value) {
        return value.replace("\\", "\\\\").replace("'", "\\'");
    }

    private JsonNode read(Object body) {
        try {
            return json.readTree(body.toString());
        } catch (JsonProcessingException e) {
            throw new RemoteCallException(name + " answered with a body that is not JSON", 200, null, e);
        }
    }
}
