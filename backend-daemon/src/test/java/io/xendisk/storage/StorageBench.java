package io.xendisk.storage;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Rough throughput of each engine, printed as a table; not a test and never
 * asserted. 1 MiB sequential and 4 KiB random (QD1, one thread) reads and
 * writes on an image in /dev/shm (so the numbers are memory and syscall cost,
 * not a disk), next to a memcpy baseline between two direct buffers.
 *
 * <p>Run: {@code mvn -o -q -pl backend-daemon test-compile} then
 * {@code java -cp backend-daemon/target/classes:backend-daemon/target/test-classes:JNA_AND_LOG4J_JARS
 * io.xendisk.storage.StorageBench [dir=/dev/shm] [sizeMiB=1024] [secondsPerCell=1]}
 * (the jars: jna, log4j-api, log4j-core from ~/.m2). Each engine first writes
 * the whole image once, so cow cells measure copied pages, not first faults.
 */
public final class StorageBench {
    private static final int SEQ = 1 << 20;
    private static final int RND = 4096;

    private StorageBench() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "/dev/shm");
        long size = (args.length > 1 ? Long.parseLong(args[1]) : 1024) << 20;
        double seconds = args.length > 2 ? Double.parseDouble(args[2]) : 1.0;
        Path img = Files.createTempFile(dir, "storagebench", ".img");
        try {
            fill(img, size);
            ByteBuffer seqBuf = ByteBuffer.allocateDirect(SEQ);
            ByteBuffer rndBuf = ByteBuffer.allocateDirect(RND);
            System.out.printf("image %s, %d MiB, %.1f s per cell, MB/s (1 MB = 10^6 B)%n", img, size >> 20, seconds);
            System.out.printf("%-8s %12s %12s %12s %12s%n", "engine", "seq-read", "seq-write", "rand-read", "rand-write");
            memcpyRow(size, seconds);
            for (String engine : new String[] {"discard", "file", "mmap", "cow"}) {
                StorageSpec spec = engine.equals("discard") ? StorageSpec.discard(size)
                        : StorageSpec.of(engine, img, false);
                try (Storage s = Storages.openStorage(spec)) {
                    // warm up: JIT, and every page of the image faulted in (cow: copied) once
                    run(s, seqBuf, true, false, seconds);
                    run(s, rndBuf, false, true, seconds / 2);
                    double sw = run(s, seqBuf, true, false, seconds);
                    double sr = run(s, seqBuf, false, false, seconds);
                    double rw = run(s, rndBuf, true, true, seconds);
                    double rr = run(s, rndBuf, false, true, seconds);
                    s.flush();
                    System.out.printf("%-8s %12.0f %12.0f %12.0f %12.0f%n", engine, sr, sw, rr, rw);
                }
            }
        } finally {
            Files.deleteIfExists(img);
        }
    }

    /** Writes the whole image once so that no cell measures holes or first-touch allocation. */
    private static void fill(Path img, long size) throws java.io.IOException {
        ByteBuffer b = ByteBuffer.allocateDirect(SEQ);
        new SplittableRandom(2).ints(SEQ / 4).forEach(b::putInt);
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(size);
            for (long off = 0; off < size; off += SEQ) {
                b.clear();
                while (b.hasRemaining()) {
                    f.getChannel().write(b, off + b.position());
                }
            }
        }
    }

    /** MB/s of reads or writes of buf.capacity() bytes, sequential or at random aligned offsets. */
    private static double run(Storage s, ByteBuffer buf, boolean write, boolean random, double seconds) {
        long blocks = s.sizeBytes() / buf.capacity();
        int sectorsPerBlock = buf.capacity() / Storage.SECTOR_SIZE;
        SplittableRandom rnd = new SplittableRandom(1);
        long bytes = 0;
        long block = 0;
        long start = System.nanoTime();
        long deadline = start + (long) (seconds * 1e9);
        long now;
        do {
            for (int i = 0; i < 64; i++) {
                long b = random ? rnd.nextLong(blocks) : block++ % blocks;
                buf.clear();
                if (write) {
                    s.write(b * sectorsPerBlock, buf);
                } else {
                    s.read(b * sectorsPerBlock, buf);
                }
                bytes += buf.capacity();
            }
            now = System.nanoTime();
        } while (now < deadline);
        return bytes / ((now - start) / 1e9) / 1e6;
    }

    private static void memcpyRow(long size, double seconds) {
        ByteBuffer big = ByteBuffer.allocateDirect((int) Math.min(size, 1L << 30));
        ByteBuffer seq = ByteBuffer.allocateDirect(SEQ);
        ByteBuffer rnd4k = ByteBuffer.allocateDirect(RND);
        double[] r = new double[4];
        for (int k = 0; k < 4; k++) {
            ByteBuffer buf = k < 2 ? seq : rnd4k;
            boolean random = k >= 2;
            boolean write = (k & 1) == 1;
            int blocks = big.capacity() / buf.capacity();
            SplittableRandom rnd = new SplittableRandom(1);
            long bytes = 0;
            int block = 0;
            long start = System.nanoTime();
            long deadline = start + (long) (seconds * 1e9);
            long now;
            do {
                for (int i = 0; i < 64; i++) {
                    int off = (random ? rnd.nextInt(blocks) : block++ % blocks) * buf.capacity();
                    if (write) {
                        big.put(off, buf, 0, buf.capacity());
                    } else {
                        buf.put(0, big, off, buf.capacity());
                    }
                    bytes += buf.capacity();
                }
                now = System.nanoTime();
            } while (now < deadline);
            r[k] = bytes / ((now - start) / 1e9) / 1e6;
        }
        System.out.printf(Locale.ROOT, "%-8s %12.0f %12.0f %12.0f %12.0f%n", "memcpy", r[0], r[1], r[2], r[3]);
    }
}
