package io.xendisk.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The synchronous engines on the backend's face: every operation executed
 * on the calling thread, data in pieces, in one owned buffer, or in place
 * in a mapped image.
 */
class SyncEngineTest {
    @TempDir
    Path dir;

    /** One operation as the backend would hand it over. */
    private static final class Io implements IoRequest {
        final Op op;
        final long sector;
        final long sectors;
        final ByteBuffer[] buffers;
        final int[] offsets;
        final int[] lengths;
        final ByteBuffer owned;
        final boolean inPlace;

        Io(Op op, long sector, ByteBuffer owned, ByteBuffer[] buffers, int[] offsets, int[] lengths, boolean inPlace) {
            this.op = op;
            this.sector = sector;
            this.buffers = buffers;
            this.offsets = offsets;
            this.lengths = lengths;
            this.owned = owned;
            this.inPlace = inPlace;
            this.sectors = Arrays.stream(lengths).sum() / 512L;
        }

        static Io pieces(Op op, long sector, ByteBuffer[] buffers, int[] offsets, int[] lengths) {
            return new Io(op, sector, null, buffers, offsets, lengths, false);
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
            return owned == null ? null : owned.clear().limit((int) (sectors * 512));
        }

        @Override
        public int pieces() {
            return buffers.length;
        }

        @Override
        public ByteBuffer[] pieceBuffers() {
            return buffers;
        }

        @Override
        public int[] pieceOffsets() {
            return offsets;
        }

        @Override
        public int[] pieceLengths() {
            return lengths;
        }

        @Override
        public boolean inPlace() {
            return inPlace;
        }

        @Override
        public void complete(StorageException failure) {
            throw new AssertionError("a synchronous engine never completes later");
        }
    }

    @Test
    void piecesReachAStorageThatTakesOnlyOneBufferPieceByPiece() throws Exception {
        Path img = Images.sparse(dir, "m.img", 1 << 20);
        try (IoEngine e = new SyncEngine(new SeedFunctionsOnly(Storages.openStorage(StorageSpec.of("file", img, false))))) {
            assertFalse(e.capabilities().vectored(), "wrapped: not vectored any more");
            ByteBuffer a = ByteBuffer.allocateDirect(4096);
            ByteBuffer b = ByteBuffer.allocate(4096);
            a.put(512, Images.pattern(512, 1));
            b.put(0, Images.pattern(1024, 2));
            int[] offsets = {512, 0};
            int[] lengths = {512, 1024};
            assertEquals(IoEngine.Submission.EXECUTED,
                    e.submit(Io.pieces(IoRequest.Op.WRITE, 8, new ByteBuffer[] {a, b}, offsets, lengths)));
            byte[] want = new byte[1536];
            System.arraycopy(Images.pattern(512, 1), 0, want, 0, 512);
            System.arraycopy(Images.pattern(1024, 2), 0, want, 512, 1024);
            assertArrayEquals(want, Images.readIndependently(img, 8 * 512, 1536));
            ByteBuffer c = ByteBuffer.allocateDirect(4096);
            ByteBuffer d = ByteBuffer.allocateDirect(4096);
            e.submit(Io.pieces(IoRequest.Op.READ, 8, new ByteBuffer[] {c, d}, offsets, lengths));
            byte[] got = new byte[1536];
            c.get(512, got, 0, 512);
            d.get(0, got, 512, 1024);
            assertArrayEquals(want, got);
            assertEquals(0, c.position(), "the pieces' positions are left alone");
        }
    }

    @Test
    void anOwnedBufferIsReadAndWrittenAsOne() throws Exception {
        Path img = Images.patterned(dir, "o.img", 1 << 20, 4);
        try (IoEngine e = Storages.open(StorageSpec.of("mmap", img, false))) {
            ByteBuffer owned = ByteBuffer.allocateDirect(8192);
            e.submit(new Io(IoRequest.Op.READ, 2, owned, new ByteBuffer[] {owned}, new int[] {0}, new int[] {8192}, false));
            byte[] got = new byte[8192];
            owned.get(0, got);
            assertArrayEquals(Arrays.copyOfRange(Images.pattern(1 << 20, 4), 1024, 9216), got);
        }
    }

    @Test
    void aWriteInPlaceIsFlushedLikeAWrite() throws Exception {
        Path img = Images.sparse(dir, "p.img", 1 << 20);
        try (IoEngine e = Storages.open(StorageSpec.of("mmap", img, false))) {
            assertTrue(e.capabilities().zeroCopy());
            ByteBuffer region = e.region(40, 4096);
            assertNotNull(region);
            region.put(e.regionOffset(40), Images.pattern(4096, 9));
            e.submit(new Io(IoRequest.Op.WRITE, 40, null, new ByteBuffer[0], new int[0], new int[] {4096}, true));
            e.submit(new Io(IoRequest.Op.FLUSH, 0, null, new ByteBuffer[0], new int[0], new int[0], false));
            assertArrayEquals(Images.pattern(4096, 9), Images.readIndependently(img, 40 * 512, 4096));
        }
    }

    @Test
    void failuresAreThrownAtSubmit() throws Exception {
        Path img = Images.sparse(dir, "r.img", 1 << 20);
        try (IoEngine e = Storages.open(StorageSpec.of("file", img, true))) {
            ByteBuffer owned = ByteBuffer.allocateDirect(512);
            StorageException x = assertThrows(StorageException.class, () -> e.submit(
                    new Io(IoRequest.Op.WRITE, 0, owned, new ByteBuffer[] {owned}, new int[] {0}, new int[] {512}, false)));
            assertTrue(x.getMessage().contains("read-only"), x.getMessage());
        }
    }

    @Test
    void aFailedFlushMakesEveryLaterFlushFailUntilTheDiskIsOpenedAgain() throws Exception {
        Path img = Images.sparse(dir, "f.img", 1 << 20);
        Storage file = Storages.openStorage(StorageSpec.of("file", img, false));
        int[] flushes = {0};
        Io flush = new Io(IoRequest.Op.FLUSH, 0, null, new ByteBuffer[0], new int[0], new int[0], false);
        try (IoEngine e = new SyncEngine(new FlushFailsOnce(file, flushes))) {
            StorageException first = assertThrows(StorageException.class, () -> e.submit(flush));
            assertTrue(first.getMessage().contains("EIO"), first.getMessage());
            StorageException second = assertThrows(StorageException.class, () -> e.submit(flush));
            assertTrue(second.getMessage().contains("an earlier flush of"), second.getMessage());
            assertTrue(second.getMessage().contains("connected again"), second.getMessage());
            assertEquals(1, flushes[0], "the storage's own flush (which would now succeed) is not asked again");
        }
        try (IoEngine again = Storages.open(StorageSpec.of("file", img, false))) {
            assertEquals(IoEngine.Submission.EXECUTED, again.submit(flush), "opened again: flushes work");
        }
    }

    /** The first flush fails as a failed fdatasync does; later ones would succeed. */
    private static final class FlushFailsOnce extends SeedFunctionsOnly {
        private final int[] flushes;

        FlushFailsOnce(Storage s, int[] flushes) {
            super(s);
            this.flushes = flushes;
        }

        @Override
        public void flush() {
            if (flushes[0]++ == 0) {
                throw new StorageException(null, "image f.img: Input/output error (EIO) while flushing");
            }
            super.flush();
        }
    }

    /** Hides what a storage can do beyond the seed's functions. */
    private static class SeedFunctionsOnly implements Storage {
        private final Storage s;

        SeedFunctionsOnly(Storage s) {
            this.s = s;
        }

        @Override
        public long sizeBytes() {
            return s.sizeBytes();
        }

        @Override
        public void read(long sector, ByteBuffer dst) {
            s.read(sector, dst);
        }

        @Override
        public void write(long sector, ByteBuffer src) {
            s.write(sector, src);
        }

        @Override
        public void flush() {
            s.flush();
        }

        @Override
        public void close() {
            s.close();
        }
    }
}
