package io.xendisk.xen.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** XenstoredMain as a process: serves, refuses a second instance, exits 0 on SIGTERM and cleans up. */
class XenstoredMainTest {
    private static final long WAIT_SECONDS = 30;

    @TempDir
    Path dir;

    private Process launch(Path out, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), XenstoredMain.class.getName()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
    }

    private static int exit(Process p) throws InterruptedException {
        if (!p.waitFor(WAIT_SECONDS, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("xenstored did not exit");
        }
        return p.exitValue();
    }

    @Test
    void servesUntilSigtermThenExitsZeroAndRemovesItsFiles() throws Exception {
        Path socket = dir.resolve("run/xenstored/socket");
        Path pid = dir.resolve("run/xenstored.pid");
        Path log = dir.resolve("log.txt");
        Process p = launch(log, "--socket", socket.toString(), "--pid-file", pid.toString());
        try {
            // Poll for the pid file, written after the socket is bound (not a timing assertion).
            for (int i = 0; i < WAIT_SECONDS * 20 && !Files.exists(pid) && p.isAlive(); i++) {
                Thread.sleep(50);
            }
            assertTrue(Files.exists(pid), () -> "not started: " + read(log));
            assertEquals(p.pid() + "\n", Files.readString(pid));
            try (XsTestClient c = XsTestClient.connect(socket)) {
                assertEquals("OK\0", c.write("/x", "1"));
                assertEquals("1", c.read("/x"));
            }

            Path secondLog = dir.resolve("second.txt");
            assertEquals(1, exit(launch(secondLog, "--socket", socket.toString())));
            assertTrue(read(secondLog).contains("xenstored already running on " + socket), read(secondLog));
            assertTrue(Files.exists(socket), "the refused instance leaves the socket alone");

            p.destroy(); // SIGTERM
            assertEquals(0, exit(p));
            assertFalse(Files.exists(socket));
            assertFalse(Files.exists(pid));
            String out = read(log);
            assertTrue(out.contains("xenstored listening on " + socket), out);
            assertTrue(out.contains("client connected"), out);
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void missingSocketArgumentIsAUsageError() throws Exception {
        Path log = dir.resolve("log.txt");
        assertEquals(2, exit(launch(log)));
        assertTrue(read(log).contains("--socket PATH is required"), read(log));
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return "(no output: " + e + ")";
        }
    }
}
