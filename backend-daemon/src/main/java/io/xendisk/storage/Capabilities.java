package io.xendisk.storage;

/**
 * What an open {@link Storage} promises; the backend turns these into xenstore
 * features (feature-discard, mode=r, feature-flush-cache) and policy.
 *
 * @param readOnly  writes and discards are refused
 * @param durable   data written and flushed survives disconnect and the daemon's death
 * @param ephemeral every change vanishes on close (copy-on-write over a gold image)
 * @param discard   {@link Storage#discard} does something useful (frees space or memory)
 * @param zeroCopy  {@link Storage#slice} can expose the image's memory
 * @param vectored  {@link Storage#readv}/{@link Storage#writev} move all pieces in one call,
 *                  allocating nothing (preadv/pwritev): worth using instead of a bounce buffer
 */
public record Capabilities(boolean readOnly, boolean durable, boolean ephemeral,
                           boolean discard, boolean zeroCopy, boolean vectored) {
    /** Without vectored I/O of its own. */
    public Capabilities(boolean readOnly, boolean durable, boolean ephemeral, boolean discard, boolean zeroCopy) {
        this(readOnly, durable, ephemeral, discard, zeroCopy, false);
    }
}
