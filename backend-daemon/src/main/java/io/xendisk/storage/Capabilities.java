package io.xendisk.storage;

/**
 * What an open disk promises; the backend turns these into xenstore
 * features (feature-discard, mode=r, feature-flush-cache) and into how it
 * places a request's data.
 *
 * @param readOnly  writes and discards are refused
 * @param durable   data written and flushed survives disconnect and the daemon's death
 * @param ephemeral every change vanishes on close (copy-on-write over a gold image)
 * @param discard   discard does something useful (frees space or memory)
 * @param zeroCopy  {@link IoEngine#region} exposes the image's memory for reads and writes
 * @param vectored  {@link IoEngine#submit} takes data in many shared buffers (the
 *                  guest's own pages) without a bounce copy
 * @param zeroCopyReads {@link IoEngine#region} exposes the image's memory for reads (true whenever
 *                  {@code zeroCopy} is); writes go through {@link IoEngine#submit} unless {@code zeroCopy}
 */
public record Capabilities(boolean readOnly, boolean durable, boolean ephemeral,
                           boolean discard, boolean zeroCopy, boolean vectored, boolean zeroCopyReads) {
    /** What a {@link Storage} says of itself; how its data can be reached is the adapter's to tell. */
    public Capabilities(boolean readOnly, boolean durable, boolean ephemeral, boolean discard) {
        this(readOnly, durable, ephemeral, discard, false, false, false);
    }

    /** The same promises, reached as {@code zeroCopy} (reads and writes) and {@code vectored} say. */
    public Capabilities reachedAs(boolean zeroCopy, boolean vectored) {
        return reachedAs(zeroCopy, zeroCopy, vectored);
    }

    /** The same promises, reached as {@code zeroCopy}, {@code zeroCopyReads} and {@code vectored} say. */
    public Capabilities reachedAs(boolean zeroCopy, boolean zeroCopyReads, boolean vectored) {
        return new Capabilities(readOnly, durable, ephemeral, discard, zeroCopy, vectored, zeroCopy || zeroCopyReads);
    }
}
