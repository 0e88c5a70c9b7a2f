package io.xendisk.daemon;

import java.io.IOException;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import io.xendisk.backend.BlkifFeatures;
import io.xendisk.backend.RingJournals;
import io.xendisk.xen.KernelBackends;
import io.xendisk.xen.EventChannels;
import io.xendisk.xen.BudgetedGrantTable;
import io.xendisk.xen.GrantTable;
import io.xendisk.xen.real.RealEventChannels;
import io.xendisk.xen.real.RealGrantTable;
import io.xendisk.xen.real.RealPlatform;
import io.xendisk.xen.real.SysfsBackends;
import io.xendisk.xen.real.XenLibrary;
import io.xendisk.xen.real.XenUnavailableException;
import io.xendisk.xen.sim.domain.GuestReaper;
import io.xendisk.xen.sim.domain.SimEventChannels;
import io.xendisk.xen.sim.domain.SimGrantTable;
import io.xendisk.xen.store.XenStoreClient;
import io.xendisk.xen.store.XenStoreException;

import java.util.Optional;

/**
 * The platform's ports (xenstore connection, grant table, event channels)
 * and the {@link VbdService} on top of them, made when first needed: on the
 * simulated platform the xenstored may be started after the daemon.
 */
final class DataPlane implements AutoCloseable {
    private static final Logger LOG = LogManager.getLogger(DataPlane.class);

    private final DaemonContext ctx;
    private XenStoreClient xs;
    private GrantTable grants;
    private VbdService service;
    private XlDevices xlDevices;
    private GuestReaper reaper;
    private boolean deadBackendPinsReleased;

    DataPlane(DaemonContext ctx) {
        this.ctx = ctx;
    }

    /** The toolstack's name of {@code domid}, when the platform is connected and xenstore has one. */
    Optional<String> domainName(int domid) {
        XenStoreClient c;
        synchronized (this) {
            c = xs;
        }
        return c == null || !c.isOpen() ? Optional.empty() : new DomainNames(c).name(domid);
    }

    /** The service, connecting to the platform first if needed. */
    synchronized VbdService service() throws PlatformException {
        if (service != null && xs.isOpen()) {
            return service;
        }
        closeQuietly();
        if (ctx.platform().platform() == Platform.XEN) {
            return realXen();
        }
        connectXenstore("the simulated platform's xenstored", () -> "run 'xen-disk-java sim start'");
        try {
            SimGrantTable simGrants = new SimGrantTable(ctx.paths().simDir());
            grants = new BudgetedGrantTable(simGrants, ctx.mappings());
            if (!deadBackendPinsReleased) {
                // once, before this process maps anything: what a killed daemon left pinned
                simGrants.releasePinsOfDeadBackend().forEach((domid, n) -> LOG.info(
                        "simulated domain {}: released {} grant pins a previous daemon left behind", domid, n));
                deadBackendPinsReleased = true;
            }
            EventChannels channels = new SimEventChannels(ctx.paths().simDir());
            service = new VbdService(xs, grants, channels, ctx.vbds(), KernelBackends.NONE, BlkifFeatures.configured(),
                    journals());
            takeBackDisks();
            GrantTable g = grants;
            // a kill -9'd guest never says goodbye: the reaper notices and releases its domain,
            // which fires @releaseDomain, which ends its VBDs (VbdService)
            reaper = GuestReaper.start(xs, ctx.paths().simDir(), domid -> {
                LOG.info("simulated domain {} died; released it", domid);
                g.forget(domid);
            });
        } catch (IOException | RuntimeException e) {
            closeQuietly();
            throw new PlatformException("cannot set up the simulated platform in " + ctx.paths().simDir() + ": " + e);
        }
        LOG.info("data plane up: xenstore {}, simulated domains in {}", ctx.xenstorePath(), ctx.paths().simDir());
        return service;
    }

    /** Real Xen: xenstored, libxengnttab and libxenevtchn; the VbdService is the same as on the simulated platform. */
    private VbdService realXen() throws PlatformException {
        connectXenstore("xenstored", () -> RealPlatform.probe().summary());
        try {
            grants = new BudgetedGrantTable(RealGrantTable.open(), ctx.mappings());
            EventChannels channels = RealEventChannels.open();
            service = new VbdService(xs, grants, channels, ctx.vbds(), new SysfsBackends(), BlkifFeatures.configured(),
                    journals());
            takeBackDisks();
        } catch (XenUnavailableException e) {
            closeQuietly();
            throw new PlatformException("cannot serve disks on real Xen: " + e.getMessage());
        } catch (RuntimeException e) {
            closeQuietly();
            throw new PlatformException("cannot set up the real Xen data plane: " + e);
        }
        LOG.info("data plane up: real Xen, xenstore {}, grant copy via {}, event channels via {}", ctx.xenstorePath(),
                XenLibrary.GNTTAB.soname(), XenLibrary.EVTCHN.soname());
        return service;
    }

    /** The disks a previous daemon served, and from now on the toolstack's disks that name our script. */
    private void takeBackDisks() {
        service.recover();
        xlDevices = new XlDevices(xs, service, VbdService.BACKEND_DOMID);
    }

    /**
     * Connects to the platform's xenstore endpoint: a socket, or the xenbus
     * device when xenstored runs elsewhere (a stub domain).
     */
    private void connectXenstore(String what, java.util.function.Supplier<String> advice) throws PlatformException {
        try {
            xs = XenStoreClient.isDevice(ctx.xenstorePath()) ? XenStoreClient.openDevice(ctx.xenstorePath())
                    : XenStoreClient.connect(ctx.xenstorePath());
        } catch (XenStoreException e) {
            throw new PlatformException(what + " is not reachable at " + ctx.xenstorePath() + " (" + e.getMessage()
                    + "); " + advice.get());
        }
        xs.onDisconnect(() -> LOG.warn("lost the xenstore connection {}; VBDs are reset when next used", ctx.xenstorePath()));
    }

    /** The service if it is up, without connecting. */
    /** Rings keep their response journals under the run directory, where a restarted daemon finds them. */
    private RingJournals journals() {
        return new RingJournals(ctx.paths().runDir().resolve("rings"));
    }

    synchronized VbdService current() {
        return service;
    }

    private void closeQuietly() {
        if (xlDevices != null) {
            xlDevices.close();
            xlDevices = null;
        }
        if (reaper != null) {
            reaper.close();
            reaper = null;
        }
        if (service != null) {
            try {
                service.close();
            } catch (RuntimeException e) {
                LOG.warn("closing VBDs: {}", e.toString());
            }
            service = null;
        }
        if (grants != null) {
            grants.close();
            grants = null;
        }
        if (xs != null) {
            xs.close();
            xs = null;
        }
    }

    @Override
    public synchronized void close() {
        closeQuietly();
    }
}
