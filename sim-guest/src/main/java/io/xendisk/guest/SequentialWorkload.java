package io.xendisk.guest;

import java.util.List;
import java.util.Set;

import io.xendisk.blkif.Blkif;

/**
 * dd-like sequential I/O: {@code seq-read|seq-write [--bs 1M] [--size BYTES]
 * [--offset BYTES] [--qd N] [--seed N]}. Each block of {@code bs} is split
 * into ring requests of at most 44 KiB (11 pages), as Linux splits a direct
 * dd block; by default the requests of one block are in flight together
 * (queue depth = requests per block, at most the ring). Writes carry a seeded
 * pattern filled into the slots once, before timing starts.
 */
final class SequentialWorkload extends QueueDriver {
    private static final Set<String> OPTIONS = Set.of("bs", "size", "offset", "qd", "seed");
    private final boolean write;
    private final long endSector;
    private final int chunkSectors;
    private final int[] slotSectors;
    private long next;

    private SequentialWorkload(IoContext ctx, boolean write, long firstSector, long endSector, int chunkSectors) {
        super(ctx);
        this.write = write;
        this.endSector = endSector;
        this.chunkSectors = chunkSectors;
        this.slotSectors = new int[io.slots()];
        this.next = firstSector;
    }

    /** @return false when any request got an error response */
    static boolean run(IoContext ctx, boolean write, List<String> args) throws InterruptedException {
        String name = write ? "seq-write" : "seq-read";
        WorkloadArgs a = new WorkloadArgs(name, args, OPTIONS);
        long bs = a.size("bs", 1 << 20);
        long offset = a.size("offset", 0);
        long diskBytes = ctx.disk().bytes();
        long size = a.size("size", diskBytes - Math.min(offset, diskBytes));
        checkRange(name, bs, offset, size, diskBytes);
        if (write && ctx.disk().readOnly()) {
            throw new IllegalArgumentException(name + ": the disk is read-only (info has VDISK_READONLY)");
        }
        int chunk = (int) Math.min(bs, ctx.io().maxRequestBytes());
        int perBlock = (int) ((bs + chunk - 1) / chunk);
        int qd = (int) a.number("qd", Math.min(perBlock, ctx.io().slots()));
        SequentialWorkload w = new SequentialWorkload(ctx, write, offset >> 9, (offset + size) >> 9, chunk >> 9);
        if (write) {
            long seed = a.number("seed", 1);
            for (int s = 0; s < w.io.slots(); s++) {
                Pattern.fill(w.io.buffer(s), 0, s * 88L, w.io.maxRequestBytes() / 512, seed);
            }
        }
        w.run(qd);
        ctx.out().accept(w.summary(name, "bs=" + bs + " qd=" + Math.min(qd, ctx.io().slots()) + " offset=" + offset
                + " size=" + size));
        return w.errors == 0;
    }

    static void checkRange(String name, long bs, long offset, long size, long diskBytes) {
        if (bs < 512 || bs % 512 != 0) {
            throw new IllegalArgumentException(name + ": --bs " + bs + " must be a positive multiple of 512");
        }
        if (offset % 512 != 0 || size % 512 != 0 || size <= 0) {
            throw new IllegalArgumentException(name + ": --offset and --size must be multiples of 512 and the size positive");
        }
        if (offset > diskBytes || size > diskBytes - offset) {
            throw new IllegalArgumentException(name + ": range " + offset + "+" + size + " ends past the disk ("
                    + diskBytes + " bytes)");
        }
    }

    @Override
    protected boolean hasNext() {
        return next < endSector;
    }

    @Override
    protected void issue(int slot) {
        int n = (int) Math.min(chunkSectors, endSector - next);
        slotSectors[slot] = n;
        io.queue(slot, write ? Blkif.OP_WRITE : Blkif.OP_READ, next, n);
        next += n;
    }

    @Override
    protected int bytesOf(int slot) {
        return slotSectors[slot] << 9;
    }

}
