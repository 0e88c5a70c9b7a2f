package io.xendisk.os;

import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

/**
 * The libc calls the JDK does not offer, bound once for every layer that
 * needs them: storage (open read-only, a MAP_PRIVATE mapping, hole punching,
 * preadv/pwritev), the platforms' event channels (poll, eventfd, fifos) and
 * grant mappings (munmap), the control socket's peer check (getpwnam). This
 * package sits below both {@code storage/} and {@code xen/}, which may not
 * use each other.
 *
 * <p>JNA direct mapping (~50 ns a call instead of ~200 ns through an
 * interface proxy), since read/write/poll sit on the notify and wait paths
 * and preadv/pwritev on every request of the file engine. Constants are
 * Linux's generic values, on which x86_64 and aarch64 agree.
 */
public final class LibC {
    public static final int EINTR = 4;
    public static final int EAGAIN = 11;
    public static final int EEXIST = 17;
    public static final int EINVAL = 22;
    public static final int ENOSYS = 38;
    public static final int EOPNOTSUPP = 95;

    public static final int O_RDONLY = 0;
    public static final int O_RDWR = 0x2;
    public static final int O_NONBLOCK = 0x800;
    public static final int O_CLOEXEC = 0x80000;
    public static final int SEEK_END = 2;

    public static final short POLLIN = 0x1;
    public static final short POLLERR = 0x8;
    public static final short POLLHUP = 0x10;
    public static final short POLLNVAL = 0x20;

    public static final int EFD_CLOEXEC = 0x80000;
    public static final int EFD_NONBLOCK = 0x800;
    public static final long FIONREAD = 0x541B;

    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int MAP_SHARED = 1;
    public static final int MAP_PRIVATE = 2;
    public static final int MAP_NORESERVE = 0x4000;
    public static final int MAP_FIXED = 0x10;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MADV_DONTNEED = 4;
    /** Linux 5.14: map the pages of a range as read faults would, without faulting (EINVAL before). */
    public static final int MADV_POPULATE_READ = 22;

    public static final int FALLOC_FL_KEEP_SIZE = 1;
    public static final int FALLOC_FL_PUNCH_HOLE = 2;

    static {
        Native.register(LibC.class, Platform.C_LIBRARY_NAME);
    }

    private LibC() {
    }

    /** {@code open(2)}; {@code mode} matters only with O_CREAT. */
    public static native int open(String path, int flags, int mode);

    public static native int close(int fd);

    public static native long read(int fd, Pointer buf, long count);

    public static native long write(int fd, Pointer buf, long count);

    public static native long lseek(int fd, long offset, int whence);

    public static native long preadv(int fd, Pointer iov, int iovcnt, long offset);

    public static native long pwritev(int fd, Pointer iov, int iovcnt, long offset);

    public static native int fallocate(int fd, int mode, long offset, long length);
    public static native int ftruncate(int fd, long length);

    public static native int poll(Pointer fds, long nfds, int timeoutMillis);

    public static native int eventfd(int initval, int flags);

    public static native int mkfifo(String path, int mode);

    public static native int ioctl(int fd, long request, int[] arg);

    public static native Pointer mmap(Pointer addr, long length, int prot, int flags, int fd, long offset);

    public static native int munmap(Pointer addr, long length);

    public static native int madvise(Pointer addr, long length, int advice);

    /** One byte per page of the range: bit 0 set when the page is in memory (for a file: in its page cache). */
    public static native int mincore(Pointer addr, long length, Pointer vec);

    public static native int geteuid();

    /** {@code struct passwd *}, or null when NSS knows no such user. */
    public static native Pointer getpwnam(String name);

    public static native String strerror(int errnum);

    /** errno of this thread's last native call (JNA saves it after each call). */
    public static int errno() {
        return Native.getLastError();
    }

    /** "No such file or directory (errno 2)", for messages. */
    public static String describe(int errno) {
        return strerror(errno) + " (errno " + errno + ")";
    }

    /** Whether mmap's result is MAP_FAILED. */
    public static boolean mmapFailed(Pointer p) {
        return p == null || Pointer.nativeValue(p) == -1L;
    }
}
