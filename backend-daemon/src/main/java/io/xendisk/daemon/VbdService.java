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
import io.xendisk.backend.Vbd;
import io.xendisk.backend.VbdNodes;
import io.xendisk.blkif.Vdev;
import io.xendisk.storage.Storage;
import io.xendisk.storage.StorageException;
import io.xendisk.storage.StorageSpec;
import io.xendisk.storage.Storages;
import io.xendisk.xen.EventChannels;
import io.xendisk.xen.GrantTable;
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

    private final XenStore xs;
    private final GrantTable grants;
    private final EventChannels channels;
    private final VbdRegistry registry;
    private final Map<String, Vbd> vbds = new ConcurrentHashMap<>();
    private final Map<String, VbdRegistry.Registration> registrations = new ConcurrentHashMap<>();
    private final XenStore.Watch releaseWatch;

    public VbdService(XenStore xs, GrantTable grants, EventChannels channels, VbdRegistry registry) {
        this.xs = xs;
        this.grants = grants;
        this.channels = channels;
        this.registry = registry;
        this.releaseWatch = xs.watch("@releaseDomain", "xdj:release", (p, t) -> reapDeadDomains());
    }

    /** {@code connect <vm> [--path IMG] [--storage E] [--vdev xvdX] [--readonly]}. */
    public ControlResponse connect(ControlRequest req) {
        if (req.args().size() != 1) {
            return usage("'connect' needs the guest: connect <vm> [--path IMG] [--storage discard|file|mmap|cow]"
                    + " [--vdev xvdb] [--readonly]");
        }
        String engine = Optional.ofNullable(req.option("storage")).orElse(req.option("path") == null ? "discard" : "file");
        String path = req.option("path");
        boolean readOnly = req.option("readonly") != null;
        if (!engine.equals("discard") && path == null) {
            return fail("storage '" + engine + "' needs an image: add --path IMG");
        }
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
        Storage storage;
        try {
            StorageSpec spec = path == null ? StorageSpec.discard(StorageSpec.DEFAULT_DISCARD_SIZE)
                    : StorageSpec.of(engine, Path.of(path).toAbsolutePath(), readOnly);
            storage = Storages.open(spec);
        } catch (StorageException | IllegalArgumentException e) {
            return fail("vbd " + key + ": " + e.getMessage());
        }
        String storageName = path == null ? engine : engine + ":" + Path.of(path).toAbsolutePath();
        String be = VbdNodes.backendPath(BACKEND_DOMID, domid, devid);
        Vbd vbd = new Vbd(xs, grants, channels, be, domid, devid, vdev, storage, storageName, readOnly, true,
                BlkifFeatures.DEFAULT, this::gone);
        vbds.put(key, vbd);
        try {
            VbdNodes.create(xs, BACKEND_DOMID, domid, devid, vdev, readOnly, storageName);
            registrations.put(key, registry.register(domid, devid, () -> summary(vbd)));
            vbd.start();
        } catch (XenStoreException | IllegalStateException e) {
            vbd.destroy("connect failed: " + e.getMessage());
            return fail("vbd " + key + ": " + e.getMessage());
        }
        boolean up = awaitConnected(vbd, CONNECT_WAIT_MS);
        LOG.info("vbd {}: connected {} to guest {} as {} ({}{})", key, storageName, req.args().get(0), vdev,
                storage.capabilities().ephemeral() ? "ephemeral: changes vanish on disconnect" : "persistent",
                readOnly ? ", read-only" : "");
        return ControlResponse.ok("connected " + storageName + " to domain " + domid + " as " + vdev + " (vbd " + key
                + (engine.equals("discard") ? "; discard: reads return zeros, writes are dropped"
                        : storage.capabilities().ephemeral() ? "; copy-on-write: changes vanish on disconnect" : "")
                + (readOnly ? "; read-only" : "") + ")\n"
                + (up ? "" : "the guest's frontend has not connected yet (backend " + vbd.state().label()
                + "); it will when the guest's blkfront starts\n"));
    }

    /** Waits (bounded) for the guest's frontend: a disk is usable, and a script can go on, once it is Connected. */
    private static boolean awaitConnected(Vbd vbd, long timeoutMs) {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        while (System.nanoTime() < deadline && !vbd.isGone()) {
            if (vbd.state() == io.xendisk.backend.XenbusState.CONNECTED) {
                return true;
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return vbd.state() == io.xendisk.backend.XenbusState.CONNECTED;
    }

    /** {@code disconnect <vm> <vdev>}: closes the handshake cleanly and removes the nodes. */
    public ControlResponse disconnect(ControlRequest req) {
        if (req.args().size() != 2) {
            return usage("'disconnect' needs the guest and the disk: disconnect <vm> <vdev>");
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
                if (!xs.exists("/local/domain/" + v.domid()) || !xs.isDomainIntroduced(v.domid())) {
                    v.destroy("domain " + v.domid() + " is gone");
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
            if (!xs.exists("/local/domain/" + d)) {
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
        List<String> used = xs.tryDirectory("/local/domain/" + domid + "/device/vbd");
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

    /** Daemon shutdown: unplug every disk cleanly (bounded), then stop watching. */
    @Override
    public void close() {
        for (Vbd v : vbds()) {
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
    }
}
