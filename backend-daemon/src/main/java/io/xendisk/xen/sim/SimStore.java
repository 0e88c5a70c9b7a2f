package io.xendisk.xen.sim;

import io.xendisk.xen.store.XsErrno;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * The live tree, the open transactions and the watches. Not thread-safe by itself:
 * every call must hold the store's monitor ({@code synchronized (store)}), which is
 * the server's one lock. Watch events are collected and sent by {@link #flush()}
 * so that they follow the reply of the request that caused them.
 */
final class SimStore {
    /** A node change, replayable on another tree (a transaction's changes on commit). */
    @FunctionalInterface
    interface Change {
        SimTree.Outcome apply(SimTree tree, LongSupplier generations);
    }

    /** The paths one commit to the live tree changed; kept while transactions are open. */
    private record Commit(long seq, Set<String> paths) {
    }

    private SimTree tree = SimTree.initial();
    private long generation = 1;
    private final LongSupplier generations = () -> generation++;
    private long commitSeq;
    private final Deque<Commit> log = new ArrayDeque<>();
    private final Map<Integer, SimTransaction> transactions = new HashMap<>();
    private int nextTxId = 1;
    private final SimWatches watches = new SimWatches();
    private final List<SimWatches.Delivery> outbox = new ArrayList<>();

    /** The node seen by the connection (in its transaction when txId is not 0), permission-checked. */
    SimNode node(SimConnection c, int txId, String abs, SimPerms.Need need) {
        SimTransaction tx = transaction(c, txId);
        if (tx == null) {
            return tree.get(c.domid(), abs, need);
        }
        tx.accessed.add(abs);
        return tx.work.get(c.domid(), abs, need);
    }

    /** Applies a change to the live tree and fires its watches, or records it in the transaction. */
    void change(SimConnection c, int txId, String abs, Change change) {
        SimTransaction tx = transaction(c, txId);
        if (tx == null) {
            SimTree.Outcome o = change.apply(tree, generations);
            commit(o);
            return;
        }
        tx.accessed.add(abs);
        SimTree.Outcome o = change.apply(tx.work, generations);
        tx.work = o.tree();
        tx.accessed.addAll(o.modified());
        tx.changes.add(change);
    }

    private void commit(SimTree.Outcome o) {
        tree = o.tree();
        if (o.modified().isEmpty()) {
            return;
        }
        commitSeq++;
        if (!transactions.isEmpty()) {
            log.add(new Commit(commitSeq, o.modified()));
        }
        for (SimEvent e : o.events()) {
            watches.fire(e, outbox);
        }
    }

    private SimTransaction transaction(SimConnection c, int txId) {
        if (txId == 0) {
            return null;
        }
        SimTransaction tx = transactions.get(txId);
        if (tx == null || tx.owner != c) {
            throw new XsFailure(XsErrno.ENOENT);
        }
        return tx;
    }

    int startTransaction(SimConnection c, int txId) {
        if (txId != 0) {
            throw new XsFailure(XsErrno.EBUSY);
        }
        long open = transactions.values().stream().filter(t -> t.owner == c).count();
        if (open >= SimLimits.TRANSACTIONS_PER_CONNECTION) {
            throw new XsFailure(XsErrno.ENOSPC);
        }
        while (nextTxId == 0 || transactions.containsKey(nextTxId)) {
            nextTxId++;
        }
        int id = nextTxId++;
        transactions.put(id, new SimTransaction(id, c, commitSeq, tree));
        return id;
    }

    /**
     * Ends the transaction. A commit fails with EAGAIN when a path the transaction
     * touched was changed by another commit since it started; the transaction is
     * gone either way, as in xenstored.
     */
    void endTransaction(SimConnection c, int txId, boolean commit) {
        SimTransaction tx = transaction(c, txId);
        if (tx == null) {
            throw new XsFailure(XsErrno.ENOENT);
        }
        transactions.remove(txId);
        try {
            if (commit) {
                commitTransaction(tx);
            }
        } finally {
            pruneLog();
        }
    }

    private void commitTransaction(SimTransaction tx) {
        for (Commit other : log) {
            if (other.seq > tx.startSeq && other.paths.stream().anyMatch(tx.accessed::contains)) {
                throw new XsFailure(XsErrno.EAGAIN);
            }
        }
        // Replay on the live tree so commits that touched other paths are kept.
        SimTree t = tree;
        List<SimEvent> events = new ArrayList<>();
        Set<String> modified = new LinkedHashSet<>();
        for (Change ch : tx.changes) {
            SimTree.Outcome o;
            try {
                o = ch.apply(t, generations);
            } catch (XsFailure f) {
                throw new XsFailure(XsErrno.EAGAIN); // the world moved under it: let the client retry
            }
            t = o.tree();
            modified.addAll(o.modified());
            events.addAll(o.events());
        }
        commit(new SimTree.Outcome(t, modified, events));
    }

    private void pruneLog() {
        long oldest = Long.MAX_VALUE;
        for (SimTransaction t : transactions.values()) {
            oldest = Math.min(oldest, t.startSeq);
        }
        for (Iterator<Commit> i = log.iterator(); i.hasNext();) {
            if (i.next().seq <= oldest) {
                i.remove();
            } else {
                break;
            }
        }
    }

    void watch(SimConnection c, String raw, String path, String token) {
        watches.add(c, raw, path, token, outbox);
    }

    void unwatch(SimConnection c, String path, String token) {
        watches.remove(c, path, token);
    }

    /** RESET_WATCHES: the connection's watches and transactions go. */
    void reset(SimConnection c) {
        watches.removeAll(c);
        transactions.values().removeIf(t -> t.owner == c);
        pruneLog();
    }

    /** Forgets a closed connection. */
    void drop(SimConnection c) {
        reset(c);
    }

    void fireSpecial(String special) {
        watches.fireSpecial(special, outbox);
    }

    /** Sends the queued watch events; call after queueing the reply, still under the lock. */
    void flush() {
        for (SimWatches.Delivery d : outbox) {
            d.conn().send(d.packet());
        }
        outbox.clear();
    }

    /** The live node or null; no permission check (for the server's own bookkeeping). */
    SimNode lookup(String abs) {
        return tree.lookup(abs);
    }
}
