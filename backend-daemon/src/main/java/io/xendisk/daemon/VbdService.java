package io.xendisk.daemon;

import java.util.List;
import java.util.Map;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import io.xendisk.api.ControlRequest;
import io.xendisk.api.ControlResponse;
import io.xendisk.backend.BlkifFeatures;
import io.xendisk.backend.IoLimits;
import io.xendisk.backend.Reconciler;
import io.xendisk.backend.RingJournals;
import io.xendisk.backend.Sizes;
import io.xendisk.backend.Vbd;
import io.xendisk.backend.VbdNodes;
import io.xendisk.blkif.VbdPaths;
import io.xendisk.blkif.Vdev;
import io.xendisk.blkif.XenbusState;
import io.xendisk.storage.IoEngine;
import io.xendisk.storage.StorageException;
import io.xendisk.xen.EventChannels;
import io.xendisk.xen.GrantTable;
import io.xendisk.xen.KernelBackends;
import io.xendisk.xen.store.XenStore;
import io.xendisk.xen.store.XenStoreException;

/**
 * The verbs that make and end VBDs, and a guest's death ending its VBDs:
 * {@code connect} hotplugs a fresh disk into a running guest (writing both
 * xenstore directories itself, as the seed's xen-disk does), {@code
 * disconnect} unplugs it cleanly. The parts do the work: {@link ConnectSpec}
 * checks a connect, {@link DomainNames} finds the guest, {@link VbdTable}
 * holds the VBDs, {@link ToolstackDevices} takes on the devices already in
 * xenstore.
 */
public final class VbdService implements AutoCloseable {
    private static final Logger LOG = LogManager.getLogger(VbdService.class);
    static final int BACKEND_DOMID = 0;
    private static final long DISCONNECT_TIMEOUT_MS = 10_000;
    private static final long CONNECT_WAIT_MS = 10_000;

    private final XenStore xs;
    private final VbdTable table;
    private final DomainNames domains;
    private final ToolstackDevices devices;
    private final XenStore.Watch releaseWatch;
    private final XenStore.Watch introduceWatch;
    private final PendingConnects pending;
    /** Off the xenstore event thread: ending a VBD waits for its rings, connecting opens an image. */
    private final Reconciler reaper;
    private final Reconciler introduced;

    public VbdService(XenStore xs, GrantTable grants, EventChannels channels, VbdRegistry registry) {
        this(xs, grants, channels, registry, KernelBackends.NONE, BlkifFeatures.DEFAULT, RingJournals.NONE);
    }

    /**
     * @param kernel   the host's kernel backends, from which devices of kind vbd are taken
     * @param features what the VBDs offer their frontends
     * @param journals where the rings keep their response journals, for a restarted daemon
     */
    public VbdService(XenStore xs, GrantTable grants, EventChannels channels, VbdRegistry registry,
                      KernelBackends kernel, BlkifFeatures features, RingJournals journals) {
        this.xs = xs;
        this.table = new VbdTable(xs, grants, channels, features, journals, registry);
        this.domains = new DomainNames(xs);
        this.devices = new ToolstackDevices(xs, table, domains, kernel);
        this.pending = new PendingConnects(domains::exists, this::connectWhenCreated);
        this.reaper = new Reconciler("dead domain reaper", this::reapDeadDomains);
        this.introduced = new Reconciler("connects at domain creation", pending::domainsChanged);
        this.releaseWatch = xs.watch("@releaseDomain", "xdj:release", (p, t) -> reaper.trigger());
        this.introduceWatch = xs.watch("@introduceDomain", "xdj:introduce", (p, t) -> {
            if (!pending.isEmpty()) {
                introduced.trigger();
            }
        });
    }

    /**
     * {@code connect <vm> [--path IMG] [--storage E] [--vdev xvdX] [--readonly] [--no-wait]
     * [--at-start SECONDS]}. Waits (bounded) for the guest's frontend unless
     * {@code --no-wait}. With {@code --at-start} a guest that does not exist yet
     * gets the disk the moment its domain is created, still paused, so a PV
     * guest finds it at boot (the libvirt hook's way before libxl starts it).
     */
    public ControlResponse connect(ControlRequest req) {
        ConnectSpec spec;
        try {
            spec = ConnectSpec.parse(req);
        } catch (ConnectSpec.Invalid e) {
            return ControlResponse.error(e.exitCode(), "xen-disk-java: " + e.getMessage() + "\n");
        }
        if (spec.atStartSeconds() > 0 && !domains.exists(spec.vm())) {
            return expect(spec);
        }
        return connectNow(spec);
    }

    private ControlResponse connectNow(ConnectSpec spec) {
        int domid;
        String vdev;
        try {
            domid = domains.domid(spec.vm());
            vdev = spec.vdev() != null ? spec.vdev() : firstFreeVdev(domid);
        } catch (IllegalArgumentException e) {
            return fail(e.getMessage());
        }
        int devid = Vdev.devid(vdev);
        String key = domid + "/" + devid;
        if (table.served(domid, devid) != null || xs.exists(VbdNodes.frontendPath(domid, devid))) {
            return fail("guest " + spec.vm() + " (domain " + domid + ") already has a disk " + vdev
                    + "; choose another with --vdev");
        }
        IoEngine storage;
        try {
            storage = VbdStorage.open(spec.storage());
        } catch (StorageException | IllegalArgumentException e) {
            return fail("vbd " + key + ": " + e.getMessage());
        }
        String storageName = spec.storage().target();
        int sectorSize;
        try {
            sectorSize = Vbd.sectorSize(spec.sectorSize(), storage, storageName);
        } catch (IllegalArgumentException e) {
            storage.close();
            return fail("vbd " + key + ": " + e.getMessage());
        }
        boolean readOnly = spec.readOnly();
        String be = VbdNodes.backendPath(BACKEND_DOMID, domid, devid);
        Vbd vbd = table.add(be, domid, devid, vdev, storage, storageName, readOnly, true, KernelBackends.NONE, sectorSize);
        vbd.limits(spec.limits());
        try {
            VbdNodes.create(xs, BACKEND_DOMID, domid, devid, vdev, readOnly, storageName, spec.cdrom());
            DiskLimits.save(xs, be, spec.limits());
            vbd.start();
        } catch (XenStoreException | IllegalStateException e) {
            vbd.destroy("connect failed: " + e.getMessage());
            return fail("vbd " + key + ": " + e.getMessage());
        }
        boolean up = spec.waitForFrontend() && awaitConnected(vbd, CONNECT_WAIT_MS);
        boolean ephemeral = storage.capabilities().ephemeral();
        LOG.info("vbd {}: connected {} to guest {} as {} ({}{}{})", key, storageName, spec.vm(), vdev,
                ephemeral ? "ephemeral: changes vanish on disconnect" : "persistent", readOnly ? ", read-only" : "",
                spec.limits().none() ? "" : ", limits " + spec.limits());
        return ControlResponse.ok("connected " + storageName + " to domain " + domid + " as " + vdev + " (vbd " + key
                + (spec.engine().equals("discard") ? "; discard: reads return zeros, writes are dropped"
                        : ephemeral ? "; copy-on-write: changes vanish on disconnect" : "")
                + (readOnly ? "; read-only" : "") + (spec.limits().none() ? "" : "; limits " + spec.limits()) + ")\n"
                + (up || !spec.waitForFrontend() ? "" : "the guest's frontend has not connected yet (backend "
                + vbd.state().label() + "); it will when the guest's blkfront starts\n"));
    }

    /** A {@code connect --at-start} whose domain was just created: nothing waits for its frontend. */
    private void connectWhenCreated(ConnectSpec spec) {
        ControlResponse r = connectNow(spec.whenCreated());
        if (r.exitCode() != ControlResponse.OK) {
            LOG.error("guest {}: connecting {} when its domain was created failed: {}", spec.vm(), spec.vdev(),
                    r.stderr().strip());
        }
    }

    /**
     * Remembers a connect for a guest that is not created yet: checks the
     * image now (so a start can fail early with the reason), and connects as
     * soon as a domain of that name is introduced, within the spec's seconds.
     */
    private ControlResponse expect(ConnectSpec spec) {
        String vm = spec.vm();
        if (DomainNames.isDomid(vm)) {
            return fail("--at-start needs the guest's name (its domain id is not known before it is created), not " + vm);
        }
        if (spec.image() != null || spec.uri() != null) {
            try {
                VbdStorage.open(spec.storage()).close();
            } catch (StorageException | IllegalArgumentException e) {
                return fail("guest " + vm + " disk " + spec.vdev() + ": " + e.getMessage());
            }
        }
        if (spec.vdev() == null) {
            return usage("--at-start needs --vdev (the disk's name is fixed before the guest exists)");
        }
        LOG.info("guest {}: will connect {} as {} when its domain is created (within {} s)", vm,
                spec.image() == null && spec.uri() == null ? "a discard disk" : spec.storage().source(), spec.vdev(),
                spec.atStartSeconds());
        pending.add(vm, spec.vdev(), spec, spec.atStartSeconds());
        return ControlResponse.ok("guest " + vm + " is not running: " + spec.vdev() + " will be connected when its"
                + " domain is created (within " + spec.atStartSeconds() + " s)\n");
    }

    /** Waits (bounded) for the guest's frontend: a disk is usable, and a script can go on, once it is Connected. */
    private static boolean awaitConnected(Vbd vbd, long timeoutMs) {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        while (System.nanoTime() < deadline && !vbd.isGone()) {
            if (vbd.state() == XenbusState.CONNECTED) {
                return true;
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return vbd.state() == XenbusState.CONNECTED;
    }

    /**
     * {@code resize VM VDEV SIZE}: grows a served disk while the guest runs; the guest's
     * blkfront sees the new size at once. Shrinking, and engines that cannot grow in place,
     * are refused with the reason.
     */
    public ControlResponse resize(ControlRequest req) {
        if (req.args().size() != 3) {
            return usage("'resize' needs the guest, the disk and the new size: resize <vm> <vdev> <size>");
        }
        String disk = req.args().get(1);
        Vbd vbd;
        long bytes;
        try {
            vbd = served(req.args().get(0), disk);
            bytes = Sizes.parse(req.args().get(2));
        } catch (IllegalArgumentException e) {
            return fail(e.getMessage());
        }
        int domid = vbd.domid();
        int devid = vbd.devid();
        long old = vbd.sizeBytes();
        try {
            vbd.grow(bytes);
        } catch (IllegalArgumentException | StorageException e) {
            return fail(e.getMessage());
        } catch (XenStoreException e) {
            return fail("vbd " + domid + "/" + devid + ": grown to " + Sizes.human(bytes)
                    + ", but the frontend could not be told: " + e.getMessage());
        }
        return ControlResponse.ok(old == bytes ? disk + " of domain " + domid + " is already " + Sizes.human(bytes) + "\n"
                : "resized " + disk + " of domain " + domid + " from " + Sizes.human(old) + " to " + Sizes.human(bytes) + "\n");
    }

    /**
     * {@code blkdeviotune VM VDEV [--total-iops-sec N ...]}: changes the given
     * I/O limits of a served disk now (0 lifts one), the rest as they were,
     * and prints them all, as virsh does; with no limit given only prints them.
     */
    public ControlResponse iotune(ControlRequest req) {
        if (req.args().size() != 2) {
            return usage("'blkdeviotune' needs the guest and the disk: blkdeviotune <vm> <vdev> [--total-iops-sec N ...]");
        }
        Vbd vbd;
        try {
            vbd = served(req.args().get(0), req.args().get(1));
        } catch (IllegalArgumentException e) {
            return fail(e.getMessage());
        }
        Map<String, String> given = IoLimits.among(req.options());
        if (!given.isEmpty()) {
            IoLimits now;
            try {
                now = vbd.limits().with(given);
            } catch (IllegalArgumentException e) {
                return fail("vbd " + vbd.domid() + "/" + vbd.devid() + ": " + e.getMessage());
            }
            vbd.limits(now);
            try {
                DiskLimits.save(xs, vbd.backendPath(), now);
            } catch (XenStoreException e) {
                LOG.warn("vbd {}/{}: the new I/O limits apply, but a restarted daemon will not know them: {}",
                        vbd.domid(), vbd.devid(), e.getMessage());
            }
            LOG.info("vbd {}/{}: I/O limits now {}", vbd.domid(), vbd.devid(), now);
        }
        return ControlResponse.ok(vbd.limits().describe());
    }

    /**
     * The disk {@code disk} of guest {@code vm} (a name or a domain id) this daemon serves.
     *
     * @throws IllegalArgumentException naming the guest or disk that is not one, or not served here
     */
    private Vbd served(String vm, String disk) {
        Vbd vbd = table.served(domains.domidOrNumber(vm), Vdev.devid(disk));
        if (vbd == null) {
            throw new IllegalArgumentException("no disk " + disk + " of " + vm + " is served by this daemon (see"
                    + " 'xen-disk-java list')");
        }
        return vbd;
    }

    /** {@code disconnect <vm> <vdev>}: closes the handshake cleanly and removes the nodes. */
    public ControlResponse disconnect(ControlRequest req) {
        if (req.args().size() != 2) {
            return usage("'disconnect' needs the guest and the disk: disconnect <vm> <vdev>");
        }
        String vm = req.args().get(0);
        String disk = req.args().get(1);
        if (pending.cancel(vm, disk) && !domains.exists(vm)) {
            return ControlResponse.ok("guest " + vm + " was not created yet: " + disk + " will not be connected\n");
        }
        int domid;
        int devid;
        try {
            domid = domains.domidOrNumber(vm);
            devid = Vdev.devid(disk);
        } catch (IllegalArgumentException e) {
            return fail(e.getMessage());
        }
        Vbd vbd = table.served(domid, devid);
        if (vbd == null) {
            return fail("no disk " + disk + " of " + vm + " is served by this daemon (see 'xen-disk-java list')");
        }
        try {
            if (!vbd.disconnect(DISCONNECT_TIMEOUT_MS)) {
                vbd.destroy("frontend did not close within " + DISCONNECT_TIMEOUT_MS / 1000 + " s");
                return ControlResponse.ok("disconnected " + disk + " from domain " + domid
                        + " (the guest did not close the device in time; removed anyway)\n");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return fail("interrupted");
        }
        return ControlResponse.ok("disconnected " + disk + " from domain " + domid + "\n");
    }

    /**
     * Serves a device the toolstack made under {@code backend/vbd} and handed
     * to us (xl's {@code script=xen-disk-java}); see {@link ToolstackDevices}.
     * Idempotent; also how a restarted daemon takes back the toolstack's devices it served.
     */
    public void adopt(int domid, int devid) {
        devices.adopt(domid, devid);
    }

    /**
     * Takes back the VBDs of our own backend kind that a previous daemon
     * served (it died or was killed); see {@link ToolstackDevices}.
     */
    public void recover() {
        devices.recover();
    }

    /** The served VBDs, for status. */
    public List<Vbd> vbds() {
        return table.served();
    }

    /** @releaseDomain fired: end the VBDs of every domain that is no longer there. */
    private void reapDeadDomains() {
        for (Vbd v : table.served()) {
            try {
                if (!domains.exists(v.domid()) || !xs.isDomainIntroduced(v.domid())) {
                    v.abandon("domain " + v.domid() + " is gone");
                }
            } catch (XenStoreException e) {
                LOG.warn("checking domain {}: {}", v.domid(), e.getMessage());
            }
        }
    }

    private String firstFreeVdev(int domid) {
        List<String> used = xs.tryDirectory(VbdPaths.frontends(VbdPaths.domain(domid)));
        for (int disk = 1; disk < 26; disk++) { // xvda is the guest's root disk by convention
            String name = Vdev.xvdName(disk);
            int devid = Vdev.devid(name);
            if (!used.contains(Integer.toString(devid)) && table.served(domid, devid) == null) {
                return name;
            }
        }
        throw new IllegalArgumentException("domain " + domid + " has no free xvd name left; give one with --vdev");
    }

    private static ControlResponse usage(String msg) {
        return ControlResponse.error(ControlResponse.USAGE, "xen-disk-java: " + msg + "\n");
    }

    private static ControlResponse fail(String msg) {
        return ControlResponse.error(ControlResponse.FAILED, "xen-disk-java: " + msg + "\n");
    }

    /**
     * Daemon shutdown: unplug every disk we made (bounded) and stop serving
     * the toolstack's, leaving them as they are for the next daemon, then
     * stop watching.
     */
    @Override
    public void close() {
        for (RefusedVbd r : table.refused()) {
            r.close();
        }
        for (Vbd v : table.served()) {
            if (!v.ownsNodes()) {
                v.destroy("daemon stopping; the toolstack's disk waits for the next daemon");
                continue;
            }
            try {
                if (!v.disconnect(3_000)) {
                    v.destroy("daemon stopping");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                v.destroy("daemon stopping");
            }
        }
        releaseWatch.close();
        introduceWatch.close();
        reaper.close();
        introduced.close();
    }
}
