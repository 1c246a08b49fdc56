package dev.crmsync.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;

/** The {@code crmsync.*} keys of application.yaml; each is described there. */
@ConfigurationProperties("crmsync")
public record CrmSyncProperties(
        @DefaultValue(".") String home,
        @DefaultValue("./data") String dataDir,
        String apiKey,
        @DefaultValue Admin admin,
        @DefaultValue Api api,
        @DefaultValue Phone phone,
        Map<String, Provider> providers) {

    public CrmSyncProperties {
        providers = providers == null ? Map.of() : Map.copyOf(providers);
    }

    /**
     * The home folder. Kept as text in the binding: Spring would otherwise resolve a relative path
     * against the web server's document root rather than the working directory.
     */
    public Path homePath() {
        return Path.of(home).toAbsolutePath().normalize();
    }

    public record Admin(@DefaultValue("admin") String username, String password) {
    }

    public record Api(@DefaultValue("1MB") DataSize maxBodySize,
                      @DefaultValue("50") int defaultPageSize,
                      @DefaultValue("500") int maxPageSize) {
    }

    public record Phone(@DefaultValue("US") String defaultRegion) {
    }

    /**
     * A connected system; the keys beyond these belong to the provider's own client. A system with
     * several person objects (Salesforce's Contact and Lead) lists them in {@code objects}: each is
     * polled, and the first is where the hub creates the people the system does not have yet.
     */
    public record Provider(@DefaultValue("true") boolean enabled,
                           String type,
                           @DefaultValue("contact") String objectType,
                           List<String> objects,
                           Integer pageSize) {

        /** The object types as the hub names them (lower case), the primary first. */
        public List<String> objectTypes() {
            List<String> names = objects == null || objects.isEmpty() ? List.of(objectType) : objects;
            return names.stream().map(name -> name.toLowerCase(Locale.ROOT)).toList();
        }

        /** Where the hub creates a person this system does not hold yet. */
        public String primaryObjectType() {
            return objectTypes().get(0);
        }
    }
}
