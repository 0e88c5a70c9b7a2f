package io.xendisk.guest;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import io.xendisk.storage.Capabilities;
import io.xendisk.storage.IoEngine;
import io.xendisk.storage.IoRequest;
import io.xendisk.storage.StorageException;

/**
 * An asynchronous engine for tests, as a remote store behaves: every
 * operation is accepted at once and completed later, after a random delay,
 * by one of several threads doing positional I/O on a real file, so
 * operations complete out of order. Counts how many were in flight at
 * once and how many completed before one submitted earlier.
 */
final class OutOfOrderEngine implements IoEngine {
    private final Path path;
    private final FileChannel file;
    private final long size;
    private final ExecutorService threads = Executors.newFixedThreadPool(8, r -> {
        Thread t = new Thread(r, "out-of-order engine");
        t.setDaemon(true);
        return t;
    });
    private final long maxDelayMicros;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicInteger maxInFlight = new AtomicInteger();
    private final AtomicLong submitted = new AtomicLong();
    private final AtomicLong newestCompleted = new AtomicLong(-1);
    private final AtomicLong overtaken = new AtomicLong();

    OutOfOrderEngine(Path path, long maxDelayMicros) throws IOException {
        this.path = path;
        this.file = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        this.size = file.size();
        this.maxDelayMicros = maxDelayMicros;
    }

    @Override
    public long sizeBytes() {
        return size;
    }

    @Override
    public Capabilities capabilities() {
        // takes the guest's pages as pieces: nothing is copied through a bounce buffer
        return new Capabilities(false, true, false, false).reachedAs(false, true);
    }

    @Override
    public Submission submit(IoRequest r) {
        long seq = submitted.getAndIncrement();
        maxInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
        long delay = new Random(seq).nextLong(maxDelayMicros + 1);
        threads.execute(() -> {
            StorageException failure = null;
            try {
                TimeUnit.MICROSECONDS.sleep(delay);
                run(r);
            } catch (IOException e) {
                failure = StorageException.io(path, r.op() + " at sector " + r.sector(), e);
            } catch (InterruptedException e) {
                failure = new StorageException(path, "interrupted");
            }
            if (newestCompleted.getAndAccumulate(seq, Math::max) > seq) {
                overtaken.incrementAndGet();
            }
            inFlight.decrementAndGet();
            r.complete(failure);
        });
        return Submission.SUBMITTED;
    }

    private void run(IoRequest r) throws IOException {
        long pos = r.sector() << 9;
        switch (r.op()) {
            case READ, WRITE -> {
                for (int i = 0; i < r.pieces(); i++) {
                    int off = r.pieceOffsets()[i];
                    ByteBuffer b = r.pieceBuffers()[i].duplicate().clear().position(off).limit(off + r.pieceLengths()[i]);
                    while (b.hasRemaining()) {
                        int n = r.op() == IoRequest.Op.READ ? file.read(b, pos) : file.write(b, pos);
                        if (n < 0) {
                            throw new IOException("end of file at " + pos);
                        }
                        pos += n;
                    }
                }
            }
            case FLUSH -> file.force(false);
            case DISCARD -> { }
            default -> throw new IOException("unknown op " + r.op());
        }
    }

    /** The most operations in flight at once. */
    int maxInFlight() {
        return maxInFlight.get();
    }

    /** Operations that completed after one submitted later than them. */
    long overtaken() {
        return overtaken.get();
    }

    @Override
    public void close() {
        threads.shutdown();
        try {
            threads.awaitTermination(10, TimeUnit.SECONDS);
            file.close();
        } catch (IOException | InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }
}
