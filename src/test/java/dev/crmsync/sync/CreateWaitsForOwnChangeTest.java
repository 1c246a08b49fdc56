package dev.crmsync.sync;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import dev.crmsync.contact.Contact;
import dev.crmsync.contact.Contact.ContactFields;
import org.junit.jupiter.api.Test;

/**
 * The rule that holds a create back while the target system's own change of the same person waits
 * in the inbox: who counts as the same person, and what a waiting payload must contain to be read.
 */
class CreateWaitsForOwnChangeTest {

    private static Contact contact(String email, String phone) {
        Instant t = Instant.parse("2026-12-01T00:00:00Z");
        return new Contact("c1", new ContactFields(email, "Ada", "Lovelace", phone, null, null, List.of(), Map.of()),
                1, t, t, null, null);
    }

    @Test
    void theSameEmailInAnyCaseIsTheSamePerson() {
        assertThat(OutboxDelivery.samePerson(contact("ada@example.com", null), Map.of("email", "ADA@Example.com"))).isTrue();
    }

    @Test
    void theSamePhoneIsTheSamePersonWhenTheEmailsDoNotMatch() {
        assertThat(OutboxDelivery.samePerson(contact(null, "+14155552671"), Map.of("phone", "+14155552671"))).isTrue();
        assertThat(OutboxDelivery.samePerson(contact("ada@example.com", "+14155552671"),
                Map.of("email", "other@example.com", "phone", "+14155552671"))).isTrue();
    }

    @Test
    void anotherEmailAndAnotherPhoneIsSomeoneElse() {
        assertThat(OutboxDelivery.samePerson(contact("ada@example.com", "+14155552671"),
                Map.of("email", "grace@example.com", "phone", "+14155550000"))).isFalse();
        assertThat(OutboxDelivery.samePerson(contact(null, null), Map.of())).isFalse();
    }

    @Test
    void aWaitingPayloadIsReadWhenItContainsTheEmailLowerCasedOrThePhonesLastFourDigits() {
        assertThat(OutboxDelivery.needles(contact(" Ada@Example.com", "+14155552671")))
                .containsExactly("ada@example.com", "2671");
        assertThat(OutboxDelivery.needles(contact(null, null))).isEmpty();
        assertThat(OutboxDelivery.needles(null)).isEmpty();
    }
}
