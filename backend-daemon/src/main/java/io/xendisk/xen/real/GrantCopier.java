package io.xendisk.xen.real;

import java.nio.ByteBuffer;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;

import io.xendisk.os.BufferAddresses;
import io.xendisk.xen.GrantCopyBatch;

/**
 * Turns a {@link GrantCopyBatch} into a native array of
 * {@code xengnttab_grant_copy_segment}s, runs one native copy over it and
 * copies each segment's status back. One per ring thread: the segment array
 * and the local buffers' addresses are kept between batches, so a batch
 * allocates nothing once the buffers have been seen.
 *
 * <p>The local side is checked here (the kernel would happily copy into any
 * of our memory) by {@link GrantCopyBatch#localUsable}, and must be a direct
 * buffer. Such segments fail with GNTST_general_error and are not passed to
 * the kernel.
 */
final class GrantCopier {
    /** What runs the copy: {@code xengnttab_grant_copy(h, count, segs)}; 0 on success. */
    @FunctionalInterface
    interface NativeCopy {
        int copy(Pointer segs, int count);
    }

    /** Buffers whose addresses we remember; a ring uses a few (bounce slab slices, image chunks). */
    private static final int ADDRESS_CACHE_MAX = 4096;

    private final BufferAddresses addresses = new BufferAddresses(ADDRESS_CACHE_MAX);
    private Memory segs;
    private int[] batchIndex;
    /** errno-like detail of the last failed call, for logs. */
    private int lastRc;

    GrantCopier(int initialCapacity) {
        ensure(Math.max(1, initialCapacity));
    }

    private void ensure(int n) {
        if (segs == null || batchIndex.length < n) {
            int cap = Math.max(n, segs == null ? 0 : batchIndex.length * 2);
            segs = new Memory((long) cap * CopySegmentLayout.SIZE);
            segs.clear();
            batchIndex = new int[cap];
        }
    }

    /** The native address of a direct buffer's index 0; remembered per buffer. */
    long address(ByteBuffer buf) {
        return addresses.of(buf);
    }

    /** Forgets the remembered buffers (their memory may be unmapped after this). */
    void forgetBuffers() {
        addresses.clear();
    }

    /**
     * Packs, copies and unpacks the batch.
     * @return how many segments failed
     */
    int run(GrantCopyBatch batch, NativeCopy call) {
        int count = batch.count();
        if (count == 0) {
            return 0;
        }
        ensure(count);
        int failed = 0;
        int n = 0;
        for (int i = 0; i < count; i++) {
            ByteBuffer local = batch.local(i);
            int off = batch.localOffset(i);
            int len = batch.len(i);
            boolean toGuest = batch.toGuest(i);
            long base = local != null && local.isDirect() ? address(local) : 0;
            if (base == 0 || !batch.localUsable(i)) {
                batch.setStatus(i, GrantCopyBatch.GNTST_GENERAL_ERROR);
                failed++;
                continue;
            }
            CopySegmentLayout.put(segs, n, batch.domid(i), batch.gref(i), batch.pageOffset(i), len, toGuest, base + off);
            batchIndex[n++] = i;
        }
        if (n == 0) {
            return failed;
        }
        int rc = call.copy(segs, n);
        lastRc = rc;
        for (int k = 0; k < n; k++) {
            short st = rc != 0 ? GrantCopyBatch.GNTST_GENERAL_ERROR : CopySegmentLayout.status(segs, k);
            if (st == CopySegmentLayout.STATUS_UNTOUCHED || st > 0) {
                st = GrantCopyBatch.GNTST_GENERAL_ERROR;
            }
            batch.setStatus(batchIndex[k], st);
            if (st != GrantCopyBatch.GNTST_OKAY) {
                failed++;
            }
        }
        return failed;
    }

    int lastRc() {
        return lastRc;
    }
}
