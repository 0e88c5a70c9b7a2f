package io.xendisk.daemon;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Predicate;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * Connects waiting for a guest that is not created yet ({@code connect
 * --at-start}): each is run the moment a domain of its guest's name exists
 * (call {@link #domainsChanged()} on {@code @introduceDomain}), or dropped
 * when its time is up or it is cancelled (a start that failed).
 */
final class PendingConnects {
    private static final Logger LOG = LogManager.getLogger(PendingConnects.class);

    private record Pending(String vm, String vdev, ConnectSpec request, long deadline) {
    }

    private final Predicate<String> exists;
    private final Consumer<ConnectSpec> connect;
    private final List<Pending> pending = new ArrayList<>();

    /**
     * @param exists  whether a domain of this name exists now
     * @param connect connects a request whose domain now exists
     */
    PendingConnects(Predicate<String> exists, Consumer<ConnectSpec> connect) {
        this.exists = exists;
        this.connect = connect;
    }

    /** Adds (or replaces) the connect of disk {@code vdev} for guest {@code vm}, for {@code seconds}; runs it if due. */
    void add(String vm, String vdev, ConnectSpec request, long seconds) {
        synchronized (pending) {
            pending.removeIf(p -> p.vm().equals(vm) && p.vdev().equals(vdev));
            pending.add(new Pending(vm, vdev, request, System.nanoTime() + seconds * 1_000_000_000L));
        }
        // the domain may have been created between the caller's check and now
        domainsChanged();
    }

    /** A domain was created: run what waits for it, drop what waited too long. */
    void domainsChanged() {
        List<Pending> due = new ArrayList<>();
        synchronized (pending) {
            long now = System.nanoTime();
            for (Iterator<Pending> it = pending.iterator(); it.hasNext(); ) {
                Pending p = it.next();
                if (now - p.deadline() > 0) {
                    it.remove();
                    LOG.warn("guest {}: no domain of that name was created in time; {} is not connected", p.vm(), p.vdev());
                } else if (exists.test(p.vm())) {
                    it.remove();
                    due.add(p);
                }
            }
        }
        due.forEach(p -> connect.accept(p.request()));
    }

    /** Drops what waits for guest {@code vm}'s disk {@code vdev}; true when something did. */
    boolean cancel(String vm, String vdev) {
        synchronized (pending) {
            return pending.removeIf(p -> p.vm().equals(vm) && p.vdev().equals(vdev));
        }
    }

    boolean isEmpty() {
        synchronized (pending) {
            return pending.isEmpty();
        }
    }
}
