package dev.crmsync.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

import dev.crmsync.support.OnEachDatabase;
import dev.crmsync.support.StoreContext;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.output.MigrateResult;
import org.junit.jupiter.api.Test;
import org.springframework.dao.DataIntegrityViolationException;
import org.springframework.dao.DuplicateKeyException;
import org.springframework.jdbc.core.namedparam.MapSqlParameterSource;
import org.springframework.jdbc.core.namedparam.NamedParameterJdbcTemplate;

/**
 * The schema of V1__contact_store.sql on its own: the rules the database enforces whatever the
 * code above it does. Every row here is written with plain SQL, bypassing the service. Runs once
 * per database through {@link H2SchemaTest} and {@link PostgresSchemaTest}.
 */
abstract class SchemaTests extends OnEachDatabase {

    private static final OffsetDateTime T0 = OffsetDateTime.of(2025, 3, 1, 10, 0, 0, 0, ZoneOffset.UTC);

    private NamedParameterJdbcTemplate sql;

    @Override
    protected void ready() {
        sql = store.namedSql();
    }

    // ---- migration

    @Test
    void migrationCreatesEveryTableOfTheContactStore() {
        List<String> tables = store.sql().queryForList("SELECT LOWER(table_name) FROM information_schema.tables "
                + "WHERE LOWER(table_schema) = 'public' AND table_type IN ('BASE TABLE', 'TABLE')", String.class);

        assertThat(tables).containsExactlyInAnyOrder("contact", "contact_history", "contact_link", "inbox", "outbox",
                "dead_letter", "sync_run", "sync_cursor", "conflict", "erasure", "erased_record", "erasure_key",
                "lost_record", "flyway_schema_history");
        for (String table : StoreContext.TABLES) {
            assertThat(store.count(table)).as("rows in " + table).isZero();
        }
    }

    @Test
    void migrationIsRecordedAsAppliedAndASecondRunAppliesNothing() {
        List<Map<String, Object>> applied = store.sql().queryForList(
                "SELECT version, script, success FROM flyway_schema_history WHERE version IS NOT NULL ORDER BY installed_rank");
        assertThat(applied).extracting(row -> row.get("script")).containsExactlyElementsOf(migrationScripts());
        assertThat(applied).allSatisfy(row -> assertThat(row.get("success")).isEqualTo(true));

        MigrateResult again = store.bean(Flyway.class).migrate();

        assertThat(again.migrationsExecuted).isZero();
        assertThat(store.sql().queryForObject("SELECT COUNT(*) FROM flyway_schema_history WHERE version IS NOT NULL",
                Long.class)).isEqualTo(applied.size());
    }

    /** Every script under db/migration, in version order: a new one is expected applied without editing this test. */
    private static List<String> migrationScripts() {
        try (var files = Files.list(Path.of("src/main/resources/db/migration"))) {
            return files.map(file -> file.getFileName().toString())
                    .sorted(Comparator.comparingInt(name -> Integer.parseInt(name.substring(1, name.indexOf("__")))))
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ---- contact: one live contact per email, email_key mirrors email, email or phone

    @Test
    void databaseRefusesASecondLiveContactWhoseEmailDiffersOnlyByCase() {
        insertContact("c1", "Ann.Lee@Example.com", "ann.lee@example.com", null, null);

        assertDuplicateIn("contact_live_email_unique",
                () -> insertContact("c2", "ANN.LEE@example.COM", "ann.lee@example.com", null, null));
        assertThat(ids()).containsExactly("c1");
        assertThat(column("c1", "email")).isEqualTo("Ann.Lee@Example.com");
    }

    @Test
    void databaseRefusesAnEmailKeyThatIsNotTheLowerCasedEmail() {
        assertRefusedBy("contact_email_key_mirrors_email",
                () -> insertContact("c1", "Ann@Example.com", "Ann@Example.com", null, null));
        assertRefusedBy("contact_email_key_mirrors_email",
                () -> insertContact("c2", "ann@example.com", "bob@example.com", null, null));
        // a live contact that leaves email_key empty would escape the unique constraint
        assertRefusedBy("contact_email_key_mirrors_email",
                () -> insertContact("c3", "ann@example.com", null, null, null));
        // and a key without an email is no better
        assertRefusedBy("contact_email_key_mirrors_email",
                () -> insertContact("c4", null, "ann@example.com", "+14155550100", null));

        assertThat(ids()).isEmpty();
    }

    @Test
    void databaseAcceptsTheJavaLowerCasedKeyOfANonAsciiEmailAndRefusesOneThatIsNotLowerCase() {
        // where Java's and the database's lower case differ (İ, a final Σ), the key Java computes is accepted
        List<String> emails = List.of("İlker@example.com", "ΟΔΥΣΣΕΑΣ@example.gr", "JÖRG.Müller@Example.DE");
        for (int i = 0; i < emails.size(); i++) {
            insertContact("c" + i, emails.get(i), emails.get(i).toLowerCase(java.util.Locale.ROOT), null, null);
        }
        assertRefusedBy("contact_email_key_mirrors_email",
                () -> insertContact("upper", "Åsa@example.se", "Åsa@example.se", null, null));
        assertRefusedBy("contact_email_key_mirrors_email",
                () -> insertContact("missing", "Åsa@example.se", null, null, null));

        assertThat(store.sql().queryForList("SELECT email_key FROM contact ORDER BY email_key", String.class))
                .containsExactlyInAnyOrder("i\u0307lker@example.com", "οδυσσεας@example.gr", "jörg.müller@example.de");
    }

    @Test
    void databaseRefusesATombstoneThatStillHoldsItsEmailKey() {
        assertRefusedBy("contact_email_key_mirrors_email",
                () -> insertContact("c1", "ann@example.com", "ann@example.com", null, T0));

        assertThat(ids()).isEmpty();
    }

    @Test
    void databaseRefusesAContactWithNeitherEmailNorPhone() {
        assertRefusedBy("contact_needs_email_or_phone", () -> insertContact("c1", null, null, null, null));

        insertContact("c2", null, null, "+14155550100", null);
        insertContact("c3", "ann@example.com", "ann@example.com", null, null);
        assertThat(ids()).containsExactly("c2", "c3");
    }

    @Test
    void databaseRefusesAVersionBelowOne() {
        assertRefusedBy("contact_version_positive", () -> sql.update(
                "INSERT INTO contact (id, email, email_key, version, created_at, updated_at) "
                        + "VALUES ('c1', 'a@example.com', 'a@example.com', 0, :at, :at)", Map.of("at", T0)));

        assertThat(ids()).isEmpty();
    }

    @Test
    void tombstonesKeepTheirEmailAndLeaveItFreeForOneNewLiveContact() {
        insertContact("old1", "Ann@Example.com", null, null, T0);
        insertContact("old2", "ann@example.com", null, null, T0.plusDays(1));
        insertContact("live", "ANN@example.com", "ann@example.com", null, null);

        assertDuplicateIn("contact_live_email_unique",
                () -> insertContact("live2", "ann@EXAMPLE.com", "ann@example.com", null, null));
        assertThat(sql.queryForList("SELECT id FROM contact WHERE LOWER(email) = 'ann@example.com' ORDER BY id",
                Map.of(), String.class)).containsExactly("live", "old1", "old2");
        assertThat(column("old1", "email")).isEqualTo("Ann@Example.com");
        assertThat(column("old1", "email_key")).isNull();
    }

    @Test
    void tombstoningARowInSqlFreesItsEmailForANewContact() {
        insertContact("c1", "ann@example.com", "ann@example.com", null, null);

        sql.update("UPDATE contact SET deleted_at = :at, email_key = NULL WHERE id = 'c1'", Map.of("at", T0));
        insertContact("c2", "Ann@example.com", "ann@example.com", null, null);

        assertThat(ids()).containsExactly("c1", "c2");
        assertThat(column("c1", "email")).isEqualTo("ann@example.com");
    }

    // ---- history, links

    @Test
    void databaseKeepsOneHistoryRowPerContactVersionAndPurgingAContactRemovesItsHistoryAndLinks() {
        insertContact("c1", "ann@example.com", "ann@example.com", null, null);
        insertHistory("c1", 1, "create");

        assertDuplicateIn("contact_history_one_per_version", () -> insertHistory("c1", 1, "update"));
        assertRefusedBy("contact_history_operation", () -> insertHistory("c1", 2, "upsert"));
        sql.update("INSERT INTO contact_link (system, object_type, external_id, contact_id, created_at) "
                + "VALUES ('crm1', 'contact', 'x-1', 'c1', :at)", Map.of("at", T0));
        // a contact has one record per system and object
        assertDuplicateIn("contact_link_one_per_object", () -> sql.update("INSERT INTO contact_link (system, "
                + "object_type, external_id, contact_id, created_at) VALUES ('crm1', 'contact', 'x-2', 'c1', :at)",
                Map.of("at", T0)));

        assertThat(store.sql().queryForList("SELECT operation FROM contact_history", String.class))
                .containsExactly("create");

        sql.update("DELETE FROM contact WHERE id = 'c1'", Map.of());

        assertThat(store.count("contact_history")).isZero();
        assertThat(store.count("contact_link")).isZero();
    }

    // ---- inbox

    @Test
    void databaseRefusesASecondInboxRowWithTheSameIdempotencyKey() {
        insertInbox("crm1:evt-42", "{\"first\":true}");

        assertDuplicateIn("inbox_idempotent", () -> insertInbox("crm1:evt-42", "{\"first\":false}"));
        insertInbox("crm1:evt-43", "{}");

        assertThat(store.sql().queryForList("SELECT idempotency_key || ' ' || payload FROM inbox ORDER BY id",
                String.class)).containsExactly("crm1:evt-42 {\"first\":true}", "crm1:evt-43 {}");
        assertThat(store.sql().queryForList("SELECT state FROM inbox", String.class)).containsOnly("pending");
    }

    // ---- outbox

    @Test
    void databaseRefusesAnOutboxOutcomeTheCodeDoesNotKnow() {
        insertContact("c-1", "ada@example.com", "ada@example.com", null, null);
        for (dev.crmsync.sync.DeliveryOutcome outcome : dev.crmsync.sync.DeliveryOutcome.values()) {
            insertOutbox("c-1", outcome.column());
        }

        assertRefusedBy("outbox_outcome", () -> insertOutbox("c-1", "delivered"));
        assertThat(store.sql().queryForList("SELECT outcome FROM outbox ORDER BY id", String.class)).containsExactly(
                java.util.Arrays.stream(dev.crmsync.sync.DeliveryOutcome.values()).map(o -> o.column()).toArray(String[]::new));
    }

    // ---- sync_run: one active run per system and type

    @Test
    void databaseAllowsOnlyOneActiveRunPerSystemAndType() {
        insertRun("r1", "crm1", "initial", "fetching", "crm1:initial");

        assertDuplicateIn("sync_run_one_active_per_kind",
                () -> insertRun("r2", "crm1", "initial", "queued", "crm1:initial"));
        // an active run cannot dodge the unique key with a foreign active_key
        assertRefusedBy("sync_run_active_key", () -> insertRun("r4", "crm1", "initial", "queued", "crm1:other"));
        // other kinds and other systems run side by side
        insertRun("r5", "crm1", "incremental", "processing", "crm1:incremental");
        insertRun("r6", "crm2", "initial", "queued", "crm2:initial");

        assertThat(runs()).containsExactly("r1 crm1:initial", "r5 crm1:incremental", "r6 crm2:initial");
    }

    @Test
    void databaseRefusesAnActiveRunWithoutItsActiveKey() {
        insertRun("r1", "crm1", "initial", "fetching", "crm1:initial");

        assertRefusedBy("sync_run_active_key", () -> insertRun("r2", "crm1", "initial", "queued", null));

        assertThat(runs()).containsExactly("r1 crm1:initial");
    }

    @Test
    void databaseAllowsANewRunOnceTheActiveOneHasEnded() {
        insertRun("r1", "crm1", "initial", "processing", "crm1:initial");

        sql.update("UPDATE sync_run SET state = 'completed', active_key = NULL, ended_at = :at WHERE id = 'r1'",
                Map.of("at", T0));
        insertRun("r2", "crm1", "initial", "queued", "crm1:initial");
        sql.update("UPDATE sync_run SET state = 'failed', active_key = NULL WHERE id = 'r2'", Map.of());
        insertRun("r3", "crm1", "initial", "fetching", "crm1:initial");

        assertThat(runs()).containsExactly("r1 -", "r2 -", "r3 crm1:initial");
        assertThat(store.sql().queryForList("SELECT state FROM sync_run ORDER BY id", String.class))
                .containsExactly("completed", "failed", "fetching");
    }

    @Test
    void databaseRefusesAnEndedRunThatStillHoldsItsActiveKey() {
        insertRun("r1", "crm1", "initial", "processing", "crm1:initial");

        assertRefusedBy("sync_run_active_key",
                () -> sql.update("UPDATE sync_run SET state = 'completed' WHERE id = 'r1'", Map.of()));
        assertRefusedBy("sync_run_active_key", () -> insertRun("r2", "crm2", "initial", "cancelled", "crm2:initial"));
        assertRefusedBy("sync_run_type", () -> insertRun("r3", "crm2", "full", "queued", "crm2:full"));

        assertThat(runs()).containsExactly("r1 crm1:initial");
        assertThat(store.sql().queryForObject("SELECT state FROM sync_run", String.class)).isEqualTo("processing");
    }

    // ---- erasure: the contact id only while pending, one pending erasure per contact

    @Test
    void databaseRefusesAnErasureThatKeepsItsContactIdOnceCompleted() {
        insertErasure("e1", "contact", "pending", "c1");

        assertRefusedBy("erasure_contact_id_only_while_pending",
                () -> sql.update("UPDATE erasure SET state = 'completed' WHERE id = 'e1'", Map.of()));
        assertRefusedBy("erasure_contact_id_only_while_pending", () -> insertErasure("e2", "contact", "pending", null));
        assertRefusedBy("erasure_contact_id_only_while_pending", () -> insertErasure("e3", "tombstones", "pending", "c2"));
        sql.update("UPDATE erasure SET state = 'completed', contact_id = NULL, subject_hash = 'h' WHERE id = 'e1'", Map.of());

        assertThat(store.sql().queryForList("SELECT id || ' ' || state || ' ' || COALESCE(contact_id, '-') FROM erasure",
                String.class)).containsExactly("e1 completed -");
    }

    @Test
    void databaseAllowsOnePendingErasurePerContact() {
        insertErasure("e1", "contact", "pending", "c1");

        assertDuplicateIn("erasure_one_pending_per_contact", () -> insertErasure("e2", "contact", "pending", "c1"));
        insertErasure("e3", "contact", "pending", "c2");
        insertErasure("e4", "tombstones", "completed", null);
        insertErasure("e5", "tombstones", "pending", null);

        assertThat(store.sql().queryForList("SELECT id FROM erasure ORDER BY id", String.class))
                .containsExactly("e1", "e3", "e4", "e5");
    }

    @Test
    void databaseRefusesAnErasedRecordOfNoErasureAndASecondCopyOfOne() {
        insertErasure("e1", "tombstones", "completed", null);
        sql.update("INSERT INTO erased_record (key_hash, erasure_id, erased_at) VALUES ('k1', 'e1', :at)", Map.of("at", T0));

        assertRefusedBy("erasure", () -> sql.update("INSERT INTO erased_record (key_hash, erasure_id, erased_at) "
                + "VALUES ('k2', 'missing', :at)", Map.of("at", T0)));
        assertThatThrownBy(() -> sql.update("INSERT INTO erased_record (key_hash, erasure_id, erased_at) "
                + "VALUES ('k1', 'e1', :at)", Map.of("at", T0))).isInstanceOf(DuplicateKeyException.class);
        assertRefusedBy("erasure_key_single_row",
                () -> sql.update("INSERT INTO erasure_key (id, salt) VALUES (2, 'ab')", Map.of()));

        assertThat(store.sql().queryForList("SELECT key_hash FROM erased_record", String.class)).containsExactly("k1");
    }

    // ---- helpers

    private void insertErasure(String id, String kind, String state, String contactId) {
        sql.update("INSERT INTO erasure (id, kind, state, contact_id, requested_by, requested_at) "
                        + "VALUES (:id, :kind, :state, :contact, 'tester', :at)",
                new MapSqlParameterSource().addValue("id", id).addValue("kind", kind).addValue("state", state)
                        .addValue("contact", contactId).addValue("at", T0));
    }

    private void insertContact(String id, String email, String emailKey, String phone, OffsetDateTime deletedAt) {
        sql.update("INSERT INTO contact (id, email, email_key, phone, version, created_at, updated_at, deleted_at) "
                        + "VALUES (:id, :email, :emailKey, :phone, 1, :at, :at, :deletedAt)",
                new MapSqlParameterSource().addValue("id", id).addValue("email", email).addValue("emailKey", emailKey)
                        .addValue("phone", phone).addValue("at", T0).addValue("deletedAt", deletedAt));
    }

    private void insertHistory(String contactId, long version, String operation) {
        sql.update("INSERT INTO contact_history (contact_id, version, operation, source_system, changes, changed_at) "
                        + "VALUES (:id, :version, :operation, 'api', '{}', :at)",
                Map.of("id", contactId, "version", version, "operation", operation, "at", T0));
    }

    private void insertInbox(String key, String payload) {
        sql.update("INSERT INTO inbox (idempotency_key, source_system, object_type, external_id, operation, payload, "
                        + "received_at) VALUES (:key, 'crm1', 'contact', 'x-1', 'update', :payload, :at)",
                Map.of("key", key, "payload", payload, "at", T0));
    }

    private void insertOutbox(String contactId, String outcome) {
        sql.update("INSERT INTO outbox (contact_id, target_system, object_type, operation, contact_version, outcome, "
                        + "next_attempt_at, created_at) VALUES (:contact, 'crm1', 'contact', 'update', 1, :outcome, :at, :at)",
                new MapSqlParameterSource("contact", contactId).addValue("outcome", outcome).addValue("at", T0));
    }

    private void insertRun(String id, String system, String type, String state, String activeKey) {
        sql.update("INSERT INTO sync_run (id, system, run_type, state, active_key, created_at) "
                        + "VALUES (:id, :system, :type, :state, :activeKey, :at)",
                new MapSqlParameterSource().addValue("id", id).addValue("system", system).addValue("type", type)
                        .addValue("state", state).addValue("activeKey", activeKey).addValue("at", T0));
    }

    private List<String> ids() {
        return store.sql().queryForList("SELECT id FROM contact ORDER BY id", String.class);
    }

    private List<String> runs() {
        return store.sql().queryForList("SELECT id || ' ' || COALESCE(active_key, '-') FROM sync_run ORDER BY id",
                String.class);
    }

    private Object column(String id, String column) {
        return store.sql().queryForObject("SELECT " + column + " FROM contact WHERE id = ?", Object.class, id);
    }

    /** The statement fails, and the database names the constraint that refused it. */
    private static void assertRefusedBy(String constraint, Runnable statement) {
        assertThatThrownBy(statement::run)
                .isInstanceOf(DataIntegrityViolationException.class)
                .satisfies(e -> assertThat(e.getMessage()).containsIgnoringCase(constraint));
    }

    /** The statement fails on a unique key, and the database names the constraint. */
    private static void assertDuplicateIn(String constraint, Runnable statement) {
        assertThatThrownBy(statement::run)
                .isInstanceOf(DuplicateKeyException.class)
                .satisfies(e -> assertThat(e.getMessage()).containsIgnoringCase(constraint));
    }
}
