package io.xendisk.e2e;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the guest was told is flushed survives a power cut: the images live
 * on an ext4 of their own (a loop device); the guest writes a pattern,
 * flushes and reads it back (the verify workload) on a {@code file} and an
 * {@code mmap} disk; then the file system is shut down as by a power cut
 * ({@code xfs_io -x -c shutdown}: what is only in the page cache never
 * reaches the device), the daemon is killed with SIGKILL, the file system
 * mounted again, and the images, read independently, hold the pattern.
 * Killing the daemon alone would keep the page cache, so a flush that did
 * nothing would pass; this does not.
 */
class DurabilityE2ETest {
    private static Dist dist;
    private static Dist.Guest guest;

    @BeforeAll
    static void startGuest() throws Exception {
        Dist.assertBuilt("bin/xen-disk-java");
        Tools.requireXenstoreUtils();
        dist = new Dist();
        guest = dist.guest("durable", "--memory-mib", "32");
    }

    @AfterAll
    static void nothingIsLeft() throws Exception {
        if (dist == null) {
            return;
        }
        if (mount != null) {
            dist.exec(List.of("/usr/bin/umount", "-l", mount.toString()), Map.of());
        }
        try {
            // the verbs start a fresh daemon; the guest shuts down without its old backends
            Dist.Result status = dist.cli("status");
            assertEquals(0, status.exit(), status.toString());
            dist.stopAll(List.of(guest));
        } finally {
            dist.close();
        }
    }

    /** The loop-mounted file system the images live on; powered off by {@link #powerCut}. */
    private static Path mount;
    private static Path device;

    private static Dist.Result sh(String... cmd) throws Exception {
        Dist.Result r = dist.exec(List.of(cmd), Map.of());
        assertEquals(0, r.exit(), String.join(" ", cmd) + ": " + r);
        return r;
    }

    private static void mountImagesFs() throws Exception {
        sh("/usr/bin/mount", "-o", "loop", device.toString(), mount.toString());
    }

    /** Drops what the file system holds only in memory, as losing power would: nothing more reaches the device. */
    private static void powerCut() throws Exception {
        sh("/usr/sbin/xfs_io", "-x", "-c", "shutdown", mount.toString());
    }

    @Test
    void acknowledgedFlushedWritesSurviveAPowerCut() throws Exception {
        Tools.require(Path.of("/usr/sbin/xfs_io"), "xfsprogs");
        Tools.require(Path.of("/usr/sbin/mkfs.ext4"), "e2fsprogs");
        device = Images.sparse(dist.dir.resolve("images.ext4"), 96L << 20, null);
        sh("/usr/sbin/mkfs.ext4", "-q", "-F", device.toString());
        mount = Files.createDirectories(dist.dir.resolve("images"));
        mountImagesFs();
        Path file = Images.sparse(mount.resolve("file.img"), 16L << 20, null);
        Path mmap = Images.sparse(mount.resolve("mmap.img"), 16L << 20, null);
        sh("/usr/bin/sync", "-f", mount.toString()); // the empty images exist whatever happens next
        for (String[] d : List.of(new String[] {"xvdb", "file", file.toString()}, new String[] {"xvdc", "mmap", mmap.toString()})) {
            Dist.Result r = dist.cli("connect", guest.name(), "--vdev", d[0], "--storage", d[1], "--path", d[2]);
            assertEquals(0, r.exit(), r.toString());
            dist.awaitConnected(guest, d[0]);
            // both engines offer flush, so verify issues one between its writes and its reads
            assertEquals("1", dist.xsRead(guest.backend(d[0]) + "/feature-flush-cache"));
        }
        Dist.Result f = dist.simRun(guest, "xvdb", "verify", "--offset", "2M", "--size", "8M", "--seed", "31");
        assertEquals(0, f.exit(), f.toString());
        assertTrue(f.out().strip().endsWith(" OK"), f.toString());
        Dist.Result m = dist.simRun(guest, "xvdc", "verify", "--offset", "1M", "--size", "12M", "--seed", "32");
        assertEquals(0, m.exit(), m.toString());
        assertTrue(m.out().strip().endsWith(" OK"), m.toString());
        for (String vdev : List.of("xvdb", "xvdc")) {
            Map<String, Long> c = Dist.counters(dist.listLine(guest.vbd(vdev)));
            assertTrue(c.get("flushes") >= 1, vdev + " " + c);
            assertEquals(0, c.get("errors"), vdev + " " + c);
        }

        powerCut();
        long daemon = dist.daemonPid();
        ProcessHandle h = ProcessHandle.of(daemon).orElseThrow();
        assertTrue(h.destroyForcibly()); // kill -9: no shutdown hook, no unmap, no close
        Dist.awaitExit(h);
        assertFalse(h.isAlive());
        sh("/usr/bin/umount", mount.toString());
        mountImagesFs(); // as after the reboot: the journal replayed, the page cache gone

        Images.assertPattern(file, 2 << 20, 8 << 20, 31);
        Images.assertPattern(mmap, 1 << 20, 12 << 20, 32);
        assertTrue(Images.zeros(file, 0, 2 << 20));
        assertTrue(Images.zeros(mmap, 13 << 20, 3 << 20));
        assertEquals(16L << 20, Files.size(file));
        assertEquals(16L << 20, Files.size(mmap));
        sh("/usr/bin/umount", mount.toString());
        mount = null;

        // a later verb starts a fresh daemon that answers
        Dist.Result status = dist.cli("status");
        assertEquals(0, status.exit(), status.toString());
        assertNotEquals(daemon, dist.daemonPid());
    }
}
