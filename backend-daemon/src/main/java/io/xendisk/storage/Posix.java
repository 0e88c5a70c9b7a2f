package io.xendisk.storage;

import com.sun.jna.Pointer;

import io.xendisk.os.LibC;

/**
 * The libc calls the engines make, as they name them: opening an image
 * read-only and mapping it MAP_PRIVATE (the JDK insists on a writable channel
 * for that), hole punching, madvise. The binding itself is {@link LibC},
 * shared with the platforms; this is only the engines' view of it.
 */
final class Posix {
    static final int O_RDONLY = LibC.O_RDONLY;
    static final int O_RDWR = LibC.O_RDWR;
    static final int O_CLOEXEC = LibC.O_CLOEXEC;

    static final int SEEK_END = LibC.SEEK_END;

    static final int PROT_READ = LibC.PROT_READ;
    static final int PROT_WRITE = LibC.PROT_WRITE;
    static final int MAP_SHARED = LibC.MAP_SHARED;
    static final int MAP_PRIVATE = LibC.MAP_PRIVATE;
    static final int MAP_NORESERVE = LibC.MAP_NORESERVE;
    static final int MAP_FIXED = LibC.MAP_FIXED;
    static final int MAP_ANONYMOUS = LibC.MAP_ANONYMOUS;

    static final int MADV_DONTNEED = LibC.MADV_DONTNEED;
    static final int MADV_POPULATE_READ = LibC.MADV_POPULATE_READ;

    static final int FALLOC_FL_KEEP_SIZE = LibC.FALLOC_FL_KEEP_SIZE;
    static final int FALLOC_FL_PUNCH_HOLE = LibC.FALLOC_FL_PUNCH_HOLE;

    /** BLKSSZGET: a block device's logical sector size, into an int. */
    static final long BLKSSZGET = 0x1268;

    static final int EINTR = LibC.EINTR;
    static final int EINVAL = LibC.EINVAL;
    static final int EOPNOTSUPP = LibC.EOPNOTSUPP;
    static final int ENOSYS = LibC.ENOSYS;

    /** Page size used for madvise alignment; 4 KiB on every platform Xen runs dom0 on. */
    static final long PAGE_SIZE = 4096;

    /** The calls, as {@code Posix.C.open(...)}: each goes straight to {@link LibC}. */
    static final class Calls {
        private Calls() {
        }

        int open(String path, int flags) {
            return LibC.open(path, flags, 0);
        }

        int close(int fd) {
            return LibC.close(fd);
        }

        long lseek(int fd, long offset, int whence) {
            return LibC.lseek(fd, offset, whence);
        }

        Pointer mmap(Pointer addr, long length, int prot, int flags, int fd, long offset) {
            return LibC.mmap(addr, length, prot, flags, fd, offset);
        }

        int munmap(Pointer addr, long length) {
            return LibC.munmap(addr, length);
        }

        int madvise(Pointer addr, long length, int advice) {
            return LibC.madvise(addr, length, advice);
        }

        int mincore(Pointer addr, long length, Pointer vec) {
            return LibC.mincore(addr, length, vec);
        }

        int fallocate(int fd, int mode, long offset, long length) {
            return LibC.fallocate(fd, mode, offset, length);
        }

        int ftruncate(int fd, long length) {
            return LibC.ftruncate(fd, length);
        }

        int ioctl(int fd, long request, int[] arg) {
            return LibC.ioctl(fd, request, arg);
        }
    }

    static final Calls C = new Calls();

    private Posix() {
    }

    /** errno of the last native call on this thread (JNA preserves it per call). */
    static int errno() {
        return LibC.errno();
    }

    static String strerror(int errno) {
        return LibC.strerror(errno);
    }

    static boolean mmapFailed(Pointer p) {
        return LibC.mmapFailed(p);
    }
}
