package io.xendisk.storage.qcow2;

import io.xendisk.storage.Storage;
import io.xendisk.storage.StorageException;
import io.xendisk.storage.StorageSpec;
import io.xendisk.storage.Storages;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The qcow2 engine against QEMU: images made by qemu-img and qemu-io, served
 * through {@link Storages} beside a raw shadow that gets the same writes;
 * afterwards qemu-img check must call the image clean and qemu-img compare
 * must find it equal to the shadow, and the gold image must be untouched.
 */
class Qcow2StorageTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0} B clusters, compat {1}")
    @CsvSource({"512, 1.1", "4096, 1.1", "65536, 1.1", "2097152, 1.1", "65536, 0.10"})
    void randomWritesOverARawGoldMatchTheShadow(int clusterSize, String compat) throws Exception {
        Path gold = randomRaw("gold.raw", 12 * MIB, 1);
        String goldSum = sha(gold);
        Path img = dir.resolve("overlay.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-o", "cluster_size=" + clusterSize + ",compat=" + compat,
                "-b", gold.toString(), "-F", "raw", img.toString(), String.valueOf(16 * MIB));
        Path shadow = shadowOf(gold, 16 * MIB);
        exercise(img, shadow, 3000, 256, 42);
        assertClean(img);
        assertSameAs(img, shadow);
        assertEquals(goldSum, sha(gold), "the gold image is byte-identical");
    }

    @Test
    void aSmallClusterImageGrowsItsRefcountTable() throws Exception {
        Path img = dir.resolve("small.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-o", "cluster_size=512", img.toString(), String.valueOf(64 * MIB));
        Path shadow = shadowOf(null, 64 * MIB);
        // 24 MiB of 512 B clusters needs refcount blocks past the single table cluster qemu-img made
        try (Storage s = open(img, false); FileChannel sh = FileChannel.open(shadow, StandardOpenOption.WRITE)) {
            Random r = new Random(7);
            byte[] b = new byte[256 * 1024];
            for (long off = 0; off < 24 * MIB; off += b.length) {
                r.nextBytes(b);
                s.write(off >> 9, ByteBuffer.wrap(b));
                sh.write(ByteBuffer.wrap(b), off);
            }
            s.flush();
        }
        String info = QemuImg.ok("info", "--output=json", img.toString());
        assertTrue(info.contains("\"format\": \"qcow2\""), info);
        assertClean(img);
        assertSameAs(img, shadow);
    }

    @Test
    void aQcow2ChainWithARelativeNameReadsAsQemuDoes() throws Exception {
        Path gold = randomRaw("gold.raw", 8 * MIB, 2);
        Path base = dir.resolve("base.qcow2");
        QemuImg.ok("convert", "-q", "-O", "qcow2", gold.toString(), base.toString());
        Path mid = dir.resolve("mid.qcow2");
        Path top = dir.resolve("top.qcow2");
        // relative backing names, resolved against the naming image's directory
        QemuImg.ok("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", mid.toString());
        QemuImg.qemuIo(mid, "qcow2", "write -P 0xab 1M 192k");
        QemuImg.qemuIo(mid, "qcow2", "write -z 3M 128k");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", "-b", "mid.qcow2", "-F", "qcow2",
                top.toString(), String.valueOf(10 * MIB));
        QemuImg.qemuIo(top, "qcow2", "write -P 0x5c 1100k 8k");
        Path expected = dir.resolve("expected.raw");
        QemuImg.ok("convert", "-q", "-O", "raw", top.toString(), expected.toString());
        String baseSum = sha(base);
        String midSum = sha(mid);
        assertSameAs(top, expected);
        exercise(top, expected, 1500, 128, 9);
        assertClean(top);
        assertSameAs(top, expected);
        assertEquals(baseSum, sha(base), "the chain's base is untouched");
        assertEquals(midSum, sha(mid), "the chain's middle is untouched");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"zlib", "zstd"})
    void compressedClustersReadAndAreReplacedOnWrite(String compression) throws Exception {
        Path gold = textLikeRaw("gold.raw", 6 * MIB);
        Path img = dir.resolve("compressed.qcow2");
        QemuImg.ok("convert", "-q", "-c", "-O", "qcow2", "-o", "compression_type=" + compression, gold.toString(),
                img.toString());
        assertTrue(QemuImg.ok("info", img.toString()).contains("compression type: " + compression));
        Path shadow = shadowOf(gold, 6 * MIB);
        assertSameAs(img, shadow);
        try (Storage s = open(img, true)) {
            assertEquals(sha(gold), sha(s), "every compressed cluster inflates to the gold's bytes");
        }
        exercise(img, shadow, 1500, 64, 11);
        assertClean(img);
        assertSameAs(img, shadow);
    }

    @Test
    void zeroClustersReadAsZerosAndTakeWrites() throws Exception {
        Path gold = randomRaw("gold.raw", 4 * MIB, 3);
        Path img = dir.resolve("zeros.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-b", gold.toString(), "-F", "raw", img.toString());
        QemuImg.qemuIo(img, "qcow2", "write -z 0 1M");
        Path shadow = shadowOf(gold, 4 * MIB);
        try (FileChannel sh = FileChannel.open(shadow, StandardOpenOption.WRITE)) {
            sh.write(ByteBuffer.allocate((int) MIB), 0);
        }
        assertSameAs(img, shadow);
        exercise(img, shadow, 800, 64, 5);
        assertClean(img);
        assertSameAs(img, shadow);
    }

    @Test
    void dataSurvivesCloseAndReopen() throws Exception {
        Path gold = randomRaw("gold.raw", 4 * MIB, 4);
        Path img = dir.resolve("keep.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-b", gold.toString(), "-F", "raw", img.toString());
        byte[] data = new byte[12 * 1024];
        new Random(1).nextBytes(data);
        try (Storage s = Storages.openStorage(StorageSpec.of("qcow2", img, false))) {
            s.write(2049, ByteBuffer.wrap(data));
            s.flush();
        }
        try (Storage s = Storages.openStorage(StorageSpec.of("qcow2", img, true))) {
            ByteBuffer got = ByteBuffer.allocate(data.length);
            s.read(2049, got);
            assertArrayEquals(data, got.array(), "a linked clone keeps the guest's data over a disconnect");
        }
        Path raw = dir.resolve("keep.raw");
        QemuImg.ok("convert", "-q", "-O", "raw", img.toString(), raw.toString());
        byte[] seen = new byte[data.length];
        try (FileChannel c = FileChannel.open(raw)) {
            c.read(ByteBuffer.wrap(seen), 2049L * 512);
        }
        assertArrayEquals(data, seen, "QEMU reads what we wrote");
    }

    @Test
    void aReadOnlyOverlayRefusesWrites() throws Exception {
        Path img = dir.resolve("ro.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", img.toString(), "1M");
        try (Storage s = open(img, true)) {
            assertTrue(s.capabilities().readOnly());
            StorageException e = org.junit.jupiter.api.Assertions.assertThrows(StorageException.class,
                    () -> s.write(0, ByteBuffer.allocate(512)));
            assertTrue(e.getMessage().contains("read-only"), e.getMessage());
        }
    }

    @ParameterizedTest(name = "{0} B clusters, compat {1}, backing {2}")
    @CsvSource({"512, 1.1, true", "65536, 1.1, true", "65536, 1.1, false", "65536, 0.10, true", "65536, 0.10, false",
            "2097152, 1.1, true"})
    void discardsReadAsZerosAndFreeClusters(int clusterSize, String compat, boolean backed) throws Exception {
        Path gold = backed ? randomRaw("gold.raw", 12 * MIB, 8) : null;
        String goldSum = backed ? sha(gold) : null;
        Path img = dir.resolve("trim.qcow2");
        if (backed) {
            QemuImg.ok("create", "-q", "-f", "qcow2", "-o", "cluster_size=" + clusterSize + ",compat=" + compat,
                    "-b", gold.toString(), "-F", "raw", img.toString(), String.valueOf(16 * MIB));
        } else {
            QemuImg.ok("create", "-q", "-f", "qcow2", "-o", "cluster_size=" + clusterSize + ",compat=" + compat,
                    img.toString(), String.valueOf(16 * MIB));
        }
        Path shadow = shadowOf(gold, 16 * MIB);
        exercise(img, shadow, 2000, 2048, 9, true);
        assertClean(img);
        assertSameAs(img, shadow);
        try (Storage s = open(img, false)) {
            assertEquals(clusterSize, s.discardGranularity());
            s.discard(0, s.sizeSectors());
            s.flush();
        }
        assertClean(img);
        assertSameAs(img, shadowOf(null, 16 * MIB, "zeros.raw"));
        if (backed) {
            assertEquals(goldSum, sha(gold), "the gold image is byte-identical");
        }
        if (!backed || compat.equals("1.1")) {
            // no cluster holds data any more: QEMU maps the whole disk as zeros or unallocated
            String map = QemuImg.ok("map", "--output=json", img.toString());
            assertTrue(!map.contains("\"data\": true"), map);
        }
    }

    /** Random writes (sizes 1 to maxSectors sectors) to both, random reads compared after each. */
    private void exercise(Path img, Path shadow, int ops, int maxSectors, long seed) throws IOException {
        exercise(img, shadow, ops, maxSectors, seed, false);
    }

    /** The same, and with {@code discards} one op in four is a discard (zeros in the shadow). */
    private void exercise(Path img, Path shadow, int ops, int maxSectors, long seed, boolean discards) throws IOException {
        Random r = new Random(seed);
        try (Storage s = open(img, false); FileChannel sh = FileChannel.open(shadow, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            long sectors = s.sizeSectors();
            assertEquals(Files.size(shadow), s.sizeBytes());
            byte[] buf = new byte[maxSectors * 512];
            for (int i = 0; i < ops; i++) {
                int n = 1 + r.nextInt(maxSectors);
                long at = (long) (r.nextDouble() * (sectors - n + 1));
                if (discards && r.nextInt(4) == 0) {
                    s.discard(at, n);
                    sh.write(ByteBuffer.wrap(new byte[n * 512]), at * 512);
                } else if (r.nextInt(3) > 0) {
                    r.nextBytes(buf);
                    s.write(at, ByteBuffer.wrap(buf, 0, n * 512));
                    sh.write(ByteBuffer.wrap(buf, 0, n * 512), at * 512);
                } else {
                    ByteBuffer got = ByteBuffer.allocateDirect(n * 512);
                    s.read(at, got);
                    ByteBuffer want = ByteBuffer.allocate(n * 512);
                    sh.read(want, at * 512);
                    got.flip();
                    want.flip();
                    assertEquals(want, got, "read of " + n + " sectors at sector " + at + " after " + i + " ops");
                }
                if (i % 500 == 499) {
                    s.flush();
                }
            }
            s.flush();
        }
    }

    private static Storage open(Path img, boolean readOnly) {
        return Storages.openStorage(StorageSpec.of("qcow2", img, readOnly));
    }

    static void assertClean(Path img) {
        QemuImg.Result r = QemuImg.img("check", img.toString());
        assertEquals(0, r.exit(), "qemu-img check " + img + ":\n" + r.output());
    }

    static void assertSameAs(Path img, Path raw) {
        QemuImg.Result r = QemuImg.img("compare", "-f", "qcow2", "-F", "raw", img.toString(), raw.toString());
        assertEquals(0, r.exit(), "qemu-img compare " + img + " " + raw + ":\n" + r.output());
    }

    private Path randomRaw(String name, long size, long seed) throws IOException {
        Path p = dir.resolve(name);
        byte[] b = new byte[(int) size];
        new Random(seed).nextBytes(b);
        Files.write(p, b);
        return p;
    }

    /** Compressible bytes (qemu-img convert -c stores incompressible clusters uncompressed). */
    private Path textLikeRaw(String name, long size) throws IOException {
        Path p = dir.resolve(name);
        byte[] b = new byte[(int) size];
        Random r = new Random(5);
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) ('a' + r.nextInt(4));
        }
        // some clusters of random bytes too: those qemu-img keeps uncompressed
        byte[] noise = new byte[65536];
        r.nextBytes(noise);
        System.arraycopy(noise, 0, b, (int) (2 * MIB), noise.length);
        Files.write(p, b);
        return p;
    }

    /** A raw copy of {@code gold} (none: zeros) grown to {@code size} with zeros. */
    private Path shadowOf(Path gold, long size) throws IOException {
        return shadowOf(gold, size, "shadow.raw");
    }

    private Path shadowOf(Path gold, long size, String name) throws IOException {
        Path p = dir.resolve(name);
        if (gold != null) {
            Files.copy(gold, p);
        } else {
            Files.createFile(p);
        }
        if (Files.size(p) < size) {
            try (FileChannel c = FileChannel.open(p, StandardOpenOption.WRITE)) {
                c.write(ByteBuffer.allocate(1), size - 1);
            }
        }
        return p;
    }

    static String sha(Path p) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (FileChannel c = FileChannel.open(p)) {
            ByteBuffer b = ByteBuffer.allocate(1 << 20);
            while (c.read(b) >= 0) {
                b.flip();
                md.update(b);
                b.clear();
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static String sha(Storage s) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        ByteBuffer b = ByteBuffer.allocate(1 << 20);
        for (long at = 0; at < s.sizeBytes(); at += b.capacity()) {
            b.clear().limit((int) Math.min(b.capacity(), s.sizeBytes() - at));
            s.read(at >> 9, b);
            b.flip();
            md.update(b);
        }
        return HexFormat.of().formatHex(md.digest());
    }
}
