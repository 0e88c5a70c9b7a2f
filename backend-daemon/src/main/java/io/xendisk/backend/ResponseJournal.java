package io.xendisk.backend;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import io.xendisk.blkif.BackRing;

/**
 * The responses a ring is about to publish, written first to a file of the
 * run directory that outlives the daemon. Responses go into the slots of
 * requests already taken, and only the push of rsp_prod shows them to the
 * guest: a daemon killed between the two has overwritten requests it never
 * answered for the guest. The next daemon, attaching to the same ring,
 * finds the batch here and publishes it, so the guest loses no response
 * and no request is served twice.
 *
 * <p>Layout (little endian): count u32 @0, base u32 @4, ring size u32 @8,
 * then per response id u64, operation u32, status i32. The count is written
 * last (and zeroed first), so a batch half written when the daemon died is
 * not replayed. A mapped file: what is written survives the process.
 */
final class ResponseJournal implements AutoCloseable {
    private static final VarHandle INT = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final int COUNT = 0;
    private static final int BASE = 4;
    private static final int SIZE = 8;
    private static final int HEADER = 16;
    private static final int ENTRY = 16;

    private final Path file;
    private final MappedByteBuffer map;
    private final int ringSize;

    private ResponseJournal(Path file, MappedByteBuffer map, int ringSize) {
        this.file = file;
        this.map = map;
        this.ringSize = ringSize;
    }

    /** Opens (creating it when absent) the journal of a ring of {@code ringSize} entries. */
    static ResponseJournal open(Path file, int ringSize) throws IOException {
        Files.createDirectories(file.getParent());
        long bytes = HEADER + (long) ENTRY * ringSize;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            if (ch.size() != bytes) {
                ch.truncate(0);
                ch.write(ByteBuffer.allocate((int) bytes), 0); // zeros: no batch
            }
            MappedByteBuffer map = ch.map(FileChannel.MapMode.READ_WRITE, 0, bytes);
            map.order(ByteOrder.LITTLE_ENDIAN);
            return new ResponseJournal(file, map, ringSize);
        }
    }

    /**
     * At attach: publishes the batch a killed predecessor wrote into the
     * ring's slots without pushing it, if this ring shows exactly that: its
     * rsp_prod is where the batch began and the frontend has published at
     * least as many requests. Returns how many responses were written.
     */
    int replay(BackRing ring) {
        int count = (int) INT.getAcquire(map, COUNT);
        int base = map.getInt(BASE);
        if (count <= 0 || count > ringSize || map.getInt(SIZE) != ring.size() || base != ring.rspProdPvt()
                || Integer.compareUnsigned(ring.reqProd() - base, count) < 0) {
            return 0;
        }
        for (int i = 0; i < count; i++) {
            int e = HEADER + i * ENTRY;
            ring.replayResponse(map.getLong(e), map.getInt(e + 8), (short) map.getInt(e + 12));
        }
        return count;
    }

    /** Starts a batch: what was recorded before is void from here on. */
    void begin() {
        INT.setRelease(map, COUNT, 0);
    }

    /** Response {@code i} of the batch. */
    void record(int i, long id, int operation, short status) {
        int e = HEADER + i * ENTRY;
        map.putLong(e, id);
        map.putInt(e + 8, operation);
        map.putInt(e + 12, status);
    }

    /** The batch is complete: {@code count} responses from response index {@code base} on; the ring may be written now. */
    void commit(int base, int count) {
        map.putInt(BASE, base);
        map.putInt(SIZE, ringSize);
        INT.setRelease(map, COUNT, count);
        VarHandle.fullFence(); // the journal is complete before the first response reaches a slot
    }

    /** The ring ended cleanly: every response is published, nothing to keep. */
    void delete() {
        begin();
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            // a leftover journal is harmless: its batch no longer matches any ring's rsp_prod
        }
    }

    @Override
    public void close() {
        // the mapping goes with the buffer; the file stays for a successor unless deleted
    }

    @Override
    public String toString() {
        return file.toString();
    }
}
