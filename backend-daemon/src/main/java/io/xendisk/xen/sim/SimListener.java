package io.xendisk.xen.sim;

import java.io.IOException;
import java.net.SocketException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * A listening unix socket whose every connection acts as one domain: the main
 * socket is dom0, a per-domain socket is that guest. Accepts on its own thread.
 */
final class SimListener implements AutoCloseable {
    /** sun_path is 108 bytes including the terminating NUL. */
    static final int MAX_SOCKET_PATH_BYTES = 107;

    private static final Logger LOG = LogManager.getLogger(SimListener.class);
    private static final AtomicInteger SEQ = new AtomicInteger();

    private final ServerSocketChannel server;
    private final Path path;
    private final int domid;
    private final SimConnection.Handler handler;
    private final Set<SimConnection> connections = ConcurrentHashMap.newKeySet();

    private SimListener(ServerSocketChannel server, Path path, int domid, SimConnection.Handler handler) {
        this.server = server;
        this.path = path;
        this.domid = domid;
        this.handler = handler;
    }

    /** Binds path (which must not exist), makes it 0600 and starts accepting. */
    static SimListener open(Path path, int domid, SimConnection.Handler handler) throws IOException {
        checkLength(path);
        ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            s.bind(UnixDomainSocketAddress.of(path));
            Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
        } catch (IOException e) {
            s.close();
            throw e;
        }
        SimListener l = new SimListener(s, path, domid, handler);
        Thread t = new Thread(l::acceptLoop, "xenstored-accept-dom" + domid);
        t.setDaemon(true);
        t.start();
        return l;
    }

    static void checkLength(Path path) throws SocketException {
        int n = path.toString().getBytes(StandardCharsets.UTF_8).length;
        if (n > MAX_SOCKET_PATH_BYTES) {
            throw new SocketException("socket path " + path + " is " + n + " bytes but unix sockets allow at most "
                    + MAX_SOCKET_PATH_BYTES + "; choose a shorter path");
        }
    }

    Path path() {
        return path;
    }

    List<SimConnection> connections() {
        return List.copyOf(connections);
    }

    private void acceptLoop() {
        try {
            while (true) {
                SocketChannel ch = server.accept();
                String label = "dom" + domid + "#" + SEQ.incrementAndGet();
                SimConnection[] self = new SimConnection[1];
                SimConnection c = new SimConnection(ch, domid, label, handler, () -> connections.remove(self[0]));
                self[0] = c;
                connections.add(c);
                if (!server.isOpen()) {
                    c.close(); // raced with close(): do not leak it
                    return;
                }
                LOG.info("{}: client connected on {}", label, path);
                c.start();
            }
        } catch (ClosedChannelException e) {
            // close() was called
        } catch (IOException e) {
            LOG.error("accepting on {} failed ({}); no new clients will be served there", path, e.toString());
        }
    }

    /**
     * Stops accepting and removes the socket file; existing clients stay connected.
     * Has no callbacks, so it is safe under the store lock.
     */
    void stopAccepting() {
        try {
            server.close();
        } catch (IOException e) {
            LOG.debug("closing {} failed", path, e);
        }
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            LOG.warn("could not remove socket {} ({}); remove it by hand", path, e.toString());
        }
    }

    /** Stops accepting, removes the socket file and disconnects every client. */
    @Override
    public void close() {
        stopAccepting();
        for (SimConnection c : List.copyOf(connections)) {
            c.close();
        }
    }
}
