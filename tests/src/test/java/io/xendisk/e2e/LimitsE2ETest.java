package io.xendisk.e2e;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A disk's I/O limits as an operator sets them: at connect, and live with
 * virsh's blkdeviotune verb; a simulated guest never gets more than its limit
 * (the only thing timed here is an upper bound, which a slow machine cannot
 * break), and lifting the limit lifts it. Bad settings are refused naming the
 * setting.
 */
class LimitsE2ETest {
    private static final Pattern IOPS = Pattern.compile(" IOPS=([0-9.]+)");
    private static final Pattern MBS = Pattern.compile(" MB/s=([0-9.]+)");
    private static Dist dist;
    private static Dist.Guest guest;

    @BeforeAll
    static void start() throws Exception {
        Dist.assertBuilt("bin/xen-disk-java");
        Tools.requireXenstoreUtils();
        dist = new Dist();
        guest = dist.guest("limits-1");
    }

    @AfterAll
    static void stop() throws Exception {
        if (dist != null) {
            try {
                dist.stopAll(List.of(guest));
            } finally {
                dist.close();
            }
        }
    }

    @Test
    void aLimitSetAtConnectAndChangedLiveHoldsTheGuestToIt() throws Exception {
        Path img = Images.sparse(dist.dir.resolve("limited.img"), 64L << 20, null);
        Dist.Result c = dist.cli("connect", guest.name(), "--vdev", "xvdb", "--path", img.toString(),
                "--total-iops-sec", "200");
        assertEquals(0, c.exit(), c.toString());
        assertTrue(c.out().contains("limits {total_iops_sec=200}"), c.toString());
        dist.awaitConnected(guest, "xvdb");

        Dist.Result shown = dist.cli("blkdeviotune", guest.name(), "xvdb");
        assertEquals(0, shown.exit(), shown.toString());
        assertTrue(shown.out().contains("total_iops_sec             : 200\n"), shown.toString());
        assertTrue(shown.out().contains("read_bytes_sec             : 0\n"), shown.toString());

        Dist.Result limited = dist.simRun(guest, "xvdb", "rand-read", "--bs", "4k", "--qd", "8", "--time", "3");
        assertEquals(0, limited.exit(), limited.toString());
        // 200 a second, and a bucket of 20 at the start
        assertTrue(value(IOPS, limited) <= 200 * 1.15, "IOPS under a 200 IOPS limit: " + limited.out());

        // reads to 1 MiB a second, the operations limit lifted
        Dist.Result changed = dist.cli("blkdeviotune", guest.name(), "xvdb", "--total-iops-sec", "0",
                "--read-bytes-sec", "1048576");
        assertEquals(0, changed.exit(), changed.toString());
        assertTrue(changed.out().contains("total_iops_sec             : 0\n")
                && changed.out().contains("read_bytes_sec             : 1048576\n"), changed.toString());
        Dist.Result bytes = dist.simRun(guest, "xvdb", "seq-read", "--bs", "64k", "--size", "3M");
        assertEquals(0, bytes.exit(), bytes.toString());
        assertTrue(value(MBS, bytes) <= 1.0486 * 1.25, "MB/s under a 1 MiB/s read limit: " + bytes.out());
        // writes are not read-limited: 4 MiB of them go at once
        Dist.Result writes = dist.simRun(guest, "xvdb", "seq-write", "--bs", "64k", "--size", "4M");
        assertEquals(0, writes.exit(), writes.toString());

        Dist.Result bad = dist.cli("blkdeviotune", guest.name(), "xvdb", "--total-bytes-sec", "5");
        assertEquals(1, bad.exit(), bad.toString());
        assertTrue(bad.err().contains("total_bytes_sec cannot be set together with read_bytes_sec"), bad.toString());
        assertTrue(dist.cli("blkdeviotune", guest.name(), "xvdb").out().contains("read_bytes_sec             : 1048576"),
                "a refused change leaves the limits as they were");

        Dist.Result lifted = dist.cli("blkdeviotune", guest.name(), "xvdb", "--read-bytes-sec", "0");
        assertEquals(0, lifted.exit(), lifted.toString());
        assertTrue(dist.daemonLog().contains("I/O limits now no limits"), dist.daemonLog());
        assertEquals(0, dist.cli("disconnect", guest.name(), "xvdb").exit());
    }

    @Test
    void badLimitsAtConnectAreRefusedByName() throws Exception {
        Path img = Images.sparse(dist.dir.resolve("bad.img"), 8L << 20, null);
        Dist.Result r = dist.cli("connect", guest.name(), "--vdev", "xvdc", "--path", img.toString(),
                "--read-iops-sec", "100", "--read-iops-sec-max", "50");
        assertEquals(1, r.exit(), r.toString());
        assertTrue(r.err().contains("read_iops_sec_max=50 is below read_iops_sec=100"), r.toString());
        Dist.Result unknown = dist.cli("connect", guest.name(), "--vdev", "xvdc", "--path", img.toString(),
                "--total-iops", "100");
        assertEquals(2, unknown.exit(), unknown.toString());
        assertTrue(unknown.err().contains("--total-iops"), unknown.toString());
        Dist.Result none = dist.cli("blkdeviotune", guest.name(), "xvdz");
        assertEquals(1, none.exit(), none.toString());
        assertTrue(none.err().contains("no disk xvdz of limits-1 is served by this daemon"), none.toString());
    }

    private static double value(Pattern p, Dist.Result r) {
        Matcher m = p.matcher(r.out());
        double last = -1;
        while (m.find()) {
            last = Double.parseDouble(m.group(1));
        }
        assertTrue(last >= 0, "no " + p + " in " + r.out());
        return last;
    }
}
