package io.xendisk.storage.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * A file channel whose process "dies" at its {@code crashAt}-th write: that
 * write lands only up to its first 4 KiB page boundary when {@code tornWrite}
 * (the kernel copies a write into the page cache page by page, and a SIGKILL
 * can stop it between pages), else not at all, and every later write fails.
 * What is on the file then is what a kill -9 of the daemon would leave, since
 * the page cache keeps every write that returned.
 *
 * <p>With a journal it also tells what a power cut at that moment could leave
 * ({@link #afterPowerCut}): every write before the last completed fdatasync
 * ({@link #force}), and of the writes after it any subset of their 4 KiB pages,
 * as the kernel's writeback may have sent some of them to the disk and not others.
 */
final class CrashingChannel extends FileChannel {
    static final long PAGE = 4096;
    private final FileChannel file;
    private final long crashAt;
    private final boolean tornWrite;
    private long writes;
    private boolean attempted;
    private final java.util.List<Piece> journal;
    private int durable;
    /** Set by a test when the guest's FLUSH returned before the crash. */
    boolean flushed;

    private record Piece(long position, byte[] bytes) {
    }

    /** @param crashAt the write that never completes (1 = the first); 0 or less: never crash, only count */
    CrashingChannel(FileChannel file, long crashAt, boolean tornWrite) {
        this(file, crashAt, tornWrite, false);
    }

    /** @param journal keep every write, for {@link #afterPowerCut} */
    CrashingChannel(FileChannel file, long crashAt, boolean tornWrite, boolean journal) {
        this.file = file;
        this.crashAt = crashAt;
        this.tornWrite = tornWrite;
        this.journal = journal ? new java.util.ArrayList<>() : null;
    }

    /**
     * The file a power cut would leave, from {@code start} (the file before the
     * first write): writes up to the last fdatasync whole, later ones page by page
     * as {@code random} draws.
     */
    byte[] afterPowerCut(byte[] start, java.util.Random random) {
        byte[] out = start.clone();
        for (int i = 0; i < journal.size(); i++) {
            Piece p = journal.get(i);
            long pos = p.position;
            int off = 0;
            while (off < p.bytes.length) {
                int n = (int) Math.min(p.bytes.length - off, PAGE - (pos + off) % PAGE);
                if (i < durable || random.nextBoolean()) {
                    long end = pos + off + n;
                    if (end > out.length) {
                        out = java.util.Arrays.copyOf(out, (int) end);
                    }
                    System.arraycopy(p.bytes, off, out, (int) (pos + off), n);
                }
                off += n;
            }
        }
        return out;
    }

    /** Writes that completed. */
    long writes() {
        return writes;
    }

    /** Whether the crash happened: a write was cut short, and the file takes no more. */
    boolean crashed() {
        return attempted;
    }

    @Override
    public int write(ByteBuffer src, long position) throws IOException {
        if (crashAt > 0 && writes + 1 >= crashAt) {
            if (!attempted) {
                attempted = true;
                long firstPageEnd = (position / PAGE + 1) * PAGE;
                if (tornWrite && position + src.remaining() > firstPageEnd) {
                    ByteBuffer part = src.duplicate();
                    part.limit(part.position() + (int) (firstPageEnd - position));
                    while (part.hasRemaining()) {
                        file.write(part, position + part.position() - src.position());
                    }
                }
            }
            throw new IOException("simulated kill -9 at write " + crashAt);
        }
        if (journal != null) {
            byte[] b = new byte[src.remaining()];
            src.duplicate().get(b);
            journal.add(new Piece(position, b));
        }
        int n = 0;
        while (src.hasRemaining()) {
            n += file.write(src, position + n);
        }
        writes++;
        return n;
    }

    @Override
    public int read(ByteBuffer dst, long position) throws IOException {
        return file.read(dst, position);
    }

    @Override
    public long size() throws IOException {
        return file.size();
    }

    @Override
    public void force(boolean metaData) throws IOException {
        if (crashed()) {
            throw new IOException("simulated kill -9");
        }
        file.force(metaData);
        if (journal != null) {
            durable = journal.size();
        }
    }

    @Override
    public int read(ByteBuffer dst) {
        throw new UnsupportedOperationException("the engine reads at explicit positions");
    }

    @Override
    public long read(ByteBuffer[] dsts, int offset, int length) {
        throw new UnsupportedOperationException("the engine reads at explicit positions");
    }

    @Override
    public int write(ByteBuffer src) {
        throw new UnsupportedOperationException("the engine writes at explicit positions");
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) {
        throw new UnsupportedOperationException("the engine writes at explicit positions");
    }

    @Override
    public long position() throws IOException {
        return file.position();
    }

    @Override
    public FileChannel position(long newPosition) throws IOException {
        file.position(newPosition);
        return this;
    }

    @Override
    public FileChannel truncate(long size) throws IOException {
        if (attempted) {
            throw new IOException("simulated kill -9");
        }
        file.truncate(size); // only a clean close trims the file; a power cut is not drawn after one
        return this;
    }

    @Override
    public long transferTo(long position, long count, WritableByteChannel target) {
        throw new UnsupportedOperationException();
    }

    @Override
    public long transferFrom(ReadableByteChannel src, long position, long count) {
        throw new UnsupportedOperationException();
    }

    @Override
    public MappedByteBuffer map(MapMode mode, long position, long size) {
        throw new UnsupportedOperationException();
    }

    @Override
    public FileLock lock(long position, long size, boolean shared) {
        throw new UnsupportedOperationException();
    }

    @Override
    public FileLock tryLock(long position, long size, boolean shared) {
        throw new UnsupportedOperationException();
    }

    @Override
    protected void implCloseChannel() throws IOException {
        file.close();
    }
}
