package io.xendisk.cli.install;

import io.xendisk.xml.DaemonConfigs;
import io.xendisk.xml.XmlInvalidException;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Puts the distribution's hooks, systemd unit, launcher link and default
 * config on a host (or below a staging --root) and takes them away again,
 * recording in a manifest exactly what it created. Each step prints one line.
 */
final class Installer {
    private final Path home;
    private final Path root;
    private final Systemd systemd;
    private final PrintStream out;

    /**
     * @param home the distribution (bin/, lib/, hooks/, ...), absolute
     * @param root "/" for the host, or a staging directory
     */
    Installer(Path home, Path root, Systemd systemd, PrintStream out) {
        this.home = home.toAbsolutePath().normalize();
        this.root = root.toAbsolutePath().normalize();
        this.systemd = systemd;
        this.out = out;
    }

    /** The host path below root. */
    Path onDisk(String hostPath) {
        return root.resolve(hostPath.substring(1));
    }

    /**
     * The distribution's directory as the installed host will see it: below a
     * staging root it is the path inside that root (a package build), else as is.
     */
    Path homeOnHost() {
        if (!root.equals(Path.of("/")) && home.startsWith(root)) {
            return Path.of("/").resolve(root.relativize(home));
        }
        return home;
    }

    boolean isHostRoot() {
        return root.equals(Path.of("/"));
    }

    void install() throws IOException {
        Path manifestFile = onDisk(InstallItem.MANIFEST);
        Manifest manifest = Manifest.read(manifestFile);
        for (InstallItem item : InstallItem.ALL) {
            Path source = home.resolve(item.from());
            if (!Files.exists(source)) {
                if (item.ifAbsent() != null) {
                    out.println("skipped " + item.to() + ": " + item.ifAbsent());
                    continue;
                }
                throw new IOException("the distribution " + home + " lacks " + item.from() + " (a broken or partial"
                        + " unpack: unpack xen-disk-java.tar.gz again)");
            }
            createParents(item.to(), manifest);
            switch (item.kind()) {
                case EXECUTABLE -> installFile(item.to(), Files.readAllBytes(source), "rwxr-xr-x", manifest);
                case TEMPLATE -> installFile(item.to(), Files.readString(source, StandardCharsets.UTF_8)
                        .replace(InstallItem.HOME_TOKEN, homeOnHost().toString()).getBytes(StandardCharsets.UTF_8),
                        "rw-r--r--", manifest);
                case CONFIG -> installConfig(item.to(), Files.readAllBytes(source), manifest);
                case SYMLINK -> installLink(item.to(), homeOnHost().resolve(item.from()), manifest);
            }
        }
        createParents(InstallItem.MANIFEST, manifest);
        manifest.write(manifestFile);
        out.println("recorded what was installed in " + manifestFile + " (for 'xen-disk-java uninstall')");
    }

    private void createParents(String hostPath, Manifest manifest) throws IOException {
        List<String> missing = new ArrayList<>();
        for (Path p = Path.of(hostPath).getParent(); p != null && p.getParent() != null; p = p.getParent()) {
            if (!Files.isDirectory(onDisk(p.toString()))) {
                missing.add(0, p.toString());
            }
        }
        for (String dir : missing) {
            Files.createDirectory(onDisk(dir));
            manifest.add(new Manifest.Entry(Manifest.Kind.DIR, "-", dir));
        }
    }

    private void installFile(String hostPath, byte[] content, String mode, Manifest manifest) throws IOException {
        Path dest = onDisk(hostPath);
        String sha = Manifest.sha256(content);
        String verb;
        if (Files.isRegularFile(dest, LinkOption.NOFOLLOW_LINKS)) {
            byte[] now = Files.readAllBytes(dest);
            if (Arrays.equals(now, content)) {
                verb = "up to date";
            } else {
                boolean ours = manifest.get(hostPath).map(e -> e.value().equals(Manifest.sha256(now))).orElse(false);
                verb = ours ? "updated" : "replaced (the file there differed from this distribution's)";
            }
        } else if (Files.exists(dest, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException(dest + " exists and is not a regular file; remove it and run install again");
        } else {
            verb = "installed";
        }
        if (!verb.equals("up to date")) {
            Path tmp = dest.resolveSibling("." + dest.getFileName() + ".xen-disk-java-new");
            Files.write(tmp, content);
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString(mode));
            Files.move(tmp, dest, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } else {
            Files.setPosixFilePermissions(dest, PosixFilePermissions.fromString(mode));
        }
        manifest.add(new Manifest.Entry(Manifest.Kind.FILE, sha, hostPath));
        out.println(verb + " " + hostPath);
    }

    /** The default config goes in only where none is: an existing one is the operator's, kept and checked. */
    private void installConfig(String hostPath, byte[] content, Manifest manifest) throws IOException {
        Path dest = onDisk(hostPath);
        if (Files.exists(dest, LinkOption.NOFOLLOW_LINKS)) {
            String state;
            try {
                DaemonConfigs.read(dest);
                state = "valid";
            } catch (XmlInvalidException e) {
                state = "INVALID, the daemon will not start until it is fixed:\n" + e.getMessage();
            }
            out.println("kept " + hostPath + " (an existing config is never overwritten; " + state + ")");
            return;
        }
        Files.write(dest, content);
        Files.setPosixFilePermissions(dest, PosixFilePermissions.fromString("rw-r--r--"));
        manifest.add(new Manifest.Entry(Manifest.Kind.FILE, Manifest.sha256(content), hostPath));
        out.println("installed " + hostPath + " (the default config: every setting commented out)");
    }

    private void installLink(String hostPath, Path target, Manifest manifest) throws IOException {
        Path dest = onDisk(hostPath);
        if (Files.isSymbolicLink(dest)) {
            if (Files.readSymbolicLink(dest).equals(target)) {
                manifest.add(new Manifest.Entry(Manifest.Kind.LINK, target.toString(), hostPath));
                out.println("up to date " + hostPath + " -> " + target);
                return;
            }
            Files.delete(dest);
        } else if (Files.exists(dest, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException(dest + " exists and is not a symbolic link; remove it and run install again");
        }
        Files.createSymbolicLink(dest, target);
        manifest.add(new Manifest.Entry(Manifest.Kind.LINK, target.toString(), hostPath));
        out.println("linked " + hostPath + " -> " + target);
    }

    /** Whether install left a manifest here. */
    boolean installed() {
        return Files.exists(onDisk(InstallItem.MANIFEST));
    }

    /**
     * Removes what the manifest lists and is unchanged; keeps (and names)
     * what the operator changed since.
     */
    void uninstall() throws IOException {
        Path manifestFile = onDisk(InstallItem.MANIFEST);
        Manifest manifest = Manifest.read(manifestFile);
        List<Manifest.Entry> entries = manifest.entries();
        List<Manifest.Entry> dirs = new ArrayList<>();
        for (int i = entries.size() - 1; i >= 0; i--) {
            Manifest.Entry e = entries.get(i);
            switch (e.kind()) {
                case FILE -> removeFile(e);
                case LINK -> removeLink(e);
                case DIR -> dirs.add(e);
            }
        }
        Files.delete(manifestFile);
        for (Manifest.Entry d : dirs) {
            Path dir = onDisk(d.path());
            if (Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS) && isEmpty(dir)) {
                Files.delete(dir);
                out.println("removed directory " + d.path());
            }
        }
    }

    private void removeFile(Manifest.Entry e) throws IOException {
        Path p = onDisk(e.path());
        if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
            out.println("already gone: " + e.path());
            return;
        }
        if (!Manifest.sha256(Files.readAllBytes(p)).equals(e.value())) {
            out.println("kept " + e.path() + ": changed since it was installed");
            return;
        }
        Files.delete(p);
        out.println("removed " + e.path());
    }

    private void removeLink(Manifest.Entry e) throws IOException {
        Path p = onDisk(e.path());
        if (!Files.isSymbolicLink(p)) {
            out.println(Files.exists(p, LinkOption.NOFOLLOW_LINKS) ? "kept " + e.path() + ": no longer our link"
                    : "already gone: " + e.path());
            return;
        }
        if (!Files.readSymbolicLink(p).toString().equals(e.value())) {
            out.println("kept " + e.path() + ": it points elsewhere now (" + Files.readSymbolicLink(p) + ")");
            return;
        }
        Files.delete(p);
        out.println("removed " + e.path());
    }

    private static boolean isEmpty(Path dir) throws IOException {
        try (var s = Files.list(dir)) {
            return s.findAny().isEmpty();
        }
    }

    /** After install on the host: systemd loads the unit and starts it at boot. */
    void enableService() {
        if (!isHostRoot()) {
            out.println("systemd: not touched (--root " + root + " is not this host)");
            return;
        }
        if (!systemd.running()) {
            out.println("systemd: not running on this host; the launcher starts the daemon on demand"
                    + " (any xen-disk-java command does)");
            return;
        }
        try {
            systemd.systemctl("daemon-reload");
            systemd.systemctl("enable", InstallItem.UNIT);
            out.println("systemd: reloaded and enabled " + InstallItem.UNIT + " (it starts at boot; now: systemctl start "
                    + InstallItem.UNIT + ")");
        } catch (IOException e) {
            out.println("systemd: " + e.getMessage() + " (enable it by hand: systemctl enable " + InstallItem.UNIT + ")");
        }
    }

    /** Before uninstall on the host: systemd forgets the unit (a running daemon keeps serving). */
    void disableService() {
        if (!isHostRoot() || !systemd.running()) {
            return;
        }
        try {
            systemd.systemctl("disable", InstallItem.UNIT);
            out.println("systemd: disabled " + InstallItem.UNIT + " (a running daemon keeps serving its disks;"
                    + " stop it with: xen-disk-java shutdown)");
        } catch (IOException e) {
            out.println("systemd: " + e.getMessage());
        }
    }

    /** After uninstall on the host: systemd drops the removed unit. */
    void reloadService() {
        if (!isHostRoot() || !systemd.running()) {
            return;
        }
        try {
            systemd.systemctl("daemon-reload");
        } catch (IOException e) {
            out.println("systemd: " + e.getMessage());
        }
    }
}
