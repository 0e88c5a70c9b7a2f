package io.xendisk.cli.libvirt;

import org.libvirt.Connect;
import org.libvirt.Domain;
import org.libvirt.LibvirtException;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * libvirt's test driver in this JVM (no libvirtd): {@code test:///default}
 * keeps its state while any connection to it is open, so the one held here
 * lets every connection our verbs open see the same domains. Each test
 * defines domains with fresh names and removes them.
 */
final class TestDriver implements AutoCloseable {
    static final String URI = "test:///default";
    private static final AtomicInteger NEXT = new AtomicInteger();

    final Connect conn;

    TestDriver() throws LibvirtFailure {
        conn = Libvirt.open(URI);
    }

    /** A fresh domain name. */
    static String name(String prefix) {
        return prefix + "-" + ProcessHandle.current().pid() + "-" + NEXT.incrementAndGet();
    }

    /** A Xen PV domain with one libvirt disk (xvda) and {@code metadata} inside its {@code <metadata>}. */
    static String domainXml(String name, String metadata) {
        return "<domain type='xen'>\n"
                + "  <name>" + name + "</name>\n"
                + "  <metadata>\n" + metadata + "  </metadata>\n"
                + "  <memory unit='KiB'>262144</memory>\n"
                + "  <os><type>xen</type></os>\n"
                + "  <devices>\n"
                + "    <disk type='file' device='disk'>\n"
                + "      <source file='/var/lib/xen/images/" + name + "-root.img'/>\n"
                + "      <target dev='xvda' bus='xen'/>\n"
                + "    </disk>\n"
                + "  </devices>\n"
                + "</domain>\n";
    }

    Domain define(String name, String metadata) throws LibvirtException {
        return conn.domainDefineXML(domainXml(name, metadata));
    }

    /** Defined and running. */
    Domain running(String name, String metadata) throws LibvirtException {
        Domain d = define(name, metadata);
        d.create();
        return d;
    }

    /** Stops (if running) and undefines; for cleanup, so failures are ignored. */
    static void remove(Domain d) {
        try {
            if (d.isActive() == 1) {
                d.destroy();
            }
        } catch (LibvirtException e) {
            // already gone
        }
        try {
            if (d.isPersistent() == 1) {
                d.undefine();
            }
        } catch (LibvirtException e) {
            // already gone
        }
    }

    @Override
    public void close() throws LibvirtException {
        conn.close();
    }
}
