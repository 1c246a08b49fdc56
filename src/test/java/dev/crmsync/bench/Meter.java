package dev.crmsync.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Where the CPU went during one phase, in cores busy on average: the service's JVM, the PostgreSQL
 * server and its backends, this benchmark's JVM (simulators and clients), and the rest of the
 * machine (Linux {@code /proc/stat}), which is load that competed with the run and should be near 0.
 * Also what the machine is.
 */
final class Meter {

    record Cpu(double service, double database, double bench, double machine) {

        /** Cores busy in processes other than the service, the database and the benchmark. */
        double other() {
            return Double.isNaN(machine) ? Double.NaN
                    : machine - service - (Double.isNaN(database) ? 0 : database) - bench;
        }

        Map<String, Object> toJson() {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("serviceCores", Results.round(service));
            json.put("databaseServerCores", Results.round(database));
            json.put("benchmarkCores", Results.round(bench));
            json.put("otherProcessesCores", Results.round(other()));
            return json;
        }
    }

    private final ProcessHandle service;
    private final ProcessHandle database;
    private final long wallAtStart;
    private final long serviceAtStart;
    private final long databaseAtStart;
    private final long benchAtStart;
    private final long[] ticksAtStart;

    private Meter(ProcessHandle service, ProcessHandle database) {
        this.service = service;
        this.database = database;
        this.wallAtStart = System.nanoTime();
        this.serviceAtStart = cpuNanos(service);
        this.databaseAtStart = databaseNanos(database);
        this.benchAtStart = benchNanos();
        this.ticksAtStart = machineTicks();
    }

    static Meter start(ProcessHandle service, ProcessHandle database) {
        return new Meter(service, database);
    }

    Cpu stop() {
        double wall = System.nanoTime() - wallAtStart;
        long[] ticks = machineTicks();
        double machine = Double.NaN;
        if (ticks != null && ticksAtStart != null && ticks[0] > ticksAtStart[0]) {
            machine = (double) ((ticks[0] - ticksAtStart[0]) - (ticks[1] - ticksAtStart[1])) / (ticks[0] - ticksAtStart[0]) * ticks[2];
        }
        long db = databaseNanos(database);
        return new Cpu((cpuNanos(service) - serviceAtStart) / wall,
                db < 0 || databaseAtStart < 0 ? Double.NaN : (db - databaseAtStart) / wall,
                (benchNanos() - benchAtStart) / wall, machine);
    }

    private static long cpuNanos(ProcessHandle process) {
        return process == null ? 0 : process.info().totalCpuDuration().map(Duration::toNanos).orElse(0L);
    }

    /** The server and the backends alive now (a backend that ended within the phase is not counted). */
    private static long databaseNanos(ProcessHandle server) {
        if (server == null) {
            return -1;
        }
        return Stream.concat(Stream.of(server), server.descendants()).mapToLong(Meter::cpuNanos).sum();
    }

    private static long benchNanos() {
        return ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                ? os.getProcessCpuTime() : 0;
    }

    /** Linux {@code /proc/stat}: {all ticks, idle + iowait ticks, number of CPUs}, or null elsewhere. */
    private static long[] machineTicks() {
        try {
            List<String> lines = Files.readAllLines(Path.of("/proc/stat"));
            long cpus = lines.stream().filter(l -> l.matches("cpu\\d+ .*")).count();
            long[] fields = Arrays.stream(lines.get(0).substring(3).trim().split("\\s+")).mapToLong(Long::parseLong).toArray();
            long total = 0;
            for (int i = 0; i < Math.min(fields.length, 8); i++) {
                total += fields[i];
            }
            return new long[] {total, fields[3] + (fields.length > 4 ? fields[4] : 0), cpus};
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** Cores busy in other processes over the next two seconds: a machine shared with other work. */
    static double otherLoadNow() throws InterruptedException {
        Meter meter = new Meter(null, null);
        Thread.sleep(2_000);
        Cpu cpu = meter.stop();
        return cpu.machine() - cpu.bench();
    }

    /** The machine a run was made on. */
    static Map<String, Object> machine() {
        Map<String, Object> machine = new LinkedHashMap<>();
        machine.put("cores", Runtime.getRuntime().availableProcessors());
        machine.put("cpu", firstValue(Path.of("/proc/cpuinfo"), "model name"));
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            machine.put("memoryMb", os.getTotalMemorySize() >> 20);
        }
        machine.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " "
                + System.getProperty("os.arch"));
        machine.put("java", System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + " "
                + System.getProperty("java.vm.version") + ")");
        machine.put("benchmarkMaxHeapMb", Runtime.getRuntime().maxMemory() >> 20);
        String load = firstLine(Path.of("/proc/loadavg"));
        machine.put("loadAverageAtStart", String.join(" ", Arrays.asList(load.split(" ")).subList(0, Math.min(3, load.split(" ").length))));
        return machine;
    }

    private static String firstValue(Path file, String key) {
        try (Stream<String> lines = Files.lines(file)) {
            return lines.filter(l -> l.startsWith(key)).map(l -> l.substring(l.indexOf(':') + 1).strip()).findFirst().orElse("?");
        } catch (IOException e) {
            return "?";
        }
    }

    private static String firstLine(Path file) {
        try (Stream<String> lines = Files.lines(file)) {
            return lines.findFirst().orElse("?");
        } catch (IOException e) {
            return "?";
        }
    }
}
