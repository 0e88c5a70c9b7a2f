package io.xendisk.e2e;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

import io.xendisk.guest.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Disk images for the e2e tests, read and written independently of the product's storage engines. */
final class Images {
    private Images() {
    }

    /** A sparse image of {@code bytes}, optionally with {@code marker} at offset 0. */
    static Path sparse(Path file, long bytes, String marker) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(bytes);
            if (marker != null) {
                f.write(marker.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            }
        }
        return file;
    }

    /** Hex SHA-256 of a whole file. */
    static String sha256(Path file) throws IOException {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            ByteBuffer buf = ByteBuffer.allocate(1 << 20);
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                while (ch.read(buf) >= 0) {
                    buf.flip();
                    md.update(buf);
                    buf.clear();
                }
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /** Writes the verify workload's pattern (seed, disk sectors) over {@code size} bytes at {@code offset}. */
    static void writePattern(Path file, long offset, int size, long seed) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        Pattern.fill(buf, 0, offset >> 9, size >> 9, seed);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            while (buf.hasRemaining()) {
                ch.write(buf, offset + buf.position());
            }
        }
    }

    /**
     * Asserts the file holds, at {@code offset}, the pattern the guest's
     * {@code verify --offset offset --size size --seed seed} writes: read with a
     * plain FileChannel, independent of the daemon.
     */
    static void assertPattern(Path file, long offset, int size, long seed) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (buf.hasRemaining()) {
                if (ch.read(buf, offset + buf.position()) < 0) {
                    throw new AssertionError(file + " ends at " + (offset + buf.position()) + ", before the pattern does");
                }
            }
        }
        int bad = Pattern.firstMismatch(buf, 0, offset >> 9, size >> 9, seed);
        assertEquals(-1, bad, file + ": sector " + ((offset >> 9) + bad) + " does not hold the seed-" + seed + " pattern");
    }

    /** Whether {@code size} bytes at {@code offset} are all zero. */
    static boolean zeros(Path file, long offset, int size) throws IOException {
        byte[] b = new byte[size];
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            f.seek(offset);
            f.readFully(b);
        }
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    /** The bytes the filesystem allocated to {@code file} (st_blocks x 512), from stat(1), as an operator reads it. */
    static long allocatedBytes(Path file) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("stat", "-c", "%b %B", file.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII).trim();
        if (p.waitFor() != 0) {
            throw new IOException("stat " + file + ": " + out);
        }
        String[] f = out.split(" ");
        return Long.parseLong(f[0]) * Long.parseLong(f[1]);
    }
}
