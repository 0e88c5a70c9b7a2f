package io.xendisk.e2e;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A persistent overlay over a gold image, as an operator makes it: qemu-img
 * creates the overlay, a simulated guest reads the gold's bytes through it,
 * writes 10^5 requests of random sizes (the fuzzer with valid requests only:
 * many in flight, every read checked against what it wrote) and a verify
 * range, disconnects and reconnects; the data is still there, qemu-img check
 * calls the overlay clean, and the gold image is byte-identical.
 */
class Qcow2E2ETest {
    private static final String MARKER = "XENDISK-E2E-QCOW2-GOLD";
    private static Dist dist;
    private static Dist.Guest guest;

    @BeforeAll
    static void start() throws Exception {
        Dist.assertBuilt("bin/xen-disk-java");
        Tools.requireXenstoreUtils();
        Tools.require(Tools.QEMU_IMG, "qemu-utils");
        dist = new Dist();
        dist.writeConfig("<qcow2-cache-mib>4</qcow2-cache-mib>");
        guest = dist.guest("vdi-1");
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
    void anOverlayKeepsTheGuestsWritesAndLeavesTheGoldImageAlone() throws Exception {
        Path gold = Images.sparse(dist.dir.resolve("gold.img"), 64L << 20, MARKER);
        Images.writePattern(gold, 1 << 20, 1 << 20, 3);
        String goldSum = Images.sha256(gold);
        Path overlay = dist.dir.resolve("vdi-1.qcow2");
        // a relative backing name, as operators write it: resolved against the overlay's directory
        qemuImg("create", "-q", "-f", "qcow2", "-b", "gold.img", "-F", "raw", overlay.toString());

        connect(overlay);
        assertTrue(dist.daemonLog().contains("qcow2 image " + overlay + ": version 3, 65536 B clusters, backing"
                + " gold.img (raw), L2 cache 64 tables (4 MiB)"), "the config's cache size: " + dist.daemonLog());
        assertTrue(dist.listLine(guest.vbd("xvdb")).contains(" Connected qcow2:" + overlay), dist.listLine(guest.vbd("xvdb")));
        Dist.Result marker = dist.simRun(guest, "xvdb", "read-at", "0", "1");
        assertTrue(marker.out().contains("|XENDISK-E2E-QCOW|"), "the gold image shows through: " + marker);

        // a write inside one 64 KiB cluster: the rest of the fresh cluster must still hold the gold's bytes
        assertOk(dist.simRun(guest, "xvdb", "verify", "--offset", "1028k", "--size", "8k", "--bs", "8k", "--seed", "5"));
        assertOk(dist.simRun(guest, "xvdb", "verify", "--offset", "1M", "--size", "4k", "--seed", "3", "--read-only"));
        assertOk(dist.simRun(guest, "xvdb", "verify", "--offset", "1036k", "--size", "1012k", "--seed", "3",
                "--read-only"));

        Dist.Result fuzz = dist.simRun(guest, "xvdb", "fuzz", "--requests", "100000", "--valid-percent", "100",
                "--seed", "14");
        assertEquals(0, fuzz.exit(), fuzz.toString());
        // valid requests only, though some lose a grant in flight (the write may or may not land, and a
        // later read tells which) and the frontend reconnects a few times
        assertTrue(fuzz.out().contains("fuzz PASS requests=100000 ") && fuzz.out().contains(" invalid=0 "),
                fuzz.toString());
        Dist.Result verify = dist.simRun(guest, "xvdb", "verify", "--offset", "40M", "--size", "8M", "--seed", "9");
        assertEquals(0, verify.exit(), verify.toString());
        Map<String, Long> c = Dist.counters(dist.listLine(guest.vbd("xvdb")));
        assertEquals(c.get("rejected-bad-grant"), c.get("errors"), "no error but the revoked grants': " + c);
        disconnect();

        assertEquals(0, qemuImg("check", overlay.toString()).exit(), "qemu-img check calls the overlay clean");
        assertEquals(goldSum, Images.sha256(gold), "the gold image is byte-identical");
        Path flat = dist.dir.resolve("vdi-1.raw");
        qemuImg("convert", "-q", "-O", "raw", overlay.toString(), flat.toString());
        Images.assertPattern(flat, 40L << 20, 8 << 20, 9);

        connect(overlay);
        Dist.Result again = dist.simRun(guest, "xvdb", "verify", "--offset", "40M", "--size", "8M", "--seed", "9",
                "--read-only");
        assertEquals(0, again.exit(), "the writes survive a reconnect: " + again);
        disconnect();
    }

    private static void assertOk(Dist.Result r) {
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().strip().endsWith(" OK"), r.toString());
    }

    private static void connect(Path overlay) throws Exception {
        Dist.Result r = dist.cli("connect", guest.name(), "--vdev", "xvdb", "--path", overlay.toString(),
                "--storage", "qcow2");
        assertEquals(0, r.exit(), r.toString());
        dist.awaitConnected(guest, "xvdb");
    }

    private static void disconnect() throws Exception {
        Dist.Result r = dist.cli("disconnect", guest.name(), "xvdb");
        assertEquals(0, r.exit(), r.toString());
    }

    private static Dist.Result qemuImg(String... args) throws Exception {
        return Tools.qemuImg(dist, args);
    }
}
