package io.xendisk.storage.rbd;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The single-node Ceph cluster the rbd tests run against: the one CI started
 * (its ceph.conf in $XDJ_CEPH_CONF), else one this JVM starts with
 * tests/ceph/micro-ceph.sh and stops when it exits. Images are made and read
 * with Debian's rbd tool, the judge of what the engine wrote.
 */
final class MicroCeph {
    private static Path conf;

    private MicroCeph() {
    }

    /** The cluster's ceph.conf, starting the cluster first when there is none. */
    static synchronized Path conf() throws IOException, InterruptedException {
        if (conf != null) {
            return conf;
        }
        String given = System.getenv("XDJ_CEPH_CONF");
        if (given != null && !given.isBlank()) {
            conf = Path.of(given);
            return conf;
        }
        Path script = script();
        Path dir = Path.of("target", "micro-ceph").toAbsolutePath();
        run(List.of("bash", script.toString(), "start", dir.toString()), 300);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                new ProcessBuilder("bash", script.toString(), "stop", dir.toString()).inheritIO().start()
                        .waitFor(30, TimeUnit.SECONDS);
            } catch (IOException | InterruptedException e) {
                // the JVM is going; the cluster's daemons are the script's to stop next time
            }
        }));
        conf = dir.resolve("ceph.conf");
        return conf;
    }

    /** tests/ceph/micro-ceph.sh, found from the module's directory upwards. */
    private static Path script() {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            Path s = d.resolve("tests/ceph/micro-ceph.sh");
            if (Files.isRegularFile(s)) {
                return s;
            }
        }
        throw new IllegalStateException("tests/ceph/micro-ceph.sh not found above " + Path.of("").toAbsolutePath());
    }

    /** An image in pool rbd of {@code mib} MiB, made by {@code rbd create}; its location for the engine. */
    static String create(String name, int mib) throws IOException, InterruptedException {
        rbd("create", "--size", mib + "M", "rbd/" + name);
        return location(name);
    }

    /** {@code rbd:rbd/NAME:conf=...}. */
    static String location(String name) throws IOException, InterruptedException {
        return "rbd:rbd/" + name + ":conf=" + conf();
    }

    /** The image's bytes as {@code rbd export} gives them. */
    static byte[] export(String name) throws IOException, InterruptedException {
        Path out = Files.createTempFile("rbd-export", ".img");
        try {
            Files.delete(out);
            rbd("export", "rbd/" + name, out.toString());
            return Files.readAllBytes(out);
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /** Runs {@code rbd -c CONF args...}, failing with its output when it fails. */
    static String rbd(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("rbd", "-c", conf().toString()));
        cmd.addAll(List.of(args));
        return run(cmd, 60);
    }

    private static String run(List<String> cmd, int seconds) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(seconds, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", cmd) + " failed: " + new String(out));
        }
        return new String(out);
    }
}
