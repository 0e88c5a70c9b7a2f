package io.xendisk.xen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;

import org.junit.jupiter.api.Test;

class GrantCopyBatchTest {
    @Test
    void theRangeRule() {
        assertTrue(GrantCopyBatch.inRange(0, 4096, 4096));
        assertTrue(GrantCopyBatch.inRange(4095, 1, 4096));
        assertFalse(GrantCopyBatch.inRange(4095, 2, 4096));
        assertFalse(GrantCopyBatch.inRange(-1, 1, 4096));
        assertFalse(GrantCopyBatch.inRange(0, 0, 4096));
        assertFalse(GrantCopyBatch.inRange(0, -1, 4096));
        assertFalse(GrantCopyBatch.inRange(4096, 1, 4096));
        // offset + len would overflow to a negative number
        assertFalse(GrantCopyBatch.inRange(Integer.MAX_VALUE, 1, 4096));
        assertFalse(GrantCopyBatch.inRange(1, Integer.MAX_VALUE, 4096));
    }

    @Test
    void aSegmentPastItsPageIsRefusedWhenAdded() {
        GrantCopyBatch b = new GrantCopyBatch(4);
        ByteBuffer buf = ByteBuffer.allocateDirect(8192);
        b.add(1, 2, 512, 3584, false, buf, 0);
        for (int[] bad : new int[][] {{512, 3585}, {-1, 16}, {0, 0}, {Integer.MAX_VALUE, 2}}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> b.add(1, 2, bad[0], bad[1], false, buf, 0));
            assertEquals("segment exceeds its page: offset " + bad[0] + " len " + bad[1], e.getMessage());
        }
        assertEquals(1, b.count());
    }

    @Test
    void theLocalSideIsAbsoluteUpToTheCapacityAndNeverIntoAReadOnlyBuffer() {
        ByteBuffer buf = ByteBuffer.allocateDirect(8192);
        buf.position(10).limit(20);
        ByteBuffer ro = ByteBuffer.allocateDirect(4096).asReadOnlyBuffer();
        GrantCopyBatch b = new GrantCopyBatch(6);
        b.add(1, 2, 0, 4096, false, buf, 4096);  // ends at the capacity
        b.add(1, 2, 0, 4096, false, buf, 4097);  // one past it
        b.add(1, 2, 0, 16, false, buf, -1);
        b.add(1, 2, 0, 16, false, ro, 0);        // guest data into a read-only buffer
        b.add(1, 2, 0, 16, true, ro, 0);         // a read-only buffer's data to the guest
        b.add(1, 2, 0, 16, true, null, 0);
        assertTrue(b.localUsable(0));
        assertFalse(b.localUsable(1));
        assertFalse(b.localUsable(2));
        assertFalse(b.localUsable(3));
        assertTrue(b.localUsable(4));
        assertFalse(b.localUsable(5));
    }
}
