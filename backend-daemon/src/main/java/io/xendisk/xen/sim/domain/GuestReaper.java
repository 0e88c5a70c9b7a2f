package io.xendisk.xen.sim.domain;

import java.io.IOException;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.FileChannel;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import io.xendisk.xen.store.XenStore;
import io.xendisk.xen.store.XenStoreClient;
import io.xendisk.xen.store.XenStoreException;
import io.xendisk.xen.store.XsErrno;

/**
 * Notices simulated guests that die without shutting down (kill -9, crash)
 * and does what Xen does for a destroyed domain: removes its files and its
 * /local/domain/N and releases it, so {@code @releaseDomain} fires and
 * backends tear their devices down.
 *
 * <p>For every introduced domain that has a {@link DomainLock} file under
 * the simdir, a thread blocks acquiring that lock; it gets it only when the
 * guest process is gone. A guest that shut down cleanly has already removed
 * its lock file and released itself, and is left alone. Meant for the
 * backend daemon (dom0 connection); guests in the reaper's own JVM are not
 * watched (a JVM cannot wait for its own lock).
 */
public final class GuestReaper implements AutoCloseable {
    private static final Logger LOG = LogManager.getLogger(GuestReaper.class);

    /** Hears about each guest the reaper cleaned up after. */
    @FunctionalInterface
    public interface Listener {
        void reaped(int domid);
    }

    private final XenStoreClient dom0;
    private final Path simdir;
    private final Listener listener;
    private final Map<Integer, FileChannel> watched = new ConcurrentHashMap<>();
    private final Set<Integer> sameJvm = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;
    private XenStore.Watch watch;

    private GuestReaper(XenStoreClient dom0, Path simdir, Listener listener) {
        this.dom0 = dom0;
        this.simdir = simdir;
        this.listener = listener;
    }

    /**
     * Starts watching {@code @introduceDomain} on a dom0 connection (the
     * watch fires once at once, so guests already running are covered too).
     */
    public static GuestReaper start(XenStoreClient dom0, Path simdir, Listener listener) {
        GuestReaper r = new GuestReaper(dom0, simdir, Objects.requireNonNull(listener, "listener"));
        r.watch = dom0.watch("@introduceDomain", "xdj-guest-reaper:" + System.identityHashCode(r), (p, t) -> r.scan());
        return r;
    }

    /** The domids whose guests are being watched now. */
    public Set<Integer> watching() {
        return Set.copyOf(watched.keySet());
    }

    /** Looks for introduced simulated domains not yet watched. */
    public synchronized void scan() {
        if (closed) {
            return;
        }
        try {
            for (int domid : SimPaths.guestDomids(simdir)) {
                if (watched.containsKey(domid) || sameJvm.contains(domid)
                        || !Files.exists(DomainLock.path(simdir, domid))) {
                    continue;
                }
                if (dom0.isDomainIntroduced(domid)) {
                    watch(domid);
                }
            }
        } catch (NoSuchFileException e) {
            // no simdir yet: no guests
        } catch (IOException | XenStoreException e) {
            LOG.warn("guest reaper: cannot scan {}: {}", simdir, e.getMessage());
        }
    }

    private void watch(int domid) throws IOException {
        Path lockFile = DomainLock.path(simdir, domid);
        FileChannel ch;
        Object key;
        try {
            ch = FileChannel.open(lockFile, StandardOpenOption.WRITE);
            key = Files.readAttributes(lockFile, BasicFileAttributes.class).fileKey();
        } catch (NoSuchFileException e) {
            return; // shut down meanwhile
        }
        watched.put(domid, ch);
        Thread t = new Thread(() -> await(domid, lockFile, ch, key), "guest-reaper dom" + domid);
        t.setDaemon(true);
        t.start();
    }

    private void await(int domid, Path lockFile, FileChannel ch, Object key) {
        try (ch) {
            try {
                ch.lock().release(); // returns when the guest process is gone
            } catch (OverlappingFileLockException e) {
                sameJvm.add(domid); // our own JVM runs this guest: it cannot be killed without us
                return;
            }
            if (closed) {
                return;
            }
            Object now = fileKey(lockFile);
            if (now == null || !now.equals(key)) {
                return; // it shut down cleanly (lock file removed) or a new guest took the domid
            }
            reap(domid);
        } catch (AsynchronousCloseException e) {
            // the reaper is closing
        } catch (IOException | RuntimeException e) {
            LOG.warn("guest reaper: domain {}: {}", domid, e.getMessage());
        } finally {
            watched.remove(domid, ch);
        }
    }

    private static Object fileKey(Path p) {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class).fileKey();
        } catch (IOException e) {
            return null;
        }
    }

    /** As for a destroyed domain: files first (so the domid cannot be reused half-cleaned), then xenstore. */
    private void reap(int domid) {
        LOG.warn("guest reaper: the guest of domain {} died without shutting down; releasing the domain", domid);
        Path dir = SimPaths.domain(simdir, domid);
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path f : files) {
                Files.deleteIfExists(f);
            }
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            LOG.warn("guest reaper: domain {}: cannot remove {}: {}", domid, dir, e.getMessage());
        }
        try {
            dom0.rm("/local/domain/" + domid);
        } catch (XenStoreException e) {
            LOG.warn("guest reaper: domain {}: cannot remove /local/domain/{}: {}", domid, domid, e.getMessage());
        }
        try {
            dom0.release(domid);
        } catch (XenStoreException e) {
            if (e.errno() != XsErrno.ENOENT) {
                LOG.warn("guest reaper: domain {}: RELEASE failed: {}", domid, e.getMessage());
            }
        }
        try {
            listener.reaped(domid);
        } catch (RuntimeException e) {
            LOG.error("guest reaper: listener failed for domain {}", domid, e);
        }
    }

    /** Stops watching; guests keep running. */
    @Override
    public void close() {
        closed = true;
        if (watch != null) {
            watch.close();
        }
        for (FileChannel ch : watched.values()) {
            try {
                ch.close();
            } catch (IOException e) {
                // closing anyway
            }
        }
        watched.clear();
    }
}
