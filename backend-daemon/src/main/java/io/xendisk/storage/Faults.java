package io.xendisk.storage;

import java.nio.file.Path;

/**
 * Turns a fault on mapped memory (SIGBUS, which the JVM raises as InternalError)
 * into a StorageException. Best effort: in JIT-compiled code HotSpot raises the
 * error asynchronously, possibly after the try block that would catch it.
 */
final class Faults {
    private Faults() {
    }

    static StorageException mapped(Path image, String doing, InternalError e) {
        return new StorageException(image, "image " + image + ": the kernel could not back a mapped page while "
                + doing + " (the filesystem holding it may be full, or the image was truncated while served;"
                + " free space, check its size, and reconnect the disk)", e);
    }
}
