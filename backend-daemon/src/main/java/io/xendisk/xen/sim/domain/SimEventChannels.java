package io.xendisk.xen.sim.domain;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;

import io.xendisk.xen.EventChannels;

/**
 * The backend's (domain 0) event channels on the simulated platform. Domain
 * 0's port table and FIFOs live in {@code <simdir>/dom0/}, created on first
 * use; several backend instances may share them (ports are claimed by
 * compare-and-set).
 */
public final class SimEventChannels implements EventChannels {
    /** The backend's domain id. */
    public static final int DOMID = 0;

    private final Path simdir;
    private final PortTable table;

    /** Opens (creating if needed) domain 0's port table under {@code simdir}. */
    public SimEventChannels(Path simdir) throws IOException {
        this.simdir = simdir;
        Path dir = SimPaths.domain(simdir, DOMID);
        Files.createDirectories(dir);
        Path file = SimPaths.evtchn(simdir, DOMID);
        PortTable t;
        try {
            t = PortTable.create(file, DOMID);
        } catch (FileAlreadyExistsException e) {
            t = PortTable.open(file, DOMID);
        }
        this.table = t;
    }

    /**
     * Binds to the unbound port {@code remotePort} that domain {@code domid}
     * allocated for domain 0. Throws EventChannelException naming domain and
     * port when the domain is missing or dead, or the port is not unbound for us.
     */
    @Override
    public SimEventChannel bindInterdomain(int domid, int remotePort) {
        return SimEventChannel.bindInterdomain(simdir, table, domid, remotePort);
    }
}
