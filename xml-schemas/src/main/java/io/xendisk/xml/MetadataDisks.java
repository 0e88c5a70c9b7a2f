package io.xendisk.xml;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Our {@code <disks>} element in a libvirt domain's {@code <metadata>}: its
 * namespace, how its {@code <disk>} children become {@link MetadataDisk}s
 * (with the checks XSD 1.0 cannot express), and how a list of disks is written
 * back for {@code virDomainSetMetadata}.
 */
public final class MetadataDisks {
    /** The namespace URI; libvirt keeps one metadata element per namespace. */
    public static final String NAMESPACE = "https://xen-disk-java.org/xmlns/libvirt-disks/1";
    /** The prefix we ask libvirt to use (any prefix is read). */
    public static final String PREFIX = "xdj";
    /** The element's local name. */
    public static final String ELEMENT = "disks";

    private MetadataDisks() {
    }

    /**
     * The disks of a schema-valid {@code <disks>} element.
     *
     * @param source names the document in problems
     * @throws XmlInvalidException for a disk whose engine needs a source it lacks, or discard given a source
     */
    static List<MetadataDisk> fromElement(XmlElement disks, String source) throws XmlInvalidException {
        List<MetadataDisk> out = new ArrayList<>();
        List<XmlProblem> problems = new ArrayList<>();
        for (XmlElement d : disks.children("disk")) {
            String target = d.attributes().get("target");
            String image = d.attributes().get("source");
            String engineName = d.attributes().get("engine");
            Engine engine = engineName == null ? MetadataDisk.defaultEngine(image)
                    : Engine.parse(engineName).orElseThrow(() -> new IllegalStateException("schema let engine "
                    + engineName + " through"));
            boolean readOnly = d.attribute("readonly").map(v -> v.equals("true") || v.equals("1")).orElse(false);
            if (engine.needsImage() && image == null) {
                problems.add(new XmlProblem(source, d.line(), d.column(), "disk " + target + ": engine "
                        + engine.id() + " needs an image",
                        "add source=\"/path/to/image.img\", or use engine=\"discard\" for a disk without one"));
                continue;
            }
            if (!engine.needsImage() && image != null) {
                problems.add(new XmlProblem(source, d.line(), d.column(), "disk " + target
                        + ": engine discard serves no image, but source=\"" + image + "\" is given",
                        "remove source=, or choose engine cow, mmap, file or qcow2 to serve the image"));
                continue;
            }
            Map<String, String> iotune = new LinkedHashMap<>();
            for (XmlElement tune : d.children("iotune")) {
                for (XmlElement limit : tune.children()) {
                    iotune.put(limit.name(), limit.text().strip());
                }
            }
            boolean cdrom = d.attribute("device").map("cdrom"::equals).orElse(false);
            if (cdrom && image == null) {
                problems.add(new XmlProblem(source, d.line(), d.column(), "disk " + target
                        + ": a CD-ROM drive needs its image", "add source=\"/path/to/image.iso\""));
                continue;
            }
            out.add(new MetadataDisk(target, image, engine, readOnly, iotune, cdrom));
        }
        if (!problems.isEmpty()) {
            throw new XmlInvalidException(problems);
        }
        return List.copyOf(out);
    }

    /**
     * The element for {@code virDomainSetMetadata(ELEMENT, xml, PREFIX, NAMESPACE)}:
     * without namespace declarations, because libvirt puts the element and its
     * children into the namespace itself (and refuses a declaration of its own prefix).
     */
    public static String toMetadataXml(List<MetadataDisk> disks) {
        StringBuilder sb = new StringBuilder("<").append(ELEMENT).append(">\n");
        for (MetadataDisk d : disks) {
            sb.append("  <disk target=\"").append(escape(d.target())).append('"');
            if (d.source() != null) {
                sb.append(" source=\"").append(escape(d.source())).append('"');
            }
            sb.append(" engine=\"").append(d.engine().id()).append('"');
            if (d.cdrom()) {
                sb.append(" device=\"cdrom\"");
            } else if (d.readOnly()) {
                sb.append(" readonly=\"true\"");
            }
            if (d.iotune().isEmpty()) {
                sb.append("/>\n");
                continue;
            }
            sb.append(">\n    <iotune>\n");
            d.iotune().forEach((k, v) -> sb.append("      <").append(k).append('>').append(escape(v)).append("</")
                    .append(k).append(">\n"));
            sb.append("    </iotune>\n  </disk>\n");
        }
        return sb.append("</").append(ELEMENT).append(">\n").toString();
    }

    /**
     * Checks disks before they are written, against the same schema and rules
     * as when they are read back (a disk made from command-line values, say).
     *
     * @throws XmlInvalidException naming each problem; use {@link XmlProblem#problem()} and
     *                             {@link XmlProblem#fix()}, the lines are those of a generated document
     */
    public static void check(List<MetadataDisk> disks) throws XmlInvalidException {
        DomainXml.parse("<domain>\n<metadata>\n" + toDomainXmlElement(disks) + "</metadata>\n</domain>\n", "disks");
    }

    /** The same element with its namespace declared, as it would sit in a domain XML's metadata. */
    public static String toDomainXmlElement(List<MetadataDisk> disks) {
        String plain = toMetadataXml(disks);
        return plain.replace("<" + ELEMENT + ">", "<" + PREFIX + ":" + ELEMENT + " xmlns:" + PREFIX + "=\"" + NAMESPACE + "\">")
                .replace("</" + ELEMENT + ">", "</" + PREFIX + ":" + ELEMENT + ">")
                .replace("<disk ", "<" + PREFIX + ":disk ");
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("\"", "&quot;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
