package io.xendisk.daemon;

import io.xendisk.api.ControlPaths;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PlatformDetectorTest {
    private static final Path DEV = Path.of("/fake/dev");
    private static final Path SIM = Path.of("/run/x/sim/socket");
    private final Set<Path> files = new HashSet<>();
    private final Set<Path> sockets = new HashSet<>();

    private PlatformDetector detector(Map<String, String> env) {
        return new PlatformDetector(env, DEV, files::contains, sockets::contains, SIM);
    }

    @Test
    void noPrivcmdMeansSim() throws PlatformException {
        sockets.add(Path.of("/run/xenstored/socket"));
        PlatformChoice c = detector(Map.of()).choose(null);
        assertEquals(Platform.SIM, c.platform());
        assertEquals("sim (no /fake/dev/xen/privcmd)", c.describe());
        assertEquals(SIM, c.xenstorePath());
    }

    @Test
    void privcmdAndDefaultSocketMeanXen() throws PlatformException {
        files.add(DEV.resolve("xen/privcmd"));
        sockets.add(Path.of("/run/xenstored/socket"));
        PlatformChoice c = detector(Map.of()).choose(null);
        assertEquals(Platform.XEN, c.platform());
        assertEquals(Path.of("/run/xenstored/socket"), c.xenstorePath());
    }

    @Test
    void xenstoredPathWinsOverRundir() throws PlatformException {
        files.add(DEV.resolve("xen/privcmd"));
        sockets.add(Path.of("/a/sock"));
        sockets.add(Path.of("/b/socket"));
        Map<String, String> env = Map.of("XENSTORED_PATH", "/a/sock", "XENSTORED_RUNDIR", "/b");
        assertEquals(Path.of("/a/sock"), detector(env).choose(null).xenstorePath());
        assertEquals(Path.of("/b/socket"), detector(Map.of("XENSTORED_RUNDIR", "/b")).choose(null).xenstorePath());
    }

    @Test
    void xenbusDeviceIsTheFallback() throws PlatformException {
        files.add(DEV.resolve("xen/privcmd"));
        files.add(DEV.resolve("xen/xenbus"));
        PlatformChoice c = detector(Map.of()).choose(null);
        assertEquals(Platform.XEN, c.platform());
        assertEquals(DEV.resolve("xen/xenbus"), c.xenstorePath());
    }

    @Test
    void privcmdWithoutXenstoredFallsBackToSimSayingWhy() throws PlatformException {
        files.add(DEV.resolve("xen/privcmd"));
        PlatformChoice c = detector(Map.of()).choose(null);
        assertEquals(Platform.SIM, c.platform());
        assertTrue(c.reason().contains("no xenstored answers at /run/xenstored/socket"), c.reason());
    }

    @Test
    void explicitSimWinsEvenOnXen() throws PlatformException {
        files.add(DEV.resolve("xen/privcmd"));
        sockets.add(Path.of("/run/xenstored/socket"));
        assertEquals(Platform.SIM, detector(Map.of()).choose("sim").platform());
        PlatformChoice fromEnv = detector(Map.of(ControlPaths.PLATFORM_ENV, "sim")).choose(null);
        assertEquals(Platform.SIM, fromEnv.platform());
        assertTrue(fromEnv.reason().contains(ControlPaths.PLATFORM_ENV), fromEnv.reason());
        // the option overrides the environment
        assertEquals(Platform.XEN, detector(Map.of(ControlPaths.PLATFORM_ENV, "sim")).choose("xen").platform());
    }

    @Test
    void explicitXenWithoutPrivcmdSaysWhatToDo() {
        PlatformException e = assertThrows(PlatformException.class, () -> detector(Map.of()).choose("xen"));
        assertTrue(e.getMessage().contains("/fake/dev/xen/privcmd does not exist"), e.getMessage());
        assertTrue(e.getMessage().contains("modprobe xen-privcmd"), e.getMessage());
        assertTrue(e.getMessage().contains("xen-utils"), e.getMessage());
    }

    @Test
    void explicitXenWithoutXenstoredSaysWhatToDo() {
        files.add(DEV.resolve("xen/privcmd"));
        PlatformException e = assertThrows(PlatformException.class,
                () -> detector(Map.of("XENSTORED_PATH", "/x/s")).choose("xen"));
        assertTrue(e.getMessage().contains("/x/s does not answer"), e.getMessage());
        assertTrue(e.getMessage().contains("start xenstored") || e.getMessage().contains("systemctl start xenstored"),
                e.getMessage());
    }

    @Test
    void unknownPlatformIsRejected() {
        PlatformException e = assertThrows(PlatformException.class,
                () -> detector(Map.of(ControlPaths.PLATFORM_ENV, "kvm")).choose(null));
        assertTrue(e.getMessage().contains("unknown platform 'kvm'"), e.getMessage());
    }
}
