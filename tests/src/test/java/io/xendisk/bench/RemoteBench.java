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
 * A simulated guest's disk on a remote store next to fio run directly against
 * the same store, in the same run, cell after cell in rounds so that both see
 * the same machine: what is measured is the client side, ours (ring, daemon,
 * engine) against the client library fio uses.
 * <ul>
 *   <li>{@code nbd}: nbdkit's memory plugin on a Unix socket; fio's nbd engine (libnbd).</li>
 *   <li>{@code rbd}: an image on a one-node Ceph cluster (tests/ceph/micro-ceph.sh, a memstore
 *       OSD); fio's rbd engine (librbd, as our engine).</li>
 * </ul>
 *
 * <p>Run: {@code tests/bench/run-bench.sh nbd|rbd [seconds=5] [rounds=3] [imageMiB=256]}.
 */
public final class RemoteBench {
    private record Cell(String name, String[] ours, String[] fio) {
    }

    /** A store both clients reach: started, described, reached by each, stopped. */
    private interface Store extends AutoCloseable {
        /** How the table's heading names it. */
        String describe();

        /** What {@code connect --path} takes. */
        String target();

        /** fio's engine options for the same store. */
        List<String> fioEngine();

        /** The environment fio needs (CEPH_CONF). */
        Map<String, String> fioEnv();

        @Override
        void close() throws Exception;
    }

    private final Path work;
    private final BenchCli cli;

    private RemoteBench(BenchCli cli) {
        this.work = cli.work();
        this.cli = cli;
    }

    public static void main(String[] args) throws Exception {
        String kind = args.length > 0 ? args[0] : "nbd";
        String seconds = args.length > 1 ? args[1] : "5";
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        long imageMiB = args.length > 3 ? Long.parseLong(args[3]) : 256;
        BenchCli cli = BenchCli.inFreshDir("xdjr");
        RemoteBench b = new RemoteBench(cli);
        try (Store store = switch (kind) {
            case "nbd" -> b.nbdkit(imageMiB);
            case "rbd" -> b.ceph(imageMiB);
            default -> throw new IllegalArgumentException("remote store '" + kind + "': nbd or rbd");
        }) {
            b.run(store, seconds, rounds, imageMiB);
        } finally {
            cli.tearDown("bench");
        }
    }

    private Store nbdkit(long imageMiB) throws Exception {
        Path socket = work.resolve("nbd.sock");
        Process p = Nbdkit.memory(socket, imageMiB, work.resolve("nbdkit.log"));
        String uri = "nbd+unix:///?socket=" + socket;
        return new Store() {
            public String describe() {
                return "nbdkit memory " + imageMiB + " MiB on a Unix socket, fio's nbd engine";
            }

            public String target() {
                return uri;
            }

            public List<String> fioEngine() {
                return List.of("--ioengine=nbd", "--uri=" + uri);
            }

            public Map<String, String> fioEnv() {
                return Map.of();
            }

            public void close() throws Exception {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        };
    }

    private Store ceph(long imageMiB) throws Exception {
        Path script = Path.of("tests/ceph/micro-ceph.sh").toAbsolutePath();
        // on disk, not in work: the OSD keeps the data in memory anyway, and its logs are kept for a look
        Path dir = Files.createTempDirectory("xdj-bench-ceph");
        BenchCli.check(exec(List.of("bash", script.toString(), "start", dir.toString()), Map.of()));
        String conf = dir.resolve("ceph.conf").toString();
        // fio as our engine reaches the image: librbd's cache off, every write on the OSD when acknowledged
        Path fioConf = dir.resolve("fio-ceph.conf");
        Files.writeString(fioConf, Files.readString(Path.of(conf)) + "\n[client]\nrbd cache = false\n");
        // two images alike: ours holds its exclusive lock while connected, so fio cannot write it
        for (String image : List.of("bench", "bench-fio")) {
            BenchCli.check(exec(List.of("rbd", "-c", conf, "create", "--size", imageMiB + "M", "rbd/" + image),
                    Map.of()));
        }
        return new Store() {
            public String describe() {
                return "an RBD image of " + imageMiB + " MiB on a one-node Ceph (memstore OSD, loopback), fio's rbd"
                        + " engine; rbd cache off for both";
            }

            public String target() {
                return "rbd:rbd/bench:conf=" + conf;
            }

            public List<String> fioEngine() {
                return List.of("--ioengine=rbd", "--clientname=admin", "--pool=rbd", "--rbdname=bench-fio");
            }

            public Map<String, String> fioEnv() {
                return Map.of("CEPH_CONF", fioConf.toString());
            }

            public void close() throws Exception {
                exec(List.of("bash", script.toString(), "stop", dir.toString()), Map.of());
            }
        };
    }

    private void run(Store store, String seconds, int rounds, long imageMiB) throws Exception {
        if (!Files.isExecutable(Path.of("/usr/bin/fio"))) {
            throw new IllegalStateException("/usr/bin/fio is missing: install Debian's fio (bash .ci/setup does)");
        }
        String fioVersion = BenchCli.check(exec(List.of("fio", "--version"), Map.of())).trim();
        System.out.printf(Locale.ROOT, "# %s: a simulated guest through xen-disk-java against fio%n", store.target());
        System.out.printf(Locale.ROOT, "machine: %d cpus, %s; %s; %s; random cells %s s; %d rounds, medians%n%n",
                Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.vm.name") + " " + System.getProperty("java.version"), fioVersion,
                store.describe(), seconds, rounds);
        BenchCli.check(cli.run("sim", "guest", "bench", "--memory-mib", "128"));
        BenchCli.check(cli.run("connect", "bench", "--vdev", "xvdb", "--path", store.target()));
        // data everywhere first, so that reads read something
        String size = imageMiB + "M";
        ours("seq-write", "--bs", "1M", "--size", size);
        fio(store, "--rw=write", "--bs=1M", "--iodepth=1", "--size=" + size);
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
                double[] f = fio(store, c.fio());
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

    /** {MB/s, IOPS} of fio on the same store. */
    private double[] fio(Store store, String... options) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("fio", "--name=bench", "--output-format=json"));
        cmd.addAll(store.fioEngine());
        cmd.addAll(List.of(options));
        String json = BenchCli.check(exec(cmd, store.fioEnv()));
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

    private String[] exec(List<String> cmd, Map<String, String> env) throws IOException, InterruptedException {
        Path out = Files.createTempFile(work, "f", ".txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("timed out: " + cmd);
        }
        String[] r = {Integer.toString(p.exitValue()), Files.readString(out, StandardCharsets.UTF_8), ""};
        Files.delete(out);
        return r;
    }
}
