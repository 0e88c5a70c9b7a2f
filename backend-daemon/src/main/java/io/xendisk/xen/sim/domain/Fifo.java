package io.xendisk.xen.sim.domain;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

import com.sun.jna.Memory;

import io.xendisk.os.LibC;

/**
 * The kernel wakeup primitive of one simulated event channel port: a named
 * FIFO, opened O_RDWR|O_NONBLOCK by both the receiver and every notifier, so
 * that opening never blocks (a FIFO opened for one direction only waits for
 * the other side), writing never blocks or raises SIGPIPE (we hold a read
 * end ourselves), and a dead peer leaves nothing to wait for.
 *
 * <p>The descriptor is closed only when no thread is inside a call, so
 * {@link #close()} from one thread is safe while another polls: it wakes the
 * poller with a byte and the last thread out closes the fd (never a reused
 * fd number).
 */
final class Fifo implements AutoCloseable {
    private static final int CLOSED = 1 << 30;
    private static final long MAX_POLL_SLICE_MS = 100; // bounds how late we notice Thread.interrupt()
    private static final Memory ONE = new Memory(1);
    private static final VarHandle STATE;

    static {
        ONE.setByte(0, (byte) 1);
        try {
            STATE = MethodHandles.lookup().findVarHandle(Fifo.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Path path;
    private final int fd;
    private final Memory pollFd = new Memory(8); // struct pollfd {int fd; short events; short revents}
    private final Memory drainBuf = new Memory(64);
    @SuppressWarnings("unused") // accessed through STATE: CLOSED flag | threads inside a call
    private volatile int state;

    private Fifo(Path path, int fd) {
        this.path = path;
        this.fd = fd;
        pollFd.setInt(0, fd);
        pollFd.setShort(4, LibC.POLLIN);
    }

    /** Creates the FIFO at {@code path} unless it already exists. */
    static void make(Path path) throws IOException {
        if (LibC.mkfifo(path.toString(), 0600) != 0) {
            int errno = LibC.errno();
            if (errno != LibC.EEXIST) {
                throw new IOException("cannot create event channel FIFO " + path + ": " + LibC.describe(errno));
            }
        }
        BasicFileAttributes a = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!a.isOther()) {
            throw new IOException(path + " exists but is not a FIFO (remove it; it belongs to the simulated platform)");
        }
    }

    /** Opens an existing FIFO for reading and writing, non-blocking. */
    static Fifo open(Path path) throws IOException {
        int fd = LibC.open(path.toString(), LibC.O_RDWR | LibC.O_NONBLOCK | LibC.O_CLOEXEC, 0);
        if (fd < 0) {
            throw new IOException("cannot open event channel FIFO " + path + ": " + LibC.describe(LibC.errno()));
        }
        return new Fifo(path, fd);
    }

    Path path() {
        return path;
    }

    /**
     * Writes one wakeup byte. A full FIFO (EAGAIN) is ignored: it already holds
     * a wakeup the reader has not taken yet.
     * @return false when this FIFO is closed
     */
    boolean wakeup() {
        if (!enter()) {
            return false;
        }
        try {
            LibC.write(fd, ONE, 1);
            return true;
        } finally {
            exit();
        }
    }

    /**
     * Waits up to {@code nanos} (capped at a short slice) for a byte, then
     * discards all queued bytes: they only say "look at the pending flag".
     * @return false when this FIFO is closed (before or during the wait)
     */
    boolean awaitAndDrain(long nanos) {
        if (!enter()) {
            return false;
        }
        try {
            long ms = nanos >= MAX_POLL_SLICE_MS * 1_000_000
                    ? MAX_POLL_SLICE_MS
                    : Math.max(1, (nanos + 999_999) / 1_000_000);
            pollFd.setShort(6, (short) 0);
            int n = LibC.poll(pollFd, 1, (int) ms);
            if (n > 0) {
                drainLocked();
            }
            return ((int) STATE.getVolatile(this) & CLOSED) == 0;
        } finally {
            exit();
        }
    }

    /** Discards queued wakeup bytes without waiting. */
    void drain() {
        if (enter()) {
            try {
                drainLocked();
            } finally {
                exit();
            }
        }
    }

    private void drainLocked() {
        while (LibC.read(fd, drainBuf, drainBuf.size()) > 0) {
            // until EAGAIN: one read almost always, bytes only say "look at the pending flag"
        }
    }

    /** Bytes waiting in the FIFO (FIONREAD); for tests of wakeup coalescing. */
    int queued() {
        if (!enter()) {
            return 0;
        }
        try {
            int[] n = new int[1];
            return LibC.ioctl(fd, LibC.FIONREAD, n) == 0 ? n[0] : -1;
        } finally {
            exit();
        }
    }

    boolean isClosed() {
        return ((int) STATE.getVolatile(this) & CLOSED) != 0;
    }

    /** Closes the FIFO; a thread waiting in {@link #awaitAndDrain} returns false. Idempotent. */
    @Override
    public void close() {
        int s;
        do {
            s = (int) STATE.getVolatile(this);
            if ((s & CLOSED) != 0) {
                return;
            }
        } while (!STATE.compareAndSet(this, s, (s | CLOSED) + 1));
        try {
            LibC.write(fd, ONE, 1); // wakes a poller in this process; a stale byte later only costs a spurious wakeup
        } finally {
            exit();
        }
    }

    private boolean enter() {
        for (;;) {
            int s = (int) STATE.getVolatile(this);
            if ((s & CLOSED) != 0) {
                return false;
            }
            if (STATE.compareAndSet(this, s, s + 1)) {
                return true;
            }
        }
    }

    private void exit() {
        if ((int) STATE.getAndAdd(this, -1) - 1 == CLOSED) {
            LibC.close(fd);
        }
    }
}
