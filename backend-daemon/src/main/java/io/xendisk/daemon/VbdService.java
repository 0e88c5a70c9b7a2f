package io.xendisk.daemon;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import io.xendisk.api.ControlRequest;
import io.xendisk.api.ControlResponse;
import io.xendisk.backend.BlkifFeatures;
import io.xendisk.backend.RingJournals;
import io.xendisk.backend.Vbd;
import io.xendisk.backend.VbdNodes;
import io.xendisk.blkif.BlkifNodes;
import io.xendisk.blkif.Vdev;
import io.xendisk.blkif.XenbusState;
import io.xendisk.storage.IoEngine;
import io.xendisk.storage.StorageException;
import io.xendisk.storage.StorageSpec;
import io.xendisk.storage.Storages;
import io.xendisk.xen.EventChannels;
import io.xendisk.xen.GrantTable;
import io.xendisk.xen.KernelBackends;
import io.xendisk.xen.store.XenStore;
import io.xendisk.xen.store.XenStoreException;

/**
 * The VBDs this daemon serves and the verbs that make and end them:
 * {@code connect} hotplugs a fresh disk into a running guest (writing both
 * xenstore directories itself, as the seed's xen-disk does), {@code disconnect}
 * unplugs it cleanly, and a guest's death tears its VBDs down.
 */
public final class VbdService implements AutoCloseable {
    private static final Logger LOG = LogManager.getLogger(VbdService.class);
    static final int BACKEND_DOMID = 0;
    private static final long DISCONNECT_TIMEOUT_MS = 10_000;
    private static final long CONNECT_WAIT_MS = 10_000;
    /**
     * Our word to the hotplug script that a toolstack device is ours and ready; the script then
     * writes hotplug-status=connected, which lets the device connect.
     */
    static final String READY_NODE = "xen-disk-java-status";
    /** How long a new device may take to appear in the kernel (and be bound by xen-blkback) before we take it. */
    private static final long KERNEL_RELEASE_WAIT_MS = 2_000;

    private final XenStore xs;
    private final GrantTable grants;
    private final EventChannels channels;
    private final VbdRegistry registry;
    private final Map<String, Vbd> vbds = new ConcurrentHashMap<>();
    private final Map<String, VbdRegistry.Registration> registrations = new ConcurrentHashMap<>();
    private final Map<String, RefusedVbd> refused = new ConcurrentHashMap<>();
    private final KernelBackends kernel;
    private final BlkifFeatures features;
    private final RingJournals journals;
    private final XenStore.Watch releaseWatch;
    private final XenStore.Watch introduceWatch;
    private final PendingConnects pending = new PendingConnects(this::knownDomain, this::connectWhenCreated);

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
        this.journals = journals;
        this.xs = xs;
        this.grants = grants;
        this.channels = channels;
        this.registry = registry;
        this.kernel = kernel;
        this.features = features;
        this.releaseWatch = xs.watch("@releaseDomain", "xdj:release", (p, t) -> reapDeadDomains());
        this.introduceWatch = xs.watch("@introduceDomain", "xdj:introduce", (p, t) -> {
            if (!pending.isEmpty()) {
                pending.domainsChanged();
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
        if (req.args().size() != 1) {
            return usage("'connect' needs the guest: connect <vm> [--path IMG] [--storage discard|file|mmap|cow]"
                    + " [--vdev xvdb] [--readonly] [--no-wait] [--at-start SECONDS]");
        }
        String engine = Optional.ofNullable(req.option("storage")).orElse(req.option("path") == null ? "discard" : "file");
        String path = req.option("path");
        if (!engine.equals("discard") && path == null) {
            return fail("storage '" + engine + "' needs an image: add --path IMG");
        }
        String vm = req.args().get(0);
        if (req.option("at-start") != null) {
            long seconds;
            try {
                seconds = Long.parseLong(req.option("at-start"));
                if (seconds < 1 || seconds > 3600) {
                    throw new NumberFormatException();
                }
            } catch (NumberFormatException e) {
                return usage("--at-start takes seconds, 1 to 3600, not '" + req.option("at-start") + "'");
            }
            if (!knownDomain(vm)) {
                return expect(vm, req, seconds);
            }
        }
        return connectNow(req, req.option("no-wait") == null);
    }

    private ControlResponse connectNow(ControlRequest req, boolean waitForFrontend) {
        String engine = Optional.ofNullable(req.option("storage")).orElse(req.option("path") == null ? "discard" : "file");
        String path = req.option("path");
        boolean readOnly = req.option("readonly") != null;
        int domid;
        try {
            domid = resolveDomain(req.args().get(0));
        } catch (IllegalArgumentException e) {
            return fail(e.getMessage());
        }
        String vdev;
        int devid;
        try {
            vdev = req.option("vdev") != null ? req.option("vdev") : firstFreeVdev(domid);
            devid = Vdev.devid(vdev);
        } catch (IllegalArgumentException e) {
            return fail(e.getMessage());
        }
        String key = domid + "/" + devid;
        if (vbds.containsKey(key) || xs.exists(VbdNodes.frontendPath(domid, devid))) {
            return fail("guest " + req.args().get(0) + " (domain " + domid + ") already has a disk " + vdev
                    + "; choose another with --vdev");
        }
        IoEngine storage;
        try {
            StorageSpec spec = path == null ? StorageSpec.discard(StorageSpec.DEFAULT_DISCARD_SIZE)
                    : StorageSpec.of(engine, Path.of(path).toAbsolutePath(), readOnly);
            storage = Storages.open(spec);
        } catch (StorageException | IllegalArgumentException e) {
            return fail("vbd " + key + ": " + e.getMessage());
        }
        String storageName = path == null ? engine : engine + ":" + Path.of(path).toAbsolutePath();
        String be = VbdNodes.backendPath(BACKEND_DOMID, domid, devid);
        Vbd vbd = register(be, domid, devid, vdev, storage, storageName, readOnly, true, KernelBackends.NONE);
        try {
            VbdNodes.create(xs, BACKEND_DOMID, domid, devid, vdev, readOnly, storageName);
            vbd.start();
        } catch (XenStoreException | IllegalStateException e) {
            vbd.destroy("connect failed: " + e.getMessage());
            return fail("vbd " + key + ": " + e.getMessage());
        }
        boolean up = waitForFrontend && awaitConnected(vbd, CONNECT_WAIT_MS);
        LOG.info("vbd {}: connected {} to guest {} as {} ({}{})", key, storageName, req.args().get(0), vdev,
                storage.capabilities().ephemeral() ? "ephemeral: changes vanish on disconnect" : "persistent",
                readOnly ? ", read-only" : "");
        return ControlResponse.ok("connected " + storageName + " to domain " + domid + " as " + vdev + " (vbd " + key
                + (engine.equals("discard") ? "; discard: reads return zeros, writes are dropped"
                        : storage.capabilities().ephemeral() ? "; copy-on-write: changes vanish on disconnect" : "")
                + (readOnly ? "; read-only" : "") + ")\n"
                + (up || !waitForFrontend ? "" : "the guest's frontend has not connected yet (backend " + vbd.state().label()
                + "); it will when the guest's blkfront starts\n"));
    }

    /** A {@code connect --at-start} whose domain was just created: nothing waits for its frontend. */
    private void connectWhenCreated(ControlRequest req) {
        ControlResponse r = connectNow(req, false);
        if (r.exitCode() != ControlResponse.OK) {
            LOG.error("guest {}: connecting {} when its domain was created failed: {}", req.args().get(0),
                    req.option("vdev"), r.stderr().strip());
        }
    }

    /** Whether {@code vm} (a domid or a name) is a domain xenstore knows now. */
    private boolean knownDomain(String vm) {
        try {
            resolveDomain(vm);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /**
     * Remembers a connect for a guest that is not created yet: checks the
     * image now (so a start can fail early with the reason), and connects as
     * soon as a domain of that name is introduced, within {@code seconds}.
     */
    private ControlResponse expect(String vm, ControlRequest req, long seconds) {
        if (vm.matches("\\d{1,5}")) {
            return fail("--at-start needs the guest's name (its domain id is not known before it is created), not " + vm);
        }
        String path = req.option("path");
        if (path != null) {
            try {
                Storages.open(StorageSpec.of(Optional.ofNullable(req.option("storage")).orElse("file"),
                        Path.of(path).toAbsolutePath(), req.option("readonly") != null)).close();
            } catch (StorageException | IllegalArgumentException e) {
                return fail("guest " + vm + " disk " + req.option("vdev") + ": " + e.getMessage());
            }
        }
        String vdev = req.option("vdev");
        if (vdev == null) {
            return usage("--at-start needs --vdev (the disk's name is fixed before the guest exists)");
        }
        LOG.info("guest {}: will connect {} as {} when its domain is created (within {} s)", vm,
                path == null ? "a discard disk" : path, vdev, seconds);
        pending.add(vm, vdev, req, seconds);
        return ControlResponse.ok("guest " + vm + " is not running: " + vdev + " will be connected when its domain is"
                + " created (within " + seconds + " s)\n");
    }

    /** Waits (bounded) for the guest's frontend: a disk is usable, and a script can go on, once it is Connected. */
    private static boolean awaitConnected(Vbd vbd, long timeoutMs) {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        while (System.nanoTime() < deadline && !vbd.isGone()) {
            if (vbd.state() == io.xendisk.blkif.XenbusState.CONNECTED) {
                return true;
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return vbd.state() == io.xendisk.blkif.XenbusState.CONNECTED;
    }

    /** {@code disconnect <vm> <vdev>}: closes the handshake cleanly and removes the nodes. */
    public ControlResponse disconnect(ControlRequest req) {
        if (req.args().size() != 2) {
            return usage("'disconnect' needs the guest and the disk: disconnect <vm> <vdev>");
        }
        if (pending.cancel(req.args().get(0), req.args().get(1)) && !knownDomain(req.args().get(0))) {
            return ControlResponse.ok("guest " + req.args().get(0) + " was not created yet: " + req.args().get(1)
                    + " will not be connected\n");
        }
        int domid;
        int devid;
        try {
            domid = resolveDomainOrServed(req.args().get(0));
            devid = Vdev.devid(req.args().get(1));
        } catch (IllegalArgumentException e) {
            return fail(e.getMessage());
        }
        String key = domid + "/" + devid;
        Vbd vbd = vbds.get(key);
        if (vbd == null) {
            return fail("no disk " + req.args().get(1) + " of " + req.args().get(0) + " is served by this daemon (see 'xen-disk-java list')");
        }
        try {
            boolean done = vbd.disconnect(DISCONNECT_TIMEOUT_MS);
            if (!done) {
                vbd.destroy("frontend did not close within " + DISCONNECT_TIMEOUT_MS / 1000 + " s");
                return ControlResponse.ok("disconnected " + req.args().get(1) + " from domain " + domid
                        + " (the guest did not close the device in time; removed anyway)\n");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return fail("interrupted");
        }
        return ControlResponse.ok("disconnected " + req.args().get(1) + " from domain " + domid + "\n");
    }

    /**
     * Serves a device the toolstack made under {@code backend/vbd} and handed
     * to us (xl's {@code script=xen-disk-java}, target {@code [engine:]path} in
     * {@code params}): takes it from the kernel's blkback, opens the image and
     * answers the handshake up to InitWait, then says {@code xen-disk-java-status=ready}
     * for the hotplug script, whose {@code hotplug-status=connected} lets it
     * connect. What cannot be served is refused with the reason in
     * {@code hotplug-error}. Idempotent; also how a restarted daemon takes
     * back the devices it served (a frontend still connected is reconnected
     * where its ring stands).
     */
    public void adopt(int domid, int devid) {
        String key = domid + "/" + devid;
        String be = BlkifNodes.backendPath(BACKEND_DOMID, BlkifNodes.TOOLSTACK_KIND, domid, devid);
        if (vbds.containsKey(key) || refused.containsKey(key)) {
            return;
        }
        Optional<String> params = xs.tryRead(BlkifNodes.path(be, BlkifNodes.PARAMS));
        if (params.isEmpty() || !xs.exists(BlkifNodes.path(be, BlkifNodes.FRONTEND))) {
            LOG.warn("vbd {}: {} has no params or frontend node; not a device the toolstack finished writing", key, be);
            return;
        }
        boolean readOnly = BlkifNodes.isReadOnly(xs.tryRead(BlkifNodes.path(be, BlkifNodes.MODE)).orElse(BlkifNodes.MODE_READ_WRITE));
        String vdev = xs.tryRead(BlkifNodes.path(be, BlkifNodes.DEV)).orElse(Vdev.name(devid));
        boolean wasConnected = XenbusState.CONNECTED.wire().equals(
                xs.tryRead(BlkifNodes.path(be, BlkifNodes.STATE)).orElse("").trim());
        IoEngine storage;
        StorageSpec spec;
        try {
            spec = StorageSpec.parse(params.get(), readOnly);
            storage = Storages.open(spec);
        } catch (StorageException | IllegalArgumentException e) {
            refuse(be, domid, devid, "vbd " + key + " (" + vdev + "): " + e.getMessage(), false);
            return;
        }
        try {
            String done = kernel.release(domid, devid, KERNEL_RELEASE_WAIT_MS);
            if (done != null) {
                LOG.info("vbd {}: {}", key, done);
            }
        } catch (IllegalStateException e) {
            storage.close();
            refuse(be, domid, devid, "vbd " + key + " (" + vdev + "): " + e.getMessage(), false);
            return;
        }
        if (wasConnected && storage.capabilities().ephemeral()) {
            storage.close();
            refuse(be, domid, devid, lostChanges(key, vdev, "closed", "detach it and attach it again"), false);
            return;
        }
        String storageName = storageName(spec);
        Vbd vbd = register(be, domid, devid, vdev, storage, storageName, readOnly, false, kernel);
        try {
            vbd.start();
            xs.transaction(t -> {
                if (t.exists(BlkifNodes.path(be, BlkifNodes.FRONTEND))) {
                    t.write(BlkifNodes.path(be, READY_NODE), "ready");
                }
                return null;
            });
        } catch (XenStoreException | IllegalStateException e) {
            vbd.destroy("adopting failed: " + e.getMessage());
            return;
        }
        LOG.info("vbd {}: serving {} ({}) for the toolstack as {}{}", key, storageName,
                storage.capabilities().ephemeral() ? "ephemeral: changes vanish when it ends" : "persistent", vdev,
                wasConnected ? "; its frontend was connected to a previous daemon: resuming its ring" : "");
    }

    private void refuse(String be, int domid, int devid, String why, boolean ownsNodes) {
        String key = domid + "/" + devid;
        RefusedVbd r = new RefusedVbd(xs, be, domid, devid, why, ownsNodes, gone -> {
            refused.remove(key, gone);
            VbdRegistry.Registration reg = registrations.remove(key);
            if (reg != null) {
                reg.close();
            }
        });
        refused.put(key, r);
        registrations.put(key, registry.register(domid, devid, r::summary));
        try {
            r.start();
        } catch (XenStoreException e) {
            LOG.warn("vbd {}: {}", key, e.getMessage());
        }
    }

    /**
     * Takes back the VBDs of our own backend kind that a previous daemon
     * served (it died or was killed): a persistent disk is served again and a
     * connected frontend resumes where its ring stands; a copy-on-write disk
     * lost its changes with that daemon and is closed; the nodes of a guest
     * that is gone are removed.
     */
    public void recover() {
        String base = BlkifNodes.backendKindPath(BACKEND_DOMID, VbdNodes.KIND);
        for (String d : xs.tryDirectory(base)) {
            for (String n : xs.tryDirectory(base + "/" + d)) {
                if (!d.matches("\\d{1,5}") || !n.matches("\\d{1,9}")) {
                    continue;
                }
                try {
                    recoverOwn(Integer.parseInt(d), Integer.parseInt(n), base + "/" + d + "/" + n);
                } catch (XenStoreException | IllegalArgumentException e) {
                    LOG.warn("vbd {}/{}: cannot take it back after a restart: {}", d, n, e.getMessage());
                }
            }
        }
    }

    private void recoverOwn(int domid, int devid, String be) {
        String key = domid + "/" + devid;
        if (vbds.containsKey(key) || refused.containsKey(key)) {
            return;
        }
        String fe = xs.tryRead(BlkifNodes.path(be, BlkifNodes.FRONTEND)).orElse(VbdNodes.frontendPath(domid, devid));
        if (!xs.exists(BlkifNodes.domainPath(domid))) {
            LOG.info("vbd {}: its guest is gone; removing the nodes a previous daemon left", key);
            VbdNodes.remove(xs, be, fe);
            return;
        }
        boolean readOnly = BlkifNodes.isReadOnly(xs.tryRead(BlkifNodes.path(be, BlkifNodes.MODE)).orElse(BlkifNodes.MODE_READ_WRITE));
        String vdev = xs.tryRead(BlkifNodes.path(be, BlkifNodes.DEV)).orElse(Vdev.name(devid));
        String params = xs.tryRead(BlkifNodes.path(be, BlkifNodes.PARAMS)).orElse("");
        IoEngine storage;
        StorageSpec spec;
        try {
            spec = StorageSpec.parse(params, readOnly);
            storage = Storages.open(spec);
        } catch (StorageException | IllegalArgumentException e) {
            VbdNodes.requestClose(xs, be);
            refuse(be, domid, devid, "vbd " + key + " (" + vdev + "): cannot be served again after a restart: "
                    + e.getMessage(), true);
            return;
        }
        if (storage.capabilities().ephemeral()) {
            storage.close();
            VbdNodes.requestClose(xs, be);
            refuse(be, domid, devid, lostChanges(key, vdev, "unplugged", "connect it again"), true);
            return;
        }
        String storageName = storageName(spec);
        register(be, domid, devid, vdev, storage, storageName, readOnly, true, KernelBackends.NONE).start();
        LOG.info("vbd {}: served again after a daemon restart ({} as {})", key, storageName, vdev);
    }

    /** A new VBD in this service's table and the registry, not started yet. */
    private Vbd register(String be, int domid, int devid, String vdev, IoEngine storage, String storageName,
                         boolean readOnly, boolean ownsNodes, KernelBackends kernelBackends) {
        Vbd vbd = new Vbd(xs, grants, channels, be, domid, devid, vdev, storage, storageName, readOnly, ownsNodes,
                features, kernelBackends, journals, this::gone);
        String key = domid + "/" + devid;
        vbds.put(key, vbd);
        registrations.put(key, registry.register(domid, devid, () -> summary(vbd)));
        return vbd;
    }

    /** "engine:path", or the engine alone for discard: what list shows and our params node holds. */
    private static String storageName(StorageSpec spec) {
        return spec.path() == null ? spec.engine() : spec.engine() + ":" + spec.path();
    }

    /** Why a copy-on-write disk is not served again after a restart. */
    private static String lostChanges(String key, String vdev, String fate, String fix) {
        return "vbd " + key + " (" + vdev + "): the daemon restarted while serving this copy-on-write disk, whose"
                + " changes were lost with the old process; it is " + fate + " rather than shown to the guest changed ("
                + fix + ")";
    }

    /** The served VBDs, for status. */
    public List<Vbd> vbds() {
        return new ArrayList<>(vbds.values());
    }

    private VbdSummary summary(Vbd v) {
        String state = v.state().label();
        String err = v.lastError();
        return new VbdSummary(v.domid(), v.devid(), v.vdev(), err == null ? state : state + " (" + err + ")",
                v.storageName(), v.counters());
    }

    private void gone(Vbd v) {
        String key = v.domid() + "/" + v.devid();
        vbds.remove(key, v);
        VbdRegistry.Registration r = registrations.remove(key);
        if (r != null) {
            r.close();
        }
        if (vbds.keySet().stream().noneMatch(k -> k.startsWith(v.domid() + "/"))) {
            grants.forget(v.domid());
        }
    }

    /** @releaseDomain fired: end the VBDs of every domain that is no longer there. */
    private void reapDeadDomains() {
        for (Vbd v : vbds.values()) {
            try {
                if (!xs.exists(BlkifNodes.domainPath(v.domid())) || !xs.isDomainIntroduced(v.domid())) {
                    v.abandon("domain " + v.domid() + " is gone");
                }
            } catch (XenStoreException e) {
                LOG.warn("checking domain {}: {}", v.domid(), e.getMessage());
            }
        }
    }

    /** A domain id, or the name in /local/domain/N/name. */
    private int resolveDomain(String vm) {
        if (vm.matches("\\d{1,5}")) {
            int d = Integer.parseInt(vm);
            if (!xs.exists(BlkifNodes.domainPath(d))) {
                throw new IllegalArgumentException("no domain " + d + " (is the guest running? 'xl list' or 'xen-disk-java sim guests')");
            }
            return d;
        }
        for (String d : xs.tryDirectory("/local/domain")) {
            if (vm.equals(xs.tryRead("/local/domain/" + d + "/name").orElse(null)) && d.matches("\\d+")) {
                return Integer.parseInt(d);
            }
        }
        throw new IllegalArgumentException("no running guest named '" + vm + "' (is it started? names are read from /local/domain/*/name)");
    }

    /** Like resolveDomain, but a number of a VBD we serve also works after its domain died. */
    private int resolveDomainOrServed(String vm) {
        if (vm.matches("\\d{1,5}")) {
            return Integer.parseInt(vm);
        }
        return resolveDomain(vm);
    }

    private String firstFreeVdev(int domid) {
        List<String> used = xs.tryDirectory(BlkifNodes.frontendDevices(domid));
        for (int disk = 1; disk < 26; disk++) { // xvda is the guest's root disk by convention
            String name = Vdev.xvdName(disk);
            if (!used.contains(Integer.toString(Vdev.devid(name))) && !vbds.containsKey(domid + "/" + Vdev.devid(name))) {
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
        for (RefusedVbd r : refused.values()) {
            r.close();
        }
        for (Vbd v : vbds()) {
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
    }
}
