package io.xendisk.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * The one format probe: whether an image starts with the qcow2 magic. The raw
 * engines refuse such a file and the qcow2 engine probes backing files with it,
 * so both read the magic the same way.
 */
public final class ImageFormat {
    /** "QFI\xfb", the first four bytes of every qcow image (QEMU's docs/interop/qcow2.txt). */
    public static final int QCOW2_MAGIC = 0x514649fb;

    private ImageFormat() {
    }

    /** True if the channel's first four bytes are the qcow2 magic; a shorter file is not qcow2. */
    public static boolean isQcow2(FileChannel ch) throws IOException {
        ByteBuffer magic = ByteBuffer.allocate(4);
        while (magic.hasRemaining() && ch.read(magic, magic.position()) > 0) {
            // a short read only happens at the end of a tiny file
        }
        return magic.position() == 4 && magic.getInt(0) == QCOW2_MAGIC;
    }
}
