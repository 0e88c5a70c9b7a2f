package io.xendisk.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The one-node Ceph cluster of the rbd tests: CI's (its ceph.conf in
 * $XDJ_CEPH_CONF, started by .ci/run), else one this JVM starts with
 * tests/ceph/micro-ceph.sh and stops as it exits. Images are made and
 * exported with Debian's rbd, the judge of what a guest wrote.
 */
final class Ceph {
    static final Path RBD = Path.of("/usr/bin/rbd");
    private static final Path SCRIPT = Path.of("ceph/micro-ceph.sh"); // from the tests module
    private static Path conf;

    private Ceph() {
    }

    /** The cluster's ceph.conf, starting a cluster first when CI gave none. */
    static synchronized Path conf() throws Exception {
        if (conf == null) {
            Tools.require(RBD, "ceph-common");
            String given = System.getenv("XDJ_CEPH_CONF");
            if (given != null && !given.isBlank()) {
                conf = Path.of(given);
            } else {
                Path dir = Path.of("target/micro-ceph").toAbsolutePath();
                Path script = SCRIPT.toAbsolutePath();
                run(List.of("bash", script.toString(), "start", dir.toString()));
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    try {
                        new ProcessBuilder("bash", script.toString(), "stop", dir.toString()).start().waitFor();
                    } catch (IOException | InterruptedException e) {
                        // the JVM is going; the next start stops what is left
                    }
                }));
                conf = dir.resolve("ceph.conf");
            }
        }
        return conf;
    }

    /** A new image of {@code mib} MiB in pool rbd, named after {@code name} and this JVM; its target. */
    static String create(String name, int mib) throws Exception {
        rbd("create", "--size", mib + "M", "rbd/" + name);
        return target(name);
    }

    /** {@code rbd:rbd/NAME:conf=CONF}, as an operator writes the image. */
    static String target(String name) throws Exception {
        return "rbd:rbd/" + name + ":conf=" + conf();
    }

    /** The image exported by {@code rbd export} into {@code file}. */
    static Path export(String name, Path file) throws Exception {
        Files.deleteIfExists(file);
        rbd("export", "rbd/" + name, file.toString());
        return file;
    }

    static String rbd(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(RBD.toString(), "-c", conf().toString()));
        cmd.addAll(List.of(args));
        return run(cmd);
    }

    private static String run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new AssertionError(String.join(" ", cmd) + " failed: " + out);
        }
        return out;
    }

    /** An image name no other run of the tests on this cluster uses. */
    static String unique(String name) {
        return name + "-" + ProcessHandle.current().pid() + "-" + Long.toString(System.nanoTime(), 36);
    }

    static Map<String, String> env() throws Exception {
        return Map.of("CEPH_CONF", conf().toString());
    }
}
