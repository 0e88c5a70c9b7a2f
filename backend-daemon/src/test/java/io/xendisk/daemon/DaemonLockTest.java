package io.xendisk.daemon;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

class DaemonLockTest {
    @TempDir
    Path dir;

    @Test
    void secondHolderIsToldThePidAndTheFileGoesOnClose() throws Exception {
        Path file = dir.resolve("daemon.lock");
        try (DaemonLock lock = DaemonLock.acquire(file, 4242)) {
            assertEquals(4242, DaemonLock.readPid(file));
            AlreadyRunningException e = assertThrows(AlreadyRunningException.class,
                    () -> DaemonLock.acquire(file, 1));
            assertEquals(4242, e.pid());
        }
        assertFalse(Files.exists(file));
        try (DaemonLock again = DaemonLock.acquire(file, 5)) {
            assertEquals(5, DaemonLock.readPid(file));
        }
    }

    @Test
    void aLeftoverFileWithoutLockIsTakenOver() throws Exception {
        Path file = dir.resolve("daemon.lock");
        Files.writeString(file, "99999999\n"); // a kill -9'd daemon's file
        try (DaemonLock lock = DaemonLock.acquire(file, 7)) {
            assertEquals(7, DaemonLock.readPid(file));
        }
    }
}
