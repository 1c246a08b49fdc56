package dev.crmsync.converge;

import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crmsync.converge.Workload.Kind;
import dev.crmsync.converge.Workload.Op;
import dev.crmsync.sim.hubspot.HubSpotSimulator;
import dev.crmsync.sim.pipedrive.PipedriveSimulator;
import dev.crmsync.sim.salesforce.SalesforceSimulator;
import dev.crmsync.support.Http;

/**
 * Carries out one operation as its actor would: a person in Salesforce, HubSpot or Pipedrive changes
 * the record in that CRM's screens (the simulators' helper methods: Salesforce's change reaches the
 * service by its poll, the others' by webhook), and an API client calls the contacts API, trying again
 * while the service is down. The person is looked up in the actor's system by the emails it was
 * given; one that is not there (yet) is skipped.
 */
final class Actors {

    enum Outcome { ACKNOWLEDGED, REFUSED, SKIPPED }

    /** What an operation came to, and why when it was refused or skipped. */
    record Result(Outcome outcome, String why, Map<String, String> changed) {
        static final Result ACKNOWLEDGED = new Result(Outcome.ACKNOWLEDGED, null, null);

        /** An update acknowledged, with the values it really changed (setting a field to what it holds changes nothing). */
        static Result changed(Map<String, String> values) {
            return new Result(Outcome.ACKNOWLEDGED, null, values);
        }

        static Result refused(String why) {
            return new Result(Outcome.REFUSED, why, null);
        }

        static Result skipped(String why) {
            return new Result(Outcome.SKIPPED, why, null);
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<String, String> SALESFORCE_FIELDS = Map.of("email", "Email", "firstName", "FirstName",
            "lastName", "LastName", "phone", "Phone", "title", "Title", "custom.mobile", "MobilePhone");
    private static final Map<String, String> HUBSPOT_PROPERTIES = Map.of("email", "email", "firstName", "firstname",
            "lastName", "lastname", "phone", "phone", "company", "company", "title", "jobtitle", "custom.mobile", "mobilephone");

    private final SalesforceSimulator sf;
    private final HubSpotSimulator hs;
    private final PipedriveSimulator pd;
    private final Service service;
    private final Model model;

    Actors(SalesforceSimulator sf, HubSpotSimulator hs, PipedriveSimulator pd, Service service, Model model) {
        this.sf = sf;
        this.hs = hs;
        this.pd = pd;
        this.service = service;
        this.model = model;
    }

    /** Runs the operation and records what was acknowledged in the model. */
    Result run(Op op) {
        long issued = System.currentTimeMillis();
        Result result;
        try {
            result = switch (op.actor()) {
                case SALESFORCE -> salesforce(op);
                case HUBSPOT -> hubspot(op);
                case PIPEDRIVE -> pipedrive(op);
                case API -> api(op);
            };
        } catch (NoSuchElementException | IllegalArgumentException | IllegalStateException e) {
            // the record changed under the actor's hands (deleted, merged away meanwhile): the CRM said no
            result = Result.refused(e.getClass().getSimpleName() + ": " + e.getMessage());
        }
        long acked = System.currentTimeMillis();
        if (result.outcome() == Outcome.ACKNOWLEDGED) {
            switch (op.kind()) {
                case DELETE -> model.deleted(op, acked);
                case MERGE -> model.merged(op, acked);
                default -> model.acknowledged(op, result.changed() == null ? op.values() : result.changed(), issued, acked);
            }
        }
        return result;
    }

    private void issueEmail(Op op) {
        String email = op.values().get("email");
        if (email != null) {
            model.emailIssued(op.person(), email);
        }
    }

    // ---------------------------------------------------------------- Salesforce (Contacts)

    private Result salesforce(Op op) {
        if (op.kind() == Kind.CREATE) {
            issueEmail(op);
            sf.seed(SalesforceSimulator.CONTACT, salesforceFields(op.values()));
            return Result.ACKNOWLEDGED;
        }
        Optional<String> id = salesforceId(op.person());
        if (id.isEmpty()) {
            return Result.skipped("not in salesforce");
        }
        if (op.kind() == Kind.DELETE) {
            sf.delete(SalesforceSimulator.CONTACT, id.get());
            return Result.ACKNOWLEDGED;
        }
        issueEmail(op);
        Map<String, Object> record = sf.find(SalesforceSimulator.CONTACT, id.get()).orElseThrow();
        Map<String, String> changed = changed(op.values(), field -> record.get(SALESFORCE_FIELDS.get(field)));
        sf.update(SalesforceSimulator.CONTACT, id.get(), salesforceFields(op.values()));
        return Result.changed(changed);
    }

    private Optional<String> salesforceId(int person) {
        Map<String, String> byEmail = new HashMap<>();
        for (Map<String, Object> record : sf.live(SalesforceSimulator.CONTACT)) {
            Object email = record.get("Email");
            if (email != null) {
                byEmail.putIfAbsent(email.toString().toLowerCase(Locale.ROOT), String.valueOf(record.get("Id")));
            }
        }
        return model.emails(person).stream().map(byEmail::get).filter(java.util.Objects::nonNull).findFirst();
    }

    private static Map<String, Object> salesforceFields(Map<String, String> values) {
        Map<String, Object> fields = new LinkedHashMap<>();
        // Salesforce stores an empty string as null
        values.forEach((field, value) -> fields.put(SALESFORCE_FIELDS.get(field), value == null ? "" : value));
        return fields;
    }

    // ---------------------------------------------------------------- HubSpot

    private Result hubspot(Op op) {
        if (op.kind() == Kind.CREATE) {
            issueEmail(op);
            hs.create(hubspotProperties(op.values()));
            return Result.ACKNOWLEDGED;
        }
        Optional<String> id = hubspotId(op.person());
        if (id.isEmpty()) {
            return Result.skipped("not in hubspot");
        }
        switch (op.kind()) {
            case DELETE -> hs.delete(id.get());
            case MERGE -> {
                Optional<String> merged = hubspotId(op.other());
                if (merged.isEmpty() || merged.equals(id)) {
                    return Result.skipped("merged person not in hubspot");
                }
                hs.merge(id.get(), merged.get());
            }
            default -> {
                issueEmail(op);
                Map<String, Object> contact = hs.find(id.get()).orElseThrow();
                Map<String, String> changed = changed(op.values(),
                        field -> HubSpotSimulator.property(contact, HUBSPOT_PROPERTIES.get(field)));
                hs.update(id.get(), hubspotProperties(op.values()));
                return Result.changed(changed);
            }
        }
        return Result.ACKNOWLEDGED;
    }

    private Optional<String> hubspotId(int person) {
        return model.emails(person).stream().map(hs::findByEmail).flatMap(Optional::stream)
                .map(contact -> String.valueOf(contact.get("id"))).findFirst();
    }

    private static Map<String, Object> hubspotProperties(Map<String, String> values) {
        Map<String, Object> properties = new LinkedHashMap<>();
        values.forEach((field, value) -> properties.put(HUBSPOT_PROPERTIES.get(field), value == null ? "" : value));
        return properties;
    }

    // ---------------------------------------------------------------- Pipedrive (persons)

    private Result pipedrive(Op op) {
        if (op.kind() == Kind.CREATE) {
            issueEmail(op);
            pd.create(pipedriveFields(op.values()));
            return Result.ACKNOWLEDGED;
        }
        Optional<Long> id = pipedriveId(op.person());
        if (id.isEmpty()) {
            return Result.skipped("not in pipedrive");
        }
        switch (op.kind()) {
            case DELETE -> pd.delete(id.get());
            case MERGE -> {
                Optional<Long> merged = pipedriveId(op.other());
                if (merged.isEmpty() || merged.equals(id)) {
                    return Result.skipped("merged person not in pipedrive");
                }
                pd.merge(merged.get(), id.get());
            }
            default -> {
                issueEmail(op);
                Map<String, Object> person = pd.find(id.get()).orElseThrow();
                Map<String, String> changed = changed(op.values(), field -> switch (field) {
                    case "email" -> primary(person.get("emails"));
                    case "phone" -> primary(person.get("phones"));
                    case "firstName" -> person.get("first_name");
                    case "lastName" -> person.get("last_name");
                    default -> null;
                });
                pd.update(id.get(), pipedriveFields(op.values()));
                return Result.changed(changed);
            }
        }
        return Result.ACKNOWLEDGED;
    }

    /** The live person whose primary email is one of the person's (a merge leaves others' emails as secondary ones). */
    private Optional<Long> pipedriveId(int person) {
        for (String email : model.emails(person)) {
            for (Map<String, Object> found : pd.findByEmail(email)) {
                if (email.equalsIgnoreCase(primary(found.get("emails")))) {
                    return Optional.of(((Number) found.get("id")).longValue());
                }
            }
        }
        return Optional.empty();
    }

    static String primary(Object items) {
        if (items instanceof List<?> list) {
            for (Object item : list) {
                if (item instanceof Map<?, ?> map && Boolean.TRUE.equals(map.get("primary"))) {
                    return String.valueOf(map.get("value"));
                }
            }
        }
        return null;
    }

    private static Map<String, Object> pipedriveFields(Map<String, String> values) {
        Map<String, Object> fields = new LinkedHashMap<>();
        values.forEach((field, value) -> {
            switch (field) {
                case "email" -> fields.put("emails", List.of(Map.of("value", value, "primary", true, "label", "work")));
                case "phone" -> fields.put("phones", List.of(Map.of("value", value, "primary", true, "label", "work")));
                case "firstName" -> fields.put("first_name", value);
                case "lastName" -> fields.put("last_name", value);
                default -> throw new IllegalArgumentException("Pipedrive has no mapped field " + field);
            }
        });
        return fields;
    }

    // ---------------------------------------------------------------- the contacts API

    private Result api(Op op) {
        if (op.kind() == Kind.CREATE) {
            issueEmail(op);
            ObjectNode body = apiBody(op.values());
            Call call = call("POST", "/api/contacts", body.toString(), "application/json");
            // a retry after a lost answer finds the contact the first try created
            return call.status() == 201 || call.status() == 409 && call.retried() ? Result.ACKNOWLEDGED
                    : Result.refused("POST " + call.status() + " " + call.body());
        }
        Optional<JsonNode> contact = apiContact(op.person());
        if (contact.isEmpty()) {
            return Result.skipped("not in the hub");
        }
        Optional<String> id = contact.map(c -> c.get("id").asText());
        if (op.kind() == Kind.DELETE) {
            Call call = call("DELETE", "/api/contacts/" + id.get(), null, null);
            return call.status() == 204 || call.status() == 410 && call.retried() ? Result.ACKNOWLEDGED
                    : Result.refused("DELETE " + call.status() + " " + call.body());
        }
        issueEmail(op);
        Map<String, String> changed = changed(op.values(), field -> {
            JsonNode value = field.startsWith("custom.") ? contact.get().path("custom").path(field.substring(7))
                    : contact.get().path(field);
            return value.isTextual() ? value.asText() : null;
        });
        Call call = call("PATCH", "/api/contacts/" + id.get(), apiBody(op.values()).toString(), "application/merge-patch+json");
        return call.status() == 200 ? Result.changed(changed) : Result.refused("PATCH " + call.status() + " " + call.body());
    }

    private Optional<JsonNode> apiContact(int person) {
        for (String email : model.emails(person)) {
            Call call = call("GET", "/api/contacts?email=" + java.net.URLEncoder.encode(email, java.nio.charset.StandardCharsets.UTF_8),
                    null, null);
            JsonNode items = read(call.body()).path("items");
            if (call.status() == 200 && items.size() > 0) {
                return Optional.of(items.get(0));
            }
        }
        return Optional.empty();
    }

    /**
     * The values of an update that differ from what the record holds as the actor sees it: only those
     * change anything (clearing an empty field sends no webhook and moves no modification time).
     */
    private static Map<String, String> changed(Map<String, String> values, java.util.function.Function<String, Object> current) {
        Map<String, String> changed = new LinkedHashMap<>();
        values.forEach((field, value) -> {
            Object now = current.apply(field);
            String held = now == null ? "" : now.toString().strip();
            if (!held.equals(value == null ? "" : value.strip())) {
                changed.put(field, value);
            }
        });
        return changed;
    }

    private static ObjectNode apiBody(Map<String, String> values) {
        ObjectNode body = JSON.createObjectNode();
        values.forEach((field, value) -> {
            if (field.startsWith("custom.")) {
                ObjectNode custom = body.has("custom") ? (ObjectNode) body.get("custom") : body.putObject("custom");
                custom.put(field.substring("custom.".length()), value);
            } else {
                body.put(field, value);
            }
        });
        return body;
    }

    private record Call(int status, String body, boolean retried) {
    }

    /**
     * One API call, tried again while the service is down or its answer was lost (the call is
     * idempotent or tells on a retry that the first try took effect).
     */
    private Call call(String method, String path, String body, String contentType) {
        boolean retried = false;
        while (true) {
            Http api = service.api();
            if (api != null) {
                try {
                    Http.Reply reply = contentType == null ? api.send(method, path, body)
                            : api.send(method, path, body, "Content-Type", contentType);
                    if (reply.status() != 503) {
                        return new Call(reply.status(), reply.body(), retried);
                    }
                } catch (UncheckedIOException e) {
                    // stopped while the call was on its way
                }
                retried = true;
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted calling the API", e);
            }
        }
    }

    private static JsonNode read(String body) {
        try {
            return JSON.readTree(body == null || body.isBlank() ? "{}" : body);
        } catch (java.io.IOException e) {
            return JSON.createObjectNode();
        }
    }
}
