package io.xendisk.xen.real;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * What serving disks on real Xen needs from this host, and what is missing:
 * the two libraries, the device nodes (privcmd, gntdev, evtchn) and a
 * reachable xenstored. For the daemon's messages: one problem per line, each
 * saying what to install, load or start.
 */
public final class RealPlatform {
    private RealPlatform() {
    }

    /** The outcome of a probe: empty {@link #problems()} means everything is there. */
    public record Probe(List<String> problems) {
        public Probe {
            problems = List.copyOf(problems);
        }

        public boolean ok() {
            return problems.isEmpty();
        }

        /** "real Xen is usable" or the problems joined with "; ". */
        public String summary() {
            return ok() ? "real Xen is usable" : "real Xen is not usable here: " + String.join("; ", problems);
        }
    }

    /** Probes this host: /dev, the xenstored socket as libxenstore finds it, the libraries by soname. */
    public static Probe probe() {
        return probe(Path.of("/dev"), xenstoredSocket(), XenLibrary::loadable, RealPlatform::answers);
    }

    /**
     * The probe with its inputs injected (tests).
     * @param devDir      normally /dev
     * @param xenstored   the xenstored socket
     * @param loads       whether a library loads
     * @param answers     whether a unix socket accepts a connection
     */
    public static Probe probe(Path devDir, Path xenstored, Predicate<XenLibrary> loads, Predicate<Path> answers) {
        List<String> problems = new ArrayList<>();
        for (XenLibrary lib : XenLibrary.values()) {
            if (!loads.test(lib)) {
                problems.add(XenLibrary.missingLibraryMessage(lib.soname(), lib.debianPackage()));
            }
        }
        Path xen = devDir.resolve("xen");
        if (!Files.isDirectory(xen)) {
            problems.add("no " + xen + ": this host is not running as a Xen dom0 (boot the Xen hypervisor)");
        } else {
            device(problems, xen.resolve("privcmd"), "xen-privcmd");
            device(problems, xen.resolve("gntdev"), "xen-gntdev");
            device(problems, xen.resolve("evtchn"), "xen-evtchn");
        }
        if (!answers.test(xenstored)) {
            problems.add("no xenstored answers at " + xenstored
                    + " (start it: 'systemctl start xenstored' from xen-utils, or set XENSTORED_PATH)");
        }
        return new Probe(problems);
    }

    private static void device(List<String> problems, Path node, String module) {
        if (!Files.exists(node)) {
            problems.add(node + " not available: load the " + module + " module (modprobe " + module + ")");
        }
    }

    /** libxenstore's rule: XENSTORED_PATH, else $XENSTORED_RUNDIR/socket, else /run/xenstored/socket. */
    static Path xenstoredSocket() {
        String path = System.getenv("XENSTORED_PATH");
        if (path != null && !path.isEmpty()) {
            return Path.of(path);
        }
        String rundir = System.getenv("XENSTORED_RUNDIR");
        if (rundir != null && !rundir.isEmpty()) {
            return Path.of(rundir, "socket");
        }
        return Path.of("/run/xenstored/socket");
    }

    static boolean answers(Path socket) {
        if (!Files.exists(socket)) {
            return false;
        }
        try {
            SocketChannel.open(UnixDomainSocketAddress.of(socket)).close();
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }
}
