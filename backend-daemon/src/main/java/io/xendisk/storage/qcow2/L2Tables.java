package io.xendisk.storage.qcow2;

/**
 * The L2 tables held in memory, at most {@code capacity} of them, found by
 * the index of their L1 entry: a lookup is an array load, so a request
 * allocates nothing (a map keyed by the table's offset boxed a Long per
 * lookup). When full, a table not used since the clock hand last passed it
 * makes room (second chance, an approximation of least recently used).
 * One thread at a time, as the storage itself.
 */
final class L2Tables {
    private final long[][] byL1Index;
    private final boolean[] used;
    /** The L1 indexes of the tables held, in the order the clock hand visits them. */
    private final int[] held;
    private int count;
    private int hand;

    L2Tables(int l1Entries, int capacity) {
        byL1Index = new long[l1Entries][];
        used = new boolean[l1Entries];
        held = new int[Math.min(capacity, Math.max(1, l1Entries))];
    }

    /** The table of L1 entry {@code li}, or null when it is not held. */
    long[] get(int li) {
        long[] t = byL1Index[li];
        if (t != null) {
            used[li] = true;
        }
        return t;
    }

    /** Holds {@code table} as L1 entry {@code li}'s (not held before), making room when full. */
    void put(int li, long[] table) {
        if (count < held.length) {
            held[count++] = li;
        } else {
            while (used[held[hand]]) {
                used[held[hand]] = false;
                hand = (hand + 1) % held.length;
            }
            byL1Index[held[hand]] = null;
            held[hand] = li;
            hand = (hand + 1) % held.length;
        }
        byL1Index[li] = table;
        used[li] = true;
    }

    int capacity() {
        return held.length;
    }
}
