package io.xendisk.xml;

import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The daemon's configuration file, as read: each setting is empty when the
 * file does not give it (then the environment or the built-in default applies).
 *
 * @param platform "auto", "xen" or "sim"
 * @param runDir   control socket, lock, simulated platform's files
 * @param logDir   daemon.log and friends
 * @param logLevel "error", "warn", "info", "debug" or "trace"
 * @param grantMappings how many grant mappings the daemon may hold at once
 * @param qcow2CacheMiB the L2 table cache of each qcow2 disk, in MiB
 * @param nbdReconnectSeconds how long an NBD disk tries to connect again after its connection dropped
 * @param nbdConnections how many connections an NBD disk opens to a server that allows several
 * @param maxRingPageOrder    the largest ring offered to frontends, 2^order pages
 * @param maxIndirectSegments the segments per INDIRECT request offered to frontends (0: none)
 * @param metrics where the Prometheus metrics endpoint listens ("PORT", "HOST:PORT", "[IPv6]:PORT"); empty: off
 */
public record DaemonConfig(Optional<String> platform, Optional<Path> runDir, Optional<Path> logDir,
                           Optional<String> logLevel, OptionalInt grantMappings, OptionalInt qcow2CacheMiB,
                           OptionalInt nbdReconnectSeconds, OptionalInt nbdConnections, OptionalInt maxRingPageOrder,
                           OptionalInt maxIndirectSegments, Optional<String> metrics) {
    /** No file: every setting from the environment or the defaults. */
    public static final DaemonConfig NONE = new DaemonConfig(Optional.empty(), Optional.empty(), Optional.empty(),
            Optional.empty(), OptionalInt.empty(), OptionalInt.empty(), OptionalInt.empty(), OptionalInt.empty(),
            OptionalInt.empty(), OptionalInt.empty(), Optional.empty());
}
