package io.xendisk.cli.install;

import io.xendisk.api.ControlResponse;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * {@code install [--root DIR]} and {@code uninstall [--root DIR]}: the verbs
 * around {@link Installer}. On the host (no --root) they need root; with
 * --root they fill or empty a staging tree (a package build, or a test).
 */
public final class InstallCommand {
    /** Set by bin/xen-disk-java: the distribution's directory. */
    static final String HOME_ENV = "XEN_DISK_JAVA_HOME";

    private final Map<String, String> env;
    private final PrintStream out;
    private final PrintStream err;
    private final Systemd systemd;

    public InstallCommand(Map<String, String> env, PrintStream out, PrintStream err) {
        this(env, out, err, Systemd.host());
    }

    InstallCommand(Map<String, String> env, PrintStream out, PrintStream err, Systemd systemd) {
        this.env = Map.copyOf(env);
        this.out = out;
        this.err = err;
        this.systemd = systemd;
    }

    /** @param rootOption --root, or null for the host */
    public int run(String verb, String rootOption) {
        String homeEnv = env.get(HOME_ENV);
        if (homeEnv == null || homeEnv.isBlank() || !Files.isRegularFile(Path.of(homeEnv, "bin/xen-disk-java"))) {
            err.println("xen-disk-java: " + verb + " needs the distribution: run it as <dist>/bin/xen-disk-java " + verb
                    + " (" + HOME_ENV + " is " + (homeEnv == null ? "unset" : "'" + homeEnv + "'") + ")");
            return ControlResponse.FAILED;
        }
        Path root = Path.of(rootOption == null || rootOption.isBlank() ? "/" : rootOption).toAbsolutePath();
        if (root.equals(Path.of("/")) && !isRoot()) {
            err.println("xen-disk-java: " + verb + " writes to /etc and /usr/sbin: run it as root (sudo), or give"
                    + " --root DIR to " + verb + " below a staging directory");
            return ControlResponse.FAILED;
        }
        if (!Files.isDirectory(root)) {
            err.println("xen-disk-java: --root " + root + " is not a directory (create it first)");
            return ControlResponse.FAILED;
        }
        Installer installer = new Installer(Path.of(homeEnv), root, systemd, out);
        try {
            if (verb.equals("install")) {
                installer.install();
                installer.enableService();
                out.println("libvirt: restart libvirtd so it runs the new hook (systemctl restart libvirtd);"
                        + " domains declare disks in their <metadata>, see README");
            } else if (!installer.installed()) {
                out.println("nothing to uninstall: xen-disk-java install left no record below " + root);
            } else {
                installer.disableService();
                installer.uninstall();
                installer.reloadService();
            }
            return ControlResponse.OK;
        } catch (IOException e) {
            err.println("xen-disk-java: " + verb + " failed: " + e.getMessage());
            return ControlResponse.FAILED;
        }
    }

    private static boolean isRoot() {
        try {
            // /proc/self belongs to the process's effective uid
            return ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
        } catch (IOException | UnsupportedOperationException | ClassCastException e) {
            return "root".equals(System.getProperty("user.name"));
        }
    }
}
