package dev.crmsync.provider.salesforce;

import java.time.Duration;
import java.util.List;

import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * {@code crmsync.providers.<name>.*} of a Salesforce org ({@code type: salesforce}). The login flow
 * follows from what is set: a refresh token, else a username and password, else client credentials.
 */
public record SalesforceProviderProperties(
        String type,
        @DefaultValue("https://login.salesforce.com") String loginUrl,
        String clientId,
        String clientSecret,
        String username,
        String password,
        String refreshToken,
        @DefaultValue("60.0") String apiVersion,
        @DefaultValue("Contact") List<String> objects,
        @DefaultValue("PT15M") Duration limitPause,
        @DefaultValue("60s") Duration timeout) {

    /** The sObject name of a hub object type: {@code lead} is {@code Lead}, as spelled in {@code objects}. */
    public String sObject(String objectType) {
        return objects.stream().filter(name -> name.equalsIgnoreCase(objectType)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("object type " + objectType + " is not in objects " + objects));
    }
}
