package io.xendisk.storage;

/**
 * A way of storing a disk, plugged into {@link Storages} by name
 * ({@code target=NAME:path}, {@code --storage NAME}). Implementations are
 * stateless factories; each {@link #open} returns an independent storage.
 */
public interface StorageEngine {

    /** The engine's name in specs: lower case, no colon. */
    String name();

    /**
     * Opens the disk described by {@code spec} (whose engine is this one).
     *
     * @throws StorageException when the image cannot be served; the message names
     *                          the image and what to do
     */
    Storage open(StorageSpec spec);
}
