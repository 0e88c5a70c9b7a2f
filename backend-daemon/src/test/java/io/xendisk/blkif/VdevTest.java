package io.xendisk.blkif;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Numbers from xen-vbd-interface(7) and PROTOCOL.md §2.5. */
class VdevTest {
    @Test
    void knownNumbers() {
        assertEquals(51712, Vdev.devid("xvda"));
        assertEquals(51728, Vdev.devid("xvdb"));
        assertEquals(51713, Vdev.devid("xvda1"));
        assertEquals(51728, Vdev.devid("d1"));
        assertEquals(51729, Vdev.devid("d1p1"));
        assertEquals(768, Vdev.devid("hda"));
        assertEquals(832, Vdev.devid("hdb"));
        assertEquals(5632, Vdev.devid("hdc"));
        assertEquals(2048, Vdev.devid("sda"));
        assertEquals((1 << 28) | (16 << 8), Vdev.devid("xvdq"));
        assertEquals((1 << 28) | (26 << 8), Vdev.devid("xvdaa"));
        assertEquals(51728, Vdev.devid("51728"));
    }

    @Test
    void namesRoundTrip() {
        for (int d = 0; d < 800; d++) {
            String n = Vdev.xvdName(d);
            int id = Vdev.devid(n);
            assertEquals(d <= 15 ? (202 << 8) | (d << 4) : (1 << 28) | (d << 8), id, n);
        }
        assertEquals("xvdaa", Vdev.xvdName(26));
        assertEquals("xvdb", Vdev.name(51728));
        assertEquals("xvdb1", Vdev.name(51729));
        assertEquals("xvdaa", Vdev.name(Vdev.devid("xvdaa")));
        assertEquals("768", Vdev.name(768));
    }

    @Test
    void badNamesAreRefusedByName() {
        for (String bad : new String[] {"", "xvd", "xvdB", "vda", "xvdb0", "-1", "0", "hde", "sdq", "xvda1000"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Vdev.devid(bad), bad);
            assertEquals(true, e.getMessage().contains("'" + bad + "'"), e.getMessage());
        }
    }
}
