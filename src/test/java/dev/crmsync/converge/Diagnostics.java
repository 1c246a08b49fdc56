package dev.crmsync.converge;

import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import dev.crmsync.converge.Model.Person;
import dev.crmsync.converge.Workload.Op;
import org.springframework.jdbc.core.namedparam.MapSqlParameterSource;
import org.springframework.jdbc.core.namedparam.NamedParameterJdbcTemplate;

/**
 * The story of each person behind a finding, for whoever replays a failing seed: the operations the
 * run issued on it (issued and acknowledged, in milliseconds of the run's clock modulo 1,000,000, as
 * the checker prints them), and what the hub made of them: its contacts with their history, links,
 * inbox changes, outbox rows and conflicts.
 */
final class Diagnostics {

    /** When an operation ran and what came of it. */
    record Ran(long issued, long acked, String outcome) {
    }

    static final int PEOPLE = 12;

    private Diagnostics() {
    }

    static String explain(NamedParameterJdbcTemplate jdbc, Model model, Workload workload, Map<Integer, Ran> ran,
                          Set<String> suspects) {
        StringBuilder text = new StringBuilder();
        Set<Integer> explained = new LinkedHashSet<>();
        // each person's story scans the inbox: a long run's inbox is large
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.MINUTES.toNanos(2);
        // the people merged with a suspect are part of its story
        List<String> queue = new ArrayList<>(suspects);
        for (int q = 0; q < queue.size(); q++) {
            String email = queue.get(q);
            Person person = model.people().stream().filter(p -> p.emails.contains(email)).findFirst().orElse(null);
            if (person != null && !explained.add(person.slot)) {
                continue;
            }
            if (person != null) {
                for (Model.Merge merge : model.merges()) {
                    int other = merge.survivor() == person.slot ? merge.merged() : merge.merged() == person.slot ? merge.survivor() : -1;
                    if (other >= 0 && !model.person(other).emails.isEmpty()) {
                        queue.add(model.person(other).emails.iterator().next());
                    }
                }
            }
            if (explained.size() > PEOPLE || System.nanoTime() > deadline) {
                text.append("\n(more people behind the findings; not explained here)\n");
                break;
            }
            List<String> emails = person == null ? List.of(email) : new ArrayList<>(person.emails);
            text.append("\n=== ").append(person == null ? "no person of the run" : "person " + person.slot).append(' ')
                    .append(emails).append(person != null && person.deletedBy != null ? " ended by " + person.deletedBy : "")
                    .append('\n');
            if (person != null) {
                for (Op op : workload.ops()) {
                    if (op.person() == person.slot || op.other() == person.slot) {
                        Ran r = ran.get(op.index());
                        text.append("  ").append(op).append(r == null ? " (not run)"
                                : " [" + r.issued() % 1_000_000 + ".." + r.acked() % 1_000_000 + "] " + r.outcome()).append('\n');
                    }
                }
            }
            List<String> lowered = emails.stream().map(e -> e.toLowerCase(Locale.ROOT)).toList();
            List<String> contacts = jdbc.queryForList("SELECT id FROM contact WHERE email_lower IN (:emails) ORDER BY created_at",
                    Map.of("emails", lowered), String.class);
            for (String contact : contacts) {
                contact(jdbc, contact, lowered, text);
            }
            MapSqlParameterSource byEmail = new MapSqlParameterSource();
            StringBuilder anyEmail = new StringBuilder("1 = 0");
            for (int i = 0; i < lowered.size(); i++) {
                anyEmail.append(" OR LOWER(payload) LIKE :m").append(i);
                byEmail.addValue("m" + i, "%" + lowered.get(i) + "%");
            }
            // two queries: H2 runs an IN (subquery) over the inbox once per row
            List<String> records = jdbc.queryForList("SELECT DISTINCT external_id FROM inbox WHERE " + anyEmail, byEmail,
                    String.class);
            List<Map<String, Object>> merges = records.isEmpty() ? List.of() : jdbc.queryForList(
                    "SELECT * FROM inbox WHERE operation = 'merge' AND external_id IN (:records) ORDER BY id",
                    Map.of("records", records));
            for (Map<String, Object> merge : merges) {
                text.append("  merge change ").append(merge.get("id")).append(' ').append(merge.get("source_system")).append(' ')
                        .append(merge.get("payload")).append(' ').append(merge.get("state")).append(' ').append(merge.get("outcome"))
                        .append(" received ").append(ms(merge.get("received_at"))).append('\n');
            }
        }
        return text.toString();
    }

    private static void contact(NamedParameterJdbcTemplate jdbc, String id, List<String> emails, StringBuilder text) {
        MapSqlParameterSource p = new MapSqlParameterSource("id", id);
        Map<String, Object> c = jdbc.queryForMap("SELECT * FROM contact WHERE id = :id", p);
        text.append("  hub contact ").append(id).append(" v").append(c.get("version")).append(' ').append(c.get("email"))
                .append(c.get("deleted_at") != null ? " deleted " + ms(c.get("deleted_at")) : " live")
                .append(c.get("merged_into") != null ? " merged into " + c.get("merged_into") : "")
                .append(" fields ").append(c.get("field_meta")).append('\n');
        for (Map<String, Object> h : jdbc.queryForList("SELECT * FROM contact_history WHERE contact_id = :id ORDER BY version", p)) {
            text.append("    history v").append(h.get("version")).append(' ').append(h.get("operation")).append(" from ")
                    .append(h.get("source_system")).append(" at ").append(ms(h.get("changed_at"))).append(' ')
                    .append(h.get("changes")).append('\n');
        }
        List<Map<String, Object>> links = jdbc.queryForList("SELECT * FROM contact_link WHERE contact_id = :id", p);
        for (Map<String, Object> l : links) {
            text.append("    link ").append(l.get("system")).append(':').append(l.get("external_id")).append(" remote modified ")
                    .append(ms(l.get("remote_modified_at"))).append(" synced ").append(l.get("synced_values")).append('\n');
        }
        for (Map<String, Object> o : jdbc.queryForList("SELECT * FROM outbox WHERE contact_id = :id ORDER BY id", p)) {
            text.append("    outbox ").append(o.get("id")).append(' ').append(o.get("target_system")).append(' ')
                    .append(o.get("operation")).append(" v").append(o.get("contact_version")).append(' ').append(o.get("state"))
                    .append(" created ").append(ms(o.get("created_at"))).append(" delivered ").append(ms(o.get("delivered_at")))
                    .append(" tries ").append(o.get("attempts")).append(o.get("last_error") == null ? "" : " " + o.get("last_error"))
                    .append('\n');
        }
        for (Map<String, Object> k : jdbc.queryForList("SELECT * FROM conflict WHERE contact_id = :id ORDER BY id", p)) {
            text.append("    conflict ").append(k.get("kind")).append(' ').append(k.get("field")).append(" hub ")
                    .append(k.get("hub_value")).append(" (").append(k.get("hub_system")).append(") remote ")
                    .append(k.get("remote_value")).append(" (").append(k.get("remote_system")).append(") ")
                    .append(k.get("rule")).append(" winner ").append(k.get("winner")).append(" at ").append(ms(k.get("created_at")))
                    .append('\n');
        }
        StringBuilder where = new StringBuilder("1 = 0");
        MapSqlParameterSource inbox = new MapSqlParameterSource();
        for (int i = 0; i < links.size(); i++) {
            where.append(" OR (source_system = :s").append(i).append(" AND external_id = :e").append(i).append(')');
            inbox.addValue("s" + i, links.get(i).get("system")).addValue("e" + i, links.get(i).get("external_id"));
        }
        for (int i = 0; i < emails.size(); i++) {
            where.append(" OR LOWER(payload) LIKE :m").append(i);
            inbox.addValue("m" + i, "%" + emails.get(i) + "%");
        }
        for (Map<String, Object> i : jdbc.queryForList("SELECT * FROM inbox WHERE " + where + " ORDER BY id", inbox)) {
            String payload = String.valueOf(i.get("payload"));
            text.append("    inbox ").append(i.get("id")).append(' ').append(i.get("source_system")).append(':')
                    .append(i.get("external_id")).append(' ').append(i.get("operation")).append(' ').append(i.get("state"))
                    .append(' ').append(i.get("outcome")).append(" received ").append(ms(i.get("received_at")))
                    .append(" processed ").append(ms(i.get("processed_at"))).append(" remote ").append(ms(i.get("remote_modified_at")))
                    .append(i.get("run_id") != null ? " run" : "").append(' ')
                    .append(payload.length() > 400 ? payload.substring(0, 400) + "..." : payload).append('\n');
        }
    }

    private static String ms(Object time) {
        if (time == null) {
            return "-";
        }
        long millis = time instanceof OffsetDateTime odt ? odt.toInstant().toEpochMilli()
                : time instanceof java.sql.Timestamp ts ? ts.getTime()
                : time instanceof java.time.Instant instant ? instant.toEpochMilli() : -1;
        return millis < 0 ? time.toString() : Long.toString(millis % 1_000_000);
    }
}
