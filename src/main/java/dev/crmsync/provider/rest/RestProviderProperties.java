package dev.crmsync.provider.rest;

import java.time.Duration;

import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * {@code crmsync.providers.<name>.*} of a generic REST CRM ({@code type: rest}). Paths are templates:
 * {id}, {email}, {since}, {afterId} and {limit} are filled in, and query parameters left empty are dropped.
 */
public record RestProviderProperties(
        String type,
        String baseUrl,
        @DefaultValue("Authorization") String authHeader,
        String authValue,
        @DefaultValue("10s") Duration timeout,
        @DefaultValue Paths paths,
        @DefaultValue("PATCH") String updateMethod,
        @DefaultValue("records") String recordsField,
        @DefaultValue("next.modifiedSince") String nextSinceField,
        @DefaultValue("next.afterId") String nextAfterField,
        @DefaultValue("Id") String idField,
        // a record the CRM deleted but still shows (a tombstone): this boolean field is true; a 410 means the same
        @DefaultValue("Deleted") String deletedField) {

    public record Paths(
            @DefaultValue("/api/contacts?modifiedSince={since}&afterId={afterId}&limit={limit}") String list,
            @DefaultValue("/api/contacts?email={email}") String findByEmail,
            @DefaultValue("/api/contacts") String create,
            @DefaultValue("/api/contacts/{id}") String update,
            @DefaultValue("/api/contacts/{id}") String delete,
            // erasure of a person (DELETE /api/contacts/{id}?purge=true): the record removed for good
            @DefaultValue("/api/contacts/{id}?permanent=true") String erase,
            // one record by id: asked whether a record an update did not find was deleted or lost
            @DefaultValue("/api/contacts/{id}") String read) {
    }
}
