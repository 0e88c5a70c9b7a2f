package io.xendisk.cli.libvirt;

import io.xendisk.api.ControlResponse;
import io.xendisk.cli.DaemonLink;
import io.xendisk.cli.DiskRequests;
import io.xendisk.xml.DomainXml;
import io.xendisk.xml.Engine;
import io.xendisk.xml.MetadataDisk;
import io.xendisk.xml.MetadataDisks;
import io.xendisk.xml.XmlInvalidException;
import io.xendisk.xml.XmlProblem;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * {@code attach-disk DOMAIN SOURCE TARGET [--driver-type ENGINE] [--mode readonly]
 * [--live] [--config] [--persistent] [--current] [--print-xml]}: live, the
 * daemon connects the disk now (its {@code connect} verb) and the domain's live
 * metadata records it; config, the persistent metadata records it for the next
 * start (the libvirt hook attaches it then).
 */
public final class AttachDisk {
    /** What the command line asked for; {@code source} is absolute (or a URI, or "-" for no image). */
    public record Request(String source, String target, String engine, String mode, String driver,
                          AffectFlags flags, boolean printXml) {
    }

    private final DaemonLink daemon;
    private final PrintStream out;
    private final PrintStream err;

    public AttachDisk(DaemonLink daemon, PrintStream out, PrintStream err) {
        this.daemon = daemon;
        this.out = out;
        this.err = err;
    }

    public void run(LibvirtDomain dom, Request req) throws LibvirtFailure, IOException {
        MetadataDisk disk = disk(dom.name(), req);
        Set<Scope> scopes = req.flags().resolve(dom.name(), dom.active(), dom.persistent());
        Map<Scope, List<MetadataDisk>> updated = new EnumMap<>(Scope.class);
        for (Scope scope : scopes) {
            DomainXml xml = dom.read(scope);
            refuseTakenTarget(dom.name(), scope, xml, disk.target());
            List<MetadataDisk> disks = new ArrayList<>(xml.disks());
            disks.add(disk);
            updated.put(scope, disks);
        }
        if (req.printXml()) {
            // like virsh's --print-xml: show what would be recorded, change nothing
            out.print(MetadataDisks.toDomainXmlElement(updated.values().iterator().next()));
            return;
        }
        if (disk.source() != null && !scopes.contains(Scope.LIVE) && !Files.exists(Path.of(disk.source()))) {
            err.println("xen-disk-java: note: " + disk.source() + " does not exist yet; domain " + dom.name()
                    + " will not start until it does");
        }
        if (scopes.contains(Scope.LIVE)) {
            connect(dom.name(), disk);
            try {
                dom.write(Scope.LIVE, updated.get(Scope.LIVE));
            } catch (LibvirtFailure e) {
                // an attached disk that libvirt does not list would be forgotten at stop: undo it
                disconnectQuietly(dom.name(), disk.target());
                throw e;
            }
        }
        if (scopes.contains(Scope.CONFIG)) {
            try {
                dom.write(Scope.CONFIG, updated.get(Scope.CONFIG));
            } catch (LibvirtFailure e) {
                if (scopes.contains(Scope.LIVE)) {
                    throw new LibvirtFailure("disk " + disk.target() + " is attached to the running domain " + dom.name()
                            + ", but not recorded for its next start: " + e.getMessage()
                            + " (retry with --config)");
                }
                throw e;
            }
        }
        out.println("Disk attached successfully: " + describe(disk) + " to domain " + dom.name() + " ("
                + scopes.stream().map(Scope::label).collect(Collectors.joining(" and ")) + ")");
    }

    /** The disk the command line describes, checked against disks.xsd like any metadata. */
    static MetadataDisk disk(String domain, Request req) throws LibvirtFailure {
        if (req.driver() != null && !req.driver().equals("xen-disk-java")) {
            throw new LibvirtFailure("this attach-disk attaches xen-disk-java disks only (--driver xen-disk-java);"
                    + " for driver " + req.driver() + " use virsh attach-disk");
        }
        Engine engine = MetadataDisk.defaultEngine(req.source().equals("-") ? null : req.source());
        if (req.engine() != null) {
            engine = Engine.parse(req.engine()).orElseThrow(() -> new LibvirtFailure("unknown --driver-type '"
                    + req.engine() + "': use " + Engine.choices()));
        }
        boolean readOnly = false;
        if (req.mode() != null) {
            if (!req.mode().equals("readonly")) {
                throw new LibvirtFailure("--mode " + req.mode() + " is not supported for xen-disk-java disks:"
                        + " give --mode readonly, or no --mode for a writable disk");
            }
            readOnly = true;
        }
        String source = null;
        if (engine.needsImage()) {
            if (req.source().equals("-")) {
                throw new LibvirtFailure("engine " + engine.id() + " needs an image: give its path as the source");
            }
            source = req.source(); // absolute already (LibvirtVerbs), or a URI the schema refuses by name
        } else if (!req.source().equals("-")) {
            throw new LibvirtFailure("engine discard serves no image: give - as the source");
        }
        MetadataDisk disk;
        try {
            disk = new MetadataDisk(req.target(), source, engine, readOnly);
            MetadataDisks.check(List.of(disk));
        } catch (XmlInvalidException e) {
            throw new LibvirtFailure("cannot attach " + req.target() + " to " + domain + ": "
                    + e.problems().stream().map(AttachDisk::problemAndFix).collect(Collectors.joining("; ")));
        }
        return disk;
    }

    private static String problemAndFix(XmlProblem p) {
        return p.fix().isEmpty() ? p.problem() : p.problem() + "; " + p.fix();
    }

    static void refuseTakenTarget(String domain, Scope scope, DomainXml xml, String target) throws LibvirtFailure {
        if (xml.disk(target).isPresent()) {
            throw new LibvirtFailure("domain " + domain + " already has a xen-disk-java disk " + target + " in its "
                    + scope.label() + " definition (" + describe(xml.disk(target).get()) + "); choose another target,"
                    + " or detach it first: xen-disk-java detach-disk " + domain + " " + target);
        }
        if (xml.libvirtTargets().contains(target)) {
            throw new LibvirtFailure("domain " + domain + " already has a libvirt disk " + target + " in its "
                    + scope.label() + " definition (virsh domblklist " + domain + "); choose another target");
        }
    }

    private void connect(String domain, MetadataDisk disk) throws LibvirtFailure, IOException {
        ControlResponse r = daemon.send(DiskRequests.connect(domain, disk));
        if (r.exitCode() != ControlResponse.OK) {
            throw new LibvirtFailure("the daemon could not attach " + disk.target() + " to domain " + domain + ": "
                    + DiskRequests.message(r));
        }
        out.print(r.stdout());
    }

    private void disconnectQuietly(String domain, String target) {
        try {
            daemon.sendIfRunning(DiskRequests.disconnect(domain, target));
        } catch (IOException e) {
            err.println("xen-disk-java: could not undo the attach of " + target + " to " + domain + ": " + e.getMessage()
                    + " (run: xen-disk-java disconnect " + domain + " " + target + ")");
        }
    }

    static String describe(MetadataDisk d) {
        return d.target() + " (" + d.engine().id() + (d.source() == null ? "" : " " + d.source())
                + (d.readOnly() ? ", read-only" : "") + ")";
    }
}
