package io.xendisk;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The host tools some unit tests drive, each from a Debian package that
 * {@code bash .ci/setup} installs. A missing one fails the test naming the
 * package: a skip would let a CI without it pass while testing nothing.
 */
public final class RequiredTools {
    private RequiredTools() {
    }

    /** Fails unless {@code tool} is an executable file, naming the Debian package that has it. */
    public static void require(Path tool, String debianPackage) {
        if (!Files.isExecutable(tool)) {
            throw new AssertionError(tool + " is missing: install the Debian package " + debianPackage
                    + " (bash .ci/setup installs every package the tests need)");
        }
    }
}
