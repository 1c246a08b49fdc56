package dev.crmsync.converge;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import com.google.i18n.phonenumbers.NumberParseException;
import com.google.i18n.phonenumbers.PhoneNumberUtil;

/**
 * The operations of one convergence run, drawn from its seed before the run starts, so a seed names
 * the same operations every time: who acts (Salesforce, HubSpot, Pipedrive or the API), what (create,
 * update of random fields, delete, merge, email change), on which person, with which values. Every
 * value written is new (no two operations write the same name, phone, email, title...), so the
 * checker can tell which operation a value in a system came from.
 *
 * <p>Persons are numbered slots. An operation on an existing person only picks one created at least
 * {@code minAge} operations earlier (the initial people are older than all), so that the person has
 * had time to reach the other systems; one that cannot be found there when it runs is skipped.
 */
record Workload(long seed, List<Op> initial, List<Op> ops, int people) {

    /** Who makes a change: a person in one of the CRMs, or a client of the contacts API. */
    enum Actor {
        SALESFORCE("salesforce"), HUBSPOT("hubspot"), PIPEDRIVE("pipedrive"), API("api");

        final String system;

        Actor(String system) {
            this.system = system;
        }
    }

    enum Kind { CREATE, UPDATE, DELETE, MERGE, EMAIL }

    /**
     * One operation. {@code values} are canonical field names to the new value (null clears the
     * field). A merge keeps {@code person} and merges {@code other} into it.
     */
    record Op(int index, Actor actor, Kind kind, int person, int other, Map<String, String> values) {

        @Override
        public String toString() {
            return "op " + index + " " + actor.system + " " + kind.name().toLowerCase(Locale.ROOT) + " person " + person
                    + (kind == Kind.MERGE ? " <- " + other : "") + (values.isEmpty() ? "" : " " + values);
        }
    }

    /** The hub's canonical fields this test writes (tags and other custom fields are mapped nowhere). */
    static final List<String> FIELDS = List.of("email", "firstName", "lastName", "phone", "company", "title", "custom.mobile");
    /** Fields that may be cleared: a person always keeps an email, both names (Pipedrive and Salesforce need them) and a phone. */
    static final Set<String> CLEARABLE = Set.of("company", "title", "custom.mobile");
    /** What each actor can change, per the inbound side of its mapping (mappings/*.json). */
    static final Map<Actor, List<String>> WRITABLE = Map.of(
            Actor.SALESFORCE, List.of("firstName", "lastName", "phone", "title", "custom.mobile"),
            Actor.HUBSPOT, List.of("firstName", "lastName", "phone", "company", "title", "custom.mobile"),
            Actor.PIPEDRIVE, List.of("firstName", "lastName", "phone"),
            Actor.API, List.of("firstName", "lastName", "phone", "company", "title", "custom.mobile"));

    private static final String[] FIRST = {"Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken",
            "Radia", "Tim", "Margaret", "John", "Hedy", "Claude", "Katherine", "Niklaus"};
    private static final String[] LAST = {"Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen",
            "Thompson", "Perlman", "Lee", "Hamilton", "Backus", "Lamarr", "Shannon", "Johnson", "Wirth"};
    private static final String[] AREA = {"212", "213", "303", "312", "404", "415", "512", "617", "646", "702", "206", "305"};

    /**
     * @param initialPeople persons created through the API before the run, and synced everywhere
     * @param count         operations of the run
     * @param minAge        operations between a person's creation and the first operation on it
     */
    static Workload plan(long seed, int initialPeople, int count, int minAge) {
        return new Planner(seed, minAge).plan(initialPeople, count);
    }

    /** Draws the operations, keeping the planned state of each person (alive, email, when created). */
    private static final class Planner {
        private final Random random;
        private final int minAge;
        private final List<Integer> createdAt = new ArrayList<>();
        private final List<Integer> alive = new ArrayList<>();
        private final List<Integer> recent = new ArrayList<>();
        private final Set<String> phones = new HashSet<>();
        private final PhoneNumberUtil phoneNumbers = PhoneNumberUtil.getInstance();

        private final long seed;

        Planner(long seed, int minAge) {
            this.seed = seed;
            this.random = new Random(seed);
            this.minAge = minAge;
        }

        Workload plan(int initialPeople, int count) {
            List<Op> initial = new ArrayList<>();
            for (int i = 0; i < initialPeople; i++) {
                initial.add(create(-initialPeople + i, Actor.API, Integer.MIN_VALUE / 2));
            }
            List<Op> ops = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                ops.add(next(i));
            }
            return new Workload(seed, List.copyOf(initial), List.copyOf(ops), createdAt.size());
        }

        private Op next(int index) {
            Actor actor = Actor.values()[random.nextInt(Actor.values().length)];
            double draw = random.nextDouble();
            Kind kind = draw < 0.18 ? Kind.CREATE : draw < 0.66 ? Kind.UPDATE : draw < 0.78 ? Kind.EMAIL
                    : draw < 0.89 ? Kind.DELETE : Kind.MERGE;
            List<Integer> eligible = alive.stream().filter(p -> createdAt.get(p) <= index - minAge).toList();
            if (kind != Kind.CREATE && eligible.size() < 6) {
                kind = Kind.CREATE;
            }
            if (kind == Kind.MERGE && actor != Actor.HUBSPOT && actor != Actor.PIPEDRIVE) {
                // only HubSpot and Pipedrive merge persons; Salesforce's merge has no API we sync from
                actor = random.nextBoolean() ? Actor.HUBSPOT : Actor.PIPEDRIVE;
            }
            return switch (kind) {
                case CREATE -> create(index, actor, index);
                case UPDATE -> update(index, actor, pick(eligible));
                case EMAIL -> new Op(index, actor, Kind.EMAIL, touch(pick(eligible)), -1, Map.of("email", email(index)));
                case DELETE -> {
                    int person = pick(eligible);
                    alive.remove(Integer.valueOf(person));
                    yield new Op(index, actor, Kind.DELETE, person, -1, Map.of());
                }
                case MERGE -> {
                    int survivor = pick(eligible);
                    List<Integer> others = eligible.stream().filter(p -> p != survivor).toList();
                    int merged = others.get(random.nextInt(others.size()));
                    alive.remove(Integer.valueOf(merged));
                    recent.remove(Integer.valueOf(merged));
                    yield new Op(index, actor, Kind.MERGE, touch(survivor), merged, Map.of());
                }
            };
        }

        /** A person, a third of the time one of the last few touched: edits that race each other. */
        private int pick(List<Integer> eligible) {
            List<Integer> hot = recent.stream().filter(eligible::contains).toList();
            int person = !hot.isEmpty() && random.nextDouble() < 0.35 ? hot.get(random.nextInt(hot.size()))
                    : eligible.get(random.nextInt(eligible.size()));
            return person;
        }

        private int touch(int person) {
            recent.remove(Integer.valueOf(person));
            recent.add(person);
            if (recent.size() > 8) {
                recent.remove(0);
            }
            return person;
        }

        private Op create(int index, Actor actor, int at) {
            int person = createdAt.size();
            createdAt.add(at);
            alive.add(person);
            Map<String, String> values = new LinkedHashMap<>();
            values.put("email", email(index));
            values.put("firstName", first(index));
            values.put("lastName", last(index));
            values.put("phone", phone());
            List<String> writable = WRITABLE.get(actor);
            for (String optional : List.of("company", "title", "custom.mobile")) {
                if (writable.contains(optional) && random.nextDouble() < 0.6) {
                    values.put(optional, value(optional, index));
                }
            }
            return new Op(index, actor, Kind.CREATE, person, -1, Collections.unmodifiableMap(values));
        }

        private Op update(int index, Actor actor, int person) {
            List<String> writable = new ArrayList<>(WRITABLE.get(actor));
            Collections.shuffle(writable, random);
            int fields = 1 + random.nextInt(Math.min(3, writable.size()));
            Map<String, String> values = new LinkedHashMap<>();
            for (String field : writable.subList(0, fields)) {
                values.put(field, CLEARABLE.contains(field) && random.nextDouble() < 0.15 ? null : value(field, index));
            }
            return new Op(index, actor, Kind.UPDATE, touch(person), -1, Collections.unmodifiableMap(values));
        }

        private String value(String field, int index) {
            String tag = Integer.toString(index < 0 ? 100_000 - index : index, 36);
            return switch (field) {
                case "firstName" -> first(index);
                case "lastName" -> last(index);
                case "phone" -> phone();
                case "custom.mobile" -> phone();
                case "company" -> "Company " + tag;
                case "title" -> "Title " + tag;
                default -> throw new IllegalArgumentException(field);
            };
        }

        // names are one word each: Pipedrive joins them into name and splits that at its last space
        private String first(int index) {
            return FIRST[random.nextInt(FIRST.length)] + tag(index);
        }

        private String last(int index) {
            return LAST[random.nextInt(LAST.length)] + tag(index);
        }

        private static String tag(int index) {
            return Integer.toString(index < 0 ? 100_000 - index : index, 36);
        }

        private String email(int index) {
            return "p" + createdAt.size() + "." + tag(index) + "." + Long.toString(random.nextInt(1 << 20), 36)
                    + "@converge.example.com";
        }

        /** A valid US number no other value of the run has: the hub matches people by phone too. */
        private String phone() {
            while (true) {
                String number = "+1" + AREA[random.nextInt(AREA.length)] + (2 + random.nextInt(8)) + String.format(Locale.ROOT,
                        "%02d%04d", random.nextInt(100), random.nextInt(10_000));
                if (!phones.contains(number) && valid(number)) {
                    phones.add(number);
                    return number;
                }
            }
        }

        private boolean valid(String number) {
            try {
                return phoneNumbers.isValidNumber(phoneNumbers.parse(number, "US"));
            } catch (NumberParseException e) {
                return false;
            }
        }
    }
}
