package io.xendisk.storage.qcow2;

import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * The compressed clusters of one image: where an L2 entry says the bytes lie
 * (a byte offset and a count of 512-byte sectors, packed as docs/interop/qcow2.txt
 * gives them), and their decompression, zlib (raw deflate) or zstd as the
 * header's compression type says. One buffer and one decoder, reused: the
 * engine reads from one thread at a time.
 */
final class CompressedClusters implements AutoCloseable {
    private static final long COPIED = 1L << 63;
    private static final long COMPRESSED = 1L << 62;
    private final FileChannel ch;
    private final Qcow2Header h;
    private final int offsetBits;
    private final int clusterSize;
    private ByteBuffer compressed;
    private Inflater inflater;
    private ZstdDecompressCtx zstd;

    CompressedClusters(FileChannel ch, Qcow2Header h) {
        this.ch = ch;
        this.h = h;
        this.offsetBits = 62 - (h.clusterBits - 8);
        this.clusterSize = (int) h.clusterSize();
    }

    /** The host byte where entry {@code e}'s compressed bytes start. */
    long offset(long e) {
        return e & ((1L << offsetBits) - 1);
    }

    /** How many bytes from {@link #offset} entry {@code e} may use (up to the end of its last sector). */
    long size(long e) {
        long sectors = ((e & ~(COPIED | COMPRESSED)) >>> offsetBits) + 1;
        return sectors * 512 - (offset(e) & 511);
    }

    /** Decompresses entry {@code e}'s cluster into {@code into}, which takes one whole cluster. */
    void read(long e, ByteBuffer into) throws IOException {
        long off = offset(e);
        int size = (int) Math.min(size(e), Math.max(0, ch.size() - off));
        if (compressed == null || compressed.capacity() < size) {
            compressed = ByteBuffer.allocate(Math.max(size, 2 * clusterSize));
        }
        compressed.clear().limit(size);
        Qcow2Header.readFully(ch, compressed, off);
        compressed.flip();
        into.clear();
        if (h.compressionType == Qcow2Header.COMPRESSION_ZSTD) {
            unzstd(off, into);
        } else {
            inflate(off, size, into);
        }
        if (into.hasRemaining()) {
            throw h.corrupt("the compressed cluster at byte " + off + " decompresses to " + into.position()
                    + " bytes, not " + clusterSize);
        }
    }

    /** Raw deflate, as QEMU writes it (no zlib header); the sectors may end in padding. */
    private void inflate(long off, int size, ByteBuffer into) {
        if (inflater == null) {
            inflater = new Inflater(true);
        }
        inflater.reset();
        inflater.setInput(compressed.array(), 0, size);
        try {
            while (into.hasRemaining() && !inflater.finished()) {
                if (inflater.inflate(into) == 0 && (inflater.needsInput() || inflater.needsDictionary())) {
                    break;
                }
            }
        } catch (DataFormatException ex) {
            throw h.corrupt("the compressed cluster at byte " + off + " does not inflate (" + ex.getMessage() + ")");
        }
    }

    /** One zstd frame, streamed as QEMU does: what follows the frame in its last sector is padding. */
    private void unzstd(long off, ByteBuffer into) {
        if (zstd == null) {
            zstd = new ZstdDecompressCtx();
        }
        zstd.reset();
        try {
            while (into.hasRemaining() && compressed.hasRemaining()) {
                if (zstd.decompressByteBufferStream(into, compressed)) {
                    break;
                }
            }
        } catch (ZstdException ex) {
            throw h.corrupt("the zstd-compressed cluster at byte " + off + " does not decompress (" + ex.getMessage()
                    + ")");
        }
    }

    @Override
    public void close() {
        if (inflater != null) {
            inflater.end();
        }
        if (zstd != null) {
            zstd.close();
        }
    }
}
