package io.xendisk.daemon;

import io.xendisk.storage.IoEngine;
import io.xendisk.storage.StorageException;
import io.xendisk.storage.StorageSpec;
import io.xendisk.storage.Storages;

/**
 * The one place the daemon opens a VBD's disk, on the backend's engine face,
 * for {@code connect} (now or {@code --at-start}) and for the devices it takes
 * from xenstore alike, and the one spelling of a disk's name.
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
    static IoEngine open(StorageSpec spec) {
        return Storages.open(spec);
    }
}
