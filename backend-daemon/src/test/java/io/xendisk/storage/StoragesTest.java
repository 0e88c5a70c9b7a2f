package io.xendisk.storage;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

class StoragesTest {
    @TempDir
    Path dir;

    @Test
    void unknownEngineListsTheKnownOnes() {
        StorageException e = assertThrows(StorageException.class,
                () -> Storages.openStorage(StorageSpec.of("qcow9", dir.resolve("x"), false)));
        // other tests may have plugged in engines sorting after these (the registry is global)
        assertTrue(e.getMessage().startsWith("unknown storage engine 'qcow9' (known: cow, discard, file, mmap"),
                e.getMessage());
    }

    @Test
    void newEnginesPlugInByName() {
        Storage mine = Storages.openStorage(StorageSpec.discard(4096));
        Storages.register(new StorageEngine() {
            @Override
            public String name() {
                return "zz-test-mine";
            }

            @Override
            public Storage openStorage(StorageSpec spec) {
                return mine;
            }
        });
        assertTrue(Storages.engines().contains("zz-test-mine"));
        assertSame(mine, Storages.openStorage(new StorageSpec("zz-test-mine", null, null, false, OptionalLong.empty())));
        assertThrows(IllegalArgumentException.class, () -> Storages.register(new StorageEngine() {
            @Override
            public String name() {
                return "file";
            }

            @Override
            public Storage openStorage(StorageSpec spec) {
                return null;
            }
        }));
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "mmap", "cow"})
    void missingImageNamesThePath(String engine) {
        Path p = dir.resolve("nope.img");
        StorageException e = assertThrows(StorageException.class, () -> Storages.openStorage(StorageSpec.of(engine, p, false)));
        assertEquals("image " + p + " not found (check --path / target=)", e.getMessage());
        assertEquals(p, e.image());
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "mmap", "cow"})
    void directoryIsRefused(String engine) {
        StorageException e = assertThrows(StorageException.class, () -> Storages.openStorage(StorageSpec.of(engine, dir, false)));
        assertTrue(e.getMessage().startsWith("image " + dir + " is a directory, not a disk image"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "mmap", "cow"})
    void sizeNotAMultipleOf512IsRefused(String engine) throws IOException {
        Path p = dir.resolve("odd.img");
        Files.write(p, new byte[1000]);
        StorageException e = assertThrows(StorageException.class, () -> Storages.openStorage(StorageSpec.of(engine, p, false)));
        assertEquals("image " + p + " is 1000 bytes, not a multiple of 512 (check it is the right file,"
                + " or grow it with truncate -s 1024)", e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "mmap", "cow"})
    void emptyImageIsRefused(String engine) throws IOException {
        Path p = Files.createFile(dir.resolve("empty.img"));
        StorageException e = assertThrows(StorageException.class, () -> Storages.openStorage(StorageSpec.of(engine, p, false)));
        assertTrue(e.getMessage().contains("is empty"), e.getMessage());
    }

    @Test
    void charDeviceIsRefused() {
        Path p = Path.of("/dev/null");
        StorageException e = assertThrows(StorageException.class, () -> Storages.openStorage(StorageSpec.of("file", p, false)));
        assertTrue(e.getMessage().contains("not a regular file or block device"), e.getMessage());
    }

    @Test
    void unreadableImageSaysPermissionDenied() throws IOException {
        Path p = dir.resolve("secret.img");
        Files.write(p, new byte[4096]);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("---------"));
        assumeFalse(Files.isReadable(p), "running as root: permissions do not stop us");
        StorageException e = assertThrows(StorageException.class, () -> Storages.openStorage(StorageSpec.of("file", p, true)));
        assertTrue(e.getMessage().startsWith("image " + p + ": Permission denied"), e.getMessage());
    }

    @Test
    void permissionMessageFromTheJdkNamesPathAndRemedy() {
        Path p = Path.of("/images/secret.img");
        StorageException e = StorageException.io(p, "opening it", new AccessDeniedException(p.toString()));
        assertEquals("image /images/secret.img: permission denied while opening it (check the image's owner"
                + " and mode, the directories above it and the daemon's user)", e.getMessage());
    }

    @Test
    void diskFullSaysWhatToDo() {
        Path p = Path.of("/x/y.img");
        StorageException e = StorageException.io(p, "writing at sector 8", new IOException("No space left on device"));
        assertEquals("image /x/y.img: No space left on device while writing at sector 8"
                + " (free space on the filesystem holding it)", e.getMessage());
        assertEquals("image /x/y.img: No space left on device while flushing (free space on the filesystem holding it)",
                StorageException.errno(p, "flushing", 28).getMessage());
    }

    @Test
    void imageEnginesRefuseAnExplicitSizeAndDiscardRefusesAPath() throws IOException {
        Path p = Images.sparse(dir, "s.img", 4096);
        assertThrows(StorageException.class,
                () -> Storages.openStorage(new StorageSpec("file", p, null, false, OptionalLong.of(4096))));
        assertThrows(StorageException.class,
                () -> Storages.openStorage(new StorageSpec("discard", p, null, false, OptionalLong.empty())));
        assertThrows(StorageException.class,
                () -> Storages.openStorage(new StorageSpec("file", null, null, false, OptionalLong.empty())));
        assertThrows(IllegalArgumentException.class, () -> StorageSpec.discard(1000));
    }
}
