package io.xendisk.storage;

import java.nio.file.Path;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * What to open: an engine by name, an image, read-only or not, and for engines
 * without an image (discard) a size.
 *
 * @param engine    engine name as registered in {@link Storages}
 * @param path      the image (regular file or block device); null for discard
 * @param readOnly  open without write access; writes and discards are refused
 * @param sizeBytes disk size for engines without an image; empty means the
 *                  engine's default. Engines with an image take the size from it
 *                  and refuse an explicit size.
 */
public record StorageSpec(String engine, Path path, boolean readOnly, OptionalLong sizeBytes) {

    /** Size of a discard disk when none is given. */
    public static final long DEFAULT_DISCARD_SIZE = 1L << 30;

    /** Validates the size: positive and a multiple of 512 when given. */
    public StorageSpec {
        Objects.requireNonNull(engine, "engine");
        Objects.requireNonNull(sizeBytes, "sizeBytes (use OptionalLong.empty())");
        if (sizeBytes.isPresent()) {
            long s = sizeBytes.getAsLong();
            if (s <= 0 || s % Storage.SECTOR_SIZE != 0) {
                throw new IllegalArgumentException("disk size " + s
                        + " must be a positive multiple of " + Storage.SECTOR_SIZE + " bytes");
            }
        }
    }

    /** An image-backed disk: engine {@code file}, {@code mmap}, {@code cow} or a plug-in. */
    public static StorageSpec of(String engine, Path path, boolean readOnly) {
        return new StorageSpec(engine, Objects.requireNonNull(path, "path"), readOnly, OptionalLong.empty());
    }

    /** A discard disk of {@code sizeBytes} bytes (a multiple of 512). */
    public static StorageSpec discard(long sizeBytes) {
        return new StorageSpec(DiscardStorage.NAME, null, false, OptionalLong.of(sizeBytes));
    }

    /** "engine:path" for log lines and messages. */
    @Override
    public String toString() {
        return engine + ":" + (path != null ? path : sizeBytes.orElse(DEFAULT_DISCARD_SIZE) + "B")
                + (readOnly ? " (read-only)" : "");
    }
}
