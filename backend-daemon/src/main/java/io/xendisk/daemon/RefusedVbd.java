package io.xendisk.daemon;

import java.util.Map;
import java.util.function.Consumer;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import io.xendisk.backend.BlkifFeatures;
import io.xendisk.backend.DiskInfo;
import io.xendisk.backend.FrontendRing;
import io.xendisk.backend.RingConnector;
import io.xendisk.backend.VbdBackend;
import io.xendisk.backend.VbdNodes;
import io.xendisk.blkif.BlkifNodes;
import io.xendisk.blkif.Vdev;
import io.xendisk.xen.store.XenStore;
import io.xendisk.xen.store.XenStoreException;

/**
 * A device handed to us that we cannot serve (its image is missing, its
 * target names no engine we have, or a copy-on-write disk whose changes died
 * with a previous daemon). It still answers the toolstack: the reason goes
 * to {@code hotplug-error} with {@code hotplug-status=error}, so the hotplug
 * script fails and xl prints it; the handshake offers nothing a frontend can
 * connect to, closes when asked and ends when the toolstack removes it.
 */
final class RefusedVbd {
    private static final Logger LOG = LogManager.getLogger(RefusedVbd.class);

    private final XenStore xs;
    private final String backendPath;
    private final int domid;
    private final int devid;
    private final String why;
    private final boolean ownsNodes;
    private final VbdBackend backend;

    /**
     * @param ownsNodes we made the directories (our own backend kind): remove them at the end
     * @param onGone    called once the toolstack (or the guest's death) ended it
     */
    RefusedVbd(XenStore xs, String backendPath, int domid, int devid, String why, boolean ownsNodes,
               Consumer<RefusedVbd> onGone) {
        this.xs = xs;
        this.backendPath = backendPath;
        this.domid = domid;
        this.devid = devid;
        this.why = why;
        this.ownsNodes = ownsNodes;
        RingConnector refuse = new RingConnector() {
            @Override
            public void connect(FrontendRing ring) throws Exception {
                throw new Exception(why);
            }

            @Override
            public void disconnect() {
            }
        };
        this.backend = new VbdBackend(xs, backendPath, domid, devid, new DiskInfo(0, 512, true, false), refuse,
                new VbdBackend.Listener() {
                    @Override
                    public void onTeardown(VbdBackend vbd, String reason) {
                        if (RefusedVbd.this.ownsNodes) {
                            try {
                                VbdNodes.remove(xs, backendPath, vbd.frontendPath());
                            } catch (XenStoreException e) {
                                LOG.warn("vbd {}/{}: could not remove its xenstore nodes: {}", domid, devid, e.getMessage());
                            }
                        }
                        onGone.accept(RefusedVbd.this);
                    }
                }, BlkifFeatures.BASIC, !ownsNodes);
    }

    /** Says why in the backend directory, then answers the handshake. */
    void start() {
        xs.transaction(t -> {
            // never recreate a directory the toolstack already removed
            if (t.exists(BlkifNodes.path(backendPath, BlkifNodes.FRONTEND))) {
                t.write(BlkifNodes.path(backendPath, BlkifNodes.HOTPLUG_ERROR), why);
                t.write(BlkifNodes.path(backendPath, BlkifNodes.HOTPLUG_STATUS), BlkifNodes.HOTPLUG_FAILED);
            }
            return null;
        });
        backend.start();
        LOG.error("vbd {}/{}: refused: {}", domid, devid, why);
    }

    int domid() {
        return domid;
    }

    int devid() {
        return devid;
    }

    String why() {
        return why;
    }

    VbdSummary summary() {
        return new VbdSummary(domid, devid, Vdev.name(devid), "refused (" + why + ")", "-", Map.of());
    }

    /** Daemon shutdown: stop answering, leave xenstore as it is. */
    void close() {
        backend.close();
    }
}
