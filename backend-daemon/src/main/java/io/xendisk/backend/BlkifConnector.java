package io.xendisk.backend;

import java.util.function.Consumer;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import io.xendisk.blkif.BackRing;
import io.xendisk.blkif.Request;
import io.xendisk.storage.Storage;
import io.xendisk.xen.EventChannel;
import io.xendisk.xen.EventChannels;
import io.xendisk.xen.GrantMapping;
import io.xendisk.xen.GrantTable;

/**
 * The data path of one VBD: on connect it maps the frontend's ring pages,
 * binds its event channel and starts the VBD's ring thread; on disconnect it
 * stops the thread after its current batch and releases both.
 */
public final class BlkifConnector implements RingConnector {
    private static final Logger LOG = LogManager.getLogger(BlkifConnector.class);

    private final String name;
    private final GrantTable grants;
    private final EventChannels channels;
    private final Storage storage;
    private final Request.Limits limits;
    private final VbdStats stats;
    private final Consumer<String> onRingFailure;
    private final Runnable beforeConnect;
    private GrantMapping mapping;
    private EventChannel evtchn;
    private RingWorker worker;
    private Thread thread;

    public BlkifConnector(String name, GrantTable grants, EventChannels channels, Storage storage,
                          Request.Limits limits, VbdStats stats, Consumer<String> onRingFailure) {
        this(name, grants, channels, storage, limits, stats, onRingFailure, () -> { });
    }

    /**
     * @param beforeConnect runs before each ring is mapped, e.g. to take the device from a
     *                      kernel backend that may have mapped it first; throws to refuse
     */
    public BlkifConnector(String name, GrantTable grants, EventChannels channels, Storage storage,
                          Request.Limits limits, VbdStats stats, Consumer<String> onRingFailure, Runnable beforeConnect) {
        this.beforeConnect = beforeConnect;
        this.name = name;
        this.grants = grants;
        this.channels = channels;
        this.storage = storage;
        this.limits = limits;
        this.stats = stats;
        this.onRingFailure = onRingFailure;
    }

    @Override
    public synchronized void connect(FrontendRing ring) {
        disconnect();
        beforeConnect.run();
        int[] refs = ring.ringRefs().stream().mapToInt(Integer::intValue).toArray();
        mapping = grants.map(ring.frontendDomid(), refs, true);
        try {
            BackRing back = new BackRing(mapping.buffer(), ring.abi(), refs.length);
            evtchn = channels.bindInterdomain(ring.frontendDomid(), ring.eventChannel());
            worker = new RingWorker(name, back, evtchn, grants, ring.frontendDomid(), storage, limits,
                    ring.persistentGrants(), stats, onRingFailure);
        } catch (RuntimeException e) {
            release();
            throw e;
        }
        thread = new Thread(worker, "ring " + name);
        thread.setDaemon(true);
        thread.start();
        LOG.info("{}: serving ring of {} entries on event channel {} ({}, indirect {}, persistent grants {})", name,
                io.xendisk.blkif.SharedRing.size(ring.abi(), refs.length), evtchn.localPort(), ring.abi().protocol(),
                limits.maxIndirectSegments() > 0 ? "up to " + limits.maxIndirectSegments() + " segments" : "off",
                ring.persistentGrants() ? "on" : "off");
    }

    @Override
    public synchronized void disconnect() {
        if (worker != null) {
            worker.stop();
            if (thread != Thread.currentThread()) {
                try {
                    thread.join(5_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                if (thread.isAlive()) {
                    LOG.warn("{}: ring thread did not stop within 5 s; releasing anyway", name);
                }
            }
        }
        release();
    }

    private void release() {
        worker = null;
        thread = null;
        if (evtchn != null) {
            evtchn.close();
            evtchn = null;
        }
        if (mapping != null) {
            mapping.close();
            mapping = null;
        }
    }

    /** True while a ring thread serves this VBD. */
    public synchronized boolean serving() {
        return thread != null && thread.isAlive();
    }
}
