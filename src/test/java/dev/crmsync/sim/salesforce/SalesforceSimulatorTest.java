package dev.crmsync.sim.salesforce;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crmsync.sim.ManualClock;
import dev.crmsync.support.Http;
import dev.crmsync.support.Http.Reply;
import org.apache.camel.CamelContext;
import org.apache.camel.CamelExecutionException;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.component.salesforce.SalesforceComponent;
import org.apache.camel.component.salesforce.api.NoSuchSObjectException;
import org.apache.camel.component.salesforce.api.SalesforceException;
import org.apache.camel.component.salesforce.api.dto.DeleteSObjectResult;
import org.apache.camel.component.salesforce.api.dto.SaveSObjectResult;
import org.apache.camel.impl.DefaultCamelContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Salesforce simulator: its data, SOQL, errors, limits and switches over plain HTTP, and — the
 * point of it — the real {@code camel-salesforce} component logging in, querying, paging and writing
 * against it, so the connector's wire format is proven against the client it will run with.
 */
class SalesforceSimulatorTest {

    static final String CLIENT_ID = "test-client";
    static final String CLIENT_SECRET = "test-secret";
    static final String USER = "sync@crmsync.example";
    static final String PASSWORD = "pa55word";
    static final String DATA = "/services/data/v56.0";
    static final ObjectMapper JSON = new ObjectMapper();

    SalesforceSimulator sf;
    Http http;
    CamelContext camel;

    @BeforeEach
    void start() {
        sf = SalesforceSimulator.builder().clientId(CLIENT_ID).clientSecret(CLIENT_SECRET).username(USER)
                .password(PASSWORD).build().start();
        http = new Http(sf.port());
    }

    @AfterEach
    void stop() throws Exception {
        if (camel != null) {
            camel.stop();
        }
        sf.stop();
    }

    // ---------------------------------------------------------------- helpers

    static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    Reply token(String... pairs) {
        StringBuilder form = new StringBuilder();
        for (int i = 0; i < pairs.length; i += 2) {
            form.append(form.length() == 0 ? "" : "&").append(enc(pairs[i])).append('=').append(enc(pairs[i + 1]));
        }
        return http.send("POST", "/services/oauth2/token", form.toString(),
                "Content-Type", "application/x-www-form-urlencoded");
    }

    String passwordLogin() {
        Reply reply = token("grant_type", "password", "client_id", CLIENT_ID, "client_secret", CLIENT_SECRET,
                "username", USER, "password", PASSWORD, "format", "json");
        assertThat(reply.status()).as(reply.toString()).isEqualTo(200);
        return reply.json().get("access_token").asText();
    }

    Http api() {
        return new Http(sf.port()).withHeader("Authorization", "Bearer " + passwordLogin());
    }

    static JsonNode ok(Reply reply) {
        assertThat(reply.status()).as(reply.toString()).isBetween(200, 299);
        return reply.body().isEmpty() ? null : reply.json();
    }

    static JsonNode error(Reply reply, int status, String code) {
        assertThat(reply.status()).as(reply.toString()).isEqualTo(status);
        JsonNode body = reply.json();
        assertThat(body.isArray()).as(reply.toString()).isTrue();
        assertThat(body.get(0).get("errorCode").asText()).as(reply.toString()).isEqualTo(code);
        return body.get(0);
    }

    static Reply query(Http api, String soql) {
        return api.get(DATA + "/query?q=" + enc(soql));
    }

    static List<String> ids(JsonNode records) {
        List<String> ids = new ArrayList<>();
        records.forEach(r -> ids.add(r.get("Id").asText()));
        return ids;
    }

    static Map<String, Object> person(String first, String last, String email) {
        Map<String, Object> person = new LinkedHashMap<>();
        person.put("FirstName", first);
        person.put("LastName", last);
        person.put("Email", email);
        return person;
    }

    ProducerTemplate camel() throws Exception {
        SalesforceComponent salesforce = new SalesforceComponent();
        salesforce.setLoginUrl(sf.baseUrl());
        salesforce.setClientId(CLIENT_ID);
        salesforce.setClientSecret(CLIENT_SECRET);
        salesforce.setUserName(USER);
        salesforce.setPassword(PASSWORD);
        salesforce.setLazyLogin(false);
        camel = new DefaultCamelContext();
        camel.addComponent("salesforce", salesforce);
        camel.start();
        return camel.createProducerTemplate();
    }

    static JsonNode json(Object body) throws Exception {
        return JSON.readTree(body.toString());
    }

    // ---------------------------------------------------------------- OAuth over HTTP

    @Test
    void passwordLoginAnswersTokenInstanceUrlAndAnIdCamelCanReadTheOrgFrom() throws Exception {
        Reply reply = token("grant_type", "password", "client_id", CLIENT_ID, "client_secret", CLIENT_SECRET,
                "username", USER, "password", PASSWORD, "format", "json");

        JsonNode body = ok(reply);
        assertThat(body.get("instance_url").asText()).isEqualTo(sf.baseUrl());
        assertThat(body.get("token_type").asText()).isEqualTo("Bearer");
        assertThat(body.get("refresh_token").asText()).isNotBlank();
        String id = body.get("id").asText();
        assertThat(id).isEqualTo(sf.baseUrl() + "/id/00D000000000001AAA/005000000000001AAA");
        // camel-salesforce reads the org id as the 18 characters after "id/".
        assertThat(id.substring(id.indexOf("id/") + 3, id.indexOf("id/") + 21)).isEqualTo("00D000000000001AAA");
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(CLIENT_SECRET.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        assertThat(body.get("signature").asText()).isEqualTo(Base64.getEncoder().encodeToString(
                mac.doFinal((id + body.get("issued_at").asText()).getBytes(StandardCharsets.UTF_8))));
        assertThat(reply.header("Sforce-Limit-Info")).isEqualTo("api-usage=0/100000");
        assertThat(sf.logins()).isEqualTo(1);
        assertThat(sf.calls("POST /oauth2/token")).isEqualTo(1);

        String refresh = body.get("refresh_token").asText();
        JsonNode refreshed = ok(token("grant_type", "refresh_token", "client_id", CLIENT_ID, "client_secret",
                CLIENT_SECRET, "refresh_token", refresh));
        assertThat(refreshed.has("refresh_token")).isFalse();
        assertThat(refreshed.get("access_token").asText()).isNotEqualTo(body.get("access_token").asText());
        JsonNode clientCredentials = ok(token("grant_type", "client_credentials", "client_id", CLIENT_ID,
                "client_secret", CLIENT_SECRET));
        assertThat(clientCredentials.get("instance_url").asText()).isEqualTo(sf.baseUrl());
        assertThat(sf.logins()).isEqualTo(3);
    }

    @Test
    void wrongCredentialsAreOAuthErrorsAndGrantNothing() {
        Reply wrongPassword = token("grant_type", "password", "client_id", CLIENT_ID, "client_secret", CLIENT_SECRET,
                "username", USER, "password", "nope");
        assertThat(wrongPassword.status()).isEqualTo(400);
        assertThat(wrongPassword.json().get("error").asText()).isEqualTo("invalid_grant");
        assertThat(wrongPassword.json().get("error_description").asText()).isEqualTo("authentication failure");
        assertThat(token("grant_type", "password", "client_id", "other", "client_secret", CLIENT_SECRET,
                "username", USER, "password", PASSWORD).json().get("error").asText()).isEqualTo("invalid_client_id");
        assertThat(token("grant_type", "client_credentials", "client_id", CLIENT_ID, "client_secret", "x")
                .json().get("error").asText()).isEqualTo("invalid_client");
        assertThat(token("grant_type", "refresh_token", "client_id", CLIENT_ID, "refresh_token", "made-up")
                .json().get("error").asText()).isEqualTo("invalid_grant");
        assertThat(token("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer", "client_id", CLIENT_ID,
                "assertion", "x").json().get("error").asText()).isEqualTo("unsupported_grant_type");
        assertThat(sf.logins()).isZero();
        assertThat(sf.calls("POST /oauth2/token")).isEqualTo(5);
    }

    @Test
    void dataCallsNeedALiveTokenAndAnswerInvalidSessionIdOtherwise() {
        error(http.get(DATA + "/query?q=" + enc("SELECT Id FROM Contact")), 401, "INVALID_SESSION_ID");
        String token = passwordLogin();
        Http api = new Http(sf.port()).withHeader("Authorization", "Bearer " + token);
        ok(query(api, "SELECT Id FROM Contact"));
        ok(new Http(sf.port()).withHeader("Authorization", "OAuth " + token).get(DATA + "/limits"));

        sf.expireTokens();
        JsonNode expired = error(query(api, "SELECT Id FROM Contact"), 401, "INVALID_SESSION_ID");
        assertThat(expired.get("message").asText()).isEqualTo("Session expired or invalid");

        String second = passwordLogin();
        assertThat(http.get("/services/oauth2/revoke?token=" + enc(second)).status()).isEqualTo(200);
        error(new Http(sf.port()).withHeader("Authorization", "Bearer " + second).get(DATA + "/limits"), 401,
                "INVALID_SESSION_ID");
        assertThat(http.get("/services/oauth2/revoke?token=" + enc(second)).status()).isEqualTo(400);
        // Refused calls use none of the daily limit.
        assertThat(sf.apiUsage()).isEqualTo(2);
    }

    // ---------------------------------------------------------------- records over HTTP

    @Test
    void createReadUpdateDeleteKeepTheRecordInTheRecycleBin() {
        ManualClock clock = sf.freezeClock(Instant.parse("2026-05-20T20:49:32.456Z"));
        Http api = api();

        Reply created = api.post(DATA + "/sobjects/Contact",
                "{\"FirstName\":\"Ada\",\"LastName\":\"Lovelace\",\"Email\":\"ada@example.com\",\"Ext_Id__c\":\"A-1\"}");
        assertThat(created.status()).isEqualTo(201);
        String id = created.json().get("id").asText();
        assertThat(created.json().get("success").asBoolean()).isTrue();
        assertThat(created.json().get("errors")).isEmpty();
        assertThat(id).hasSize(18).startsWith("003").isEqualTo("003000000000001AAA");

        JsonNode read = ok(api.get(DATA + "/sobjects/Contact/" + id + "?fields=Id,LastName,SystemModstamp"));
        assertThat(read.get("attributes").get("type").asText()).isEqualTo("Contact");
        assertThat(read.get("attributes").get("url").asText()).isEqualTo(DATA + "/sobjects/Contact/" + id);
        assertThat(read.get("LastName").asText()).isEqualTo("Lovelace");
        assertThat(read.get("SystemModstamp").asText()).isEqualTo("2026-05-20T20:49:32.000+0000");
        assertThat(read.has("Email")).isFalse();

        clock.advance(Duration.ofSeconds(5));
        assertThat(api.patch(DATA + "/sobjects/Contact/" + id, "{\"Title\":\"Countess\",\"Email\":\"\"}").status())
                .isEqualTo(204);
        Map<String, Object> stored = sf.find(SalesforceSimulator.CONTACT, id).orElseThrow();
        assertThat(stored).containsEntry("Title", "Countess").containsEntry("Email", null)
                .containsEntry("Ext_Id__c", "A-1").containsEntry("CreatedDate", "2026-05-20T20:49:32.000+0000")
                .containsEntry("LastModifiedDate", "2026-05-20T20:49:37.000+0000")
                .containsEntry("SystemModstamp", "2026-05-20T20:49:37.000+0000");

        clock.advance(Duration.ofSeconds(5));
        assertThat(api.delete(DATA + "/sobjects/Contact/" + id).status()).isEqualTo(204);
        error(api.get(DATA + "/sobjects/Contact/" + id), 404, "ENTITY_IS_DELETED");
        error(api.delete(DATA + "/sobjects/Contact/" + id), 404, "ENTITY_IS_DELETED");
        error(api.get(DATA + "/sobjects/Contact/003000000000099AAA"), 404, "NOT_FOUND");
        assertThat(sf.live(SalesforceSimulator.CONTACT)).isEmpty();
        assertThat(sf.records(SalesforceSimulator.CONTACT)).singleElement()
                .satisfies(r -> assertThat(r).containsEntry("IsDeleted", true)
                        .containsEntry("SystemModstamp", "2026-05-20T20:49:42.000+0000"));
        assertThat(ok(query(api, "SELECT Id FROM Contact")).get("totalSize").asInt()).isZero();
        JsonNode all = ok(api.get(DATA + "/queryAll?q=" + enc("SELECT Id, IsDeleted FROM Contact")));
        assertThat(all.get("records").get(0).get("IsDeleted").asBoolean()).isTrue();
        assertThat(sf.calls("POST /sobjects/{type}")).isEqualTo(1);
        assertThat(sf.calls("GET /sobjects/{type}/{id}")).isEqualTo(3);
        assertThat(sf.calls("PATCH /sobjects/{type}/{id}")).isEqualTo(1);
        assertThat(sf.calls("DELETE /sobjects/{type}/{id}")).isEqualTo(2);
        assertThat(sf.calls("GET /queryAll")).isEqualTo(1);
    }

    @Test
    void requiredFieldsAndFieldChecksAnswerSalesforceErrors() {
        Http api = api();
        JsonNode contact = error(api.post(DATA + "/sobjects/Contact", "{\"FirstName\":\"Ada\"}"), 400,
                "REQUIRED_FIELD_MISSING");
        assertThat(contact.get("fields")).extracting(JsonNode::asText).containsExactly("LastName");
        Reply lead = api.post(DATA + "/sobjects/Lead", "{\"FirstName\":\"Ada\"}");
        JsonNode leadError = error(lead, 400, "REQUIRED_FIELD_MISSING");
        assertThat(leadError.get("fields")).extracting(JsonNode::asText).containsExactly("LastName", "Company");
        error(api.post(DATA + "/sobjects/Contact", "{\"LastName\":\"X\",\"Shoe_Size\":3}"), 400, "INVALID_FIELD");
        error(api.post(DATA + "/sobjects/Contact", "{\"LastName\":\"X\",\"SystemModstamp\":\"2026-01-01\"}"), 400,
                "INVALID_FIELD_FOR_INSERT_UPDATE");
        error(api.post(DATA + "/sobjects/Contact", "{\"LastName\":\"X\",\"Email\":\"not-an-email\"}"), 400,
                "INVALID_EMAIL_ADDRESS");
        error(api.post(DATA + "/sobjects/Contact", "{\"LastName\":\"" + "x".repeat(81) + "\"}"), 400,
                "STRING_TOO_LONG");
        error(api.post(DATA + "/sobjects/Contact", "{\"LastName\":"), 400, "JSON_PARSER_ERROR");
        String id = ok(api.post(DATA + "/sobjects/Lead", "{\"LastName\":\"Hopper\",\"Company\":\"Navy\"}"))
                .get("id").asText();
        assertThat(id).startsWith("00Q");
        error(api.patch(DATA + "/sobjects/Lead/" + id, "{\"Company\":null}"), 400, "REQUIRED_FIELD_MISSING");
        assertThat(sf.live(SalesforceSimulator.LEAD)).singleElement()
                .satisfies(r -> assertThat(r).containsEntry("Company", "Navy"));
        assertThat(sf.live(SalesforceSimulator.CONTACT)).isEmpty();
    }

    @Test
    void duplicateRuleRefusesASecondRecordWithTheSameEmailUnlessAllowSave() {
        Http api = api();
        sf.duplicateRule(true);
        String first = ok(api.post(DATA + "/sobjects/Contact", "{\"LastName\":\"A\",\"Email\":\"x@example.com\"}"))
                .get("id").asText();
        JsonNode dup = error(api.post(DATA + "/sobjects/Contact", "{\"LastName\":\"B\",\"Email\":\"X@Example.com\"}"),
                400, "DUPLICATES_DETECTED");
        assertThat(dup.at("/duplicateResult/matchResults/0/matchRecords/0/record/Id").asText()).isEqualTo(first);
        ok(api.post(DATA + "/sobjects/Contact", "{\"LastName\":\"B\",\"Email\":\"x@example.com\"}",
                "Sforce-Duplicate-Rule-Header", "allowSave=true"));
        assertThat(sf.live(SalesforceSimulator.CONTACT)).hasSize(2);
        assertThatThrownBy(() -> sf.update(SalesforceSimulator.CONTACT, first, Map.of("LastName", "")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("REQUIRED_FIELD_MISSING");
    }

    @Test
    void upsertByExternalIdCreatesUpdatesAndAnswers300WhenSeveralMatch() {
        Http api = api();
        Reply created = api.patch(DATA + "/sobjects/Contact/Ext_Id__c/A-1", "{\"LastName\":\"Lovelace\"}");
        assertThat(created.status()).isEqualTo(201);
        assertThat(created.json().get("created").asBoolean()).isTrue();
        String id = created.json().get("id").asText();
        assertThat(api.patch(DATA + "/sobjects/Contact/Ext_Id__c/A-1", "{\"Title\":\"Countess\"}").status())
                .isEqualTo(204);
        assertThat(sf.find(SalesforceSimulator.CONTACT, id).orElseThrow())
                .containsEntry("Ext_Id__c", "A-1").containsEntry("Title", "Countess");
        assertThat(ok(api.get(DATA + "/sobjects/Contact/ext_id__c/a-1")).get("Id").asText()).isEqualTo(id);

        sf.seed(SalesforceSimulator.CONTACT, Map.of("LastName", "Twin", "Ext_Id__c", "A-1"));
        Reply several = api.patch(DATA + "/sobjects/Contact/Ext_Id__c/A-1", "{\"Title\":\"x\"}");
        assertThat(several.status()).isEqualTo(300);
        assertThat(several.json()).hasSize(2);
        error(api.patch(DATA + "/sobjects/Contact/Email/a@b.c", "{\"LastName\":\"x\"}"), 404, "NOT_FOUND");
        assertThat(sf.calls("PATCH /sobjects/{type}/{field}/{value}")).isEqualTo(4);
    }

    // ---------------------------------------------------------------- sObject Collections over HTTP

    @Test
    void collectionCreateFailsOnlyTheRecordMissingLastNameWhenNotAllOrNone() {
        Http api = api();
        Reply reply = api.post(DATA + "/composite/sobjects", """
                {"allOrNone":false,"records":[
                  {"attributes":{"type":"Contact"},"LastName":"One","Email":"one@example.com"},
                  {"attributes":{"type":"Contact"},"FirstName":"NoLast"},
                  {"attributes":{"type":"Lead"},"LastName":"Three","Company":"Acme"}]}""");

        JsonNode results = ok(reply);
        assertThat(reply.status()).isEqualTo(200);
        assertThat(results).hasSize(3);
        assertThat(results.get(0).get("success").asBoolean()).isTrue();
        assertThat(results.get(0).get("id").asText()).startsWith("003");
        assertThat(results.get(1).get("success").asBoolean()).isFalse();
        assertThat(results.get(1).has("id")).isFalse();
        JsonNode failure = results.get(1).get("errors").get(0);
        assertThat(failure.get("statusCode").asText()).isEqualTo("REQUIRED_FIELD_MISSING");
        assertThat(failure.get("fields")).extracting(JsonNode::asText).containsExactly("LastName");
        assertThat(results.get(2).get("id").asText()).startsWith("00Q");
        assertThat(sf.live(SalesforceSimulator.CONTACT)).extracting(r -> r.get("LastName")).containsExactly("One");
        assertThat(sf.live(SalesforceSimulator.LEAD)).extracting(r -> r.get("LastName")).containsExactly("Three");
    }

    @Test
    void collectionWithAllOrNoneSavesNothingWhenOneRecordFails() {
        Http api = api();
        JsonNode results = ok(api.post(DATA + "/composite/sobjects", """
                {"allOrNone":true,"records":[
                  {"attributes":{"type":"Contact"},"LastName":"One"},
                  {"attributes":{"type":"Contact"},"FirstName":"NoLast"}]}"""));
        assertThat(results.get(0).get("success").asBoolean()).isFalse();
        assertThat(results.get(0).get("errors").get(0).get("statusCode").asText())
                .isEqualTo("ALL_OR_NONE_OPERATION_ROLLED_BACK");
        assertThat(results.get(1).get("errors").get(0).get("statusCode").asText()).isEqualTo("REQUIRED_FIELD_MISSING");
        assertThat(sf.records(SalesforceSimulator.CONTACT)).isEmpty();
    }

    @Test
    void collectionUpdateAndDeleteAnswerPerRecordInRequestOrderAndRefuseMoreThan200() {
        Http api = api();
        String a = (String) sf.seed(SalesforceSimulator.CONTACT, person("A", "Alpha", "a@example.com")).get("Id");
        String b = (String) sf.seed(SalesforceSimulator.CONTACT, person("B", "Beta", "b@example.com")).get("Id");
        sf.delete(SalesforceSimulator.CONTACT, b);

        JsonNode updated = ok(api.patch(DATA + "/composite/sobjects", """
                {"allOrNone":false,"records":[
                  {"attributes":{"type":"Contact"},"Id":"%s","Title":"CEO"},
                  {"attributes":{"type":"Contact"},"Id":"%s","Title":"CTO"},
                  {"attributes":{"type":"Contact"},"Title":"no id"}]}""".formatted(a, b)));
        assertThat(updated.get(0).get("success").asBoolean()).isTrue();
        assertThat(updated.get(1).get("errors").get(0).get("statusCode").asText()).isEqualTo("ENTITY_IS_DELETED");
        assertThat(updated.get(2).get("errors").get(0).get("statusCode").asText()).isEqualTo("MISSING_ARGUMENT");
        assertThat(sf.find(SalesforceSimulator.CONTACT, a).orElseThrow()).containsEntry("Title", "CEO");

        JsonNode deleted = ok(api.delete(DATA + "/composite/sobjects?ids=" + a + "," + b + "&allOrNone=false"));
        assertThat(deleted.get(0).get("success").asBoolean()).isTrue();
        assertThat(deleted.get(0).get("id").asText()).isEqualTo(a);
        assertThat(deleted.get(1).get("success").asBoolean()).isFalse();
        assertThat(sf.live(SalesforceSimulator.CONTACT)).isEmpty();

        String records = String.join(",", IntStream.range(0, 201)
                .mapToObj(i -> "{\"attributes\":{\"type\":\"Contact\"},\"LastName\":\"N" + i + "\"}").toList());
        error(api.post(DATA + "/composite/sobjects", "{\"records\":[" + records + "]}"), 400, "EXCEEDED_ID_LIMIT");
        assertThat(sf.records(SalesforceSimulator.CONTACT)).hasSize(2);
        assertThat(sf.calls("PATCH /composite/sobjects")).isEqualTo(1);
        assertThat(sf.calls("DELETE /composite/sobjects")).isEqualTo(1);
        assertThat(sf.calls("POST /composite/sobjects")).isEqualTo(1);
    }

    @Test
    void fieldNamesInWritesMatchInAnyCaseAsSalesforcesDo() {
        Http api = api();
        String a = (String) sf.seed(SalesforceSimulator.CONTACT, person("A", "Alpha", "a@example.com")).get("Id");

        // jsforce sends "id"
        JsonNode updated = ok(api.patch(DATA + "/composite/sobjects", """
                {"allOrNone":false,"records":[{"attributes":{"type":"Contact"},"id":"%s","title":"CEO","EMAIL":"ceo@example.com"}]}"""
                .formatted(a)));
        assertThat(updated.get(0).get("success").asBoolean()).as(updated.toString()).isTrue();
        assertThat(updated.get(0).get("id").asText()).isEqualTo(a);
        assertThat(sf.find(SalesforceSimulator.CONTACT, a).orElseThrow()).containsEntry("Title", "CEO")
                .containsEntry("Email", "ceo@example.com").doesNotContainKey("title");

        assertThat(api.patch(DATA + "/sobjects/Contact/" + a, "{\"firstname\":\"Ann\",\"id\":\"" + a + "\"}").status())
                .isEqualTo(204);
        assertThat(sf.find(SalesforceSimulator.CONTACT, a).orElseThrow()).containsEntry("FirstName", "Ann");

        JsonNode created = ok(api.post(DATA + "/composite/sobjects", """
                {"allOrNone":false,"records":[
                  {"attributes":{"type":"Contact"},"lastname":"Beta","email":"b@example.com"},
                  {"attributes":{"type":"Contact"},"id":"%s","lastname":"Gamma"}]}""".formatted(a)));
        assertThat(created.get(0).get("success").asBoolean()).as(created.toString()).isTrue();
        assertThat(sf.find(SalesforceSimulator.CONTACT, created.get(0).get("id").asText()).orElseThrow())
                .containsEntry("LastName", "Beta").containsEntry("Email", "b@example.com");
        assertThat(created.get(1).get("errors").get(0).get("statusCode").asText()).isEqualTo("INVALID_FIELD_FOR_INSERT_UPDATE");
        assertThat(sf.live(SalesforceSimulator.CONTACT)).hasSize(2);

        JsonNode found = ok(query(api, "select id, title from contact where systemmodstamp > 2000-01-01T00:00:00Z and title = 'CEO'"));
        assertThat(ids(found.get("records"))).containsExactly(a);
    }

    @Test
    void millisecondStampsKeepTheClocksMillisecondsInRecordsAndInSoql() {
        sf.millisecondStamps(true);
        ManualClock clock = sf.freezeClock(Instant.parse("2026-05-20T20:49:32.456Z"));
        Http api = api();
        String a = (String) sf.seed(SalesforceSimulator.CONTACT, person("A", "Alpha", "a@example.com")).get("Id");
        clock.advanceMillis(61);
        String b = (String) sf.seed(SalesforceSimulator.CONTACT, person("B", "Beta", "b@example.com")).get("Id");

        assertThat(sf.find(SalesforceSimulator.CONTACT, a).orElseThrow())
                .containsEntry("SystemModstamp", "2026-05-20T20:49:32.456+0000");
        assertThat(sf.find(SalesforceSimulator.CONTACT, b).orElseThrow())
                .containsEntry("SystemModstamp", "2026-05-20T20:49:32.517+0000");
        assertThat(ids(ok(query(api, "SELECT Id FROM Contact WHERE SystemModstamp > 2026-05-20T20:49:32.456Z")).get("records")))
                .containsExactly(b);
        assertThat(ids(ok(query(api, "SELECT Id FROM Contact WHERE SystemModstamp > 2026-05-20T20:49:32Z")).get("records")))
                .containsExactly(a, b);
    }

    // ---------------------------------------------------------------- SOQL over HTTP

    @Test
    void soqlFiltersOrdersAndLimitsAndAnswersOnlyTheSelectedFields() {
        Http api = api();
        sf.seed(SalesforceSimulator.CONTACT, person("Ada", "Lovelace", "Ada@Example.com"));
        sf.seed(SalesforceSimulator.CONTACT, person("Grace", "Hopper", "grace@example.com"));
        sf.seed(SalesforceSimulator.CONTACT, person("Alan", "Turing", null));

        JsonNode byEmail = ok(query(api, "select id, Email from CONTACT where Email IN ('ada@example.com',"
                + " 'GRACE@example.com') order by LastName desc"));
        assertThat(byEmail.get("totalSize").asInt()).isEqualTo(2);
        assertThat(byEmail.get("done").asBoolean()).isTrue();
        assertThat(byEmail.has("nextRecordsUrl")).isFalse();
        JsonNode first = byEmail.get("records").get(0);
        assertThat(first.get("Email").asText()).isEqualTo("Ada@Example.com");
        List<String> names = new ArrayList<>();
        first.fieldNames().forEachRemaining(names::add);
        assertThat(names).containsExactly("attributes", "Id", "Email");

        assertThat(ok(query(api, "SELECT Id FROM Contact WHERE Email != null")).get("totalSize").asInt()).isEqualTo(2);
        assertThat(ok(query(api, "SELECT LastName FROM Contact WHERE Email = null")).at("/records/0/LastName")
                .asText()).isEqualTo("Turing");
        assertThat(ok(query(api, "SELECT Id FROM Contact WHERE LastName != 'turing' AND Email NOT IN"
                + " ('grace@example.com')")).get("totalSize").asInt()).isEqualTo(1);
        assertThat(ok(query(api, "SELECT Id FROM Contact ORDER BY Email ASC NULLS LAST LIMIT 2"))
                .get("totalSize").asInt()).isEqualTo(2);
        assertThat(ok(query(api, "SELECT Id FROM Contact WHERE LastName = 'O\\'Brien'")).get("totalSize").asInt())
                .isZero();
        assertThat(ok(query(api, "SELECT Id FROM Contact WHERE SystemModstamp > 2000-01-01T00:00:00Z"))
                .get("totalSize").asInt()).isEqualTo(3);
        assertThat(ok(query(api, "SELECT Id FROM Contact WHERE CreatedDate >= 2999-01-01T00:00:00.000+0000"))
                .get("totalSize").asInt()).isZero();
    }

    @Test
    void unsupportedOrWrongSoqlIsRefusedRatherThanAnsweredWrongly() {
        Http api = api();
        for (String soql : List.of(
                "SELECT Id FROM Contact WHERE LastName LIKE 'A%'",
                "SELECT Account.Name FROM Contact",
                "SELECT COUNT() FROM Contact",
                "SELECT Id FROM Contact WHERE CreatedDate = TODAY",
                "SELECT Id FROM Contact WHERE CreatedDate > LAST_N_DAYS:7",
                "SELECT Id FROM Contact GROUP BY LastName",
                "SELECT Id FROM Contact LIMIT 10 OFFSET 5",
                "SELECT Id FROM Contact WHERE LastName = 'a' AND Email = 'b' OR Title = 'c'",
                "SELECT Id FROM Contact WHERE (LastName = 'a'",
                "SELECT Id Contact",
                "SELECT Id FROM Contact WHERE LastName = 'unterminated",
                "DELETE FROM Contact")) {
            JsonNode refused = error(query(api, soql), 400, "MALFORMED_QUERY");
            assertThat(refused.get("message").asText()).as(soql).contains("ERROR at Row:1:Column:");
        }
        assertThat(error(query(api, "SELECT Id, Shoe_Size FROM Contact"), 400, "INVALID_FIELD").get("message")
                .asText()).contains("No such column 'Shoe_Size' on entity 'Contact'");
        error(query(api, "SELECT Id FROM Contact WHERE SystemModstamp > '2026-05-20T20:49:32Z'"), 400, "INVALID_FIELD");
        error(query(api, "SELECT Id FROM Contact WHERE LastName = 5"), 400, "INVALID_FIELD");
        error(query(api, "SELECT Id FROM Contact WHERE Id = 'nope'"), 400, "INVALID_QUERY_FILTER_OPERATOR");
        error(query(api, "SELECT Id FROM Account"), 400, "INVALID_TYPE");
        error(api.get(DATA + "/query"), 400, "MALFORMED_QUERY");
    }

    // ---------------------------------------------------------------- field history (Histories)

    static final String HISTORY = "(SELECT Field, OldValue, NewValue, CreatedDate FROM Histories)";

    /** The one record a query answers. */
    static JsonNode only(Reply reply) {
        JsonNode body = ok(reply);
        assertThat(body.get("records")).as(body.toString()).hasSize(1);
        return body.get("records").get(0);
    }

    static List<String> changedFields(JsonNode histories) {
        List<String> fields = new ArrayList<>();
        histories.get("records").forEach(r -> fields.add(r.get("Field").asText()));
        return fields;
    }

    @Test
    void historiesSubqueryAnswersTheCreatedRowAndOneRowPerChangedFieldDatedByEachWrite() {
        ManualClock clock = sf.freezeClock(Instant.parse("2026-05-20T20:49:32.456Z"));
        Http api = api();
        String id = ok(api.post(DATA + "/sobjects/Contact",
                "{\"LastName\":\"Lovelace\",\"Email\":\"ada@example.com\"}")).get("id").asText();
        clock.advance(Duration.ofSeconds(5));
        assertThat(api.patch(DATA + "/sobjects/Contact/" + id, "{\"Email\":\"ada@lovelace.org\"}").status())
                .isEqualTo(204);
        clock.advance(Duration.ofSeconds(5));
        JsonNode updated = ok(api.patch(DATA + "/composite/sobjects", """
                {"allOrNone":false,"records":[{"attributes":{"type":"Contact"},"Id":"%s","Phone":"+44 20 7946 0000"}]}"""
                .formatted(id)));
        assertThat(updated.get(0).get("success").asBoolean()).isTrue();

        JsonNode record = only(query(api, "SELECT Id, Email, " + HISTORY + ", SystemModstamp FROM Contact WHERE Id IN ('"
                + id + "')"));
        List<String> keys = new ArrayList<>();
        record.fieldNames().forEachRemaining(keys::add);
        assertThat(keys).containsExactly("attributes", "Id", "Email", "Histories", "SystemModstamp");
        JsonNode histories = record.get("Histories");
        assertThat(histories.get("totalSize").asInt()).isEqualTo(3);
        assertThat(histories.get("done").asBoolean()).isTrue();
        assertThat(changedFields(histories)).containsExactly("created", "Email", "Phone");
        JsonNode created = histories.get("records").get(0);
        assertThat(created.get("attributes").get("type").asText()).isEqualTo("ContactHistory");
        assertThat(created.get("attributes").get("url").asText()).matches(DATA.replace(".", "\\.")
                + "/sobjects/ContactHistory/017[0-9A-Za-z]{15}");
        assertThat(created.get("OldValue").isNull()).isTrue();
        assertThat(created.get("NewValue").isNull()).isTrue();
        assertThat(created.get("CreatedDate").asText()).isEqualTo("2026-05-20T20:49:32.000+0000");
        JsonNode email = histories.get("records").get(1);
        assertThat(email.get("OldValue").asText()).isEqualTo("ada@example.com");
        assertThat(email.get("NewValue").asText()).isEqualTo("ada@lovelace.org");
        assertThat(email.get("CreatedDate").asText()).isEqualTo("2026-05-20T20:49:37.000+0000");
        JsonNode phone = histories.get("records").get(2);
        assertThat(phone.get("OldValue").isNull()).isTrue();
        assertThat(phone.get("CreatedDate").asText()).isEqualTo("2026-05-20T20:49:42.000+0000")
                .isEqualTo(record.get("SystemModstamp").asText());
        assertThat(sf.history(SalesforceSimulator.CONTACT, id)).extracting(r -> r.get("Field"))
                .containsExactly("created", "Email", "Phone");
    }

    @Test
    void aWriteThatLeavesAFieldsValueAsItWasAddsNoHistoryRowForIt() {
        Http api = api();
        String id = ok(api.post(DATA + "/sobjects/Contact",
                "{\"LastName\":\"Lovelace\",\"Email\":\"ada@example.com\",\"Score__c\":7}")).get("id").asText();
        assertThat(api.patch(DATA + "/sobjects/Contact/" + id,
                "{\"Email\":\"ada@example.com\",\"Title\":null,\"Score__c\":7.0}").status()).isEqualTo(204);
        sf.update(SalesforceSimulator.CONTACT, id, Map.of("LastName", "Lovelace"));
        assertThat(changedFields(only(query(api, "SELECT Id, " + HISTORY + " FROM Contact")).get("Histories")))
                .containsExactly("created");

        assertThat(api.patch(DATA + "/sobjects/Contact/" + id, "{\"Email\":\"ADA@example.com\",\"Score__c\":8}")
                .status()).isEqualTo(204);
        assertThat(changedFields(only(query(api, "SELECT Id, " + HISTORY + " FROM Contact")).get("Histories")))
                .as("a change of case is a change, as in Salesforce").containsExactly("created", "Email", "Score__c");
    }

    @Test
    void historiesOrderedByCreatedDateDescWithLimitOneAnswerTheNewestRow() {
        sf.millisecondStamps(true);
        ManualClock clock = sf.freezeClock(Instant.parse("2026-05-20T20:49:32.456Z"));
        Http api = api();
        String id = (String) sf.seed(SalesforceSimulator.LEAD, Map.of("LastName", "Hopper", "Company", "Navy")).get("Id");
        clock.advanceMillis(100);
        sf.update(SalesforceSimulator.LEAD, id, Map.of("Title", "Captain"));
        clock.advanceMillis(100);
        sf.update(SalesforceSimulator.LEAD, id, Map.of("Title", "Admiral"));
        // Same stamp as the one before: the later write still answers first.
        sf.update(SalesforceSimulator.LEAD, id, Map.of("Company", "US Navy"));

        JsonNode newest = only(query(api, "SELECT Id, (SELECT Field, NewValue, CreatedDate FROM Histories"
                + " ORDER BY CreatedDate DESC LIMIT 1) FROM Lead")).get("Histories");
        assertThat(newest.get("totalSize").asInt()).isEqualTo(1);
        assertThat(newest.at("/records/0/attributes/type").asText()).isEqualTo("LeadHistory");
        assertThat(newest.at("/records/0/Field").asText()).isEqualTo("Company");
        assertThat(newest.at("/records/0/CreatedDate").asText()).isEqualTo("2026-05-20T20:49:32.656+0000");

        JsonNode titles = only(query(api, "select id, (select field, newvalue, leadid from histories where field = 'title'"
                + " order by createddate asc) from lead")).get("histories");
        assertThat(titles.get("records")).extracting(r -> r.get("NewValue").asText()).containsExactly("Captain", "Admiral");
        assertThat(titles.at("/records/0/LeadId").asText()).isEqualTo(id);
        JsonNode some = only(query(api, "SELECT Id, (SELECT Field FROM Histories WHERE Field IN ('Company', 'created')"
                + " ORDER BY CreatedDate DESC) FROM Lead")).get("Histories");
        assertThat(changedFields(some)).containsExactly("Company", "created");
    }

    @Test
    void aRecordNeverChangedAfterItsCreationAnswersOnlyTheCreatedRowAndNullWhenNoRowMatches() {
        Http api = api();
        String id = (String) sf.seed(SalesforceSimulator.CONTACT, person("Ada", "Lovelace", "ada@example.com")).get("Id");

        JsonNode histories = only(query(api, "SELECT Id, " + HISTORY + " FROM Contact")).get("Histories");
        assertThat(changedFields(histories)).containsExactly("created");
        assertThat(histories.at("/records/0/CreatedDate").asText())
                .isEqualTo(sf.find(SalesforceSimulator.CONTACT, id).orElseThrow().get("CreatedDate"));
        JsonNode none = only(query(api, "SELECT Id, (SELECT Field FROM Histories WHERE Field = 'Email') FROM Contact"));
        assertThat(none.has("Histories")).isTrue();
        assertThat(none.get("Histories").isNull()).isTrue();
    }

    @Test
    void queryAllOfADeletedRecordStillAnswersItsHistoryWithoutARowForTheDelete() {
        ManualClock clock = sf.freezeClock(Instant.parse("2026-05-20T20:49:32Z"));
        Http api = api();
        String id = (String) sf.seed(SalesforceSimulator.CONTACT, person("Ada", "Lovelace", "ada@example.com")).get("Id");
        clock.advance(Duration.ofSeconds(1));
        sf.update(SalesforceSimulator.CONTACT, id, Map.of("Title", "Countess"));
        clock.advance(Duration.ofSeconds(1));
        assertThat(api.delete(DATA + "/sobjects/Contact/" + id).status()).isEqualTo(204);

        String soql = "SELECT Id, IsDeleted, " + HISTORY + " FROM Contact WHERE Id = '" + id + "'";
        assertThat(ok(query(api, soql)).get("totalSize").asInt()).isZero();
        JsonNode deleted = only(api.get(DATA + "/queryAll?q=" + enc(soql)));
        assertThat(deleted.get("IsDeleted").asBoolean()).isTrue();
        assertThat(changedFields(deleted.get("Histories"))).containsExactly("created", "Title");
        assertThat(deleted.at("/Histories/records/1/CreatedDate").asText()).isEqualTo("2026-05-20T20:49:33.000+0000");
    }

    @Test
    void historyKeepsTheNewestFiftyRowsOfARecordAndARolledBackCollectionTakesItsRowsBack() {
        Http api = api();
        String id = (String) sf.seed(SalesforceSimulator.CONTACT, Map.of("LastName", "P")).get("Id");
        for (int i = 1; i <= 60; i++) {
            sf.update(SalesforceSimulator.CONTACT, id, Map.of("Title", "T" + i));
        }
        JsonNode histories = only(query(api, "SELECT Id, (SELECT NewValue FROM Histories) FROM Contact")).get("Histories");
        assertThat(histories.get("totalSize").asInt()).isEqualTo(SalesforceSimulator.HISTORY_ROWS_KEPT);
        assertThat(histories.at("/records/0/NewValue").asText()).isEqualTo("T11");
        assertThat(histories.at("/records/49/NewValue").asText()).isEqualTo("T60");

        JsonNode results = ok(api.patch(DATA + "/composite/sobjects", """
                {"allOrNone":true,"records":[
                  {"attributes":{"type":"Contact"},"Id":"%s","Title":"Rolled back"},
                  {"attributes":{"type":"Contact"},"Id":"%s","LastName":null}]}""".formatted(id, id)));
        assertThat(results.get(0).get("errors").get(0).get("statusCode").asText())
                .isEqualTo("ALL_OR_NONE_OPERATION_ROLLED_BACK");
        assertThat(sf.history(SalesforceSimulator.CONTACT, id)).hasSize(50).last()
                .satisfies(r -> assertThat(r).containsEntry("NewValue", "T60"));
    }

    @Test
    void aChildRelationshipOtherThanHistoriesOrAnUnknownHistoryFieldIsRefused() {
        Http api = api();
        sf.seed(SalesforceSimulator.CONTACT, Map.of("LastName", "P"));
        JsonNode relationship = error(query(api, "SELECT Id, (SELECT Id FROM Tasks) FROM Contact"), 400, "INVALID_TYPE");
        assertThat(relationship.get("message").asText()).contains("Didn't understand relationship 'Tasks' in field path")
                .contains("'__r'");
        assertThat(error(query(api, "SELECT Id, (SELECT Subject FROM Histories) FROM Contact"), 400, "INVALID_FIELD")
                .get("message").asText()).contains("No such column 'Subject' on entity 'ContactHistory'");
        error(query(api, "SELECT Id, (SELECT LeadId FROM Histories) FROM Contact"), 400, "INVALID_FIELD");
        error(query(api, "SELECT Id, (SELECT Id FROM Histories WHERE Email = 'a@b.c') FROM Contact"), 400,
                "INVALID_FIELD");
        for (String soql : List.of(
                "SELECT Id, (SELECT Id, (SELECT Id FROM Histories) FROM Histories) FROM Contact",
                "SELECT Id, (SELECT Id FROM Histories), (SELECT Field FROM Histories) FROM Contact",
                "SELECT Id, (SELECT Id FROM Histories FROM Contact",
                "SELECT Id, (Id) FROM Contact")) {
            JsonNode refused = error(query(api, soql), 400, "MALFORMED_QUERY");
            assertThat(refused.get("message").asText()).as(soql).contains("ERROR at Row:1:Column:");
        }
        assertThat(only(query(api, "SELECT (SELECT ContactId FROM Histories), Id FROM Contact")).at("/Histories/totalSize")
                .asInt()).isEqualTo(1);
    }

    // ---------------------------------------------------------------- a declared external id field

    /** A simulator whose org has CrmSync_Id__c on Contact and Lead, in place of the plain one. */
    Http declaredOrg() {
        sf.stop();
        sf = SalesforceSimulator.builder().clientId(CLIENT_ID).clientSecret(CLIENT_SECRET).username(USER)
                .password(PASSWORD).externalIdField("CrmSync_Id__c").build().start();
        http = new Http(sf.port());
        return api();
    }

    @Test
    void aDeclaredFieldCanBeQueriedBeforeAnyRecordHoldsItWhileAnUndeclaredOneCannot() {
        Http api = declaredOrg();
        assertThat(sf.externalIdFields()).containsExactly("CrmSync_Id__c");
        assertThat(ok(query(api, "SELECT Id, CrmSync_Id__c FROM Contact WHERE Email IN ('a@example.com')"
                + " OR crmsync_id__c IN ('k-1', 'k-2')")).get("totalSize").asInt()).isZero();
        assertThat(ok(query(api, "SELECT Id FROM Lead WHERE CrmSync_Id__c = 'k-1'")).get("totalSize").asInt()).isZero();
        assertThat(error(query(api, "SELECT Id, Other__c FROM Contact"), 400, "INVALID_FIELD").get("message").asText())
                .contains("No such column 'Other__c' on entity 'Contact'");

        String id = (String) sf.seed(SalesforceSimulator.CONTACT, Map.of("LastName", "P", "Other__c", "x")).get("Id");
        JsonNode record = only(query(api, "select id, crmsync_id__c, other__c from contact where CRMSYNC_ID__C = null"));
        assertThat(record.get("Id").asText()).isEqualTo(id);
        assertThat(record.has("CrmSync_Id__c")).as("answered in the declared spelling").isTrue();
        assertThat(record.get("Other__c").asText()).isEqualTo("x");
        error(query(api, "SELECT Id, Other__c FROM Lead"), 400, "INVALID_FIELD");
        assertThat(sf.find(SalesforceSimulator.LEAD, "00Q000000000001EAA")).isEmpty();
        assertThat(ok(api.get(DATA + "/sobjects/Contact/" + id)).has("CrmSync_Id__c")).isTrue();
    }

    @Test
    void aDuplicateValueOfTheDeclaredExternalIdIsRefusedWithDuplicateValueWhileTheOtherRecordsAreSaved() {
        Http api = declaredOrg();
        JsonNode results = ok(api.post(DATA + "/composite/sobjects", """
                {"allOrNone":false,"records":[
                  {"attributes":{"type":"Contact"},"LastName":"One","CrmSync_Id__c":"k-1"},
                  {"attributes":{"type":"Contact"},"LastName":"Two","crmsync_id__c":"K-1"},
                  {"attributes":{"type":"Contact"},"LastName":"Three","CrmSync_Id__c":"k-3"},
                  {"attributes":{"type":"Lead"},"LastName":"Four","Company":"Acme","CrmSync_Id__c":"k-1"}]}"""));
        assertThat(results).extracting(r -> r.get("success").asBoolean()).containsExactly(true, false, true, true);
        String one = results.get(0).get("id").asText();
        String three = results.get(2).get("id").asText();
        JsonNode duplicate = results.get(1).get("errors").get(0);
        assertThat(duplicate.get("statusCode").asText()).isEqualTo("DUPLICATE_VALUE");
        assertThat(duplicate.get("message").asText())
                .isEqualTo("duplicate value found: CrmSync_Id__c duplicates value on record with id: " + one);
        assertThat(duplicate.get("fields")).extracting(JsonNode::asText).containsExactly("CrmSync_Id__c");
        assertThat(sf.live(SalesforceSimulator.CONTACT)).extracting(r -> r.get("LastName")).containsExactly("One", "Three");

        JsonNode refused = error(api.patch(DATA + "/sobjects/Contact/" + three, "{\"CrmSync_Id__c\":\"K-1\"}"), 400,
                "DUPLICATE_VALUE");
        assertThat(refused.get("fields")).extracting(JsonNode::asText).containsExactly("CrmSync_Id__c");
        error(api.post(DATA + "/sobjects/Contact", "{\"LastName\":\"Five\",\"CrmSync_Id__c\":\"k-3\"}",
                "Sforce-Duplicate-Rule-Header", "allowSave=true"), 400, "DUPLICATE_VALUE");
        assertThat(api.patch(DATA + "/sobjects/Contact/" + three, "{\"CrmSync_Id__c\":\"K-3\",\"Title\":\"x\"}")
                .status()).as("a record's own value is no duplicate").isEqualTo(204);
        assertThat(api.patch(DATA + "/sobjects/Contact/CrmSync_Id__c/K-1", "{\"Title\":\"Upserted\"}").status())
                .isEqualTo(204);
        assertThat(sf.find(SalesforceSimulator.CONTACT, one).orElseThrow()).containsEntry("Title", "Upserted");

        sf.delete(SalesforceSimulator.CONTACT, one);
        assertThat(api.patch(DATA + "/sobjects/Contact/" + three, "{\"CrmSync_Id__c\":\"k-1\"}").status())
                .as("a deleted record's value is free").isEqualTo(204);
        assertThat(api.patch(DATA + "/sobjects/Contact/CrmSync_Id__c/k-1", "{\"Title\":\"Found\"}").status())
                .isEqualTo(204);
        assertThat(sf.find(SalesforceSimulator.CONTACT, three).orElseThrow()).containsEntry("Title", "Found");
    }

    @Test
    void pagesFollowNextRecordsUrlWithTheRequestedBatchSize() {
        Http api = api();
        for (int i = 0; i < 450; i++) {
            sf.seed(SalesforceSimulator.CONTACT, Map.of("LastName", "P" + i));
        }
        JsonNode page = ok(api.get(DATA + "/query?q=" + enc("SELECT Id FROM Contact ORDER BY Id"),
                "Sforce-Query-Options", "batchSize=200"));
        List<String> ids = new ArrayList<>(ids(page.get("records")));
        assertThat(page.get("nextRecordsUrl").asText()).matches("/services/data/v56\\.0/query/01g[0-9A-Za-z]{15}-200");
        while (!page.get("done").asBoolean()) {
            assertThat(page.get("totalSize").asInt()).isEqualTo(450);
            page = ok(api.get(page.get("nextRecordsUrl").asText()));
            ids.addAll(ids(page.get("records")));
        }
        assertThat(ids).hasSize(450).doesNotHaveDuplicates().isSorted();
        assertThat(sf.calls("GET /query/{locator}")).isEqualTo(2);
        assertThat(SalesforceSimulator.batchSize("batchSize=50")).isEqualTo(200);
        assertThat(SalesforceSimulator.batchSize("batchSize=5000")).isEqualTo(2000);
        error(api.get(DATA + "/query/01g000000000999AAA-200"), 400, "INVALID_QUERY_LOCATOR");
    }

    // ---------------------------------------------------------------- limits, faults, counters

    @Test
    void everyReplyCarriesLimitInfoAndTheDailyLimitAnswers403() {
        Http api = api();
        sf.dailyLimit(2);
        Reply first = query(api, "SELECT Id FROM Contact");
        assertThat(first.header("Sforce-Limit-Info")).isEqualTo("api-usage=1/2");
        ok(api.get(DATA + "/limits"));
        JsonNode over = error(query(api, "SELECT Id FROM Contact"), 403, "REQUEST_LIMIT_EXCEEDED");
        assertThat(over.get("message").asText()).isEqualTo("TotalRequests Limit exceeded.");
        assertThat(api.get(DATA + "/limits").header("Sforce-Limit-Info")).isEqualTo("api-usage=2/2");
        sf.resetDailyUsage();
        assertThat(ok(api.get(DATA + "/limits")).at("/DailyApiRequests/Remaining").asLong()).isEqualTo(1);

        ManualClock clock = sf.freezeClock();
        ok(query(api, "SELECT Id FROM Contact"));
        error(query(api, "SELECT Id FROM Contact"), 403, "REQUEST_LIMIT_EXCEEDED");
        clock.advance(Duration.ofDays(1));
        assertThat(query(api, "SELECT Id FROM Contact").header("Sforce-Limit-Info")).isEqualTo("api-usage=1/2");
    }

    @Test
    void javaApiSeedsEditsAndDeletesAsAUserAndRefusesAsSalesforceWould() {
        ManualClock clock = sf.freezeClock(Instant.parse("2026-05-20T20:49:32.789Z"));
        Map<String, Object> seeded = sf.seed(SalesforceSimulator.LEAD, Map.of("LastName", "Hopper", "Company", "Navy",
                "Score__c", 7));
        String id = (String) seeded.get("Id");
        assertThat(id).as("the Q of the prefix shows in the case suffix").isEqualTo("00Q000000000001EAA");
        assertThat(seeded).containsEntry("IsDeleted", false).containsEntry("Score__c", 7)
                .containsEntry("CreatedDate", "2026-05-20T20:49:32.000+0000")
                .containsEntry("SystemModstamp", "2026-05-20T20:49:32.000+0000");
        // A seed skips the rules, so a test can plant what the API would refuse.
        sf.seed(SalesforceSimulator.CONTACT, Map.of("FirstName", "NoLastName"));
        assertThatThrownBy(() -> sf.seed(SalesforceSimulator.CONTACT, Map.of("Shoe", 1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("INVALID_FIELD");
        assertThatThrownBy(() -> sf.seed("Account", Map.of("Name", "x"))).isInstanceOf(IllegalArgumentException.class);

        clock.advance(Duration.ofSeconds(3));
        assertThat(sf.update(SalesforceSimulator.LEAD, id.substring(0, 15), Map.of("Title", "Admiral")))
                .containsEntry("Title", "Admiral").containsEntry("SystemModstamp", "2026-05-20T20:49:35.000+0000");
        assertThatThrownBy(() -> sf.update(SalesforceSimulator.LEAD, id, Map.of("Company", "")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("REQUIRED_FIELD_MISSING");
        assertThatThrownBy(() -> sf.update(SalesforceSimulator.LEAD, "00Q000000000042EAA", Map.of("Title", "x")))
                .isInstanceOf(java.util.NoSuchElementException.class);
        assertThat(sf.delete(SalesforceSimulator.LEAD, id)).containsEntry("IsDeleted", true);
        assertThatThrownBy(() -> sf.delete(SalesforceSimulator.LEAD, id)).isInstanceOf(IllegalStateException.class);
        assertThat(sf.live(SalesforceSimulator.LEAD)).isEmpty();
        assertThat(sf.records(SalesforceSimulator.LEAD)).hasSize(1);
    }

    @Test
    void concurrentCreatesGetDistinctIdsAndAreAllCounted() throws Exception {
        Http api = api();
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(8);
        try {
            List<java.util.concurrent.Future<String>> futures = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                int n = i;
                futures.add(pool.submit(() -> ok(api.post(DATA + "/sobjects/Contact",
                        "{\"LastName\":\"C" + n + "\"}")).get("id").asText()));
            }
            List<String> ids = new ArrayList<>();
            for (var future : futures) {
                ids.add(future.get());
            }
            assertThat(ids).doesNotHaveDuplicates().hasSize(200);
        } finally {
            pool.shutdownNow();
        }
        assertThat(sf.live(SalesforceSimulator.CONTACT)).hasSize(200);
        assertThat(sf.calls("POST /sobjects/{type}")).isEqualTo(200);
        assertThat(sf.apiUsage()).isEqualTo(200);
    }

    @Test
    void faultsAnswerSalesforceErrorsChangeNothingAndEveryCallIsCounted() {
        Http api = api();
        sf.faults().failNext(1, 503, "POST", "/sobjects/Contact");
        error(api.post(DATA + "/sobjects/Contact", "{\"LastName\":\"X\"}"), 503, "SERVER_UNAVAILABLE");
        assertThat(sf.records(SalesforceSimulator.CONTACT)).isEmpty();
        ok(api.post(DATA + "/sobjects/Contact", "{\"LastName\":\"X\"}"));
        assertThat(sf.calls("POST /sobjects/{type}")).isEqualTo(2);

        Reply faults = http.post("/__sim/faults", "{\"kind\":\"status\",\"status\":500,\"pathPrefix\":\"/query\"}");
        assertThat(faults.json().get("pending")).hasSize(1);
        error(query(api, "SELECT Id FROM Contact"), 500, "UNKNOWN_EXCEPTION");
        JsonNode org = http.post("/__sim/org", "{\"dailyLimit\":7,\"expireTokens\":true}").json();
        assertThat(org.get("dailyLimit").asLong()).isEqualTo(7);
        assertThat(org.get("activeTokens").asInt()).isZero();
        assertThat(org.at("/records/Contact/live").asInt()).isEqualTo(1);
        JsonNode stats = http.get("/__sim/stats").json();
        assertThat(stats.at("/calls/GET ~1query").asLong()).isEqualTo(1);
        assertThat(stats.at("/calls/POST ~1oauth2~1token").asLong()).isEqualTo(1);
    }

    // ---------------------------------------------------------------- through the real camel-salesforce

    @Test
    void camelLogsInAndQueriesAcrossThreePagesFollowingNextRecordsUrl() throws Exception {
        for (int i = 0; i < 450; i++) {
            sf.seed(SalesforceSimulator.CONTACT, person("F" + i, "L" + i, "p" + i + "@example.com"));
        }
        ProducerTemplate camel = camel();
        assertThat(sf.logins()).as("lazyLogin=false logs in at start").isEqualTo(1);

        JsonNode page = json(camel.requestBodyAndHeader("salesforce:query?rawPayload=true",
                "SELECT Id, LastName FROM Contact ORDER BY Id", "Sforce-Query-Options", "batchSize=200", String.class));
        List<String> ids = new ArrayList<>(ids(page.get("records")));
        int pages = 1;
        while (!page.get("done").asBoolean()) {
            page = json(camel.requestBody("salesforce:queryMore?rawPayload=true",
                    page.get("nextRecordsUrl").asText(), String.class));
            ids.addAll(ids(page.get("records")));
            pages++;
        }
        assertThat(pages).isEqualTo(3);
        assertThat(ids).hasSize(450).doesNotHaveDuplicates().isSorted();
        assertThat(sf.calls("GET /query")).isEqualTo(1);
        assertThat(sf.calls("GET /query/{locator}")).isEqualTo(2);

        // The SOQL can also sit in the endpoint URI; RAW() keeps '+' and '&' as they are.
        JsonNode raw = json(camel.requestBody("salesforce:query?rawPayload=true&sObjectQuery=RAW(SELECT Id FROM"
                + " Contact WHERE SystemModstamp > 2000-01-01T00:00:00.000+0000 LIMIT 3)", null, String.class));
        assertThat(raw.get("totalSize").asInt()).isEqualTo(3);
        sf.delete(SalesforceSimulator.CONTACT, ids.get(0));
        JsonNode all = json(camel.requestBody("salesforce:queryAll?rawPayload=true",
                "SELECT Id, IsDeleted FROM Contact WHERE IsDeleted = true", String.class));
        assertThat(ids(all.get("records"))).containsExactly(ids.get(0));
        assertThat(sf.logins()).isEqualTo(1);

        // On stop camel revokes its token on the instance host.
        this.camel.stop();
        assertThat(sf.calls("GET /oauth2/revoke")).isEqualTo(1);
        assertThat(sf.activeTokens()).isZero();
    }

    @Test
    void camelCreatesUpdatesUpsertsAndDeletesAContact() throws Exception {
        ProducerTemplate camel = camel();
        JsonNode created = json(camel.requestBody("salesforce:createSObject?sObjectName=Contact&rawPayload=true",
                "{\"FirstName\":\"Ada\",\"LastName\":\"Lovelace\",\"Email\":\"ada@example.com\"}", String.class));
        String id = created.get("id").asText();
        assertThat(created.get("success").asBoolean()).isTrue();
        assertThat(sf.find(SalesforceSimulator.CONTACT, id).orElseThrow()).containsEntry("LastName", "Lovelace");

        camel.requestBodyAndHeader("salesforce:updateSObject?sObjectName=Contact&rawPayload=true",
                "{\"Title\":\"Countess\"}", "sObjectId", id);
        assertThat(sf.find(SalesforceSimulator.CONTACT, id).orElseThrow()).containsEntry("Title", "Countess");

        JsonNode upserted = json(camel.requestBodyAndHeader(
                "salesforce:upsertSObject?sObjectName=Contact&sObjectIdName=Ext_Id__c&rawPayload=true",
                "{\"LastName\":\"Hopper\"}", "sObjectIdValue", "G-1", String.class));
        assertThat(upserted.get("created").asBoolean()).isTrue();

        JsonNode read = json(camel.requestBodyAndHeader(
                "salesforce:getSObject?sObjectName=Contact&sObjectFields=Id,Title&rawPayload=true", id,
                "sObjectId", id, String.class));
        assertThat(read.get("Title").asText()).isEqualTo("Countess");

        camel.requestBody("salesforce:deleteSObject?sObjectName=Contact", id);
        assertThat(sf.find(SalesforceSimulator.CONTACT, id).orElseThrow()).containsEntry("IsDeleted", true);
        assertThat(sf.live(SalesforceSimulator.CONTACT)).extracting(r -> r.get("LastName")).containsExactly("Hopper");
        assertThat(sf.calls("POST /sobjects/{type}")).isEqualTo(1);
        assertThat(sf.calls("PATCH /sobjects/{type}/{id}")).isEqualTo(1);
        assertThat(sf.calls("PATCH /sobjects/{type}/{field}/{value}")).isEqualTo(1);
        assertThat(sf.calls("DELETE /sobjects/{type}/{id}")).isEqualTo(1);
    }

    @Test
    void camelLogsInAgainWhenTheTokenExpiresMidwayAndTheCallSucceeds() throws Exception {
        for (int i = 0; i < 250; i++) {
            sf.seed(SalesforceSimulator.CONTACT, Map.of("LastName", "P" + i));
        }
        ProducerTemplate camel = camel();
        JsonNode page = json(camel.requestBodyAndHeader("salesforce:query?rawPayload=true",
                "SELECT Id FROM Contact ORDER BY Id", "Sforce-Query-Options", "batchSize=200", String.class));
        assertThat(page.get("records")).hasSize(200);

        sf.expireTokens();
        JsonNode next = json(camel.requestBody("salesforce:queryMore?rawPayload=true",
                page.get("nextRecordsUrl").asText(), String.class));
        assertThat(next.get("records")).hasSize(50);
        assertThat(next.get("done").asBoolean()).isTrue();
        assertThat(sf.logins()).isEqualTo(2);
        assertThat(sf.requests("GET /query/{locator}")).extracting(r -> r.status()).containsExactly(401, 200);

        sf.expireTokens();
        JsonNode created = json(camel.requestBody("salesforce:createSObject?sObjectName=Contact&rawPayload=true",
                "{\"LastName\":\"AfterExpiry\"}", String.class));
        assertThat(created.get("success").asBoolean()).isTrue();
        assertThat(sf.live(SalesforceSimulator.CONTACT)).hasSize(251);
        assertThat(sf.logins()).isEqualTo(3);
    }

    @Test
    void camelSurfacesRequestLimitExceededAndMalformedQueryAsExceptionsNamingTheCode() throws Exception {
        ProducerTemplate camel = camel();
        sf.dailyLimit(sf.apiUsage());
        assertThatThrownBy(() -> camel.requestBody("salesforce:query?rawPayload=true", "SELECT Id FROM Contact",
                String.class))
                .isInstanceOf(CamelExecutionException.class)
                .rootCause().isInstanceOf(SalesforceException.class)
                .hasMessageContaining("REQUEST_LIMIT_EXCEEDED");
        sf.dailyLimit(1000);
        assertThatThrownBy(() -> camel.requestBody("salesforce:query?rawPayload=true",
                "SELECT Id FROM Contact WHERE LastName LIKE 'A%'", String.class))
                .isInstanceOf(CamelExecutionException.class)
                .hasRootCauseInstanceOf(SalesforceException.class)
                .rootCause().hasMessageContaining("MALFORMED_QUERY");
        assertThatThrownBy(() -> camel.requestBody("salesforce:query?rawPayload=true", "SELECT Nope FROM Contact",
                String.class))
                .isInstanceOf(CamelExecutionException.class)
                .satisfies(e -> {
                    SalesforceException cause = (SalesforceException) e.getCause();
                    assertThat(cause.getStatusCode()).isEqualTo(400);
                    assertThat(cause.getErrors()).extracting(x -> x.getErrorCode()).containsExactly("INVALID_FIELD");
                });
        assertThatThrownBy(() -> camel.requestBodyAndHeader("salesforce:getSObject?sObjectName=Contact&rawPayload=true",
                null, "sObjectId", "003000000000099AAA", String.class))
                .hasRootCauseInstanceOf(NoSuchSObjectException.class);
    }

    @Test
    void camelPagesByKeysetThroughRecordsSharingOneSystemModstamp() throws Exception {
        ManualClock clock = sf.freezeClock(Instant.parse("2026-05-20T20:49:32Z"));
        for (int i = 0; i < 3; i++) {
            sf.seed(SalesforceSimulator.CONTACT, Map.of("LastName", "Before" + i));
        }
        clock.advance(Duration.ofSeconds(1));
        for (int i = 0; i < 7; i++) {
            sf.seed(SalesforceSimulator.CONTACT, Map.of("LastName", "Same" + i));
        }
        clock.advance(Duration.ofSeconds(1));
        for (int i = 0; i < 2; i++) {
            sf.seed(SalesforceSimulator.CONTACT, Map.of("LastName", "After" + i));
        }
        ProducerTemplate camel = camel();

        String stamp = "2026-05-20T20:49:32.000+0000";
        String lastId = "000000000000000";
        List<String> seen = new ArrayList<>();
        for (int guard = 0; guard < 20; guard++) {
            String soql = "SELECT Id, LastName, SystemModstamp FROM Contact WHERE (SystemModstamp > " + stamp
                    + " OR (SystemModstamp = " + stamp + " AND Id > '" + lastId + "'))"
                    + " ORDER BY SystemModstamp ASC, Id ASC LIMIT 3";
            JsonNode page = json(camel.requestBody("salesforce:queryAll?rawPayload=true", soql, String.class));
            JsonNode records = page.get("records");
            if (records.isEmpty()) {
                break;
            }
            records.forEach(r -> seen.add(r.get("LastName").asText()));
            JsonNode last = records.get(records.size() - 1);
            stamp = last.get("SystemModstamp").asText();
            lastId = last.get("Id").asText();
        }
        assertThat(seen).containsExactly("Before0", "Before1", "Before2", "Same0", "Same1", "Same2", "Same3", "Same4", "Same5", "Same6",
                "After0", "After1");
        assertThat(sf.live(SalesforceSimulator.CONTACT).stream()
                .filter(r -> r.get("SystemModstamp").equals("2026-05-20T20:49:33.000+0000"))).hasSize(7);
    }

    @Test
    void camelCompositeCollectionsReportPartialFailurePerRecord() throws Exception {
        ProducerTemplate camel = camel();
        List<Map<String, Object>> records = new ArrayList<>();
        for (String last : new String[] {"One", null, "Three"}) {
            Map<String, Object> record = new HashMap<>();
            record.put("attributes", Map.of("type", "Contact"));
            if (last != null) {
                record.put("LastName", last);
            } else {
                record.put("FirstName", "NoLast");
            }
            records.add(record);
        }
        @SuppressWarnings("unchecked")
        List<SaveSObjectResult> saved = camel.requestBody(
                "salesforce:compositeCreateSObjectCollections?allOrNone=false", records, List.class);
        assertThat(saved).extracting(SaveSObjectResult::getSuccess).containsExactly(true, false, true);
        assertThat(saved.get(1).getErrors().get(0).getErrorCode()).isEqualTo("REQUIRED_FIELD_MISSING");
        assertThat(saved.get(1).getErrors().get(0).getFields()).containsExactly("LastName");

        List<String> ids = List.of(saved.get(0).getId(), saved.get(2).getId());
        @SuppressWarnings("unchecked")
        List<DeleteSObjectResult> deleted = camel.requestBody(
                "salesforce:compositeDeleteSObjectCollections?allOrNone=false", ids, List.class);
        assertThat(deleted).extracting(DeleteSObjectResult::getSuccess).containsExactly(true, true);
        assertThat(sf.live(SalesforceSimulator.CONTACT)).isEmpty();
        assertThat(sf.calls("POST /composite/sobjects")).isEqualTo(1);
        assertThat(sf.calls("DELETE /composite/sobjects")).isEqualTo(1);
    }

    @Test
    void camelRawOperationReadsTheUpdatedAndDeletedResources() throws Exception {
        ManualClock clock = sf.freezeClock(Instant.parse("2026-05-20T20:49:32Z"));
        String kept = (String) sf.seed(SalesforceSimulator.CONTACT, Map.of("LastName", "Kept")).get("Id");
        String gone = (String) sf.seed(SalesforceSimulator.CONTACT, Map.of("LastName", "Gone")).get("Id");
        clock.advance(Duration.ofMinutes(2));
        sf.delete(SalesforceSimulator.CONTACT, gone);
        clock.advance(Duration.ofMinutes(2));
        ProducerTemplate camel = camel();

        Map<String, Object> range = Map.of("start", "2026-05-20T20:00:00+00:00", "end", "2026-05-20T21:00:00+00:00");
        JsonNode updated = json(camel.requestBodyAndHeaders("salesforce:raw?format=JSON&rawMethod=GET"
                + "&rawPath=/services/data/v56.0/sobjects/Contact/updated/&rawQueryParameters=start,end", null, range,
                String.class));
        assertThat(updated.get("ids")).extracting(JsonNode::asText).containsExactly(kept);
        assertThat(updated.get("latestDateCovered").asText()).isEqualTo("2026-05-20T20:53:00.000+0000");

        JsonNode deleted = json(camel.requestBodyAndHeaders("salesforce:raw?format=JSON&rawMethod=GET"
                + "&rawPath=/services/data/v56.0/sobjects/Contact/deleted/&rawQueryParameters=start,end", null, range,
                String.class));
        assertThat(deleted.get("deletedRecords")).singleElement().satisfies(d -> {
            assertThat(d.get("id").asText()).isEqualTo(gone);
            assertThat(d.get("deletedDate").asText()).isEqualTo("2026-05-20T20:51:32.000+0000");
        });
        assertThat(sf.calls("GET /sobjects/{type}/updated")).isEqualTo(1);
        assertThat(sf.calls("GET /sobjects/{type}/deleted")).isEqualTo(1);
    }
}
