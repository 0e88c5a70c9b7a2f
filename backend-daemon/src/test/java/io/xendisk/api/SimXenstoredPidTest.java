package io.xendisk.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the CLI reads of the sim xenstored without a daemon: only the pid file and the socket count. */
class SimXenstoredPidTest {
    @TempDir
    Path dir;

    @Test
    void theMainClassNamedIsTheSimulatedXenstored() throws Exception {
        Class.forName(SimXenstoredPid.MAIN_CLASS).getMethod("main", String[].class);
    }

    @Test
    void aStalePidFileIsNotARunningXenstoredAndStopRemovesIt() throws Exception {
        ControlPaths paths = new ControlPaths(dir.resolve("run"), dir.resolve("log"));
        Files.createDirectories(paths.simDir());
        // this JVM is alive but is no xenstored: a pid file outliving a reboot may name any process
        Files.writeString(paths.simXenstoredPidFile(), Long.toString(ProcessHandle.current().pid()));
        SimXenstoredPid sim = new SimXenstoredPid(paths);
        assertFalse(sim.status().running());
        assertEquals(-1, sim.stop(note -> { }));
        assertFalse(Files.exists(paths.simXenstoredPidFile()));
        assertEquals("not running", sim.status().describe());
    }
}
