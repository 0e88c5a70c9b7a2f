package io.xendisk.xml;

import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;

/** The daemon's storage engines, as named by {@code connect --storage} and disks.xsd. */
public enum Engine {
    /** Copy-on-write over the image: the guest's writes vanish when the disk is detached. */
    COW,
    /** Shared mapping of the image: writes are kept. */
    MMAP,
    /** Plain reads and writes of the image: writes are kept. */
    FILE,
    /** A qcow2 image, over its backing file when it has one: writes are kept in the qcow2 file. */
    QCOW2,
    /** An export of an NBD server, by URI: writes are kept by the server. */
    NBD,
    /** A Ceph RBD image (rbd:pool/image): writes are kept by the cluster. */
    RBD,
    /** No image: reads return zeros, writes are dropped. */
    DISCARD;

    /** The name used on the command line and in XML. */
    public String id() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    public static Optional<Engine> parse(String id) {
        return Arrays.stream(values()).filter(e -> e.id().equals(id)).findFirst();
    }

    /** "cow, mmap, file, qcow2, nbd, rbd or discard". */
    public static String choices() {
        String all = Arrays.stream(values()).map(Engine::id).collect(Collectors.joining(", "));
        int last = all.lastIndexOf(", ");
        return all.substring(0, last) + " or " + all.substring(last + 2);
    }

    /** The engine that serves URIs of {@code scheme} (lower case), or null; as the daemon's engines claim them. */
    public static Engine forScheme(String scheme) {
        return switch (scheme) {
            case "nbd", "nbd+unix", "nbds", "nbds+unix" -> NBD;
            case "rbd" -> RBD;
            default -> null;
        };
    }

    /** Whether the engine serves an image (and so needs a source). */
    public boolean needsImage() {
        return this != DISCARD;
    }
}
