package io.xendisk.xml;

import java.util.Objects;

/**
 * One xen-disk-java disk of a libvirt domain, as declared in its metadata:
 * {@code <disk target="xvdb" source="/images/gold.img" engine="cow" readonly="false"/>}.
 *
 * @param target   the guest's device name (xvdb, ...)
 * @param source   absolute path of the image, or null for engine discard
 * @param engine   how the daemon serves it
 * @param readOnly whether the guest sees a read-only disk
 */
public record MetadataDisk(String target, String source, Engine engine, boolean readOnly) {
    public MetadataDisk {
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(engine, "engine");
        if (engine.needsImage() && source == null) {
            throw new IllegalArgumentException("disk " + target + ": engine " + engine.id() + " needs a source image");
        }
    }

    /** The engine the schema implies when none is given: file for an image, else discard. */
    public static Engine defaultEngine(String source) {
        return source == null ? Engine.DISCARD : Engine.FILE;
    }

    /** "readonly" or "readwrite", as domblklist shows it. */
    public String mode() {
        return readOnly ? "readonly" : "readwrite";
    }
}
