package io.xendisk.guest;

import java.util.List;
import java.util.Set;

/**
 * {@code discard [--offset BYTES] [--size BYTES] [--bs BYTES] [--qd N] [--secure]}:
 * tells the backend the range is no longer needed, as {@code blkdiscard} does,
 * in DISCARD requests of {@code --bs} bytes (the whole range in one by default,
 * as Linux blkfront allows). Offset and size must be whole sectors; a disk
 * without {@code feature-discard} is refused before anything is sent.
 */
final class DiscardWorkload extends QueueDriver {
    private final long end;
    private final long chunk;
    private final boolean secure;
    private final long[] slotBytes;
    private long next;

    private DiscardWorkload(IoContext ctx, long offset, long size, long chunk, boolean secure) {
        super(ctx);
        this.next = offset;
        this.end = offset + size;
        this.chunk = chunk;
        this.secure = secure;
        this.slotBytes = new long[io.slots()];
    }

    static boolean run(IoContext ctx, List<String> args) throws InterruptedException {
        WorkloadArgs a = new WorkloadArgs("discard", args, Set.of("offset", "size", "bs", "qd"), Set.of("secure"));
        if (!a.positional().isEmpty()) {
            throw new IllegalArgumentException("discard: unexpected " + a.positional()
                    + "; usage: discard [--offset BYTES] [--size BYTES] [--bs BYTES] [--qd N] [--secure]");
        }
        DiskProperties disk = ctx.disk();
        if (!disk.discard()) {
            throw new BlkfrontException("discard: " + ctx.device() + " does not offer feature-discard");
        }
        long offset = a.size("offset", 0);
        long size = a.size("size", disk.bytes() - Math.min(offset, disk.bytes()));
        long bs = a.size("bs", Math.max(size, 512));
        if (offset % 512 != 0 || size % 512 != 0 || bs % 512 != 0 || bs == 0) {
            throw new IllegalArgumentException("discard: --offset, --size and --bs must be multiples of 512 bytes");
        }
        if (offset > disk.bytes() || size > disk.bytes() - offset) {
            throw new IllegalArgumentException("discard: " + size + " bytes at " + offset + " are past the end of the disk ("
                    + disk.bytes() + " bytes)");
        }
        DiscardWorkload w = new DiscardWorkload(ctx, offset, size, bs, a.has("secure"));
        w.run((int) a.number("qd", 1));
        ctx.out().accept(w.summary("discard", "offset=" + offset + " size=" + size + " bs=" + bs
                + (w.secure ? " secure" : "")));
        return w.errors == 0;
    }

    @Override
    protected boolean hasNext() {
        return next < end;
    }

    @Override
    protected void issue(int slot) {
        long n = Math.min(chunk, end - next);
        slotBytes[slot] = n;
        io.queueDiscard(slot, next >> 9, n >> 9, secure);
        next += n;
    }

    @Override
    protected int bytesOf(int slot) {
        return (int) Math.min(Integer.MAX_VALUE, slotBytes[slot]);
    }
}
