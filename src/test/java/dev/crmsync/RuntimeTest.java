package dev.crmsync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.crmsync.support.Http;
import dev.crmsync.support.ServiceTest;
import org.apache.camel.CamelContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.ConfigurableApplicationContext;

/** The service as an operator runs it: started, stopped and started again, from another folder, without secrets. */
@ExtendWith(OutputCaptureExtension.class)
class RuntimeTest {

    static ConfigurableApplicationContext start(String... args) {
        List<String> all = new ArrayList<>(List.of("--server.port=0", "--logging.level.root=WARN",
                "--spring.jmx.enabled=false", "--camel.main.jmx-enabled=false"));
        all.addAll(List.of(args));
        return new SpringApplicationBuilder(CrmContactSync.class).run(all.toArray(String[]::new));
    }

    static Http api(ConfigurableApplicationContext context, String key) {
        int port = Integer.parseInt(context.getEnvironment().getProperty("local.server.port"));
        return new Http(port).withHeader("X-Api-Key", key);
    }

    static String[] credentials() {
        return new String[]{"--crmsync.api-key=" + ServiceTest.API_KEY, "--crmsync.admin.password=" + ServiceTest.ADMIN_PASSWORD};
    }

    @Test
    void contactsSurviveARestartOnTheH2FileDatabase(@TempDir Path data) {
        String dataDir = "--crmsync.data-dir=" + data;
        List<String> ids = new ArrayList<>();
        try (var first = start(concat(credentials(), dataDir))) {
            Http api = api(first, ServiceTest.API_KEY);
            for (int i = 0; i < 5; i++) {
                ids.add(api.post("/api/contacts", "{\"email\":\"restart-" + i + "@example.com\"}").json().get("id").asText());
            }
            assertThat(api.patch("/api/contacts/" + ids.get(0), "{\"firstName\":\"Kept\"}").status()).isEqualTo(200);
            assertThat(api.delete("/api/contacts/" + ids.get(1)).status()).isEqualTo(204);
        }
        assertThat(data.resolve("crmsync.mv.db")).exists();

        try (var second = start(concat(credentials(), dataDir))) {
            Http api = api(second, ServiceTest.API_KEY);
            var kept = api.get("/api/contacts/" + ids.get(0));
            assertThat(kept.status()).isEqualTo(200);
            assertThat(kept.json().get("firstName").asText()).isEqualTo("Kept");
            assertThat(kept.header("ETag")).isEqualTo("\"2\"");
            assertThat(api.get("/api/contacts/" + ids.get(1)).status()).isEqualTo(410);
            for (String id : ids.subList(2, 5)) {
                assertThat(api.get("/api/contacts/" + id).status()).isEqualTo(200);
            }
            assertThat(api.get("/api/contacts/" + ids.get(0) + "/history").json().get("items")).hasSize(2);
        }
    }

    @Test
    void theServiceRefusesToStartWithoutAnApiKey(@TempDir Path data) {
        assertThatThrownBy(() -> start("--crmsync.api-key=", "--crmsync.admin.password=" + ServiceTest.ADMIN_PASSWORD,
                "--crmsync.data-dir=" + data))
                .rootCause().hasMessageContaining("CRMSYNC_API_KEY");
        assertThatThrownBy(() -> start("--crmsync.api-key=short", "--crmsync.admin.password=" + ServiceTest.ADMIN_PASSWORD,
                "--crmsync.data-dir=" + data))
                .rootCause().hasMessageContaining("shorter than 16");
        assertThatThrownBy(() -> start("--crmsync.api-key=" + ServiceTest.API_KEY, "--crmsync.admin.password=",
                "--crmsync.data-dir=" + data))
                .rootCause().hasMessageContaining("CRMSYNC_ADMIN_PASSWORD");
    }

    @Test
    void theSandboxProfileGeneratesAndPrintsAWorkingApiKey(@TempDir Path data, CapturedOutput output) {
        try (var sandbox = start("--spring.profiles.active=sandbox", "--crmsync.api-key=", "--crmsync.admin.password=",
                "--crmsync.data-dir=" + data)) {
            Matcher key = Pattern.compile("API key:\\s+(\\S+)").matcher(output.getOut());
            assertThat(key.find()).as(output.getOut()).isTrue();
            assertThat(api(sandbox, key.group(1)).get("/api/contacts").status()).isEqualTo(200);
            assertThat(api(sandbox, "not-" + key.group(1)).get("/api/contacts").status()).isEqualTo(401);
        }
    }

    @Test
    void configuredSecretsNeverReachTheLog(@TempDir Path data, CapturedOutput output) {
        try (var context = start(concat(credentials(), "--crmsync.data-dir=" + data, "--logging.level.dev.crmsync=DEBUG",
                "--logging.level.org.springframework.security=DEBUG", "--logging.level.org.apache.camel.component.platform.http=DEBUG",
                "--logging.level.org.springframework.web=DEBUG"))) {
            Http api = api(context, ServiceTest.API_KEY);
            api.post("/api/contacts", "{\"email\":\"secret-log@example.com\"}");
            api.post("/api/contacts", "{\"email\":1}");
        }
        assertThat(output.getAll()).doesNotContain(ServiceTest.API_KEY).doesNotContain(ServiceTest.ADMIN_PASSWORD);
    }

    @Test
    void theHomeFolderProvidesTheConfigurationAndTheRoutes(@TempDir Path home) throws IOException {
        Files.createDirectories(home.resolve("routes"));
        for (String route : List.of("api-contacts", "error-handling")) {
            Files.copy(Path.of("routes", route + ".camel.yaml"), home.resolve("routes/" + route + ".camel.yaml"));
        }
        Files.createDirectories(home.resolve("mappings"));
        Files.copy(Path.of("mappings", "mapping.schema.json"), home.resolve("mappings/mapping.schema.json"));
        Files.copy(Path.of("mappings", "crm1-contact.json"), home.resolve("mappings/crm1-contact.json"));
        Files.writeString(home.resolve("application.yaml"), "crmsync:\n  api:\n    default-page-size: 7\n");

        try (var context = start(concat(credentials(), "--crmsync.home=" + home))) {
            assertThat(context.getEnvironment().getProperty("crmsync.api.default-page-size")).isEqualTo("7");
            assertThat(context.getEnvironment().getProperty("crmsync.data-dir")).isEqualTo(home + "/data");
            CamelContext camel = context.getBean(CamelContext.class);
            assertThat(camel.getRoute("api-contacts-create")).isNotNull();
            assertThat(camel.getRoute("healthz")).as("healthz.camel.yaml was not copied to this home").isNull();
            assertThat(context.getBean(dev.crmsync.mapping.Mappings.class).all()).containsOnlyKeys("crm1-contact");
            Http api = api(context, ServiceTest.API_KEY);
            for (int i = 0; i < 8; i++) {
                api.post("/api/contacts", "{\"email\":\"home-" + i + "@example.com\"}");
            }
            assertThat(api.get("/api/contacts").json().get("items")).hasSize(7);
        }
        assertThat(home.resolve("data/crmsync.mv.db")).exists();
    }

    @Test
    void aBrokenMappingFileStopsStartUpNamingTheFileAndTheField(@TempDir Path home) throws IOException {
        Files.createDirectories(home.resolve("routes"));
        Files.createDirectories(home.resolve("mappings"));
        Files.copy(Path.of("mappings", "mapping.schema.json"), home.resolve("mappings/mapping.schema.json"));
        Files.writeString(home.resolve("mappings/crm1-contact.json"), Files.readString(Path.of("mappings", "crm1-contact.json"))
                .replace("\"direction\": \"both\", \"transforms\": [\"trim\"] },", "\"direction\": \"both\", \"transforms\": [\"trim\"], \"conflict\": \"newest\" },"));

        assertThatThrownBy(() -> start(concat(credentials(), "--crmsync.home=" + home)))
                .rootCause().hasMessageStartingWith("mappings/crm1-contact.json at /fields/0/conflict");
    }

    private static String[] concat(String[] first, String... more) {
        List<String> all = new ArrayList<>(List.of(first));
        all.addAll(List.of(more));
        return all.toArray(String[]::new);
    }
}
