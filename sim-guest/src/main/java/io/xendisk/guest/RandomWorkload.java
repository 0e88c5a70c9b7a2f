package io.xendisk.guest;

import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

import io.xendisk.blkif.Blkif;

/**
 * fio-like random I/O: {@code rand-read|rand-write [--bs 4k] [--qd 1]
 * [--ops N | --time SECONDS] [--size BYTES] [--offset BYTES] [--seed N]}.
 * Offsets are multiples of bs within the range, from a seeded generator;
 * each op is one ring request (bs at most 44 KiB). At queue depth N the
 * completions of a wakeup are refilled together with one push.
 */
final class RandomWorkload extends QueueDriver {
    private static final Set<String> OPTIONS = Set.of("bs", "qd", "ops", "time", "size", "offset", "seed");
    private final boolean write;
    private final long baseSector;
    private final long blocks;
    private final int blockSectors;
    private final long ops;
    private final long deadline;
    private final SplittableRandom random;
    private long issued;

    private RandomWorkload(IoContext ctx, boolean write, long baseSector, long blocks, int blockSectors,
                           long ops, long deadline, long seed) {
        super(ctx);
        this.write = write;
        this.baseSector = baseSector;
        this.blocks = blocks;
        this.blockSectors = blockSectors;
        this.ops = ops;
        this.deadline = deadline;
        this.random = new SplittableRandom(seed);
    }

    /** @return false when any request got an error response */
    static boolean run(IoContext ctx, boolean write, List<String> args) throws InterruptedException {
        String name = write ? "rand-write" : "rand-read";
        WorkloadArgs a = new WorkloadArgs(name, args, OPTIONS);
        long bs = a.size("bs", 4096);
        long offset = a.size("offset", 0);
        long diskBytes = ctx.disk().bytes();
        long size = a.size("size", diskBytes - Math.min(offset, diskBytes));
        SequentialWorkload.checkRange(name, bs, offset, size, diskBytes);
        if (bs > ctx.io().maxRequestBytes()) {
            throw new IllegalArgumentException(name + ": --bs " + bs + " is more than one ring request carries ("
                    + ctx.io().maxRequestBytes() + " bytes)");
        }
        if (size < bs) {
            throw new IllegalArgumentException(name + ": --size " + size + " is smaller than one block of " + bs);
        }
        if (write && ctx.disk().readOnly()) {
            throw new IllegalArgumentException(name + ": the disk is read-only (info has VDISK_READONLY)");
        }
        int qd = (int) a.number("qd", 1);
        if (qd < 1 || qd > ctx.io().slots()) {
            throw new IllegalArgumentException(name + ": --qd " + qd + " must be 1.." + ctx.io().slots()
                    + " (the ring's size)");
        }
        double time = a.decimal("time", 0);
        long ops = a.number("ops", time > 0 ? Long.MAX_VALUE : 10_000);
        long seed = a.number("seed", 1);
        long deadline = time > 0 ? System.nanoTime() + (long) (time * 1e9) : Long.MAX_VALUE;
        RandomWorkload w = new RandomWorkload(ctx, write, offset >> 9, size / bs, (int) (bs >> 9), ops, deadline, seed);
        if (write) {
            for (int s = 0; s < w.io.slots(); s++) {
                Pattern.fill(w.io.buffer(s), 0, s * 88L, w.io.maxRequestBytes() / 512, seed);
            }
        }
        w.run(qd);
        ctx.out().accept(w.summary(name, "bs=" + bs + " qd=" + qd + " seed=" + seed));
        return w.errors == 0;
    }

    @Override
    protected boolean hasNext() {
        // the clock is read once per refill round at most per request: cheap next to a ring round trip
        return issued < ops && (deadline == Long.MAX_VALUE || System.nanoTime() < deadline);
    }

    @Override
    protected void issue(int slot) {
        long sector = baseSector + random.nextLong(blocks) * blockSectors;
        io.queue(slot, write ? Blkif.OP_WRITE : Blkif.OP_READ, sector, blockSectors);
        issued++;
    }

    @Override
    protected int bytesOf(int slot) {
        return blockSectors << 9;
    }
}
