package io.xendisk.os;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;

import org.junit.jupiter.api.Test;

class BufferAddressesTest {
    @Test
    void theAddressOfIndexZeroWhateverThePositionAndNoneForAHeapBuffer() {
        BufferAddresses a = new BufferAddresses(4);
        ByteBuffer slab = ByteBuffer.allocateDirect(8192);
        ByteBuffer slice = slab.slice(4096, 4096);
        long base = a.of(slab);
        assertNotEquals(0, base);
        assertEquals(base + 4096, a.of(slice));
        slice.position(100);
        assertEquals(base + 4096, a.of(slice));
        assertEquals(0, a.of(ByteBuffer.allocate(16)));
    }

    @Test
    void pastItsSizeItStartsOver() {
        BufferAddresses a = new BufferAddresses(2);
        ByteBuffer x = ByteBuffer.allocateDirect(16);
        a.of(x);
        a.of(ByteBuffer.allocateDirect(16));
        assertEquals(2, a.size());
        a.of(ByteBuffer.allocateDirect(16));
        assertEquals(1, a.size());
        a.clear();
        assertEquals(0, a.size());
        assertThrows(IllegalArgumentException.class, () -> new BufferAddresses(0));
    }
}
