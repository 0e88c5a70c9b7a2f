package io.xendisk.storage.qcow2;

import io.xendisk.storage.ImageFormat;
import io.xendisk.storage.StorageException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A qcow2 image's header and the header extensions we act on, read once at
 * open and validated against QEMU's docs/interop/qcow2.txt. Everything an
 * image may ask that we cannot do right is refused here by name, so that
 * no later read or write has to doubt the layout.
 */
final class Qcow2Header {
    static final int MIN_CLUSTER_BITS = 9;
    static final int MAX_CLUSTER_BITS = 21;
    /** Offsets of the fields we rewrite. */
    static final int AUTOCLEAR_OFFSET = 88;
    static final int REFCOUNT_TABLE_OFFSET = 48;
    static final int INCOMPAT_OFFSET = 72;

    static final long INCOMPAT_DIRTY = 1;
    static final long INCOMPAT_CORRUPT = 1 << 1;
    static final long INCOMPAT_EXTERNAL_DATA = 1 << 2;
    static final long INCOMPAT_COMPRESSION_TYPE = 1 << 3;
    static final long INCOMPAT_EXTENDED_L2 = 1 << 4;
    private static final long INCOMPAT_KNOWN = INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_EXTERNAL_DATA
            | INCOMPAT_COMPRESSION_TYPE | INCOMPAT_EXTENDED_L2;

    private static final int EXT_END = 0;
    private static final int EXT_BACKING_FORMAT = 0xe2792aca;
    private static final int EXT_CRYPTO = 0x0537be77;
    private static final int EXT_DATA_FILE = 0x44415441;

    static final int COMPRESSION_ZLIB = 0;
    static final int COMPRESSION_ZSTD = 1;

    final Path path;
    final int version;
    final int clusterBits;
    final long size;
    final int l1Size;
    final long l1Offset;
    long refcountTableOffset;
    int refcountTableClusters;
    final int snapshots;
    final long incompatible;
    final long compatible;
    long autoclear;
    final int refcountOrder;
    final int compressionType;
    /** The backing file's name as the image stores it; null when there is none. */
    final String backingName;
    /** The backing format extension ("raw", "qcow2"); null when absent. */
    final String backingFormat;

    private Qcow2Header(Path path, ByteBuffer h, long fileSize, FileChannel ch) throws IOException {
        this.path = path;
        version = h.getInt(4);
        if (version != 2 && version != 3) {
            throw refuse("is qcow2 version " + version + "; only versions 2 and 3 are served"
                    + " (convert it: qemu-img amend -o compat=1.1)");
        }
        long backingOffset = h.getLong(8);
        int backingSize = h.getInt(16);
        clusterBits = h.getInt(20);
        if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
            throw corrupt("cluster_bits " + clusterBits + " is outside 9..21");
        }
        size = h.getLong(24);
        if (size < 0 || size % 512 != 0) {
            throw refuse("has a virtual size of " + size + " bytes, not a multiple of 512"
                    + " (resize it: qemu-img resize IMG SIZE)");
        }
        if (h.getInt(32) != 0) {
            throw refuse("is encrypted (crypt_method " + h.getInt(32) + "); encrypted qcow2 images are not served"
                    + " (decrypt it: qemu-img convert -O qcow2 with --object secret)");
        }
        l1Size = h.getInt(36);
        l1Offset = h.getLong(40);
        refcountTableOffset = h.getLong(48);
        refcountTableClusters = h.getInt(56);
        snapshots = h.getInt(60);
        int headerLength;
        if (version == 3) {
            incompatible = h.getLong(72);
            compatible = h.getLong(80);
            autoclear = h.getLong(88);
            refcountOrder = h.getInt(96);
            headerLength = h.getInt(100);
            if (headerLength < 104 || headerLength > h.capacity()) {
                throw corrupt("header_length " + headerLength + " is outside 104.." + h.capacity());
            }
            compressionType = headerLength > 104 ? h.get(104) & 0xff : COMPRESSION_ZLIB;
        } else {
            incompatible = 0;
            compatible = 0;
            autoclear = 0;
            refcountOrder = 4;
            headerLength = 72;
            compressionType = COMPRESSION_ZLIB;
        }
        long unknown = incompatible & ~INCOMPAT_KNOWN;
        if (unknown != 0) {
            throw refuse("has incompatible feature bits 0x" + Long.toHexString(unknown)
                    + " this engine does not know (a newer QEMU made it; serve it with QEMU or convert it"
                    + " with qemu-img convert -O qcow2)");
        }
        if ((incompatible & INCOMPAT_EXTERNAL_DATA) != 0) {
            throw refuse("keeps its data in an external data file; that is not served"
                    + " (convert it: qemu-img convert -O qcow2)");
        }
        if ((incompatible & INCOMPAT_EXTENDED_L2) != 0) {
            throw refuse("uses extended L2 entries (subclusters); that is not served"
                    + " (convert it: qemu-img convert -O qcow2 -o extended_l2=off)");
        }
        if ((incompatible & INCOMPAT_DIRTY) != 0) {
            throw refuse("is marked dirty: it was not closed cleanly while using lazy refcounts, so its"
                    + " refcounts cannot be trusted (repair it: qemu-img check -r all IMG)");
        }
        if (compressionType != COMPRESSION_ZLIB && compressionType != COMPRESSION_ZSTD) {
            throw refuse("uses compression type " + compressionType + ", unknown to this engine");
        }
        if (refcountOrder > 6) {
            throw corrupt("refcount_order " + refcountOrder + " is above 6");
        }
        long cluster = 1L << clusterBits;
        if (l1Offset % cluster != 0 || refcountTableOffset % cluster != 0 || refcountTableOffset == 0) {
            throw corrupt("its L1 table (byte " + l1Offset + ") or refcount table (byte " + refcountTableOffset
                    + ") is not cluster-aligned");
        }
        long l2Entries = cluster / 8;
        long needed = ceilDiv(ceilDiv(size, cluster), l2Entries);
        if (l1Size < needed || l1Size > (32 << 20) / 8) {
            throw corrupt("l1_size " + l1Size + " does not fit its virtual size of " + size + " bytes (needs "
                    + needed + ")");
        }
        if (refcountTableClusters <= 0 || (long) refcountTableClusters << clusterBits > (64L << 20)) {
            throw corrupt("refcount_table_clusters " + refcountTableClusters + " is out of range");
        }
        String fmt = null;
        if (headerLength < h.capacity()) {
            fmt = extensions(h, headerLength);
        }
        backingFormat = fmt;
        if (backingOffset != 0) {
            if (backingSize <= 0 || backingSize > 1023 || backingOffset + backingSize > fileSize) {
                throw corrupt("its backing file name (" + backingSize + " bytes at byte " + backingOffset
                        + ") is out of range");
            }
            ByteBuffer name = ByteBuffer.allocate(backingSize);
            readFully(ch, name, backingOffset);
            backingName = new String(name.array(), StandardCharsets.UTF_8);
        } else {
            backingName = null;
        }
    }

    /** Walks the header extensions; returns the backing format, refuses what cannot be served. */
    private String extensions(ByteBuffer h, int start) {
        String fmt = null;
        int p = start;
        while (p + 8 <= h.capacity()) {
            int type = h.getInt(p);
            int len = h.getInt(p + 4);
            if (type == EXT_END) {
                break;
            }
            if (len < 0 || p + 8 + len > h.capacity()) {
                throw corrupt("header extension 0x" + Integer.toHexString(type) + " runs past the first cluster");
            }
            if (type == EXT_BACKING_FORMAT) {
                byte[] b = new byte[len];
                h.get(p + 8, b);
                fmt = new String(b, StandardCharsets.US_ASCII);
            } else if (type == EXT_CRYPTO) {
                throw refuse("has a full disk encryption header; encrypted qcow2 images are not served");
            } else if (type == EXT_DATA_FILE) {
                throw refuse("names an external data file; that is not served (convert it: qemu-img convert -O qcow2)");
            }
            p += 8 + ((len + 7) & ~7);
        }
        return fmt;
    }

    /** Reads and validates the header of the open image. */
    static Qcow2Header read(Path path, FileChannel ch) {
        try {
            long fileSize = ch.size();
            ByteBuffer first = ByteBuffer.allocate(8);
            readFully(ch, first, 0);
            if (first.getInt(0) != ImageFormat.QCOW2_MAGIC) {
                throw new StorageException(path, "image " + path + " is not a qcow2 image (no QFI magic);"
                        + " serve a raw image with engine file, mmap or cow");
            }
            int bits = (int) Math.min(Math.max(readInt(ch, 20), MIN_CLUSTER_BITS), MAX_CLUSTER_BITS);
            // the header and its extensions live in the first cluster
            ByteBuffer h = ByteBuffer.allocate((int) Math.min(1L << bits, Math.max(fileSize, 72)));
            readFully(ch, h, 0);
            return new Qcow2Header(path, h, fileSize, ch);
        } catch (IOException e) {
            throw StorageException.io(path, "reading its qcow2 header", e);
        }
    }

    private static int readInt(FileChannel ch, long pos) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4);
        readFully(ch, b, pos);
        return b.getInt(0);
    }

    static void readFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            int n = ch.read(b, pos);
            if (n < 0) {
                throw new IOException("unexpected end of file at byte " + pos);
            }
            pos += n;
        }
    }

    long clusterSize() {
        return 1L << clusterBits;
    }

    boolean corruptBit() {
        return (incompatible & INCOMPAT_CORRUPT) != 0;
    }

    StorageException refuse(String why) {
        return new StorageException(path, "qcow2 image " + path + " " + why);
    }

    StorageException corrupt(String why) {
        return new StorageException(path, "qcow2 image " + path + " is corrupt: " + why
                + " (check it: qemu-img check " + path + ")");
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}
