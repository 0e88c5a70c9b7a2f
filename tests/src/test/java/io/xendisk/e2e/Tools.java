package io.xendisk.e2e;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The host tools these tests drive, each from a Debian package that
 * {@code bash .ci/setup} installs. A missing one fails the test naming the
 * package: a skip would let a CI without it pass while testing nothing.
 */
final class Tools {
    /** Debian's xenstore clients: the judge of our xenstored's wire format, and what the hook scripts use. */
    static final List<String> XENSTORE_UTILS = List.of("xenstore-read", "xenstore-write", "xenstore-ls", "xenstore-exists");

    /** QEMU's image tool (Debian's qemu-utils): makes our qcow2 test images and judges what we wrote. */
    static final Path QEMU_IMG = Path.of("/usr/bin/qemu-img");

    private Tools() {
    }

    /** Runs qemu-img; fails the test when it is missing, or (unless it is a check) when it fails. */
    static Dist.Result qemuImg(Dist dist, String... args) throws Exception {
        require(QEMU_IMG, "qemu-utils");
        List<String> cmd = new java.util.ArrayList<>(List.of(QEMU_IMG.toString()));
        cmd.addAll(List.of(args));
        Dist.Result r = dist.exec(cmd, java.util.Map.of());
        if (!args[0].equals("check") && r.exit() != 0) {
            throw new AssertionError("qemu-img " + String.join(" ", args) + " failed: " + r);
        }
        return r;
    }

    /** Fails unless /usr/bin has each of Debian's xenstore-utils tools the tests and the scripts run. */
    static void requireXenstoreUtils() {
        for (String tool : XENSTORE_UTILS) {
            require(Path.of("/usr/bin", tool), "xenstore-utils");
        }
    }

    /** Fails unless {@code tool} is an executable file, naming the Debian package that has it. */
    static void require(Path tool, String debianPackage) {
        if (!Files.isExecutable(tool)) {
            throw new AssertionError(tool + " is missing: install the Debian package " + debianPackage
                    + " (bash .ci/setup installs every package the tests need)");
        }
    }
}
