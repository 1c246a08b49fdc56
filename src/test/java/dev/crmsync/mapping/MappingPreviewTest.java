package dev.crmsync.mapping;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crmsync.support.Http;
import dev.crmsync.support.Http.Reply;
import dev.crmsync.support.ServiceTest;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.web.server.LocalServerPort;

/** The mapper bean called from routes/api-mappings.camel.yaml, both ways, over HTTP. */
@ServiceTest
class MappingPreviewTest {

    @LocalServerPort
    int port;

    Http api;

    @BeforeEach
    void client() {
        api = new Http(port).withHeader("X-Api-Key", ServiceTest.API_KEY);
    }

    @Test
    void aRemotePayloadPreviewsAsItsCanonicalRecord() throws Exception {
        Reply reply = api.post("/api/mappings/crm2-contact/to-canonical",
                Files.readString(Path.of("src/test/resources/crm2/contact-remote.json")));

        assertThat(reply.status()).as(reply.toString()).isEqualTo(200);
        JsonNode expected = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(Path.of("src/test/resources/crm2/contact-canonical.json").toFile());
        assertThat(reply.json()).isEqualTo(expected);
        assertThat(reply.header("X-Api-Key")).isNull();
    }

    @Test
    void aCanonicalRecordPreviewsAsTheRemotePayload() {
        Reply reply = api.post("/api/mappings/crm2-contact/to-remote",
                "{\"email\":\"ada@example.com\",\"firstName\":\"Ada\",\"lastName\":\"King\",\"custom.status\":\"warm\"}");

        assertThat(reply.status()).as(reply.toString()).isEqualTo(200);
        assertThat(reply.json().get("Name").asText()).isEqualTo("Ada King");
        assertThat(reply.json().get("Status").asText()).isEqualTo("Warm");
        assertThat(reply.json().get("Source").asText()).isEqualTo("CRM1");
    }

    @Test
    void anUnknownMappingOrABrokenBodyIsRefusedWithAProblem() {
        Reply unknown = api.post("/api/mappings/nope-contact/to-canonical", "{}");
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(unknown.json().get("detail").asText()).contains("crm1-contact");

        Reply broken = api.post("/api/mappings/crm1-contact/to-canonical", "{\"Id\":");
        assertThat(broken.status()).isEqualTo(400);
        assertThat(broken.header("Content-Type")).startsWith("application/problem+json");
    }
}
