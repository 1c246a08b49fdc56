package dev.crmsync.converge;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The short convergence run CI makes (a few hundred operations, one seed, so that CI is reproducible; the
 * long run of the benchmark command takes a new seed each time, and any seed can be given): operations
 * through Salesforce, HubSpot, Pipedrive and the API, faults in every simulator, two restarts, then a
 * reconcile of each system. The service runs in a JVM of its own; each restart kills it with SIGKILL.
 * Every system must end with the hub's people and values, no duplicate, no deleted person alive, no
 * acknowledged change lost and every failure accounted for. A failure prints the seed: {@code mvn test -Dtest=ConvergenceTest -Dconverge.seed=<seed>} replays its operations.
 */
class ConvergenceTest {

    /** A seed the checker passed with, run after the fixes the convergence runs led to. */
    static final long CI_SEED = 3010363087L;

    @Test
    void peopleChangedConcurrentlyEverywhereUnderFaultsAndRestartsConvergeWithNothingLost(@TempDir Path data) throws Exception {
        ConvergenceRun.Settings settings = ConvergenceRun.Settings.fromSystemProperties(300, 8, CI_SEED, Integer.MAX_VALUE, 2);
        // the run prints its figures and findings as soon as it has them
        ConvergenceRun.Report report = new ConvergenceRun(settings).run(data);
        report.write(Path.of("target", "converge", "convergence-" + settings.seed() + ".json"));

        assertThat(report.figures().get("restarts")).as("restarts, seed %d", settings.seed()).isEqualTo(settings.restarts());
        assertThat(report.figures().get("restarts after SIGKILL")).as("restarts after SIGKILL").isEqualTo(settings.restarts());
        assertThat(report.counts()).as("the checker's counts, seed %d; replay with %s%s", settings.seed(), settings.replay(),
                report.describe()).allSatisfy((name, count) -> assertThat(count).as(name).isZero());
    }
}
