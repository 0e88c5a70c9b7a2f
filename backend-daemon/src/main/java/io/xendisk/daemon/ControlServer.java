package io.xendisk.daemon;

import io.xendisk.api.ControlCodec;
import io.xendisk.api.ControlRequest;
import io.xendisk.api.ControlResponse;
import io.xendisk.api.ProtocolException;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The daemon's control socket: a unix stream socket (mode 0600) on which each
 * connection carries one {@link ControlRequest} and gets one
 * {@link ControlResponse}. The peer is identified with SO_PEERCRED and refused
 * unless {@link PeerPolicy} allows it. A bad frame costs the client its
 * connection (with an error reply where possible), never the daemon.
 */
public final class ControlServer implements AutoCloseable {
    /** Executes one request; runs on a connection thread. */
    @FunctionalInterface
    public interface Handler {
        ControlResponse handle(ControlRequest request);
    }

    private static final Logger LOG = LogManager.getLogger(ControlServer.class);
    /** Concurrent connections; more are answered "busy" so a flood cannot exhaust threads. */
    private static final int MAX_CONNECTIONS = 16;

    private final Path socket;
    private final ServerSocketChannel server;
    private final PeerPolicy policy;
    private final Handler handler;
    private final Semaphore slots = new Semaphore(MAX_CONNECTIONS);
    private final Set<SocketChannel> open = ConcurrentHashMap.newKeySet();
    private final AtomicInteger connections = new AtomicInteger();
    private final Thread acceptor;

    private ControlServer(Path socket, ServerSocketChannel server, PeerPolicy policy, Handler handler) {
        this.socket = socket;
        this.server = server;
        this.policy = policy;
        this.handler = handler;
        this.acceptor = new Thread(this::acceptLoop, "control-accept");
    }

    /**
     * Binds the socket (which must not exist: the caller removes a stale one
     * while holding the daemon lock) with mode 0600 and starts accepting.
     */
    public static ControlServer start(Path socket, PeerPolicy policy, Handler handler) throws IOException {
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            server.bind(UnixDomainSocketAddress.of(socket));
            Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
        } catch (IOException | RuntimeException e) {
            server.close();
            throw e;
        }
        ControlServer s = new ControlServer(socket, server, policy, handler);
        s.acceptor.start();
        return s;
    }

    public Path socket() {
        return socket;
    }

    private void acceptLoop() {
        while (server.isOpen()) {
            SocketChannel conn;
            try {
                conn = server.accept();
            } catch (ClosedChannelException e) {
                return; // close() was called
            } catch (IOException e) {
                LOG.warn("control socket {}: accept failed: {}", socket, e.toString());
                continue;
            }
            if (!slots.tryAcquire()) {
                reply(conn, ControlResponse.error(ControlResponse.FAILED,
                        "xen-disk-java: daemon busy (" + MAX_CONNECTIONS + " control connections open); try again"));
                closeQuietly(conn);
                continue;
            }
            open.add(conn);
            Thread t = new Thread(() -> {
                try {
                    serve(conn);
                } finally {
                    open.remove(conn);
                    closeQuietly(conn);
                    slots.release();
                }
            }, "control-" + connections.incrementAndGet());
            t.setDaemon(true);
            t.start();
        }
    }

    private void serve(SocketChannel conn) {
        String peer = "?";
        try {
            UnixDomainPrincipal principal = conn.getOption(ExtendedSocketOptions.SO_PEERCRED);
            peer = principal.user().getName();
            InputStream in = Channels.newInputStream(conn);
            byte[] frame;
            try {
                frame = ControlCodec.readFrame(in);
            } catch (EOFException e) {
                LOG.debug("control connection from {} closed early: {}", peer, e.getMessage());
                return;
            } catch (ProtocolException e) {
                LOG.warn("control connection from user {}: {}", peer, e.getMessage());
                reply(conn, ControlResponse.error(ControlResponse.USAGE, "xen-disk-java: bad control request: "
                        + e.getMessage()));
                return;
            }
            // the frame is read before refusing, so the client sees our answer
            // rather than a connection reset over its unread request
            Optional<String> refusal = policy.refusal(peer);
            if (refusal.isPresent()) {
                LOG.warn("control connection from user {} refused: not root", peer);
                reply(conn, ControlResponse.error(ControlResponse.FAILED, refusal.get()));
                return;
            }
            ControlRequest request;
            try {
                request = ControlCodec.decodeRequest(frame);
            } catch (ProtocolException e) {
                LOG.warn("control request from user {}: {}", peer, e.getMessage());
                reply(conn, ControlResponse.error(ControlResponse.USAGE, "xen-disk-java: bad control request: "
                        + e.getMessage()));
                return;
            }
            LOG.info("control request from user {}: {}", peer,
                    String.join(" ", request.verb(), String.join(" ", request.args())).trim());
            ControlResponse response;
            try {
                response = handler.handle(request);
            } catch (RuntimeException e) {
                LOG.error("control request '{}' failed", request.verb(), e);
                response = ControlResponse.error(ControlResponse.FAILED, "xen-disk-java: daemon error while handling '"
                        + request.verb() + "': " + e + " (see the daemon log)");
            }
            reply(conn, response);
        } catch (IOException | RuntimeException e) {
            if (server.isOpen()) {
                LOG.warn("control connection from user {}: {}", peer, e.toString());
            }
        }
    }

    private static void reply(SocketChannel conn, ControlResponse response) {
        try {
            OutputStream out = Channels.newOutputStream(conn);
            ControlCodec.writeFrame(out, ControlCodec.encode(response));
        } catch (IOException e) {
            LOG.debug("control client went away before its reply: {}", e.toString());
        }
    }

    /**
     * Stops accepting, lets requests in flight finish for a moment (so a
     * {@code shutdown} gets its reply), then drops the rest and removes the socket.
     */
    @Override
    public void close() {
        closeQuietly(server);
        try {
            acceptor.join(TimeUnit.SECONDS.toMillis(2));
            if (slots.tryAcquire(MAX_CONNECTIONS, 2, TimeUnit.SECONDS)) {
                slots.release(MAX_CONNECTIONS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        open.forEach(ControlServer::closeQuietly);
        try {
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            LOG.warn("could not remove control socket {}: {}", socket, e.toString());
        }
    }

    private static void closeQuietly(java.io.Closeable c) {
        try {
            c.close();
        } catch (IOException e) {
            // closing after an error: nothing useful to add
        }
    }
}
