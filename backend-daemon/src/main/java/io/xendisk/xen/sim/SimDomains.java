package io.xendisk.xen.sim;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * The introduced guest domains. On real Xen a guest talks to xenstored over its
 * shared ring; here each introduced domain gets its own unix socket,
 * {@code <base>/domain/<domid>/socket}, and every connection on it acts as that
 * domain.
 */
public final class SimDomains implements AutoCloseable {
    private static final Logger LOG = LogManager.getLogger(SimDomains.class);

    private final Path base;
    private final SimConnection.Handler handler;
    private final Map<Integer, SimListener> domains = new ConcurrentHashMap<>();

    SimDomains(Path base, SimConnection.Handler handler) {
        this.base = base;
        this.handler = handler;
    }

    /** Where the socket of a domain is (or would be once introduced). */
    public Path socketPath(int domid) {
        return base.resolve("domain").resolve(Integer.toString(domid)).resolve("socket");
    }

    /** dom0 always is; a guest from INTRODUCE until RELEASE. */
    public boolean isIntroduced(int domid) {
        return domid == 0 || domains.containsKey(domid);
    }

    public List<Integer> introduced() {
        return List.copyOf(domains.keySet());
    }

    /** Opens the domain's socket; false when it was already introduced. */
    boolean introduce(int domid) throws IOException {
        if (domains.containsKey(domid)) {
            return false;
        }
        Path sock = socketPath(domid);
        SimListener.checkLength(sock);
        Files.createDirectories(sock.getParent(), PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        Files.deleteIfExists(sock); // left over from an earlier run that was killed
        domains.put(domid, SimListener.open(sock, domid, handler));
        LOG.info("introduced domain {}: its socket is {}", domid, sock);
        return true;
    }

    /**
     * Forgets the domain and removes its socket at once; returns its listener (or
     * null), whose connections the caller closes once it no longer holds the store
     * lock (closing a connection takes that lock).
     */
    SimListener release(int domid) {
        SimListener l = domains.remove(domid);
        if (l != null) {
            l.stopAccepting();
            deleteQuietly(l.path().getParent());
            deleteQuietly(l.path().getParent().getParent());
            LOG.info("released domain {}", domid);
        }
        return l;
    }

    private static void deleteQuietly(Path dir) {
        try {
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            // not empty (another domain, or a file of the user): leave it
        }
    }

    @Override
    public void close() {
        for (Integer d : List.copyOf(domains.keySet())) {
            SimListener l = release(d);
            if (l != null) {
                l.close();
            }
        }
    }
}
