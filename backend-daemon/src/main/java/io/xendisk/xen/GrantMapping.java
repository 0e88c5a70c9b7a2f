package io.xendisk.xen;

import java.nio.ByteBuffer;

/** Pages of another domain mapped into this process; {@link #close()} unmaps them. */
public interface GrantMapping extends AutoCloseable {
    /** The mapped pages, contiguous, {@code pages * XenPage.SIZE} bytes. Invalid after close. */
    ByteBuffer buffer();

    int pages();

    @Override
    void close();
}
