package io.xendisk.e2e;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Online resize: {@code resize VM VDEV SIZE} (and virsh's {@code blockresize}, KiB without a
 * unit) grows a served image while the guest runs; the backend writes the new sectors and
 * Connected again, and the guest, without a detach, reads and writes past the old end, on
 * each ABI. Shrinking, and an engine that cannot grow in place, are refused with the reason.
 */
class ResizeE2ETest {
    private static AbiGuests guests;
    private static Dist dist;
    private static Dist.Guest g64;
    private static Dist.Guest g32;

    @BeforeAll
    static void startGuests() throws Exception {
        guests = AbiGuests.start("grow");
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

    @ParameterizedTest
    @ValueSource(strings = {"x86_64", "x86_32"})
    void aGrownDiskIsSeenByTheRunningGuest(String abi) throws Exception {
        Dist.Guest g = guests.of(abi);
        Path img = Images.sparse(dist.dir.resolve("grow-" + abi + ".img"), 16L << 20, null);
        Dist.Result c = dist.cli("connect", g.name(), "--vdev", "xvdb", "--path", img.toString(), "--storage", "file");
        assertEquals(0, c.exit(), c.toString());
        dist.awaitConnected(g, "xvdb");
        assertEquals(0, dist.simRun(g, "xvdb", "verify", "--size", "1M", "--seed", "51").exit());
        Dist.Result past = dist.simRun(g, "xvdb", "read-at", "40000", "8");
        assertNotEquals(0, past.exit(), "past the old end: " + past);

        Dist.Result r = abi.equals("x86_64") ? dist.cli("resize", g.name(), "xvdb", "32M")
                : dist.cli("blockresize", g.name(), "xvdb", "32768");
        assertEquals(0, r.exit(), r.toString());
        assertEquals("resized xvdb of domain " + g.domid() + " from 16 MiB to 32 MiB\n", r.out());
        assertEquals("65536", dist.xsRead(g.backend("xvdb") + "/sectors"));
        assertEquals("4", dist.xsRead(g.backend("xvdb") + "/state"));
        assertEquals(32L << 20, Files.size(img), "the image grew");
        // the guest learns it from the backend's state written again, without a detach
        Dist.poll(() -> dist.simRun(g, "xvdb", "read-at", "40000", "8").exit() == 0, "the guest reads past the old end");
        Dist.Result v = dist.simRun(g, "xvdb", "verify", "--offset", "24M", "--size", "8M", "--seed", "52");
        assertEquals(0, v.exit(), v.toString());
        assertTrue(v.out().strip().endsWith(" OK"), v.toString());

        Dist.Result shrink = dist.cli("resize", g.name(), "xvdb", "8M");
        assertNotEquals(0, shrink.exit(), shrink.toString());
        assertTrue(shrink.toString().contains("cannot shrink file:" + img + " from 32 MiB to 8 MiB"), shrink.toString());
        assertEquals("65536", dist.xsRead(g.backend("xvdb") + "/sectors"), "nothing changed");
        assertEquals(0, dist.cli("disconnect", g.name(), "xvdb").exit());
        Images.assertPattern(img, 0, 1 << 20, 51);
        Images.assertPattern(img, 24L << 20, 8 << 20, 52);
    }

    @Test
    void aCopyOnWriteDiskCannotGrowAndSaysWhatToDo() throws Exception {
        Path gold = Images.sparse(dist.dir.resolve("gold.img"), 8L << 20, null);
        assertEquals(0, dist.cli("connect", g64.name(), "--vdev", "xvdc", "--path", gold.toString(), "--storage", "cow").exit());
        dist.awaitConnected(g64, "xvdc");
        Dist.Result r = dist.cli("resize", g64.name(), "xvdc", "16M");
        assertNotEquals(0, r.exit(), r.toString());
        assertTrue(r.toString().contains("cannot grow while it is served; disconnect it, grow the image, and connect it again"),
                r.toString());
        assertEquals("16384", dist.xsRead(g64.backend("xvdc") + "/sectors"));
        assertEquals(8L << 20, Files.size(gold));
        Dist.Result bad = dist.cli("resize", g64.name(), "xvdc", "lots");
        assertTrue(bad.toString().contains("'lots' is not a size"), bad.toString());
        assertEquals(0, dist.cli("disconnect", g64.name(), "xvdc").exit());
    }
}
