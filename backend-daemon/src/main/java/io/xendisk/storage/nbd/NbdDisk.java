package io.xendisk.storage.nbd;

import io.xendisk.storage.Capabilities;
import io.xendisk.storage.IoEngine;
import io.xendisk.storage.IoRequest;
import io.xendisk.storage.Storage;
import io.xendisk.storage.StorageException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One NBD export on the backend's face: every request becomes NBD requests on
 * the connection and completes when the server has answered them all, so a
 * ring keeps as many in flight as the client allows.
 */
final class NbdDisk implements IoEngine {
    private final NbdClient client;
    private final Capabilities caps;
    /** Once a FLUSH failed, none succeeds again: what it should have made durable may be lost. */
    private volatile String flushFailed;

    NbdDisk(NbdClient client, boolean readOnly) {
        this.client = client;
        boolean ro = readOnly || client.readOnly();
        // durable only when the server can be asked to flush; the pieces go out as NBD requests of their own
        this.caps = new Capabilities(ro, client.canFlush(), false, !ro && client.canTrim(), false, true);
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
            case READ, WRITE -> transfer(r, offset);
            case FLUSH -> {
                if (flushFailed != null) {
                    throw new StorageException(null, "an earlier flush of " + client.uri() + " failed (" + flushFailed
                            + "); no flush succeeds until the disk is disconnected and connected again");
                }
                if (!client.canFlush()) {
                    return Submission.EXECUTED; // the export says writes need no flush
                }
                client.flush((error, failure) -> {
                    StorageException e = failure(r, "flushing", error, failure);
                    if (e != null) {
                        flushFailed = e.getMessage();
                    }
                    r.complete(e);
                });
            }
            case DISCARD -> {
                if (!caps.discard()) {
                    return Submission.EXECUTED; // advisory: nothing to free
                }
                client.trim(offset, r.sectors() << Storage.SECTOR_SHIFT,
                        (error, failure) -> r.complete(failure(r, "trimming", error, failure)));
            }
            default -> throw new IllegalArgumentException("unknown operation " + r.op());
        }
        return Submission.SUBMITTED;
    }

    /** One NBD request per piece; the ring request completes with the last answer, failed if any failed. */
    private void transfer(IoRequest r, long offset) {
        boolean read = r.op() == IoRequest.Op.READ;
        ByteBuffer one = r.buffer();
        if (one != null) {
            NbdClient.Completion c = (error, failure) -> r.complete(failure(r, read ? "reading" : "writing", error,
                    failure));
            if (read) {
                client.read(offset, one, c);
            } else {
                client.write(offset, one, false, c);
            }
            return;
        }
        int n = r.pieces();
        AtomicInteger left = new AtomicInteger(n);
        StorageException[] first = new StorageException[1];
        NbdClient.Completion c = (error, failure) -> {
            StorageException e = failure(r, read ? "reading" : "writing", error, failure);
            if (e != null) {
                synchronized (first) {
                    if (first[0] == null) {
                        first[0] = e;
                    }
                }
            }
            if (left.decrementAndGet() == 0) {
                StorageException f;
                synchronized (first) {
                    f = first[0];
                }
                r.complete(f);
            }
        };
        long at = offset;
        for (int i = 0; i < n; i++) {
            int off = r.pieceOffsets()[i];
            int len = r.pieceLengths()[i];
            ByteBuffer piece = r.pieceBuffers()[i].duplicate().clear().position(off).limit(off + len);
            if (read) {
                client.read(at, piece, c);
            } else {
                client.write(at, piece, false, c);
            }
            at += len;
        }
    }

    private StorageException failure(IoRequest r, String doing, int error, IOException failure) {
        if (error == 0 && failure == null) {
            return null;
        }
        String why = failure != null ? failure.getMessage() : "the server answered " + NbdProtocol.errorName(error);
        return new StorageException(null, "NBD export " + client.uri() + ": " + doing + " at sector " + r.sector()
                + " failed: " + why);
    }

    @Override
    public void close() {
        client.close();
    }

    @Override
    public String toString() {
        return "nbd:" + client.uri();
    }
}
