package io.xendisk.xen.sim;

import io.xendisk.xen.store.XsPacket;
import java.io.EOFException;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * One client connection acting as one domain. A reader thread decodes requests
 * and hands them to the {@link Handler}; a writer thread drains a queue of replies
 * and watch events, so a client that does not read only ever blocks its own writer.
 * A client that lets more than {@link SimLimits#MAX_PENDING_OUTPUT_BYTES} pile up
 * is disconnected.
 */
final class SimConnection {
    /** What the server does with a connection's requests. */
    interface Handler {
        void handle(SimConnection c, XsPacket request);

        /** The connection is gone: forget its watches and transactions. */
        void closed(SimConnection c);
    }

    private static final Logger LOG = LogManager.getLogger(SimConnection.class);
    private static final XsPacket STOP = new XsPacket(-1, 0, 0, new byte[0]);

    private final SocketChannel channel;
    private final int domid;
    private final String label;
    private final Handler handler;
    private final Runnable detach;
    private final LinkedBlockingQueue<XsPacket> out = new LinkedBlockingQueue<>();
    private final AtomicLong pendingBytes = new AtomicLong();
    private final AtomicBoolean closed = new AtomicBoolean();

    SimConnection(SocketChannel channel, int domid, String label, Handler handler, Runnable detach) {
        this.channel = channel;
        this.domid = domid;
        this.label = label;
        this.handler = handler;
        this.detach = detach;
    }

    int domid() {
        return domid;
    }

    @Override
    public String toString() {
        return label;
    }

    void start() {
        thread(this::readLoop, "reader").start();
        thread(this::writeLoop, "writer").start();
    }

    private Thread thread(Runnable r, String role) {
        Thread t = new Thread(r, "xenstored-" + label + "-" + role);
        t.setDaemon(true);
        return t;
    }

    /** Queues a reply or event; never blocks, so it is safe under the store lock. */
    void send(XsPacket p) {
        if (closed.get()) {
            return;
        }
        long n = pendingBytes.addAndGet(XsPacket.HEADER_SIZE + p.payload().length);
        if (n > SimLimits.MAX_PENDING_OUTPUT_BYTES) {
            LOG.warn("{}: {} bytes of replies and watch events unread; disconnecting the client", label, n);
            // Only the channel here: the caller may hold the store lock and be iterating
            // watches; the writer thread fails on the closed channel and cleans up.
            closeChannelQuietly();
            return;
        }
        out.add(p);
    }

    private void readLoop() {
        try {
            while (!closed.get()) {
                XsPacket p = XsPacket.readFrom(channel, SimLimits.MAX_PAYLOAD);
                if (p == null) {
                    LOG.info("{}: client disconnected", label);
                    break;
                }
                handler.handle(this, p);
            }
        } catch (XsPacket.XsProtocolException e) {
            LOG.warn("{}: malformed packet, {}; closing the connection as its framing is lost", label, e.getMessage());
        } catch (EOFException e) {
            LOG.warn("{}: client disconnected in the middle of a message", label);
        } catch (ClosedChannelException e) {
            // closed by us (server shutdown, RELEASE, output overflow)
        } catch (IOException e) {
            if (!closed.get()) {
                LOG.warn("{}: read failed ({}); closing the connection", label, e.toString());
            }
        } catch (RuntimeException e) {
            LOG.error("{}: internal error while handling a request; closing the connection", label, e);
        } finally {
            close();
        }
    }

    private void writeLoop() {
        try {
            while (true) {
                XsPacket p = out.take();
                if (p == STOP) {
                    break;
                }
                p.writeTo(channel);
                pendingBytes.addAndGet(-(XsPacket.HEADER_SIZE + p.payload().length));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            if (!closed.get()) {
                LOG.info("{}: write failed ({}); closing the connection", label, e.toString());
            }
        } finally {
            close();
        }
    }

    /** Closes the socket, stops both threads and tells the handler; idempotent. */
    void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        out.clear();
        out.add(STOP);
        closeChannelQuietly();
        handler.closed(this);
        detach.run();
    }

    private void closeChannelQuietly() {
        try {
            channel.close();
        } catch (IOException e) {
            LOG.debug("{}: close failed", label, e);
        }
    }
}
