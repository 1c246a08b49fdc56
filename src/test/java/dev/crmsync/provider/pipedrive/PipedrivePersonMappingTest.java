package dev.crmsync.provider.pipedrive;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crmsync.config.CrmSyncProperties;
import dev.crmsync.contact.ContactNormalizer;
import dev.crmsync.mapping.Mapping;
import dev.crmsync.mapping.Mapping.RemoteRecord;
import dev.crmsync.mapping.Mappings;
import org.junit.jupiter.api.Test;
import org.springframework.util.unit.DataSize;

/** mappings/pipedrive-person.json against a recorded v2 person (src/test/resources/pipedrive/). */
class PipedrivePersonMappingTest {

    static final ObjectMapper JSON = JsonMapper.builder().findAndAddModules()
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS).build();

    static Mapping mapping() {
        Path home = Path.of(".");
        CrmSyncProperties properties = new CrmSyncProperties(home.toString(), home.resolve("data").toString(), null,
                new CrmSyncProperties.Admin("admin", null), new CrmSyncProperties.Api(DataSize.ofMegabytes(1), 50, 500),
                new CrmSyncProperties.Phone("US"), Map.of());
        return new Mappings(properties, JSON, new ContactNormalizer(properties)).get("pipedrive-person");
    }

    static JsonNode golden(String name) throws IOException {
        return JSON.readTree(Path.of("src/test/resources/pipedrive", name).toFile());
    }

    @Test
    void aRecordedPersonMapsToTheExpectedCanonicalRecordThroughItsPrimaryEmailAndPhone() throws IOException {
        RemoteRecord record = mapping().toCanonical(golden("person-remote.json"));

        assertThat((JsonNode) JSON.valueToTree(record)).isEqualTo(golden("person-canonical.json"));
    }

    @Test
    void outboundIsABodyPipedriveAcceptsWithOneNameAndPrimaryEmailAndPhone() {
        ObjectNode remote = mapping().toRemote(Map.of("firstName", "Ada", "lastName", "Lovelace",
                "email", "ada@example.com", "phone", "+14155552671", "title", "Countess"));

        assertThat(remote).isEqualTo(JSON.createObjectNode()
                .<ObjectNode>set("emails", JSON.createArrayNode().add(JSON.createObjectNode().put("primary", true)
                        .put("value", "ada@example.com")))
                .put("name", "Ada Lovelace")
                .<ObjectNode>set("phones", JSON.createArrayNode().add(JSON.createObjectNode().put("primary", true)
                        .put("value", "+14155552671"))));
    }

    @Test
    void aMissingEmailOrPhoneIsAnEmptyListNotAnElementWithoutValue() {
        Map<String, Object> canonical = new HashMap<>();
        canonical.put("lastName", "Phoneless");
        canonical.put("email", "p@example.com");
        canonical.put("phone", null);

        ObjectNode remote = mapping().toRemote(canonical);

        assertThat(remote.get("phones").isArray()).isTrue();
        assertThat(remote.get("phones")).isEmpty();
        assertThat(remote.get("name").asText()).isEqualTo("Phoneless");
        assertThat(remote.at("/emails/0/value").asText()).isEqualTo("p@example.com");
    }

    @Test
    void mappedFieldsSurviveARoundTripThroughPipedrivesShapeWhenPipedriveSplitsTheNameAsWeJoinIt() throws IOException {
        Mapping mapping = mapping();
        RemoteRecord canonical = mapping.toCanonical(golden("person-remote.json"));

        ObjectNode remote = mapping.toRemote(canonical.values());
        // what Pipedrive stores for a written name: cut at the last space (as its simulator does)
        String[] split = dev.crmsync.sim.pipedrive.PipedriveSimulator.splitName(remote.get("name").asText());
        remote.put("first_name", split[0]).put("last_name", split[1]).put("id", 42);
        RemoteRecord back = mapping.toCanonical(remote);

        assertThat(back.values()).isEqualTo(canonical.values());
    }
}
