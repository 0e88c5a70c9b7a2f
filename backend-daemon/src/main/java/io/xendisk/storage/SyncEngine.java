package io.xendisk.storage;

import java.nio.ByteBuffer;

/**
 * A synchronous {@link Storage} on the backend's asynchronous face: every
 * operation is done on the submitting thread and answered
 * {@link IoEngine.Submission#EXECUTED}. The rings of a disk (its queues)
 * take turns: a Storage serves one thread at a time, so every call into it
 * holds this engine's lock.
 *
 * <p>A failed flush is sticky: once {@link Storage#flush()} has failed, every
 * later FLUSH of the disk fails too, until it is opened again. After a failed
 * fdatasync or msync the kernel may already have marked the pages it could not
 * write clean, so a second flush would succeed without the data (QEMU's
 * file-posix keeps failing for the same reason); a guest that was told its
 * data is safe must not be.
 *
 * <p>How the data reaches the storage follows from what it is: a
 * {@link VectoredStorage} takes the pieces as they are (the guest's pages), a
 * {@link MappedStorage} offers its memory as regions (the copy is the I/O), a
 * {@link MappedReads} offers them for reads only, any other gets one buffer
 * the request owns.
 */
public final class SyncEngine implements IoEngine {
    private final Storage storage;
    private final VectoredStorage vectored;
    private final MappedStorage mapped;
    private final MappedReads mappedReads;
    private final Capabilities caps;
    /** The first flush failure; every later flush fails with it. */
    private StorageException flushFailed;

    public SyncEngine(Storage storage) {
        this.storage = storage;
        this.vectored = storage instanceof VectoredStorage v ? v : null;
        this.mapped = storage instanceof MappedStorage m ? m : null;
        this.mappedReads = storage instanceof MappedReads m && m.readsMapped() ? m : null;
        this.caps = storage.capabilities().reachedAs(mapped != null, mappedReads != null, vectored != null);
    }

    /** The storage behind it, for tools that read a disk directly. */
    public Storage storage() {
        return storage;
    }

    @Override
    public long sizeBytes() {
        return storage.sizeBytes();
    }

    @Override
    public Capabilities capabilities() {
        return caps;
    }

    @Override
    public int discardGranularity() {
        return storage.discardGranularity();
    }

    @Override
    public int logicalBlockSize() {
        return storage.logicalBlockSize();
    }

    /** Under the lock every call takes, so no request of any ring sees the size change half way. */
    @Override
    public synchronized void grow(long newBytes) {
        storage.grow(newBytes);
    }

    @Override
    public Submission submit(IoRequest r) {
        if (r.inPlace() && r.op() == IoRequest.Op.READ) {
            return Submission.EXECUTED; // the backend copies out of the region itself: nothing to do or to lock
        }
        synchronized (this) {
            switch (r.op()) {
                case READ -> read(r);
                case WRITE -> write(r);
                case FLUSH -> flush();
                case DISCARD -> storage.discard(r.sector(), r.sectors());
                default -> throw new IllegalArgumentException("unknown operation " + r.op());
            }
        }
        return Submission.EXECUTED;
    }

    private void read(IoRequest r) {
        ByteBuffer b = r.buffer();
        if (b != null) {
            storage.read(r.sector(), b);
        } else if (vectored != null) {
            vectored.readv(r.sector(), r.pieceBuffers(), r.pieceOffsets(), r.pieceLengths(), r.pieces());
        } else {
            long s = r.sector();
            for (int i = 0; i < r.pieces(); i++) {
                storage.read(s, piece(r, i));
                s += r.pieceLengths()[i] >>> Storage.SECTOR_SHIFT;
            }
        }
    }

    private void write(IoRequest r) {
        if (r.inPlace()) {
            mapped.wrote(r.sector(), (int) (r.sectors() << Storage.SECTOR_SHIFT));
            return;
        }
        ByteBuffer b = r.buffer();
        if (b != null) {
            storage.write(r.sector(), b);
        } else if (vectored != null) {
            vectored.writev(r.sector(), r.pieceBuffers(), r.pieceOffsets(), r.pieceLengths(), r.pieces());
        } else {
            long s = r.sector();
            for (int i = 0; i < r.pieces(); i++) {
                storage.write(s, piece(r, i));
                s += r.pieceLengths()[i] >>> Storage.SECTOR_SHIFT;
            }
        }
    }

    private void flush() {
        if (flushFailed != null) {
            throw new StorageException(flushFailed.image(), "an earlier flush of " + storage + " failed ("
                    + flushFailed.getMessage() + "); data written before it may not be on disk, so no flush"
                    + " succeeds until the disk is disconnected and connected again (check the storage first)",
                    flushFailed);
        }
        try {
            storage.flush();
        } catch (StorageException e) {
            flushFailed = e;
            throw e;
        }
    }

    /** A view of one piece, for a storage that can neither take pieces nor was given one buffer (not the hot path). */
    private static ByteBuffer piece(IoRequest r, int i) {
        int off = r.pieceOffsets()[i];
        return r.pieceBuffers()[i].duplicate().clear().position(off).limit(off + r.pieceLengths()[i]);
    }

    @Override
    public ByteBuffer region(long sector, int bytes) {
        return mappedReads == null ? null : mappedReads.region(sector, bytes);
    }

    @Override
    public int regionOffset(long sector) {
        if (mappedReads == null) {
            throw new UnsupportedOperationException(storage + " has no zero-copy regions");
        }
        return mappedReads.regionOffset(sector);
    }

    @Override
    public synchronized void close() {
        storage.close();
    }

    @Override
    public String toString() {
        return storage.toString();
    }
}
