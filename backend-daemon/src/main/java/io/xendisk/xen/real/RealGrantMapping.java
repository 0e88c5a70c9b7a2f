package io.xendisk.xen.real;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicBoolean;

import com.sun.jna.Pointer;

import io.xendisk.xen.GrantMapping;
import io.xendisk.xen.XenPage;

/** Pages of a guest mapped through gntdev; close() unmaps them (xengnttab_unmap). */
final class RealGrantMapping implements GrantMapping {
    private final RealGrantTable table;
    private final Pointer address;
    private final int pages;
    private final ByteBuffer buffer;
    private final String what;
    private final AtomicBoolean closed = new AtomicBoolean();

    RealGrantMapping(RealGrantTable table, Pointer address, int pages, String what) {
        this.table = table;
        this.address = address;
        this.pages = pages;
        this.buffer = address.getByteBuffer(0, (long) pages * XenPage.SIZE);
        this.what = what;
    }

    @Override
    public ByteBuffer buffer() {
        return buffer;
    }

    @Override
    public int pages() {
        return pages;
    }

    long address() {
        return Pointer.nativeValue(address);
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            table.unmap(address, pages, what);
        }
    }
}
