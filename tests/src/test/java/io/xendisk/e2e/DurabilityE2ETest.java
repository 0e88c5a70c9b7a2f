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
 * What the guest was told is written stays written when the daemon dies:
 * the guest writes a pattern, flushes and reads it back (the verify workload)
 * on a {@code file} and an {@code mmap} disk, then the daemon is killed with
 * SIGKILL, and the images, read independently, hold the pattern.
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
        try {
            // the verbs start a fresh daemon; the guest shuts down without its old backends
            Dist.Result status = dist.cli("status");
            assertEquals(0, status.exit(), status.toString());
            dist.stopAll(List.of(guest));
        } finally {
            dist.close();
        }
    }

    @Test
    void acknowledgedFlushedWritesSurviveKillMinus9OfTheDaemon() throws Exception {
        Path file = Images.sparse(dist.dir.resolve("file.img"), 16L << 20, null);
        Path mmap = Images.sparse(dist.dir.resolve("mmap.img"), 16L << 20, null);
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

        long daemon = dist.daemonPid();
        ProcessHandle h = ProcessHandle.of(daemon).orElseThrow();
        assertTrue(h.destroyForcibly()); // kill -9: no shutdown hook, no unmap, no close
        Dist.awaitExit(h);
        assertFalse(h.isAlive());

        Images.assertPattern(file, 2 << 20, 8 << 20, 31);
        Images.assertPattern(mmap, 1 << 20, 12 << 20, 32);
        assertTrue(Images.zeros(file, 0, 2 << 20));
        assertTrue(Images.zeros(mmap, 13 << 20, 3 << 20));
        assertEquals(16L << 20, Files.size(file));
        assertEquals(16L << 20, Files.size(mmap));

        // a later verb starts a fresh daemon that answers
        Dist.Result status = dist.cli("status");
        assertEquals(0, status.exit(), status.toString());
        assertNotEquals(daemon, dist.daemonPid());
    }
}
