package io.xendisk.e2e;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * 4 KiB logical sectors: {@code connect --sector-size 4096} and a block device with 4 KiB
 * sectors (a loop device, losetup --sector-size 4096) are offered sector-size 4096 (sectors
 * still counted in 512-byte units, as blkback and QEMU do); whole 4 KiB sectors are served on
 * each ABI and land in the image, anything else gets an error response counted as
 * rejected-misaligned; what cannot be served so is refused by name.
 */
class SectorsE2ETest {
    private static AbiGuests guests;
    private static Dist dist;
    private static Dist.Guest g64;
    private static Dist.Guest g32;

    @BeforeAll
    static void startGuests() throws Exception {
        guests = AbiGuests.start("sect");
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

    private static Dist.Result connect(Dist.Guest g, String vdev, String... options) throws Exception {
        String[] args = new String[options.length + 4];
        args[0] = "connect";
        args[1] = g.name();
        args[2] = "--vdev";
        args[3] = vdev;
        System.arraycopy(options, 0, args, 4, options.length);
        return dist.cli(args);
    }

    @ParameterizedTest
    @ValueSource(strings = {"x86_64", "x86_32"})
    void anImageServedWith4KiBSectorsTakesWholeSectorsOnly(String abi) throws Exception {
        Dist.Guest g = guests.of(abi);
        Path img = Images.sparse(dist.dir.resolve("4k-" + abi + ".img"), 16L << 20, null);
        Dist.Result c = connect(g, "xvdb", "--path", img.toString(), "--storage", "file", "--sector-size", "4096");
        assertEquals(0, c.exit(), c.toString());
        dist.awaitConnected(g, "xvdb");
        assertEquals("4096", dist.xsRead(g.backend("xvdb") + "/sector-size"));
        assertEquals("4096", dist.xsRead(g.backend("xvdb") + "/physical-sector-size"));
        assertEquals("32768", dist.xsRead(g.backend("xvdb") + "/sectors"), "still 512-byte units");
        assertEquals("4096", dist.xsRead(g.backend("xvdb") + "/discard-granularity"));

        Dist.Result v = dist.simRun(g, "xvdb", "verify", "--offset", "4k", "--size", "2M", "--bs", "12k", "--seed", "41");
        assertEquals(0, v.exit(), v.toString());
        assertTrue(v.out().strip().endsWith(" OK"), v.toString());
        // one 512-byte sector at sector 1, then 8 sectors from sector 4: neither whole 4 KiB sectors
        Dist.Result odd = dist.simRun(g, "xvdb", "read-at", "1", "1");
        assertNotEquals(0, odd.exit(), odd.toString());
        assertTrue(odd.toString().contains("status -1"), odd.toString());
        assertNotEquals(0, dist.simRun(g, "xvdb", "read-at", "4", "8").exit());
        Map<String, Long> counters = Dist.counters(dist.listLine(g.vbd("xvdb")));
        assertTrue(counters.get("rejected-misaligned") >= 2, counters.toString());
        assertEquals(0, dist.simRun(g, "xvdb", "read-at", "8", "8").exit(), "a whole 4 KiB sector reads");
        assertEquals(0, dist.cli("disconnect", g.name(), "xvdb").exit());
        Images.assertPattern(img, 4096, 2 << 20, 41);
        assertTrue(Images.zeros(img, 0, 4096), "nothing before the verified range");
    }

    @Test
    void aLoopDeviceWith4KiBSectorsIsServedSoWithoutBeingAsked() throws Exception {
        Path backing = Images.sparse(dist.dir.resolve("loop.img"), 16L << 20, null);
        Images.writePattern(backing, 0, 1 << 20, 42);
        Dist.Result lo = dist.exec(List.of("losetup", "--sector-size", "4096", "--find", "--show", backing.toString()), Map.of());
        assertEquals(0, lo.exit(), "losetup (util-linux, as root): " + lo);
        String dev = lo.out().strip();
        try {
            Dist.Result c = connect(g64, "xvdc", "--path", dev, "--storage", "file");
            assertEquals(0, c.exit(), c.toString());
            dist.awaitConnected(g64, "xvdc");
            assertEquals("4096", dist.xsRead(g64.backend("xvdc") + "/sector-size"), "detected (BLKSSZGET)");
            Dist.Result v = dist.simRun(g64, "xvdc", "verify", "--read-only", "--size", "1M", "--seed", "42");
            assertEquals(0, v.exit(), v.toString());
            assertEquals(0, dist.cli("disconnect", g64.name(), "xvdc").exit());
            Dist.Result refused = connect(g64, "xvdd", "--path", dev, "--storage", "file", "--sector-size", "512");
            assertNotEquals(0, refused.exit(), refused.toString());
            assertTrue(refused.toString().contains(dev + " takes I/O in units of 4096 bytes; serve it with sector size 4096"),
                    refused.toString());
        } finally {
            dist.exec(List.of("losetup", "-d", dev), Map.of());
        }
    }

    @Test
    void anImageNotOfWhole4KiBSectorsOrASizeNotOffered() throws Exception {
        Path img = Images.sparse(dist.dir.resolve("odd.img"), (16L << 20) + 512, null);
        Dist.Result r = connect(g32, "xvde", "--path", img.toString(), "--sector-size", "4096");
        assertNotEquals(0, r.exit(), r.toString());
        assertTrue(r.toString().contains("is 16777728 bytes, not a whole number of 4096-byte sectors"), r.toString());
        Dist.Result bad = connect(g32, "xvde", "--path", img.toString(), "--sector-size", "1024");
        assertNotEquals(0, bad.exit(), bad.toString());
        assertTrue(bad.toString().contains("--sector-size is 512 or 4096"), bad.toString());
    }
}
