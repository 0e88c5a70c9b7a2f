package io.xendisk.e2e;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/**
 * The assembled distribution ({@code xendisk.dist}) run as a user would, with
 * its own short run and log directories, plus the cleanup of every daemon and
 * sim xenstored it started.
 */
final class Dist implements AutoCloseable {
    /** The outcome of one CLI run. */
    record Result(int exit, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exit + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    static final Path HOME = Path.of(System.getProperty("xendisk.dist", "../src/target/xen-disk-java"));
    static final List<String> AS_NOBODY = List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups");

    final Path dir;
    final Path runDir;
    final Path logDir;
    private final List<Long> extraPids = new ArrayList<>();

    Dist() throws IOException {
        // unix socket paths must stay below 108 bytes: a short directory under /tmp
        dir = Files.createTempDirectory(Path.of("/tmp"), "xdj");
        runDir = dir.resolve("run");
        logDir = dir.resolve("log");
    }

    Path socket() {
        return runDir.resolve("control.sock");
    }

    Path lockFile() {
        return runDir.resolve("daemon.lock");
    }

    Path simPidFile() {
        return runDir.resolve("sim/xenstored.pid");
    }

    Result cli(String... args) throws IOException, InterruptedException {
        return run(List.of(), args);
    }

    /** Runs bin/xen-disk-java, prefixed by e.g. {@link #AS_NOBODY}. */
    Result run(List<String> prefix, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(HOME.resolve("bin/xen-disk-java").toString());
        cmd.addAll(List.of(args));
        return exec(cmd, Map.of());
    }

    /** Runs any command with this instance's environment; output goes through files so an inheriting child cannot hang us. */
    Result exec(List<String> cmd, Map<String, String> extraEnv) throws IOException, InterruptedException {
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        pb.environment().put("XEN_DISK_JAVA_RUNDIR", runDir.toString());
        pb.environment().put("XEN_DISK_JAVA_LOGDIR", logDir.toString());
        pb.environment().remove("XEN_DISK_JAVA_PLATFORM");
        pb.environment().putAll(extraEnv);
        Process p = pb.start();
        if (!p.waitFor(90, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(cmd + " did not finish");
        }
        Result r = new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
        Files.delete(out);
        Files.delete(err);
        return r;
    }

    /** Starts a process (e.g. a foreground daemon) with this instance's environment; it is killed on close. */
    Process start(List<String> cmd, Path output) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(output.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        pb.environment().put("XEN_DISK_JAVA_RUNDIR", runDir.toString());
        pb.environment().put("XEN_DISK_JAVA_LOGDIR", logDir.toString());
        pb.environment().remove("XEN_DISK_JAVA_PLATFORM");
        Process p = pb.start();
        extraPids.add(p.pid());
        return p;
    }

    static long readPid(Path file) {
        try {
            return Long.parseLong(Files.readString(file).trim());
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    long daemonPid() {
        return readPid(lockFile());
    }

    void remember(long pid) {
        extraPids.add(pid);
    }

    String daemonLog() throws IOException {
        Path log = logDir.resolve("daemon.log");
        return Files.exists(log) ? Files.readString(log) : "";
    }

    /** Whether this build has the sim platform's xenstored (merged from the sim branch). */
    static boolean hasSimXenstored() throws IOException {
        try (Stream<Path> jars = Files.list(HOME.resolve("lib"))) {
            for (Path jar : (Iterable<Path>) jars::iterator) {
                try (JarFile jf = new JarFile(jar.toFile())) {
                    if (jf.getEntry("io/xendisk/xen/sim/XenstoredMain.class") != null) {
                        return true;
                    }
                }
            }
        }
        return false;
    }

    /** Waits (bounded) until a process, child or not, is gone. */
    static void awaitExit(ProcessHandle h) {
        // not onExit(): for non-children the JDK polls with sleeps growing past a second
        for (int i = 0; i < 1500 && h.isAlive(); i++) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Kills, by pid, the daemon and sim xenstored of this run dir and any process we started; removes the dir. */
    @Override
    public void close() throws IOException {
        List<Long> pids = new ArrayList<>(extraPids);
        pids.add(daemonPid());
        pids.add(readPid(simPidFile()));
        List<ProcessHandle> killed = new ArrayList<>();
        for (long pid : pids) {
            Optional<ProcessHandle> h = pid > 0 ? ProcessHandle.of(pid) : Optional.empty();
            h.ifPresent(ph -> {
                ph.destroyForcibly();
                killed.add(ph);
            });
        }
        killed.forEach(Dist::awaitExit);
        try (Stream<Path> all = Files.walk(dir)) {
            all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
