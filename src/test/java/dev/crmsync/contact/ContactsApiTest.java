package dev.crmsync.contact;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crmsync.support.Http;
import dev.crmsync.support.Http.Reply;
import dev.crmsync.support.ServiceTest;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;

/** The contacts API over real HTTP on a random port, on H2, checked against the rows it writes. */
@ServiceTest
class ContactsApiTest {

    @LocalServerPort
    int port;

    @Autowired
    JdbcTemplate jdbc;

    Http api;

    @BeforeEach
    void client() {
        api = new Http(port).withHeader("X-Api-Key", ServiceTest.API_KEY);
    }

    static String email() {
        return "p-" + UUID.randomUUID() + "@example.com";
    }

    Reply create(String json) {
        Reply reply = api.post("/api/contacts", json);
        assertThat(reply.status()).as(reply.toString()).isEqualTo(201);
        return reply;
    }

    @Test
    void createStoresTheNormalisedContactAndAnswersWithLocationAndEtag() {
        String email = email();
        Reply reply = api.post("/api/contacts", """
                {"email":"  %s ","firstName":" Ada ","lastName":"Lovelace","phone":"(415) 555-2671",
                 "company":"Analytical Engines","title":"Countess","tags":["vip"," founder "],"custom":{"score":3,"active":true,"tier":"gold"}}
                """.formatted(email.toUpperCase()));

        assertThat(reply.status()).isEqualTo(201);
        JsonNode body = reply.json();
        String id = body.get("id").asText();
        assertThat(reply.header("Location")).isEqualTo("/api/contacts/" + id);
        assertThat(reply.header("ETag")).isEqualTo("\"1\"");
        assertThat(reply.header("Content-Type")).startsWith("application/json");
        assertThat(body.get("email").asText()).isEqualTo(email.toUpperCase());
        assertThat(body.get("phone").asText()).isEqualTo("+14155552671");
        assertThat(body.get("firstName").asText()).isEqualTo("Ada");
        assertThat(body.get("tags")).hasSize(2).extracting(JsonNode::asText).containsExactly("vip", "founder");
        assertThat(body.get("custom").get("score").asInt()).isEqualTo(3);
        assertThat(body.get("version").asLong()).isEqualTo(1);

        Map<String, Object> row = jdbc.queryForMap("SELECT * FROM contact WHERE id = ?", id);
        assertThat(row.get("email_key")).isEqualTo(email);
        assertThat(row.get("phone")).isEqualTo("+14155552671");
        assertThat(row.get("company")).isEqualTo("Analytical Engines");
        assertThat(jdbc.queryForObject("SELECT operation FROM contact_history WHERE contact_id = ?", String.class, id))
                .isEqualTo("create");

        Reply read = api.get("/api/contacts/" + id);
        assertThat(read.status()).isEqualTo(200);
        assertThat(read.json()).isEqualTo(body);
        assertThat(read.header("ETag")).isEqualTo("\"1\"");
    }

    @Test
    void aContactWithOnlyAPhoneIsAccepted() {
        Reply reply = create("{\"phone\":\"+44 20 7946 0958\",\"lastName\":\"Holmes\"}");
        assertThat(reply.json().get("phone").asText()).isEqualTo("+442079460958");
        assertThat(reply.json().get("email").isNull()).isTrue();
    }

    @Test
    void anEmailTakenByALiveContactAnswers409WithTheExistingIdWhateverItsCase() {
        String email = email();
        String existing = create("{\"email\":\"" + email + "\"}").json().get("id").asText();

        Reply duplicate = api.post("/api/contacts", "{\"email\":\"" + email.toUpperCase() + "\",\"firstName\":\"Other\"}");

        assertThat(duplicate.status()).isEqualTo(409);
        assertThat(duplicate.header("Content-Type")).startsWith("application/problem+json");
        assertThat(duplicate.json().get("existingId").asText()).isEqualTo(existing);
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM contact WHERE LOWER(email) = ?", Long.class, email)).isEqualTo(1);
    }

    @Test
    void racingCreatesOfOneEmailLeaveExactlyOneContact() throws Exception {
        String email = email();
        int racers = 8;
        CyclicBarrier start = new CyclicBarrier(racers);
        List<CompletableFuture<Reply>> replies = new ArrayList<>();
        for (int i = 0; i < racers; i++) {
            String variant = i % 2 == 0 ? email : email.toUpperCase();
            replies.add(CompletableFuture.supplyAsync(() -> {
                try {
                    start.await();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
                return api.post("/api/contacts", "{\"email\":\"" + variant + "\"}");
            }));
        }
        List<Reply> done = replies.stream().map(CompletableFuture::join).toList();

        List<Reply> created = done.stream().filter(r -> r.status() == 201).toList();
        assertThat(created).hasSize(1);
        String winner = created.get(0).json().get("id").asText();
        assertThat(done).filteredOn(r -> r.status() != 201)
                .hasSize(racers - 1)
                .allSatisfy(r -> {
                    assertThat(r.status()).isEqualTo(409);
                    assertThat(r.json().get("existingId").asText()).isEqualTo(winner);
                });
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM contact WHERE LOWER(email) = ?", Long.class, email)).isEqualTo(1);
    }

    @Test
    void putReplacesEveryFieldAndBumpsTheVersion() {
        String id = create("{\"email\":\"" + email() + "\",\"firstName\":\"Ada\",\"company\":\"AE\",\"tags\":[\"a\"]}")
                .json().get("id").asText();
        String email = email();

        Reply replaced = api.put("/api/contacts/" + id, "{\"email\":\"" + email + "\",\"lastName\":\"King\"}");

        assertThat(replaced.status()).isEqualTo(200);
        assertThat(replaced.header("ETag")).isEqualTo("\"2\"");
        JsonNode body = replaced.json();
        assertThat(body.get("lastName").asText()).isEqualTo("King");
        assertThat(body.get("firstName").isNull()).isTrue();
        assertThat(body.get("company").isNull()).isTrue();
        assertThat(body.get("tags")).isEmpty();
        Map<String, Object> row = jdbc.queryForMap("SELECT * FROM contact WHERE id = ?", id);
        assertThat(row.get("email_key")).isEqualTo(email);
        assertThat(row.get("first_name")).isNull();
        assertThat(row.get("version")).isEqualTo(2L);
    }

    @Test
    void patchChangesOnlyTheGivenFieldsNullClearsAndCustomMergesByKey() {
        String email = email();
        String id = create("{\"email\":\"" + email + "\",\"firstName\":\"Ada\",\"title\":\"Countess\","
                + "\"custom\":{\"tier\":\"gold\",\"score\":3}}").json().get("id").asText();

        Reply patched = api.patch("/api/contacts/" + id,
                "{\"title\":null,\"company\":\"AE\",\"custom\":{\"score\":null,\"region\":\"EU\"}}",
                "Content-Type", "application/merge-patch+json");

        assertThat(patched.status()).as(patched.toString()).isEqualTo(200);
        JsonNode body = patched.json();
        assertThat(body.get("email").asText()).isEqualTo(email);
        assertThat(body.get("firstName").asText()).isEqualTo("Ada");
        assertThat(body.get("title").isNull()).isTrue();
        assertThat(body.get("company").asText()).isEqualTo("AE");
        assertThat(body.get("custom").properties()).extracting(Map.Entry::getKey).containsExactlyInAnyOrder("tier", "region");
        assertThat(body.get("version").asLong()).isEqualTo(2);
        assertThat(jdbc.queryForObject("SELECT custom FROM contact WHERE id = ?", String.class, id))
                .isEqualTo("{\"tier\":\"gold\",\"region\":\"EU\"}");
    }

    @Test
    void aPatchThatChangesNothingKeepsTheVersionAndWritesNoHistory() {
        String email = email();
        String id = create("{\"email\":\"" + email + "\",\"firstName\":\"Ada\"}").json().get("id").asText();

        Reply same = api.patch("/api/contacts/" + id, "{\"firstName\":\"  Ada \"}");

        assertThat(same.status()).isEqualTo(200);
        assertThat(same.header("ETag")).isEqualTo("\"1\"");
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM contact_history WHERE contact_id = ?", Long.class, id)).isEqualTo(1);
    }

    @Test
    void aWriteWithAStaleIfMatchAnswers412AndChangesNothing() {
        String id = create("{\"email\":\"" + email() + "\",\"firstName\":\"Ada\"}").json().get("id").asText();
        assertThat(api.patch("/api/contacts/" + id, "{\"firstName\":\"Augusta\"}", "If-Match", "\"1\"").status()).isEqualTo(200);

        Reply stale = api.patch("/api/contacts/" + id, "{\"firstName\":\"Lost\"}", "If-Match", "\"1\"");
        Reply staleDelete = api.delete("/api/contacts/" + id, "If-Match", "\"1\"");
        Reply staleBodyVersion = api.put("/api/contacts/" + id, "{\"email\":\"x@example.com\",\"version\":1}");

        for (Reply reply : List.of(stale, staleDelete, staleBodyVersion)) {
            assertThat(reply.status()).as(reply.toString()).isEqualTo(412);
            assertThat(reply.json().get("currentVersion").asLong()).isEqualTo(2);
        }
        Map<String, Object> row = jdbc.queryForMap("SELECT first_name, version, deleted_at FROM contact WHERE id = ?", id);
        assertThat(row.get("first_name")).isEqualTo("Augusta");
        assertThat(row.get("version")).isEqualTo(2L);
        assertThat(row.get("deleted_at")).isNull();
    }

    @Test
    void changingTheEmailToOneAnotherContactHoldsAnswers409() {
        String taken = email();
        String other = create("{\"email\":\"" + taken + "\"}").json().get("id").asText();
        String id = create("{\"email\":\"" + email() + "\"}").json().get("id").asText();

        Reply reply = api.patch("/api/contacts/" + id, "{\"email\":\"" + taken.toUpperCase() + "\"}");

        assertThat(reply.status()).isEqualTo(409);
        assertThat(reply.json().get("existingId").asText()).isEqualTo(other);
        assertThat(jdbc.queryForObject("SELECT version FROM contact WHERE id = ?", Long.class, id)).isEqualTo(1);
    }

    @Test
    void deleteLeavesATombstoneThatAnswers410AndFreesTheEmail() {
        String email = email();
        String id = create("{\"email\":\"" + email + "\",\"firstName\":\"Ada\"}").json().get("id").asText();

        Reply deleted = api.delete("/api/contacts/" + id);

        assertThat(deleted.status()).isEqualTo(204);
        Map<String, Object> row = jdbc.queryForMap("SELECT email, email_key, deleted_at, version FROM contact WHERE id = ?", id);
        assertThat(row.get("deleted_at")).isNotNull();
        assertThat(row.get("email")).isEqualTo(email);
        assertThat(row.get("email_key")).isNull();
        assertThat(row.get("version")).isEqualTo(2L);
        for (Reply gone : List.of(api.get("/api/contacts/" + id), api.patch("/api/contacts/" + id, "{\"firstName\":\"Z\"}"),
                api.put("/api/contacts/" + id, "{\"email\":\"" + email + "\"}"), api.delete("/api/contacts/" + id))) {
            assertThat(gone.status()).as(gone.toString()).isEqualTo(410);
            assertThat(gone.header("Content-Type")).startsWith("application/problem+json");
            assertThat(gone.json().get("deletedAt").asText()).isNotBlank();
        }
        assertThat(jdbc.queryForObject("SELECT version FROM contact WHERE id = ?", Long.class, id)).isEqualTo(2);

        String again = create("{\"email\":\"" + email + "\"}").json().get("id").asText();
        assertThat(again).isNotEqualTo(id);
        assertThat(api.get("/api/contacts?email=" + email).json().get("items"))
                .extracting(item -> item.get("id").asText()).containsExactly(again);
    }

    @Test
    void historyListsEveryChangeFieldByFieldAlsoAfterDelete() {
        String id = create("{\"email\":\"" + email() + "\",\"firstName\":\"Ada\"}").json().get("id").asText();
        api.patch("/api/contacts/" + id, "{\"firstName\":\"Augusta\",\"title\":\"Countess\"}");
        api.delete("/api/contacts/" + id);

        Reply history = api.get("/api/contacts/" + id + "/history");

        assertThat(history.status()).isEqualTo(200);
        JsonNode items = history.json().get("items");
        assertThat(items).extracting(i -> i.get("operation").asText()).containsExactly("create", "update", "delete");
        assertThat(items).extracting(i -> i.get("version").asLong()).containsExactly(1L, 2L, 3L);
        assertThat(items).allSatisfy(i -> assertThat(i.get("source").asText()).isEqualTo("api"));
        JsonNode update = items.get(1).get("changes");
        assertThat(update.get("firstName").get("from").asText()).isEqualTo("Ada");
        assertThat(update.get("firstName").get("to").asText()).isEqualTo("Augusta");
        assertThat(update.get("title").get("from").isNull()).isTrue();
        assertThat(update.properties()).hasSize(2);
        assertThat(api.get("/api/contacts/" + UUID.randomUUID() + "/history").status()).isEqualTo(404);
    }

    @Test
    void listingPagesThroughEveryMatchingContactExactlyOnceInUpdateOrder() {
        String company = "Paging-" + UUID.randomUUID();
        Set<String> ids = new HashSet<>();
        for (int i = 0; i < 12; i++) {
            ids.add(create("{\"email\":\"" + email() + "\",\"company\":\"" + company + "\"}").json().get("id").asText());
        }
        String deleted = create("{\"email\":\"" + email() + "\",\"company\":\"" + company + "\"}").json().get("id").asText();
        api.delete("/api/contacts/" + deleted);

        List<String> seen = new ArrayList<>();
        List<Instant> times = new ArrayList<>();
        String cursor = null;
        int pages = 0;
        do {
            Reply page = api.get("/api/contacts?q=" + company.toUpperCase() + "&limit=5" + (cursor == null ? "" : "&cursor=" + cursor));
            assertThat(page.status()).isEqualTo(200);
            page.json().get("items").forEach(item -> {
                seen.add(item.get("id").asText());
                times.add(Instant.parse(item.get("updatedAt").asText()));
            });
            cursor = page.json().hasNonNull("nextCursor") ? page.json().get("nextCursor").asText() : null;
            pages++;
        } while (cursor != null);

        assertThat(pages).isEqualTo(3);
        assertThat(seen).hasSize(12).doesNotHaveDuplicates().containsExactlyInAnyOrderElementsOf(ids);
        assertThat(times).isSorted();
    }

    @Test
    void listingFiltersByEmailAnyCaseAndByUpdatedSince() {
        String email = email();
        String id = create("{\"email\":\"" + email + "\"}").json().get("id").asText();
        Instant after = Instant.now().plusSeconds(3600);

        assertThat(api.get("/api/contacts?email=" + email.toUpperCase()).json().get("items"))
                .extracting(i -> i.get("id").asText()).containsExactly(id);
        assertThat(api.get("/api/contacts?email=" + email + "&updatedSince=" + after).json().get("items")).isEmpty();
        assertThat(api.get("/api/contacts?email=" + email + "&updatedSince=2000-01-01T00:00:00Z").json().get("items")).hasSize(1);
        assertThat(api.get("/api/contacts?q=100%25_off").json().get("items")).isEmpty();
    }

    @Test
    void theReplyNeverEchoesTheApiKey() {
        Reply reply = api.post("/api/contacts", "{\"email\":\"" + email() + "\"}");
        Reply refused = api.post("/api/contacts", "{\"email\":1}");

        for (Reply r : List.of(reply, refused)) {
            assertThat(r.raw().headers().map().keySet()).noneMatch(name -> name.equalsIgnoreCase("X-Api-Key"));
            assertThat(r.body()).doesNotContain(ServiceTest.API_KEY);
        }
    }
}
