package io.xendisk.storage.nbd;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.net.UnknownHostException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A socket to an NBD server that has been through the handshake and is in
 * the transmission phase for one export. {@link NbdClient} takes it over;
 * on its own it only tells what the export is.
 *
 * <p>{@link #open} is bounded by one timeout covering the connect and the
 * whole handshake: the channel is non-blocking until the server has
 * acknowledged the export, every wait a select against the deadline. Only the
 * host name lookup of a TCP URI is outside it (the JDK's resolver blocks as
 * the system's does).
 */
public final class NbdConnection implements AutoCloseable {
    private static final Logger LOG = LogManager.getLogger(NbdConnection.class);
    /** Long enough for a loaded server, short enough that a dead one is reported while someone waits. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

    private final NbdUri uri;
    private final NbdTransport transport;
    private final NbdExport export;

    private NbdConnection(NbdUri uri, NbdTransport transport, NbdExport export) {
        this.uri = uri;
        this.transport = transport;
        this.export = export;
    }

    /** {@link #open(NbdUri, Duration)} with {@link #DEFAULT_TIMEOUT}. */
    public static NbdConnection open(NbdUri uri) throws IOException {
        return open(uri, DEFAULT_TIMEOUT);
    }

    /**
     * Connects to {@code uri}'s server and negotiates its export.
     *
     * @throws NbdException           the server refused the export (no such export, TLS required or not
     *                                offered, a size that is not a multiple of 512, ...), the TLS handshake
     *                                failed, or the server broke the protocol
     * @throws SocketTimeoutException the server did not connect or answer within {@code timeout}
     * @throws IOException            the connection failed
     */
    public static NbdConnection open(NbdUri uri, Duration timeout) throws IOException {
        long timeoutMillis = Math.max(1, timeout.toMillis());
        long deadline = System.nanoTime() + timeout.toNanos();
        SocketChannel ch = uri.isUnix() ? connectUnix(uri, deadline, timeoutMillis) : connectTcp(uri, deadline,
                timeoutMillis);
        try {
            NbdHandshake.Negotiated n = NbdHandshake.negotiate(ch, uri, deadline, timeoutMillis);
            ch.configureBlocking(true);
            LOG.debug("NBD {}: connected{}, {}", uri, n.transport().encrypted() ? " with TLS" : "",
                    n.export().describe());
            return new NbdConnection(uri, n.transport(), n.export());
        } catch (IOException | RuntimeException | Error e) {
            closeQuietly(ch);
            throw e;
        }
    }

    /** The URI this connection was opened with. */
    public NbdUri uri() {
        return uri;
    }

    /** The export the server opened. */
    public NbdExport export() {
        return export;
    }

    /** The connection's bytes, blocking, in the transmission phase. */
    NbdTransport transport() {
        return transport;
    }

    /** Whether the connection is encrypted (an {@code nbds} URI). */
    public boolean encrypted() {
        return transport.encrypted();
    }

    /** Drops the connection without NBD_CMD_DISC (the client sends that before closing). */
    @Override
    public void close() {
        transport.close();
    }

    private static SocketChannel connectUnix(NbdUri uri, long deadline, long timeoutMillis) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            connect(ch, UnixDomainSocketAddress.of(uri.socket()), deadline, timeoutMillis);
            return ch;
        } catch (IOException e) {
            closeQuietly(ch);
            throw connectFailed(uri, uri.socket().toString(), e);
        }
    }

    /** Tries each of the host's addresses, so that "localhost" reaches a server listening on 127.0.0.1 only. */
    private static SocketChannel connectTcp(NbdUri uri, long deadline, long timeoutMillis) throws IOException {
        InetAddress[] addresses;
        try {
            addresses = InetAddress.getAllByName(uri.host());
        } catch (UnknownHostException e) {
            throw new UnknownHostException("cannot resolve the NBD server's host '" + uri.host() + "' of " + uri);
        }
        List<String> failures = new ArrayList<>();
        IOException last = null;
        for (InetAddress a : addresses) {
            SocketChannel ch = SocketChannel.open();
            try {
                ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                ch.setOption(StandardSocketOptions.SO_KEEPALIVE, true);
                connect(ch, new InetSocketAddress(a, uri.port()), deadline, timeoutMillis);
                return ch;
            } catch (IOException e) {
                closeQuietly(ch);
                failures.add(a.getHostAddress() + ": " + e.getMessage());
                last = e;
                if (e instanceof SocketTimeoutException) {
                    break;
                }
            }
        }
        throw connectFailed(uri, uri.server() + " (" + String.join("; ", failures) + ")", last);
    }

    private static void connect(SocketChannel ch, SocketAddress to, long deadline, long timeoutMillis)
            throws IOException {
        ch.configureBlocking(false);
        if (ch.connect(to)) {
            return;
        }
        try (Selector selector = Selector.open()) {
            ch.register(selector, SelectionKey.OP_CONNECT);
            while (!ch.finishConnect()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new SocketTimeoutException("no connection within " + timeoutMillis + " ms");
                }
                selector.select(Math.max(1, left / 1_000_000));
                selector.selectedKeys().clear();
            }
        }
    }

    private static IOException connectFailed(NbdUri uri, String where, IOException e) {
        String message = "cannot connect to the NBD server of " + uri + " at " + where
                + (uri.isUnix() ? ": " + e.getMessage() : "") + "; is the server running and listening there?";
        IOException wrapped = e instanceof SocketTimeoutException ? new SocketTimeoutException(message)
                : new ConnectException(message);
        wrapped.initCause(e);
        return wrapped;
    }

    static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException e) {
            LOG.trace("closing an NBD socket: {}", e.toString());
        }
    }
}
