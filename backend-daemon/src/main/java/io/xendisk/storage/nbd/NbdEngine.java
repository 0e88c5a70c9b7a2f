package io.xendisk.storage.nbd;

import io.xendisk.storage.IoEngine;
import io.xendisk.storage.StorageEngine;
import io.xendisk.storage.StorageException;
import io.xendisk.storage.StorageSpec;

import java.io.IOException;
import java.time.Duration;
import java.util.Set;

/**
 * The {@code nbd} engine: a disk exported by an NBD server, reached by URI
 * ({@code nbd://host[:port]/export}, {@code nbd+unix:///export?socket=PATH}),
 * with many requests in flight on one connection.
 */
public final class NbdEngine implements StorageEngine {
    public static final String NAME = "nbd";
    /** Seconds a dropped connection is made again for (config.xml's nbd-reconnect-seconds sets it). */
    public static final String RECONNECT_PROPERTY = "xen-disk-java.nbd.reconnect-seconds";

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
        NbdClient client;
        try {
            client = NbdClient.open(uri, NbdClient.DEFAULT_MAX_IN_FLIGHT,
                    reconnectFor(System.getProperty(RECONNECT_PROPERTY)), true);
        } catch (IOException e) {
            throw new StorageException(null, "NBD export " + uri + ": " + e.getMessage(), e);
        }
        return new NbdDisk(client, spec.readOnly());
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
