package io.xendisk.xen.real;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.junit.jupiter.api.Test;

import com.sun.jna.Memory;

/** The segment array must match xengnttab.h byte for byte (offsets checked with gcc on x86_64). */
class CopySegmentLayoutTest {
    private static ByteBuffer bytes(Memory m) {
        return m.getByteBuffer(0, m.size()).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void fromGuestPutsTheGrantInSourceAndTheAddressInDest() {
        Memory m = new Memory(3 * CopySegmentLayout.SIZE);
        m.clear();
        CopySegmentLayout.put(m, 1, 0x1234, 0xCAFEBABE, 512, 3584, false, 0x7F00_1122_3344_5000L);
        ByteBuffer b = bytes(m);
        int o = 24;
        assertEquals(0xCAFEBABE, b.getInt(o));                         // source.foreign.ref
        assertEquals(512, b.getShort(o + 4));                          // source.foreign.offset
        assertEquals(0x1234, b.getShort(o + 6));                       // source.foreign.domid
        assertEquals(0x7F00_1122_3344_5000L, b.getLong(o + 8));        // dest.virt
        assertEquals(3584, b.getShort(o + 16));                        // len
        assertEquals(1, b.getShort(o + 18));                           // flags = GNTCOPY_source_gref
        assertEquals(1, b.getShort(o + 20));                           // status: untouched marker
        for (int i = 0; i < 24; i++) {
            assertEquals(0, b.get(i), "segment 0 untouched at " + i);
            assertEquals(0, b.get(48 + i), "segment 2 untouched at " + i);
        }
    }

    @Test
    void toGuestPutsTheAddressInSourceAndTheGrantInDest() {
        Memory m = new Memory(CopySegmentLayout.SIZE);
        CopySegmentLayout.put(m, 0, 5, 77, 0, 4096, true, 0x1000L);
        ByteBuffer b = bytes(m);
        assertEquals(0x1000L, b.getLong(0));        // source.virt
        assertEquals(77, b.getInt(8));              // dest.foreign.ref
        assertEquals(0, b.getShort(12));            // dest.foreign.offset
        assertEquals(5, b.getShort(14));            // dest.foreign.domid
        assertEquals(4096, b.getShort(16) & 0xFFFF);
        assertEquals(2, b.getShort(18));            // flags = GNTCOPY_dest_gref
        assertEquals(0, b.getShort(22));            // padding cleared
    }

    @Test
    void statusIsReadFromOffset20() {
        Memory m = new Memory(2 * CopySegmentLayout.SIZE);
        m.clear();
        m.setShort(24 + 20, (short) -3);
        assertEquals(-3, CopySegmentLayout.status(m, 1));
        assertEquals(0, CopySegmentLayout.status(m, 0));
    }
}
