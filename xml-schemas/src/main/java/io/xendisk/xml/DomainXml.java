package io.xendisk.xml;

import java.util.ArrayList;
import java.util.List;

/**
 * What we need from a libvirt domain XML ({@code virsh dumpxml}, or what a
 * libvirt hook gets on stdin): its name and id, our disks from its
 * {@code <metadata>}, validated against disks.xsd with the domain XML's own
 * line numbers, and the targets of libvirt's own disks (so ours never take
 * one of theirs).
 *
 * @param name           the domain's name
 * @param id             its domain id while running, else -1
 * @param disks          our disks (empty when it has no {@code <disks>} element of ours)
 * @param libvirtTargets {@code <devices><disk><target dev>} of libvirt's own disks
 */
public record DomainXml(String name, int id, List<MetadataDisk> disks, List<String> libvirtTargets) {
    private static final String OUR_NAMESPACES = "https://xen-disk-java.org/xmlns/";

    public DomainXml {
        disks = List.copyOf(disks);
        libvirtTargets = List.copyOf(libvirtTargets);
    }

    /**
     * @param source names the document in problems, e.g. "domain vm1 (virsh dumpxml vm1)"
     * @throws XmlInvalidException naming each problem with its line in {@code xml}
     */
    public static DomainXml parse(String xml, String source) throws XmlInvalidException {
        XmlElement domain = XmlReader.read(xml, source, XmlSchema.DISKS, (ancestors, ns, name) ->
                ancestors.size() == 2 && ancestors.get(0).equals("domain") && ancestors.get(1).equals("metadata")
                        && ns.equals(MetadataDisks.NAMESPACE));
        if (!domain.name().equals("domain")) {
            throw new XmlInvalidException(new XmlProblem(source, domain.line(), domain.column(),
                    "<" + domain.name() + "> is not a libvirt domain", "give the XML of 'virsh dumpxml DOMAIN'"));
        }
        String name = domain.child("name").map(n -> n.text().strip()).orElse("");
        int id = domain.attribute("id").map(DomainXml::parseId).orElse(-1);
        List<XmlElement> ours = new ArrayList<>();
        List<XmlProblem> problems = new ArrayList<>();
        for (XmlElement m : domain.child("metadata").map(XmlElement::children).orElse(List.of())) {
            if (m.namespace().equals(MetadataDisks.NAMESPACE)) {
                ours.add(m);
            } else if (m.namespace().startsWith(OUR_NAMESPACES)) {
                problems.add(new XmlProblem(source, m.line(), m.column(), "<" + m.name()
                        + "> is in namespace " + m.namespace() + ", which xen-disk-java does not know",
                        "use xmlns:xdj=\"" + MetadataDisks.NAMESPACE + "\""));
            }
        }
        if (ours.size() > 1) {
            XmlElement second = ours.get(1);
            problems.add(new XmlProblem(source, second.line(), second.column(),
                    "a second element of namespace " + MetadataDisks.NAMESPACE
                            + " (libvirt keeps only one per namespace)",
                    "put all disks into one <xdj:disks> element"));
        }
        if (!problems.isEmpty()) {
            throw new XmlInvalidException(problems);
        }
        List<MetadataDisk> disks = ours.isEmpty() ? List.of() : MetadataDisks.fromElement(ours.get(0), source);
        List<String> targets = new ArrayList<>();
        for (XmlElement d : domain.child("devices").map(dv -> dv.children("disk")).orElse(List.of())) {
            d.child("target").flatMap(t -> t.attribute("dev")).ifPresent(targets::add);
        }
        return new DomainXml(name, id, disks, targets);
    }

    /** Our disk with that target, if any. */
    public java.util.Optional<MetadataDisk> disk(String target) {
        return disks.stream().filter(d -> d.target().equals(target)).findFirst();
    }

    private static int parseId(String s) {
        try {
            return Integer.parseInt(s.strip());
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
