package io.xendisk.e2e;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The distribution's config file and install/uninstall, as an operator meets
 * them: a bad config.xml stops the daemon and the CLI with file:LINE and the
 * fix; a good one moves the run and log directories for both; install puts
 * the distribution's files below --root and uninstall takes them away.
 */
class ConfigInstallE2ETest {
    private static final String NS = "https://xen-disk-java.org/xmlns/config/1";
    private Dist dist;

    @BeforeAll
    static void distributionIsBuilt() {
        Dist.assertBuilt("bin/xen-disk-java");
    }

    @BeforeEach
    void setUp() throws IOException {
        dist = new Dist();
    }

    @AfterEach
    void tearDown() throws IOException {
        dist.close();
    }

    private Path config(String body) throws IOException {
        return Files.writeString(dist.dir.resolve("config.xml"), "<config xmlns='" + NS + "'>\n" + body + "</config>\n");
    }

    private Dist.Result bin(Map<String, String> env, String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(Dist.HOME.resolve("bin/xen-disk-java").toString()));
        cmd.addAll(List.of(args));
        return dist.exec(cmd, env);
    }

    @Test
    void aBadConfigStopsTheDaemonAndTheCliWithItsLine() throws Exception {
        Path bad = config("  <platform>kvm</platform>\n");
        Map<String, String> env = Map.of("XEN_DISK_JAVA_CONFIG", bad.toString());
        Dist.Result daemon = bin(env, "daemon");
        assertEquals(1, daemon.exit(), daemon.toString());
        assertTrue(daemon.err().startsWith("xen-disk-java daemon: invalid configuration, not starting:\n" + bad + ":2:"),
                daemon.err());
        assertTrue(daemon.err().contains("invalid <platform>kvm</platform>; use auto, xen or sim"), daemon.err());

        Dist.Result status = bin(env, "status");
        assertEquals(1, status.exit(), status.toString());
        assertTrue(status.err().startsWith("xen-disk-java: invalid configuration:\n" + bad + ":2:"), status.err());
        assertFalse(Files.exists(dist.lockFile()), "a daemon was started anyway");
    }

    @Test
    void theConfigMovesTheRunAndLogDirectoriesForDaemonAndCliAlike() throws Exception {
        Path run = dist.dir.resolve("crun");
        Path log = dist.dir.resolve("clog");
        Path file = config("  <run-dir>" + run + "</run-dir>\n  <log-dir>" + log + "</log-dir>\n"
                + "  <platform>sim</platform>\n  <log-level>debug</log-level>\n");
        // blank values count as unset: the file decides
        Map<String, String> env = Map.of("XEN_DISK_JAVA_CONFIG", file.toString(), "XEN_DISK_JAVA_RUNDIR", "",
                "XEN_DISK_JAVA_LOGDIR", "");
        try {
            Dist.Result status = bin(env, "status");
            assertEquals(0, status.exit(), status.toString());
            assertTrue(status.out().contains("control socket: " + run.resolve("control.sock") + "\n"), status.out());
            assertTrue(status.out().contains("platform: sim (<platform>sim</platform> in " + file + ")\n"), status.out());
            String logText = Files.readString(log.resolve("daemon.log"));
            assertTrue(logText.contains(", config " + file), logText);
            Dist.Result down = bin(env, "shutdown");
            assertEquals(0, down.exit(), down.toString());
            assertFalse(Files.exists(run.resolve("control.sock")));
        } finally {
            long pid = Dist.readPid(run.resolve("daemon.lock"));
            if (pid > 0) {
                dist.remember(pid);
            }
            long sim = Dist.readPid(run.resolve("sim/xenstored.pid"));
            if (sim > 0) {
                dist.remember(sim);
            }
        }
    }

    @Test
    void installAndUninstallFromTheDistribution() throws Exception {
        Path root = Files.createDirectory(dist.dir.resolve("root"));
        Dist.Result install = dist.cli("install", "--root", root.toString());
        assertEquals(0, install.exit(), install.toString());
        Path home = Dist.HOME.toRealPath();
        assertEquals(Files.readString(home.resolve("hooks/libvirt-hook")),
                Files.readString(root.resolve("etc/libvirt/hooks/libxl.d/xen-disk-java")));
        assertTrue(Files.readString(root.resolve("etc/systemd/system/xen-disk-java.service"))
                .contains("\nExecStart=" + home + "/bin/xen-disk-java daemon\n"));
        assertEquals(home.resolve("bin/xen-disk-java"), Files.readSymbolicLink(root.resolve("usr/sbin/xen-disk-java")));
        assertEquals(Files.readString(home.resolve("conf/config.xml")),
                Files.readString(root.resolve("etc/xen-disk-java/config.xml")));
        boolean xlScript = Files.exists(home.resolve("hooks/xen-disk-java"));
        assertEquals(xlScript, Files.exists(root.resolve("etc/xen/scripts/xen-disk-java")));

        Dist.Result uninstall = dist.cli("uninstall", "--root", root.toString());
        assertEquals(0, uninstall.exit(), uninstall.toString());
        try (Stream<Path> left = Files.walk(root)) {
            assertEquals(List.of(root), left.toList(), uninstall.out());
        }
    }
}
