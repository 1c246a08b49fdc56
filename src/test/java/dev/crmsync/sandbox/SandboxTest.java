package dev.crmsync.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sandbox starts its hub afresh with its simulators, which are seeded anew at every start. */
class SandboxTest {

    @TempDir
    Path data;

    @Test
    void aRestartRemovesTheHubsDatabaseAndNothingElseInTheDataFolder() throws Exception {
        Files.writeString(data.resolve("crmsync.mv.db"), "hub");
        Files.writeString(data.resolve("crmsync.trace.db"), "trace");
        Files.writeString(data.resolve("notes.txt"), "mine");
        Files.createDirectory(data.resolve("bench"));

        assertThat(Sandbox.resetHub(data)).containsExactly(data.resolve("crmsync.mv.db"), data.resolve("crmsync.trace.db"));

        assertThat(data.resolve("crmsync.mv.db")).doesNotExist();
        assertThat(data.resolve("crmsync.trace.db")).doesNotExist();
        assertThat(data.resolve("notes.txt")).hasContent("mine");
        assertThat(data.resolve("bench")).isDirectory();
    }

    @Test
    void aFirstStartWithoutADataFolderRemovesNothing() {
        assertThat(Sandbox.resetHub(data.resolve("absent"))).isEmpty();
    }
}
