package io.xendisk.storage;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

/**
 * The few libc calls the JDK does not offer: opening an image read-only and
 * mapping it MAP_PRIVATE (the JDK insists on a writable channel for that),
 * hole punching, madvise. Interface mapping is enough: none of these is on the
 * per-request path except discard, which is rare.
 *
 * <p>Constants are Linux's generic values (x86_64 and aarch64 agree on all).
 */
final class Posix {
    static final int O_RDONLY = 0;
    static final int O_RDWR = 2;
    static final int O_CLOEXEC = 0x80000;

    static final int SEEK_END = 2;

    static final int PROT_READ = 1;
    static final int PROT_WRITE = 2;
    static final int MAP_PRIVATE = 2;
    static final int MAP_NORESERVE = 0x4000;

    static final int MADV_DONTNEED = 4;

    static final int FALLOC_FL_KEEP_SIZE = 1;
    static final int FALLOC_FL_PUNCH_HOLE = 2;

    static final int EINTR = 4;
    static final int EINVAL = 22;
    static final int EOPNOTSUPP = 95;
    static final int ENOSYS = 38;

    /** Page size used for madvise alignment; 4 KiB on every platform Xen runs dom0 on. */
    static final long PAGE_SIZE = 4096;

    interface LibC extends Library {
        int open(String path, int flags);

        int close(int fd);

        long lseek(int fd, long offset, int whence);

        Pointer mmap(Pointer addr, long length, int prot, int flags, int fd, long offset);

        int munmap(Pointer addr, long length);

        int madvise(Pointer addr, long length, int advice);

        int fallocate(int fd, int mode, long offset, long length);

        String strerror(int errnum);
    }

    static final LibC C = Native.load("c", LibC.class);

    private Posix() {
    }

    /** errno of the last native call on this thread (JNA preserves it per call). */
    static int errno() {
        return Native.getLastError();
    }

    static String strerror(int errno) {
        return C.strerror(errno);
    }

    static boolean mmapFailed(Pointer p) {
        return p == null || Pointer.nativeValue(p) == -1L;
    }
}
