package io.xendisk.xen;

import java.nio.ByteBuffer;

/** Pages of another domain mapped into this process; {@link #close()} unmaps them. */
public interface GrantMapping extends AutoCloseable {
    /** The mapped pages, contiguous, {@code pages * XenPage.SIZE} bytes. Invalid after close. */
    ByteBuffer buffer();

    int pages();

    /** Page {@code i} of the mapping, 4096 bytes from index 0. */
    default ByteBuffer page(int i) {
        ByteBuffer b = buffer();
        return b.slice(i * XenPage.SIZE, XenPage.SIZE).order(b.order());
    }

    @Override
    void close();
}
