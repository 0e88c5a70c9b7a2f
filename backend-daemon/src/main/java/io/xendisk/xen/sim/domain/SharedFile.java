package io.xendisk.xen.sim.domain;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Creates and maps the small shared tables of a simulated domain (grant table, port table). */
final class SharedFile {
    private SharedFile() {
    }

    /**
     * Creates {@code path} (must not exist: FileAlreadyExistsException) with
     * {@code size} zero bytes and maps it shared. The file appears at its full
     * size at once (sized under a temporary name, then hard-linked), so a
     * process racing to open it never sees it half-made.
     */
    static MappedByteBuffer create(Path path, int size) throws IOException {
        Path tmp = Files.createTempFile(path.getParent(), "." + path.getFileName(), ".new");
        try {
            MappedByteBuffer b;
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.allocate(1), size - 1L);
                b = map(ch, size);
            }
            Files.createLink(path, tmp);
            return b;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Maps an existing file shared, whole. */
    static MappedByteBuffer open(Path path) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long size = ch.size();
            if (size > Integer.MAX_VALUE) {
                throw new IOException(path + ": " + size + " bytes is too large for a simulated table");
            }
            return map(ch, (int) size);
        }
    }

    private static MappedByteBuffer map(FileChannel ch, int size) throws IOException {
        MappedByteBuffer b = ch.map(FileChannel.MapMode.READ_WRITE, 0, size);
        b.order(ByteOrder.LITTLE_ENDIAN);
        return b;
    }
}
