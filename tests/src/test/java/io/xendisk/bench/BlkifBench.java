package io.xendisk.bench;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The workload benchmark of the data path, printed as tables, never asserted:
 * the real daemon and a simulated guest, each in its own JVM, talking through
 * shared memory exactly as in production on the simulated platform. Per
 * storage engine: 1 MiB sequential write and read, 4 KiB random read and
 * write at queue depth 1, 8 and 32 (MB/s, IOPS, p50/p99 latency), and in the
 * same run the machine's single-thread memcpy bandwidth, the ceiling for a
 * copy-based data path.
 *
 * <p>Run: {@code tests/bench/run-bench.sh [engines=discard,file,mmap,cow,qcow2] [imageMiB=256] [seconds=3]}.
 */
public final class BlkifBench {
    private final Path work;
    private final BenchCli cli;

    private BlkifBench(BenchCli cli) {
        this.work = cli.work();
        this.cli = cli;
    }

    public static void main(String[] args) throws Exception {
        List<String> engines = List.of((args.length > 0 ? args[0] : "discard,file,mmap,cow,qcow2").split(","));
        long imageMiB = args.length > 1 ? Long.parseLong(args[1]) : 256;
        String seconds = args.length > 2 ? args[2] : "3";
        BenchCli cli = BenchCli.inFreshDir("xdjb");
        BlkifBench b = new BlkifBench(cli);
        try {
            b.run(engines, imageMiB, seconds);
        } finally {
            cli.tearDown("bench");
        }
    }

    private void run(List<String> engines, long imageMiB, String seconds) throws Exception {
        double memcpy = memcpyMBps();
        System.out.printf(Locale.ROOT, "# xen-disk-java data path benchmark%n");
        System.out.printf(Locale.ROOT, "machine: %d cpus, %s; images in %s (%s); %d MiB image; random cells %s s each%n",
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.vm.name") + " " + System.getProperty("java.version"),
                work, Files.getFileStore(work).type(), imageMiB, seconds);
        System.out.printf(Locale.ROOT, "single-thread memcpy (1 MiB blocks, 256 MiB working set): %.0f MB/s%n%n", memcpy);
        // BENCH_GUEST_SEGMENTS: what the guest takes per INDIRECT request at most (as Linux's
        // xen_blkfront.max_indirect_segments; 32 by default), of what the daemon offers
        String segments = System.getenv().getOrDefault("BENCH_GUEST_SEGMENTS", "32");
        System.out.printf(Locale.ROOT, "guest: up to %s segments per request; daemon config %s%n%n", segments,
                System.getenv().getOrDefault("XEN_DISK_JAVA_CONFIG", "(none)"));
        check(cli("sim", "guest", "bench", "--memory-mib", "128", "--max-indirect-segments", segments));
        for (String engine : engines) {
            Path img = work.resolve(engine + ".img");
            Path gold = work.resolve("gold.raw");
            if (engine.startsWith("qcow2")) {
                // qcow2: an empty image as qemu-img makes it (64 KiB clusters), every first write allocates;
                // qcow2-gold: an overlay over a raw gold image, every first partial write copies gold bytes
                List<String> create = new ArrayList<>(List.of("qemu-img", "create", "-q", "-f", "qcow2"));
                if (engine.equals("qcow2-gold")) {
                    try (RandomAccessFile f = new RandomAccessFile(gold.toFile(), "rw")) {
                        f.setLength(imageMiB << 20);
                    }
                    create.addAll(List.of("-b", gold.toString(), "-F", "raw"));
                } else if (!engine.equals("qcow2")) {
                    throw new IllegalArgumentException("engine " + engine + ": qcow2 or qcow2-gold");
                }
                create.addAll(List.of(img.toString(), imageMiB + "M"));
                Process p = new ProcessBuilder(create).inheritIO().start();
                if (p.waitFor() != 0) {
                    throw new IllegalStateException("qemu-img create failed (install Debian's qemu-utils)");
                }
            } else {
                try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
                    f.setLength(imageMiB << 20);
                }
            }
            String storage = engine.startsWith("qcow2") ? "qcow2" : engine;
            if (engine.equals("discard")) {
                check(cli("connect", "bench", "--vdev", "xvdb"));
            } else {
                check(cli("connect", "bench", "--vdev", "xvdb", "--storage", storage, "--path", img.toString()));
            }
            List<String[]> rows = new ArrayList<>();
            if (engine.startsWith("qcow2")) {
                // first touches: each cluster's first 4 KiB write allocates it (and copies the gold's
                // bytes around it for qcow2-gold); the other 15 writes of a 64 KiB cluster are in place
                rows.add(cell("seq-write 4k 64M (fresh)", "seq-write", "--bs", "4k", "--size", "64M"));
            }
            // write first: the reads then see real data, not holes
            rows.add(cell("seq-write 1M", "seq-write", "--bs", "1M", "--size", imageMiB + "M"));
            rows.add(cell("seq-read 1M", "seq-read", "--bs", "1M", "--size", imageMiB + "M"));
            rows.add(cell("seq-read 1M (2nd)", "seq-read", "--bs", "1M", "--size", imageMiB + "M"));
            // BENCH_SEQ_ONLY=1: the 1 MiB cells alone (an A/B of request sizes in rounds)
            for (int qd : "1".equals(System.getenv("BENCH_SEQ_ONLY")) ? new int[0] : new int[] {1, 8, 32}) {
                rows.add(cell("rand-read 4k qd" + qd, "rand-read", "--bs", "4k", "--qd", Integer.toString(qd), "--time", seconds));
                rows.add(cell("rand-write 4k qd" + qd, "rand-write", "--bs", "4k", "--qd", Integer.toString(qd), "--time", seconds));
            }
            check(cli("disconnect", "bench", "xvdb"));
            System.out.printf(Locale.ROOT, "## engine %s%n%n", engine);
            System.out.println("| workload | MB/s | IOPS | p50 us | p99 us | x memcpy |");
            System.out.println("|---|---|---|---|---|---|");
            for (String[] r : rows) {
                double mbs = r[1].isEmpty() ? 0 : Double.parseDouble(r[1]);
                System.out.printf(Locale.ROOT, "| %s | %s | %s | %s | %s | %.2f |%n", r[0], r[1], r[2], r[3], r[4], mbs / memcpy);
            }
            System.out.println();
            Files.deleteIfExists(img);
            Files.deleteIfExists(gold);
        }
    }

    /** One workload; returns {name, MB/s, IOPS, p50, p99}. */
    private String[] cell(String name, String workload, String... args) throws Exception {
        List<String> a = new ArrayList<>(List.of("sim", "run", "bench", "xvdb", workload));
        a.addAll(List.of(args));
        String out = check(cli(a.toArray(new String[0])));
        String line = out.lines().filter(l -> l.startsWith(workload + " ")).reduce((x, y) -> y).orElse("");
        if (!line.contains(" errors=0")) {
            System.err.println("warning: " + name + ": " + line);
        }
        return new String[] {name, field(line, "MB/s"), field(line, "IOPS"), field(line, "lat_p50_us"), field(line, "lat_p99_us")};
    }

    private static String field(String line, String key) {
        return BenchCli.field(line, key);
    }

    private static String check(String[] r) {
        return BenchCli.check(r);
    }

    private String[] cli(String... args) throws IOException, InterruptedException {
        return cli.run(args);
    }

    /** Single-thread copy bandwidth between direct buffers, 1 MiB at a time, over 256 MiB (beyond the caches). */
    static double memcpyMBps() {
        int mib = 256;
        ByteBuffer src = ByteBuffer.allocateDirect(mib << 20);
        ByteBuffer dst = ByteBuffer.allocateDirect(mib << 20);
        for (int i = 0; i < src.capacity(); i += 4096) {
            src.put(i, (byte) i);
            dst.put(i, (byte) 1);
        }
        double best = 0;
        for (int round = 0; round < 5; round++) {
            long t0 = System.nanoTime();
            for (int off = 0; off < src.capacity(); off += 1 << 20) {
                dst.put(off, src, off, 1 << 20);
            }
            long t1 = System.nanoTime();
            best = Math.max(best, (double) src.capacity() / ((t1 - t0) / 1e9) / 1e6);
        }
        return best;
    }
}
