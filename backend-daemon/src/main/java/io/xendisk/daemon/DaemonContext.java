package io.xendisk.daemon;

import io.xendisk.api.ControlPaths;
import io.xendisk.xen.MappingBudget;

import java.nio.file.Path;
import java.time.Instant;
import java.util.Objects;

/**
 * What the running daemon hands to the code under it (the backend): the chosen
 * platform, the xenstore endpoint to connect to (the real xenstored, or the
 * simulated one's socket on the sim platform), the VBD registry to register
 * served VBDs in, and its paths. Immutable; one per daemon process.
 *
 * @param platform  the platform and why it was chosen
 * @param paths     run and log directories
 * @param vbds      the registry behind {@code list} / {@code status}
 * @param pid       this process
 * @param startedAt when the daemon started
 * @param mappings  the grant mappings all VBDs together may hold
 */
public record DaemonContext(PlatformChoice platform, ControlPaths paths, VbdRegistry vbds,
                            long pid, Instant startedAt, MappingBudget mappings) {
    /** With the budget this process's vm.max_map_count allows. */
    public DaemonContext(PlatformChoice platform, ControlPaths paths, VbdRegistry vbds, long pid, Instant startedAt) {
        this(platform, paths, vbds, pid, startedAt, MappingBudget.forThisProcess(java.util.OptionalInt.empty()));
    }

    public DaemonContext {
        Objects.requireNonNull(mappings, "mappings");
        Objects.requireNonNull(platform, "platform");
        Objects.requireNonNull(paths, "paths");
        Objects.requireNonNull(vbds, "vbds");
        Objects.requireNonNull(startedAt, "startedAt");
    }

    /** The xenstore endpoint the backend connects to (e.g. with XenStoreClient). */
    public Path xenstorePath() {
        return platform.xenstorePath();
    }
}
