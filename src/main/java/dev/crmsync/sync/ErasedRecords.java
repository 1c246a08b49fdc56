package dev.crmsync.sync;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import org.springframework.jdbc.core.namedparam.MapSqlParameterSource;
import org.springframework.jdbc.core.namedparam.NamedParameterJdbcTemplate;
import org.springframework.stereotype.Component;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.TransactionDefinition;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Remote records of erased people, kept only as keyed hashes of (system, object type, external id)
 * in erased_record: the engine ignores a later change of one of them rather than create the person
 * again from a CRM that still sends it. The key is random per installation (erasure_key).
 */
@Component
public class ErasedRecords {

    /** A record in a system, as contact_link names it. */
    public record RemoteKey(String system, String objectType, String externalId) {
    }

    private final NamedParameterJdbcTemplate jdbc;
    private final TransactionTemplate ownTransaction;
    private volatile byte[] key;

    public ErasedRecords(NamedParameterJdbcTemplate jdbc, PlatformTransactionManager transactions) {
        this.jdbc = jdbc;
        this.ownTransaction = new TransactionTemplate(transactions);
        this.ownTransaction.setPropagationBehavior(TransactionDefinition.PROPAGATION_REQUIRES_NEW);
    }

    /** Whether this record belonged to someone erased. Asked only for records the hub has no link for. */
    public boolean contains(String system, String objectType, String externalId) {
        if (key == null && !keyExists()) {
            // no erasure yet: nothing to match, and no key to make inside the caller's transaction
            return false;
        }
        Integer found = jdbc.queryForObject("SELECT COUNT(*) FROM erased_record WHERE key_hash = :hash",
                Map.of("hash", hash(system + "\n" + objectType + "\n" + externalId)), Integer.class);
        return found != null && found > 0;
    }

    /** Whether the person is being erased: the CRMs' deletes are on their way, the hub's rows not yet gone. */
    public boolean erasing(String contactId) {
        Integer pending = jdbc.queryForObject("SELECT COUNT(*) FROM erasure WHERE state = 'pending' AND contact_id = :id",
                Map.of("id", contactId), Integer.class);
        return pending != null && pending > 0;
    }

    /** Remembers records as erased; the caller brings the transaction of the erasure. Returns how many were new. */
    public int add(List<RemoteKey> records, String erasureId, Instant at) {
        int added = 0;
        for (RemoteKey record : records) {
            added += jdbc.update("INSERT INTO erased_record (key_hash, erasure_id, erased_at) VALUES (:hash, :erasure, :at) "
                            + "ON CONFLICT DO NOTHING",
                    new MapSqlParameterSource("hash", hash(record.system() + "\n" + record.objectType() + "\n"
                            + record.externalId())).addValue("erasure", erasureId).addValue("at", Links.at(at)));
        }
        return added;
    }

    /** The keyed hash of a text (an erased contact's id, a record's key), in hex. */
    public String hash(String text) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key(), "HmacSHA256"));
            return HexFormat.of().formatHex(mac.doFinal(text.getBytes(StandardCharsets.UTF_8)));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every Java runtime", e);
        }
    }

    private byte[] key() {
        byte[] known = key;
        if (known != null) {
            return known;
        }
        byte[] fresh = new byte[32];
        new SecureRandom().nextBytes(fresh);
        // committed on its own, so an erasure that rolls back cannot leave a key in memory only; two
        // nodes making one at once both read back the one that was inserted first
        String salt = ownTransaction.execute(status -> {
            jdbc.update("INSERT INTO erasure_key (id, salt) VALUES (1, :salt) ON CONFLICT DO NOTHING",
                    Map.of("salt", HexFormat.of().formatHex(fresh)));
            return jdbc.queryForObject("SELECT salt FROM erasure_key WHERE id = 1", Map.of(), String.class);
        });
        key = HexFormat.of().parseHex(salt);
        return key;
    }

    private boolean keyExists() {
        Integer keys = jdbc.queryForObject("SELECT COUNT(*) FROM erasure_key", Map.of(), Integer.class);
        return keys != null && keys > 0;
    }
}
