package io.xendisk.storage.nbd;

import io.xendisk.storage.Capabilities;
import io.xendisk.storage.IoEngine;
import io.xendisk.storage.IoRequest;
import io.xendisk.storage.Storage;
import io.xendisk.storage.StorageException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One NBD export on the backend's face: every request becomes one NBD
 * request on the connection and completes when the server has answered it,
 * so a ring keeps as many in flight as the client allows.
 *
 * <p>The data comes as one buffer (not vectored): the ring copies the guest's
 * segments into it, as blkback's grant copy does, and the server gets one
 * request of up to 44 KiB (or 1 MiB, indirect) instead of one per 4 KiB page,
 * each of which costs a round trip on the server. Completions are taken from
 * a pool and go back to it, so a request allocates nothing. The client holds
 * a ring's batch until {@link #unplug()}, which writes it in one go.
 *
 * <p>With several connections (the server allows them: NBD_FLAG_CAN_MULTI_CONN,
 * under which a FLUSH on one makes what every connection wrote durable), each
 * ring thread sends a batch on one connection and its next batch on the next,
 * so a batch still goes out in one write and the batches of a busy ring are
 * served side by side.
 */
final class NbdDisk implements IoEngine {
    /** Completions kept for reuse; more are made when more requests are in flight at once. */
    private static final int POOL = 256;

    private final NbdClient[] clients;
    /** The first connection: what the disk is, for capabilities and messages. */
    private final NbdClient client;
    /** Which connection each ring thread sends its batch on; moves on at each unplug. */
    private final ThreadLocal<int[]> cursor;
    private final Capabilities caps;
    private final ArrayBlockingQueue<Answer> answers = new ArrayBlockingQueue<>(POOL);
    /** Once a FLUSH failed, none succeeds again: what it should have made durable may be lost. */
    private volatile String flushFailed;

    NbdDisk(NbdClient[] clients, boolean readOnly) {
        this.clients = clients;
        this.client = clients[0];
        AtomicInteger next = new AtomicInteger();
        // threads start on different connections, so that two rings do not take turns at one
        this.cursor = ThreadLocal.withInitial(() -> new int[] {Math.floorMod(next.getAndIncrement(), clients.length)});
        boolean ro = readOnly || client.readOnly();
        // durable only when the server can be asked to flush
        this.caps = new Capabilities(ro, client.canFlush(), false, !ro && client.canTrim());
    }

    @Override
    public long sizeBytes() {
        return client.size() & ~(long) (Storage.SECTOR_SIZE - 1);
    }

    @Override
    public Capabilities capabilities() {
        return caps;
    }

    @Override
    public Submission submit(IoRequest r) {
        long offset = r.sector() << Storage.SECTOR_SHIFT;
        switch (r.op()) {
            case READ -> connection().read(offset, data(r), answer(r));
            case WRITE -> connection().write(offset, data(r), false, answer(r));
            case FLUSH -> {
                if (flushFailed != null) {
                    throw new StorageException(null, "an earlier flush of " + client.uri() + " failed (" + flushFailed
                            + "); no flush succeeds until the disk is disconnected and connected again");
                }
                if (!client.canFlush()) {
                    return Submission.EXECUTED; // the export says writes need no flush
                }
                connection().flush(answer(r));
            }
            case DISCARD -> {
                if (!caps.discard()) {
                    return Submission.EXECUTED; // advisory: nothing to free
                }
                connection().trim(offset, r.sectors() << Storage.SECTOR_SHIFT, answer(r));
            }
            default -> throw new IllegalArgumentException("unknown operation " + r.op());
        }
        return Submission.SUBMITTED;
    }

    /** The connection the calling ring thread's batch goes on. */
    private NbdClient connection() {
        return clients.length == 1 ? client : clients[cursor.get()[0] % clients.length];
    }

    private static ByteBuffer data(IoRequest r) {
        ByteBuffer b = r.buffer();
        if (b == null) {
            // a backend that hands pieces to an engine that did not ask for them is a bug of ours
            throw new IllegalStateException("the nbd engine takes a request's data as one buffer, got "
                    + r.pieces() + " pieces");
        }
        return b;
    }

    private Answer answer(IoRequest r) {
        Answer a = answers.poll();
        if (a == null) {
            a = new Answer();
        }
        a.request = r;
        return a;
    }

    /** Ends one ring request with the server's answer, then goes back to the pool. */
    private final class Answer implements NbdClient.Completion {
        IoRequest request;

        @Override
        public void done(int error, IOException failure) {
            IoRequest r = request;
            request = null;
            StorageException e = error == 0 && failure == null ? null : failure(r, error, failure);
            answers.offer(this);
            r.complete(e);
        }
    }

    private StorageException failure(IoRequest r, int error, IOException failure) {
        String doing = switch (r.op()) {
            case READ -> "reading";
            case WRITE -> "writing";
            case FLUSH -> "flushing";
            case DISCARD -> "trimming";
        };
        String why = failure != null ? failure.getMessage() : "the server answered " + NbdProtocol.errorName(error);
        StorageException e = new StorageException(null, "NBD export " + client.uri() + ": " + doing + " at sector "
                + r.sector() + " failed: " + why);
        if (r.op() == IoRequest.Op.FLUSH) {
            flushFailed = e.getMessage();
        }
        return e;
    }

    @Override
    public void unplug() {
        if (clients.length == 1) {
            client.unplug();
            return;
        }
        int[] k = cursor.get();
        clients[k[0] % clients.length].unplug();
        k[0] = (k[0] + 1) % clients.length;
    }

    /** The number of connections the disk uses. */
    int connections() {
        return clients.length;
    }

    @Override
    public void close() {
        for (NbdClient c : clients) {
            c.close();
        }
    }

    @Override
    public String toString() {
        return "nbd:" + client.uri() + (clients.length == 1 ? "" : " (" + clients.length + " connections)");
    }
}
