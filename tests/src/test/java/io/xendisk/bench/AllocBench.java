package io.xendisk.bench;

import com.sun.tools.attach.VirtualMachine;

import javax.management.MBeanServerConnection;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * What the daemon allocates per request in steady state, per engine: the
 * real daemon and a simulated guest as in {@link BlkifBench}; this process
 * attaches to the daemon's JVM (the JDK's attach API, its local JMX agent)
 * and reads the ring thread's allocated bytes (ThreadMXBean) and the whole
 * daemon's (every live thread's) before and after a long run of requests,
 * after a warm-up run of the same workload. The number of requests is the
 * daemon's own count ({@code list}). Printed, never asserted.
 *
 * <p>Run: {@code tests/bench/run-bench.sh alloc [engines=discard,file,mmap,cow,qcow2,nbd] [ops=1000000]}
 * ({@code nbd}: nbdkit's memory plugin on a Unix socket).
 */
public final class AllocBench {
    private final Path work;
    private final BenchCli cli;

    private AllocBench(BenchCli cli) {
        this.work = cli.work();
        this.cli = cli;
    }

    public static void main(String[] args) throws Exception {
        List<String> engines = List.of((args.length > 0 ? args[0] : "discard,file,mmap,cow,qcow2,nbd").split(","));
        long ops = args.length > 1 ? Long.parseLong(args[1]) : 1_000_000;
        BenchCli cli = BenchCli.inFreshDir("xdja");
        AllocBench b = new AllocBench(cli);
        try {
            b.run(engines, ops);
        } finally {
            cli.tearDown("bench");
        }
    }

    private void run(List<String> engines, long ops) throws Exception {
        BenchCli.check(cli.run("sim", "guest", "bench", "--memory-mib", "128"));
        long pid = Long.parseLong(Files.readString(work.resolve("run/daemon.lock")).trim());
        VirtualMachine vm = VirtualMachine.attach(Long.toString(pid));
        String address = vm.startLocalManagementAgent();
        List<String> rows = new ArrayList<>();
        try (JMXConnector jmx = JMXConnectorFactory.connect(new JMXServiceURL(address))) {
            Daemon daemon = new Daemon(jmx.getMBeanServerConnection());
            for (String engine : engines) {
                Process nbdkit = null;
                Path img = work.resolve(engine + ".img");
                String path = img.toString();
                if (engine.equals("nbd")) {
                    nbdkit = Nbdkit.memory(work.resolve("nbd.sock"), 256, work.resolve("nbdkit.log"));
                    path = "nbd+unix:///?socket=" + work.resolve("nbd.sock");
                } else if (engine.equals("qcow2")) {
                    exec("qemu-img", "create", "-q", "-f", "qcow2", path, "256M");
                } else {
                    try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
                        f.setLength(256L << 20);
                    }
                }
                try {
                    if (engine.equals("discard")) {
                        BenchCli.check(cli.run("connect", "bench", "--vdev", "xvdb"));
                    } else {
                        BenchCli.check(cli.run("connect", "bench", "--vdev", "xvdb", "--storage", engine, "--path", path));
                    }
                    // every byte written once, so reads meet data and qcow2 has its clusters
                    workload("seq-write", "--bs", "1M", "--size", "256M");
                    for (String[] w : List.of(new String[] {"rand-read", "4k"}, new String[] {"rand-write", "4k"},
                            new String[] {"rand-read", "128k"}, new String[] {"rand-write", "128k"})) {
                        long n = w[1].equals("4k") ? ops : ops / 10;
                        workload(w[0], "--bs", w[1], "--qd", "32", "--ops", Long.toString(n / 4)); // warm-up
                        long req0 = requests();
                        Daemon.Sample s0 = daemon.sample();
                        String out = workload(w[0], "--bs", w[1], "--qd", "32", "--ops", Long.toString(n));
                        Daemon.Sample s1 = daemon.sample();
                        long req = requests() - req0;
                        rows.add(String.format(Locale.ROOT, "| %s | %s %s qd32 | %d | %s | %.2f | %.2f | %d |", engine, w[0],
                                w[1], req, BenchCli.field(out, "IOPS"), (double) s1.since(s0, true) / req,
                                (double) s1.since(s0, false) / req, s1.gcs() - s0.gcs()));
                    }
                    BenchCli.check(cli.run("disconnect", "bench", "xvdb"));
                } finally {
                    if (nbdkit != null) {
                        nbdkit.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                    }
                    Files.deleteIfExists(img);
                }
            }
        } finally {
            vm.detach();
        }
        System.out.printf(Locale.ROOT, "# allocation per request in the daemon (steady state, after a warm-up)%n");
        System.out.printf(Locale.ROOT, "machine: %d cpus, %s; images in %s%n%n", Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.vm.name") + " " + System.getProperty("java.version"), work);
        System.out.println("| engine | workload | requests | IOPS | ring thread B/request | daemon B/request | daemon GCs |");
        System.out.println("|---|---|---|---|---|---|---|");
        rows.forEach(System.out::println);
    }

    /** Runs a workload that must succeed with no errors; returns its result line. */
    private String workload(String name, String... args) throws Exception {
        List<String> a = new ArrayList<>(List.of("sim", "run", "bench", "xvdb", name));
        a.addAll(List.of(args));
        String out = BenchCli.check(cli.run(a.toArray(new String[0])));
        String line = out.lines().filter(l -> l.startsWith(name + " ")).reduce((x, y) -> y).orElse("");
        if (!line.contains(" errors=0")) {
            throw new IllegalStateException(name + " " + String.join(" ", args) + ": " + out);
        }
        return line;
    }

    /** Requests the daemon served on the disk so far: its reads and writes counters. */
    private long requests() throws Exception {
        String line = BenchCli.check(cli.run("list")).lines().filter(l -> l.contains(" xvdb ")).findFirst().orElseThrow();
        long n = 0;
        for (String key : List.of("reads", "writes")) {
            String v = BenchCli.field(line, key);
            if (v.isEmpty()) {
                throw new IllegalStateException("no " + key + "= in: " + line);
            }
            n += Long.parseLong(v);
        }
        return n;
    }

    private static void exec(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        if (p.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", cmd) + " failed");
        }
    }

    /** The daemon's JVM through its platform MXBeans. */
    private static final class Daemon {
        private final com.sun.management.ThreadMXBean threads;
        private final List<GarbageCollectorMXBean> gcs = new ArrayList<>();

        /** Allocated bytes per live thread id, the ring threads' ids, collections so far. */
        record Sample(java.util.Map<Long, Long> bytes, java.util.Set<Long> rings, long gcs) {
            /** Bytes allocated since {@code before} by the ring threads ({@code ringsOnly}) or by all; a thread
             *  gone since then is left out (its count went with it), one started since counts whole. */
            long since(Sample before, boolean ringsOnly) {
                long n = 0;
                for (var e : bytes.entrySet()) {
                    if (ringsOnly && !rings.contains(e.getKey())) {
                        continue;
                    }
                    n += e.getValue() - before.bytes.getOrDefault(e.getKey(), 0L);
                }
                return n;
            }
        }

        Daemon(MBeanServerConnection c) throws IOException {
            threads = ManagementFactory.newPlatformMXBeanProxy(c, ManagementFactory.THREAD_MXBEAN_NAME,
                    com.sun.management.ThreadMXBean.class);
            gcs.addAll(ManagementFactory.getPlatformMXBeans(c, GarbageCollectorMXBean.class));
        }

        /** Allocated bytes of every live thread, which of them are ring threads ("ring xvdb ..."), collections. */
        Sample sample() {
            long[] ids = threads.getAllThreadIds();
            long[] bytes = threads.getThreadAllocatedBytes(ids);
            ThreadInfo[] infos = threads.getThreadInfo(ids);
            java.util.Map<Long, Long> all = new java.util.HashMap<>();
            java.util.Set<Long> rings = new java.util.HashSet<>();
            for (int i = 0; i < ids.length; i++) {
                if (bytes[i] < 0 || infos[i] == null) {
                    continue;
                }
                all.put(ids[i], bytes[i]);
                String name = infos[i].getThreadName();
                if (name.startsWith("ring ") && !name.startsWith("ring releaser")) {
                    rings.add(ids[i]);
                }
            }
            long n = 0;
            for (GarbageCollectorMXBean g : gcs) {
                n += g.getCollectionCount();
            }
            return new Sample(all, rings, n);
        }
    }
}
