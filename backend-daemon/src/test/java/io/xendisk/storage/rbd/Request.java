package io.xendisk.storage.rbd;

import io.xendisk.storage.IoRequest;
import io.xendisk.storage.StorageException;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** One request as the backend would hand it over: its data in one direct buffer; its end awaited. */
final class Request implements IoRequest {
    private final Op op;
    private final long sector;
    private final long sectors;
    private final ByteBuffer data;
    private final CompletableFuture<StorageException> done = new CompletableFuture<>();

    private Request(Op op, long sector, long sectors, ByteBuffer data) {
        this.op = op;
        this.sector = sector;
        this.sectors = sectors;
        this.data = data;
    }

    static Request read(long sector, int bytes) {
        return new Request(Op.READ, sector, bytes / 512, ByteBuffer.allocateDirect(bytes));
    }

    static Request write(long sector, byte[] bytes) {
        return new Request(Op.WRITE, sector, bytes.length / 512, ByteBuffer.allocateDirect(bytes.length).put(bytes).flip());
    }

    static Request flush() {
        return new Request(Op.FLUSH, 0, 0, null);
    }

    static Request discard(long sector, long sectors) {
        return new Request(Op.DISCARD, sector, sectors, null);
    }

    /** The failure it ended with, null for success; waits up to 30 s. */
    StorageException await() throws Exception {
        return done.get(30, TimeUnit.SECONDS);
    }

    byte[] bytes() {
        byte[] b = new byte[data.capacity()];
        data.get(0, b);
        return b;
    }

    @Override
    public Op op() {
        return op;
    }

    @Override
    public long sector() {
        return sector;
    }

    @Override
    public long sectors() {
        return sectors;
    }

    @Override
    public ByteBuffer buffer() {
        return data;
    }

    @Override
    public int pieces() {
        return data == null ? 0 : 1;
    }

    @Override
    public ByteBuffer[] pieceBuffers() {
        return data == null ? new ByteBuffer[0] : new ByteBuffer[] {data};
    }

    @Override
    public int[] pieceOffsets() {
        return data == null ? new int[0] : new int[] {0};
    }

    @Override
    public int[] pieceLengths() {
        return data == null ? new int[0] : new int[] {data.capacity()};
    }

    @Override
    public boolean inPlace() {
        return false;
    }

    @Override
    public void complete(StorageException failure) {
        if (!done.complete(failure)) {
            throw new IllegalStateException("completed twice");
        }
    }
}
