package io.xendisk.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;

class ImageSourceTest {
    private static final Path CWD = Path.of("/home/ann/vms");

    @Test
    void aRelativePathIsTakenFromTheCallersDirectory() {
        assertEquals("/home/ann/vms/disk.img", ImageSource.resolve("disk.img", CWD));
        assertEquals("/home/ann/vms/sub/disk.img", ImageSource.resolve("./sub/disk.img", CWD));
        assertEquals("/home/ann/gold.img", ImageSource.resolve("../gold.img", CWD));
        // not a scheme: upper case, or a file whose name has a colon in it
        assertEquals("/home/ann/vms/Disk:1.img", ImageSource.resolve("Disk:1.img", CWD));
        assertEquals("/home/ann/vms/backup:old.img", ImageSource.resolve("backup:old.img", CWD));
    }

    @Test
    void absolutePathsUrisAndEnginePrefixesStayAsTyped() {
        for (String s : List.of("/images/a.img", "nbd://store:10809/export", "nbd+unix:///export?socket=/run/nbd.sock",
                "nbd:store:10809", "rbd:pool/image", "http://mirror/a.img", "file:///images/a.img",
                "qcow2:/images/a.qcow2")) {
            assertEquals(s, ImageSource.resolve(s, CWD), s);
        }
        assertNull(ImageSource.resolve(null, CWD));
    }
}
