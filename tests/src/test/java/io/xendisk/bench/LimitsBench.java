package io.xendisk.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;

/**
 * What I/O limits give, printed, never asserted: one simulated guest with two
 * disks on one daemon. The first is limited (1000 IOPS, then 50 MB/s of
 * reads, set live with blkdeviotune) and read as fast as the guest can for
 * the whole cell; the table shows what it got against the limit. The second
 * disk, unlimited, reads alone and then while the first runs against its
 * limit, in alternating rounds: a limited disk should hold up no other.
 *
 * <p>Run: {@code tests/bench/run-bench.sh limits [seconds=10] [rounds=3]}.
 */
public final class LimitsBench {
    private final Path work;
    private final BenchCli cli;

    private LimitsBench(BenchCli cli) {
        this.work = cli.work();
        this.cli = cli;
    }

    public static void main(String[] args) throws Exception {
        int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        BenchCli cli = BenchCli.inFreshDir("xdjl");
        LimitsBench b = new LimitsBench(cli);
        try {
            b.run(seconds, rounds);
        } finally {
            cli.tearDown("limits");
        }
    }

    private void run(int seconds, int rounds) throws Exception {
        String time = Integer.toString(seconds);
        BenchCli.check(cli.run("sim", "guest", "limits", "--memory-mib", "96"));
        for (String vdev : List.of("xvdb", "xvdc")) {
            Path img = work.resolve(vdev + ".img");
            try (var f = java.nio.channels.FileChannel.open(img, java.nio.file.StandardOpenOption.CREATE_NEW,
                    java.nio.file.StandardOpenOption.WRITE)) {
                f.truncate(512L << 20);
                f.write(java.nio.ByteBuffer.allocate(1), (512L << 20) - 1);
            }
            BenchCli.check(cli.run("connect", "limits", "--vdev", vdev, "--path", img.toString(), "--storage", "mmap"));
        }
        System.out.printf(Locale.ROOT, "# I/O limits: one simulated guest, two mmap disks; %d s cells, %d rounds%n%n",
                seconds, rounds);
        System.out.println("| limit on xvdb | workload | got (each round) | got / limit |");
        System.out.println("|---|---|---|---|");
        BenchCli.check(cli.run("blkdeviotune", "limits", "xvdb", "--total-iops-sec", "1000"));
        List<Double> iops = new ArrayList<>();
        for (int r = 0; r < rounds; r++) {
            iops.add(field(workload("xvdb", "rand-read", "--bs", "4k", "--qd", "16", "--time", time), "IOPS"));
        }
        System.out.printf(Locale.ROOT, "| total_iops_sec 1000 | rand-read 4k qd16 | %s IOPS | %s |%n", list(iops, 0),
                ratios(iops, 1000));
        BenchCli.check(cli.run("blkdeviotune", "limits", "xvdb", "--total-iops-sec", "0", "--read-bytes-sec",
                "50000000"));
        List<Double> mbs = new ArrayList<>();
        for (int r = 0; r < rounds; r++) {
            // bytes over the seconds the workload ran, from its own line
            String line = workload("xvdb", "rand-read", "--bs", "64k", "--qd", "16", "--time", time);
            mbs.add(field(line, "bytes") / field(line, "seconds") / 1e6);
        }
        System.out.printf(Locale.ROOT, "| read_bytes_sec 50000000 | rand-read 64k qd16 | %s MB/s | %s |%n%n",
                list(mbs, 1), ratios(mbs, 50));

        BenchCli.check(cli.run("blkdeviotune", "limits", "xvdb", "--read-bytes-sec", "0", "--total-iops-sec", "1000"));
        System.out.println("| xvdc (unlimited), rand-read 4k qd16 | alone | while xvdb runs at its 1000 IOPS limit |"
                + " during / alone |");
        System.out.println("|---|---|---|---|");
        List<Double> alone = new ArrayList<>();
        List<Double> during = new ArrayList<>();
        for (int r = 0; r < rounds; r++) {
            alone.add(field(workload("xvdc", "rand-read", "--bs", "4k", "--qd", "16", "--time", time), "IOPS"));
            CompletableFuture<String> limited = CompletableFuture.supplyAsync(() -> {
                try {
                    return workload("xvdb", "rand-read", "--bs", "4k", "--qd", "16", "--time", Integer.toString(seconds + 2));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            Thread.sleep(1000);
            during.add(field(workload("xvdc", "rand-read", "--bs", "4k", "--qd", "16", "--time", time), "IOPS"));
            limited.get();
        }
        double a = median(alone);
        double d = median(during);
        System.out.printf(Locale.ROOT, "| IOPS, median of %d | %.0f | %.0f | %.2f |%n%n", rounds, a, d, d / a);
    }

    private String workload(String vdev, String... args) throws Exception {
        List<String> a = new ArrayList<>(List.of("sim", "run", "limits", vdev));
        a.addAll(List.of(args));
        String out = BenchCli.check(cli.run(a.toArray(new String[0])));
        String line = out.lines().filter(l -> l.startsWith(args[0] + " ")).reduce((x, y) -> y).orElse("");
        if (!line.contains(" errors=0")) {
            throw new IllegalStateException(String.join(" ", a) + ": " + out);
        }
        return line;
    }

    private static double field(String line, String key) {
        return Double.parseDouble(BenchCli.field(line, key));
    }

    private static String list(List<Double> v, int decimals) {
        List<String> s = new ArrayList<>();
        for (double x : v) {
            s.add(String.format(Locale.ROOT, "%." + decimals + "f", x));
        }
        return String.join(", ", s);
    }

    private static String ratios(List<Double> v, double limit) {
        List<String> s = new ArrayList<>();
        for (double x : v) {
            s.add(String.format(Locale.ROOT, "%.3f", x / limit));
        }
        return String.join(", ", s);
    }

    private static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        s.sort(null);
        return s.size() % 2 == 1 ? s.get(s.size() / 2) : (s.get(s.size() / 2 - 1) + s.get(s.size() / 2)) / 2;
    }
}
