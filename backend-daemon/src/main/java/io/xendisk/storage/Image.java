package io.xendisk.storage;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An image file or block device, validated and opened once for an engine.
 *
 * <p>It holds a native file descriptor because the JDK offers no way to open
 * a file read-only and map it MAP_PRIVATE, nor to punch holes. When an engine
 * also wants a {@link FileChannel}, {@link #channel()} reopens the very same
 * file through {@code /proc/self/fd/N}, so a rename of the path between two
 * opens can never make us punch holes in another file than the one we serve.
 *
 * <p>The size comes from {@code lseek(fd, 0, SEEK_END)}, which is the device
 * size for block devices too (where {@code st_size} is 0). It must be a
 * positive multiple of 512: an image with a partial last sector is refused
 * rather than silently truncated, because the tail would be lost to the guest
 * without anyone noticing.
 */
final class Image implements AutoCloseable {
    private static final Logger LOG = LogManager.getLogger(Image.class);
    private static final int S_IFMT = 0170000;
    private static final int S_IFREG = 0100000;
    private static final int S_IFBLK = 0060000;

    final Path path;
    final boolean writable;
    final boolean blockDevice;
    /** Grows only, through {@link #grow}. */
    volatile long size;
    /** 512, or what a block device says of itself (4096 for a 4Kn device): the unit of its I/O. */
    final int logicalBlockSize;
    private int fd;
    private boolean holesUnsupportedLogged;

    private Image(Path path, boolean writable, boolean blockDevice, int fd, long size, int logicalBlockSize) {
        this.logicalBlockSize = logicalBlockSize;
        this.path = path;
        this.writable = writable;
        this.blockDevice = blockDevice;
        this.fd = fd;
        this.size = size;
    }

    private static String servedBy(String uri) {
        String scheme = StorageSpec.scheme(uri);
        String engine = Storages.engineForScheme(scheme);
        return engine != null ? " (engine " + engine + " serves " + scheme + ":// URIs: --storage " + engine
                + ", or give the URI without an engine)" : " (no engine serves " + scheme + ":// URIs)";
    }

    /** Validates and opens {@code spec.path()}, read-write unless {@code writable} is false. */
    static Image open(StorageSpec spec, boolean writable) {
        Path path = spec.path();
        if (path == null) {
            throw new StorageException(null, "engine " + spec.engine() + " needs an image path"
                    + (spec.location() != null ? ", not the URI " + spec.location() + servedBy(spec.location())
                    : " (check --path / target=)"));
        }
        if (spec.sizeBytes().isPresent()) {
            throw new StorageException(path, "image " + path + ": engine " + spec.engine()
                    + " takes the disk size from the image; drop the size option");
        }
        boolean block = checkType(path);
        int fd = Posix.C.open(path.toString(), (writable ? Posix.O_RDWR : Posix.O_RDONLY) | Posix.O_CLOEXEC);
        if (fd < 0) {
            throw StorageException.errno(path, writable ? "opening it read-write" : "opening it read-only",
                    Posix.errno());
        }
        try {
            // before the size checks: their advice (truncate) would ruin a qcow2 image
            refuseQcow2(spec, path, fd);
            long size = Posix.C.lseek(fd, 0, Posix.SEEK_END);
            if (size < 0) {
                throw StorageException.errno(path, "finding its size", Posix.errno());
            }
            if (size == 0) {
                throw new StorageException(path, "image " + path
                        + " is empty (0 bytes); a disk needs at least one sector (grow it with truncate -s SIZE)");
            }
            if (size % Storage.SECTOR_SIZE != 0) {
                throw new StorageException(path, "image " + path + " is " + size
                        + " bytes, not a multiple of " + Storage.SECTOR_SIZE
                        + " (check it is the right file, or grow it with truncate -s "
                        + ((size / Storage.SECTOR_SIZE) + 1) * Storage.SECTOR_SIZE + ")");
            }
            return new Image(path, writable, block, fd, size, block ? logicalBlockSize(path, fd) : Storage.SECTOR_SIZE);
        } catch (RuntimeException e) {
            Posix.C.close(fd);
            throw e;
        }
    }

    /**
     * Refuses an image that starts with the qcow2 magic: served as raw bytes,
     * the guest would see QEMU's metadata as its disk, and its first write
     * would corrupt the image for every tool that knows better.
     */
    private static void refuseQcow2(StorageSpec spec, Path path, int fd) {
        boolean qcow2;
        try (FileChannel ch = FileChannel.open(Path.of("/proc/self/fd/" + fd), StandardOpenOption.READ)) {
            qcow2 = ImageFormat.isQcow2(ch);
        } catch (IOException e) {
            throw StorageException.io(path, "reading its first sector", e);
        }
        if (qcow2) {
            throw new StorageException(path, "image " + path + " is a qcow2 image, which engine " + spec.engine()
                    + " would serve as raw bytes and corrupt on the first write; serve it with engine qcow2"
                    + " (--storage qcow2, xl target=qcow2:" + path + ", libvirt engine=\"qcow2\")");
        }
    }

    /**
     * Grows a regular-file image to {@code newBytes} (a sparse tail: the new sectors read
     * zeros); a block device's size is the device's.
     */
    void grow(long newBytes) {
        if (blockDevice) {
            throw new StorageException(path, path + " is a block device: grow the device itself (lvextend ...),"
                    + " its new size is not read while it is served");
        }
        if (!writable) {
            throw new StorageException(path, "image " + path + " is served read-only; it is not grown");
        }
        if (Posix.C.ftruncate(fd(), newBytes) != 0) {
            throw StorageException.errno(path, "growing it to " + newBytes + " bytes", Posix.errno());
        }
        size = newBytes;
    }

    /** A block device's logical sector size (BLKSSZGET), which its every I/O must be whole units of. */
    private static int logicalBlockSize(Path path, int fd) {
        int[] size = new int[1];
        if (Posix.C.ioctl(fd, Posix.BLKSSZGET, size) != 0) {
            throw StorageException.errno(path, "reading its logical sector size (BLKSSZGET)", Posix.errno());
        }
        return size[0];
    }

    /** Returns true for a block device, false for a regular file; refuses anything else. */
    private static boolean checkType(Path path) {
        int mode;
        try {
            mode = (Integer) Files.getAttribute(path, "unix:mode");
        } catch (NoSuchFileException e) {
            throw new StorageException(path, "image " + path + " not found (check --path / target=)", e);
        } catch (IOException e) {
            throw StorageException.io(path, "looking it up", e);
        }
        switch (mode & S_IFMT) {
            case S_IFREG:
                return false;
            case S_IFBLK:
                return true;
            default:
                String what = Files.isDirectory(path) ? "a directory" : "not a regular file or block device";
                throw new StorageException(path, "image " + path + " is " + what
                        + ", not a disk image (point --path / target= at an image file or a block device)");
        }
    }

    /** The file descriptor; valid until {@link #close()}. */
    int fd() {
        if (fd < 0) {
            throw new IllegalStateException("image " + path + " is closed");
        }
        return fd;
    }

    /** A new channel on the same open file, with this image's access mode. */
    FileChannel channel() {
        Path self = Path.of("/proc/self/fd/" + fd());
        try {
            return writable
                    ? FileChannel.open(self, StandardOpenOption.READ, StandardOpenOption.WRITE)
                    : FileChannel.open(self, StandardOpenOption.READ);
        } catch (IOException e) {
            throw StorageException.io(path, "opening a channel on it", e);
        }
    }

    /**
     * Allocates every block of a regular-file image (posix_fallocate), so that
     * writes through a shared mapping can never hit a full filesystem: the
     * kernel would answer those with SIGBUS, long after the guest was told
     * nothing. A full filesystem is refused here, at connect, instead.
     */
    void reserve() {
        if (blockDevice || !writable) {
            return;
        }
        int r;
        do {
            r = Posix.C.fallocate(fd(), 0, 0, size);
        } while (r != 0 && Posix.errno() == Posix.EINTR);
        if (r == 0) {
            return;
        }
        int errno = Posix.errno();
        if (errno == Posix.EOPNOTSUPP || errno == Posix.ENOSYS) {
            LOG.warn("image {}: its filesystem cannot preallocate ({}); if it fills up, writes to holes of this"
                    + " sparse image fail the VBD (prefer --storage file there)", path, Posix.strerror(errno));
            return;
        }
        throw new StorageException(path, "image " + path + ": cannot reserve its " + size + " bytes on the filesystem holding it: "
                + Posix.strerror(errno) + " (free space there, or use --storage file, which reports a full disk"
                + " per write instead)");
    }

    /**
     * Deallocates {@code len} bytes at {@code off} keeping the size; reads of
     * the range return zeros afterwards. Returns false when the filesystem or
     * device cannot punch holes, so the caller writes zeros instead.
     */
    boolean punchHole(long off, long len) {
        int r;
        do {
            r = Posix.C.fallocate(fd(), Posix.FALLOC_FL_PUNCH_HOLE | Posix.FALLOC_FL_KEEP_SIZE, off, len);
        } while (r != 0 && Posix.errno() == Posix.EINTR);
        if (r == 0) {
            return true;
        }
        int errno = Posix.errno();
        if (errno == Posix.EOPNOTSUPP || errno == Posix.ENOSYS) {
            if (!holesUnsupportedLogged) {
                holesUnsupportedLogged = true;
                LOG.info("image {}: cannot punch holes ({}); discards write zeros instead", path,
                        Posix.strerror(errno));
            }
            return false;
        }
        throw StorageException.errno(path, "discarding " + len + " bytes at byte " + off, errno);
    }

    @Override
    public void close() {
        if (fd >= 0) {
            Posix.C.close(fd);
            fd = -1;
        }
    }
}
