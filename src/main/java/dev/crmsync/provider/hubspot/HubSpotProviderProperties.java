package dev.crmsync.provider.hubspot;

import java.time.Duration;

import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * {@code crmsync.providers.<name>.*} of a HubSpot account ({@code type: hubspot}): a private app's
 * access token for the API, the app's client secret for webhook signatures, and the account's rate
 * limit, which every call of this provider shares.
 */
public record HubSpotProviderProperties(
        String type,
        @DefaultValue("https://api.hubapi.com") String baseUrl,
        String accessToken,
        String clientSecret,
        String webhookUrl,
        @DefaultValue("190") int rateLimit,
        @DefaultValue("10s") Duration rateLimitInterval,
        @DefaultValue("4") int searchPerSecond,
        @DefaultValue("5m") Duration webhookTolerance,
        @DefaultValue("30s") Duration timeout) {
}
