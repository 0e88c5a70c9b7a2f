package io.xendisk.storage.nbd;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import tlschannel.TlsChannel;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SocketChannel;

/**
 * The bytes of one connection: the socket itself, or TLS over it once
 * NBD_OPT_STARTTLS has succeeded. The reader thread reads while senders
 * write, on either.
 */
final class NbdTransport implements ByteChannel {
    private static final Logger LOG = LogManager.getLogger(NbdTransport.class);

    private final SocketChannel socket;
    /** Null: plain. */
    private final TlsChannel tls;

    private NbdTransport(SocketChannel socket, TlsChannel tls) {
        this.socket = socket;
        this.tls = tls;
    }

    /** The socket as it is. */
    static NbdTransport plain(SocketChannel socket) {
        return new NbdTransport(socket, null);
    }

    /** TLS over {@code socket} (which {@code tls} wraps). */
    static NbdTransport tls(SocketChannel socket, TlsChannel tls) {
        return new NbdTransport(socket, tls);
    }

    /** Whether the bytes are encrypted. */
    boolean encrypted() {
        return tls != null;
    }

    /** What a selector waits on: the socket, whatever runs over it. */
    SelectableChannel selectable() {
        return socket;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        return tls == null ? socket.read(dst) : tls.read(dst);
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        return tls == null ? socket.write(src) : tls.write(src);
    }

    /** A gathering write: the buffers in order, as far as the socket takes them. */
    long write(ByteBuffer[] srcs) throws IOException {
        return tls == null ? socket.write(srcs) : tls.write(srcs);
    }

    /** Says the client sends no more: TLS's close_notify first, then the socket's half-close. */
    void shutdownOutput() throws IOException {
        if (tls != null) {
            tls.shutdown();
        }
        socket.shutdownOutput();
    }

    @Override
    public boolean isOpen() {
        return socket.isOpen();
    }

    /** Drops the connection at once (no close_notify: a close may interrupt a reader mid-record). */
    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException e) {
            LOG.trace("closing an NBD socket: {}", e.toString());
        }
    }
}
