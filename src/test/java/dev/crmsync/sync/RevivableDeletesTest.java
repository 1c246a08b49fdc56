package dev.crmsync.sync;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.Map;
import java.util.UUID;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crmsync.support.Http;
import dev.crmsync.support.ServiceTest;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.context.TestPropertySource;

/**
 * crmsync.sync.deletes=revivable: a remote change made after the delete brings the contact back;
 * one made before it still does not. Changes are fed to the inbox as a poll would store them.
 */
@ServiceTest
@TestPropertySource(properties = {"crmsync.sync.deletes=revivable", "crmsync.providers.crm1.enabled=true",
        "crmsync.providers.crm1.base-url=http://127.0.0.1:9",
        "crmsync.providers.crm1.poll-cron=0 0 0 1 1 ? 2099", "crmsync.providers.crm1.deliver-period=3600000",
        "crmsync.sync.process-period=3600000"})
class RevivableDeletesTest {

    @LocalServerPort
    int port;

    @Autowired
    Inbox inbox;

    @Autowired
    InboxProcessor processor;

    @Autowired
    JdbcTemplate jdbc;

    Http api;

    @BeforeEach
    void client() {
        api = new Http(port).withHeader("X-Api-Key", ServiceTest.API_KEY);
    }

    String deletedContactLinkedTo(String externalId, String email) throws Exception {
        change(externalId, email, "Before", Instant.now().minusSeconds(60));
        String id = api.get("/api/contacts?email=" + email).json().get("items").get(0).get("id").asText();
        assertThat(api.delete("/api/contacts/" + id).status()).isEqualTo(204);
        return id;
    }

    void change(String externalId, String email, String title, Instant modified) throws Exception {
        inbox.accept(UUID.randomUUID().toString(), "crm1", "contact", externalId, "update",
                "{\"Id\":\"" + externalId + "\",\"Email\":\"" + email + "\",\"Title\":\"" + title + "\",\"LastModified\":\""
                        + modified + "\",\"Deleted\":false}", modified);
        processor.drain();
    }

    @Test
    void aRemoteChangeNewerThanTheDeleteRestoresTheContact() throws Exception {
        String email = "revive-" + UUID.randomUUID() + "@example.com";
        String id = deletedContactLinkedTo("r-1-" + email, email);

        change("r-1-" + email, email, "After", Instant.now().plusSeconds(5));

        JsonNode contact = api.get("/api/contacts/" + id).json();
        assertThat(contact.get("title").asText()).isEqualTo("After");
        assertThat(contact.has("deletedAt")).isFalse();
        assertThat(jdbc.queryForList("SELECT operation FROM contact_history WHERE contact_id = ? ORDER BY version", String.class, id))
                .containsExactly("create", "delete", "restore");
    }

    @Test
    void aRemoteChangeOlderThanTheDeleteStillCannotRestoreIt() throws Exception {
        String email = "stale-" + UUID.randomUUID() + "@example.com";
        String id = deletedContactLinkedTo("r-2-" + email, email);

        change("r-2-" + email, email, "Stale", Instant.now().minusSeconds(30));

        assertThat(api.get("/api/contacts/" + id).status()).isEqualTo(410);
        assertThat(jdbc.queryForObject("SELECT title FROM contact WHERE id = ?", String.class, id)).isEqualTo("Before");
    }
}
