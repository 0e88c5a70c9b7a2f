package io.xendisk.guest;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.zip.CRC32C;

import io.xendisk.blkif.Blkif;

/**
 * Writes the seeded {@link Pattern} over a range, flushes (when the backend
 * offers it), reads the range back and checks every sector:
 * {@code verify [--offset BYTES] [--size BYTES (default min(disk, 16M))]
 * [--bs 32k] [--qd 8] [--seed N] [--read-only]}. With --read-only only the
 * read-back check runs (data written earlier, e.g. before a reconnect).
 * Prints one line ending in OK, or FAIL with the first mismatching sector.
 */
final class VerifyWorkload {
    private static final Set<String> OPTIONS = Set.of("offset", "size", "bs", "qd", "seed");

    private VerifyWorkload() {
    }

    /** @return true when the data read back matched */
    static boolean run(IoContext ctx, List<String> args) throws InterruptedException {
        WorkloadArgs a = new WorkloadArgs("verify", args, OPTIONS, Set.of("read-only"));
        long diskBytes = ctx.disk().bytes();
        long offset = a.size("offset", 0);
        long size = a.size("size", Math.min(diskBytes - Math.min(offset, diskBytes), 16L << 20));
        long bs = a.size("bs", 32 << 10);
        SequentialWorkload.checkRange("verify", bs, offset, size, diskBytes);
        if (bs > ctx.io().maxRequestBytes()) {
            throw new IllegalArgumentException("verify: --bs " + bs + " is more than one ring request carries ("
                    + ctx.io().maxRequestBytes() + " bytes)");
        }
        boolean readOnly = a.has("read-only") || ctx.disk().readOnly();
        int qd = (int) Math.max(1, Math.min(a.number("qd", 8), ctx.io().slots()));
        long seed = a.number("seed", 1);
        long first = offset >> 9;
        long end = (offset + size) >> 9;
        int chunk = (int) (bs >> 9);
        int chunks = (int) ((end - first + chunk - 1) / chunk);
        Phase write = null;
        if (!readOnly) {
            write = new Phase(ctx, true, first, end, chunk, chunks, seed);
            write.run(qd);
            if (write.errors > 0) {
                ctx.out().accept(line(offset, size, bs, seed) + " FAIL " + write.errors + " writes failed (first status "
                        + write.firstErrorStatus + ")");
                return false;
            }
            if (ctx.disk().flushCache()) {
                new Flush(ctx).run(1);
            }
        }
        Phase read = new Phase(ctx, false, first, end, chunk, chunks, seed);
        read.run(qd);
        String crcs = String.format(Locale.ROOT, " written_crc32c=%s read_crc32c=%08x",
                write == null ? "-" : String.format(Locale.ROOT, "%08x", fold(write.crcs)), fold(read.crcs));
        if (read.errors > 0) {
            ctx.out().accept(line(offset, size, bs, seed) + crcs + " FAIL " + read.errors + " reads failed (first status "
                    + read.firstErrorStatus + ")");
            return false;
        }
        if (read.firstMismatch >= 0) {
            ctx.out().accept(line(offset, size, bs, seed) + crcs + " FAIL first mismatch at sector " + read.firstMismatch);
            return false;
        }
        ctx.out().accept(line(offset, size, bs, seed) + crcs + " OK");
        return true;
    }

    private static String line(long offset, long size, long bs, long seed) {
        return "verify offset=" + offset + " size=" + size + " bs=" + bs + " seed=" + seed;
    }

    /** One checksum of the range from its per-request CRCs, in disk order. */
    private static int fold(int[] crcs) {
        CRC32C c = new CRC32C();
        for (int v : crcs) {
            c.update(v >>> 24);
            c.update(v >>> 16);
            c.update(v >>> 8);
            c.update(v);
        }
        return (int) c.getValue();
    }

    /** Writes or reads the range, checking each read against the pattern as it completes. */
    private static final class Phase extends QueueDriver {
        private final boolean write;
        private final long end;
        private final long first;
        private final int chunk;
        private final long seed;
        private final int[] slotSectors;
        private final long[] slotStart;
        private final CRC32C crc = new CRC32C();
        final int[] crcs;
        long firstMismatch = -1;
        private long next;

        Phase(IoContext ctx, boolean write, long first, long end, int chunk, int chunks, long seed) {
            super(ctx);
            this.write = write;
            this.first = first;
            this.end = end;
            this.chunk = chunk;
            this.seed = seed;
            this.crcs = new int[chunks];
            this.slotSectors = new int[io.slots()];
            this.slotStart = new long[io.slots()];
            this.next = first;
        }

        @Override
        protected boolean hasNext() {
            return next < end;
        }

        @Override
        protected void issue(int slot) {
            int n = (int) Math.min(chunk, end - next);
            slotSectors[slot] = n;
            slotStart[slot] = next;
            if (write) {
                ByteBuffer b = io.buffer(slot);
                Pattern.fill(b, 0, next, n, seed);
                crcs[index(next)] = crc(b, n);
            }
            io.queue(slot, write ? Blkif.OP_WRITE : Blkif.OP_READ, next, n);
            next += n;
        }

        @Override
        protected void completed(int slot, int status) {
            if (write || status != 0) {
                return;
            }
            ByteBuffer b = io.buffer(slot);
            int n = slotSectors[slot];
            crcs[index(slotStart[slot])] = crc(b, n);
            int bad = Pattern.firstMismatch(b, 0, slotStart[slot], n, seed);
            if (bad >= 0) {
                long sector = slotStart[slot] + bad;
                if (firstMismatch < 0 || sector < firstMismatch) {
                    firstMismatch = sector;
                }
            }
        }

        private int index(long sector) {
            return (int) ((sector - first) / chunk);
        }

        private int crc(ByteBuffer b, int sectors) {
            crc.reset();
            b.limit(sectors << 9).position(0);
            crc.update(b);
            b.clear();
            return (int) crc.getValue();
        }

        @Override
        protected int bytesOf(int slot) {
            return slotSectors[slot] << 9;
        }
    }

    /** One empty FLUSH_DISKCACHE. */
    private static final class Flush extends QueueDriver {
        private boolean sent;

        Flush(IoContext ctx) {
            super(ctx);
        }

        @Override
        protected boolean hasNext() {
            return !sent;
        }

        @Override
        protected void issue(int slot) {
            io.queue(slot, Blkif.OP_FLUSH_DISKCACHE, 0, 0);
            sent = true;
        }

        @Override
        protected int bytesOf(int slot) {
            return 0;
        }
    }
}
