package io.xendisk.cli.hook;

import io.xendisk.xml.DomainXml;
import io.xendisk.xml.Engine;
import io.xendisk.xml.MetadataDisk;
import io.xendisk.xml.MetadataDisks;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What can be checked about a domain's disks before it starts, without the
 * daemon: each image exists, is not a directory, is readable and (for engines
 * that write through) writable, and no target is also a libvirt disk.
 */
final class DiskChecks {
    private DiskChecks() {
    }

    /** One line per problem, each naming the domain, the disk and the fix; empty when all is well. */
    static List<String> problems(String guest, DomainXml xml) {
        List<String> out = new ArrayList<>();
        String fix = "(fix the source in the domain's metadata: virsh metadata " + guest + " --uri "
                + MetadataDisks.NAMESPACE + " --config --edit, or virsh edit " + guest + ")";
        for (MetadataDisk d : xml.disks()) {
            String prefix = "domain " + guest + " disk " + d.target() + ": ";
            if (xml.libvirtTargets().contains(d.target())) {
                out.add(prefix + "the domain also has a libvirt <disk> " + d.target()
                        + " (give the xen-disk-java disk another target: virsh edit " + guest + ")");
            }
            if (d.source() == null || !d.source().startsWith("/")) {
                continue; // a remote store (nbd://..., rbd:pool/image): the daemon's connect says whether it answers
            }
            Path image = Path.of(d.source());
            if (!Files.exists(image)) {
                out.add(prefix + "image " + image + " not found " + fix);
            } else if (Files.isDirectory(image)) {
                out.add(prefix + "image " + image + " is a directory " + fix);
            } else if (!Files.isReadable(image)) {
                out.add(prefix + "image " + image + " is not readable by root (check its permissions and mount)");
            } else if (!d.readOnly() && writesThrough(d.engine()) && !Files.isWritable(image)) {
                out.add(prefix + "image " + image + " is not writable, but engine " + d.engine().id()
                        + " writes to it (fix its permissions or mount, or make the disk readonly=\"true\")");
            }
        }
        return out;
    }

    /** cow keeps the guest's writes in memory; mmap, file and qcow2 write them to the image. */
    private static boolean writesThrough(Engine e) {
        return e == Engine.MMAP || e == Engine.FILE || e == Engine.QCOW2;
    }
}
