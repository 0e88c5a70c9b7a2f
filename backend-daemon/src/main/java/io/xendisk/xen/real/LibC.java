package io.xendisk.xen.real;

import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

/**
 * The libc calls the real event channels need (poll on the evtchn fd, an
 * eventfd to wake a waiter on close), bound with JNA direct mapping because
 * poll sits on the ring thread's wait path. Linux x86_64 / aarch64 values.
 */
final class LibC {
    static final int EINTR = 4;
    static final int EAGAIN = 11;
    static final short POLLIN = 0x1;
    static final short POLLERR = 0x8;
    static final short POLLHUP = 0x10;
    static final short POLLNVAL = 0x20;
    static final int EFD_CLOEXEC = 0x80000;
    static final int EFD_NONBLOCK = 0x800;

    static {
        Native.register(LibC.class, Platform.C_LIBRARY_NAME);
    }

    private LibC() {
    }

    static native int poll(Pointer fds, long nfds, int timeoutMillis);

    static native int eventfd(int initval, int flags);

    static native long read(int fd, Pointer buf, long count);

    static native long write(int fd, Pointer buf, long count);

    static native int close(int fd);

    static native int munmap(Pointer addr, long length);

    static native String strerror(int errnum);

    /** errno of this thread's last native call (JNA keeps it per call). */
    static int errno() {
        return Native.getLastError();
    }

    static String describe(int errno) {
        return strerror(errno) + " (errno " + errno + ")";
    }
}
