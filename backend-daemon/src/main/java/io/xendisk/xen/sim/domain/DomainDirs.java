package io.xendisk.xen.sim.domain;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Whether {@code <simdir>/dom<domid>} is a live simulated domain, with the
 * message to show when it is not. A guest's {@code pid} file is written last
 * at creation, so its presence means the domain is complete, and the process
 * it names tells a running guest from one that was killed.
 */
final class DomainDirs {
    private DomainDirs() {
    }

    /** Why {@code domid} cannot be used, or empty when it can. Domain 0 (the backend) has no pid file. */
    static Optional<String> problem(Path simdir, int domid) {
        Path dir = SimPaths.domain(simdir, domid);
        if (domid < 0 || domid > SimPaths.MAX_DOMID) {
            return Optional.of("domain " + domid + ": not a valid domain id (0.." + SimPaths.MAX_DOMID + ")");
        }
        if (!Files.isDirectory(dir)) {
            return Optional.of("domain " + domid + ": no simulated domain at " + dir + " (is the guest running?)");
        }
        if (domid == 0) {
            return Optional.empty();
        }
        long pid = ownerPid(simdir, domid);
        if (pid < 0) {
            return Optional.of("domain " + domid + ": simulated domain at " + dir
                    + " is incomplete (no pid file; is the guest still starting?)");
        }
        if (!isAlive(pid)) {
            return Optional.of("domain " + domid + ": its guest process " + pid + " has exited; " + dir
                    + " is stale (remove it, or restart the guest)");
        }
        return Optional.empty();
    }

    /** The pid in the domain's pid file, or -1 when absent or unreadable. */
    static long ownerPid(Path simdir, int domid) {
        try {
            return Long.parseLong(Files.readString(SimPaths.pid(simdir, domid)).trim());
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    static boolean isAlive(long pid) {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }
}
