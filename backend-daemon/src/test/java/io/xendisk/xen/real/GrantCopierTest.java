package io.xendisk.xen.real;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;

import org.junit.jupiter.api.Test;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;

import io.xendisk.xen.GrantCopyBatch;

/**
 * The copier against a fake gntdev that does what the kernel does with the
 * packed segments: resolve the grant (here: page {@code ref} of a fake
 * guest, domain {@value #GUEST}), copy between it and the local address.
 * This checks the packing and the local addresses together.
 */
class GrantCopierTest {
    private static final int GUEST = 9;
    private static final int PAGES = 8;
    private final Memory guest = new Memory(PAGES * 4096L);

    /** The fake kernel: GNTST_bad_domain / bad_gntref like Xen, copies otherwise. */
    private int fakeGntdev(Pointer segs, int count) {
        for (int i = 0; i < count; i++) {
            long o = (long) i * CopySegmentLayout.SIZE;
            short flags = segs.getShort(o + CopySegmentLayout.FLAGS);
            int len = segs.getShort(o + CopySegmentLayout.LEN) & 0xFFFF;
            boolean toGuest = flags == CopySegmentLayout.GNTCOPY_DEST_GREF;
            long foreign = o + (toGuest ? CopySegmentLayout.DEST : CopySegmentLayout.SOURCE);
            long local = o + (toGuest ? CopySegmentLayout.SOURCE : CopySegmentLayout.DEST);
            int ref = segs.getInt(foreign);
            int off = segs.getShort(foreign + 4) & 0xFFFF;
            int domid = segs.getShort(foreign + 6) & 0xFFFF;
            short status = 0;
            if (domid != GUEST) {
                status = GrantCopyBatch.GNTST_BAD_DOMAIN;
            } else if (ref < 0 || ref >= PAGES) {
                status = GrantCopyBatch.GNTST_BAD_GNTREF;
            } else {
                Pointer virt = new Pointer(segs.getLong(local));
                byte[] tmp = new byte[len];
                if (toGuest) {
                    virt.read(0, tmp, 0, len);
                    guest.write(ref * 4096L + off, tmp, 0, len);
                } else {
                    guest.read(ref * 4096L + off, tmp, 0, len);
                    virt.write(0, tmp, 0, len);
                }
            }
            segs.setShort(o + CopySegmentLayout.STATUS, status);
        }
        return 0;
    }

    private void fillGuest() {
        for (long i = 0; i < guest.size(); i++) {
            guest.setByte(i, (byte) (i * 7 + 3));
        }
    }

    @Test
    void copiesFromGuestPagesToAbsoluteOffsetsOfSlices() {
        fillGuest();
        ByteBuffer slab = ByteBuffer.allocateDirect(4 * 4096);
        ByteBuffer slot1 = slab.slice(2 * 4096, 2 * 4096);
        slot1.position(100).limit(200); // position and limit must not matter: offsets are absolute
        GrantCopyBatch b = new GrantCopyBatch(4);
        b.add(GUEST, 3, 512, 3584, false, slot1, 0);
        b.add(GUEST, 5, 0, 4096, false, slot1, 3584);
        GrantCopier c = new GrantCopier(1);
        assertEquals(0, c.run(b, this::fakeGntdev));
        for (int i = 0; i < 3584; i++) {
            assertEquals(guest.getByte(3 * 4096L + 512 + i), slab.get(2 * 4096 + i));
        }
        for (int i = 0; i < 4096; i++) {
            assertEquals(guest.getByte(5 * 4096L + i), slab.get(2 * 4096 + 3584 + i));
        }
        assertEquals(0, slab.get(0));
        assertEquals(GrantCopyBatch.GNTST_OKAY, b.status(0));
    }

    @Test
    void copiesToGuestFromALocalOffset() {
        guest.clear();
        ByteBuffer buf = ByteBuffer.allocateDirect(8192);
        for (int i = 0; i < 8192; i++) {
            buf.put(i, (byte) (i ^ 0x5A));
        }
        GrantCopyBatch b = new GrantCopyBatch(1);
        b.add(GUEST, 2, 1024, 2048, true, buf, 5000);
        assertEquals(0, new GrantCopier(1).run(b, this::fakeGntdev));
        for (int i = 0; i < 2048; i++) {
            assertEquals(buf.get(5000 + i), guest.getByte(2 * 4096L + 1024 + i));
        }
        assertEquals(0, guest.getByte(2 * 4096L + 1023));
    }

    @Test
    void perSegmentStatusesComeBackAndBadLocalRangesNeverReachTheKernel() {
        ByteBuffer buf = ByteBuffer.allocateDirect(4096);
        ByteBuffer ro = ByteBuffer.allocateDirect(4096).asReadOnlyBuffer();
        GrantCopyBatch b = new GrantCopyBatch(6);
        b.add(GUEST, 1, 0, 512, false, buf, 0);                      // ok
        b.add(GUEST, 99, 0, 512, false, buf, 512);                   // bad gref (kernel)
        b.add(GUEST + 1, 1, 0, 512, false, buf, 1024);               // bad domain (kernel)
        b.add(GUEST, 1, 0, 512, false, buf, 4000);                   // past the local buffer
        b.add(GUEST, 1, 0, 512, false, ro, 0);                       // guest data into a read-only buffer
        b.add(GUEST, 1, 0, 512, false, ByteBuffer.allocate(4096), 0); // not a direct buffer
        int[] seen = new int[1];
        int failed = new GrantCopier(2).run(b, (segs, n) -> {
            seen[0] = n;
            return fakeGntdev(segs, n);
        });
        assertEquals(3, seen[0], "only the three well-formed segments are passed on");
        assertEquals(5, failed);
        assertEquals(GrantCopyBatch.GNTST_OKAY, b.status(0));
        assertEquals(GrantCopyBatch.GNTST_BAD_GNTREF, b.status(1));
        assertEquals(GrantCopyBatch.GNTST_BAD_DOMAIN, b.status(2));
        for (int i = 3; i < 6; i++) {
            assertEquals(GrantCopyBatch.GNTST_GENERAL_ERROR, b.status(i));
        }
    }

    @Test
    void aFailedCallOrAnUntouchedSegmentFails() {
        ByteBuffer buf = ByteBuffer.allocateDirect(4096);
        GrantCopyBatch b = new GrantCopyBatch(2);
        b.add(GUEST, 1, 0, 512, false, buf, 0);
        b.add(GUEST, 1, 0, 512, false, buf, 512);
        GrantCopier c = new GrantCopier(2);
        assertEquals(2, c.run(b, (segs, n) -> -1));
        assertEquals(GrantCopyBatch.GNTST_GENERAL_ERROR, b.status(0));
        // the kernel answered 0 but wrote no status for the second segment
        assertEquals(1, c.run(b, (segs, n) -> {
            segs.setShort(CopySegmentLayout.STATUS, (short) 0);
            return 0;
        }));
        assertEquals(GrantCopyBatch.GNTST_OKAY, b.status(0));
        assertEquals(GrantCopyBatch.GNTST_GENERAL_ERROR, b.status(1));
    }

    @Test
    void growsForLargerBatches() {
        fillGuest();
        ByteBuffer buf = ByteBuffer.allocateDirect(64 * 512);
        GrantCopyBatch b = new GrantCopyBatch(64);
        for (int i = 0; i < 64; i++) {
            b.add(GUEST, i % PAGES, 512 * (i % 8), 512, false, buf, i * 512);
        }
        assertEquals(0, new GrantCopier(4).run(b, this::fakeGntdev));
        assertEquals(guest.getByte(7 * 4096L + 3584 + 10), buf.get(63 * 512 + 10));
    }

    @Test
    void aWarmBatchAllocatesNothing() {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        ByteBuffer slab = ByteBuffer.allocateDirect(16 * 4096);
        ByteBuffer[] slots = new ByteBuffer[4];
        for (int i = 0; i < 4; i++) {
            slots[i] = slab.slice(i * 4 * 4096, 4 * 4096);
        }
        GrantCopyBatch b = new GrantCopyBatch(44);
        GrantCopier c = new GrantCopier(44);
        GrantCopier.NativeCopy ok = (segs, n) -> {
            for (int i = 0; i < n; i++) {
                segs.setShort((long) i * CopySegmentLayout.SIZE + CopySegmentLayout.STATUS, (short) 0);
            }
            return 0;
        };
        Runnable one = () -> {
            b.clear();
            for (int s = 0; s < 44; s++) {
                b.add(GUEST, s, 0, 4096, (s & 1) == 0, slots[s & 3], (s >> 2) % 4 * 4096);
            }
            c.run(b, ok);
        };
        for (int i = 0; i < 20_000; i++) {
            one.run();
        }
        long tid = Thread.currentThread().getId();
        long before = mx.getThreadAllocatedBytes(tid);
        for (int i = 0; i < 10_000; i++) {
            one.run();
        }
        long allocated = mx.getThreadAllocatedBytes(tid) - before;
        assertTrue(allocated < 64 * 1024, "10000 batches allocated " + allocated + " bytes");
    }
}
