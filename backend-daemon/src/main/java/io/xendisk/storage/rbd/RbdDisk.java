package io.xendisk.storage.rbd;

import com.sun.jna.CallbackThreadInitializer;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

import io.xendisk.os.BufferAddresses;
import io.xendisk.os.LibC;
import io.xendisk.storage.Capabilities;
import io.xendisk.storage.IoEngine;
import io.xendisk.storage.IoRequest;
import io.xendisk.storage.Storage;
import io.xendisk.storage.StorageException;

import java.nio.ByteBuffer;
import java.util.concurrent.ArrayBlockingQueue;

/**
 * An RBD image on the backend's face: every request is one {@code rbd_aio_*}
 * call and completes from librbd's callback, so a ring keeps as many in
 * flight as it has; librbd spreads them over the image's objects and OSDs.
 *
 * <p>The data comes as one buffer (not vectored), which librbd reads from or
 * writes into directly. Each request in flight has an {@link Op}, taken from a
 * fixed set and given back on completion; its index is the completion's
 * argument, so a request allocates nothing on either side.
 */
final class RbdDisk implements IoEngine {
    /** Requests in flight at most per disk; a ring waits for an Op beyond that. */
    static final int MAX_IN_FLIGHT = 1024;
    private static final int ADDRESS_CACHE_MAX = 4096;

    private final RbdImage image;
    private final long handle;
    private final Capabilities caps;
    private final Op[] ops = new Op[MAX_IN_FLIGHT];
    private final ArrayBlockingQueue<Op> free = new ArrayBlockingQueue<>(MAX_IN_FLIGHT);
    /** Where each Op's rbd_aio_create_completion puts the completion: 8 bytes per Op. */
    private final Memory completions = new Memory(8L * MAX_IN_FLIGHT);
    private final Librbd.Completed completed = this::completed;
    private final ThreadLocal<BufferAddresses> addresses =
            ThreadLocal.withInitial(() -> new BufferAddresses(ADDRESS_CACHE_MAX));
    /** Once a flush failed, none succeeds again: what it should have made durable may be lost. */
    private volatile String flushFailed;

    RbdDisk(RbdImage image) {
        this.image = image;
        this.handle = image.handle();
        boolean ro = image.readOnly();
        this.caps = new Capabilities(ro, true, false, !ro);
        for (int i = 0; i < MAX_IN_FLIGHT; i++) {
            ops[i] = new Op(i);
            free.add(ops[i]);
        }
        // librbd's completion threads live as long as the image: keep them attached to the JVM
        Native.setCallbackThreadInitializer(completed, new CallbackThreadInitializer(true, false, "rbd-completion"));
    }

    @Override
    public long sizeBytes() {
        return image.size() & ~(long) (Storage.SECTOR_SIZE - 1);
    }

    @Override
    public Capabilities capabilities() {
        return caps;
    }

    @Override
    public Submission submit(IoRequest r) {
        long offset = r.sector() << Storage.SECTOR_SHIFT;
        switch (r.op()) {
            case FLUSH -> {
                if (flushFailed != null) {
                    throw new StorageException(null, "an earlier flush of " + image.location() + " failed ("
                            + flushFailed + "); no flush succeeds until the disk is disconnected and connected again");
                }
            }
            case DISCARD -> {
                if (!caps.discard()) {
                    return Submission.EXECUTED; // advisory
                }
            }
            default -> {
            }
        }
        Op op = take();
        long completion = op.completion(completed);
        op.request = r; // before the call: the callback may come before it returns
        int rc = switch (r.op()) {
            case READ -> Librbd.Aio.rbd_aio_read(handle, offset, r.sectors() << Storage.SECTOR_SHIFT, address(r),
                    completion);
            case WRITE -> Librbd.Aio.rbd_aio_write(handle, offset, r.sectors() << Storage.SECTOR_SHIFT, address(r),
                    completion);
            case FLUSH -> Librbd.Aio.rbd_aio_flush(handle, completion);
            case DISCARD -> Librbd.Aio.rbd_aio_discard(handle, offset, r.sectors() << Storage.SECTOR_SHIFT,
                    completion);
        };
        if (rc < 0) {
            Librbd.Aio.rbd_aio_release(completion);
            op.request = null;
            free.add(op);
            throw failure(r, rc);
        }
        return Submission.SUBMITTED;
    }

    private Op take() {
        Op op = free.poll();
        if (op != null) {
            return op;
        }
        try {
            return free.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException(null, "RBD image " + image.location() + ": interrupted waiting for one of "
                    + MAX_IN_FLIGHT + " requests in flight to end");
        }
    }

    /** The address of the request's data: one direct buffer, position..limit. */
    private long address(IoRequest r) {
        ByteBuffer b = r.buffer();
        long base = b == null ? 0 : addresses.get().of(b);
        if (base == 0) {
            // a backend that hands pieces, or a heap buffer, to this engine is a bug of ours
            throw new IllegalStateException("the rbd engine takes a request's data as one direct buffer, got "
                    + (b == null ? r.pieces() + " pieces" : "a heap buffer"));
        }
        return base + b.position();
    }

    /** librbd's callback, on one of its threads: the request of Op {@code arg} ended. */
    private void completed(long completion, long arg) {
        long rc = Librbd.Aio.rbd_aio_get_return_value(completion);
        Librbd.Aio.rbd_aio_release(completion);
        Op op = ops[(int) arg];
        IoRequest r = op.request;
        op.request = null;
        free.add(op);
        StorageException e = null;
        if (rc < 0) {
            e = failure(r, (int) rc);
        } else if (r.op() == IoRequest.Op.READ && rc != r.sectors() << Storage.SECTOR_SHIFT) {
            e = new StorageException(null, "RBD image " + image.location() + ": reading at sector " + r.sector()
                    + " returned " + rc + " of " + (r.sectors() << Storage.SECTOR_SHIFT) + " bytes");
        }
        r.complete(e);
    }

    private StorageException failure(IoRequest r, int rc) {
        String doing = switch (r.op()) {
            case READ -> "reading";
            case WRITE -> "writing";
            case FLUSH -> "flushing";
            case DISCARD -> "discarding";
        };
        StorageException e = new StorageException(null, "RBD image " + image.location() + ": " + doing
                + (r.op() == IoRequest.Op.FLUSH ? "" : " at sector " + r.sector()) + " failed: " + LibC.describe(-rc));
        if (r.op() == IoRequest.Op.FLUSH) {
            flushFailed = e.getMessage();
        }
        return e;
    }

    /** One request in flight: its index is the completion's argument. */
    private final class Op {
        final int index;
        volatile IoRequest request;

        Op(int index) {
            this.index = index;
        }

        /** A new librbd completion that reports to {@code callback} with this Op's index. */
        long completion(Librbd.Completed callback) {
            long out = Pointer.nativeValue(completions) + 8L * index;
            int rc = Librbd.Aio.rbd_aio_create_completion(index, callback, out);
            if (rc < 0) {
                free.add(this);
                throw new StorageException(null, "RBD image " + image.location() + ": no completion: "
                        + LibC.describe(-rc));
            }
            return completions.getLong(8L * index);
        }
    }

    @Override
    public void close() {
        image.close();
    }

    @Override
    public String toString() {
        return image.location().toString();
    }
}
