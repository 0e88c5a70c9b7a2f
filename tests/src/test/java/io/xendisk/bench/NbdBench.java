package io.xendisk.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A simulated guest's disk on an NBD server next to fio run directly against
 * the same server (Debian's fio, its nbd engine through libnbd), in the same
 * run, cell after cell in rounds so that both see the same machine. The
 * server is nbdkit's memory plugin on a Unix socket: what is measured is the
 * client side, ours (ring, daemon, NBD client) against libnbd's.
 *
 * <p>Run: {@code tests/bench/run-bench.sh nbd [seconds=5] [rounds=3] [imageMiB=256]}.
 */
public final class NbdBench {
    private record Cell(String name, String[] ours, String[] fio) {
    }

    private final Path work;
    private final BenchCli cli;

    private NbdBench(Path dist, Path work) {
        this.work = work;
        this.cli = new BenchCli(dist, work);
    }

    public static void main(String[] args) throws Exception {
        String seconds = args.length > 0 ? args[0] : "5";
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        long imageMiB = args.length > 2 ? Long.parseLong(args[2]) : 256;
        Path dist = Path.of(System.getProperty("xendisk.dist", "src/target/xen-disk-java")).toAbsolutePath();
        Path work = Files.createTempDirectory(Path.of(System.getProperty("xdj.bench.dir", "/dev/shm")), "xdjn");
        NbdBench b = new NbdBench(dist, work);
        Process server = null;
        try {
            server = b.nbdkit(imageMiB);
            b.run(seconds, rounds, imageMiB);
        } finally {
            b.cli.run("sim", "destroy", "bench");
            b.cli.run("shutdown");
            b.cli.run("sim", "stop");
            if (server != null) {
                server.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            try (var s = Files.walk(work)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private Path socket() {
        return work.resolve("nbd.sock");
    }

    private String uri() {
        return "nbd+unix:///?socket=" + socket();
    }

    private Process nbdkit(long imageMiB) throws Exception {
        Process p = new ProcessBuilder("nbdkit", "--exit-with-parent", "-f", "-U", socket().toString(), "memory",
                imageMiB + "M").redirectErrorStream(true).redirectOutput(work.resolve("nbdkit.log").toFile()).start();
        for (int i = 0; i < 200 && !Files.exists(socket()); i++) {
            if (!p.isAlive()) {
                throw new IllegalStateException("nbdkit exited (install Debian's nbdkit): "
                        + Files.readString(work.resolve("nbdkit.log")));
            }
            Thread.sleep(50);
        }
        return p;
    }

    private void run(String seconds, int rounds, long imageMiB) throws Exception {
        if (!Files.isExecutable(Path.of("/usr/bin/fio"))) {
            throw new IllegalStateException("/usr/bin/fio is missing: install Debian's fio (bash .ci/setup does)");
        }
        String fioVersion = BenchCli.check(exec(List.of("fio", "--version"))).trim();
        System.out.printf(Locale.ROOT, "# NBD: a simulated guest through xen-disk-java against fio's nbd engine%n");
        System.out.printf(Locale.ROOT, "machine: %d cpus, %s; %s; nbdkit memory %d MiB on a Unix socket;"
                        + " random cells %s s; %d rounds, medians%n%n", Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.vm.name") + " " + System.getProperty("java.version"), fioVersion, imageMiB,
                seconds, rounds);
        BenchCli.check(cli.run("sim", "guest", "bench", "--memory-mib", "128"));
        BenchCli.check(cli.run("connect", "bench", "--vdev", "xvdb", "--path", uri()));
        // data everywhere first, so that reads read something
        ours("seq-write", "--bs", "1M", "--size", imageMiB + "M");
        String size = imageMiB + "M";
        List<Cell> cells = new ArrayList<>();
        for (int qd : new int[] {1, 32}) {
            String q = Integer.toString(qd);
            cells.add(new Cell("rand-read 4k qd" + qd, new String[] {"rand-read", "--bs", "4k", "--qd", q, "--time", seconds},
                    new String[] {"--rw=randread", "--bs=4k", "--iodepth=" + q, "--runtime=" + seconds, "--time_based"}));
            cells.add(new Cell("rand-write 4k qd" + qd, new String[] {"rand-write", "--bs", "4k", "--qd", q, "--time", seconds},
                    new String[] {"--rw=randwrite", "--bs=4k", "--iodepth=" + q, "--runtime=" + seconds, "--time_based"}));
        }
        cells.add(new Cell("seq-read 1M", new String[] {"seq-read", "--bs", "1M", "--size", size},
                new String[] {"--rw=read", "--bs=1M", "--iodepth=1", "--size=" + size}));
        cells.add(new Cell("seq-write 1M", new String[] {"seq-write", "--bs", "1M", "--size", size},
                new String[] {"--rw=write", "--bs=1M", "--iodepth=1", "--size=" + size}));
        Map<String, double[][]> results = new LinkedHashMap<>();
        for (Cell c : cells) {
            results.put(c.name(), new double[4][rounds]);
        }
        for (int r = 0; r < rounds; r++) {
            for (Cell c : cells) {
                double[][] res = results.get(c.name());
                double[] o = ours(c.ours());
                double[] f = fio(c.fio());
                res[0][r] = o[0];
                res[1][r] = o[1];
                res[2][r] = f[0];
                res[3][r] = f[1];
            }
        }
        BenchCli.check(cli.run("disconnect", "bench", "xvdb"));
        System.out.println("| workload | ours MB/s | ours IOPS | fio MB/s | fio IOPS | ours/fio |");
        System.out.println("|---|---|---|---|---|---|");
        for (Map.Entry<String, double[][]> e : results.entrySet()) {
            double[][] v = e.getValue();
            double om = median(v[0]), oi = median(v[1]), fm = median(v[2]), fi = median(v[3]);
            System.out.printf(Locale.ROOT, "| %s | %.1f | %.0f | %.1f | %.0f | %.2f (%s) |%n", e.getKey(), om, oi, fm, fi,
                    om / fm, spread(v[0], v[2]));
        }
        System.out.println();
    }

    /** The ratio's range over the rounds, for the noise. */
    private static String spread(double[] ours, double[] fio) {
        double lo = Double.MAX_VALUE, hi = 0;
        for (int i = 0; i < ours.length; i++) {
            double q = ours[i] / fio[i];
            lo = Math.min(lo, q);
            hi = Math.max(hi, q);
        }
        return String.format(Locale.ROOT, "%.2f-%.2f", lo, hi);
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /** {MB/s, IOPS} of a simulated guest's workload. */
    private double[] ours(String... workload) throws Exception {
        List<String> a = new ArrayList<>(List.of("sim", "run", "bench", "xvdb"));
        a.addAll(List.of(workload));
        String out = BenchCli.check(cli.run(a.toArray(new String[0])));
        String line = out.lines().filter(l -> l.startsWith(workload[0] + " ")).reduce((x, y) -> y).orElse("");
        if (!line.contains(" errors=0")) {
            throw new IllegalStateException(String.join(" ", workload) + ": " + line);
        }
        return new double[] {Double.parseDouble(BenchCli.field(line, "MB/s")), Double.parseDouble(BenchCli.field(line, "IOPS"))};
    }

    private static final Pattern FIO_RESULT = Pattern.compile(
            "\"(read|write)\"\\s*:\\s*\\{[^{]*?\"bw_bytes\"\\s*:\\s*(\\d+),[^{]*?\"iops\"\\s*:\\s*([0-9.]+)");

    /** {MB/s, IOPS} of fio's nbd engine on the same export. */
    private double[] fio(String... options) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("fio", "--name=bench", "--ioengine=nbd", "--uri=" + uri(),
                "--output-format=json"));
        cmd.addAll(List.of(options));
        String json = BenchCli.check(exec(cmd));
        Matcher m = FIO_RESULT.matcher(json);
        double bytes = 0, iops = 0;
        while (m.find()) {
            bytes += Double.parseDouble(m.group(2));
            iops += Double.parseDouble(m.group(3));
        }
        if (iops == 0) {
            throw new IllegalStateException("no result from " + String.join(" ", cmd) + ":\n" + json);
        }
        return new double[] {bytes / 1e6, iops};
    }

    private String[] exec(List<String> cmd) throws IOException, InterruptedException {
        Path out = Files.createTempFile(work, "f", ".txt");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("timed out: " + cmd);
        }
        String[] r = {Integer.toString(p.exitValue()), Files.readString(out, StandardCharsets.UTF_8), ""};
        Files.delete(out);
        return r;
    }
}
