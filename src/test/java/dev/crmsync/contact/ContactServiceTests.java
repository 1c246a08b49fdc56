package dev.crmsync.contact;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crmsync.api.ApiProblem;
import dev.crmsync.config.CrmSyncProperties.Provider;
import dev.crmsync.contact.Contact.ContactFields;
import dev.crmsync.contact.ContactService.Source;
import dev.crmsync.support.OnEachDatabase;
import dev.crmsync.support.StoreContext;
import dev.crmsync.support.TestClock;
import dev.crmsync.sync.Outbox;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.springframework.dao.DataIntegrityViolationException;
import org.springframework.dao.DuplicateKeyException;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.transaction.IllegalTransactionStateException;

/**
 * {@link ContactService} on a real transaction manager: every change writes the contact, its
 * history row and its outbox rows in one transaction, or nothing at all. The providers are
 * {@link StoreContext#PROVIDERS}: crm1 (object contact) and crm2 (object person) enabled, crm3
 * disabled. Runs once per database through {@link H2ContactServiceTest} and
 * {@link PostgresContactServiceTest}.
 */
abstract class ContactServiceTests extends OnEachDatabase {

    private static final Source API = new Source("api", "ops@example.com");
    private static final Source CRM1 = new Source("crm1", null);
    private static final Source CRM2 = new Source("crm2", null);

    private ContactService service;
    private ContactNormalizer normalizer;
    private TestClock clock;
    private JdbcTemplate sql;
    private ObjectMapper json;

    @Override
    protected void ready() {
        service = store.service();
        normalizer = store.normalizer();
        clock = store.clock();
        sql = store.sql();
        json = store.json();
    }

    // ---- create, update, delete: the contact row, its history, its version

    @Test
    void createWritesTheContactAndItsCreateHistoryRowAtVersionOne() {
        Contact created = service.create(fields("{'email':'Ann.Lee@Example.com','firstName':'Ann','lastName':'Lee',"
                + "'phone':'(415) 555-0100','tags':['vip']}"), API);

        assertThat(created.version()).isEqualTo(1);
        Map<String, Object> row = contactRow(created.id());
        assertThat(row).containsEntry("email", "Ann.Lee@Example.com").containsEntry("email_key", "ann.lee@example.com")
                .containsEntry("first_name", "Ann").containsEntry("last_name", "Lee")
                .containsEntry("phone", "+14155550100").containsEntry("tags", "[\"vip\"]")
                .containsEntry("version", 1L).containsEntry("deleted_at", null)
                .containsEntry("created_at", created.createdAt()).containsEntry("updated_at", created.createdAt());
        assertThat(history(created.id())).containsExactly(new HistoryRow(1, "create", "api", "ops@example.com",
                changes("email", null, "Ann.Lee@Example.com", "firstName", null, "Ann", "lastName", null, "Lee",
                        "phone", null, "+14155550100", "tags", null, List.of("vip"))));
    }

    @Test
    void updateIncrementsTheVersionAndRecordsEachChangedFieldFromTo() {
        Contact created = service.create(fields("{'email':'ann@example.com','lastName':'Lee'}"), API);

        Contact updated = service.update(created.id(), 1L,
                patch("{'lastName':'Lee-Smith','title':'CTO','email':'Ann@Example.com'}"), CRM1);

        assertThat(updated.version()).isEqualTo(2);
        assertThat(updated.updatedAt()).isAfter(created.updatedAt());
        assertThat(contactRow(created.id())).containsEntry("version", 2L).containsEntry("last_name", "Lee-Smith")
                .containsEntry("title", "CTO").containsEntry("email", "Ann@Example.com")
                .containsEntry("email_key", "ann@example.com")
                .containsEntry("created_at", created.createdAt()).containsEntry("updated_at", updated.updatedAt());
        List<HistoryRow> history = history(created.id());
        assertThat(history).extracting(HistoryRow::version, HistoryRow::operation, HistoryRow::source)
                .containsExactly(tuple(1L, "create", "api"), tuple(2L, "update", "crm1"));
        assertThat(history.get(1).changes()).isEqualTo(changes(
                "email", "ann@example.com", "Ann@Example.com",
                "lastName", "Lee", "Lee-Smith",
                "title", null, "CTO"));
        assertThat(sql.queryForObject("SELECT changed_at FROM contact_history WHERE version = 2", OffsetDateTime.class)
                .toInstant()).isEqualTo(updated.updatedAt());
    }

    @Test
    void updateWithAStaleExpectedVersionIsRefusedWith412AndChangesNothing() {
        Contact created = service.create(fields("{'email':'ann@example.com','lastName':'Lee'}"), API);
        service.update(created.id(), 1L, patch("{'title':'CTO'}"), API);
        Map<String, Object> before = contactRow(created.id());
        List<HistoryRow> historyBefore = history(created.id());
        List<String> outboxBefore = outbox(created.id());

        assertThatThrownBy(() -> service.update(created.id(), 1L, patch("{'lastName':'Other'}"), API))
                .isInstanceOfSatisfying(ApiProblem.class, problem -> {
                    assertThat(problem.status()).isEqualTo(412);
                    assertThat(problem.properties()).containsEntry("currentVersion", 2L);
                });
        assertThatThrownBy(() -> service.delete(created.id(), 1L, API))
                .isInstanceOfSatisfying(ApiProblem.class, problem -> assertThat(problem.status()).isEqualTo(412));

        assertThat(contactRow(created.id())).isEqualTo(before).containsEntry("version", 2L)
                .containsEntry("last_name", "Lee").containsEntry("deleted_at", null);
        assertThat(history(created.id())).isEqualTo(historyBefore).hasSize(2);
        assertThat(outbox(created.id())).isEqualTo(outboxBefore);
    }

    @Test
    void updateThatChangesNothingWritesNoHistoryAndKeepsTheVersion() {
        String body = "{'email':'Ann@Example.com','firstName':'Ann','tags':['vip','b2b'],"
                + "'custom':{'score':42,'ratio':0.5,'big':12345678901,'active':true,'note':'x'}}";
        Contact created = service.create(fields(body), API);
        Map<String, Object> before = contactRow(created.id());

        Contact same = service.update(created.id(), 1L, current -> current, API);
        // the same values as a client sends them again: padded in a patch, and as a whole replacement
        Contact patched = service.update(created.id(), 1L, patch("{'firstName':'  Ann ','email':'Ann@Example.com'}"),
                CRM1);
        Contact replaced = service.update(created.id(), null, current -> fields(body), CRM2);

        assertThat(List.of(same, patched, replaced)).extracting(Contact::version).containsOnly(1L);
        assertThat(contactRow(created.id())).isEqualTo(before);
        assertThat(history(created.id())).extracting(HistoryRow::operation).containsExactly("create");
        assertThat(outbox(created.id())).containsExactly("crm1 contact create v1", "crm2 person create v1");
    }

    @Test
    void deleteMakesATombstoneThatKeepsItsEmailAndFreesTheEmailForANewContact() {
        Contact ann = service.create(fields("{'email':'Ann@Example.com','firstName':'Ann'}"), API);

        Contact tombstone = service.delete(ann.id(), 1L, API);
        Contact newAnn = service.create(fields("{'email':'ANN@example.com','firstName':'Annie'}"), API);

        assertThat(tombstone.version()).isEqualTo(2);
        assertThat(tombstone.deletedAt()).isEqualTo(tombstone.updatedAt());
        assertThat(contactRow(ann.id())).containsEntry("email", "Ann@Example.com").containsEntry("email_key", null)
                .containsEntry("first_name", "Ann").containsEntry("version", 2L)
                .containsEntry("deleted_at", tombstone.deletedAt());
        assertThat(history(ann.id())).last().isEqualTo(new HistoryRow(2, "delete", "api", "ops@example.com",
                changes("deletedAt", null, tombstone.deletedAt().toString())));
        assertThat(outbox(ann.id())).endsWith("crm1 contact delete v2", "crm2 person delete v2");
        assertThat(contactRow(newAnn.id())).containsEntry("email", "ANN@example.com")
                .containsEntry("email_key", "ann@example.com").containsEntry("deleted_at", null)
                .containsEntry("version", 1L);
        assertThat(sql.queryForList("SELECT id FROM contact WHERE LOWER(email) = 'ann@example.com' ORDER BY created_at",
                String.class)).containsExactly(ann.id(), newAnn.id());
        assertThat(store.store().findLiveIdByEmail("ann@example.com")).contains(newAnn.id());
    }

    @Test
    void aTombstoneIsNeitherUpdatedNorDeletedAgain() {
        Contact ann = service.create(fields("{'email':'ann@example.com'}"), API);
        service.delete(ann.id(), null, API);
        Map<String, Object> before = contactRow(ann.id());

        assertThatThrownBy(() -> service.update(ann.id(), null, patch("{'title':'CTO'}"), CRM1))
                .isInstanceOfSatisfying(ApiProblem.class, problem -> assertThat(problem.status()).isEqualTo(410));
        assertThatThrownBy(() -> service.delete(ann.id(), null, CRM1))
                .isInstanceOfSatisfying(ApiProblem.class, problem -> assertThat(problem.status()).isEqualTo(410));
        assertThatThrownBy(() -> service.update("no-such-id", null, patch("{'title':'CTO'}"), CRM1))
                .isInstanceOfSatisfying(ApiProblem.class, problem -> assertThat(problem.status()).isEqualTo(404));

        assertThat(contactRow(ann.id())).isEqualTo(before);
        assertThat(history(ann.id())).extracting(HistoryRow::operation).containsExactly("create", "delete");
        assertThat(store.count("outbox")).isEqualTo(4);
    }

    @Test
    void createOrUpdateWithTheEmailOfAnotherLiveContactIsRefusedWith409AndWritesNothing() {
        Contact ann = service.create(fields("{'email':'ann@example.com'}"), API);
        Contact bob = service.create(fields("{'email':'bob@example.com'}"), API);

        assertThatThrownBy(() -> service.create(fields("{'email':'ANN@Example.COM','firstName':'Other'}"), API))
                .isInstanceOfSatisfying(ApiProblem.class, problem -> {
                    assertThat(problem.status()).isEqualTo(409);
                    assertThat(problem.properties()).containsEntry("existingId", ann.id());
                });
        assertThatThrownBy(() -> service.update(bob.id(), 1L, patch("{'email':'Ann@example.com'}"), API))
                .isInstanceOfSatisfying(ApiProblem.class, problem -> assertThat(problem.status()).isEqualTo(409));

        assertThat(sql.queryForList("SELECT email FROM contact ORDER BY email", String.class))
                .containsExactly("ann@example.com", "bob@example.com");
        assertThat(contactRow(bob.id())).containsEntry("version", 1L);
        assertThat(store.count("contact_history")).isEqualTo(2);
        assertThat(store.count("outbox")).isEqualTo(4);
    }

    // ---- concurrency

    @RepeatedTest(5)
    void twoThreadsCreatingTheSameEmailAtTheSameMomentLeaveExactlyOneContact() throws Exception {
        CyclicBarrier start = new CyclicBarrier(2);

        List<Object> outcomes = race(
                () -> {
                    start.await(10, TimeUnit.SECONDS);
                    return service.create(fields("{'email':'race@example.com','firstName':'One'}"), API);
                },
                () -> {
                    start.await(10, TimeUnit.SECONDS);
                    return service.create(fields("{'email':'RACE@Example.com','firstName':'Two'}"), CRM1);
                });

        assertOneCreatedAndOneRefusedAsDuplicate(outcomes);
    }

    @Test
    void whenBothCreatesHavePassedTheEmailCheckTheDatabaseRefusesTheSecondInsert() throws Exception {
        // ContactService.create reads the clock after its email check and before its insert: hold
        // both threads there until both have checked, so only the unique key can stop the second
        CountDownLatch bothChecked = new CountDownLatch(2);
        clock.onRead(() -> {
            bothChecked.countDown();
            try {
                if (!bothChecked.await(10, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("the other create never reached its insert");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        });

        List<Object> outcomes = race(
                () -> service.create(fields("{'email':'race@example.com','firstName':'One'}"), API),
                () -> service.create(fields("{'email':'Race@example.com','firstName':'Two'}"), API));

        assertThat(outcomes).filteredOn(DuplicateKeyException.class::isInstance)
                .as("the loser fails on the database's unique key, not on the service's check: %s", outcomes)
                .hasSize(1);
        assertOneCreatedAndOneRefusedAsDuplicate(outcomes);
    }

    @Test
    void concurrentUpdatesOfOneContactQueueUpAndNoneIsLost() throws Exception {
        Contact ann = service.create(fields("{'email':'ann@example.com'}"), API);
        CyclicBarrier start = new CyclicBarrier(4);
        List<Callable<Object>> writers = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            String tag = "t" + i;
            writers.add(() -> {
                start.await(10, TimeUnit.SECONDS);
                return service.update(ann.id(), null, current -> {
                    List<String> tags = new ArrayList<>(current.tags());
                    tags.add(tag);
                    return new ContactFields(current.email(), current.firstName(), current.lastName(),
                            current.phone(), current.company(), current.title(), tags, current.custom());
                }, API);
            });
        }

        List<Object> outcomes = race(writers);

        assertThat(outcomes).allSatisfy(outcome -> assertThat(outcome).isInstanceOf(Contact.class));
        Contact last = store.store().find(ann.id()).orElseThrow();
        assertThat(last.version()).isEqualTo(5);
        assertThat(last.values().tags()).containsExactlyInAnyOrder("t0", "t1", "t2", "t3");
        assertThat(history(ann.id())).extracting(HistoryRow::version).containsExactly(1L, 2L, 3L, 4L, 5L);
        assertThat(outbox(ann.id())).hasSize(10);
    }

    // ---- outbox: one row per enabled target other than the source, in the same transaction

    @Test
    void aChangeFromTheApiWritesOneOutboxRowPerEnabledProvider() {
        Contact ann = service.create(fields("{'email':'ann@example.com'}"), API);

        assertThat(outbox(ann.id())).containsExactly("crm1 contact create v1", "crm2 person create v1");
        assertThat(sql.queryForList("SELECT state || ' ' || CAST(attempts AS VARCHAR(10)) FROM outbox", String.class))
                .containsExactly("pending 0", "pending 0");
        assertThat(sql.queryForList("SELECT next_attempt_at FROM outbox", OffsetDateTime.class))
                .extracting(OffsetDateTime::toInstant).containsOnly(ann.updatedAt());
    }

    @Test
    void aChangeFromOneProviderIsSentOnlyToTheOtherEnabledProvider() {
        Contact ann = service.create(fields("{'email':'ann@example.com'}"), CRM1);
        service.update(ann.id(), 1L, patch("{'title':'CTO'}"), CRM2);
        service.delete(ann.id(), 2L, CRM1);

        assertThat(outbox(ann.id())).containsExactly("crm2 person create v1", "crm1 contact update v2",
                "crm2 person delete v3");
        // a change from the disabled provider still fans out to both enabled ones
        Contact bob = service.create(fields("{'email':'bob@example.com'}"), new Source("crm3", null));
        assertThat(outbox(bob.id())).containsExactly("crm1 contact create v1", "crm2 person create v1");
    }

    @Test
    void outboxRefusesToWriteOutsideATransaction() {
        Contact ann = service.create(fields("{'email':'ann@example.com'}"), CRM1);

        assertThatThrownBy(() -> store.bean(Outbox.class).enqueue(ann, "api", java.util.Set.of(), Instant.now()))
                .isInstanceOf(IllegalTransactionStateException.class);

        assertThat(outbox(ann.id())).containsExactly("crm2 person create v1");
    }

    // ---- atomicity: a change that fails half way leaves nothing behind

    @Test
    void aCreateWhoseHistoryInsertFailsLeavesNoContactHistoryOrOutboxRow() {
        // contact_history.actor is VARCHAR(255): the contact row goes in, then its history row fails
        Source tooLong = new Source("api", "x".repeat(300));

        assertThatThrownBy(() -> service.create(fields("{'email':'ann@example.com'}"), tooLong))
                .isInstanceOf(DataIntegrityViolationException.class);

        assertThat(store.count("contact")).isZero();
        assertThat(store.count("contact_history")).isZero();
        assertThat(store.count("outbox")).isZero();
        // and the email is still free
        assertThat(service.create(fields("{'email':'ann@example.com'}"), API).version()).isEqualTo(1);
    }

    @Test
    void anUpdateWhoseHistoryInsertFailsLeavesTheContactAsItWas() {
        Contact ann = service.create(fields("{'email':'ann@example.com','title':'CEO'}"), API);
        Map<String, Object> before = contactRow(ann.id());

        assertThatThrownBy(() -> service.update(ann.id(), 1L, patch("{'title':'CTO'}"),
                new Source("api", "x".repeat(300)))).isInstanceOf(DataIntegrityViolationException.class);

        assertThat(contactRow(ann.id())).isEqualTo(before).containsEntry("title", "CEO");
        assertThat(history(ann.id())).hasSize(1);
        assertThat(outbox(ann.id())).containsExactly("crm1 contact create v1", "crm2 person create v1");
    }

    @Test
    void aChangeWhoseOutboxInsertFailsLeavesNoContactOrHistoryRow() {
        // outbox.object_type is VARCHAR(64): the row for "broken" fails after the contact, history and crm1 rows
        Map<String, Provider> providers = Map.of(
                "crm1", new Provider(true, "rest", "contact", null, null),
                "zbroken", new Provider(true, "rest", "o".repeat(65), null, null));
        try (StoreContext faulty = StoreContext.start(database(), providers)) {
            ContactService faultyService = faulty.service();

            assertThatThrownBy(() -> faultyService.create(fields("{'email':'ann@example.com'}"), API))
                    .isInstanceOf(DataIntegrityViolationException.class);
            assertThat(faulty.count("contact")).isZero();
            assertThat(faulty.count("contact_history")).isZero();
            assertThat(faulty.count("outbox")).isZero();

            // from "zbroken" itself only crm1 is a target, so this create succeeds...
            Contact ann = faultyService.create(fields("{'email':'ann@example.com','title':'CEO'}"),
                    new Source("zbroken", null));
            // ...and an update from the API fails on zbroken's outbox row, after crm1's went in
            assertThatThrownBy(() -> faultyService.update(ann.id(), 1L, patch("{'title':'CTO'}"), API))
                    .isInstanceOf(DataIntegrityViolationException.class);

            assertThat(faulty.sql().queryForMap("SELECT title, version FROM contact WHERE id = ?", ann.id()))
                    .containsEntry("title", "CEO").containsEntry("version", 1L);
            assertThat(faulty.sql().queryForList("SELECT operation FROM contact_history", String.class))
                    .containsExactly("create");
            assertThat(faulty.sql().queryForList("SELECT target_system || ' ' || operation FROM outbox",
                    String.class)).containsExactly("crm1 create");
        }
    }

    @Test
    void storeRefusesAWriteWhoseVersionDoesNotFollowTheStoredOne() {
        Contact ann = service.create(fields("{'email':'ann@example.com'}"), API);
        Contact skipping = new Contact(ann.id(), fields("{'email':'ann@example.com','title':'CTO'}"), 3,
                ann.createdAt(), ann.updatedAt(), null, null);

        assertThatThrownBy(() -> store.store().update(skipping)).isInstanceOf(IllegalStateException.class);

        assertThat(contactRow(ann.id())).containsEntry("version", 1L).containsEntry("title", null);
    }

    // ---- helpers

    /** A contact_history row as stored, its changes parsed. */
    record HistoryRow(long version, String operation, String source, String actor,
                      Map<String, Map<String, Object>> changes) {
    }

    private List<HistoryRow> history(String contactId) {
        return sql.query("SELECT version, operation, source_system, actor, changes FROM contact_history "
                        + "WHERE contact_id = ? ORDER BY version",
                (rs, n) -> new HistoryRow(rs.getLong("version"), rs.getString("operation"),
                        rs.getString("source_system"), rs.getString("actor"), parse(rs.getString("changes"))),
                contactId);
    }

    /** The outbox rows of a contact in insert order, as "target object operation vN". */
    private List<String> outbox(String contactId) {
        return sql.query("SELECT target_system, object_type, operation, contact_version FROM outbox "
                        + "WHERE contact_id = ? ORDER BY id",
                (rs, n) -> rs.getString(1) + " " + rs.getString(2) + " " + rs.getString(3) + " v" + rs.getLong(4),
                contactId);
    }

    /** The contact row as stored: text columns as text, version as long, times as instants. */
    private Map<String, Object> contactRow(String id) {
        return sql.queryForObject("SELECT id, email, email_key, first_name, last_name, phone, company, title, tags, "
                + "custom, version, created_at, updated_at, deleted_at, merged_into FROM contact WHERE id = ?",
                (rs, n) -> {
                    Map<String, Object> row = new LinkedHashMap<>();
                    for (String column : List.of("id", "email", "email_key", "first_name", "last_name", "phone",
                            "company", "title", "tags", "custom", "merged_into")) {
                        row.put(column, rs.getString(column));
                    }
                    row.put("version", rs.getLong("version"));
                    for (String column : List.of("created_at", "updated_at", "deleted_at")) {
                        OffsetDateTime time = rs.getObject(column, OffsetDateTime.class);
                        row.put(column, time == null ? null : time.toInstant());
                    }
                    return row;
                }, id);
    }

    /** Alternating field, from, to. */
    private static Map<String, Map<String, Object>> changes(Object... fieldFromTo) {
        Map<String, Map<String, Object>> changes = new LinkedHashMap<>();
        for (int i = 0; i < fieldFromTo.length; i += 3) {
            Map<String, Object> change = new LinkedHashMap<>();
            change.put("from", fieldFromTo[i + 1]);
            change.put("to", fieldFromTo[i + 2]);
            changes.put((String) fieldFromTo[i], change);
        }
        return changes;
    }

    private Map<String, Map<String, Object>> parse(String text) {
        try {
            return json.readValue(text, new TypeReference<>() {
            });
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(text, e);
        }
    }

    private ObjectNode body(String singleQuoted) {
        try {
            return (ObjectNode) json.readTree(singleQuoted.replace('\'', '"'));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(singleQuoted, e);
        }
    }

    /** A whole contact through the API's normaliser, its JSON written with single quotes. */
    private ContactFields fields(String singleQuoted) {
        return normalizer.complete(body(singleQuoted));
    }

    /** A merge patch through the API's normaliser. */
    private UnaryOperator<ContactFields> patch(String singleQuoted) {
        ObjectNode body = body(singleQuoted);
        return current -> normalizer.patch(current, body);
    }

    @SafeVarargs
    private static List<Object> race(Callable<Object>... calls) throws Exception {
        return race(List.of(calls));
    }

    /** Runs the calls on their own threads at once; each outcome is the result or the exception thrown. */
    private static List<Object> race(List<Callable<Object>> calls) throws Exception {
        ExecutorService threads = Executors.newFixedThreadPool(calls.size());
        try {
            List<Future<Object>> futures = new ArrayList<>();
            for (Callable<Object> call : calls) {
                futures.add(threads.submit(() -> {
                    try {
                        return call.call();
                    } catch (RuntimeException e) {
                        return e;
                    }
                }));
            }
            List<Object> outcomes = new ArrayList<>();
            for (Future<Object> future : futures) {
                outcomes.add(future.get(30, TimeUnit.SECONDS));
            }
            return outcomes;
        } finally {
            threads.shutdownNow();
        }
    }

    private void assertOneCreatedAndOneRefusedAsDuplicate(List<Object> outcomes) {
        assertThat(outcomes).filteredOn(Contact.class::isInstance).as("outcomes %s", outcomes).hasSize(1);
        assertThat(outcomes).filteredOn(outcome -> !(outcome instanceof Contact)).singleElement()
                .satisfies(loser -> assertThat(loser instanceof DuplicateKeyException
                        || loser instanceof ApiProblem problem && problem.status() == 409)
                        .as("the loser's failure: %s", loser).isTrue());
        Contact winner = (Contact) outcomes.stream().filter(Contact.class::isInstance).findFirst().orElseThrow();
        assertThat(sql.queryForList("SELECT id FROM contact", String.class)).containsExactly(winner.id());
        assertThat(contactRow(winner.id())).containsEntry("email_key", "race@example.com");
        assertThat(history(winner.id())).extracting(HistoryRow::operation).containsExactly("create");
        assertThat(store.count("contact_history")).isEqualTo(1);
        assertThat(sql.queryForList("SELECT DISTINCT contact_id FROM outbox", String.class))
                .containsExactly(winner.id());
    }
}
