package io.xendisk.xen.sim.domain;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The liveness mark of a simulated guest: an exclusive lock on
 * {@code <simdir>/dom<N>/alive.lock}, held by the guest process for its whole
 * life. The kernel drops it when the process dies, however it dies, which is
 * what {@link GuestReaper} waits for.
 */
public final class DomainLock implements AutoCloseable {
    /** The lock file's name in the domain directory. */
    public static final String FILE = "alive.lock";

    private final FileChannel channel;
    private final FileLock lock;

    private DomainLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    public static Path path(Path simdir, int domid) {
        return SimPaths.domain(simdir, domid).resolve(FILE);
    }

    /**
     * Creates and locks the domain's lock file.
     * @throws IOException when it cannot, or another process holds it
     */
    public static DomainLock acquire(Path simdir, int domid) throws IOException {
        Path p = path(simdir, domid);
        FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        try {
            FileLock l = ch.tryLock();
            if (l == null) {
                throw new IOException("domain " + domid + ": " + p + " is locked by another live guest process");
            }
            return new DomainLock(ch, l);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** Drops the lock (the guest is gone as far as the platform is concerned). */
    @Override
    public void close() throws IOException {
        try {
            lock.release();
        } finally {
            channel.close();
        }
    }
}
