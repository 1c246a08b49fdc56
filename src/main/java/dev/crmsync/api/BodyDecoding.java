package dev.crmsync.api;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.Charset;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.IllegalCharsetNameException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * How a request body's bytes become text: by the charset its Content-Type declares, else UTF-8 (the
 * only encoding RFC 8259 allows for JSON exchanged between systems). A charset the JVM does not know
 * is refused with 415, bytes that are not valid in their charset with 400 naming the first bad byte:
 * never decoded with replacement characters, which would store something the sender did not send.
 */
public final class BodyDecoding {

    /** The outcome for one body: its text, or the problem to answer. */
    public sealed interface Result permits Text, Refused {
    }

    public record Text(String text) implements Result {
    }

    public record Refused(ApiProblem problem) implements Result {
    }

    private BodyDecoding() {
    }

    public static Result decode(String contentType, byte[] body) {
        String name = charsetOf(contentType);
        Charset charset;
        if (name == null) {
            charset = StandardCharsets.UTF_8;
        } else {
            try {
                charset = Charset.forName(name);
            } catch (IllegalCharsetNameException | java.nio.charset.UnsupportedCharsetException e) {
                return new Refused(new ApiProblem(415, "charset " + name + " is not supported; send the body in UTF-8 "
                        + "(Content-Type: application/json; charset=UTF-8)").with("charset", name));
            }
        }
        try {
            return new Text(strictly(charset, body));
        } catch (CharacterCodingException e) {
            return new Refused(ApiProblem.badRequest("the body is not valid " + charset.name() + ": " + e.getMessage()
                    + "; send it in the charset its Content-Type names (UTF-8 when it names none)"));
        }
    }

    /** The charset parameter of a media type, unquoted, or null when it has none. */
    static String charsetOf(String contentType) {
        if (contentType == null) {
            return null;
        }
        String[] parts = contentType.split(";");
        for (int i = 1; i < parts.length; i++) {
            String parameter = parts[i].strip();
            int equals = parameter.indexOf('=');
            if (equals > 0 && parameter.substring(0, equals).strip().toLowerCase(Locale.ROOT).equals("charset")) {
                String value = parameter.substring(equals + 1).strip();
                if (value.length() >= 2 && value.startsWith("\"") && value.endsWith("\"")) {
                    value = value.substring(1, value.length() - 1);
                }
                return value;
            }
        }
        return null;
    }

    private static String strictly(Charset charset, byte[] body) throws CharacterCodingException {
        CharsetDecoder decoder = charset.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(body);
        CharBuffer out = CharBuffer.allocate((int) Math.ceil(body.length * (double) decoder.maxCharsPerByte()) + 1);
        CoderResult result = decoder.decode(in, out, true);
        if (result.isUnderflow()) {
            result = decoder.flush(out);
        }
        if (result.isError()) {
            throw new CharacterCodingException() {
                @Override
                public String getMessage() {
                    return "byte " + in.position() + " (0x" + String.format("%02X", body[Math.min(in.position(), body.length - 1)] & 0xFF)
                            + ") starts no character";
                }
            };
        }
        return out.flip().toString();
    }
}
