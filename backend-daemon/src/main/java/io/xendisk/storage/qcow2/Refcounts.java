package io.xendisk.storage.qcow2;

import io.xendisk.storage.StorageException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The image's refcount table and blocks, and cluster allocation.
 *
 * <p>Counts go up before anything refers to a cluster and down only after the
 * reference is gone for good, so a crash leaks clusters at worst (qemu-img
 * check: exit 3), never leaves a used cluster uncounted (exit 2), whether the
 * daemon is killed (every write that returned is in the page cache) or the
 * power fails (only what an fdatasync made durable is sure):
 * <ul>
 * <li>clusters are handed out from a <em>reservation</em>: counts set at once in
 *     one block, the file grown over them (QEMU calls a reference past the end of
 *     the file corrupt), made durable by one fdatasync before the first of them is
 *     used; a clean close gives back what was not used and trims the file again.
 *     The next reservation is written as soon as the current one is taken, so the
 *     guest's next FLUSH makes it durable for free; only a guest that allocates a
 *     whole reservation without flushing waits for an fdatasync of its own (which
 *     also forces out its unflushed data). The first covers 4 MiB, each next one
 *     twice the last, up to 256 MiB or {@link #RESERVE} clusters, so that wait comes
 *     rarely, and a power cut leaks at most two reservations of (sparse) space;</li>
 * <li>a new refcount block, and a new refcount table, are durable before the
 *     table entry, or the header, that points at them is written;</li>
 * <li>lowering a count is {@linkplain #release deferred} to {@link #applyReleases},
 *     which the engine calls after an fdatasync made the new references durable.</li>
 * </ul>
 *
 * <p>New clusters are taken at the end of the file, never reused: a cluster
 * past the end reads as zeros without being written, so a fresh data cluster
 * costs only the guest's bytes. Blocks are cached, at most {@code cacheBlocks}.
 */
final class Refcounts {
    private final FileChannel ch;
    private final Qcow2Header h;
    private final int clusterBits;
    private final long clusterSize;
    private final int refBits;
    private final long maxRef;
    private final long perBlock;
    private long[] table;
    private final Map<Long, byte[]> blocks;
    /** The next cluster index to try for allocation. */
    private long next;
    private final ByteBuffer entry = ByteBuffer.allocate(8);
    /** Clusters counted and durable, not yet handed out: {@code reserved[reservedNext..reservedEnd)}. */
    private long[] reserved = new long[RESERVE];
    private int reservedNext;
    private int reservedEnd;
    /** The next reservation, counted: {@code pending[0..pendingEnd)}; durable once an fdatasync followed it. */
    private long[] pending = new long[RESERVE];
    private int pendingEnd;
    private boolean pendingDurable;
    /** Clusters whose count goes down at the next {@link #applyReleases}. */
    private long[] releases = new long[16];
    private int releaseCount;

    /** How many clusters one reservation counts at most (fewer at the end of a refcount block). */
    static final int RESERVE = 4096;
    /** Clusters the next reservation counts: doubles from 4 MiB's worth up to {@link #reserveMax}. */
    private int reserveClusters;
    private final int reserveMax;

    Refcounts(FileChannel ch, Qcow2Header h, int cacheBlocks) throws IOException {
        this.ch = ch;
        this.h = h;
        this.clusterBits = h.clusterBits;
        this.clusterSize = h.clusterSize();
        this.refBits = 1 << h.refcountOrder;
        this.maxRef = refBits == 64 ? Long.MAX_VALUE : (1L << refBits) - 1;
        this.perBlock = clusterSize * 8 / refBits;
        this.reserveClusters = (int) Math.max(1, Math.min(RESERVE, (4L << 20) >> clusterBits));
        this.reserveMax = (int) Math.max(1, Math.min(RESERVE, (256L << 20) >> clusterBits));
        ByteBuffer t = ByteBuffer.allocate((int) (h.refcountTableClusters * clusterSize));
        Qcow2Header.readFully(ch, t, h.refcountTableOffset);
        table = new long[t.capacity() / 8];
        for (int i = 0; i < table.length; i++) {
            long e = t.getLong(i * 8);
            if ((e & (clusterSize - 1)) != 0) {
                throw h.corrupt("refcount table entry " + i + " (" + Long.toHexString(e) + ") is not cluster-aligned");
            }
            table[i] = e;
        }
        this.blocks = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Long, byte[]> eldest) {
                return size() > cacheBlocks;
            }
        };
        next = (ch.size() + clusterSize - 1) >> clusterBits;
    }

    /** The refcount of the host cluster with index {@code cluster}. */
    long get(long cluster) throws IOException {
        long b = cluster / perBlock;
        if (b >= table.length || table[(int) b] == 0) {
            return 0;
        }
        return read(block(b), cluster % perBlock);
    }

    /** A fresh cluster, its refcount 1 and durable on the file; returns its byte offset. */
    long allocate() throws IOException {
        if (reservedNext == reservedEnd) {
            if (pendingEnd == 0) {
                pendingEnd = reserve(pending);
            }
            if (!pendingDurable) {
                sync();
            }
            long[] t = reserved;
            reserved = pending;
            pending = t;
            reservedNext = 0;
            reservedEnd = pendingEnd;
            pendingEnd = reserve(pending);
        }
        return reserved[reservedNext++] << clusterBits;
    }

    /**
     * fdatasync of the image; every write before it is durable, the pending
     * reservation too. The engine syncs through here, so a FLUSH counts.
     */
    void sync() throws IOException {
        ch.force(false);
        pendingDurable = true;
    }

    /** What a FLUSH does: everything written is durable, then the deferred releases are applied. */
    void flush() throws IOException {
        sync();
        applyReleases();
    }

    /**
     * Counts the next free clusters of one refcount block in one write into
     * {@code into} and grows the file over them; not yet durable. Returns how many.
     */
    private int reserve(long[] into) throws IOException {
        int n = 0;
        while (n == 0) {
            long b = next / perBlock;
            ensureBlock(b);
            if (next / perBlock != b) {
                continue; // the new block itself took the rest of this one
            }
            byte[] blk = block(b);
            long end = Math.min((b + 1) * perBlock, next + reserveClusters);
            int lo = Integer.MAX_VALUE;
            int hi = -1;
            int width = Math.max(1, refBits / 8);
            for (long c = next; c < end; c++) {
                if (read(blk, c % perBlock) == 0) {
                    int at = put(blk, c % perBlock, 1);
                    lo = Math.min(lo, at);
                    hi = Math.max(hi, at + width);
                    into[n++] = c;
                }
            }
            next = end;
            if (n > 0) {
                writeFully(ByteBuffer.wrap(blk, lo, hi - lo), table[(int) b] + lo);
            }
        }
        long fileEnd = (into[n - 1] + 1) << clusterBits;
        if (ch.size() < fileEnd) {
            writeFully(ByteBuffer.allocate(1), fileEnd - 1); // a hole up to there: zeros, as fresh clusters read
        }
        pendingDurable = false;
        reserveClusters = Math.min(reserveMax, reserveClusters * 2);
        return n;
    }

    /**
     * The cluster at byte {@code offset} lost a reference; its count goes down at
     * the next {@link #applyReleases}, once that reference is durably gone.
     */
    void release(long offset) {
        if (releaseCount == releases.length) {
            releases = Arrays.copyOf(releases, releaseCount * 2);
        }
        releases[releaseCount++] = offset >> clusterBits;
    }

    /** Lowers the counts {@link #release} deferred; call it after an fdatasync. */
    void applyReleases() throws IOException {
        for (int i = 0; i < releaseCount; i++) {
            long c = releases[i];
            long r = get(c);
            if (r == 0) {
                throw h.corrupt("cluster at byte " + (c << clusterBits) + " is referenced but has refcount 0");
            }
            set(c, r - 1);
        }
        releaseCount = 0;
    }

    /**
     * Gives back the reserved clusters nothing took (a clean close: qemu-img check
     * finds no leak), and the file's tail they took when nothing lies past them.
     */
    void returnReservation() throws IOException {
        int n = reservedEnd - reservedNext;
        long[] unused = Arrays.copyOf(Arrays.copyOfRange(reserved, reservedNext, reservedEnd), n + pendingEnd);
        System.arraycopy(pending, 0, unused, n, pendingEnd);
        reservedNext = reservedEnd;
        pendingEnd = 0;
        for (long c : unused) {
            set(c, 0);
        }
        // the file's tail, when every cluster in it is one given back (ascending: pending follows reserved)
        long tail = (ch.size() + clusterSize - 1) >> clusterBits;
        for (int i = unused.length - 1; i >= 0 && unused[i] == tail - 1; i--) {
            tail--;
        }
        if (tail << clusterBits < ch.size()) {
            sync(); // the counts of zero first: a trimmed file never leaves counted clusters past its end
            ch.truncate(tail << clusterBits);
        }
    }

    void set(long cluster, long value) throws IOException {
        if (value > maxRef) {
            throw new StorageException(h.path, "qcow2 image " + h.path + ": the refcount of cluster " + cluster
                    + " would pass " + maxRef + " (its refcount_bits are " + refBits + ")");
        }
        long b = cluster / perBlock;
        ensureBlock(b);
        byte[] blk = block(b);
        int at = put(blk, cluster % perBlock, value);
        int width = Math.max(1, refBits / 8);
        ch.write(ByteBuffer.wrap(blk, at, width), table[(int) b] + at);
    }

    /** Makes sure refcount block {@code b} exists, creating it (and a bigger table) as needed. */
    private void ensureBlock(long b) throws IOException {
        if (b >= table.length) {
            growTable(b);
        }
        if (table[(int) b] != 0) {
            return;
        }
        long r = next++;
        while (get(r) != 0) {
            r = next++;
        }
        byte[] blk = new byte[(int) clusterSize];
        boolean self = r / perBlock == b;
        if (self) {
            put(blk, r % perBlock, 1);
        } else {
            set(r, 1); // counted before the table refers to it
        }
        writeFully(ByteBuffer.wrap(blk), r << clusterBits);
        sync(); // the block, and the count of its cluster, before the table points at it
        table[(int) b] = r << clusterBits;
        blocks.put(b, blk);
        writeTableEntry(b);
    }

    /**
     * A new refcount table, big enough for block {@code need} and for the clusters
     * it and its new blocks take; the header points at it last, then the old
     * table's clusters are released.
     */
    private void growTable(long need) throws IOException {
        long entries = Math.max(table.length * 2L, need + 1);
        long first;
        long tableClusters;
        long last;
        while (true) {
            tableClusters = (entries * 8 + clusterSize - 1) / clusterSize;
            first = next;
            long lacking = 0;
            last = first + tableClusters;
            // the new blocks go right after the table; count them until it settles
            for (int round = 0; round < 4; round++) {
                lacking = lackingBlocks(first, last, need);
                long l = first + tableClusters + lacking;
                if (l == last) {
                    break;
                }
                last = l;
            }
            if ((last - 1) / perBlock < entries && need < entries) {
                break;
            }
            entries *= 2;
        }
        if (entries > Integer.MAX_VALUE / 2) {
            throw new StorageException(h.path, "qcow2 image " + h.path + ": its refcount table would need "
                    + entries + " entries");
        }
        long[] grown = Arrays.copyOf(table, (int) entries);
        Map<Long, byte[]> fresh = new LinkedHashMap<>();
        long at = first + tableClusters;
        for (long k = first / perBlock; k <= (last - 1) / perBlock; k++) {
            if (grown[(int) k] == 0) {
                grown[(int) k] = (at++) << clusterBits;
                fresh.put(k, new byte[(int) clusterSize]);
            }
        }
        if (grown[(int) need] == 0) {
            grown[(int) need] = (at++) << clusterBits;
            fresh.put(need, new byte[(int) clusterSize]);
        }
        // count the table's clusters and the new blocks, new blocks in memory, old blocks through
        for (long c = first; c < at; c++) {
            byte[] blk = fresh.get(c / perBlock);
            if (blk != null) {
                put(blk, c % perBlock, 1);
            } else {
                set(c, 1);
            }
        }
        for (Map.Entry<Long, byte[]> e : fresh.entrySet()) {
            writeFully(ByteBuffer.wrap(e.getValue()), grown[(int) (long) e.getKey()]);
        }
        ByteBuffer t = ByteBuffer.allocate((int) (tableClusters * clusterSize));
        for (int i = 0; i < grown.length; i++) {
            t.putLong(i * 8, grown[i]);
        }
        writeFully(t, first << clusterBits);
        sync(); // the new table and its blocks before the header points at them
        long oldOffset = h.refcountTableOffset;
        int oldClusters = h.refcountTableClusters;
        ByteBuffer hdr = ByteBuffer.allocate(12);
        hdr.putLong(0, first << clusterBits).putInt(8, (int) tableClusters);
        writeFully(hdr, Qcow2Header.REFCOUNT_TABLE_OFFSET);
        h.refcountTableOffset = first << clusterBits;
        h.refcountTableClusters = (int) tableClusters;
        table = grown;
        for (Map.Entry<Long, byte[]> e : fresh.entrySet()) {
            blocks.put(e.getKey(), e.getValue());
        }
        next = Math.max(next, at);
        for (int i = 0; i < oldClusters; i++) {
            release(oldOffset + i * clusterSize);
        }
    }

    /** Blocks without a table entry that clusters [first, last) and block {@code need} would live in. */
    private long lackingBlocks(long first, long last, long need) {
        long n = 0;
        for (long k = first / perBlock; k <= (last - 1) / perBlock; k++) {
            if (k >= table.length || table[(int) k] == 0) {
                n++;
            }
        }
        boolean needCounted = need >= first / perBlock && need <= (last - 1) / perBlock;
        if (!needCounted && (need >= table.length || table[(int) need] == 0)) {
            n++;
        }
        return n;
    }

    private byte[] block(long b) throws IOException {
        byte[] blk = blocks.get(b);
        if (blk == null) {
            long off = table[(int) b];
            blk = new byte[(int) clusterSize];
            ByteBuffer bb = ByteBuffer.wrap(blk);
            // a block cut short by the end of the file reads as zeros past it
            while (bb.hasRemaining() && ch.read(bb, off + bb.position()) >= 0) {
                continue;
            }
            blocks.put(b, blk);
        }
        return blk;
    }

    private void writeTableEntry(long b) throws IOException {
        entry.clear();
        entry.putLong(0, table[(int) b]);
        writeFully(entry, h.refcountTableOffset + b * 8);
    }

    private void writeFully(ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            pos += ch.write(b, pos);
        }
    }

    /** Refcount {@code i} of a block, as QEMU packs refcount_bits of 1 to 64. */
    private long read(byte[] blk, long i) {
        if (refBits >= 8) {
            int bytes = refBits / 8;
            int at = (int) (i * bytes);
            long v = 0;
            for (int k = 0; k < bytes; k++) {
                v = (v << 8) | (blk[at + k] & 0xff);
            }
            return v;
        }
        int perByte = 8 / refBits;
        int shift = (int) (i % perByte) * refBits;
        return (blk[(int) (i / perByte)] >>> shift) & ((1 << refBits) - 1);
    }

    /** Stores refcount {@code i}; returns the byte index it is in (its first byte). */
    private int put(byte[] blk, long i, long v) {
        if (refBits >= 8) {
            int bytes = refBits / 8;
            int at = (int) (i * bytes);
            for (int k = bytes - 1; k >= 0; k--) {
                blk[at + k] = (byte) v;
                v >>>= 8;
            }
            return at;
        }
        int perByte = 8 / refBits;
        int shift = (int) (i % perByte) * refBits;
        int at = (int) (i / perByte);
        int mask = ((1 << refBits) - 1) << shift;
        blk[at] = (byte) ((blk[at] & ~mask) | ((v << shift) & mask));
        return at;
    }
}
