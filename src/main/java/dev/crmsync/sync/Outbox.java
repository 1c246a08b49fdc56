package dev.crmsync.sync;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import dev.crmsync.config.CrmSyncProperties;
import dev.crmsync.contact.Contact;
import dev.crmsync.mapping.Mapping;
import dev.crmsync.mapping.Mappings;
import org.springframework.jdbc.core.namedparam.MapSqlParameterSource;
import org.springframework.jdbc.core.namedparam.NamedParameterJdbcTemplate;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Propagation;
import org.springframework.transaction.annotation.Transactional;

/**
 * The transactional outbox: in the transaction that changes a hub contact, one row per connected
 * system other than the one the change came from. Delivery reads the contact as it is when it
 * sends, so the row carries the operation and version, not a copy of the record.
 */
@Component
public class Outbox {

    private final NamedParameterJdbcTemplate jdbc;
    private final CrmSyncProperties properties;
    private final Mappings mappings;

    public Outbox(NamedParameterJdbcTemplate jdbc, CrmSyncProperties properties, Mappings mappings) {
        this.jdbc = jdbc;
        this.properties = properties;
        this.mappings = mappings;
    }

    /** Systems a change from {@code sourceSystem} fans out to: enabled, and mapped with fields that flow to them. */
    public List<String> targets(String sourceSystem) {
        return properties.providers().entrySet().stream()
                .filter(provider -> provider.getValue().enabled() && !provider.getKey().equals(sourceSystem))
                .filter(provider -> receives(provider.getKey(), provider.getValue().primaryObjectType()))
                .map(Map.Entry::getKey)
                .sorted()
                .toList();
    }

    /**
     * One row per system other than the source, plus {@code alsoNotify}. Delivery decides create,
     * update or delete from the contact and its link when it sends, so the row names the version only.
     */
    private boolean receives(String system, String objectType) {
        Mapping mapping = mappings.all().get(system + "-" + objectType);
        // a provider without a mapping file (the store tests' providers) takes every change
        return mapping == null || !mapping.outboundFields().isEmpty();
    }

    /** Whether a delivery of the contact to the system is being sent now (claimed, not settled). */
    public boolean onItsWay(String contactId, String system) {
        return Boolean.TRUE.equals(jdbc.queryForObject("SELECT COUNT(*) > 0 FROM outbox WHERE contact_id = :contact "
                + "AND target_system = :system AND state = 'claimed'", Map.of("contact", contactId, "system", system),
                Boolean.class));
    }

    @Transactional(propagation = Propagation.MANDATORY)
    public void enqueue(Contact contact, String sourceSystem, Set<String> alsoNotify, Instant at) {
        Set<String> targets = new TreeSet<>(targets(sourceSystem));
        alsoNotify.stream().filter(properties.providers()::containsKey).forEach(targets::add);
        String operation = contact.isDeleted() ? "delete" : contact.version() == 1 ? "create" : "update";
        for (String target : targets) {
            jdbc.update("INSERT INTO outbox (contact_id, target_system, object_type, operation, contact_version, "
                            + "next_attempt_at, created_at) VALUES (:contactId, :target, :objectType, :operation, "
                            + ":version, :at, :at)",
                    new MapSqlParameterSource()
                            .addValue("contactId", contact.id())
                            .addValue("target", target)
                            .addValue("objectType", properties.providers().get(target).primaryObjectType())
                            .addValue("operation", operation)
                            .addValue("version", contact.version())
                            .addValue("at", at.atOffset(java.time.ZoneOffset.UTC)));
        }
    }
}
