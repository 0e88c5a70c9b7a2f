package io.xendisk.api;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LogTailTest {
    @TempDir
    Path dir;

    @Test
    void lastLinesAndOnlyTheNewOnes() throws Exception {
        Path log = dir.resolve("d.log");
        Files.writeString(log, "old 1\nold 2\n");
        long mark = Files.size(log);
        Files.writeString(log, "old 1\nold 2\nnew 1\nnew 2\n");
        assertEquals("  old 2\n  new 1\n  new 2\n", LogTail.of(log, 3));
        assertEquals("  new 1\n  new 2\n", LogTail.since(log, mark, 15));
        assertTrue(LogTail.since(log, Files.size(log), 15).contains("nothing new"));
        assertTrue(LogTail.of(dir.resolve("missing.log"), 3).contains("cannot read"));
    }
}
