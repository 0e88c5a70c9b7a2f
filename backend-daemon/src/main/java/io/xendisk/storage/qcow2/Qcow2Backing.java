package io.xendisk.storage.qcow2;

import io.xendisk.storage.ImageFormat;
import io.xendisk.storage.Storage;
import io.xendisk.storage.StorageException;
import io.xendisk.storage.StorageSpec;
import io.xendisk.storage.Storages;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;

/**
 * Opens the backing file a qcow2 header names, read-only, as QEMU finds it: a
 * relative name is relative to the directory of the image that names it; the
 * backing format extension decides raw or qcow2, and without one the file's
 * magic does.
 */
final class Qcow2Backing {
    private Qcow2Backing() {
    }

    static Storage open(Qcow2Header h, int depth, Set<Path> chain, long cacheBytes) {
        String name = h.backingName;
        if (name.startsWith("json:") || name.contains("://")) {
            throw h.refuse("has the backing file '" + name + "', which is not a local file;"
                    + " only local backing files are served (qemu-img rebase it onto a local copy)");
        }
        Path p = Path.of(name);
        if (!p.isAbsolute()) {
            Path dir = h.path.toAbsolutePath().getParent();
            p = dir == null ? p.toAbsolutePath() : dir.resolve(p);
        }
        if (depth + 1 >= Qcow2Storage.maxChain()) {
            throw h.refuse("has a backing chain deeper than " + Qcow2Storage.maxChain()
                    + " images (flatten it: qemu-img convert -O qcow2, or qemu-img commit)");
        }
        String format = h.backingFormat != null ? h.backingFormat : probe(h, p);
        switch (format) {
            case "raw":
                if (!chain.add(realPath(h, p))) {
                    throw h.refuse("has a backing chain that loops at " + p + " (fix it: qemu-img rebase)");
                }
                return Storages.openStorage(StorageSpec.of("file", p, true));
            case "qcow2":
                return Qcow2Storage.open(p, false, cacheBytes, depth + 1, chain);
            default:
                throw h.refuse("has a backing file " + p + " of format '" + format + "'; backing files of format"
                        + " raw or qcow2 are served (convert it: qemu-img convert -O qcow2)");
        }
    }

    private static Path realPath(Qcow2Header h, Path p) {
        try {
            return p.toRealPath();
        } catch (NoSuchFileException e) {
            throw missing(h, p, e);
        } catch (IOException e) {
            throw StorageException.io(p, "resolving the backing file of " + h.path, e);
        }
    }

    /** The backing file's format from its first bytes, as QEMU probes without a format extension. */
    private static String probe(Qcow2Header h, Path p) {
        try (FileChannel c = FileChannel.open(p, StandardOpenOption.READ)) {
            return ImageFormat.isQcow2(c) ? "qcow2" : "raw";
        } catch (NoSuchFileException e) {
            throw missing(h, p, e);
        } catch (IOException e) {
            throw StorageException.io(p, "reading the backing file of " + h.path, e);
        }
    }

    private static StorageException missing(Qcow2Header h, Path p, Exception cause) {
        return new StorageException(h.path, "qcow2 image " + h.path + ": its backing file " + p
                + " is not found (see qemu-img info --backing-chain " + h.path + "; fix it with qemu-img rebase -u)",
                cause);
    }
}
