package io.xendisk.daemon;

import io.xendisk.api.ControlPaths;
import io.xendisk.xml.XmlInvalidException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Precedence: command line and environment over the config file over the defaults. */
class DaemonSettingsTest {
    @TempDir
    Path dir;

    private Path config(String body) throws Exception {
        Path f = dir.resolve("config.xml");
        Files.writeString(f, "<config xmlns='https://xen-disk-java.org/xmlns/config/1'>\n" + body + "</config>\n");
        return f;
    }

    private static PlatformDetector noXen() {
        // no /dev/xen/privcmd: auto means sim, and xen cannot be forced
        return new PlatformDetector(Map.of(), Path.of("/fake/dev"), p -> false, p -> false, Path.of("/sim/socket"));
    }

    private static PlatformDetector noXen(Map<String, String> env) {
        return new PlatformDetector(env, Path.of("/fake/dev"), p -> false, p -> false, Path.of("/sim/socket"));
    }

    @Test
    void withoutAFileTheDefaultsApply() throws Exception {
        DaemonSettings s = DaemonSettings.load(Map.of(ControlPaths.CONFIG_ENV, dir.resolve("none.xml").toString()));
        assertEquals(ControlPaths.defaults().runDir(), s.paths().runDir());
        assertEquals(ControlPaths.defaults().logDir(), s.paths().logDir());
        assertEquals("info", s.logLevel());
        assertEquals(Optional.empty(), s.platform());
    }

    @Test
    void theFileMovesTheDefaultsAndTheEnvironmentWins() throws Exception {
        Path f = config("<run-dir>/run/from-file</run-dir><log-dir>/var/log/from-file</log-dir><log-level>debug</log-level>\n");
        DaemonSettings fileOnly = DaemonSettings.load(Map.of(ControlPaths.CONFIG_ENV, f.toString()));
        assertEquals(Path.of("/run/from-file"), fileOnly.paths().runDir());
        assertEquals(Path.of("/var/log/from-file"), fileOnly.paths().logDir());
        assertEquals("debug", fileOnly.logLevel());

        DaemonSettings envWins = DaemonSettings.load(Map.of(ControlPaths.CONFIG_ENV, f.toString(),
                ControlPaths.RUNDIR_ENV, "/tmp/env-run"));
        assertEquals(Path.of("/tmp/env-run"), envWins.paths().runDir());
        assertEquals(Path.of("/var/log/from-file"), envWins.paths().logDir());
    }

    @Test
    void platformCommandLineOverEnvironmentOverFile() throws Exception {
        Path f = config("<platform>xen</platform>\n");
        Map<String, String> env = Map.of(ControlPaths.CONFIG_ENV, f.toString());
        DaemonSettings s = DaemonSettings.load(env);
        // the file asks for xen, which this host cannot give: the message says where the choice came from
        PlatformException e = assertThrows(PlatformException.class, () -> s.choosePlatform(noXen(), null, env));
        assertTrue(e.getMessage().contains("(<platform>xen</platform> in " + f + ")"), e.getMessage());
        assertEquals(Platform.SIM, s.choosePlatform(noXen(), "sim", env).platform());
        Map<String, String> envSim = Map.of(ControlPaths.CONFIG_ENV, f.toString(), ControlPaths.PLATFORM_ENV, "sim");
        assertEquals(Platform.SIM, s.choosePlatform(noXen(envSim), null, envSim).platform());
    }

    @Test
    void anInvalidFileIsRefusedWithItsLine() throws Exception {
        Path f = config("<log-level>loud</log-level>\n");
        XmlInvalidException e = assertThrows(XmlInvalidException.class,
                () -> DaemonSettings.load(Map.of(ControlPaths.CONFIG_ENV, f.toString())));
        assertTrue(e.getMessage().startsWith(f + ":2:"), e.getMessage());
        assertTrue(e.getMessage().endsWith("invalid <log-level>loud</log-level>; use error, warn, info, debug or trace"),
                e.getMessage());
    }
}
