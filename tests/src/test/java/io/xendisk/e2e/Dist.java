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
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import io.xendisk.blkif.Vdev;

/**
 * The assembled distribution ({@code xendisk.dist}) run as a user would, with
 * its own short run and log directories, plus the cleanup of every daemon,
 * sim xenstored and simulated guest it started; helpers for guests, their
 * disks' xenstore nodes (through Debian's xenstore tools) and list counters.
 */
final class Dist implements AutoCloseable {
    /** The outcome of one CLI run. */
    record Result(int exit, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exit + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    /** A simulated guest started through {@code sim guest}. */
    record Guest(String name, int domid, long pid) {
        /** Its frontend directory of disk {@code vdev} in xenstore. */
        String frontend(String vdev) {
            return "/local/domain/" + domid + "/device/vbd/" + Vdev.devid(vdev);
        }

        /** Our backend directory of its disk {@code vdev} in xenstore. */
        String backend(String vdev) {
            return "/local/domain/0/backend/xen-disk-java/" + domid + "/" + Vdev.devid(vdev);
        }

        /** The VBD key {@code domid/devid} of its disk {@code vdev}, as list and status print it. */
        String vbd(String vdev) {
            return domid + "/" + Vdev.devid(vdev);
        }
    }

    private static final Pattern GUEST_STARTED =
            Pattern.compile("guest (\\S+) started: domain (\\d+), pid (\\d+)");
    private static final Pattern COUNTER = Pattern.compile("(?<= )([a-z-]+)=(\\d+)");

    static final Path HOME = Path.of(System.getProperty("xendisk.dist", "../src/target/xen-disk-java"));
    static final List<String> AS_NOBODY = List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups");

    /**
     * Fails naming the fix when the distribution's {@code file} (e.g.
     * bin/xen-disk-java) is missing: the reactor build assembles it before these tests.
     */
    static void assertBuilt(String file) {
        if (!Files.isExecutable(HOME.resolve(file))) {
            throw new AssertionError("no " + HOME + "/" + file + ": run the reactor build (mvn verify) from the top");
        }
    }

    final Path dir;
    final Path runDir;
    final Path logDir;
    private final List<Long> extraPids = new ArrayList<>();
    /** Set for every command of this instance, so also for the daemon the first one starts. */
    final Map<String, String> env = new java.util.HashMap<>();

    Dist() throws IOException {
        // unix socket paths must stay below 108 bytes: a short directory under /tmp
        dir = Files.createTempDirectory(Path.of("/tmp"), "xdj");
        runDir = dir.resolve("run");
        logDir = dir.resolve("log");
    }

    /** A config file that does not exist: the host's /etc/xen-disk-java/config.xml must not steer the tests. */
    Path noConfig() {
        return dir.resolve("no-config.xml");
    }

    /** Writes the settings of {@code body} into the config file the daemon reads when it starts. */
    void writeConfig(String body) throws IOException {
        Files.writeString(noConfig(), "<config xmlns=\"https://xen-disk-java.org/xmlns/config/1\">\n" + body
                + "\n</config>\n");
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

    /** Runs bin/xen-disk-java in directory {@code cwd}, as a user who typed it there. */
    Result cliIn(Path cwd, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(HOME.toAbsolutePath().resolve("bin/xen-disk-java").toString()));
        cmd.addAll(List.of(args));
        return exec(cmd, Map.of(), Path.of("/dev/null"), cwd);
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
        return exec(cmd, extraEnv, Path.of("/dev/null"));
    }

    /** {@link #exec(List, Map)} with {@code input} on stdin (a libvirt hook's domain XML). */
    Result exec(List<String> cmd, Map<String, String> extraEnv, String input) throws IOException, InterruptedException {
        Path in = Files.createTempFile(dir, "in", ".txt");
        Files.writeString(in, input, StandardCharsets.UTF_8);
        try {
            return exec(cmd, extraEnv, in);
        } finally {
            Files.delete(in);
        }
    }

    private Result exec(List<String> cmd, Map<String, String> extraEnv, Path stdin) throws IOException, InterruptedException {
        return exec(cmd, extraEnv, stdin, null);
    }

    /** @param cwd the command's working directory; null for this JVM's */
    private Result exec(List<String> cmd, Map<String, String> extraEnv, Path stdin, Path cwd)
            throws IOException, InterruptedException {
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(stdin.toFile()));
        if (cwd != null) {
            pb.directory(cwd.toFile());
        }
        pb.environment().put("XEN_DISK_JAVA_RUNDIR", runDir.toString());
        pb.environment().put("XEN_DISK_JAVA_LOGDIR", logDir.toString());
        pb.environment().put("XEN_DISK_JAVA_CONFIG", noConfig().toString());
        pb.environment().remove("XEN_DISK_JAVA_PLATFORM");
        pb.environment().putAll(env);
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
        pb.environment().put("XEN_DISK_JAVA_CONFIG", noConfig().toString());
        pb.environment().remove("XEN_DISK_JAVA_PLATFORM");
        pb.environment().putAll(env);
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

    /** Starts a simulated guest ({@code sim guest NAME OPTIONS}); its pid is killed on close if still alive. */
    Guest guest(String name, String... options) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("sim", "guest", name));
        args.addAll(List.of(options));
        Result r = cli(args.toArray(String[]::new));
        Matcher m = GUEST_STARTED.matcher(r.out());
        if (r.exit() != 0 || !m.find() || !m.group(1).equals(name)) {
            throw new AssertionError("sim guest " + name + " failed:\n" + r);
        }
        Guest g = new Guest(name, Integer.parseInt(m.group(2)), Long.parseLong(m.group(3)));
        remember(g.pid());
        return g;
    }

    /** {@code sim run GUEST VDEV WORKLOAD ARGS}. */
    Result simRun(Guest g, String vdev, String... workload) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("sim", "run", g.name(), vdev));
        args.addAll(List.of(workload));
        return cli(args.toArray(String[]::new));
    }

    /** Runs one of Debian's xenstore tools (xenstore-read, -ls, -exists...) against this run's sim xenstored. */
    Result xenstore(String tool, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/" + tool));
        cmd.addAll(List.of(args));
        return exec(cmd, Map.of("XENSTORED_PATH", runDir.resolve("sim/socket").toString()));
    }

    /** Whether a xenstore node exists (xenstore-exists). */
    boolean xsExists(String path) throws IOException, InterruptedException {
        return xenstore("xenstore-exists", path).exit() == 0;
    }

    /** A node's value, or null when it does not exist. */
    String xsRead(String path) throws IOException, InterruptedException {
        Result r = xenstore("xenstore-read", path);
        return r.exit() == 0 ? r.out().strip() : null;
    }

    /** Waits (bounded) until both ends of a freshly connected disk are in xenbus state Connected (4). */
    void awaitConnected(Guest g, String vdev) throws Exception {
        poll(() -> "4".equals(xsRead(g.frontend(vdev) + "/state")) && "4".equals(xsRead(g.backend(vdev) + "/state")),
                "disk " + vdev + " of guest " + g.name() + " connected (both ends state 4)");
    }

    /** The {@code list} line of a VBD ({@code domid/devid ...}), or null when the daemon does not list it. */
    String listLine(String vbd) throws IOException, InterruptedException {
        Result r = cli("list");
        if (r.exit() != 0) {
            throw new AssertionError("list failed:\n" + r);
        }
        return r.out().lines().filter(l -> l.startsWith(vbd + " ")).findFirst().orElse(null);
    }

    /** The numeric counters ({@code name=N}) of a list/status line. */
    static Map<String, Long> counters(String line) {
        Map<String, Long> c = new TreeMap<>();
        Matcher m = COUNTER.matcher(line);
        while (m.find()) {
            c.put(m.group(1), Long.parseLong(m.group(2)));
        }
        return c;
    }

    /** A condition to poll; it may run CLI commands. */
    @FunctionalInterface
    interface Condition {
        boolean holds() throws Exception;
    }

    /** Polls a condition every 50 ms for at most 30 s; fails naming what it waited for. */
    static void poll(Condition condition, String what) throws Exception {
        for (int i = 0; i < 600; i++) {
            if (condition.holds()) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("timed out waiting for: " + what);
    }

    /** Whether a process is still alive. */
    static boolean alive(long pid) {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    /**
     * Stops everything as a user would: {@code sim destroy} of each guest, {@code sim stop},
     * {@code shutdown}, each expected to exit 0; then checks no guest, xenstored or daemon
     * process is left (close() still kills any by pid).
     */
    void stopAll(List<Guest> guests) throws IOException, InterruptedException {
        long daemon = daemonPid();
        long sim = readPid(simPidFile());
        List<String> failures = new ArrayList<>();
        for (Guest g : guests) {
            if (alive(g.pid())) {
                Result r = cli("sim", "destroy", g.name());
                if (r.exit() != 0) {
                    failures.add("sim destroy " + g.name() + ": " + r);
                }
            }
        }
        // sim stop before shutdown: a verb after shutdown would start a fresh daemon
        Result stop = cli("sim", "stop");
        if (stop.exit() != 0) {
            failures.add("sim stop: " + stop);
        }
        Result down = cli("shutdown");
        if (down.exit() != 0) {
            failures.add("shutdown: " + down);
        }
        List<Long> pids = new ArrayList<>(guests.stream().map(Guest::pid).toList());
        pids.add(daemon);
        pids.add(sim);
        for (long pid : pids) {
            ProcessHandle.of(pid).ifPresent(Dist::awaitExit);
            if (alive(pid)) {
                failures.add("process " + pid + " is still running");
            }
        }
        if (!failures.isEmpty()) {
            throw new AssertionError(String.join("\n", failures));
        }
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

    /** Kills, by pid, the daemon and sim xenstored of this run dir and any process (or guest) we started; removes the dir. */
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
