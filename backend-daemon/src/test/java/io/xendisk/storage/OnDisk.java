package io.xendisk.storage;

import org.junit.jupiter.api.extension.AnnotatedElementContext;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.io.TempDirFactory;

import java.nio.file.Files;
import java.nio.file.Path;

/** Temporary directories under /var/tmp, which Debian keeps on disk even where /tmp is a tmpfs. */
public final class OnDisk implements TempDirFactory {
    @Override
    public Path createTempDirectory(AnnotatedElementContext element, ExtensionContext extension) throws Exception {
        return Files.createTempDirectory(Path.of("/var/tmp"), "xdj-test");
    }
}
