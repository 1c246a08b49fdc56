package dev.crmsync.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import dev.crmsync.support.ServiceProcess;

/** The suite's figures: one {@link Row} per scenario, phase and database, as a table and as JSON. */
final class Results {

    private Results() {
    }

    /** Latency percentiles in milliseconds (nearest rank). */
    record Latency(int samples, double p50, double p95, double p99, double max) {

        static Latency of(long[] nanos) {
            long[] sorted = Arrays.stream(nanos).filter(n -> n > 0).sorted().toArray();
            if (sorted.length == 0) {
                return null;
            }
            return new Latency(sorted.length, percentile(sorted, 0.50), percentile(sorted, 0.95),
                    percentile(sorted, 0.99), sorted[sorted.length - 1] / 1e6);
        }

        private static double percentile(long[] sorted, double q) {
            int rank = (int) Math.ceil(q * sorted.length);
            return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))] / 1e6;
        }

        Map<String, Object> toJson() {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("samples", samples);
            json.put("p50Ms", round(p50));
            json.put("p95Ms", round(p95));
            json.put("p99Ms", round(p99));
            json.put("maxMs", round(max));
            return json;
        }
    }

    /**
     * A provider's API calls for the records of a phase, per 1,000 records, next to the fewest its API
     * allows for that work ({@code bound}, e.g. 5 per 1,000 for Salesforce writes at 200 a call).
     */
    record Calls(long calls, double per1000, double bound, String boundReason) {

        static Calls of(long calls, long records, double bound, String boundReason) {
            return new Calls(calls, records == 0 ? Double.NaN : 1000.0 * calls / records, bound, boundReason);
        }

        Map<String, Object> toJson() {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("calls", calls);
            json.put("per1000", round(per1000));
            json.put("boundPer1000", bound);
            json.put("bound", boundReason);
            return json;
        }
    }

    /** One line of the table. */
    static final class Row {
        final String scenario;
        final String database;
        String failure;
        long records;
        double seconds = Double.NaN;
        double perSecond = Double.NaN;
        Latency latency;
        final Map<String, Calls> calls = new LinkedHashMap<>();
        ServiceProcess.Heap heap;
        Meter.Cpu cpu;
        String note = "";
        Map<String, Long> leftBehind;
        final Map<String, Object> details = new LinkedHashMap<>();

        Row(String scenario, String database) {
            this.scenario = scenario;
            this.database = database;
        }

        boolean ok() {
            return failure == null;
        }

        /** Marks the row failed, keeping the first reason. */
        void fail(String reason) {
            if (failure == null) {
                failure = reason;
            } else if (!failure.contains(reason)) {
                failure = failure + "; " + reason;
            }
        }

        Map<String, Object> toJson() {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("scenario", scenario);
            json.put("database", database);
            json.put("ok", ok());
            json.put("failure", failure);
            json.put("records", records);
            json.put("seconds", round(seconds));
            json.put("recordsPerSecond", round(perSecond));
            json.put("latency", latency == null ? null : latency.toJson());
            Map<String, Object> calls = new LinkedHashMap<>();
            this.calls.forEach((provider, c) -> calls.put(provider, c.toJson()));
            json.put("callsPer1000", calls);
            json.put("serviceHeap", heap == null ? null : heap.toJson());
            json.put("cpu", cpu == null ? null : cpu.toJson());
            json.put("note", note);
            json.put("leftInStore", leftBehind);
            json.put("details", details);
            return json;
        }
    }

    static void printTable(List<Row> rows, Map<String, Object> machine, String serviceHeap) {
        String[] head = {"scenario", "db", "records", "s", "rec/s", "p50 ms", "p95 ms", "p99 ms", "salesforce /1k",
            "hubspot /1k", "pipedrive /1k", "heap MB peak/held/max", "cores svc/db/other", "result"};
        List<String[]> lines = new ArrayList<>();
        for (Row r : rows) {
            lines.add(new String[] {r.scenario, r.database, String.format(Locale.ROOT, "%,d", r.records), number(r.seconds, 1),
                number(r.perSecond, r.perSecond < 100 ? 1 : 0), ms(r.latency, Latency::p50), ms(r.latency, Latency::p95),
                ms(r.latency, Latency::p99), calls(r, "salesforce"), calls(r, "hubspot"), calls(r, "pipedrive"),
                r.heap == null || r.heap.peakBytes() < 0 ? "-" : (r.heap.peakBytes() >> 20) + " / "
                        + (r.heap.maxLiveBytes() < 0 ? "-" : (r.heap.medianLiveBytes() >> 20) + " / " + (r.heap.maxLiveBytes() >> 20)
                        + (r.heap.afterOldGenerationCleaned() ? "" : "*")),
                r.cpu == null ? "-" : number(r.cpu.service(), 2) + " / " + number(r.cpu.database(), 2) + " / "
                        + number(r.cpu.other(), 2),
                r.ok() ? (r.note.isEmpty() ? "ok" : r.note) : "FAILED"});
        }
        int[] width = new int[head.length];
        for (int i = 0; i < head.length; i++) {
            width[i] = head[i].length();
            for (String[] line : lines) {
                width[i] = Math.max(width[i], line[i].length());
            }
        }
        int total = Arrays.stream(width).sum() + 2 * (width.length - 1);
        System.out.println();
        System.out.println("-".repeat(total));
        System.out.println(format(head, width));
        System.out.println("-".repeat(total));
        lines.forEach(line -> System.out.println(format(line, width)));
        System.out.println("-".repeat(total));
        System.out.printf("machine: %s cores (%s), %s MB, %s, Java %s; load average at start %s%n", machine.get("cores"),
                machine.get("cpu"), machine.get("memoryMb"), machine.get("os"), machine.get("java"),
                machine.get("loadAverageAtStart"));
        System.out.printf("/1k: API calls per 1,000 records (the bound: the fewest the provider's API allows). heap MB: the "
                + "service's peak (G1 fills towards -Xmx%s before it collects) / what it held after the collections that "
                + "cleaned the old generation, median and max (* young ones only: an upper bound). cores: busy in the service, the PostgreSQL server, and "
                + "other processes (load that competed with the run)%n", serviceHeap);
        for (Row r : rows) {
            if (!r.ok()) {
                System.out.printf("FAILED %s on %s: %s%n", r.scenario, r.database, r.failure);
            }
        }
    }

    private static String format(String[] cells, int[] width) {
        StringBuilder line = new StringBuilder();
        for (int i = 0; i < cells.length; i++) {
            if (i > 0) {
                line.append("  ");
            }
            boolean left = i < 2 || i == cells.length - 1;
            line.append(left ? String.format("%-" + width[i] + "s", cells[i]) : String.format("%" + width[i] + "s", cells[i]));
        }
        return line.toString().stripTrailing();
    }

    private static String calls(Row r, String provider) {
        Calls c = r.calls.get(provider);
        if (c == null) {
            return "-";
        }
        return number(c.per1000(), c.per1000() < 10 ? 1 : 0) + " (" + number(c.bound(), c.bound() < 10 ? 1 : 0) + ")";
    }

    private static String ms(Latency latency, java.util.function.ToDoubleFunction<Latency> pick) {
        return latency == null ? "-" : number(pick.applyAsDouble(latency), latency.p50() < 10 ? 1 : 0);
    }

    static String number(double value, int decimals) {
        if (Double.isNaN(value) || Double.isInfinite(value)) {
            return "-";
        }
        return String.format(Locale.ROOT, "%,." + decimals + "f", value);
    }

    static Object round(double value) {
        return Double.isFinite(value) ? Math.round(value * 100) / 100.0 : null;
    }
}
