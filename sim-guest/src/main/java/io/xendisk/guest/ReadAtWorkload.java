package io.xendisk.guest;

import java.util.Arrays;
import java.util.List;
import java.util.Set;

import io.xendisk.blkif.Blkif;

/**
 * {@code read-at SECTOR COUNT}: reads COUNT (1..2048) 512-byte sectors from
 * SECTOR and prints them as {@code hexdump -C} does, with disk byte offsets
 * and repeated lines folded into "*".
 */
final class ReadAtWorkload extends QueueDriver {
    static final int MAX_SECTORS = 2048;
    private final long first;
    private final long end;
    private final byte[] out;
    private final long[] slotStart;
    private final int[] slotSectors;
    private long next;

    private ReadAtWorkload(IoContext ctx, long first, int count) {
        super(ctx);
        this.first = first;
        this.end = first + count;
        this.out = new byte[count << 9];
        this.slotStart = new long[io.slots()];
        this.slotSectors = new int[io.slots()];
        this.next = first;
    }

    static void run(IoContext ctx, List<String> args) throws InterruptedException {
        WorkloadArgs a = new WorkloadArgs("read-at", args, Set.of());
        List<String> p = a.positional();
        if (p.size() != 2) {
            throw new IllegalArgumentException("read-at: usage: read-at SECTOR COUNT (COUNT 1.." + MAX_SECTORS + ")");
        }
        long sector;
        long count;
        try {
            sector = Long.parseLong(p.get(0));
            count = Long.parseLong(p.get(1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("read-at: SECTOR and COUNT must be numbers: " + p);
        }
        long sectors = ctx.disk().sectors();
        if (count < 1 || count > MAX_SECTORS) {
            throw new IllegalArgumentException("read-at: COUNT " + count + " must be 1.." + MAX_SECTORS);
        }
        if (sector < 0 || sector >= sectors || count > sectors - sector) {
            throw new IllegalArgumentException("read-at: sectors " + sector + "+" + count + " are past the end of the disk ("
                    + sectors + " sectors)");
        }
        ReadAtWorkload w = new ReadAtWorkload(ctx, sector, (int) count);
        w.run(ctx.io().slots());
        if (w.errors > 0) {
            throw new BlkfrontException("read-at: " + w.errors + " reads failed (status " + w.firstErrorStatus + ")");
        }
        hexdump(w.out, sector << 9, ctx.out()::accept);
    }

    /** Prints {@code data} as hexdump -C, the offset column starting at {@code base}. */
    static void hexdump(byte[] data, long base, java.util.function.Consumer<String> sink) {
        byte[] prev = null;
        boolean starred = false;
        for (int off = 0; off < data.length; off += 16) {
            byte[] line = Arrays.copyOfRange(data, off, Math.min(off + 16, data.length));
            if (prev != null && Arrays.equals(prev, line)) {
                if (!starred) {
                    sink.accept("*");
                    starred = true;
                }
                continue;
            }
            starred = false;
            prev = line;
            StringBuilder sb = new StringBuilder(80);
            sb.append(String.format("%08x ", base + off));
            for (int i = 0; i < 16; i++) {
                if (i == 8) {
                    sb.append(' ');
                }
                sb.append(i < line.length ? String.format(" %02x", line[i] & 0xFF) : "   ");
            }
            sb.append("  |");
            for (byte b : line) {
                sb.append(b >= 0x20 && b < 0x7F ? (char) b : '.');
            }
            sb.append('|');
            sink.accept(sb.toString());
        }
        sink.accept(String.format("%08x", base + data.length));
    }

    @Override
    protected boolean hasNext() {
        return next < end;
    }

    @Override
    protected void issue(int slot) {
        int n = (int) Math.min(io.maxRequestBytes() >> 9, end - next);
        slotStart[slot] = next;
        slotSectors[slot] = n;
        io.queue(slot, Blkif.OP_READ, next, n);
        next += n;
    }

    @Override
    protected void completed(int slot, int status) {
        if (status == 0) {
            io.buffer(slot).get(0, out, (int) ((slotStart[slot] - first) << 9), slotSectors[slot] << 9);
        }
    }

    @Override
    protected int bytesOf(int slot) {
        return slotSectors[slot] << 9;
    }
}
