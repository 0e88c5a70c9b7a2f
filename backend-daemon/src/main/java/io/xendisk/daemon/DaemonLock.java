package io.xendisk.daemon;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One daemon per host (per run directory): an exclusive lock on
 * {@code daemon.lock}, which holds the owner's pid. The kernel drops the lock
 * when the process dies, even by kill -9, so a free lock means no daemon and
 * whatever socket is left over is stale.
 */
public final class DaemonLock implements AutoCloseable {
    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;

    private DaemonLock(Path file, FileChannel channel, FileLock lock) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Takes the lock and writes {@code pid} into the file.
     *
     * @throws AlreadyRunningException if another process holds it
     */
    public static DaemonLock acquire(Path file, long pid) throws IOException, AlreadyRunningException {
        // A stopping daemon deletes the file after unlocking it; if we locked that
        // unlinked inode, a third process could lock a fresh file too: retry then.
        for (int attempt = 0; attempt < 5; attempt++) {
            FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null; // held by this very JVM
            } catch (IOException | RuntimeException e) {
                ch.close();
                throw e;
            }
            if (lock == null) {
                ch.close();
                long owner = readPid(file);
                throw new AlreadyRunningException(owner, "lock " + file + " is held by "
                        + (owner > 0 ? "pid " + owner : "another process"));
            }
            if (!Files.exists(file)) {
                ch.close();
                continue;
            }
            ch.truncate(0);
            ch.write(ByteBuffer.wrap((pid + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
            ch.force(false);
            return new DaemonLock(file, ch, lock);
        }
        throw new IOException("could not lock " + file + ": it keeps disappearing (another daemon stopping?)");
    }

    /** The pid written in a lock file, or -1 if absent or unreadable. */
    public static long readPid(Path file) {
        try {
            return Long.parseLong(Files.readString(file, StandardCharsets.US_ASCII).trim());
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    /** Removes the file, then releases the lock. */
    @Override
    public void close() throws IOException {
        if (!channel.isOpen()) {
            return;
        }
        try {
            Files.deleteIfExists(file);
        } catch (NoSuchFileException ignored) {
            // already gone: nothing to clean
        } finally {
            lock.release();
            channel.close();
        }
    }
}
