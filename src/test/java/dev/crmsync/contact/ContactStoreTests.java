package dev.crmsync.contact;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TimeZone;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crmsync.contact.Contact.ContactFields;
import dev.crmsync.contact.ContactService.Source;
import dev.crmsync.contact.ContactStore.HistoryEntry;
import dev.crmsync.contact.ContactStore.ListQuery;
import dev.crmsync.support.OnEachDatabase;
import dev.crmsync.support.TestClock;
import org.junit.jupiter.api.Test;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * {@link ContactStore} reads: keyset paging over (updated_at, id), the text, email and
 * updated-since filters, and the round trip of timestamps and JSON columns. Runs once per database
 * through {@link H2ContactStoreTest} and {@link PostgresContactStoreTest}.
 */
abstract class ContactStoreTests extends OnEachDatabase {

    private static final Source API = new Source("api", null);
    private static final Instant BASE = Instant.parse("2025-04-01T08:00:00.000001Z");

    private ContactService service;
    private ContactStore contacts;
    private TestClock clock;
    private JdbcTemplate sql;
    private ObjectMapper json;

    @Override
    protected void ready() {
        service = store.service();
        contacts = store.store();
        clock = store.clock();
        sql = store.sql();
        json = store.json();
    }

    // ---- keyset paging

    @Test
    void pagingByUpdatedAtAndIdReturnsEveryLiveContactExactlyOnceInOrder() {
        List<Contact> live = seedTwentyFiveContactsInGroupsOfFourSharingATimestampWithThreeTombstones();

        List<List<Contact>> pages = new ArrayList<>();
        List<Contact> page = contacts.list(query(null, null, null, null, 10));
        while (!page.isEmpty()) {
            pages.add(page);
            Contact last = page.get(page.size() - 1);
            page = contacts.list(query(null, null, last.updatedAt(), last.id(), 10));
        }

        assertThat(pages).extracting(List::size).containsExactly(10, 10, 2);
        List<Contact> all = pages.stream().flatMap(List::stream).toList();
        assertThat(all).extracting(Contact::id).doesNotHaveDuplicates()
                .containsExactlyElementsOf(live.stream().map(Contact::id).toList());
        assertThat(all).allSatisfy(contact -> assertThat(contact.isDeleted()).isFalse());
        assertThat(all).isSortedAccordingTo(Comparator.comparing(Contact::updatedAt).thenComparing(Contact::id));
        // the first page ends inside a group of contacts that share one updated_at
        assertThat(pages.get(0).get(9).updatedAt()).isEqualTo(pages.get(1).get(0).updatedAt());
    }

    @Test
    void pagingOrderMatchesTheDatabaseOrderAndSkipsTombstonesThatShareAPageBoundary() {
        List<Contact> live = seedTwentyFiveContactsInGroupsOfFourSharingATimestampWithThreeTombstones();

        List<String> databaseOrder = sql.queryForList(
                "SELECT id FROM contact WHERE deleted_at IS NULL ORDER BY updated_at, id", String.class);
        List<String> tombstones = sql.queryForList("SELECT id FROM contact WHERE deleted_at IS NOT NULL", String.class);
        List<String> paged = new ArrayList<>();
        Instant afterAt = null;
        String afterId = null;
        for (int i = 0; i < 10; i++) {
            List<Contact> page = contacts.list(query(null, null, afterAt, afterId, 7));
            if (page.isEmpty()) {
                break;
            }
            page.forEach(contact -> paged.add(contact.id()));
            afterAt = page.get(page.size() - 1).updatedAt();
            afterId = page.get(page.size() - 1).id();
        }

        assertThat(tombstones).hasSize(3);
        assertThat(paged).containsExactlyElementsOf(databaseOrder).hasSize(22).doesNotContainAnyElementsOf(tombstones);
        assertThat(live).extracting(Contact::id).containsExactlyElementsOf(databaseOrder);
    }

    @Test
    void updatedSinceKeepsContactsChangedAtOrAfterTheGivenTime() {
        List<Contact> live = seedTwentyFiveContactsInGroupsOfFourSharingATimestampWithThreeTombstones();
        Instant since = BASE.plusSeconds(3);

        List<Contact> changed = contacts.list(query(null, since, null, null, 100));

        assertThat(changed).extracting(Contact::id).containsExactlyElementsOf(
                live.stream().filter(contact -> !contact.updatedAt().isBefore(since)).map(Contact::id).toList());
        assertThat(changed).isNotEmpty().allSatisfy(contact -> assertThat(contact.updatedAt()).isAfterOrEqualTo(since));
        assertThat(contacts.list(query(null, BASE.plusSeconds(3).plusNanos(1000), null, null, 100)))
                .extracting(Contact::updatedAt).allSatisfy(at -> assertThat(at).isAfter(since));
        assertThat(contacts.list(query(null, BASE.plusSeconds(3600), null, null, 100))).isEmpty();
    }

    // ---- filters

    @Test
    void textFilterIsCaseInsensitiveOverEmailNamesAndCompany() {
        Map<String, Contact> seeded = seedForTextSearch();

        assertThat(ids(textSearch("acme"))).containsExactly(seeded.get("ann").id());
        assertThat(ids(textSearch("ACME corp"))).containsExactly(seeded.get("ann").id());
        assertThat(ids(textSearch("lEE"))).containsExactly(seeded.get("ann").id());
        assertThat(ids(textSearch("ANN.LEE@EXAMPLE"))).containsExactly(seeded.get("ann").id());
        assertThat(ids(textSearch("organic"))).containsExactlyInAnyOrder(seeded.get("bob").id(), seeded.get("cat").id());
    }

    @Test
    void textFilterTreatsPercentUnderscoreAndBackslashLiterally() {
        Map<String, Contact> seeded = seedForTextSearch();

        assertThat(ids(textSearch("100%"))).containsExactly(seeded.get("bob").id());
        assertThat(ids(textSearch("%"))).containsExactly(seeded.get("bob").id());
        assertThat(ids(textSearch("dan_x"))).containsExactly(seeded.get("dan").id());
        assertThat(ids(textSearch("_"))).containsExactly(seeded.get("dan").id());
        assertThat(ids(textSearch("\\"))).containsExactly(seeded.get("fay").id());
        assertThat(ids(textSearch("k\\s"))).containsExactly(seeded.get("fay").id());
    }

    @Test
    void textAndEmailFiltersSkipTombstones() {
        Map<String, Contact> seeded = seedForTextSearch();
        service.delete(seeded.get("ann").id(), null, API);

        assertThat(textSearch("acme")).isEmpty();
        assertThat(contacts.list(query("ann.lee@example.com", null, null, null, 10))).isEmpty();
        assertThat(contacts.list(query("bob@example.com", null, null, null, 10))).extracting(Contact::id)
                .containsExactly(seeded.get("bob").id());
    }

    // ---- round trips

    @Test
    void tagsAndCustomValuesRoundTripThroughTheJsonColumns() {
        Map<String, Object> custom = new LinkedHashMap<>();
        custom.put("plan", "gold");
        custom.put("seats", 42);
        custom.put("ratio", 0.25);
        custom.put("big", 12345678901L);
        custom.put("active", true);
        custom.put("churned", false);
        custom.put("note", "naïve \"quoted\" 😀");
        List<String> tags = List.of("vip", "b2b", "ünïcode", "with \"quote\"");
        ContactFields values = new ContactFields("ann@example.com", "Ann", null, null, null, null, tags, custom);

        Contact created = service.create(values, API);
        Contact bare = service.create(new ContactFields(null, null, null, "+14155550100", null, null, null, null), API);

        Contact read = contacts.find(created.id()).orElseThrow();
        assertThat(read.values()).isEqualTo(values);
        assertThat(read.values().custom()).containsExactlyEntriesOf(custom);
        assertThat(read.values().custom().get("seats")).isInstanceOf(Integer.class);
        assertThat(read.values().custom().get("big")).isInstanceOf(Long.class);
        assertThat(read.values().custom().get("active")).isEqualTo(Boolean.TRUE);
        Map<String, Object> raw = sql.queryForMap("SELECT tags, custom FROM contact WHERE id = ?", created.id());
        assertThat(parse((String) raw.get("tags"), new TypeReference<List<String>>() {
        })).containsExactlyElementsOf(tags);
        assertThat(parse((String) raw.get("custom"), new TypeReference<Map<String, Object>>() {
        })).isEqualTo(custom);
        assertThat(contacts.list(query("ann@example.com", null, null, null, 1)).get(0).values()).isEqualTo(values);
        assertThat(sql.queryForMap("SELECT tags, custom FROM contact WHERE id = ?", bare.id()))
                .containsEntry("tags", "[]").containsEntry("custom", "{}");
        assertThat(contacts.find(bare.id()).orElseThrow().values().tags()).isEmpty();
    }

    @Test
    void timestampsRoundTripToTheMicrosecond() {
        clock.set(Instant.parse("2025-03-01T10:15:30.123456789Z"));

        Contact created = service.create(new ContactFields("ann@example.com", null, null, null, null, null, null, null),
                API);

        Instant micros = Instant.parse("2025-03-01T10:15:30.123456Z");
        assertThat(created.createdAt()).isEqualTo(micros);
        Contact read = contacts.find(created.id()).orElseThrow();
        assertThat(read.createdAt()).isEqualTo(micros);
        assertThat(read.updatedAt()).isEqualTo(micros);
        assertThat(read.deletedAt()).isNull();
        assertThat(sql.queryForObject("SELECT created_at FROM contact", OffsetDateTime.class).toInstant())
                .isEqualTo(micros);
        assertThat(contacts.history(created.id())).extracting(HistoryEntry::changedAt).containsExactly(micros);
        assertThat(sql.queryForList("SELECT created_at FROM outbox", OffsetDateTime.class))
                .extracting(OffsetDateTime::toInstant).containsOnly(micros);
        assertThat(contacts.list(query(null, micros, null, null, 10))).extracting(Contact::id)
                .containsExactly(created.id());
        assertThat(contacts.list(query(null, micros.plus(1, ChronoUnit.MICROS), null, null, 10))).isEmpty();
    }

    @Test
    void timestampsFarFromTodayAndAwayFromUtcReadBackAsTheSameInstant() {
        Instant created = Instant.parse("1969-07-20T20:17:40.000001Z");
        Instant updated = Instant.parse("2099-12-31T23:59:59.999999Z");
        Instant deleted = Instant.parse("2038-01-19T03:14:08.500000Z");
        contacts.insert(new Contact("far", new ContactFields(null, null, null, "+14155550100", null, null, null, null),
                1, created, updated, deleted, null));
        TimeZone jvmZone = TimeZone.getDefault();
        Contact read;
        try {
            // the stored instant must not depend on the zone of the JVM that reads it
            TimeZone.setDefault(TimeZone.getTimeZone("Pacific/Chatham"));
            read = contacts.find("far").orElseThrow();
        } finally {
            TimeZone.setDefault(jvmZone);
        }

        assertThat(read.createdAt()).isEqualTo(created);
        assertThat(read.updatedAt()).isEqualTo(updated);
        assertThat(read.deletedAt()).isEqualTo(deleted);
        assertThat(sql.queryForObject("SELECT COUNT(*) FROM contact WHERE updated_at = ?", Long.class,
                OffsetDateTime.parse("2100-01-01T12:44:59.999999+12:45"))).isEqualTo(1);
    }

    @Test
    void historyReadsBackTheChangesAsWritten() {
        Contact ann = service.create(new ContactFields("ann@example.com", "Ann", null, null, null, null,
                List.of("vip"), Map.of("seats", 3)), API);
        service.update(ann.id(), 1L, values -> new ContactFields(values.email(), "Anna", null, null, null, null,
                List.of(), Map.of("seats", 4)), new Source("crm1", "sync"));

        List<HistoryEntry> history = contacts.history(ann.id());

        assertThat(history).extracting(HistoryEntry::version, HistoryEntry::operation, HistoryEntry::sourceSystem,
                        HistoryEntry::actor)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(1L, "create", "api", null),
                        org.assertj.core.groups.Tuple.tuple(2L, "update", "crm1", "sync"));
        assertThat(history.get(1).changes()).containsOnlyKeys("firstName", "tags", "custom");
        assertThat(history.get(1).changes().get("custom")).containsEntry("from", Map.of("seats", 3))
                .containsEntry("to", Map.of("seats", 4));
        assertThat(history.get(1).changes().get("tags")).containsEntry("from", List.of("vip"))
                .containsEntry("to", List.of());
    }

    @Test
    void emailWithNonAsciiCapitalsIsStoredWithItsLowerCasedKeyAndFoundByIt() {
        Contact jorg = service.create(new ContactFields("JÖRG.Müller@Example.DE", null, null, null, null, null, null,
                null), API);

        assertThat(sql.queryForMap("SELECT email, email_key FROM contact WHERE id = ?", jorg.id()))
                .containsEntry("email", "JÖRG.Müller@Example.DE").containsEntry("email_key", "jörg.müller@example.de");
        assertThat(contacts.findLiveIdByEmail("jörg.müller@example.de")).contains(jorg.id());
        assertThat(textSearch("jörg")).extracting(Contact::id).containsExactly(jorg.id());
    }

    @Test
    void emailWhoseJavaAndDatabaseLowerCaseDifferIsStoredAndMatchedOnItsJavaKey() {
        // Java lower-cases İ to "i" plus a combining dot and a word-final Σ to ς; PostgreSQL's LOWER
        // gives "i" and σ. The API accepts both addresses, so the store must too.
        ContactNormalizer normalizer = store.normalizer();
        ObjectNode ilkerBody = json.createObjectNode().put("email", "İlker@example.com");
        ObjectNode greekBody = json.createObjectNode().put("email", "ΟΔΥΣΣΕΑΣ@example.gr");

        Contact ilker = service.create(normalizer.complete(ilkerBody), API);
        Contact greek = service.create(normalizer.complete(greekBody), API);

        assertThat(sql.queryForList("SELECT email_key FROM contact ORDER BY created_at", String.class))
                .containsExactly("i\u0307lker@example.com", "οδυσσεας@example.gr");
        assertThat(contacts.findLiveIdByEmail("i\u0307lker@example.com")).contains(ilker.id());
        assertThat(contacts.findLiveIdByEmail("οδυσσεας@example.gr")).contains(greek.id());
        // the same address in other capitals is the same contact
        ObjectNode greekAgain = json.createObjectNode().put("email", "οδυσσεας@EXAMPLE.GR");
        assertThatThrownBy(() -> service.create(normalizer.complete(greekAgain), API))
                .isInstanceOfSatisfying(dev.crmsync.api.ApiProblem.class,
                        problem -> assertThat(problem.status()).isEqualTo(409));
        assertThat(store.count("contact")).isEqualTo(2);
    }

    // ---- helpers

    /**
     * 25 contacts created four at a time on one frozen timestamp (so page boundaries fall inside a
     * group of equal updated_at), then three of them deleted at the timestamp of the third group.
     * Returns the 22 live contacts in (updated_at, id) order.
     */
    private List<Contact> seedTwentyFiveContactsInGroupsOfFourSharingATimestampWithThreeTombstones() {
        clock.tick(Duration.ZERO);
        List<Contact> created = new ArrayList<>();
        for (int i = 0; i < 25; i++) {
            clock.set(BASE.plusSeconds(i / 4));
            created.add(service.create(new ContactFields("person" + i + "@example.com", "Person", "No" + i, null, null,
                    null, null, null), API));
        }
        clock.set(BASE.plusSeconds(2));
        Set<String> deleted = new HashSet<>();
        for (int i : new int[] {1, 12, 20}) {
            deleted.add(service.delete(created.get(i).id(), 1L, API).id());
        }
        return created.stream().filter(contact -> !deleted.contains(contact.id()))
                .sorted(Comparator.comparing(Contact::updatedAt).thenComparing(Contact::id)).toList();
    }

    private Map<String, Contact> seedForTextSearch() {
        Map<String, Contact> seeded = new LinkedHashMap<>();
        seeded.put("ann", create("Ann.Lee@Example.com", "Ann", "Lee", "ACME Corp"));
        seeded.put("bob", create("bob@example.com", "Bob", "Stone", "100% Organic"));
        seeded.put("cat", create("cat@example.com", "Cat", "Rivers", "100 Organics"));
        seeded.put("dan", create("dan_x@example.com", "Dan", "Xu", "Dx"));
        seeded.put("eve", create("danax@example.com", "Eve", "Adams", "Ex"));
        seeded.put("fay", create("fay@example.com", "Fay", "Back", "back\\slash"));
        return seeded;
    }

    private Contact create(String email, String firstName, String lastName, String company) {
        return service.create(new ContactFields(email, firstName, lastName, null, company, null, null, null), API);
    }

    private List<Contact> textSearch(String text) {
        return contacts.list(new ListQuery(null, text, null, null, null, 100));
    }

    private static ListQuery query(String emailKey, Instant updatedSince, Instant afterUpdatedAt, String afterId,
                                   int limit) {
        return new ListQuery(emailKey, null, updatedSince, afterUpdatedAt, afterId, limit);
    }

    private static List<String> ids(List<Contact> contacts) {
        return contacts.stream().map(Contact::id).toList();
    }

    private <T> T parse(String text, TypeReference<T> type) {
        try {
            return json.readValue(text, type);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(text, e);
        }
    }
}
