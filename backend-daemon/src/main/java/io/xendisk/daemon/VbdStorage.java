package io.xendisk.daemon;

import io.xendisk.storage.Storage;
import io.xendisk.storage.StorageException;
import io.xendisk.storage.StorageSpec;
import io.xendisk.storage.Storages;

/**
 * The one place the daemon opens a VBD's storage, for {@code connect} (now
 * or {@code --at-start}) and for the devices it takes from xenstore alike, so
 * that a new storage face is plugged in by changing {@link #open} alone.
 */
final class VbdStorage {
    private VbdStorage() {
    }

    /**
     * Opens what {@code spec} describes.
     *
     * @throws StorageException         the image cannot be served (the message names it)
     * @throws IllegalArgumentException the spec names something that cannot be opened
     */
    static Storage open(StorageSpec spec) {
        return Storages.open(spec);
    }

    /** "engine:path", or the engine alone for discard: what {@code list} shows and our params node holds. */
    static String name(StorageSpec spec) {
        return spec.path() == null ? spec.engine() : spec.engine() + ":" + spec.path();
    }
}
