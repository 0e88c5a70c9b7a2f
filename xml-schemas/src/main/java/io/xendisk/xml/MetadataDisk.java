package io.xendisk.xml;

import java.util.Map;
import java.util.Objects;

/**
 * One xen-disk-java disk of a libvirt domain, as declared in its metadata:
 * {@code <disk target="xvdb" source="/images/gold.img" engine="cow" readonly="false"/>}, with
 * optionally libvirt's {@code <iotune>} inside.
 *
 * @param target   the guest's device name (xvdb, ...)
 * @param source   absolute path of the image, a URI (nbd://..., rbd:pool/image), or null for engine discard
 * @param engine   how the daemon serves it
 * @param readOnly whether the guest sees a read-only disk
 * @param iotune   its I/O limits by libvirt's names ({@code total_iops_sec} -> "1000"), in document order; empty: none
 * @param cdrom    a CD-ROM drive ({@code device="cdrom"}, as libvirt's {@code <disk device='cdrom'>}): read-only
 */
public record MetadataDisk(String target, String source, Engine engine, boolean readOnly, Map<String, String> iotune,
                           boolean cdrom) {
    public MetadataDisk {
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(engine, "engine");
        if (engine.needsImage() && source == null) {
            throw new IllegalArgumentException("disk " + target + ": engine " + engine.id() + " needs a source image");
        }
        iotune = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(iotune));
        if (cdrom) {
            readOnly = true;
        }
    }

    /** A disk without I/O limits. */
    public MetadataDisk(String target, String source, Engine engine, boolean readOnly) {
        this(target, source, engine, readOnly, Map.of(), false);
    }

    /** A disk, not a CD-ROM drive. */
    public MetadataDisk(String target, String source, Engine engine, boolean readOnly, Map<String, String> iotune) {
        this(target, source, engine, readOnly, iotune, false);
    }

    /**
     * The engine implied when none is given: discard without a source, the
     * engine that serves a URI's scheme (nbd for nbd://..., rbd for rbd:...), else file.
     */
    public static Engine defaultEngine(String source) {
        if (source == null) {
            return Engine.DISCARD;
        }
        int end = source.indexOf("://");
        if (end < 0 && !source.startsWith("/")) {
            end = source.indexOf(':'); // rbd:pool/image has no "//"
        }
        if (end > 0) {
            Engine byScheme = Engine.forScheme(source.substring(0, end).toLowerCase(java.util.Locale.ROOT));
            if (byScheme != null) {
                return byScheme;
            }
        }
        return Engine.FILE;
    }

    /** "readonly" or "readwrite", as domblklist shows it. */
    public String mode() {
        return readOnly ? "readonly" : "readwrite";
    }
}
