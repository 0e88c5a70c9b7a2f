package io.xendisk.xen.real;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;

import io.xendisk.os.LibC;
import io.xendisk.xen.EventChannel;
import io.xendisk.xen.EventChannelException;

/**
 * One interdomain event channel on its own libxenevtchn handle. The ring
 * thread calls {@link #notifyRemote()} and {@link #await}; await is poll()
 * on the handle's fd plus an eventfd that {@link #wakeup()} and
 * {@link #close()} signal, then {@code xenevtchn_pending} and
 * {@code xenevtchn_unmask} (the kernel masks a port when it delivers it).
 *
 * <p>close() may come from another thread: it wakes a blocked await, then
 * unbinds and closes the handle once no call is using it.
 */
public final class RealEventChannel implements EventChannel {
    private static final Logger LOG = LogManager.getLogger(RealEventChannel.class);
    private static final int POLLFD_SIZE = 8; // int fd; short events; short revents

    private final EvtchnLib lib;
    private final Pointer handle;
    private final int port;
    private final int domid;
    private final int remotePort;
    private final int wakeFd;
    private final Memory pollfds = new Memory(2 * POLLFD_SIZE);
    private final Memory word = new Memory(8);
    /** For wakeup(), which may run on any thread while await() uses {@link #word}. */
    private final Memory wakeWord = new Memory(8);
    private final Object wakeLock = new Object();
    private final ReentrantLock lock = new ReentrantLock();
    private final AtomicBoolean closed = new AtomicBoolean();
    private boolean notifyFailureLogged;

    RealEventChannel(EvtchnLib lib, Pointer handle, int port, int domid, int remotePort) {
        this.lib = lib;
        this.handle = handle;
        this.port = port;
        this.domid = domid;
        this.remotePort = remotePort;
        int fd = lib.xenevtchn_fd(handle);
        if (fd < 0) {
            throw new EventChannelException("no file descriptor for the event channel handle");
        }
        wakeFd = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        if (wakeFd < 0) {
            throw new EventChannelException("eventfd: " + LibC.describe(LibC.errno()));
        }
        pollfds.clear();
        pollfds.setInt(0, fd);
        pollfds.setShort(4, LibC.POLLIN);
        pollfds.setInt(POLLFD_SIZE, wakeFd);
        pollfds.setShort(POLLFD_SIZE + 4, LibC.POLLIN);
    }

    @Override
    public int localPort() {
        return port;
    }

    /** The guest's domain. */
    public int remoteDomid() {
        return domid;
    }

    /** The guest's port. */
    public int remotePort() {
        return remotePort;
    }

    @Override
    public void notifyRemote() {
        if (closed.get()) {
            return;
        }
        lock.lock();
        try {
            if (closed.get()) {
                return;
            }
            if (EvtchnLib.Direct.xenevtchn_notify(handle, port) != 0 && !notifyFailureLogged) {
                notifyFailureLogged = true;
                LOG.warn("domain {} port {} (local {}): notify failed: {}", domid, remotePort, port,
                        LibC.describe(LibC.errno()));
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public boolean await(long timeoutNanos) throws InterruptedException {
        if (Thread.interrupted()) {
            throw new InterruptedException("domain " + domid + " port " + remotePort + ": await interrupted");
        }
        if (closed.get()) {
            return false;
        }
        lock.lock();
        try {
            if (closed.get()) {
                return false;
            }
            int millis = timeoutNanos <= 0 ? 0
                    : (int) Math.min(Integer.MAX_VALUE, TimeUnit.NANOSECONDS.toMillis(timeoutNanos + 999_999));
            pollfds.setShort(6, (short) 0);
            pollfds.setShort(POLLFD_SIZE + 6, (short) 0);
            int n = LibC.poll(pollfds, 2, millis);
            if (n < 0) {
                int errno = LibC.errno();
                if (errno == LibC.EINTR) {
                    return false;
                }
                throw new EventChannelException("domain " + domid + " port " + remotePort + ": poll: " + LibC.describe(errno));
            }
            if (n == 0 || closed.get()) {
                return false;
            }
            if ((pollfds.getShort(POLLFD_SIZE + 6) & LibC.POLLIN) != 0) {
                LibC.read(wakeFd, word, 8); // resets the eventfd's count: all wakeups so far are answered
            }
            short revents = pollfds.getShort(6);
            if ((revents & (LibC.POLLERR | LibC.POLLNVAL)) != 0) {
                throw new EventChannelException("domain " + domid + " port " + remotePort
                        + ": the event channel device reported an error (revents 0x" + Integer.toHexString(revents) + ")");
            }
            if ((revents & LibC.POLLIN) == 0) {
                return false;
            }
            int p = EvtchnLib.Direct.xenevtchn_pending(handle);
            if (p < 0) {
                return false;
            }
            if (EvtchnLib.Direct.xenevtchn_unmask(handle, p) != 0) {
                throw new EventChannelException("domain " + domid + " port " + remotePort + ": unmask of local port "
                        + p + " failed: " + LibC.describe(LibC.errno()));
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Not under {@link #lock}, which await holds while it polls; {@link #wakeLock} keeps the fd open meanwhile. */
    @Override
    public void wakeup() {
        synchronized (wakeLock) {
            if (!closed.get()) {
                wakeWord.setLong(0, 1);
                LibC.write(wakeFd, wakeWord, 8);
            }
        }
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        word.setLong(0, 1);
        LibC.write(wakeFd, word, 8); // wakes an await blocked in poll
        lock.lock();
        try {
            if (lib.xenevtchn_unbind(handle, port) != 0) {
                LOG.warn("domain {} port {} (local {}): unbind failed: {}", domid, remotePort, port,
                        LibC.describe(LibC.errno()));
            }
            lib.xenevtchn_close(handle);
            synchronized (wakeLock) {
                LibC.close(wakeFd);
            }
        } finally {
            lock.unlock();
        }
    }
}
