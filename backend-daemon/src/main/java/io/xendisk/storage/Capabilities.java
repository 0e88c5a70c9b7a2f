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
 */
public record Capabilities(boolean readOnly, boolean durable, boolean ephemeral,
                           boolean discard, boolean zeroCopy) {
}
