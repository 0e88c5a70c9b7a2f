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

    private Tools() {
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
