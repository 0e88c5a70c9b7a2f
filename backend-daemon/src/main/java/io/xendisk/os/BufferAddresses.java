package io.xendisk.os;

import java.nio.ByteBuffer;
import java.util.IdentityHashMap;

import com.sun.jna.Native;
import com.sun.jna.Pointer;

/**
 * The native addresses of direct buffers, remembered per buffer: a native
 * call that reaches a buffer's memory (a grant copy, a preadv) needs its
 * address, and asking JNI for it every time costs more than the lookup. A
 * ring sees a bounded set of buffers (its bounce slab's slices, the guest's
 * mapped pages, an image's chunks), so the map stays small; past {@code max}
 * entries it starts over rather than grow. One per thread: not thread-safe.
 */
public final class BufferAddresses {
    private final int max;
    private final IdentityHashMap<ByteBuffer, Long> addresses = new IdentityHashMap<>();

    /** @param max how many buffers to remember before forgetting them all */
    public BufferAddresses(int max) {
        if (max < 1) {
            throw new IllegalArgumentException("buffer address cache: at least 1 entry, not " + max);
        }
        this.max = max;
    }

    /**
     * The address of index 0 of {@code buf} (JNI GetDirectBufferAddress,
     * whatever the buffer's position); 0 for a buffer that is not direct.
     */
    public long of(ByteBuffer buf) {
        if (!buf.isDirect()) {
            return 0;
        }
        Long a = addresses.get(buf);
        if (a != null) {
            return a;
        }
        Pointer p = Native.getDirectBufferPointer(buf);
        if (p == null) {
            return 0;
        }
        long v = Pointer.nativeValue(p);
        if (addresses.size() >= max) {
            addresses.clear();
        }
        addresses.put(buf, v);
        return v;
    }

    /** Forgets every buffer (their memory may be unmapped after this). */
    public void clear() {
        addresses.clear();
    }

    /** How many buffers are remembered now. */
    public int size() {
        return addresses.size();
    }
}
