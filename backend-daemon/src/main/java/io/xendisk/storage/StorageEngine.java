package io.xendisk.storage;

/**
 * A way of storing a disk, plugged into {@link Storages} by name
 * ({@code target=NAME:path}, {@code --storage NAME}). Implementations are
 * stateless factories; each {@link #open} returns an independent disk.
 *
 * <p>A synchronous engine implements {@link #openStorage} (the seed's four
 * functions, a {@link Storage}) and inherits {@link #open}; an asynchronous one
 * implements {@link #open} itself.
 */
public interface StorageEngine {

    /** The engine's name in specs: lower case, no colon. */
    String name();

    /**
     * The URI schemes this engine serves ({@code nbd}, {@code nbd+unix}, ...): a
     * target or {@code --path} of {@code scheme://...} picks it without naming it.
     */
    default java.util.Set<String> schemes() {
        return java.util.Set.of();
    }

    /**
     * Opens the disk described by {@code spec} (whose engine is this one) on
     * the backend's face.
     *
     * @throws StorageException when the image cannot be served; the message names
     *                          the image and what to do
     */
    default IoEngine open(StorageSpec spec) {
        return new SyncEngine(openStorage(spec));
    }

    /**
     * Opens the disk as a synchronous {@link Storage}, for engines that are one.
     *
     * @throws StorageException also when this engine is asynchronous only
     */
    default Storage openStorage(StorageSpec spec) {
        throw new StorageException(spec.path(), "storage engine '" + name()
                + "' is asynchronous and cannot be opened as a synchronous storage");
    }
}
