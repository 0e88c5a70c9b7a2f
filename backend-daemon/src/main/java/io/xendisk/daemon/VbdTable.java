package io.xendisk.daemon;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import io.xendisk.backend.BlkifFeatures;
import io.xendisk.backend.RingJournals;
import io.xendisk.backend.Vbd;
import io.xendisk.storage.IoEngine;
import io.xendisk.xen.EventChannels;
import io.xendisk.xen.GrantTable;
import io.xendisk.xen.KernelBackends;
import io.xendisk.xen.store.XenStore;
import io.xendisk.xen.store.XenStoreException;

/**
 * The VBDs of this daemon, served or refused, by {@code domid/devid}: each
 * is made here, listed in the {@link VbdRegistry} for {@code list} and
 * {@code status} while it lives, and dropped from both when it ends. At most
 * one entry per device, so a device seen twice (a watch firing again, a
 * restart scan) is taken once.
 */
final class VbdTable {
    private static final Logger LOG = LogManager.getLogger(VbdTable.class);

    private final XenStore xs;
    private final GrantTable grants;
    private final EventChannels channels;
    private final BlkifFeatures features;
    private final VbdRegistry registry;
    private final Map<String, Vbd> served = new ConcurrentHashMap<>();
    private final RingJournals journals;
    private final Map<String, RefusedVbd> refused = new ConcurrentHashMap<>();
    private final Map<String, VbdRegistry.Registration> registrations = new ConcurrentHashMap<>();

    /**
     * @param features what the VBDs offer their frontends
     * @param journals where their rings keep their response journals, for a restarted daemon
     */
    VbdTable(XenStore xs, GrantTable grants, EventChannels channels, BlkifFeatures features, RingJournals journals,
             VbdRegistry registry) {
        this.journals = journals;
        this.xs = xs;
        this.grants = grants;
        this.channels = channels;
        this.features = features;
        this.registry = registry;
    }

    private static String key(int domid, int devid) {
        return domid + "/" + devid;
    }

    /** Whether device {@code domid/devid} is ours already, served or refused. */
    boolean has(int domid, int devid) {
        String k = key(domid, devid);
        return served.containsKey(k) || refused.containsKey(k);
    }

    /** The VBD serving device {@code domid/devid}, or null. */
    Vbd served(int domid, int devid) {
        return served.get(key(domid, devid));
    }

    /** The served VBDs, a snapshot. */
    List<Vbd> served() {
        return new ArrayList<>(served.values());
    }

    /** The refused devices, a snapshot. */
    List<RefusedVbd> refused() {
        return new ArrayList<>(refused.values());
    }

    /**
     * A new VBD of {@code storage} for the device whose backend directory is
     * {@code be}, entered and registered, not started yet.
     *
     * @param ownsNodes we made its xenstore directories, and remove them when it ends
     * @param kernel    the kernel backends to take the device from before each ring connects
     */
    Vbd add(String be, int domid, int devid, String vdev, IoEngine storage, String storageName, boolean readOnly,
            boolean ownsNodes, KernelBackends kernel, int sectorSize) {
        Vbd vbd = new Vbd(xs, grants, channels, be, domid, devid, vdev, storage, storageName, readOnly, ownsNodes,
                features, kernel, journals, sectorSize, this::gone);
        String k = key(domid, devid);
        served.put(k, vbd);
        registrations.put(k, registry.register(domid, devid, () -> summary(vbd)));
        return vbd;
    }

    /**
     * Refuses the device whose backend directory is {@code be}, saying {@code why}
     * to the toolstack, and keeps it listed until the toolstack removes it.
     *
     * @param ownsNodes we made its xenstore directories, and remove them when it ends
     */
    void refuse(String be, int domid, int devid, String why, boolean ownsNodes) {
        String k = key(domid, devid);
        RefusedVbd r = new RefusedVbd(xs, be, domid, devid, why, ownsNodes, gone -> {
            refused.remove(k, gone);
            unregister(k);
        });
        refused.put(k, r);
        registrations.put(k, registry.register(domid, devid, r::summary));
        try {
            r.start();
        } catch (XenStoreException e) {
            LOG.warn("vbd {}: {}", k, e.getMessage());
        }
    }

    private static VbdSummary summary(Vbd v) {
        String state = v.state().label();
        String err = v.lastError();
        return new VbdSummary(v.domid(), v.devid(), v.vdev(), err == null ? state : state + " (" + err + ")",
                v.storageName(), v.counters(), v.stats());
    }

    private void gone(Vbd v) {
        String k = key(v.domid(), v.devid());
        served.remove(k, v);
        unregister(k);
        if (served.keySet().stream().noneMatch(s -> s.startsWith(v.domid() + "/"))) {
            // the domain's last disk: nothing of ours refers to its memory any more
            grants.forget(v.domid());
        }
    }

    private void unregister(String k) {
        VbdRegistry.Registration r = registrations.remove(k);
        if (r != null) {
            r.close();
        }
    }
}
