package io.xendisk.daemon;

import io.xendisk.api.ControlPaths;
import io.xendisk.api.ControlRequest;
import io.xendisk.api.ControlResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CommandDispatcherTest {
    @TempDir
    Path dir;
    private final AtomicBoolean stopped = new AtomicBoolean();

    private CommandDispatcher dispatcher(VbdRegistry vbds) {
        ControlPaths paths = new ControlPaths(dir.resolve("run"), dir.resolve("log"));
        PlatformChoice sim = new PlatformChoice(Platform.SIM, "no /dev/xen/privcmd", paths.simXenstoredSocket());
        DaemonContext ctx = new DaemonContext(sim, paths, vbds, 123, Instant.now());
        return new CommandDispatcher(ctx, new SimXenstoredProcess(paths), () -> stopped.set(true));
    }

    @Test
    void statusNamesPlatformSocketsAndVbdCount() {
        ControlResponse r = dispatcher(new VbdRegistry()).handle(ControlRequest.of("status"));
        assertEquals(0, r.exitCode());
        assertTrue(r.stdout().contains("platform: sim (no /dev/xen/privcmd)\n"), r.stdout());
        assertTrue(r.stdout().contains("daemon: running, pid 123, up "), r.stdout());
        assertTrue(r.stdout().contains("control socket: " + dir.resolve("run/control.sock")), r.stdout());
        assertTrue(r.stdout().contains("xenstore: " + dir.resolve("run/sim/socket")), r.stdout());
        assertTrue(r.stdout().contains("VBDs: 0\n"), r.stdout());
    }

    @Test
    void listShowsRegisteredVbds() {
        VbdRegistry vbds = new VbdRegistry();
        CommandDispatcher d = dispatcher(vbds);
        assertEquals("no VBDs (platform sim)\n", d.handle(ControlRequest.of("list")).stdout());
        vbds.register(5, 51728, () -> new VbdSummary(5, 51728, "xvdb", "Connected", "file:/i", Map.of()));
        assertEquals("5/51728 xvdb Connected file:/i\n", d.handle(ControlRequest.of("list")).stdout());
    }

    @Test
    void shutdownAsksTheDaemonToStop() {
        ControlResponse r = dispatcher(new VbdRegistry()).handle(ControlRequest.of("shutdown"));
        assertEquals(0, r.exitCode());
        assertTrue(stopped.get());
    }

    @Test
    void unknownVerbsAndArgumentsAreUsageErrors() {
        CommandDispatcher d = dispatcher(new VbdRegistry());
        ControlResponse r = d.handle(ControlRequest.of("frob"));
        assertEquals(ControlResponse.USAGE, r.exitCode());
        assertTrue(r.stderr().contains("unknown verb 'frob'"), r.stderr());
        assertEquals(ControlResponse.USAGE, d.handle(ControlRequest.of("status", "x")).exitCode());
        assertEquals(ControlResponse.USAGE, d.handle(ControlRequest.of("sim")).exitCode());
        assertEquals(ControlResponse.USAGE, d.handle(ControlRequest.of("sim", "restart")).exitCode());
        assertFalse(stopped.get());
    }

    @Test
    void aDifferentPlatformRequestIsRefusedWithTheWayOut() {
        ControlResponse r = dispatcher(new VbdRegistry())
                .handle(new ControlRequest("status", List.of(), Map.of("platform", "xen")));
        assertEquals(ControlResponse.FAILED, r.exitCode());
        assertTrue(r.stderr().contains("uses platform sim"), r.stderr());
        assertTrue(r.stderr().contains("xen-disk-java shutdown"), r.stderr());
        assertEquals(0, dispatcher(new VbdRegistry())
                .handle(new ControlRequest("status", List.of(), Map.of("platform", "sim"))).exitCode());
    }

    @Test
    void simStatusWhenNotRunning() {
        ControlResponse r = dispatcher(new VbdRegistry()).handle(ControlRequest.of("sim", "status"));
        assertEquals(3, r.exitCode());
        assertEquals("sim xenstored: not running\n", r.stdout());
    }

    @Test
    void uptimeIsReadable() {
        assertEquals("59s", CommandDispatcher.uptime(Duration.ofSeconds(59)));
        assertEquals("2m5s", CommandDispatcher.uptime(Duration.ofSeconds(125)));
        assertEquals("3h7m", CommandDispatcher.uptime(Duration.ofMinutes(187)));
    }
}
