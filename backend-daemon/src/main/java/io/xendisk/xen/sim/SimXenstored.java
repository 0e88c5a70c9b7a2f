package io.xendisk.xen.sim;

import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * Our own xenstored for the simulated Xen platform: the xenstore wire protocol on a
 * unix socket, with xenstored's permissions, transactions, watches and quotas.
 * Every connection on the main socket is dom0; a domain introduced with INTRODUCE
 * gets its own socket ({@link #domainSocketPath(int)}) whose connections act as
 * that unprivileged domain. Point libxenstore clients at it with
 * {@code XENSTORED_PATH=<socket>}.
 */
public final class SimXenstored implements AutoCloseable {
    /** Another server answers on the socket path. */
    public static final class AlreadyRunningException extends IOException {
        private static final long serialVersionUID = 1L;

        AlreadyRunningException(Path socket) {
            super("xenstored already running on " + socket);
        }
    }

    private static final Logger LOG = LogManager.getLogger(SimXenstored.class);
    /** S_IFMT and S_IFSOCK of st_mode. */
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    private final Path socket;
    private final SimListener main;
    private final SimDomains domains;

    private SimXenstored(Path socket, SimListener main, SimDomains domains) {
        this.socket = socket;
        this.main = main;
        this.domains = domains;
    }

    /**
     * Starts serving on the socket, creating its parent directories. A stale socket
     * file (nobody answers) is replaced.
     * @throws AlreadyRunningException when a server answers on the path
     * @throws IOException when the path is not a socket, too long, or cannot be bound
     */
    public static SimXenstored start(Path socket) throws IOException {
        Path s = socket.toAbsolutePath().normalize();
        SimListener.checkLength(s);
        Files.createDirectories(s.getParent());
        removeStale(s);
        SimProtocol protocol = new SimProtocol(new SimStore());
        SimDomains domains = new SimDomains(s.getParent(), protocol);
        protocol.setDomains(domains);
        SimListener main = SimListener.open(s, 0, protocol);
        LOG.info("xenstored listening on {}", s);
        return new SimXenstored(s, main, domains);
    }

    private static void removeStale(Path s) throws IOException {
        if (!Files.exists(s, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        int mode = (Integer) Files.getAttribute(s, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        if ((mode & S_IFMT) != S_IFSOCK) {
            throw new IOException(s + " exists and is not a socket; remove it or choose another socket path");
        }
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(s));
            throw new AlreadyRunningException(s);
        } catch (ConnectException e) {
            LOG.info("replacing stale socket {} (nobody answers on it)", s);
            Files.delete(s);
        }
    }

    /** The main (dom0) socket. */
    public Path socketPath() {
        return socket;
    }

    /** {@code <dir of the main socket>/domain/<domid>/socket}; exists while the domain is introduced. */
    public Path domainSocketPath(int domid) {
        return domains.socketPath(domid);
    }

    /** The introduced domains and their sockets. */
    public SimDomains domains() {
        return domains;
    }

    /** Disconnects everyone and removes the main and per-domain sockets. */
    @Override
    public void close() {
        main.close();
        domains.close();
        LOG.info("xenstored on {} stopped", socket);
    }

    @Override
    public String toString() {
        return "SimXenstored[" + socket + "]";
    }
}
