package io.xendisk.storage.qcow2;

import io.xendisk.storage.Capabilities;
import io.xendisk.storage.Ranges;
import io.xendisk.storage.Storage;
import io.xendisk.storage.StorageException;
import io.xendisk.storage.StorageSpec;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Engine {@code qcow2}: a qcow2 image (version 2 or 3, as qemu-img makes them)
 * served as the guest's disk, with its backing chain. Writes allocate clusters
 * in the image itself, so an overlay keeps the guest's changes across
 * disconnects and reboots while its gold image stays untouched.
 *
 * <p>Lookup is QEMU's two levels: the L1 table (in memory) names L2 tables
 * (cached, at most the configured bytes), whose entries name data clusters,
 * zero clusters, compressed clusters, or nothing (read through to the backing
 * file, or zeros). A write into a cluster the image does not own yet takes a
 * fresh cluster: its refcount first, then the data (the backing file's bytes
 * around the guest's), then the L2 entry, then (for a new L2 table) the L1
 * entry; a crash leaks a cluster at worst. Flush is one fdatasync: every
 * metadata change is written through as it happens.
 *
 * <p>Used by one thread at a time (as every {@link Storage}).
 */
public final class Qcow2Storage implements Storage {
    private static final Logger LOG = LogManager.getLogger(Qcow2Storage.class);
    public static final String NAME = "qcow2";
    /** L2 tables kept in memory per disk, in bytes, unless {@value #CACHE_PROPERTY} says otherwise. */
    static final long DEFAULT_CACHE_BYTES = 32L << 20;
    public static final String CACHE_PROPERTY = "xen-disk-java.qcow2.cache-bytes";
    private static final int MAX_CHAIN = 16;

    private static final long COPIED = 1L << 63;
    private static final long COMPRESSED = 1L << 62;
    private static final long ZERO = 1L;
    private static final long OFFSET_MASK = 0x00fffffffffffe00L;

    private final Path path;
    private final FileChannel ch;
    private final Qcow2Header h;
    private final boolean writable;
    private final Storage backing;
    private final long backingSize;
    private final int clusterBits;
    private final long clusterSize;
    private final int l2Bits;
    private final long[] l1;
    private final L2Tables l2Cache;
    private final Refcounts refcounts;
    private final Capabilities caps;
    private final ByteBuffer entry = ByteBuffer.allocate(8);
    /** One cluster: the backing's bytes around a write into a fresh cluster, and decompressed clusters. */
    private final ByteBuffer scratch;
    private long scratchHolds = -1;
    private final CompressedClusters compressed;
    private final int l2CacheTables;
    /** Where an L2 table is read before it is parsed into the cache. */
    private final ByteBuffer l2Buf;
    /** Zeros for the parts of clusters a discard covers; made at the first such discard. */
    private ByteBuffer zeros;
    private boolean autoclearDone;
    private boolean closed;

    private Qcow2Storage(Path path, FileChannel ch, Qcow2Header h, boolean writable, Storage backing,
                         long cacheBytes) throws IOException {
        this.path = path;
        this.ch = ch;
        this.h = h;
        this.writable = writable;
        this.backing = backing;
        this.backingSize = backing == null ? 0 : backing.sizeBytes();
        this.clusterBits = h.clusterBits;
        this.clusterSize = h.clusterSize();
        this.l2Bits = clusterBits - 3;
        ByteBuffer t = ByteBuffer.allocate(h.l1Size * 8);
        Qcow2Header.readFully(ch, t, h.l1Offset);
        l1 = new long[h.l1Size];
        for (int i = 0; i < l1.length; i++) {
            long e = t.getLong(i * 8);
            if ((e & OFFSET_MASK & (clusterSize - 1)) != 0) {
                throw h.corrupt("L1 entry " + i + " (" + Long.toHexString(e) + ") is not cluster-aligned");
            }
            l1[i] = e;
        }
        int cached = (int) Math.max(2, Math.min(cacheBytes / clusterSize, 1 << 20));
        l2CacheTables = cached;
        l2Cache = new L2Tables(l1.length, cached);
        refcounts = new Refcounts(ch, h, Math.max(4, cached / 4));
        scratch = ByteBuffer.allocateDirect((int) clusterSize);
        compressed = new CompressedClusters(ch, h);
        l2Buf = ByteBuffer.allocate((int) clusterSize);
        caps = new Capabilities(!writable, true, false, writable);
    }

    /** Opens the image of {@code spec} (engine qcow2) with its backing chain. */
    public static Storage open(StorageSpec spec) {
        if (spec.path() == null) {
            throw new StorageException(null, "engine qcow2 needs an image path (check --path / target=)");
        }
        if (spec.sizeBytes().isPresent()) {
            throw new StorageException(spec.path(), "image " + spec.path()
                    + ": engine qcow2 takes the disk size from the image; drop the size option");
        }
        return open(spec.path(), !spec.readOnly(), cacheBytes(), 0, new java.util.HashSet<>());
    }

    private static long cacheBytes() {
        String v = System.getProperty(CACHE_PROPERTY);
        if (v == null) {
            return DEFAULT_CACHE_BYTES;
        }
        try {
            return Math.max(0, Long.parseLong(v.trim()));
        } catch (NumberFormatException e) {
            throw new StorageException(null, "system property " + CACHE_PROPERTY + "='" + v
                    + "' is not a number of bytes");
        }
    }

    static Storage open(Path path, boolean writable, long cacheBytes, int depth, java.util.Set<Path> chain) {
        FileChannel ch;
        try {
            ch = writable ? FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)
                    : FileChannel.open(path, StandardOpenOption.READ);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new StorageException(path, "image " + path + " not found (check --path / target=)", e);
        } catch (IOException e) {
            throw StorageException.io(path, writable ? "opening it read-write" : "opening it read-only", e);
        }
        return open(path, ch, writable, cacheBytes, depth, chain);
    }

    /** Serves the image open on {@code ch} (taken over: closed on failure and by {@link #close}). */
    static Storage open(Path path, FileChannel ch, boolean writable, long cacheBytes, int depth,
                        java.util.Set<Path> chain) {
        Storage backing = null;
        try {
            Qcow2Header h = Qcow2Header.read(path, ch);
            if (writable && h.corruptBit()) {
                throw h.refuse("is marked corrupt; serve it read-only (--read-only, xl access=ro) or repair it"
                        + " with qemu-img check -r all " + path);
            }
            if (writable && h.snapshots > 0) {
                throw h.refuse("has " + h.snapshots + " internal snapshot(s), which this engine does not keep"
                        + " consistent when writing; serve it read-only, or delete them (qemu-img snapshot -d)");
            }
            Path real = path.toRealPath();
            if (!chain.add(real)) {
                throw new StorageException(path, "qcow2 image " + path + " is its own backing file, through "
                        + chain.size() + " link(s) of its chain; fix the chain (qemu-img rebase)");
            }
            if (h.backingName != null) {
                backing = Qcow2Backing.open(h, depth, chain, cacheBytes);
            }
            Qcow2Storage s = new Qcow2Storage(path, ch, h, writable, backing, cacheBytes);
            if (depth == 0) {
                LOG.info("qcow2 image {}: version {}, {} B clusters, {}, L2 cache {} tables ({} MiB){}", path, h.version,
                        h.clusterSize(), h.backingName == null ? "no backing file" : "backing " + h.backingName + " ("
                                + (h.backingFormat == null ? "format probed" : h.backingFormat) + ")",
                        s.l2CacheTables, (s.l2CacheTables * s.clusterSize) >> 20, writable ? "" : ", read-only");
            }
            return s;
        } catch (IOException e) {
            closeQuietly(ch, backing);
            throw StorageException.io(path, "reading its qcow2 tables", e);
        } catch (RuntimeException e) {
            closeQuietly(ch, backing);
            throw e;
        }
    }

    static int maxChain() {
        return MAX_CHAIN;
    }

    private static void closeQuietly(FileChannel ch, Storage backing) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // already failing
        }
        if (backing != null) {
            backing.close();
        }
    }

    @Override
    public long sizeBytes() {
        return h.size;
    }

    @Override
    public void read(long sector, ByteBuffer dst) {
        long pos = check(sector, dst.remaining());
        int limit = dst.limit();
        try {
            while (dst.position() < limit) {
                int in = (int) (pos & (clusterSize - 1));
                int n = (int) Math.min(limit - dst.position(), clusterSize - in);
                dst.limit(dst.position() + n);
                readCluster(pos, in, dst);
                dst.limit(limit);
                pos += n;
            }
        } catch (IOException e) {
            throw StorageException.io(path, "reading at sector " + sector, e);
        } finally {
            dst.limit(limit);
        }
    }

    /** Fills {@code dst} (within one cluster) with the guest's bytes at {@code pos}. */
    private void readCluster(long pos, int in, ByteBuffer dst) throws IOException {
        long e = l2Entry(pos >> clusterBits, false);
        if ((e & COMPRESSED) != 0) {
            ByteBuffer c = decompressed(e);
            copy(c, in, dst);
        } else if ((e & ZERO) != 0 && h.version == 3) {
            zero(dst);
        } else if ((e & OFFSET_MASK) != 0) {
            readFully(dst, (e & OFFSET_MASK) + in);
        } else {
            readBacking(pos, dst);
        }
    }

    private void readBacking(long pos, ByteBuffer dst) {
        if (backing == null || pos >= backingSize) {
            zero(dst);
            return;
        }
        int limit = dst.limit();
        long within = Math.min(limit - dst.position(), backingSize - pos);
        dst.limit(dst.position() + (int) within);
        backing.read(pos >> SECTOR_SHIFT, dst);
        dst.limit(limit);
        zero(dst);
    }

    @Override
    public void write(long sector, ByteBuffer src) {
        long pos = check(sector, src.remaining());
        if (!writable) {
            throw new StorageException(path, "qcow2 image " + path + " is served read-only; the write at sector "
                    + sector + " is refused");
        }
        int limit = src.limit();
        try {
            clearAutoclear();
            while (src.position() < limit) {
                int in = (int) (pos & (clusterSize - 1));
                int n = (int) Math.min(limit - src.position(), clusterSize - in);
                src.limit(src.position() + n);
                writeCluster(pos, in, src);
                src.limit(limit);
                pos += n;
            }
        } catch (IOException e) {
            throw StorageException.io(path, "writing at sector " + sector, e);
        } finally {
            src.limit(limit);
        }
    }

    /**
     * Whole clusters in the range stop referencing their data: a version 3 image
     * marks them zero (so they read zeros, not the backing file's bytes), a version
     * 2 image unallocates them where nothing lies behind them, and their clusters
     * are released at the next FLUSH, once the new L2 entries are durable. What
     * remains (parts of clusters, a version 2 cluster over a backing file) is
     * written with zeros. Either way the range reads zeros.
     */
    @Override
    public void discard(long sector, long nrSectors) {
        checkOpen();
        long pos = Ranges.checkSectors(h.size, sector, nrSectors);
        if (!writable) {
            throw new StorageException(path, "qcow2 image " + path + " is served read-only; the discard at sector "
                    + sector + " is refused");
        }
        long end = pos + (nrSectors << SECTOR_SHIFT);
        try {
            clearAutoclear();
            while (pos < end) {
                int in = (int) (pos & (clusterSize - 1));
                int n = (int) Math.min(end - pos, clusterSize - in);
                long vc = pos >> clusterBits;
                if (!readsZeros(vc)) {
                    if (n == clusterSize && (h.version == 3 || !backingCovers(vc))) {
                        unreference(vc);
                    } else {
                        writeZeros(pos, n);
                    }
                }
                pos += n;
            }
        } catch (IOException e) {
            throw StorageException.io(path, "discarding at sector " + sector, e);
        }
    }

    @Override
    public int discardGranularity() {
        return (int) clusterSize;
    }

    /** Whether guest cluster {@code vc} reads as zeros without any data cluster. */
    private boolean readsZeros(long vc) throws IOException {
        long e = l2Entry(vc, false);
        if ((e & COMPRESSED) != 0) {
            return false;
        }
        if ((e & ZERO) != 0 && h.version == 3) {
            return (e & OFFSET_MASK) == 0;
        }
        return (e & OFFSET_MASK) == 0 && !backingCovers(vc);
    }

    private boolean backingCovers(long vc) {
        return backing != null && (vc << clusterBits) < backingSize;
    }

    /** Points guest cluster {@code vc}'s L2 entry at zeros (v3) or nothing (v2), then releases its data. */
    private void unreference(long vc) throws IOException {
        long[] l2 = l2Table(vc, true);
        int i = (int) (vc & ((1L << l2Bits) - 1));
        long e = l2[i];
        l2[i] = h.version == 3 ? ZERO : 0;
        writeEntry(l1[(int) (vc >> l2Bits)] & OFFSET_MASK, i, l2[i]);
        releaseData(e);
    }

    /** Writes {@code n} zero bytes at guest byte {@code pos}, within one cluster. */
    private void writeZeros(long pos, int n) throws IOException {
        if (zeros == null) {
            zeros = ByteBuffer.allocate((int) Math.min(clusterSize, 64 * 1024));
        }
        while (n > 0) {
            int k = Math.min(n, zeros.capacity());
            zeros.clear().limit(k);
            writeCluster(pos, (int) (pos & (clusterSize - 1)), zeros);
            pos += k;
            n -= k;
        }
    }

    /** Writes {@code src} (within one cluster) at guest byte {@code pos}. */
    private void writeCluster(long pos, int in, ByteBuffer src) throws IOException {
        long vc = pos >> clusterBits;
        long[] l2 = l2Table(vc, true);
        int i = (int) (vc & ((1L << l2Bits) - 1));
        long e = l2[i];
        long host = e & OFFSET_MASK;
        boolean owned = (e & COPIED) != 0 && (e & COMPRESSED) == 0 && host != 0
                && !((e & ZERO) != 0 && h.version == 3);
        if (owned) {
            writeFully(src, host + in);
            return;
        }
        int len = src.remaining();
        long fresh = refcounts.allocate();
        boolean kept = fillAround(vc, e, in, len, fresh);
        writeFully(src, fresh + in);
        if (kept) {
            // bytes the guest did not write now live in the fresh cluster: durable before the L2 entry
            // moves there, or a power cut could leave it pointing at a cluster without them
            refcounts.sync();
        }
        l2[i] = fresh | COPIED;
        writeEntry(l1[(int) (vc >> l2Bits)] & OFFSET_MASK, i, l2[i]);
        releaseData(e);
    }

    /** The data of L2 entry {@code e} is no longer referenced: its counts go down after the next fdatasync. */
    private void releaseData(long e) {
        if ((e & COMPRESSED) != 0) {
            long off = compressed.offset(e);
            long end = off + compressed.size(e) - 1;
            for (long c = off >> clusterBits; c <= end >> clusterBits; c++) {
                refcounts.release(c << clusterBits);
            }
        } else if ((e & OFFSET_MASK) != 0) {
            refcounts.release(e & OFFSET_MASK);
        }
    }

    /**
     * Writes into the fresh cluster at {@code fresh} what the guest's write leaves
     * of the old content (before {@code in} and after {@code in + len}). A fresh
     * cluster lies past the file's old end and reads as zeros, so zeros are not written.
     * Returns whether it wrote anything.
     */
    private boolean fillAround(long vc, long old, int in, int len, long fresh) throws IOException {
        if (in == 0 && len == clusterSize) {
            return false;
        }
        long host = old & OFFSET_MASK;
        boolean zeroOld = (old & ZERO) != 0 && h.version == 3 && (old & COMPRESSED) == 0;
        if (zeroOld) {
            return false;
        }
        long base = vc << clusterBits;
        if ((old & COMPRESSED) == 0 && host == 0 && (backing == null || base >= backingSize)) {
            return false;
        }
        if ((old & COMPRESSED) != 0) {
            decompressed(old);
        } else {
            scratch.clear();
            scratchHolds = -1; // it holds this cluster's old bytes now, not a decompressed cluster
            readCluster(base, 0, scratch);
        }
        if (in > 0) {
            scratch.limit(in).position(0);
            writeFully(scratch, fresh);
        }
        if (in + len < clusterSize) {
            scratch.limit((int) clusterSize).position(in + len);
            writeFully(scratch, fresh + in + len);
        }
        return true;
    }

    /** The L2 entry for guest cluster {@code vc}; 0 when no L2 table covers it. */
    private long l2Entry(long vc, boolean allocate) throws IOException {
        long[] l2 = l2Table(vc, allocate);
        return l2 == null ? 0 : l2[(int) (vc & ((1L << l2Bits) - 1))];
    }

    private long[] l2Table(long vc, boolean allocate) throws IOException {
        int li = (int) (vc >> l2Bits);
        long off = l1[li] & OFFSET_MASK;
        if (off == 0) {
            if (!allocate) {
                return null;
            }
            off = refcounts.allocate();
            writeFully(ByteBuffer.allocate((int) clusterSize), off);
            l1[li] = off | COPIED;
            writeEntry(h.l1Offset, li, l1[li]);
            long[] t = new long[(int) (clusterSize / 8)];
            l2Cache.put(li, t);
            return t;
        }
        if (allocate && (l1[li] & COPIED) == 0) {
            throw new StorageException(path, "qcow2 image " + path + ": L2 table " + li
                    + " is shared (an internal snapshot?); this engine does not write shared tables");
        }
        long[] t = l2Cache.get(li);
        if (t == null) {
            ByteBuffer b = l2Buf.clear();
            readFully(b, off);
            t = new long[(int) (clusterSize / 8)];
            for (int i = 0; i < t.length; i++) {
                long e = b.getLong(i * 8);
                if ((e & COMPRESSED) == 0 && (e & OFFSET_MASK & (clusterSize - 1)) != 0) {
                    throw h.corrupt("L2 entry " + i + " of the table at byte " + off + " ("
                            + Long.toHexString(e) + ") is not cluster-aligned");
                }
                t[i] = e;
            }
            l2Cache.put(li, t);
        }
        return t;
    }

    private void writeEntry(long tableOffset, int index, long value) throws IOException {
        entry.clear();
        entry.putLong(0, value);
        writeFully(entry, tableOffset + index * 8L);
    }

    /** The compressed cluster of entry {@code e}, in the scratch buffer. */
    private ByteBuffer decompressed(long e) throws IOException {
        if (scratchHolds != e) {
            scratchHolds = -1;
            compressed.read(e, scratch);
            scratchHolds = e;
        }
        return scratch;
    }

    private static void copy(ByteBuffer from, int offset, ByteBuffer dst) {
        ByteBuffer s = from.duplicate();
        s.limit(offset + dst.remaining()).position(offset);
        dst.put(s);
    }

    private static void zero(ByteBuffer dst) {
        while (dst.hasRemaining()) {
            dst.put((byte) 0);
        }
    }

    private void clearAutoclear() throws IOException {
        if (autoclearDone) {
            return;
        }
        autoclearDone = true;
        if (h.version == 3 && h.autoclear != 0) {
            // we keep none of the autoclear extensions (bitmaps) up to date: mark them stale
            writeEntry(Qcow2Header.AUTOCLEAR_OFFSET, 0, 0);
            h.autoclear = 0;
        }
    }

    @Override
    public void flush() {
        checkOpen();
        if (!writable) {
            return;
        }
        try {
            refcounts.flush();
        } catch (IOException e) {
            throw StorageException.io(path, "flushing", e);
        }
    }

    @Override
    public Capabilities capabilities() {
        return caps;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (writable) {
            try {
                refcounts.flush();
                refcounts.returnReservation();
                refcounts.sync();
            } catch (IOException | RuntimeException e) {
                // what is left is leaked clusters at worst: qemu-img check -r leaks reclaims them
                LOG.warn("qcow2 image {}: closing it: {} (qemu-img check may find leaked clusters)", path,
                        e.getMessage());
            }
        }
        compressed.close();
        closeQuietly(ch, backing);
    }

    private long check(long sector, long bytes) {
        checkOpen();
        return Ranges.check(h.size, sector, bytes);
    }

    private void checkOpen() {
        if (closed) {
            throw new StorageException(path, "qcow2 image " + path + " is closed");
        }
    }

    private void readFully(ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            int n = ch.read(b, pos);
            if (n < 0) {
                zero(b); // past the end of the file: zeros, as QEMU reads it
                return;
            }
            pos += n;
        }
    }

    private void writeFully(ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            pos += ch.write(b, pos);
        }
    }
}
