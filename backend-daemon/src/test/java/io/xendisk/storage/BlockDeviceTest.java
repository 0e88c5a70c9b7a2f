package io.xendisk.storage;

import io.xendisk.RequiredTools;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Engines on a real block device (a loop device over a temp file), where
 * st_size is 0 and the size must come from the device. Fails without losetup
 * (Debian's mount package); skipped where loop devices cannot be set up (not
 * root, containers without /dev/loop*), a privilege rather than a tool.
 */
class BlockDeviceTest {
    private static final int SIZE = 8 << 20;

    @TempDir
    Path dir;

    private String loop;

    private static final Path LOSETUP = Path.of("/usr/sbin/losetup");

    @BeforeEach
    void attach() throws Exception {
        RequiredTools.require(LOSETUP, "mount");
        Path backing = Images.patterned(dir, "backing.img", SIZE, 12);
        Process p = new ProcessBuilder(LOSETUP.toString(), "--find", "--show", backing.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        boolean done = p.waitFor(20, TimeUnit.SECONDS);
        assumeTrue(done && p.exitValue() == 0 && out.startsWith("/dev/"), "cannot set up a loop device: " + out);
        loop = out;
    }

    @AfterEach
    void detach() throws Exception {
        if (loop != null) {
            new ProcessBuilder(LOSETUP.toString(), "-d", loop).inheritIO().start().waitFor(20, TimeUnit.SECONDS);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "mmap", "cow"})
    void servesABlockDevice(String engine) {
        byte[] data = Images.pattern(8192, 13);
        try (Storage s = Storages.openStorage(StorageSpec.of(engine, Path.of(loop), false))) {
            assertEquals(SIZE, s.sizeBytes());
            ByteBuffer dst = ByteBuffer.allocate(4096);
            s.read(1, dst);
            assertArrayEquals(java.util.Arrays.copyOfRange(Images.pattern(SIZE, 12), 512, 4608), dst.array());
            s.write(100, ByteBuffer.wrap(data));
            s.flush();
            ByteBuffer back = ByteBuffer.allocate(8192);
            s.read(100, back);
            assertArrayEquals(data, back.array());
        }
    }
}
