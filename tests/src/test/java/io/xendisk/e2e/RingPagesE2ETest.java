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
 * Multi-page rings through the product's doors: the daemon offers max-ring-page-order 4 by
 * default, a simulated guest started with {@code --ring-page-order 4} (as a Linux domU booted
 * with xen_blkfront.max_ring_page_order=4) sets up a 16-page ring of 512 slots on each ABI,
 * and a verify with 512 requests in flight leaves its pattern in the image.
 */
class RingPagesE2ETest {
    private static AbiGuests guests;
    private static Dist dist;
    private static Dist.Guest g64;
    private static Dist.Guest g32;

    @BeforeAll
    static void startGuests() throws Exception {
        // 512 slots of 32-segment requests: 64 MiB of data pages
        guests = AbiGuests.start("ring", new String[] {"--ring-page-order", "4", "--memory-mib", "96"},
                new String[] {"--ring-page-order", "4", "--max-indirect-segments", "0"});
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
    void aSixteenPageRingCarries512RequestsAtOnce(String abi) throws Exception {
        Dist.Guest g = guests.of(abi);
        Path img = Images.sparse(dist.dir.resolve("ring-" + abi + ".img"), 16L << 20, null);
        Dist.Result c = dist.cli("connect", g.name(), "--vdev", "xvdb", "--path", img.toString(), "--storage", "file");
        assertEquals(0, c.exit(), c.toString());
        try {
            dist.awaitConnected(g, "xvdb");
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "\n--- daemon log\n" + dist.daemonLog() + "\n--- guest log\n"
                    + java.nio.file.Files.readString(dist.logDir.resolve("guest-" + g.name() + ".log")), e);
        }
        assertEquals("4", dist.xsRead(g.backend("xvdb") + "/max-ring-page-order"));
        assertEquals("4", dist.xsRead(g.frontend("xvdb") + "/ring-page-order"));
        for (int i = 0; i < 16; i++) {
            assertTrue(dist.xsExists(g.frontend("xvdb") + "/ring-ref" + i), "ring-ref" + i);
        }
        assertFalse(dist.xsExists(g.frontend("xvdb") + "/ring-ref"), "no one-page ring-ref beside them");

        Dist.Result v = dist.simRun(g, "xvdb", "verify", "--size", "8M", "--bs", "4k", "--qd", "512", "--seed", "16");
        assertEquals(0, v.exit(), v.toString());
        assertTrue(v.out().strip().endsWith(" OK"), v.toString());
        Map<String, Long> counters = Dist.counters(dist.listLine(g.vbd("xvdb")));
        assertEquals(0L, counters.get("errors"), counters.toString());
        assertEquals(8L << 20, counters.get("write-bytes"), counters.toString());
        assertEquals(0, dist.cli("disconnect", g.name(), "xvdb").exit());
        Images.assertPattern(img, 0, 8 << 20, 16);
    }
}
