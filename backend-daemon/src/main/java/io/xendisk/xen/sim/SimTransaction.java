package io.xendisk.xen.sim;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * An open transaction: a private copy of the tree taken at start, the paths it
 * read, listed or wrote (checked for conflicts at commit) and its changes, which
 * are applied again to the live tree on commit.
 */
final class SimTransaction {
    final int id;
    final SimConnection owner;
    /** Commit sequence number of the live tree when the transaction started. */
    final long startSeq;
    SimTree work;
    final Set<String> accessed = new HashSet<>();
    final List<SimStore.Change> changes = new ArrayList<>();

    SimTransaction(int id, SimConnection owner, long startSeq, SimTree work) {
        this.id = id;
        this.owner = owner;
        this.startSeq = startSeq;
        this.work = work;
    }
}
