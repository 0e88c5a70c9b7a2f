package io.xendisk.storage;

import java.nio.ByteBuffer;

/**
 * Engine {@code discard}, the seed's default: reads return zeros, writes
 * succeed and are dropped. For testing the protocol path without any storage.
 * Size from the spec ({@link StorageSpec#DEFAULT_DISCARD_SIZE} by default).
 */
final class DiscardStorage implements Storage {
    static final String NAME = "discard";

    private volatile long size;
    private final Capabilities caps;

    private DiscardStorage(long size, boolean readOnly) {
        this.size = size;
        this.caps = new Capabilities(readOnly, false, true, true);
    }

    static Storage open(StorageSpec spec) {
        if (spec.path() != null || spec.location() != null) {
            throw new StorageException(spec.path(), "engine " + NAME + " stores nothing and takes no image ("
                    + spec.source() + "); drop the path or pick another engine");
        }
        return new DiscardStorage(spec.sizeBytes().orElse(StorageSpec.DEFAULT_DISCARD_SIZE), spec.readOnly());
    }

    @Override
    public long sizeBytes() {
        return size;
    }

    @Override
    public void read(long sector, ByteBuffer dst) {
        Ranges.check(size, sector, dst.remaining());
        Zeros.fill(dst);
    }

    @Override
    public void write(long sector, ByteBuffer src) {
        Ranges.check(size, sector, src.remaining());
        refuseIfReadOnly();
        src.position(src.limit());
    }

    @Override
    public void flush() {
        // nothing is kept, so nothing can be lost
    }

    @Override
    public void discard(long sector, long nrSectors) {
        Ranges.checkSectors(size, sector, nrSectors);
        refuseIfReadOnly();
    }

    @Override
    public Capabilities capabilities() {
        return caps;
    }

    @Override
    public void grow(long newBytes) {
        size = newBytes;
    }

    @Override
    public void close() {
    }

    private void refuseIfReadOnly() {
        if (caps.readOnly()) {
            throw new StorageException(null, "discard disk is read-only; writes are refused");
        }
    }
}
