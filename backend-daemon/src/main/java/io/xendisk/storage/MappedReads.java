package io.xendisk.storage;

import java.nio.ByteBuffer;

/**
 * A {@link Storage} whose image can be read as memory: the backend copies a
 * read straight from the engine's mapping into the guest's pages, with no
 * storage call and no system call. What a write through that memory means is
 * the business of {@link MappedStorage}; a storage that is only this one takes
 * its writes through {@link #write} and its vectored forms.
 */
public interface MappedReads extends Storage {

    /**
     * The engine's own buffer that holds {@code bytes} bytes from
     * {@code sector}, addressed with absolute indexes from
     * {@link #regionOffset(long)}; null when the range straddles an internal
     * mapping boundary (1 GiB), where {@link #read} serves it. Allocates
     * nothing; never change the buffer's position or limit (it is shared).
     *
     * <p>Lifetime: valid until {@link #close()}; afterwards the engines here
     * keep it memory-safe (the mapping lives until the buffer is garbage) but
     * it no longer is the disk.
     */
    ByteBuffer region(long sector, int bytes);

    /** Index of {@code sector}'s first byte in the buffer {@link #region} returns. */
    int regionOffset(long sector);

    /** Whether this open disk reads through memory at all (fixed while open); false: {@link #region} is always null. */
    default boolean readsMapped() {
        return true;
    }
}
