package io.xendisk.xml;

import org.xml.sax.SAXException;

import javax.xml.XMLConstants;
import javax.xml.validation.Schema;
import javax.xml.validation.SchemaFactory;
import java.net.URL;
import java.util.Map;
import java.util.Set;

/**
 * Our two schemas, with what an operator needs to fix each field: the values
 * to use, an example for a missing one, and the fields an element takes.
 */
public enum XmlSchema {
    /** Disks in a libvirt domain's {@code <metadata>}. */
    DISKS("disks.xsd", MetadataDisks.NAMESPACE, "disks",
            Map.of("target", new Hint("a Xen disk name: xvdb, xvdc, ... (xvd and letters, no partition number)", "xvdb"),
                    "source", new Hint("the image's absolute path, e.g. /var/lib/xen/images/data.img",
                            "/var/lib/xen/images/data.img"),
                    "engine", new Hint("cow (writes vanish at detach), mmap, file, qcow2, nbd, rbd or discard", "file"),
                    "readonly", new Hint("true or false", "true"),
                    "device", new Hint("disk or cdrom", "cdrom"),
                    "disk", new Hint("a <disk> takes the attributes target, source, engine, device and readonly, and"
                            + " an <iotune>", "")),
            Set.of("disks", "disk")),
    /** The daemon's configuration file. */
    CONFIG("config.xsd", DaemonConfigs.NAMESPACE, "config",
            Map.ofEntries(Map.entry("platform", new Hint("auto, xen or sim", "auto")),
                    Map.entry("run-dir", new Hint("an absolute directory path of at most 80 characters, e.g. /run/xen-disk-java",
                            "/run/xen-disk-java")),
                    Map.entry("log-dir", new Hint("an absolute directory path of at most 80 characters, e.g. /var/log/xen-disk-java",
                            "/var/log/xen-disk-java")),
                    Map.entry("log-level", new Hint("error, warn, info, debug or trace", "info")),
                    Map.entry("grant-mappings", new Hint("a whole number of mappings from 1 to 1000000000", "40000")),
                    Map.entry("qcow2-cache-mib", new Hint("a whole number of MiB from 1 to 65536", "32")),
                    Map.entry("nbd-reconnect-seconds", new Hint("a whole number of seconds from 0 to 86400", "120")),
                    Map.entry("nbd-connections", new Hint("a whole number of connections from 1 to 16", "2")),
                    Map.entry("max-ring-page-order", new Hint("a ring page order from 0 to 4", "4")),
                    Map.entry("max-indirect-segments", new Hint("0 (no INDIRECT requests), or 12 to 4096 segments", "256")),
                    Map.entry("metrics", new Hint("a port (on the loopback address) or HOST:PORT, e.g. 127.0.0.1:9477",
                            "127.0.0.1:9477")),
                    Map.entry("config", new Hint("<config> holds each of its settings at most once", ""))),
            Set.of("config", "platform", "run-dir", "log-dir", "log-level", "grant-mappings", "qcow2-cache-mib",
                    "nbd-reconnect-seconds", "nbd-connections", "max-ring-page-order", "max-indirect-segments",
                    "metrics"));

    /** How to fix a field: {@code use} completes "use ...", {@code example} is a value to add when missing. */
    record Hint(String use, String example) {
    }

    private final String resource;
    private final String namespace;
    private final String root;
    private final Map<String, Hint> hints;
    private final Set<String> names;
    private volatile Schema compiled;

    XmlSchema(String resource, String namespace, String root, Map<String, Hint> hints, Set<String> names) {
        this.resource = resource;
        this.namespace = namespace;
        this.root = root;
        this.hints = hints;
        this.names = names;
    }

    public String namespace() {
        return namespace;
    }

    /** The local name of the document element. */
    public String root() {
        return root;
    }

    /** The .xsd inside this jar (also shipped in the distribution's schemas/ directory). */
    public URL resource() {
        return XmlSchema.class.getResource(resource);
    }

    Hint hint(String field) {
        return hints.get(field);
    }

    /** Whether this schema declares an element of that local name (to tell "misplaced" from "unknown"). */
    boolean declares(String localName) {
        return names.contains(localName);
    }

    /** The compiled schema; compiled once, then shared (Schema is thread-safe). */
    Schema schema() {
        Schema s = compiled;
        if (s == null) {
            synchronized (this) {
                s = compiled;
                if (s == null) {
                    s = compile();
                    compiled = s;
                }
            }
        }
        return s;
    }

    private Schema compile() {
        URL url = resource();
        if (url == null) {
            throw new IllegalStateException(resource + " missing from the xml-schemas jar (broken build)");
        }
        try {
            SchemaFactory f = SchemaFactory.newInstance(XMLConstants.W3C_XML_SCHEMA_NS_URI);
            // our schemas import nothing: refuse to fetch anything while compiling
            f.setProperty(XMLConstants.ACCESS_EXTERNAL_DTD, "");
            f.setProperty(XMLConstants.ACCESS_EXTERNAL_SCHEMA, "");
            return f.newSchema(url);
        } catch (SAXException e) {
            throw new IllegalStateException("cannot compile " + resource + ": " + e.getMessage(), e);
        }
    }
}
