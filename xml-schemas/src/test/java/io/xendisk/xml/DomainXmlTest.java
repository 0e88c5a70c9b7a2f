package io.xendisk.xml;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Our disks inside a whole libvirt domain XML: parsed, and every problem named with the domain XML's line. */
class DomainXmlTest {
    private static final String NS = MetadataDisks.NAMESPACE;

    /** A domain XML as virsh dumpxml prints it, with {@code metadata} spliced in at line 5. */
    static String domain(String metadata) {
        return "<domain type='xen' id='7'>\n"                                   // 1
                + "  <name>vm1</name>\n"                                          // 2
                + "  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>\n"         // 3
                + "  <metadata>\n"                                                // 4
                + metadata                                                        // 5..
                + "  </metadata>\n"
                + "  <memory unit='KiB'>262144</memory>\n"
                + "  <os><type>linux</type></os>\n"
                + "  <devices>\n"
                + "    <disk type='file' device='disk'>\n"
                + "      <driver name='phy'/>\n"
                + "      <source file='/var/lib/xen/images/root.img'/>\n"
                + "      <target dev='xvda' bus='xen'/>\n"
                + "    </disk>\n"
                + "  </devices>\n"
                + "</domain>\n";
    }

    private static XmlInvalidException invalid(String metadata) {
        return assertThrows(XmlInvalidException.class, () -> DomainXml.parse(domain(metadata), "vm1.xml"));
    }

    @Test
    void readsNameIdDisksAndLibvirtTargets() throws Exception {
        DomainXml d = DomainXml.parse(domain(
                "    <xdj:disks xmlns:xdj='" + NS + "'>\n"
                        + "      <xdj:disk target='xvdb' source='/img/gold.img' engine='cow'/>\n"
                        + "      <xdj:disk target='xvdc' source='/img/data.img' readonly='true'/>\n"
                        + "      <xdj:disk target='xvdd' engine='discard'/>\n"
                        + "    </xdj:disks>\n"), "vm1.xml");
        assertEquals("vm1", d.name());
        assertEquals(7, d.id());
        assertEquals(List.of(new MetadataDisk("xvdb", "/img/gold.img", Engine.COW, false),
                new MetadataDisk("xvdc", "/img/data.img", Engine.FILE, true),
                new MetadataDisk("xvdd", null, Engine.DISCARD, false)), d.disks());
        assertEquals(List.of("xvda"), d.libvirtTargets());
    }

    @Test
    void aUriSourceWithoutAnEngineIsServedByTheEngineOfItsScheme() throws Exception {
        DomainXml d = DomainXml.parse(domain("    <disks xmlns='" + NS + "'>"
                + "<disk target='xvdb' source='nbd://store:10809/vm1'/>"
                + "<disk target='xvdc' source='nbd+unix:///vm1?socket=/run/nbd.sock' engine='nbd'/></disks>\n"), "vm1.xml");
        assertEquals(List.of(new MetadataDisk("xvdb", "nbd://store:10809/vm1", Engine.NBD, false),
                new MetadataDisk("xvdc", "nbd+unix:///vm1?socket=/run/nbd.sock", Engine.NBD, false)), d.disks());
        assertEquals(Engine.NBD, MetadataDisk.defaultEngine("NBDS+UNIX:///x?socket=/s"));
        assertEquals(Engine.FILE, MetadataDisk.defaultEngine("/img/a.img"));
    }

    @Test
    void iotuneAsLibvirtWritesItInsideADisk() throws Exception {
        DomainXml d = DomainXml.parse(domain("    <xdj:disks xmlns:xdj='" + NS + "'>\n"
                + "      <xdj:disk target='xvdb' source='/img/a.img'><xdj:iotune><xdj:write_iops_sec>500"
                + "</xdj:write_iops_sec><xdj:total_bytes_sec>52428800</xdj:total_bytes_sec></xdj:iotune></xdj:disk>\n"
                + "    </xdj:disks>\n"), "vm1.xml");
        MetadataDisk disk = new MetadataDisk("xvdb", "/img/a.img", Engine.FILE, false,
                java.util.Map.of("write_iops_sec", "500", "total_bytes_sec", "52428800"));
        assertEquals(List.of(disk), d.disks());
        // written back for setMetadata, and read again the same
        String xml = MetadataDisks.toMetadataXml(List.of(disk));
        assertTrue(xml.contains("<iotune>") && xml.contains("<write_iops_sec>500</write_iops_sec>"), xml);
        DomainXml again = DomainXml.parse(domain("    " + xml.replace("<disks>", "<disks xmlns='" + NS + "'>")), "x");
        assertEquals(List.of(disk), again.disks());

        XmlInvalidException e = assertThrows(XmlInvalidException.class, () -> DomainXml.parse(domain(
                "    <disks xmlns='" + NS + "'><disk target='xvdb' source='/a'><iotune><total_iops>5</total_iops>"
                        + "</iotune></disk></disks>\n"), "vm1.xml"));
        assertTrue(e.getMessage().contains("total_iops"), e.getMessage());
    }

    @Test
    void aCdromDriveAsLibvirtNamesItIsReadOnlyAndNeedsItsImage() throws Exception {
        DomainXml d = DomainXml.parse(domain("    <disks xmlns='" + NS + "'>"
                + "<disk target='xvdd' source='/iso/tools.iso' device='cdrom'/></disks>\n"), "vm1.xml");
        MetadataDisk cd = d.disks().get(0);
        assertTrue(cd.cdrom() && cd.readOnly(), cd.toString());
        assertEquals(List.of(cd), DomainXml.parse(domain("    " + MetadataDisks.toMetadataXml(List.of(cd))
                .replace("<disks>", "<disks xmlns='" + NS + "'>")), "x").disks());
        XmlInvalidException none = assertThrows(XmlInvalidException.class, () -> DomainXml.parse(domain(
                "    <disks xmlns='" + NS + "'><disk target='xvdd' engine='discard' device='cdrom'/></disks>\n"), "v"));
        assertTrue(none.getMessage().contains("a CD-ROM drive needs its image"), none.getMessage());
        XmlInvalidException bad = assertThrows(XmlInvalidException.class, () -> DomainXml.parse(domain(
                "    <disks xmlns='" + NS + "'><disk target='xvdd' source='/a' device='floppy'/></disks>\n"), "v"));
        assertTrue(bad.getMessage().contains("use disk or cdrom"), bad.getMessage());
    }

    @Test
    void anyPrefixOrADefaultNamespaceWorks() throws Exception {
        DomainXml d = DomainXml.parse(domain("    <disks xmlns='" + NS + "'><disk target='xvdz' source='/a'/></disks>\n"),
                "vm1.xml");
        assertEquals(List.of(new MetadataDisk("xvdz", "/a", Engine.FILE, false)), d.disks());
    }

    @Test
    void noMetadataOrOtherNamespacesMeanNoDisks() throws Exception {
        assertEquals(List.of(), DomainXml.parse(domain(""), "x").disks());
        assertEquals(List.of(), DomainXml.parse(domain("    <b:other xmlns:b='http://example.org/b'><disk target='zzz'/></b:other>\n"),
                "x").disks());
        DomainXml noId = DomainXml.parse(domain("").replace(" id='7'", ""), "x");
        assertEquals(-1, noId.id());
    }

    @Test
    void badEngineNamesTheLineAndTheChoices() {
        XmlInvalidException e = invalid("    <xdj:disks xmlns:xdj='" + NS + "'>\n"
                + "      <xdj:disk target='xvdb' source='/img' engine='qcow9'/>\n"
                + "    </xdj:disks>\n");
        assertEquals(1, e.problems().size(), e.getMessage());
        XmlProblem p = e.problems().get(0);
        assertEquals(6, p.line(), e.getMessage());
        assertTrue(p.column() > 0);
        assertEquals("vm1.xml:6:" + p.column() + ": invalid engine=\"qcow9\" on <disk>;"
                + " use cow (writes vanish at detach), mmap, file, qcow2, nbd, rbd or discard", p.format());
    }

    @Test
    void badTargetMissingTargetUnknownAttributeAndDuplicateAreAllReported() {
        XmlInvalidException e = invalid("    <xdj:disks xmlns:xdj='" + NS + "'>\n"   // 5
                + "      <xdj:disk target='sdb' source='/a'/>\n"                           // 6
                + "      <xdj:disk source='/b'/>\n"                                        // 7
                + "      <xdj:disk target='xvdc' source='/c' size='10G'/>\n"               // 8
                + "      <xdj:disk target='xvdc' source='/d'/>\n"                          // 9
                + "    </xdj:disks>\n");
        String m = e.getMessage();
        assertEquals(List.of(6, 7, 8, 9), e.problems().stream().map(XmlProblem::line).toList(), m);
        assertTrue(m.contains("vm1.xml:6:") && m.contains("invalid target=\"sdb\" on <disk>; use a Xen disk name: xvdb"), m);
        assertTrue(m.contains("<disk> lacks target; add target=\"xvdb\""), m);
        assertTrue(m.contains("<disk> has no attribute size; remove it (a <disk> takes the attributes target, source, engine, device and readonly, and an <iotune>)"), m);
        assertTrue(m.contains("a second disk with target xvdc; give each disk its own target"), m);
    }

    @Test
    void relativeSourceAndBadBooleanAreNamed() {
        XmlInvalidException e = invalid("    <xdj:disks xmlns:xdj='" + NS + "'>\n"
                + "      <xdj:disk target='xvdb' source='images/a.img' readonly='yes'/>\n"
                + "    </xdj:disks>\n");
        String m = e.getMessage();
        assertEquals(2, e.problems().size(), m);
        assertTrue(m.contains(":6:") && m.contains("invalid source=\"images/a.img\" on <disk>; use the image's absolute path"), m);
        assertTrue(m.contains("invalid readonly=\"yes\" on <disk>; use true or false"), m);
    }

    @Test
    void childWithoutThePrefixIsAskedToTakeIt() {
        XmlInvalidException e = invalid("    <xdj:disks xmlns:xdj='" + NS + "'>\n"
                + "      <disk target='xvdb' source='/a'/>\n"
                + "    </xdj:disks>\n");
        assertEquals(6, e.problems().get(0).line(), e.getMessage());
        assertTrue(e.getMessage().contains("unexpected <disk> outside namespace " + NS
                + "; write it with the same prefix as its parent (e.g. <xdj:disk>)"), e.getMessage());
    }

    @Test
    void unknownElementsInsideOursAreNamed() {
        XmlInvalidException e = invalid("    <xdj:disks xmlns:xdj='" + NS + "'>\n"
                + "      <xdj:disc target='xvdb' source='/a'/>\n"
                + "    </xdj:disks>\n");
        assertTrue(e.getMessage().startsWith("vm1.xml:6:"), e.getMessage());
        assertTrue(e.getMessage().contains("unexpected <disc>; remove it or fix its name (expected: <disk>)"), e.getMessage());
    }

    @Test
    void engineThatNeedsAnImageWithoutOneAndDiscardWithOne() {
        XmlInvalidException e = invalid("    <xdj:disks xmlns:xdj='" + NS + "'>\n"
                + "      <xdj:disk target='xvdb' engine='cow'/>\n"
                + "      <xdj:disk target='xvdc' engine='discard' source='/x'/>\n"
                + "    </xdj:disks>\n");
        String m = e.getMessage();
        assertEquals(List.of(6, 7), e.problems().stream().map(XmlProblem::line).toList(), m);
        assertTrue(m.contains("disk xvdb: engine cow needs an image; add source=\"/path/to/image.img\""), m);
        assertTrue(m.contains("disk xvdc: engine discard serves no image"), m);
    }

    @Test
    void secondElementAndNearMissNamespace() {
        XmlInvalidException two = invalid("    <xdj:disks xmlns:xdj='" + NS + "'/>\n"
                + "    <xdj:disks xmlns:xdj='" + NS + "'/>\n");
        assertEquals(6, two.problems().get(0).line(), two.getMessage());
        assertTrue(two.getMessage().contains("put all disks into one <xdj:disks> element"), two.getMessage());
        XmlInvalidException v2 = invalid("    <xdj:disks xmlns:xdj='https://xen-disk-java.org/xmlns/libvirt-disks/2'/>\n");
        assertTrue(v2.getMessage().startsWith("vm1.xml:5:"), v2.getMessage());
        assertTrue(v2.getMessage().contains("use xmlns:xdj=\"" + NS + "\""), v2.getMessage());
    }

    @Test
    void wrongLocalNameInOurNamespace() {
        XmlInvalidException e = invalid("    <xdj:disk xmlns:xdj='" + NS + "' target='xvdb'/>\n");
        assertEquals(5, e.problems().get(0).line());
        assertTrue(e.getMessage().contains("<xdj:disk> is not a <disks> element of namespace " + NS), e.getMessage());
    }

    @Test
    void brokenXmlIsASyntaxErrorWithItsLine() {
        XmlInvalidException e = invalid("    <xdj:disks xmlns:xdj='" + NS + "'>\n"
                + "      <xdj:disk target='xvdb' source='/a'>\n"
                + "    </xdj:disks>\n");
        XmlProblem p = e.problems().get(0);
        assertEquals(7, p.line(), e.getMessage());
        assertTrue(p.problem().startsWith("not well-formed XML: "), p.problem());
        assertEquals("fix the XML syntax there", p.fix());
    }

    @Test
    void notADomain() {
        XmlInvalidException e = assertThrows(XmlInvalidException.class, () -> DomainXml.parse("<network/>", "n.xml"));
        assertTrue(e.getMessage().startsWith("n.xml:1:"), e.getMessage());
        assertTrue(e.getMessage().contains("<network> is not a libvirt domain"), e.getMessage());
    }

    @Test
    void doctypeIsRefused() {
        XmlInvalidException e = assertThrows(XmlInvalidException.class, () -> DomainXml.parse(
                "<!DOCTYPE domain [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>\n<domain><name>&x;</name></domain>", "d.xml"));
        assertTrue(e.getMessage().contains("DOCTYPE"), e.getMessage());
    }

    @Test
    void writtenMetadataReadsBackThroughADomainXml() throws Exception {
        List<MetadataDisk> disks = List.of(new MetadataDisk("xvdb", "/img/a \"quoted\" & <odd>.img", Engine.MMAP, true),
                new MetadataDisk("xvdc", null, Engine.DISCARD, false));
        String element = "    " + MetadataDisks.toDomainXmlElement(disks);
        assertEquals(disks, DomainXml.parse(domain(element), "x").disks());
    }
}
