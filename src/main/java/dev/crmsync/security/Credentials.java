package dev.crmsync.security;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;

import dev.crmsync.config.CrmSyncProperties;
import org.springframework.core.env.Environment;
import org.springframework.core.env.Profiles;
import org.springframework.stereotype.Component;

/**
 * The API key and the admin password. Outside the sandbox and dev profiles both must come from the
 * environment, or the service does not start; there they are generated and printed once, so a
 * newcomer can call the API. Configured secrets are never logged.
 */
@Component
public class Credentials {

    private static final int MIN_LENGTH = 16;

    private final byte[] apiKey;
    private final String adminUsername;
    private final byte[] adminPassword;

    public Credentials(CrmSyncProperties properties, Environment environment) {
        boolean generate = environment.acceptsProfiles(Profiles.of("sandbox", "dev"));
        String key = resolve(properties.apiKey(), "crmsync.api-key", "CRMSYNC_API_KEY", generate);
        String password = resolve(properties.admin().password(), "crmsync.admin.password", "CRMSYNC_ADMIN_PASSWORD", generate);
        this.apiKey = key.getBytes(StandardCharsets.UTF_8);
        this.adminUsername = properties.admin().username();
        this.adminPassword = password.getBytes(StandardCharsets.UTF_8);
        if (generate && (isBlank(properties.apiKey()) || isBlank(properties.admin().password()))) {
            // System.out, not the log: these lines are for the person at the terminal
            System.out.printf("%n  Sandbox credentials (generated for this run; set CRMSYNC_API_KEY and "
                    + "CRMSYNC_ADMIN_PASSWORD to choose them):%n    API key:        %s%n    Admin (Hawtio): %s / %s%n%n",
                    key, adminUsername, password);
        }
    }

    public boolean isApiKey(String presented) {
        return presented != null && MessageDigest.isEqual(apiKey, presented.getBytes(StandardCharsets.UTF_8));
    }

    public String adminUsername() {
        return adminUsername;
    }

    public boolean isAdminPassword(CharSequence presented) {
        return presented != null && MessageDigest.isEqual(adminPassword, presented.toString().getBytes(StandardCharsets.UTF_8));
    }

    private static String resolve(String configured, String property, String variable, boolean generate) {
        if (!isBlank(configured)) {
            if (configured.length() < MIN_LENGTH) {
                throw new IllegalStateException(property + " is shorter than " + MIN_LENGTH
                        + " characters; set " + variable + " to a longer random secret");
            }
            return configured;
        }
        if (generate) {
            byte[] random = new byte[24];
            new SecureRandom().nextBytes(random);
            return HexFormat.of().formatHex(random);
        }
        throw new IllegalStateException(property + " is not set: export " + variable
                + " before starting the service (or use the sandbox profile, which generates one)");
    }

    private static boolean isBlank(String value) {
        return value == null || value.isBlank();
    }
}
