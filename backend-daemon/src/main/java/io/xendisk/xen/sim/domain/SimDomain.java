package io.xendisk.xen.sim.domain;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * A simulated guest domain, owned by the guest's process: creates
 * {@code <simdir>/dom<domid>/} with its RAM ({@code memory}), grant table
 * ({@code grant-table}), event channel port table ({@code evtchn}) and, last,
 * {@code pid}; {@link #close()} destroys it (removes the files). The backend
 * finds it by simdir and domid alone.
 */
public final class SimDomain implements AutoCloseable {
    private final Path simdir;
    private final int domid;
    private final Path dir;
    private final GuestMemory memory;
    private final GuestGrants grants;
    private final PortTable ports;
    private volatile boolean destroyed;

    private SimDomain(Path simdir, int domid, Path dir, GuestMemory memory, GuestGrants grants, PortTable ports) {
        this.simdir = simdir;
        this.domid = domid;
        this.dir = dir;
        this.memory = memory;
        this.grants = grants;
        this.ports = ports;
    }

    /**
     * Creates domain {@code domid} (1..0x7FEF) with {@code pages} pages of RAM
     * and {@code grantEntries} grant entries. A leftover directory of a guest
     * process that has exited is replaced; one of a live process is refused.
     */
    public static SimDomain create(Path simdir, int domid, int pages, int grantEntries) throws IOException {
        if (domid < 1 || domid > SimPaths.MAX_DOMID) {
            throw new IllegalArgumentException("domain " + domid + ": a simulated guest needs a domid in 1.."
                    + SimPaths.MAX_DOMID + " (0 is the backend)");
        }
        if (pages < 1 || grantEntries <= GrantEntries.NR_RESERVED_ENTRIES
                || grantEntries > Integer.MAX_VALUE / GrantEntries.ENTRY_SIZE) {
            throw new IllegalArgumentException("domain " + domid + ": need at least 1 page and more than "
                    + GrantEntries.NR_RESERVED_ENTRIES + " grant entries (got " + pages + ", " + grantEntries + ")");
        }
        Path dir = SimPaths.domain(simdir, domid);
        Files.createDirectories(simdir);
        if (Files.exists(dir)) {
            long pid = DomainDirs.ownerPid(simdir, domid);
            if (pid >= 0 && DomainDirs.isAlive(pid)) {
                throw new FileAlreadyExistsException(dir.toString(), null, "domain " + domid
                        + " is already run by process " + pid + " (pick another domid, or stop that guest)");
            }
            deleteTree(dir); // left behind by a guest that was killed
        }
        Files.createDirectory(dir);
        try {
            PageFile ram = PageFile.create(SimPaths.memory(simdir, domid), pages);
            var table = SharedFile.create(SimPaths.grantTable(simdir, domid), grantEntries * GrantEntries.ENTRY_SIZE);
            PortTable ports = PortTable.create(SimPaths.evtchn(simdir, domid), domid);
            Path tmp = dir.resolve(".pid.new");
            Files.writeString(tmp, Long.toString(ProcessHandle.current().pid()));
            Files.move(tmp, SimPaths.pid(simdir, domid)); // last: the domain is complete once pid exists
            return new SimDomain(simdir, domid, dir, new GuestMemory(domid, ram), new GuestGrants(domid, table), ports);
        } catch (IOException | RuntimeException e) {
            deleteTree(dir);
            throw e;
        }
    }

    public int domid() {
        return domid;
    }

    public Path dir() {
        return dir;
    }

    public GuestMemory memory() {
        return memory;
    }

    public GuestGrants grants() {
        return grants;
    }

    /**
     * Allocates an unbound event channel port that {@code remoteDomid} (0 for
     * the backend) may bind; publish its number (xenstore event-channel) for
     * the backend. Notifications are dropped until the backend binds.
     */
    public SimEventChannel allocUnbound(int remoteDomid) {
        return SimEventChannel.allocUnbound(simdir, ports, remoteDomid);
    }

    /** Destroys the domain: removes its files. The backend's existing mappings stay valid until dropped. */
    @Override
    public void close() {
        if (destroyed) {
            return;
        }
        destroyed = true;
        try {
            deleteTree(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("domain " + domid + ": cannot remove " + dir + ": " + e.getMessage(), e);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.deleteIfExists(f);
            }
        }
        Files.deleteIfExists(dir);
    }
}
