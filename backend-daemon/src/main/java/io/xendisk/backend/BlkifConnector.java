package io.xendisk.backend;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Collectors;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import io.xendisk.blkif.BackRing;
import io.xendisk.blkif.Request;
import io.xendisk.storage.IoEngine;
import io.xendisk.xen.EventChannel;
import io.xendisk.xen.EventChannels;
import io.xendisk.xen.GrantMapping;
import io.xendisk.xen.GrantTable;

/**
 * The data path of one VBD: on connect it maps each of the frontend's rings
 * (one per queue), binds its event channel and starts a thread for it; on
 * disconnect it stops the threads after their current batch and releases
 * everything. The rings share the VBD's engine.
 *
 * <p>A ring's pages are unmapped only after its thread has left: a thread
 * stuck in its storage (a slow NFS read, a long fdatasync) that wrote into
 * the ring after the unmap would crash the daemon, or write into whatever got
 * mapped there since. Such a ring is released by a thread of its own the
 * moment its worker returns; {@link #whenStopped} says when that is.
 */
public final class BlkifConnector implements RingConnector {
    private static final Logger LOG = LogManager.getLogger(BlkifConnector.class);

    private final String name;
    private final GrantTable grants;
    private final EventChannels channels;
    private final IoEngine engine;
    private Request.Limits limits;
    private final VbdStats stats;
    /** One for the disk, whichever rings it is served on now or later. */
    private final Throttle throttle = new Throttle(IoLimits.NONE, System.nanoTime());
    private final Consumer<String> onRingFailure;
    private final Runnable beforeConnect;
    private final RingJournals journals;
    private final int domid;
    private final int devid;
    private final List<Served> served = new ArrayList<>();
    /** Rings whose thread did not stop in time: released when it does. */
    private int stuck;
    private final List<Runnable> whenStopped = new ArrayList<>();
    /** How long disconnect waits for each ring thread before leaving it to a releaser. */
    private long stopWaitMillis = 5_000;

    /** One ring being served: its pages, its port, its worker and thread (null until started). */
    private static final class Served {
        GrantMapping mapping;
        EventChannel evtchn;
        RingWorker worker;
        Thread thread;
    }

    public BlkifConnector(String name, GrantTable grants, EventChannels channels, IoEngine engine,
                          Request.Limits limits, VbdStats stats, Consumer<String> onRingFailure) {
        this(name, grants, channels, engine, limits, stats, onRingFailure, () -> { });
    }

    /**
     * @param beforeConnect runs before the rings are mapped, e.g. to take the device from a
     *                      kernel backend that may have mapped it first; throws to refuse
     */
    public BlkifConnector(String name, GrantTable grants, EventChannels channels, IoEngine engine,
                          Request.Limits limits, VbdStats stats, Consumer<String> onRingFailure, Runnable beforeConnect) {
        this(name, grants, channels, engine, limits, stats, onRingFailure, beforeConnect, RingJournals.NONE, -1, -1);
    }

    /**
     * @param journals where the rings keep their response journals
     * @param domid    the frontend's domain and
     * @param devid    the device, naming its rings' journals
     */
    public BlkifConnector(String name, GrantTable grants, EventChannels channels, IoEngine engine,
                          Request.Limits limits, VbdStats stats, Consumer<String> onRingFailure, Runnable beforeConnect,
                          RingJournals journals, int domid, int devid) {
        this.journals = journals;
        this.domid = domid;
        this.devid = devid;
        this.beforeConnect = beforeConnect;
        this.name = name;
        this.grants = grants;
        this.channels = channels;
        this.engine = engine;
        this.limits = limits;
        this.stats = stats;
        this.onRingFailure = onRingFailure;
    }

    /** The disk's I/O limits, which its rings share; changed live through it. */
    public Throttle throttle() {
        return throttle;
    }

    @Override
    public synchronized void connect(FrontendRing ring) {
        disconnect();
        beforeConnect.run();
        int queues = ring.queues().size();
        try {
            for (int q = 0; q < queues; q++) {
                FrontendRing.Queue queue = ring.queues().get(q);
                Served s = new Served();
                served.add(s);
                int[] refs = queue.ringRefs().stream().mapToInt(Integer::intValue).toArray();
                String what = queues == 1 ? name : name + " queue " + q;
                try {
                    s.mapping = grants.map(ring.frontendDomid(), refs, true);
                    BackRing back = new BackRing(s.mapping.buffer(), ring.abi(), refs.length);
                    s.evtchn = channels.bindInterdomain(ring.frontendDomid(), queue.eventChannel());
                    s.worker = new RingWorker(what, back, s.evtchn, grants, ring.frontendDomid(), engine, limits,
                            ring.persistentGrants(), stats, onRingFailure,
                            journals.open(domid, devid, q, back.size()), throttle);
                } catch (RuntimeException e) {
                    throw queues == 1 ? e : new IllegalStateException("queue " + q + ": " + e.getMessage(), e);
                }
            }
        } catch (RuntimeException e) {
            release();
            throw e;
        }
        stats.queues(queues);
        for (int q = 0; q < queues; q++) {
            Served s = served.get(q);
            s.thread = new Thread(s.worker, queues == 1 ? "ring " + name : "ring " + name + " q" + q);
            s.thread.setDaemon(true);
            s.thread.start();
        }
        LOG.info("{}: serving {} of {} entries on event channel{} {} ({}, indirect {}, persistent grants {})", name,
                queues == 1 ? "a ring" : queues + " rings", io.xendisk.blkif.SharedRing.size(ring.abi(),
                        ring.ringRefs().size()), queues == 1 ? "" : "s",
                served.stream().map(s -> Integer.toString(s.evtchn.localPort())).collect(Collectors.joining(",")),
                ring.abi().protocol(),
                limits.maxIndirectSegments() > 0 ? "up to " + limits.maxIndirectSegments() + " segments" : "off",
                ring.persistentGrants() ? "on" : "off");
    }

    /**
     * The disk grew (the engine first): the rings being served and those served later take
     * requests up to the new end. Only growing is safe here: a ring may be parsing a
     * request against the old limits as this runs.
     */
    public synchronized void grown(Request.Limits grown) {
        limits = grown;
        for (Served s : served) {
            if (s.worker != null) {
                s.worker.limits(grown);
            }
        }
    }

    @Override
    public synchronized void disconnect() {
        for (Served s : served) {
            if (s.worker != null) {
                s.worker.stop();
            }
        }
        List<Served> left = new ArrayList<>();
        for (Served s : served) {
            if (s.thread != null && s.thread != Thread.currentThread()) {
                try {
                    s.thread.join(stopWaitMillis);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                if (s.thread.isAlive()) {
                    left.add(s);
                    continue;
                }
            }
            release(s);
        }
        served.clear();
        stats.queues(0);
        if (left.isEmpty()) {
            return;
        }
        stuck += left.size();
        LOG.error("{}: {} ring thread{} still in the storage {} ms after the ring stopped ({}); its pages stay mapped"
                + " and the storage open until it returns; the other VBDs are not affected", name, left.size(),
                left.size() == 1 ? " is" : "s are", stopWaitMillis, engine);
        Thread releaser = new Thread(() -> releaseWhenLeft(left), "ring releaser " + name);
        releaser.setDaemon(true);
        releaser.start();
    }

    /** Waits for each stuck ring's thread, then releases the ring. */
    private void releaseWhenLeft(List<Served> left) {
        for (Served s : left) {
            try {
                s.thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return; // the daemon is going away: the process's end releases the mappings
            }
            release(s);
            LOG.info("{}: ring thread {} returned from the storage; its ring is released", name, s.thread.getName());
            List<Runnable> actions = List.of();
            synchronized (this) {
                stuck--;
                if (stuck == 0 && served.isEmpty()) {
                    actions = new ArrayList<>(whenStopped);
                    whenStopped.clear();
                }
            }
            actions.forEach(Runnable::run); // not under the lock: they may end the VBD
        }
    }

    /**
     * Runs {@code action} once no ring thread of this VBD is left, at once when
     * none is; e.g. closing the storage, which must outlive every call into it.
     */
    @Override
    public void whenStopped(Runnable action) {
        synchronized (this) {
            if (stuck > 0 || !served.isEmpty()) {
                whenStopped.add(action);
                return;
            }
        }
        action.run();
    }

    /** Rings whose thread has not left its storage since they were stopped. */
    @Override
    public synchronized int stuckRings() {
        return stuck;
    }

    /** For tests: how long {@link #disconnect} waits for a ring thread. */
    synchronized void stopWaitMillis(long millis) {
        this.stopWaitMillis = millis;
    }

    private void release() {
        for (Served s : served) {
            release(s);
        }
        served.clear();
        stats.queues(0);
    }

    private static void release(Served s) {
        if (s.evtchn != null) {
            s.evtchn.close();
        }
        if (s.mapping != null) {
            s.mapping.close();
        }
    }

    @Override
    public void freshRings() {
        journals.discard(domid, devid);
    }

    /** True while every ring of this VBD has its thread serving it. */
    public synchronized boolean serving() {
        return !served.isEmpty() && served.stream().allMatch(s -> s.thread != null && s.thread.isAlive());
    }

    /** How many rings are being served. */
    public synchronized int queues() {
        return served.size();
    }
}
