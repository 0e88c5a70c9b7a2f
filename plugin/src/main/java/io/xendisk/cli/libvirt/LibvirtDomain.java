package io.xendisk.cli.libvirt;

import io.xendisk.xml.DomainXml;
import io.xendisk.xml.MetadataDisk;
import io.xendisk.xml.MetadataDisks;
import io.xendisk.xml.XmlInvalidException;
import org.libvirt.Connect;
import org.libvirt.Domain;
import org.libvirt.Error;
import org.libvirt.LibvirtException;

import java.util.List;

/**
 * One libvirt domain as our verbs see it: its state, our disks in its live or
 * persistent definition (read from the full domain XML, so schema errors carry
 * the line numbers of {@code virsh dumpxml}), and writing them back with
 * {@code virDomainSetMetadata}.
 */
public final class LibvirtDomain {
    private final Domain domain;
    private final String name;
    private final String uri;

    private LibvirtDomain(Domain domain, String name, String uri) {
        this.domain = domain;
        this.name = name;
        this.uri = uri;
    }

    /**
     * Finds a domain as virsh does: by name, UUID or id.
     *
     * @throws LibvirtFailure there is no such domain (the message says how to list them)
     */
    public static LibvirtDomain lookup(Connect conn, String uri, String which) throws LibvirtFailure {
        Domain d = null;
        try {
            d = conn.domainLookupByName(which);
        } catch (LibvirtException e) {
            if (!noDomain(e)) {
                throw failure("cannot look up domain " + which + " at " + uri, e);
            }
        }
        try {
            if (d == null && which.matches("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")) {
                d = conn.domainLookupByUUIDString(which);
            }
            if (d == null && which.matches("\\d{1,9}")) {
                d = conn.domainLookupByID(Integer.parseInt(which));
            }
        } catch (LibvirtException e) {
            if (!noDomain(e)) {
                throw failure("cannot look up domain " + which + " at " + uri, e);
            }
        }
        if (d == null) {
            throw new LibvirtFailure("no domain '" + which + "' at " + uri + " (list them with: virsh -c " + uri
                    + " list --all)");
        }
        try {
            return new LibvirtDomain(d, d.getName(), uri);
        } catch (LibvirtException e) {
            throw failure("cannot read the name of domain " + which, e);
        }
    }

    public String name() {
        return name;
    }

    public boolean active() throws LibvirtFailure {
        try {
            return domain.isActive() == 1;
        } catch (LibvirtException e) {
            throw failure("cannot tell whether domain " + name + " runs", e);
        }
    }

    public boolean persistent() throws LibvirtFailure {
        try {
            return domain.isPersistent() == 1;
        } catch (LibvirtException e) {
            throw failure("cannot tell whether domain " + name + " is persistent", e);
        }
    }

    /**
     * The domain's XML of that definition, our metadata validated.
     *
     * @throws LibvirtFailure libvirt failed, or our metadata is invalid (every problem with its line)
     */
    public DomainXml read(Scope scope) throws LibvirtFailure {
        String xml;
        try {
            xml = domain.getXMLDesc(scope.xmlFlags());
        } catch (LibvirtException e) {
            throw failure("cannot read the " + scope.label() + " XML of domain " + name, e);
        }
        try {
            return DomainXml.parse(xml, scope.dumpxmlCommand(name));
        } catch (XmlInvalidException e) {
            throw new LibvirtFailure("the xen-disk-java metadata in the " + scope.label() + " definition of domain "
                    + name + " is invalid; fix it with 'virsh edit " + name + "' (or 'virsh metadata " + name + " "
                    + MetadataDisks.NAMESPACE + " --edit" + (scope == Scope.CONFIG ? " --config" : " --live")
                    + "'), then retry:\n" + e.getMessage());
        }
    }

    /** Replaces our metadata in that definition; an empty list removes the element. */
    public void write(Scope scope, List<MetadataDisk> disks) throws LibvirtFailure {
        try {
            if (disks.isEmpty()) {
                domain.setMetadata(Domain.MetadataType.ELEMENT, null, null, MetadataDisks.NAMESPACE, scope.impact());
            } else {
                domain.setMetadata(Domain.MetadataType.ELEMENT, MetadataDisks.toMetadataXml(disks),
                        MetadataDisks.PREFIX, MetadataDisks.NAMESPACE, scope.impact());
            }
        } catch (LibvirtException e) {
            throw failure("cannot record the disks in the " + scope.label() + " metadata of domain " + name, e);
        }
    }

    private static LibvirtFailure failure(String what, LibvirtException e) {
        return new LibvirtFailure(what + ": " + Libvirt.message(e), e);
    }

    private static boolean noDomain(LibvirtException e) {
        return e.getError() != null && e.getError().getCode() == Error.ErrorNumber.VIR_ERR_NO_DOMAIN;
    }
}
