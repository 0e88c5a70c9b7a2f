package io.xendisk.e2e;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The launcher and daemon as separate processes, through the assembled
 * distribution: auto-start, one daemon per host, stale sockets, root-only
 * control, shutdown and signals, and the sim xenstored verbs.
 */
class DaemonCliTest {
    private static final Pattern PID = Pattern.compile("daemon: running, pid (\\d+)");
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

    private static long pidOf(Dist.Result status) {
        Matcher m = PID.matcher(status.out());
        assertTrue(m.find(), "no pid in\n" + status);
        return Long.parseLong(m.group(1));
    }

    private static String perms(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }

    @Test
    void statusStartsADetachedDaemonOnTheSimPlatform() throws Exception {
        Dist.Result first = dist.cli("status");
        assertEquals(0, first.exit(), first.toString());
        assertTrue(first.out().contains("platform: sim ("), first.toString());
        assertTrue(first.out().contains("control socket: " + dist.socket()), first.toString());
        assertTrue(first.out().contains("VBDs: 0"), first.toString());
        assertTrue(first.err().contains("started the daemon in the background"), first.toString());
        long pid = pidOf(first);
        assertEquals(pid, dist.daemonPid());

        assertEquals("rwx------", perms(dist.runDir));
        assertEquals("rw-------", perms(dist.socket()));
        // detached: its own session (a Ctrl+C in the CLI's terminal cannot reach it), stdin from /dev/null
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        assertEquals(Long.toString(pid), f[3], "session id of the daemon");
        assertEquals(Path.of("/dev/null"), Files.readSymbolicLink(Path.of("/proc/" + pid + "/fd/0")));
        assertEquals(dist.logDir.resolve("daemon.log"), Files.readSymbolicLink(Path.of("/proc/" + pid + "/fd/2")));

        Dist.Result second = dist.cli("list");
        assertEquals(0, second.exit(), second.toString());
        assertEquals("no VBDs (platform sim)\n", second.out());
        assertEquals("", second.err(), "a running daemon is reused silently");
        assertEquals(pid, dist.daemonPid());
        assertTrue(dist.daemonLog().contains("daemon started: pid " + pid), dist.daemonLog());
    }

    @Test
    void aSecondDaemonIsRefusedNamingTheFirst() throws Exception {
        long pid = pidOf(dist.cli("status"));
        Dist.Result second = dist.cli("daemon");
        assertEquals(1, second.exit(), second.toString());
        assertTrue(second.err().contains("xen-disk-java daemon already running (pid " + pid + ", socket "
                + dist.socket() + ")"), second.toString());
        assertTrue(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "first daemon survives");
        assertEquals(0, dist.cli("status").exit());
    }

    @Test
    void aKilledDaemonsStaleSocketIsReplaced() throws Exception {
        long old = pidOf(dist.cli("status"));
        ProcessHandle h = ProcessHandle.of(old).orElseThrow();
        h.destroyForcibly();
        Dist.awaitExit(h);
        assertTrue(Files.exists(dist.socket()), "kill -9 leaves the socket behind");

        Dist.Result again = dist.cli("status");
        assertEquals(0, again.exit(), again.toString());
        assertTrue(again.err().contains("started the daemon"), again.toString());
        assertNotEquals(old, pidOf(again));
        assertTrue(dist.daemonLog().contains("removing stale control socket " + dist.socket()), dist.daemonLog());
    }

    @Test
    void nonRootIsRefused() throws Exception {
        // a privilege, not a tool: only root may switch to another user
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to switch to nobody");
        Tools.require(Path.of("/usr/bin/setpriv"), "util-linux");
        pidOf(dist.cli("status"));
        // the run dir is 0700: nobody cannot even reach the socket
        Dist.Result blocked = dist.run(Dist.AS_NOBODY, "status");
        assertEquals(1, blocked.exit(), blocked.toString());
        assertTrue(blocked.err().contains("cannot open the control socket " + dist.socket() + ": permission denied"),
                blocked.toString());
        assertTrue(blocked.err().contains("run with sudo"), blocked.toString());

        // with the modes loosened (our temp dir too), SO_PEERCRED on the daemon's side is what refuses
        Files.setPosixFilePermissions(dist.dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(dist.runDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(dist.socket(), PosixFilePermissions.fromString("rw-rw-rw-"));
        Dist.Result refused = dist.run(Dist.AS_NOBODY, "status");
        assertEquals(1, refused.exit(), refused.toString());
        assertEquals("xen-disk-java: only root may control the daemon (you are uid 65534/user nobody); run with sudo",
                refused.err().strip());
        assertEquals("", refused.out());
    }

    @Test
    void unknownVerbIsAUsageErrorAndStartsNothing() throws Exception {
        Dist.Result r = dist.cli("frobnicate");
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.err().contains("unknown verb 'frobnicate'"), r.toString());
        assertTrue(r.err().contains("xen-disk-java help"), r.toString());
        Dist.Result o = dist.cli("--frob", "status");
        assertEquals(2, o.exit(), o.toString());
        assertTrue(o.err().contains("unknown option '--frob'"), o.toString());
        assertFalse(Files.exists(dist.socket()));
    }

    @Test
    void platformXenWithoutXenSaysWhatIsMissing() throws Exception {
        assumeTrue(!Files.exists(Path.of("/dev/xen/privcmd")), "this host runs Xen");
        Dist.Result r = dist.cli("--platform", "xen", "status");
        assertEquals(1, r.exit(), r.toString());
        assertTrue(r.err().contains("/dev/xen/privcmd does not exist"), r.toString());
        assertTrue(r.err().contains("modprobe xen-privcmd"), r.toString());
        assertFalse(Files.exists(dist.socket()));
        assertFalse(Files.exists(dist.lockFile()), "a daemon that could not start leaves no lock");
    }

    @Test
    void shutdownStopsTheDaemonAndRemovesSocketAndLock() throws Exception {
        long pid = pidOf(dist.cli("status"));
        Dist.Result r = dist.cli("shutdown");
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("daemon stopped"), r.toString());
        assertFalse(Files.exists(dist.socket()));
        assertFalse(Files.exists(dist.lockFile()));
        ProcessHandle.of(pid).ifPresent(Dist::awaitExit);
        assertTrue(dist.daemonLog().contains("daemon stopped"), dist.daemonLog());
        Dist.Result none = dist.cli("shutdown");
        assertEquals(0, none.exit(), none.toString());
        assertTrue(none.out().startsWith("no daemon running"), none.toString());
    }

    @Test
    void foregroundDaemonExitsZeroOnSigterm() throws Exception {
        Process daemon = dist.start(List.of(Dist.HOME.resolve("bin/xen-disk-java").toString(), "daemon"),
                dist.dir.resolve("fg.txt"));
        Dist.Result status = null;
        // the CLI waits for the daemon's socket itself; if it won the race it would start a second
        // daemon, which the lock refuses, so poll the lock file (pid) first
        for (int i = 0; i < 400 && !(Files.exists(dist.socket()) && dist.daemonPid() == daemon.pid()); i++) {
            Thread.sleep(50);
        }
        status = dist.cli("status");
        assertEquals(daemon.pid(), pidOf(status), status.toString());
        daemon.destroy(); // SIGTERM
        assertTrue(daemon.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, daemon.exitValue(), Files.readString(dist.dir.resolve("fg.txt")));
        assertFalse(Files.exists(dist.socket()));
        assertFalse(Files.exists(dist.lockFile()));
        String fg = Files.readString(dist.dir.resolve("fg.txt"));
        assertTrue(fg.contains("INFO  [main] daemon started"), "foreground daemon logs to stderr too:\n" + fg);
    }

    @Test
    void simStartGivesASocketDebiansXenstoreToolsCanUse() throws Exception {
        assertTrue(Dist.hasSimXenstored(), "no sim xenstored (XenstoredMain) in " + Dist.HOME + "/lib: rebuild from the top");
        Tools.requireXenstoreUtils();
        Dist.Result start = dist.cli("sim", "start");
        assertEquals(0, start.exit(), start.toString());
        Matcher m = Pattern.compile("^XENSTORED_PATH=(\\S+) xenstore-ls$", Pattern.MULTILINE).matcher(start.out());
        assertTrue(m.find(), start.toString());
        Path socket = Path.of(m.group(1));
        assertEquals(dist.runDir.resolve("sim/socket"), socket);
        long simPid = Dist.readPid(dist.simPidFile());
        dist.remember(simPid);

        Dist.Result ls = dist.exec(List.of("/usr/bin/xenstore-ls"), Map.of("XENSTORED_PATH", socket.toString()));
        assertEquals(0, ls.exit(), ls.toString());
        Dist.Result write = dist.exec(List.of("/usr/bin/xenstore-write", "/xdj/e2e", "yes"),
                Map.of("XENSTORED_PATH", socket.toString()));
        assertEquals(0, write.exit(), write.toString());

        Dist.Result status = dist.cli("sim", "status");
        assertEquals(0, status.exit(), status.toString());
        assertTrue(status.out().contains("running (pid " + simPid + ", socket " + socket + ")"), status.toString());

        // the xenstored outlives its daemon, contents included
        long daemon = dist.daemonPid();
        ProcessHandle.of(daemon).orElseThrow().destroyForcibly();
        ProcessHandle.of(daemon).ifPresent(Dist::awaitExit);
        Dist.Result read = dist.exec(List.of("/usr/bin/xenstore-read", "/xdj/e2e"),
                Map.of("XENSTORED_PATH", socket.toString()));
        assertEquals("yes\n", read.out(), read.toString());

        Dist.Result stop = dist.cli("sim", "stop");
        assertEquals(0, stop.exit(), stop.toString());
        assertTrue(stop.out().contains("sim xenstored stopped (pid " + simPid + ")"), stop.toString());
        assertFalse(Files.exists(socket));
        Dist.Result after = dist.cli("sim", "status");
        assertEquals(3, after.exit(), after.toString());
        assertEquals("sim xenstored: not running\n", after.out());
    }
}
