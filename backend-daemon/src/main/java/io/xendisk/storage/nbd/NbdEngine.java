package io.xendisk.storage.nbd;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import io.xendisk.storage.IoEngine;
import io.xendisk.storage.StorageEngine;
import io.xendisk.storage.StorageException;
import io.xendisk.storage.StorageSpec;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The {@code nbd} engine: a disk exported by an NBD server, reached by URI
 * ({@code nbd://host[:port]/export}, {@code nbd+unix:///export?socket=PATH}),
 * with many requests in flight on each connection, and several connections
 * where the server says they see each other's writes (NBD_FLAG_CAN_MULTI_CONN).
 */
public final class NbdEngine implements StorageEngine {
    private static final Logger LOG = LogManager.getLogger(NbdEngine.class);
    public static final String NAME = "nbd";
    /** Seconds a dropped connection is made again for (config.xml's nbd-reconnect-seconds sets it). */
    public static final String RECONNECT_PROPERTY = "xen-disk-java.nbd.reconnect-seconds";
    /** Connections per disk where the server allows several (config.xml's nbd-connections sets it). */
    public static final String CONNECTIONS_PROPERTY = "xen-disk-java.nbd.connections";
    /**
     * One, as QEMU and libnbd: against nbdkit on this host several were slower (docs/BENCHMARKS.md);
     * several pay where one connection is the bottleneck (a long network path, a server serving
     * each connection from one thread), and nbd-connections asks for them.
     */
    public static final int DEFAULT_CONNECTIONS = 1;
    static final int MAX_CONNECTIONS = 16;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Set<String> schemes() {
        return Set.of("nbd", "nbd+unix", "nbds", "nbds+unix");
    }

    @Override
    public IoEngine open(StorageSpec spec) {
        if (spec.location() == null) {
            throw new StorageException(spec.path(), "engine nbd takes an NBD URI (nbd://host[:port]/export or"
                    + " nbd+unix:///export?socket=PATH), not the file " + spec.source());
        }
        NbdUri uri;
        try {
            uri = NbdUri.parse(spec.location());
        } catch (IllegalArgumentException e) {
            throw new StorageException(null, e.getMessage(), e);
        }
        Duration reconnectFor = reconnectFor(System.getProperty(RECONNECT_PROPERTY));
        int wanted = connections(System.getProperty(CONNECTIONS_PROPERTY));
        NbdClient first;
        try {
            first = NbdClient.open(uri, NbdClient.DEFAULT_MAX_IN_FLIGHT, reconnectFor, true);
        } catch (IOException e) {
            throw new StorageException(null, "NBD export " + uri + ": " + e.getMessage(), e);
        }
        List<NbdClient> clients = new ArrayList<>(List.of(first));
        if (first.canMultiConn()) {
            // more connections serve more requests at once; the disk works with however many the server took
            while (clients.size() < wanted) {
                NbdClient more;
                try {
                    more = NbdClient.open(uri, NbdClient.DEFAULT_MAX_IN_FLIGHT, reconnectFor, true);
                } catch (IOException e) {
                    LOG.warn("NBD {}: connection {} of {} failed, serving on {}: {}", uri, clients.size() + 1, wanted,
                            clients.size(), e.getMessage());
                    break;
                }
                String differs = first.export().lostIn(more.export(), first.maxRequest());
                if (differs != null) {
                    more.close();
                    LOG.warn("NBD {}: connection {} of {} opened another export ({}), serving on {}", uri,
                            clients.size() + 1, wanted, differs, clients.size());
                    break;
                }
                clients.add(more);
            }
        }
        return new NbdDisk(clients.toArray(new NbdClient[0]), spec.readOnly());
    }

    /** The connections {@code count} names: the default when null, 1 to {@value #MAX_CONNECTIONS}. */
    static int connections(String count) {
        if (count == null || count.isBlank()) {
            return DEFAULT_CONNECTIONS;
        }
        try {
            int n = Integer.parseInt(count.strip());
            if (n >= 1 && n <= MAX_CONNECTIONS) {
                return n;
            }
        } catch (NumberFormatException e) {
            // named below
        }
        throw new StorageException(null, "system property " + CONNECTIONS_PROPERTY + "='" + count
                + "' is not a number of connections from 1 to " + MAX_CONNECTIONS
                + " (config.xml's nbd-connections sets it)");
    }

    /** The reconnect window {@code seconds} names: the default when null, 0 for none. */
    static Duration reconnectFor(String seconds) {
        if (seconds == null || seconds.isBlank()) {
            return NbdClient.DEFAULT_RECONNECT_FOR;
        }
        try {
            long s = Long.parseLong(seconds.strip());
            if (s >= 0 && s <= 86_400) {
                return Duration.ofSeconds(s);
            }
        } catch (NumberFormatException e) {
            // named below
        }
        throw new StorageException(null, "system property " + RECONNECT_PROPERTY + "='" + seconds
                + "' is not a number of seconds from 0 to 86400 (config.xml's nbd-reconnect-seconds sets it)");
    }
}
