package io.xendisk.storage.qcow2;

import io.xendisk.storage.Storage;
import io.xendisk.storage.StorageException;
import io.xendisk.storage.StorageSpec;
import io.xendisk.storage.Storages;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * What the qcow2 engine must not serve, made by qemu-img itself where it can
 * make it (encryption, subclusters, data files, snapshots, qcow version 1) and
 * by patching a header field where only a crash or a newer QEMU makes one.
 * Each refusal names the feature and what to do; nothing refused is touched.
 */
class Qcow2RefusalTest {
    /** Byte offsets of the version 3 header fields we patch (docs/interop/qcow2.txt). */
    private static final int INCOMPATIBLE = 72;
    private static final int AUTOCLEAR = 88;

    @TempDir
    Path dir;

    @Test
    void anEncryptedImageIsRefused() throws Exception {
        Path img = dir.resolve("luks.qcow2");
        String[] create = {"create", "-q", "-f", "qcow2", "--object", "secret,id=s0,data=password",
            "-o", "encrypt.format=luks,encrypt.key-secret=s0", img.toString(), "1M"};
        // qemu-img times its key derivation by thread CPU time, and gives up when the clock saw none
        for (int attempt = 1; ; attempt++) {
            Files.deleteIfExists(img);
            QemuImg.Result r = QemuImg.img(create);
            if (r.exit() == 0) {
                break;
            }
            if (attempt == 4 || !r.output().contains("Unable to get accurate CPU usage")) {
                fail("qemu-img " + String.join(" ", create) + " exited " + r.exit() + ":\n" + r.output());
            }
        }
        assertRefused(img, false, "encrypted qcow2 images are not served");
    }

    @Test
    void extendedL2EntriesAreRefusedByName() throws Exception {
        Path img = dir.resolve("ext.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-o", "extended_l2=on", img.toString(), "1M");
        assertRefused(img, false, "extended L2 entries");
    }

    @Test
    void anExternalDataFileIsRefused() throws Exception {
        Path img = dir.resolve("meta.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-o", "data_file=" + dir.resolve("data.raw"), img.toString(), "1M");
        assertRefused(img, false, "external data file");
    }

    @Test
    void qcowVersion1IsRefused() throws Exception {
        Path img = dir.resolve("old.qcow");
        QemuImg.ok("create", "-q", "-f", "qcow", img.toString(), "1M");
        assertRefused(img, false, "qcow2 version 1");
    }

    @Test
    void aDirtyImageIsRefusedUntilRepaired() throws Exception {
        Path img = dir.resolve("dirty.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on", img.toString(), "1M");
        patchLong(img, INCOMPATIBLE, 1L); // what a crash under lazy refcounts leaves
        assertRefused(img, true, "marked dirty", "qemu-img check -r all");
        QemuImg.ok("check", "-q", "-r", "all", img.toString());
        try (Storage s = open(img, false)) {
            s.write(0, ByteBuffer.allocate(512));
            s.flush();
        }
        Qcow2StorageTest.assertClean(img);
    }

    @Test
    void theCorruptBitAllowsReadingOnly() throws Exception {
        Path img = dir.resolve("corrupt.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", img.toString(), "1M");
        QemuImg.qemuIo(img, "qcow2", "write -P 0x5a 0 64k");
        patchLong(img, INCOMPATIBLE, 2L);
        assertRefused(img, false, "marked corrupt", "read-only");
        try (Storage s = open(img, true)) {
            ByteBuffer b = ByteBuffer.allocate(512);
            s.read(0, b);
            assertEquals(0x5a, b.get(0) & 0xff, "read-only, it still reads its data");
        }
    }

    @Test
    void unknownIncompatibleFeaturesAreRefusedByBit() throws Exception {
        Path img = dir.resolve("future.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", img.toString(), "1M");
        patchLong(img, INCOMPATIBLE, 1L << 40);
        assertRefused(img, true, "incompatible feature bits 0x10000000000");
    }

    @Test
    void internalSnapshotsAllowReadingOnly() throws Exception {
        Path img = dir.resolve("snap.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", img.toString(), "1M");
        QemuImg.ok("snapshot", "-c", "before", img.toString());
        assertRefused(img, false, "1 internal snapshot", "qemu-img snapshot -d");
        open(img, true).close();
    }

    @Test
    void unknownAutoclearBitsAreClearedByTheFirstWrite() throws Exception {
        Path img = dir.resolve("autoclear.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", img.toString(), "1M");
        patchLong(img, AUTOCLEAR, 1L << 33);
        try (Storage s = open(img, false)) {
            ByteBuffer b = ByteBuffer.allocate(512);
            s.read(0, b);
            assertEquals(1L << 33, readLong(img, AUTOCLEAR), "reads leave the header alone");
            s.write(0, ByteBuffer.allocate(4096));
            s.flush();
        }
        assertEquals(0, readLong(img, AUTOCLEAR), "the extensions those bits vouch for were not kept up to date");
        Qcow2StorageTest.assertClean(img);
    }

    @Test
    void aMissingBackingFileIsNamed() throws Exception {
        Path gold = dir.resolve("gold.raw");
        Files.write(gold, new byte[1 << 20]);
        Path img = dir.resolve("overlay.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-b", "gold.raw", "-F", "raw", img.toString());
        Files.delete(gold);
        assertRefused(img, true, "gold.raw", "is not found", "qemu-img rebase");
    }

    @Test
    void aRawImageIsNotQcow2() throws Exception {
        Path raw = dir.resolve("disk.raw");
        Files.write(raw, new byte[1 << 20]);
        assertRefused(raw, true, "not a qcow2 image", "engine file");
    }

    @ParameterizedTest(name = "engine {0}")
    @ValueSource(strings = {"file", "mmap", "cow"})
    void rawEnginesRefuseAQcow2ImageAndNameTheQcow2Engine(String engine) throws Exception {
        Path img = dir.resolve("disk.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", img.toString(), "1M");
        byte[] before = Files.readAllBytes(img);
        StorageException e = assertThrows(StorageException.class,
                () -> Storages.openStorage(StorageSpec.of(engine, img, false)).close());
        assertTrue(e.getMessage().contains("is a qcow2 image") && e.getMessage().contains("--storage qcow2")
                && e.getMessage().contains("target=qcow2:"), e.getMessage());
        assertTrue(java.util.Arrays.equals(before, Files.readAllBytes(img)), "the image is untouched");
    }

    private static Storage open(Path img, boolean readOnly) {
        return Storages.openStorage(StorageSpec.of("qcow2", img, readOnly));
    }

    /** Opening must fail with every one of {@code words} in the message, and leave the image as it was. */
    private static void assertRefused(Path img, boolean readOnlyToo, String... words) throws IOException {
        byte[] before = Files.readAllBytes(img);
        StorageException e = assertThrows(StorageException.class, () -> open(img, false).close());
        for (String w : words) {
            assertTrue(e.getMessage().contains(w), "'" + w + "' in: " + e.getMessage());
        }
        assertTrue(e.getMessage().contains(img.toString()), e.getMessage());
        if (readOnlyToo) {
            assertThrows(StorageException.class, () -> open(img, true).close());
        }
        assertTrue(java.util.Arrays.equals(before, Files.readAllBytes(img)), "a refused image is untouched");
    }

    private static void patchLong(Path img, int offset, long value) throws IOException {
        try (FileChannel ch = FileChannel.open(img, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(8).putLong(0, value), offset);
        }
    }

    private static long readLong(Path img, int offset) throws IOException {
        try (FileChannel ch = FileChannel.open(img, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(8);
            ch.read(b, offset);
            return b.getLong(0);
        }
    }
}
