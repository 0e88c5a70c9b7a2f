package io.xendisk.e2e;

import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * DISCARD end to end, a simulated guest on each ABI: the backend offers
 * feature-discard with its granularity, the guest's {@code discard} workload
 * (what blkdiscard sends) frees the range, which then reads zeros in the
 * guest and in the image, and the image's allocated blocks shrink (file,
 * mmap); a copy-on-write disk reads zeros there, never the gold image's bytes,
 * and leaves the gold alone; a qcow2 overlay reads zeros through QEMU and
 * stays clean for qemu-img check.
 */
class DiscardE2ETest {
    private static final int MIB = 1 << 20;
    private static AbiGuests guests;
    private static Dist dist;
    private static Dist.Guest g64;
    private static Dist.Guest g32;

    @BeforeAll
    static void startGuests() throws Exception {
        guests = AbiGuests.start("trim");
        dist = guests.dist;
        g64 = guests.g64;
        g32 = guests.g32;
    }

    @AfterAll
    static void stop() throws Exception {
        if (guests != null) {
            guests.close();
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

    private static void disconnect(Dist.Guest g, String vdev) throws Exception {
        Dist.Result r = dist.cli("disconnect", g.name(), vdev);
        assertEquals(0, r.exit(), r.toString());
    }

    private static void ok(Dist.Result r) {
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains(" errors=0") || r.out().strip().endsWith(" OK"), r.toString());
    }

    /** What read-at prints for {@code sectors} zero sectors at {@code sector}. */
    private static String zeroDump(long sector, int sectors) {
        return String.format("%08x  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|%n*%n%08x%n",
                sector << 9, (sector + sectors) << 9);
    }

    @ParameterizedTest(name = "{0} on {1}")
    @CsvSource({"file, x86_64", "file, x86_32", "mmap, x86_64", "mmap, x86_32"})
    void aDiscardedRangeReadsZerosAndItsBlocksGoBack(String engine, String abi) throws Exception {
        Dist.Guest g = guests.of(abi);
        String vdev = engine.equals("file") ? "xvdb" : "xvdc";
        Path img = Images.sparse(dist.dir.resolve(engine + "-" + abi + ".img"), 16L * MIB, null);
        connect(g, vdev, "--path", img.toString(), "--storage", engine);
        assertEquals("1", dist.xsRead(g.backend(vdev) + "/feature-discard"));
        assertEquals("4096", dist.xsRead(g.backend(vdev) + "/discard-granularity"));
        assertEquals("0", dist.xsRead(g.backend(vdev) + "/discard-alignment"));
        assertFalse(dist.xsExists(g.backend(vdev) + "/discard-secure"));

        ok(dist.simRun(g, vdev, "verify", "--size", "8M", "--seed", "31"));
        long before = Images.allocatedBytes(img);
        assertTrue(before >= 8L * MIB, "the guest's 8 MiB are allocated: " + before);
        // x86_32: in 1 MiB requests, as blkdiscard sends a range its queue splits
        Dist.Result d = abi.equals("x86_64")
                ? dist.simRun(g, vdev, "discard", "--offset", "1M", "--size", "4M")
                : dist.simRun(g, vdev, "discard", "--offset", "1M", "--size", "4M", "--bs", "1M");
        ok(d);
        assertTrue(d.out().startsWith("discard offset=1048576 size=4194304 "), d.toString());
        assertEquals(abi.equals("x86_64") ? 1L : 4L, Dist.counters(dist.listLine(g.vbd(vdev))).get("discards"),
                dist.listLine(g.vbd(vdev)));
        long after = Images.allocatedBytes(img);
        assertTrue(after <= before - 4L * MIB, "the filesystem got the 4 MiB back: " + before + " -> " + after);

        Dist.Result seen = dist.simRun(g, vdev, "read-at", "2048", "2048");
        assertEquals(zeroDump(2048, 2048), seen.out(), "the guest reads zeros");
        Dist.Result edge = dist.simRun(g, vdev, "read-at", "10239", "2");
        assertNotEquals(zeroDump(10239, 2), edge.out(), "the sector after the range keeps its data: " + edge);

        disconnect(g, vdev);
        assertTrue(Images.zeros(img, MIB, 4 * MIB), "the image holds zeros where the guest discarded");
        Images.assertPattern(img, 0, MIB, 31);
        Images.assertPattern(img, 5L * MIB, 3 * MIB, 31);
    }

    @Test
    void aCopyOnWriteDiskReadsZerosNotTheGoldAndLeavesTheGoldAlone() throws Exception {
        Path gold = Images.sparse(dist.dir.resolve("gold.img"), 8L * MIB, null);
        Images.writePattern(gold, 0, 8 * MIB, 5);
        String goldSum = Images.sha256(gold);
        connect(g64, "xvdd", "--path", gold.toString(), "--storage", "cow");
        assertEquals("1", dist.xsRead(g64.backend("xvdd") + "/feature-discard"));
        ok(dist.simRun(g64, "xvdd", "verify", "--offset", "2M", "--size", "1M", "--seed", "6"));
        // the guest's own pages and pages it never wrote (the gold's), and a part of a page at each end
        ok(dist.simRun(g64, "xvdd", "discard", "--offset", "1537k", "--size", "2047k"));
        // sectors [3074, 7168)
        assertEquals(zeroDump(3074, 2048), dist.simRun(g64, "xvdd", "read-at", "3074", "2048").out());
        assertEquals(zeroDump(5122, 2046), dist.simRun(g64, "xvdd", "read-at", "5122", "2046").out());
        Dist.Result kept = dist.simRun(g64, "xvdd", "read-at", "3073", "1");
        assertNotEquals(zeroDump(3073, 1), kept.out(), "the sector before the range keeps the gold's bytes");
        disconnect(g64, "xvdd");
        assertEquals(goldSum, Images.sha256(gold), "the gold image is byte-identical");
    }

    @Test
    void aQcow2OverlayReadsZerosThroughQemuAndStaysClean() throws Exception {
        Tools.require(Tools.QEMU_IMG, "qemu-utils");
        Path gold = Images.sparse(dist.dir.resolve("q-gold.img"), 16L * MIB, null);
        Images.writePattern(gold, 0, 16 * MIB, 7);
        String goldSum = Images.sha256(gold);
        Path overlay = dist.dir.resolve("trim.qcow2");
        Tools.qemuImg(dist, "create", "-q", "-f", "qcow2", "-b", gold.toString(), "-F", "raw", overlay.toString());
        connect(g32, "xvdd", "--path", overlay.toString(), "--storage", "qcow2");
        assertEquals("65536", dist.xsRead(g32.backend("xvdd") + "/discard-granularity"), "a cluster");
        ok(dist.simRun(g32, "xvdd", "verify", "--offset", "4M", "--size", "4M", "--seed", "8"));
        // whole clusters over the guest's data and over the gold's, parts of clusters at both ends
        ok(dist.simRun(g32, "xvdd", "discard", "--offset", "3000k", "--size", "3000k"));
        disconnect(g32, "xvdd");

        Dist.Result check = Tools.qemuImg(dist, "check", overlay.toString());
        assertEquals(0, check.exit(), "qemu-img check: " + check);
        Path raw = dist.dir.resolve("trim.raw");
        Tools.qemuImg(dist, "convert", "-q", "-O", "raw", overlay.toString(), raw.toString());
        assertTrue(Images.zeros(raw, 3000L * 1024, 3000 * 1024), "QEMU reads zeros where the guest discarded");
        Images.assertPattern(raw, 0, 3000 * 1024, 7);
        Images.assertPattern(raw, 6000L * 1024, 8 * MIB - 6000 * 1024, 8);
        Images.assertPattern(raw, 8L * MIB, 8 * MIB, 7);
        assertEquals(goldSum, Images.sha256(gold), "the gold image is byte-identical");
    }

    @Test
    void aReadOnlyDiskOffersNoDiscardAndTheGuestIsToldSo() throws Exception {
        Path img = Images.sparse(dist.dir.resolve("ro.img"), 4L * MIB, null);
        connect(g64, "xvde", "--path", img.toString(), "--storage", "file", "--readonly");
        assertFalse(dist.xsExists(g64.backend("xvde") + "/feature-discard"));
        Dist.Result r = dist.simRun(g64, "xvde", "discard");
        assertNotEquals(0, r.exit(), r.toString());
        assertTrue(r.toString().contains("does not offer feature-discard"), r.toString());
        Map<String, Long> c = Dist.counters(dist.listLine(g64.vbd("xvde")));
        assertEquals(0L, c.get("discards"), c.toString());
        disconnect(g64, "xvde");
    }
}
