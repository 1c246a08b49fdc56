package dev.crmsync.mapping;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crmsync.config.CrmSyncProperties;
import dev.crmsync.contact.ContactNormalizer;
import dev.crmsync.mapping.Mapping.RemoteRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.util.unit.DataSize;

/** The mapping files in mappings/, against recorded remote payloads and their expected canonical records. */
class MappingsTest {

    static final ObjectMapper JSON = com.fasterxml.jackson.databind.json.JsonMapper.builder().findAndAddModules()
            .disable(com.fasterxml.jackson.databind.SerializationFeature.WRITE_DATES_AS_TIMESTAMPS).build();

    static Mappings load(Path home) {
        CrmSyncProperties properties = new CrmSyncProperties(home.toString(), home.resolve("data").toString(), null,
                new CrmSyncProperties.Admin("admin", null), new CrmSyncProperties.Api(DataSize.ofMegabytes(1), 50, 500),
                new CrmSyncProperties.Phone("US"), Map.of());
        return new Mappings(properties, JSON, new ContactNormalizer(properties));
    }

    static JsonNode golden(String path) throws IOException {
        return JSON.readTree(Path.of("src/test/resources", path).toFile());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"crm1-contact, crm1", "crm2-contact, crm2"})
    void aRecordedRemotePayloadMapsToTheExpectedCanonicalRecord(String mapping, String folder) throws IOException {
        RemoteRecord record = load(Path.of(".")).toCanonical(mapping, golden(folder + "/contact-remote.json"));

        assertThat((JsonNode) JSON.valueToTree(record)).isEqualTo(golden(folder + "/contact-canonical.json"));
    }

    @Test
    void aHubSpotRecordReadWithPropertyHistoriesDatesEachFieldByItsOwnLastChange() throws IOException {
        Mappings mappings = load(Path.of("."));
        String record = "{\"id\":\"7\",\"updatedAt\":\"2026-11-23T10:00:00Z\",\"properties\":{\"email\":\"ada@example.com\","
                + "\"jobtitle\":\"Countess\"}";
        RemoteRecord plain = mappings.toCanonical("hubspot-contact", JSON.readTree(record + "}"));
        assertThat(plain.fieldTimes()).isNull();
        assertThat(plain.modifiedAt("title")).isEqualTo(Instant.parse("2026-11-23T10:00:00Z"));

        RemoteRecord dated = mappings.toCanonical("hubspot-contact", JSON.readTree(record + ",\"propertiesWithHistory\":{"
                + "\"jobtitle\":[{\"value\":\"Countess\",\"timestamp\":\"2026-11-23T09:00:00Z\"},"
                + "{\"value\":\"Clerk\",\"timestamp\":\"2026-11-22T09:00:00Z\"}],\"email\":[]}}"));
        assertThat(dated.fieldTimes()).containsExactly(Map.entry("title", Instant.parse("2026-11-23T09:00:00Z")));
        assertThat(dated.modifiedAt("title")).isEqualTo(Instant.parse("2026-11-23T09:00:00Z"));
        // a field without a version of its own is dated by the record
        assertThat(dated.modifiedAt("email")).isEqualTo(Instant.parse("2026-11-23T10:00:00Z"));
    }

    @Test
    void aPipedriveEventDatesTheFieldsItChangedByItselfAndTheOthersByThePersonsChangeBefore() throws IOException {
        Mapping pipedrive = load(Path.of(".")).get("pipedrive-person");
        Instant at = Instant.parse("2026-12-02T10:15:20Z");
        Instant before = Instant.parse("2026-12-02T10:15:08Z");
        // the phone changed, and a second email was added beside the primary one; the primary email the
        // person carries was changed by an event before, still on its way
        JsonNode person = JSON.readTree("{\"id\":7,\"first_name\":\"Ada\",\"last_name\":\"Lovelace\","
                + "\"emails\":[{\"value\":\"ada@example.com\",\"primary\":true},{\"value\":\"a@example.org\",\"primary\":false}],"
                + "\"phones\":[{\"value\":\"+14155550101\",\"primary\":true}],\"update_time\":\"2026-12-02T10:15:20Z\"}");
        JsonNode previous = JSON.readTree("{\"emails\":[{\"value\":\"ada@example.com\",\"primary\":true}],"
                + "\"phones\":[{\"value\":\"+14155550100\",\"primary\":true}],\"update_time\":\"2026-12-02T10:15:08Z\"}");

        assertThat(pipedrive.datedByEvent(person, previous, at)).containsOnly(Map.entry("phone", at),
                Map.entry("email", before), Map.entry("firstName", before), Map.entry("lastName", before));
        // without the time before the change, only what the event changed is dated
        assertThat(pipedrive.datedByEvent(person, JSON.readTree("{\"first_name\":\"Augusta\"}"), at))
                .containsOnly(Map.entry("firstName", at));
        assertThat(pipedrive.datedByEvent(person, JSON.readTree("{\"first_name\":\"Augusta\",\"update_time\":\"yesterday\"}"), at))
                .containsOnly(Map.entry("firstName", at));
    }

    @Test
    void aPathIsWithinAPartialRecordThatHoldsItsPropertyOrItsKeyInsideAnObject() throws IOException {
        JsonNode previous = JSON.readTree("{\"emails\":[],\"name\":null,\"custom_fields\":{\"abc\":\"1\"}}");

        assertThat(new FieldPath("emails[primary=true].value").within(previous)).isTrue();
        assertThat(new FieldPath("name").within(previous)).isTrue();
        assertThat(new FieldPath("custom_fields.abc").within(previous)).isTrue();
        assertThat(new FieldPath("custom_fields.def").within(previous)).isFalse();
        assertThat(new FieldPath("phones[primary=true].value").within(previous)).isFalse();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"crm1-contact, crm1", "crm2-contact, crm2"})
    void mappedFieldsSurviveARoundTripThroughTheRemoteShape(String name, String folder) throws IOException {
        Mapping mapping = load(Path.of(".")).get(name);
        RemoteRecord canonical = mapping.toCanonical(golden(folder + "/contact-remote.json"));

        ObjectNode remote = mapping.toRemote(canonical.values());
        remote.put("Id", canonical.externalId());
        RemoteRecord back = mapping.toCanonical(remote);

        Map<String, Object> both = new java.util.LinkedHashMap<>(canonical.values());
        both.keySet().retainAll(mapping.outboundFields());
        assertThat(back.values()).containsAllEntriesOf(both);
    }

    @Test
    void outboundWritesTheRemoteShapeWithJoinsPicklistsAndConstants() throws IOException {
        Mapping crm2 = load(Path.of(".")).get("crm2-contact");
        RemoteRecord grace = crm2.toCanonical(golden("crm2/contact-remote.json"));

        ObjectNode remote = crm2.toRemote(grace.values());

        assertThat(remote.get("Name").asText()).isEqualTo("Grace Brewster Hopper");
        assertThat(remote.get("Status").asText()).isEqualTo("Hot");
        assertThat(remote.get("Source").asText()).isEqualTo("CRM1");
        assertThat(remote.get("Organization").asText()).isEqualTo("US Navy");
        assertThat(remote.has("Birthday")).as("inbound only").isFalse();
    }

    @Test
    void arraySelectionReadsAndWritesThePrimaryElement() throws IOException {
        FieldPath primaryEmail = new FieldPath("emails[primary=true].value");
        JsonNode person = JSON.readTree("""
                {"emails":[{"value":"old@example.com","primary":false},{"value":"main@example.com","primary":true}]}""");

        assertThat(primaryEmail.read(person).asText()).isEqualTo("main@example.com");
        assertThat(new FieldPath("emails[0].value").read(person).asText()).isEqualTo("old@example.com");
        assertThat(new FieldPath("phones[primary=true].value").read(person)).isNull();

        ObjectNode written = JSON.createObjectNode();
        primaryEmail.write(written, JSON.valueToTree("new@example.com"));
        new FieldPath("properties.email").write(written, JSON.valueToTree("x@example.com"));
        assertThat(written.toString()).isEqualTo(
                "{\"emails\":[{\"primary\":true,\"value\":\"new@example.com\"}],\"properties\":{\"email\":\"x@example.com\"}}");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "bad-direction | crm9-contact.json | {\"provider\":\"crm9\",\"object\":\"contact\",\"remoteId\":\"Id\",\"fields\":[{\"canonical\":\"email\",\"remote\":\"Email\",\"direction\":\"sideways\"}]} | mappings/crm9-contact.json at /fields/0/direction",
            "unknown-canonical | crm9-contact.json | {\"provider\":\"crm9\",\"object\":\"contact\",\"remoteId\":\"Id\",\"fields\":[{\"canonical\":\"nickname\",\"remote\":\"Nick\",\"direction\":\"both\"}]} | mappings/crm9-contact.json at /fields/0/canonical",
            "unknown-key | crm9-contact.json | {\"provider\":\"crm9\",\"object\":\"contact\",\"remoteId\":\"Id\",\"fields\":[{\"canonical\":\"email\",\"remote\":\"Email\",\"direction\":\"both\",\"colour\":1}]} | mappings/crm9-contact.json at /fields/0",
            "missing-fields | crm9-contact.json | {\"provider\":\"crm9\",\"object\":\"contact\",\"remoteId\":\"Id\"} | mappings/crm9-contact.json at /: required property 'fields' not found",
            "not-json | crm9-contact.json | {\"provider\": | mappings/crm9-contact.json is not valid JSON at line 1",
            "wrong-file-name | other.json | {\"provider\":\"crm9\",\"object\":\"contact\",\"remoteId\":\"Id\",\"fields\":[{\"canonical\":\"email\",\"remote\":\"Email\",\"direction\":\"both\"}]} | must be named crm9-contact.json",
            "split-needed | crm9-contact.json | {\"provider\":\"crm9\",\"object\":\"contact\",\"remoteId\":\"Id\",\"fields\":[{\"canonical\":[\"firstName\",\"lastName\"],\"remote\":\"Name\",\"direction\":\"both\"}]} | mappings/crm9-contact.json at /fields/0/canonical: several canonical fields need a split",
            "inbound-constant | crm9-contact.json | {\"provider\":\"crm9\",\"object\":\"contact\",\"remoteId\":\"Id\",\"fields\":[{\"remote\":\"Source\",\"direction\":\"both\",\"transforms\":[{\"default\":\"X\"}]}]} | mappings/crm9-contact.json at /fields/0/direction: a field with no canonical name is a constant",
            "twice-inbound | crm9-contact.json | {\"provider\":\"crm9\",\"object\":\"contact\",\"remoteId\":\"Id\",\"fields\":[{\"canonical\":\"email\",\"remote\":\"A\",\"direction\":\"both\"},{\"canonical\":\"email\",\"remote\":\"B\",\"direction\":\"inbound\"}]} | mappings/crm9-contact.json at /fields/1/canonical: email is already filled inbound",
            "bad-policy | crm9-contact.json | {\"provider\":\"crm9\",\"object\":\"contact\",\"remoteId\":\"Id\",\"fields\":[{\"canonical\":\"email\",\"remote\":\"Email\",\"direction\":\"both\",\"conflict\":\"newest\"}]} | mappings/crm9-contact.json at /fields/0/conflict"})
    void aBrokenMappingFileStopsStartUpNamingTheFileThePointerAndTheProblem(String label, String file, String content,
                                                                            String message, @TempDir Path home) throws IOException {
        Files.createDirectories(home.resolve("mappings"));
        Files.copy(Path.of("mappings", Mappings.SCHEMA_FILE), home.resolve("mappings/" + Mappings.SCHEMA_FILE));
        Files.writeString(home.resolve("mappings/" + file), content);

        assertThatThrownBy(() -> load(home)).isInstanceOf(Mappings.MappingException.class).hasMessageContaining(message);
    }
}
