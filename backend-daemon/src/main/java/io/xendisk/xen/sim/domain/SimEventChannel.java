package io.xendisk.xen.sim.domain;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import io.xendisk.xen.EventChannel;
import io.xendisk.xen.EventChannelException;

/**
 * One end of a simulated event channel: a port in its domain's shared
 * {@link PortTable} plus the port's wakeup FIFO. Used by the backend (from
 * {@link SimEventChannels#bindInterdomain}) and by a simulated guest (from
 * {@link SimDomain#allocUnbound}), in different processes.
 *
 * <p>Xen semantics: {@link #notifyRemote()} sets the peer's port pending and
 * writes a wakeup byte only on the not-pending to pending transition of an
 * unmasked port, so any number of kicks before the receiver looks cost one
 * wakeup; {@link #await} consumes the pending event. A masked port collects
 * pending events without waking anyone; {@link #unmask()} re-raises the
 * wakeup if an event is pending. When one end closes, the other end's port
 * becomes unbound again (for the same peer domain), as evtchn_close does, and
 * its notifications go nowhere.
 *
 * <p>Threading: one thread notifies and awaits (the ring thread);
 * {@link #close()} may come from any thread and wakes a blocked await.
 */
public final class SimEventChannel implements EventChannel {
    private static final Logger LOG = LogManager.getLogger(SimEventChannel.class);

    private final Path simdir;
    private final PortTable table;
    private final int port;
    private final Fifo inbox;
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Set by {@link #wakeup()}: the next await returns without an event. */
    private final AtomicBoolean woken = new AtomicBoolean();
    /** Where our notifications go, for the link word it was opened for; replaced when the link changes. */
    private volatile Peer peer;
    /** The link word whose peer could not be opened: not retried (nor logged) on every kick. */
    private volatile long unreachable = -1;

    private SimEventChannel(Path simdir, PortTable table, int port, Fifo inbox, Peer peer) {
        this.simdir = simdir;
        this.table = table;
        this.port = port;
        this.inbox = inbox;
        this.peer = peer;
    }

    /** The peer's port as seen from our link word: its table and wakeup FIFO. Immutable. */
    private static final class Peer {
        final long link;
        final PortTable table;
        final int port;
        final Fifo inbox;

        Peer(long link, PortTable table, int port, Fifo inbox) {
            this.link = link;
            this.table = table;
            this.port = port;
            this.inbox = inbox;
        }
    }

    /** Allocates an unbound port in {@code table} that {@code remoteDomid} may bind (EVTCHNOP_alloc_unbound). */
    static SimEventChannel allocUnbound(Path simdir, PortTable table, int remoteDomid) {
        if (remoteDomid < 0 || remoteDomid > SimPaths.MAX_DOMID) {
            throw new EventChannelException("domain " + table.domid() + ": cannot allocate a port for domain "
                    + remoteDomid + " (not a valid domain id)");
        }
        int port = table.allocate(PortTable.link(PortTable.RESERVED, remoteDomid, 0));
        if (port < 0) {
            throw new EventChannelException("domain " + table.domid() + ": all " + (PortTable.PORTS - 1)
                    + " event channel ports are in use (close unused channels)");
        }
        Fifo inbox = null;
        try {
            inbox = openOwnFifo(simdir, table.domid(), port);
            // The FIFO exists before the port is visible as unbound: a binder opens it right away.
            table.setLink(port, PortTable.link(PortTable.UNBOUND, remoteDomid, 0));
            return new SimEventChannel(simdir, table, port, inbox, null);
        } catch (IOException | RuntimeException e) {
            if (inbox != null) {
                inbox.close();
            }
            table.free(port);
            throw new EventChannelException("domain " + table.domid() + " port " + port + ": " + e.getMessage(), e);
        }
    }

    /**
     * Binds a new port of {@code local} to {@code remoteDomid}'s unbound port
     * {@code remotePort}, which must have been allocated for {@code local}'s
     * domain (EVTCHNOP_bind_interdomain).
     */
    static SimEventChannel bindInterdomain(Path simdir, PortTable local, int remoteDomid, int remotePort) {
        String where = "domain " + remoteDomid + " port " + remotePort;
        if (!PortTable.validPort(remotePort)) {
            throw new EventChannelException(where + ": not a valid port (1.." + (PortTable.PORTS - 1) + ")");
        }
        DomainDirs.problem(simdir, remoteDomid).ifPresent(p -> {
            throw new EventChannelException(p);
        });
        PortTable remote;
        try {
            remote = PortTable.open(SimPaths.evtchn(simdir, remoteDomid), remoteDomid);
        } catch (IOException e) {
            throw new EventChannelException(where + ": cannot open its port table: " + e.getMessage(), e);
        }
        long remoteLink = remote.link(remotePort);
        if (PortTable.state(remoteLink) == PortTable.INTERDOMAIN && PortTable.remoteDomid(remoteLink) == local.domid()
                && !local.ownerAlive(PortTable.remotePort(remoteLink))) {
            // bound to a port of ours whose process died without closing it (kill -9): Xen would
            // have closed that port when the process went, leaving the peer's port unbound for us
            int stale = PortTable.remotePort(remoteLink);
            if (remote.casLink(remotePort, remoteLink, PortTable.link(PortTable.UNBOUND, local.domid(), 0))) {
                local.free(stale);
            }
            remoteLink = remote.link(remotePort);
        }
        if (PortTable.state(remoteLink) != PortTable.UNBOUND || PortTable.remoteDomid(remoteLink) != local.domid()) {
            throw new EventChannelException(where + ": not an unbound port for domain " + local.domid() + " ("
                    + describe(remoteLink) + "; the guest must allocate it with remote domain " + local.domid() + ")");
        }
        int port = local.allocate(PortTable.link(PortTable.RESERVED, remoteDomid, remotePort));
        if (port < 0) {
            throw new EventChannelException("domain " + local.domid() + ": all " + (PortTable.PORTS - 1)
                    + " event channel ports are in use (close unused channels)");
        }
        Fifo inbox = null;
        Fifo remoteInbox = null;
        try {
            inbox = openOwnFifo(simdir, local.domid(), port);
            remoteInbox = Fifo.open(SimPaths.evtchnFifo(simdir, remoteDomid, remotePort));
            if (!remote.casLink(remotePort, remoteLink, PortTable.link(PortTable.INTERDOMAIN, local.domid(), port))) {
                throw new EventChannelException(where + ": was bound or closed by someone else meanwhile ("
                        + describe(remote.link(remotePort)) + ")");
            }
            long link = PortTable.link(PortTable.INTERDOMAIN, remoteDomid, remotePort);
            local.setLink(port, link);
            // Kicks sent to the unbound remote port went nowhere; like Xen, raise our port once so the
            // receiver looks at its ring after binding instead of waiting for the next kick.
            local.raise(port);
            inbox.wakeup();
            return new SimEventChannel(simdir, local, port, inbox, new Peer(link, remote, remotePort, remoteInbox));
        } catch (IOException | RuntimeException e) {
            if (inbox != null) {
                inbox.close();
            }
            if (remoteInbox != null) {
                remoteInbox.close();
            }
            local.free(port);
            if (e instanceof EventChannelException) {
                throw (EventChannelException) e;
            }
            throw new EventChannelException(where + ": cannot bind: " + e.getMessage(), e);
        }
    }

    private static Fifo openOwnFifo(Path simdir, int domid, int port) throws IOException {
        Path path = SimPaths.evtchnFifo(simdir, domid, port);
        Fifo.make(path);
        return Fifo.open(path);
    }

    private static String describe(long link) {
        switch (PortTable.state(link)) {
            case PortTable.FREE:
                return "free";
            case PortTable.UNBOUND:
                return "unbound, for domain " + PortTable.remoteDomid(link);
            case PortTable.INTERDOMAIN:
                return "bound to domain " + PortTable.remoteDomid(link) + " port " + PortTable.remotePort(link);
            case PortTable.RESERVED:
                return "being set up";
            default:
                return "corrupt state " + PortTable.state(link);
        }
    }

    @Override
    public int localPort() {
        return port;
    }

    /** The domain this port belongs to. */
    public int domid() {
        return table.domid();
    }

    /** True while the port is connected to a peer port (it becomes unbound when the peer closes). */
    public boolean isBound() {
        return PortTable.state(table.link(port)) == PortTable.INTERDOMAIN;
    }

    /** The peer's port while bound, else -1. */
    public int remotePort() {
        long link = table.link(port);
        return PortTable.state(link) == PortTable.INTERDOMAIN ? PortTable.remotePort(link) : -1;
    }

    /** The peer domain while bound, or the domain allowed to bind while unbound. */
    public int remoteDomid() {
        return PortTable.remoteDomid(table.link(port));
    }

    /**
     * Kicks the peer. A no-op while unbound (the peer has not bound yet, or
     * has closed) and when the peer's domain has vanished: a dead peer never
     * makes us fail or block.
     */
    @Override
    public void notifyRemote() {
        long link = table.link(port);
        if (PortTable.state(link) != PortTable.INTERDOMAIN || closed.get()) {
            return;
        }
        Peer p = peer;
        if (p == null || p.link != link) {
            if (link == unreachable) {
                return;
            }
            p = connect(link);
            if (p == null) {
                return;
            }
        }
        if (p.table.raise(p.port) && !p.table.masked(p.port)) {
            p.inbox.wakeup();
        }
    }

    /** Opens the peer named by {@code link} (first notify after a bind, or after a rebind); null if gone. */
    private synchronized Peer connect(long link) {
        Peer p = peer;
        if (p != null && p.link == link) {
            return p;
        }
        int remoteDomid = PortTable.remoteDomid(link);
        int remotePort = PortTable.remotePort(link);
        Fifo fifo = null;
        try {
            PortTable remote = PortTable.open(SimPaths.evtchn(simdir, remoteDomid), remoteDomid);
            fifo = Fifo.open(SimPaths.evtchnFifo(simdir, remoteDomid, remotePort));
            Peer next = new Peer(link, remote, remotePort, fifo);
            peer = next;
            if (p != null) {
                p.inbox.close();
            }
            if (closed.get()) { // close() ran meanwhile and may have missed this FIFO
                fifo.close();
                return null;
            }
            return next;
        } catch (IOException | RuntimeException e) {
            if (fifo != null) {
                fifo.close();
            }
            unreachable = link;
            LOG.warn("domain {} port {}: cannot reach peer domain {} port {}, its notifications are dropped: {}",
                    table.domid(), port, remoteDomid, remotePort, e.getMessage());
            return null;
        }
    }

    /**
     * Waits until the port fires or the timeout passes, consuming the event.
     * While the port is masked, pending events are kept but not delivered.
     * Returns false at once once closed (also when closed while waiting).
     */
    @Override
    public boolean await(long timeoutNanos) throws InterruptedException {
        long deadline = System.nanoTime() + Math.max(0, timeoutNanos);
        boolean drained = false;
        for (;;) {
            if (closed.get()) {
                return false;
            }
            if (!table.masked(port) && table.consume(port)) {
                if (!drained) {
                    // The event was pending before we waited: take its wakeup byte now, or it would
                    // cost a spurious wakeup on the next await.
                    inbox.drain();
                }
                return true;
            }
            if (woken.get() && woken.getAndSet(false)) {
                return false;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            if (Thread.interrupted()) {
                throw new InterruptedException("domain " + table.domid() + " port " + port + ": await interrupted");
            }
            if (!inbox.awaitAndDrain(left)) {
                return false;
            }
            drained = true;
        }
    }

    /** A byte in our own FIFO wakes the poll; the flag tells it the wakeup was local. */
    @Override
    public void wakeup() {
        woken.set(true);
        inbox.wakeup();
    }

    /** Masks the port: notifications still set it pending but wake nobody, and await does not deliver. */
    public void mask() {
        table.setMasked(port, true);
    }

    /** Unmasks the port; if an event is pending, a waiter is woken to take it (as Xen re-raises the upcall). */
    public void unmask() {
        table.setMasked(port, false);
        if (table.pending(port)) {
            inbox.wakeup();
        }
    }

    public boolean isMasked() {
        return table.masked(port);
    }

    /** True when an event is pending and not yet consumed by await. */
    public boolean isPending() {
        return table.pending(port);
    }

    /**
     * The peer port's counters while bound: notifications sent to it (by us)
     * and events its receiver took; null while unbound. A frontend sees with
     * it what a storm of kicks cost the backend.
     */
    public EventCounts peerCounts() {
        long link = table.link(port);
        if (PortTable.state(link) != PortTable.INTERDOMAIN || closed.get()) {
            return null;
        }
        Peer p = peer;
        if (p == null || p.link != link) {
            p = connect(link);
            if (p == null) {
                return null;
            }
        }
        return new EventCounts(p.table.notified(p.port), p.table.taken(p.port));
    }

    /** Our own port's counters. */
    public EventCounts counts() {
        return new EventCounts(table.notified(port), table.taken(port));
    }

    /** Notifications a port received and events its receiver took, since the port was allocated. */
    public record EventCounts(long notified, long taken) {
    }

    /** Wakeup bytes waiting in our FIFO: shows coalescing in tests. */
    int queuedWakeups() {
        return inbox.queued();
    }

    /**
     * Closes our end: the peer's port becomes unbound again (its kicks go
     * nowhere), our port is freed, and a thread blocked in await returns false.
     * Idempotent.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        long link = table.link(port);
        if (PortTable.state(link) == PortTable.INTERDOMAIN) {
            Peer p;
            synchronized (this) {
                p = peer;
            }
            PortTable remote = p != null && p.link == link ? p.table : openQuietly(PortTable.remoteDomid(link));
            if (remote != null) {
                remote.casLink(PortTable.remotePort(link),
                        PortTable.link(PortTable.INTERDOMAIN, table.domid(), port),
                        PortTable.link(PortTable.UNBOUND, table.domid(), 0));
            }
        }
        table.free(port);
        inbox.close();
        synchronized (this) {
            if (peer != null) {
                peer.inbox.close();
            }
        }
    }

    private PortTable openQuietly(int domid) {
        try {
            return PortTable.open(SimPaths.evtchn(simdir, domid), domid);
        } catch (IOException e) {
            return null; // the peer domain is gone: nothing to unlink
        }
    }

    @Override
    public String toString() {
        return "SimEventChannel[domain " + table.domid() + " port " + port + ", " + describe(table.link(port)) + "]";
    }
}
