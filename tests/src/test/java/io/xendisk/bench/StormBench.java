package io.xendisk.bench;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * What a storming guest costs the host, printed, never asserted: one daemon,
 * a victim guest reading 4 KiB at random (qd 8) from its disk and a storm
 * guest kicking its event channel with an empty ring ({@code hostile
 * event-storm}), in rounds that alternate the victim alone and the victim
 * during the storm, then the storm alone. Per cell: the victim's IOPS and
 * the daemon's CPU (utime + stime from /proc, as a share of one core).
 *
 * <p>On Xen a storming guest spins its own vCPU, not dom0's, so on a machine
 * with two or more CPUs the storm guest (and this benchmark with the CLI
 * processes it starts) is pinned to the last CPU and the daemon and the
 * victim guest to the others ({@code taskset}); with one CPU nothing is
 * pinned and the table says so.
 *
 * <p>Run: {@code tests/bench/run-bench.sh storm [seconds=10] [rounds=3]}.
 */
public final class StormBench {
    private final Path work;
    private final BenchCli cli;

    private StormBench(BenchCli cli) {
        this.work = cli.work();
        this.cli = cli;
    }

    public static void main(String[] args) throws Exception {
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        BenchCli cli = BenchCli.inFreshDir("xdjs");
        StormBench b = new StormBench(cli);
        try {
            b.run(seconds, rounds);
        } finally {
            cli.tearDown("victim", "storm");
        }
    }

    private void run(int seconds, int rounds) throws Exception {
        for (String g : List.of("victim", "storm")) {
            check(cli("sim", "guest", g));
            Path img = work.resolve(g + ".img");
            try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
                f.setLength(64L << 20);
            }
            check(cli("connect", g, "--vdev", "xvdb", "--storage", "file", "--path", img.toString()));
        }
        long daemon = Long.parseLong(Files.readString(work.resolve("run/daemon.lock")).trim());
        String placement = pin(daemon);
        victim(2); // warm-up
        List<String> rows = new ArrayList<>();
        for (int r = 1; r <= rounds; r++) {
            double[] alone = measure(daemon, () -> victim(seconds));
            CompletableFuture<String> storm = CompletableFuture.supplyAsync(() -> storm(seconds + 2));
            Thread.sleep(1000); // the storm under way before the victim starts
            double[] during = measure(daemon, () -> victim(seconds));
            String said = storm.get(seconds + 120L, TimeUnit.SECONDS);
            rows.add(String.format(Locale.ROOT, "| %d | %.0f | %.0f | %.2f | %.0f%% | %.0f%% |", r, alone[0], during[0],
                    during[0] / alone[0], alone[1] * 100, during[1] * 100));
            System.err.println("storm guest: " + said.strip());
        }
        double[] stormOnly = measure(daemon, () -> {
            storm(seconds);
            return 0;
        });
        System.out.printf(Locale.ROOT, "# event storm: %d s cells, victim rand-read 4k qd8 on a file disk; %s%n%n", seconds,
                placement);
        System.out.println("| round | victim IOPS alone | victim IOPS in storm | ratio | daemon CPU alone | daemon CPU in storm |");
        System.out.println("|---|---|---|---|---|---|");
        rows.forEach(System.out::println);
        System.out.printf(Locale.ROOT, "%nstorm alone (victim idle): daemon CPU %.1f%% of a core%n", stormOnly[1] * 100);
    }

    /** Pins the storm guest (and this process) apart from the daemon and the victim; says where each runs. */
    private String pin(long daemon) throws Exception {
        int cpus = Runtime.getRuntime().availableProcessors();
        if (cpus < 2) {
            return "one CPU: nothing pinned, the storm guest shares it with the daemon";
        }
        String last = Integer.toString(cpus - 1);
        String rest = cpus == 2 ? "0" : "0-" + (cpus - 2);
        taskset(rest, daemon);
        taskset(rest, guestPid("victim"));
        taskset(last, guestPid("storm"));
        taskset(last, ProcessHandle.current().pid());
        return "daemon and victim guest on CPU " + rest + ", storm guest on CPU " + last;
    }

    private static void taskset(String cpus, long pid) throws Exception {
        Process p = new ProcessBuilder("taskset", "-a", "-cp", cpus, Long.toString(pid)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IllegalStateException("taskset -a -cp " + cpus + " " + pid + " failed: " + out);
        }
    }

    /** The process of the simulated guest {@code name}: the pid file beside its domain's name file. */
    private long guestPid(String name) throws IOException {
        try (var s = Files.walk(work.resolve("run"))) {
            for (Path f : (Iterable<Path>) s.filter(f -> f.getFileName().toString().equals("name"))::iterator) {
                Path pid = f.resolveSibling("pid");
                if (Files.readString(f).strip().equals(name) && Files.exists(pid)) {
                    return Long.parseLong(Files.readString(pid).strip());
                }
            }
        }
        throw new IllegalStateException("no pid file for guest " + name + " under " + work.resolve("run"));
    }

    @FunctionalInterface
    private interface Cell {
        double run() throws Exception;
    }

    /** Runs a cell; returns {its result, the daemon's CPU over it as a share of one core}. */
    private static double[] measure(long pid, Cell cell) throws Exception {
        long t0 = System.nanoTime();
        long c0 = cpuTicks(pid);
        double v = cell.run();
        long c1 = cpuTicks(pid);
        double wall = (System.nanoTime() - t0) / 1e9;
        return new double[] {v, (c1 - c0) / 100.0 / wall}; // USER_HZ is 100 on Linux
    }

    private static long cpuTicks(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime (fields 14 and 15)
    }

    private double victim(int seconds) throws Exception {
        String out = check(cli("sim", "run", "victim", "xvdb", "rand-read", "--bs", "4k", "--qd", "8",
                "--time", Integer.toString(seconds)));
        String line = out.lines().filter(l -> l.startsWith("rand-read ")).reduce((x, y) -> y).orElse("");
        String iops = BenchCli.field(line, "IOPS");
        if (iops.isEmpty()) {
            throw new IllegalStateException("no IOPS in: " + out);
        }
        return Double.parseDouble(iops);
    }

    private String storm(int seconds) {
        try {
            return check(cli("sim", "run", "storm", "xvdb", "hostile", "event-storm", "--seconds", Integer.toString(seconds)));
        } catch (IOException | InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String check(String[] r) {
        return BenchCli.check(r);
    }

    private String[] cli(String... args) throws IOException, InterruptedException {
        return cli.run(args);
    }
}
