package io.xendisk.e2e;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Bad input and faults across real processes: a hostile guest, a guest killed
 * in the middle of I/O, bad connect arguments, a full filesystem. One daemon
 * and its guests serve the whole class; a well-behaved "victim" guest verifies
 * its own disk next to every fault to prove the other VBDs keep serving, and
 * the daemon must still be the same process at the end.
 */
class FaultsE2ETest {
    private static final List<String> HOSTILE_ALL = List.of("unknown-op", "write-read-only", "read-no-segments",
            "too-many-segments", "first-after-last", "last-sect-8", "past-end", "sector-overflow", "ungranted-gref",
            "read-into-read-only-grant", "revoked-grant", "indirect-bad-op", "indirect-too-many-segments",
            "indirect-bad-segment", "indirect-ungranted-page", "indirect-past-end", "event-storm");
    private static Dist dist;
    private static Dist.Guest victim;
    private static Dist.Guest hostile;
    private static Path victimImage;
    private static long daemonPid;
    private static long victimSeed = 100;

    @BeforeAll
    static void startGuests() throws Exception {
        Dist.assertBuilt("bin/xen-disk-java");
        Tools.requireXenstoreUtils();
        dist = new Dist();
        victim = dist.guest("victim");
        hostile = dist.guest("hostile", "--memory-mib", "32");
        daemonPid = dist.daemonPid();
        victimImage = Images.sparse(dist.dir.resolve("victim.img"), 32L << 20, null);
        connect(victim, "xvdb", "--path", victimImage.toString(), "--storage", "file");
    }

    @AfterAll
    static void daemonSurvivedAndNothingIsLeft() throws Exception {
        if (dist == null) {
            return;
        }
        try {
            Dist.Result status = dist.cli("status");
            assertEquals(0, status.exit(), status.toString());
            assertTrue(status.out().contains("daemon: running, pid " + daemonPid + ","), "same daemon all along:\n" + status);
            // the victim still serves after everything, and its image holds its last pattern
            long seed = victimVerifies();
            Dist.Result off = dist.cli("disconnect", victim.name(), "xvdb");
            assertEquals(0, off.exit(), off.toString());
            Images.assertPattern(victimImage, 0, 4 << 20, seed);
            dist.stopAll(List.of(victim, hostile));
        } finally {
            dist.close();
        }
    }

    private static void connect(Dist.Guest g, String vdev, String... options) throws Exception {
        String[] args = new String[options.length + 4];
        args[0] = "connect";
        args[1] = g.name();
        args[2] = "--vdev";
        args[3] = vdev;
        System.arraycopy(options, 0, args, 4, options.length);
        Dist.Result r = dist.cli(args);
        assertEquals(0, r.exit(), r.toString());
        dist.awaitConnected(g, vdev);
    }

    /** The victim writes, flushes and reads back a fresh pattern: OK. @return the seed */
    private static long victimVerifies() throws Exception {
        long seed = ++victimSeed;
        Dist.Result r = dist.simRun(victim, "xvdb", "verify", "--size", "4M", "--seed", Long.toString(seed));
        assertEquals(0, r.exit(), "the other guest's disk was disturbed:\n" + r);
        assertTrue(r.out().strip().endsWith(" OK"), r.toString());
        return seed;
    }

    /** Starts {@code sim run} in the background (a CLI process of its own). */
    private static Process simRunInBackground(Dist.Guest g, String vdev, Path out, String... workload) throws IOException {
        List<String> cmd = new java.util.ArrayList<>(List.of(Dist.HOME.resolve("bin/xen-disk-java").toString(),
                "sim", "run", g.name(), vdev));
        cmd.addAll(List.of(workload));
        return dist.start(cmd, out);
    }

    @Test
    void hostileGuestGetsErrorResponsesWhileAnotherGuestVerifies() throws Exception {
        connect(hostile, "xvdb");
        Path victimOut = dist.dir.resolve("victim-during-hostile.txt");
        // the victim's whole disk, so it is still busy while the hostile cases run
        Process background = simRunInBackground(victim, "xvdb", victimOut, "verify", "--size", "32M", "--seed", "7");

        Dist.Result r = dist.simRun(hostile, "xvdb", "hostile", "all");
        assertEquals(0, r.exit(), r.toString());
        for (String c : HOSTILE_ALL) {
            if (c.equals("write-read-only")) {
                assertTrue(r.out().contains("hostile write-read-only SKIP"), "a writable disk skips it:\n" + r);
            } else if (c.equals("event-storm")) {
                // a ring that backs off takes a few dozen events a second of a storm (without: thousands)
                java.util.regex.Matcher m = Pattern.compile("^hostile event-storm PASS \\d+ notifications in \\S+ s;"
                        + " the backend took \\d+ events \\((\\d+) per s\\)", Pattern.MULTILINE).matcher(r.out());
                assertTrue(m.find(), r.toString());
                assertTrue(Long.parseLong(m.group(1)) < 200, "no back-off from the storm:\n" + r);
            } else {
                // the guest checked that the error response carries the id of the bad request
                assertTrue(Pattern.compile("^hostile " + c + " PASS error response status -\\d for id \\d+; backend still serves$",
                        Pattern.MULTILINE).matcher(r.out()).find(), c + ":\n" + r);
            }
        }
        // the daemon offers INDIRECT requests, so their cases run too
        assertTrue(r.out().contains("hostile summary passed=16 failed=0 skipped=1"), r.toString());

        assertTrue(background.waitFor(60, TimeUnit.SECONDS), "the victim's verify did not finish");
        String victimSaid = Files.readString(victimOut);
        assertEquals(0, background.exitValue(), victimSaid);
        assertTrue(victimSaid.strip().endsWith(" OK"), victimSaid);
        Images.assertPattern(victimImage, 0, 32 << 20, 7);

        // the rejections are counted per reason, on the hostile VBD only, in list and in status
        String line = dist.listLine(hostile.vbd("xvdb"));
        Map<String, Long> c = Dist.counters(line);
        long rejected = 0;
        for (String reason : List.of("unknown-operation", "bad-segment-count", "bad-segment", "beyond-end", "bad-grant")) {
            Long n = c.get("rejected-" + reason);
            assertNotNull(n, "no rejected-" + reason + " in\n" + line);
            assertTrue(n > 0, line);
        }
        for (Map.Entry<String, Long> e : c.entrySet()) {
            rejected += e.getKey().startsWith("rejected-") ? e.getValue() : 0;
        }
        assertEquals(c.get("errors"), rejected, "every error is a counted rejection:\n" + line);
        // each batch with invalid requests and the storm's spurious events cost the hostile ring pauses
        assertTrue(c.get("backoffs") >= 16 && c.get("spurious-events") > 0, line);
        assertTrue(line.contains(" Connected discard "), line);
        Dist.Result status = dist.cli("status");
        assertEquals(0, status.exit(), status.toString());
        assertTrue(status.out().contains("  " + line + "\n"), status.toString());
        String victimLine = dist.listLine(victim.vbd("xvdb"));
        assertEquals(0, Dist.counters(victimLine).get("errors"), victimLine);
        assertFalse(victimLine.contains("rejected-"), victimLine);

        // the hostile guest's ring still serves it
        Dist.Result read = dist.simRun(hostile, "xvdb", "read-at", "0", "1");
        assertEquals(0, read.exit(), read.toString());
        assertEquals(0, dist.cli("disconnect", hostile.name(), "xvdb").exit());
    }

    @Test
    void producerOverflowStopsOnlyThatRing() throws Exception {
        connect(hostile, "xvdc");
        connect(hostile, "xvdd");
        Dist.Result r = dist.simRun(hostile, "xvdc", "hostile", "prod-overflow");
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("hostile prod-overflow PASS"), r.toString());

        String vbd = hostile.vbd("xvdc");
        Dist.poll(() -> {
            String l = dist.listLine(vbd);
            return l != null && l.contains("req_prod") && (l.contains(" Closed ") || l.contains(" Closing "));
        }, "list to show " + vbd + " stopped, naming req_prod");
        String line = dist.listLine(vbd);
        assertTrue(line.contains("ring stopped"), line);
        Matcher m = Pattern.compile("vbd " + vbd + ": frontend's req_prod \\d+ is more than a ring").matcher(dist.daemonLog());
        assertTrue(m.find(), "daemon.log does not name the req_prod:\n" + dist.daemonLog());

        // every other VBD keeps serving: the same guest's other disk, and the other guest
        Dist.Result read = dist.simRun(hostile, "xvdd", "read-at", "0", "1");
        assertEquals(0, read.exit(), read.toString());
        victimVerifies();
        assertEquals(0, dist.cli("status").exit());
        Dist.Result off = dist.cli("disconnect", hostile.name(), "xvdd");
        assertEquals(0, off.exit(), off.toString());
    }

    @Test
    void aGuestKilledMidIoIsTornDownAndTheOthersKeepServing() throws Exception {
        Dist.Guest doomed = dist.guest("doomed", "--memory-mib", "32");
        Path img = Images.sparse(dist.dir.resolve("doomed.img"), 16L << 20, null);
        connect(doomed, "xvdb", "--path", img.toString(), "--storage", "file");
        connect(doomed, "xvdc");
        Process io = simRunInBackground(doomed, "xvdb", dist.dir.resolve("doomed-io.txt"),
                "rand-write", "--time", "20", "--qd", "8");
        Dist.poll(() -> {
            String l = dist.listLine(doomed.vbd("xvdb"));
            return l != null && Dist.counters(l).get("writes") > 0;
        }, "the doomed guest's writes to reach the daemon");

        Dist.Result guests = dist.cli("sim", "guests");
        assertEquals(0, guests.exit(), guests.toString());
        assertTrue(guests.out().contains("doomed domain " + doomed.domid() + " pid " + doomed.pid() + "\n"), guests.toString());
        ProcessHandle h = ProcessHandle.of(doomed.pid()).orElseThrow();
        assertTrue(h.destroyForcibly()); // kill -9
        Dist.awaitExit(h);

        assertTrue(io.waitFor(30, TimeUnit.SECONDS), "sim run hangs after its guest died");
        assertNotEquals(0, io.exitValue(), Files.readString(dist.dir.resolve("doomed-io.txt")));
        for (String vdev : List.of("xvdb", "xvdc")) {
            Dist.poll(() -> dist.listLine(doomed.vbd(vdev)) == null && !dist.xsExists(doomed.backend(vdev)),
                    "VBD " + doomed.vbd(vdev) + " torn down (gone from list and from xenstore)");
        }
        Dist.poll(() -> !dist.xsExists("/local/domain/" + doomed.domid()), "the dead domain's xenstore home released");
        Dist.Result after = dist.cli("sim", "guests");
        assertFalse(after.out().contains("doomed"), after.toString());
        assertTrue(dist.daemonLog().contains("the guest of domain " + doomed.domid() + " died"), dist.daemonLog());

        victimVerifies();
        assertEquals(0, dist.cli("status").exit());
    }

    @Test
    void badConnectArgumentsFailNamingTheProblem() throws Exception {
        Path missing = dist.dir.resolve("no-such.img");
        Dist.Result r = dist.cli("connect", hostile.name(), "--path", missing.toString(), "--storage", "file", "--vdev", "xvdx");
        assertEquals(1, r.exit(), r.toString());
        assertTrue(r.err().contains("image " + missing + " not found"), r.toString());

        Path dir = Files.createDirectory(dist.dir.resolve("a-directory"));
        r = dist.cli("connect", hostile.name(), "--path", dir.toString(), "--storage", "mmap", "--vdev", "xvdx");
        assertEquals(1, r.exit(), r.toString());
        assertTrue(r.err().contains(dir + " is a directory, not a disk image"), r.toString());

        Path img = Images.sparse(dist.dir.resolve("ok.img"), 1 << 20, null);
        r = dist.cli("connect", hostile.name(), "--path", img.toString(), "--storage", "qcow7", "--vdev", "xvdx");
        assertEquals(1, r.exit(), r.toString());
        assertTrue(r.err().contains("unknown storage engine 'qcow7' (known: cow, discard, file, mmap, nbd, qcow2, rbd)"), r.toString());

        r = dist.cli("connect", "no-such-guest", "--path", img.toString());
        assertEquals(1, r.exit(), r.toString());
        assertTrue(r.err().contains("no running guest named 'no-such-guest'"), r.toString());

        // nothing was left half-made
        assertNull(dist.listLine(hostile.vbd("xvdx")));
        assertFalse(dist.xsExists(hostile.frontend("xvdx")));
        assertFalse(dist.xsExists(hostile.backend("xvdx")));
    }

    /** Mounts a 2 MiB tmpfs for the test (skips without the right to mount), runs it, unmounts. */
    private static void onSmallTmpfs(String name, Dist.Condition body) throws Exception {
        Tools.require(Path.of("/usr/bin/mount"), "mount");
        Path mnt = Files.createDirectory(dist.dir.resolve(name));
        Dist.Result mount = dist.exec(List.of("/usr/bin/mount", "-t", "tmpfs", "-o", "size=2M", "tmpfs", mnt.toString()),
                Map.of());
        // a privilege, not a tool: a container without CAP_SYS_ADMIN cannot mount
        assumeTrue(mount.exit() == 0, "cannot mount a tmpfs here: " + mount);
        try {
            body.holds();
        } finally {
            Dist.Result umount = dist.exec(List.of("/usr/bin/umount", mnt.toString()), Map.of());
            if (umount.exit() != 0) {
                // a mapping the daemon's GC has not dropped yet keeps it busy
                dist.exec(List.of("/usr/bin/umount", "-l", mnt.toString()), Map.of());
            }
        }
    }

    @Test
    void aFullFilesystemGivesErrorResponsesNotAHang() throws Exception {
        onSmallTmpfs("full", () -> {
            Path mnt = dist.dir.resolve("full");
            Path img = Images.sparse(mnt.resolve("full.img"), 16L << 20, null);
            connect(hostile, "xvde", "--path", img.toString(), "--storage", "file");
            Dist.Result w = dist.simRun(hostile, "xvde", "seq-write", "--size", "8M");
            Matcher errors = Pattern.compile(" errors=(\\d+)").matcher(w.out());
            assertTrue(errors.find(), w.toString());
            assertTrue(Long.parseLong(errors.group(1)) > 0, "writes past 2 MiB of tmpfs must fail:\n" + w);

            Dist.Result status = dist.cli("status");
            assertEquals(0, status.exit(), status.toString());
            String line = status.out().lines().filter(l -> l.startsWith("  " + hostile.vbd("xvde") + " ")).findFirst()
                    .orElseThrow(() -> new AssertionError(status.toString()));
            Map<String, Long> c = Dist.counters(line);
            assertTrue(c.get("errors") > 0, line);
            assertEquals(c.get("errors"), c.get("rejected-io-error"), line);
            assertTrue(Pattern.compile("image " + Pattern.quote(img.toString()) + ": No space left on device")
                    .matcher(dist.daemonLog()).find(), "daemon.log does not name the image and ENOSPC:\n" + dist.daemonLog());

            // the guest is not hung and the disk still serves what fit
            Dist.Result read = dist.simRun(hostile, "xvde", "read-at", "0", "1");
            assertEquals(0, read.exit(), read.toString());
            Dist.Result off = dist.cli("disconnect", hostile.name(), "xvde");
            assertEquals(0, off.exit(), off.toString());
            victimVerifies();
            return true;
        });
    }

    /**
     * mmap over a filesystem too small for the image: the engine reserves the
     * image's blocks at connect (a write through the mapping into a hole of a
     * full filesystem would be a SIGBUS after the fact), so connect fails with a
     * message naming the image and the reason, and nothing is left behind.
     */
    @Test
    void anMmapImageThatDoesNotFitIsRefusedAtConnect() throws Exception {
        onSmallTmpfs("full-mmap", () -> {
            Path img = Images.sparse(dist.dir.resolve("full-mmap").resolve("full.img"), 16L << 20, null);
            Dist.Result r = dist.cli("connect", hostile.name(), "--vdev", "xvdf", "--path", img.toString(), "--storage", "mmap");
            assertEquals(1, r.exit(), r.toString());
            assertTrue(r.err().contains(img.toString()) && r.err().contains("No space left on device"), r.toString());
            assertNull(dist.listLine(hostile.vbd("xvdf")));
            assertFalse(dist.xsExists(hostile.backend("xvdf")));
            victimVerifies();
            assertEquals(0, dist.cli("status").exit());
            return true;
        });
    }
}
