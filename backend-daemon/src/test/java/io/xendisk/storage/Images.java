package io.xendisk.storage;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Test helpers: images on disk, patterns, independent reads, open-file flags. */
final class Images {
    private Images() {
    }

    /** A file of {@code size} bytes filled with a seeded random pattern. */
    static Path patterned(Path dir, String name, int size, long seed) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, pattern(size, seed));
        return p;
    }

    /** A sparse file of {@code size} bytes (all zeros, no blocks allocated). */
    static Path sparse(Path dir, String name, long size) throws IOException {
        Path p = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
        }
        return p;
    }

    static byte[] pattern(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** Reads {@code len} bytes at {@code off} through a channel of our own, not the engine's. */
    static byte[] readIndependently(Path p, long off, int len) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(len);
        try (FileChannel c = FileChannel.open(p, StandardOpenOption.READ)) {
            while (b.hasRemaining()) {
                if (c.read(b, off + b.position()) < 0) {
                    break;
                }
            }
        }
        return b.array();
    }

    static String sha256(Path p) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
        try (FileChannel c = FileChannel.open(p, StandardOpenOption.READ)) {
            while (c.read(buf) >= 0) {
                buf.flip();
                md.update(buf);
                buf.clear();
            }
        }
        return java.util.HexFormat.of().formatHex(md.digest());
    }

    /** The {@code flags:} (octal) of every descriptor of this process open on {@code p}. */
    static List<Integer> openFlags(Path p) throws IOException {
        Path real = p.toRealPath();
        List<Integer> flags = new ArrayList<>();
        try (var fds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            for (Path fd : fds) {
                Path target;
                try {
                    target = Files.readSymbolicLink(fd);
                } catch (IOException e) {
                    continue; // closed while we listed
                }
                if (!target.equals(real)) {
                    continue;
                }
                for (String line : Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd.getFileName()))) {
                    if (line.startsWith("flags:")) {
                        flags.add(Integer.parseInt(line.substring(6).trim(), 8));
                    }
                }
            }
        }
        return flags;
    }

    /** The bytes the filesystem allocated to the file (st_blocks x 512), from stat(1), as an operator reads it. */
    static long allocatedBytes(Path p) throws IOException, InterruptedException {
        Process pr = new ProcessBuilder("stat", "-c", "%b %B", p.toString()).redirectErrorStream(true).start();
        String out = new String(pr.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII).trim();
        if (pr.waitFor() != 0) {
            throw new IOException("stat " + p + ": " + out);
        }
        String[] f = out.split(" ");
        return Long.parseLong(f[0]) * Long.parseLong(f[1]);
    }

    /** lseek(SEEK_DATA) from 0: offset of the first allocated byte, or -1 when the file is all hole. */
    static long firstData(Path p) {
        int fd = Posix.C.open(p.toString(), Posix.O_RDONLY);
        try {
            return Posix.C.lseek(fd, 0, 3 /* SEEK_DATA */);
        } finally {
            Posix.C.close(fd);
        }
    }
}
