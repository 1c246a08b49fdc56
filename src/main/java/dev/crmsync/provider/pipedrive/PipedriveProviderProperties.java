package dev.crmsync.provider.pipedrive;

import java.time.Duration;

import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * {@code crmsync.providers.<name>.*} of a Pipedrive company ({@code type: pipedrive}). The API token and
 * the webhook credentials come from the environment and are never logged.
 */
public record PipedriveProviderProperties(
        String type,
        @DefaultValue("false") boolean enabled,
        @DefaultValue("person") String objectType,
        @DefaultValue("https://api.pipedrive.com") String baseUrl,
        String apiToken,
        String webhookUsername,
        String webhookPassword,
        @DefaultValue("10s") Duration timeout,
        @DefaultValue("PT15M") Duration limitPause) {

    /** True when both webhook credentials are set: without them every webhook is refused. */
    public boolean webhookCredentialsSet() {
        return webhookUsername != null && !webhookUsername.isBlank() && webhookPassword != null && !webhookPassword.isBlank();
    }

    @Override
    public String toString() {
        // records print every component: keep the secrets out of any log line that shows the properties
        return "PipedriveProviderProperties[enabled=" + enabled + ", objectType=" + objectType + ", baseUrl=" + baseUrl
                + ", timeout=" + timeout + ", limitPause=" + limitPause + "]";
    }
}
