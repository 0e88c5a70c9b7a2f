package io.xendisk.backend;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.junit.jupiter.api.Test;

import io.xendisk.blkif.Abi;
import io.xendisk.blkif.Blkif;
import io.xendisk.blkif.Request;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

/**
 * A ring offering 256 segments per request holds bounce buffers as large as the
 * requests it carried, not 1 MiB per entry: what a guest sending 128 KiB at most
 * (Linux blkfront's default) costs is 128 KiB per entry it used.
 */
class BouncePlacementTest {
    private static final Request.Limits LIMITS = new Request.Limits(1 << 21, false, false, 256);

    @Test
    void anEntrysBufferFollowsTheLargestRequestItCarried() {
        BouncePlacement bounce = new BouncePlacement(null, 4, 256);
        assertEquals(0, bounce.heldBytes(), "nothing before the first request");
        RingRequest r0 = request(0, 1);
        bounce.place(r0);
        assertEquals(64 << 10, bounce.heldBytes(), "a 4 KiB request: the 64 KiB floor");
        ByteBuffer first = r0.owned;
        RingRequest direct = request(0, 11);
        bounce.place(direct);
        assertSame(first, direct.owned, "44 KiB fits the same buffer");
        bounce.place(request(0, 32));
        assertEquals(128 << 10, bounce.heldBytes(), "128 KiB: grown once");
        bounce.place(request(1, 32));
        assertEquals(256 << 10, bounce.heldBytes(), "a second entry, 128 KiB");
        bounce.place(request(0, 256));
        assertEquals((1 << 20) + (128 << 10), bounce.heldBytes(), "1 MiB only for the entry that carried one");
        RingRequest small = request(0, 1);
        bounce.place(small);
        assertEquals(1 << 20, small.owned.capacity(), "never shrinks: no allocation once the largest was seen");
    }

    /** Pool entry {@code index} holding a READ of {@code segments} full pages (indirect past 11). */
    private static RingRequest request(int index, int segments) {
        RingRequest r = new RingRequest(index, 256, ByteBuffer.allocate(Blkif.indirectPages(256) * 4096), null);
        ByteBuffer slot = ByteBuffer.allocate(Abi.X86_64.stride).order(ByteOrder.LITTLE_ENDIAN);
        slot.put(Abi.OPERATION_OFFSET, (byte) Blkif.OP_INDIRECT).put(Abi.INDIRECT_OP_OFFSET, (byte) Blkif.OP_READ)
                .putShort(Abi.INDIRECT_NR_SEGMENTS_OFFSET, (short) segments).putLong(Abi.X86_64.idOffset, index);
        r.wire.parse(slot.array(), Abi.X86_64, LIMITS);
        ByteBuffer pages = ByteBuffer.allocate(Blkif.indirectPages(256) * 4096).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < segments; i++) {
            Abi.putSegment(pages, i * Abi.SEGMENT_SIZE, 100 + i, 0, 7);
        }
        r.wire.loadIndirectSegments(pages, 0, LIMITS);
        r.begin();
        assertEquals(segments * 4096, r.bytes());
        return r;
    }
}
