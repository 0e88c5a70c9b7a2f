package io.xendisk.xen.sim.domain;

import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

/**
 * The few libc calls the simulated event channels need, bound with JNA direct
 * mapping because write/poll/read sit on the notify and await paths (~50 ns a
 * call instead of ~200 ns through an interface proxy). Linux x86_64/aarch64
 * constants.
 */
final class LibC {
    static final int O_RDWR = 0x2;
    static final int O_NONBLOCK = 0x800;
    static final int O_CLOEXEC = 0x80000;
    static final int EEXIST = 17;
    static final int EINTR = 4;
    static final short POLLIN = 0x1;
    static final long FIONREAD = 0x541B;

    static {
        Native.register(LibC.class, Platform.C_LIBRARY_NAME);
    }

    private LibC() {
    }

    static native int open(String path, int flags, int mode);

    static native int close(int fd);

    static native long read(int fd, Pointer buf, long count);

    static native long write(int fd, Pointer buf, long count);

    static native int poll(Pointer fds, long nfds, int timeoutMillis);

    static native int mkfifo(String path, int mode);

    static native int ioctl(int fd, long request, int[] arg);

    static native String strerror(int errnum);

    /** errno of this thread's last native call (JNA saves it after each call). */
    static int errno() {
        return Native.getLastError();
    }

    static String describe(int errno) {
        return strerror(errno) + " (errno " + errno + ")";
    }
}
