package dev.crmsync.sim.salesforce;

import java.util.Locale;

/**
 * Salesforce record ids: 15 case-sensitive characters (a three-character key prefix such as
 * {@code 003} for Contact, then the record's number) plus a three-character suffix that encodes which
 * of the 15 are upper case, so the 18-character form survives case-insensitive systems. The API
 * answers 18-character ids and accepts either form.
 */
final class SalesforceIds {

    private static final String SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

    private SalesforceIds() {
    }

    /** The 18-character id of record number {@code n} of an object with this key prefix. */
    static String of(String keyPrefix, long n) {
        String base = keyPrefix + String.format(Locale.ROOT, "%012d", n);
        return base + suffix(base);
    }

    /** Whether {@code text} looks like an id at all: 15 or 18 letters and digits. */
    static boolean wellFormed(String text) {
        return text != null && (text.length() == 15 || text.length() == 18) && text.chars().allMatch(
                c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
    }

    /** The 18-character form of a well-formed id (its suffix recomputed), or null if not well formed. */
    static String normalize(String text) {
        if (!wellFormed(text)) {
            return null;
        }
        String base = text.substring(0, 15);
        return base + suffix(base);
    }

    static String suffix(String base15) {
        StringBuilder suffix = new StringBuilder(3);
        for (int chunk = 0; chunk < 3; chunk++) {
            int bits = 0;
            for (int i = 0; i < 5; i++) {
                char c = base15.charAt(chunk * 5 + i);
                if (c >= 'A' && c <= 'Z') {
                    bits |= 1 << i;
                }
            }
            suffix.append(SUFFIX_ALPHABET.charAt(bits));
        }
        return suffix.toString();
    }
}
