package io.xendisk.e2e;

import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * CD-ROM drives: {@code connect --cdrom} serves an ISO image as libxl does a devtype=cdrom disk
 * (device-type cdrom at both ends, mode r, removable 1) and tells the frontend VDISK_CDROM |
 * VDISK_REMOVABLE | VDISK_READONLY (info 7); the guest reads the image's bytes, on each ABI, and a
 * write gets an error response while the image stays byte-identical; no discard is offered.
 */
class CdromE2ETest {
    private static AbiGuests guests;
    private static Dist dist;
    private static Dist.Guest g64;
    private static Dist.Guest g32;

    @BeforeAll
    static void startGuests() throws Exception {
        guests = AbiGuests.start("cd");
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
    void anIsoIsAReadOnlyCdromTheGuestReads(String abi) throws Exception {
        Dist.Guest g = guests.of(abi);
        Path iso = Images.sparse(dist.dir.resolve("tools-" + abi + ".iso"), 8L << 20, null);
        Images.writePattern(iso, 0, 8 << 20, 61);
        String sha = Images.sha256(iso);
        Dist.Result c = dist.cli("connect", g.name(), "--vdev", "xvdd", "--path", iso.toString(), "--cdrom");
        assertEquals(0, c.exit(), c.toString());
        assertTrue(c.out().contains("; read-only"), c.toString());
        dist.awaitConnected(g, "xvdd");
        assertEquals("cdrom", dist.xsRead(g.frontend("xvdd") + "/device-type"));
        assertEquals("cdrom", dist.xsRead(g.backend("xvdd") + "/device-type"));
        assertEquals("r", dist.xsRead(g.backend("xvdd") + "/mode"));
        assertEquals("7", dist.xsRead(g.backend("xvdd") + "/info"), "VDISK_CDROM | VDISK_REMOVABLE | VDISK_READONLY");
        assertEquals("1", dist.xsRead(g.backend("xvdd") + "/removable"));
        assertFalse(dist.xsExists(g.backend("xvdd") + "/feature-discard"));

        Dist.Result v = dist.simRun(g, "xvdd", "verify", "--read-only", "--size", "8M", "--seed", "61");
        assertEquals(0, v.exit(), v.toString());
        assertTrue(v.out().strip().endsWith(" OK"), v.toString());
        Dist.Result w = dist.simRun(g, "xvdd", "hostile", "write-read-only");
        assertEquals(0, w.exit(), w.toString());
        assertTrue(w.out().contains("hostile write-read-only PASS error response status -1"), w.toString());
        Map<String, Long> counters = Dist.counters(dist.listLine(g.vbd("xvdd")));
        assertEquals(1L, counters.get("rejected-read-only"), counters.toString());
        assertEquals(0, dist.cli("disconnect", g.name(), "xvdd").exit());
        assertEquals(sha, Images.sha256(iso), "the ISO image is byte-identical");
    }
}
