package io.xendisk.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CLI's local behaviour: nothing here may start a daemon. */
class MainTest {
    @TempDir
    Path dir;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... argv) {
        Map<String, String> env = Map.of("XEN_DISK_JAVA_RUNDIR", dir.resolve("run").toString(),
                "XEN_DISK_JAVA_LOGDIR", dir.resolve("log").toString(),
                "XEN_DISK_JAVA_CONFIG", dir.resolve("no-config.xml").toString());
        return new Main(env, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8)).run(argv);
    }

    private String err() {
        return err.toString(StandardCharsets.UTF_8);
    }

    private String out() {
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void unknownVerbExits2NamingItWithAHint() {
        assertEquals(2, run("frob"));
        assertEquals("xen-disk-java: unknown verb 'frob'\nRun 'xen-disk-java help' for usage.\n", err());
        assertEquals("", out());
    }

    @Test
    void unknownOptionExits2NamingIt() {
        assertEquals(2, run("--frob", "status"));
        assertTrue(err().startsWith("xen-disk-java: unknown option '--frob'\n"), err());
    }

    @Test
    void helpGoesToStdoutAndNoVerbIsAUsageError() {
        assertEquals(0, run("--help"));
        assertTrue(out().startsWith("usage: xen-disk-java"), out());
        assertEquals(2, run());
        assertTrue(err().startsWith("usage: xen-disk-java"), err());
    }

    @Test
    void versionIsPrinted() {
        assertEquals(0, run("--version"));
        assertTrue(out().startsWith("xen-disk-java "), out());
    }

    @Test
    void shutdownWithoutDaemonDoesNotStartOne() {
        assertEquals(0, run("shutdown"));
        assertTrue(out().startsWith("no daemon running"), out());
    }

    @Test
    void connectSendsTheImageAbsoluteFromTheCallersDirectory() throws Exception {
        CliArgs a = CliArgs.parse(java.util.List.of("connect", "vm1", "--path", "disk.img", "--foreground"));
        io.xendisk.api.ControlRequest r = Main.daemonRequest(a, "sim", Path.of("/images"));
        assertEquals(Map.of("path", "/images/disk.img", "platform", "sim"), r.options());
        CliArgs uri = CliArgs.parse(java.util.List.of("connect", "vm1", "--path", "nbd://store/export"));
        assertEquals("nbd://store/export", Main.daemonRequest(uri, null, Path.of("/images")).option("path"));
        CliArgs none = CliArgs.parse(java.util.List.of("connect", "vm1"));
        assertEquals(Map.of(), Main.daemonRequest(none, null, Path.of("/images")).options());
    }

    @Test
    void anInvalidConfigFileStopsDaemonVerbsWithItsLine() throws Exception {
        java.nio.file.Path config = java.nio.file.Files.writeString(dir.resolve("bad.xml"),
                "<config xmlns='https://xen-disk-java.org/xmlns/config/1'>\n<run-dir>relative</run-dir>\n</config>\n");
        int rc = new Main(Map.of("XEN_DISK_JAVA_CONFIG", config.toString()), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8)).run("status");
        assertEquals(1, rc);
        assertTrue(err().startsWith("xen-disk-java: invalid configuration:\n" + config + ":2:"), err());
        assertTrue(err().contains("invalid <run-dir>relative</run-dir>; use an absolute directory path"), err());
    }
}
