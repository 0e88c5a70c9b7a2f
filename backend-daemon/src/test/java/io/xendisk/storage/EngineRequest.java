package io.xendisk.storage;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** One request as the backend would hand an engine: its data in one direct buffer; its end awaited. */
public final class EngineRequest implements IoRequest {
    private final Op op;
    private final long sector;
    private final long sectors;
    private final ByteBuffer data;
    private final CompletableFuture<StorageException> done = new CompletableFuture<>();

    private EngineRequest(Op op, long sector, long sectors, ByteBuffer data) {
        this.op = op;
        this.sector = sector;
        this.sectors = sectors;
        this.data = data;
    }

    public static EngineRequest read(long sector, int bytes) {
        return new EngineRequest(Op.READ, sector, bytes / 512, ByteBuffer.allocateDirect(bytes));
    }

    public static EngineRequest write(long sector, byte[] bytes) {
        return new EngineRequest(Op.WRITE, sector, bytes.length / 512, ByteBuffer.allocateDirect(bytes.length).put(bytes).flip());
    }

    public static EngineRequest flush() {
        return new EngineRequest(Op.FLUSH, 0, 0, null);
    }

    public static EngineRequest discard(long sector, long sectors) {
        return new EngineRequest(Op.DISCARD, sector, sectors, null);
    }

    /** The failure it ended with, null for success; waits up to 30 s. */
    public StorageException await() throws Exception {
        return done.get(30, TimeUnit.SECONDS);
    }

    public byte[] bytes() {
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
