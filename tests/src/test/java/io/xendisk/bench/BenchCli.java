package io.xendisk.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The distribution's CLI as the benchmarks run it: run and log directories of their own under {@code work}. */
final class BenchCli {
    private final Path dist;
    private final Path work;

    BenchCli(Path dist, Path work) {
        this.dist = dist;
        this.work = work;
    }

    /**
     * The distribution's CLI ({@code -Dxendisk.dist}, src/target/xen-disk-java by default) in a
     * fresh work directory named {@code prefix...} under {@code -Dxdj.bench.dir} (tmpfs by default).
     */
    static BenchCli inFreshDir(String prefix) throws IOException {
        Path dist = Path.of(System.getProperty("xendisk.dist", "src/target/xen-disk-java")).toAbsolutePath();
        return new BenchCli(dist, Files.createTempDirectory(Path.of(System.getProperty("xdj.bench.dir", "/dev/shm")), prefix));
    }

    /** Where the images, the run and log directories and the outputs go. */
    Path work() {
        return work;
    }

    /** Destroys the simulated guests named, stops the daemon and the simulated platform, deletes the work directory. */
    void tearDown(String... guests) throws IOException, InterruptedException {
        for (String g : guests) {
            run("sim", "destroy", g);
        }
        run("shutdown");
        run("sim", "stop");
        run("shutdown");
        try (var s = Files.walk(work)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** Runs {@code bin/xen-disk-java ARGS}; returns {exit, stdout, stderr}. */
    String[] run(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(dist.resolve("bin/xen-disk-java").toString());
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile(work, "o", ".txt");
        Path err = Files.createTempFile(work, "e", ".txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().put("XEN_DISK_JAVA_RUNDIR", work.resolve("run").toString());
        pb.environment().put("XEN_DISK_JAVA_LOGDIR", work.resolve("log").toString());
        Process p = pb.start();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("timed out: " + cmd);
        }
        String[] r = {Integer.toString(p.exitValue()), Files.readString(out, StandardCharsets.UTF_8),
            Files.readString(err, StandardCharsets.UTF_8)};
        Files.delete(out);
        Files.delete(err);
        return r;
    }

    /** The output of a command that must succeed. */
    static String check(String[] r) {
        if (!r[0].equals("0")) {
            throw new IllegalStateException("command failed (exit " + r[0] + "): " + r[1] + r[2]);
        }
        return r[1];
    }

    /** The value of {@code key=} in a workload's result line, or "" when absent. */
    static String field(String line, String key) {
        int i = line.indexOf(" " + key + "=");
        if (i < 0) {
            return "";
        }
        int s = i + key.length() + 2;
        int e = line.indexOf(' ', s);
        return line.substring(s, e < 0 ? line.length() : e);
    }
}
