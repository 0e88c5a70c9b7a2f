package io.xendisk.cli.libvirt;

import io.xendisk.api.ControlResponse;
import io.xendisk.cli.DaemonLink;
import io.xendisk.cli.DiskRequests;
import io.xendisk.xml.DomainXml;
import io.xendisk.xml.MetadataDisk;

import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * {@code detach-disk DOMAIN TARGET [--live] [--config] [--persistent] [--current]}:
 * the mirror of attach-disk. Live, the daemon disconnects the disk (its
 * {@code disconnect} verb) and the live metadata forgets it; config, the
 * persistent metadata forgets it.
 */
public final class DetachDisk {
    private final DaemonLink daemon;
    private final PrintStream out;
    private final PrintStream err;

    public DetachDisk(DaemonLink daemon, PrintStream out, PrintStream err) {
        this.daemon = daemon;
        this.out = out;
        this.err = err;
    }

    public void run(LibvirtDomain dom, String target, AffectFlags flags) throws LibvirtFailure, IOException {
        Set<Scope> scopes = flags.resolve(dom.name(), dom.active(), dom.persistent());
        Map<Scope, List<MetadataDisk>> remaining = new EnumMap<>(Scope.class);
        for (Scope scope : scopes) {
            DomainXml xml = dom.read(scope);
            Optional<MetadataDisk> disk = xml.disk(target);
            if (disk.isEmpty()) {
                if (xml.libvirtTargets().contains(target)) {
                    throw new LibvirtFailure(target + " of domain " + dom.name() + " is a libvirt disk, not a"
                            + " xen-disk-java one: use virsh detach-disk " + dom.name() + " " + target);
                }
                throw new LibvirtFailure("domain " + dom.name() + " has no xen-disk-java disk " + target + " in its "
                        + scope.label() + " definition (see: xen-disk-java domblklist " + dom.name()
                        + (scope == Scope.CONFIG ? " --inactive" : "") + ")");
            }
            List<MetadataDisk> rest = new ArrayList<>(xml.disks());
            rest.remove(disk.get());
            remaining.put(scope, rest);
        }
        if (scopes.contains(Scope.LIVE)) {
            disconnect(dom.name(), target);
            dom.write(Scope.LIVE, remaining.get(Scope.LIVE));
        }
        if (scopes.contains(Scope.CONFIG)) {
            dom.write(Scope.CONFIG, remaining.get(Scope.CONFIG));
        }
        out.println("Disk detached successfully: " + target + " from domain " + dom.name() + " ("
                + scopes.stream().map(Scope::label).collect(Collectors.joining(" and ")) + ")");
    }

    private void disconnect(String domain, String target) throws LibvirtFailure, IOException {
        Optional<ControlResponse> r = daemon.sendIfRunning(DiskRequests.disconnect(domain, target));
        if (r.isEmpty()) {
            err.println("xen-disk-java: note: no daemon runs, so " + target + " of " + domain
                    + " was not being served; removing it from the metadata");
            return;
        }
        ControlResponse resp = r.get();
        if (resp.exitCode() == ControlResponse.OK) {
            out.print(resp.stdout());
            return;
        }
        if (DiskRequests.notServed(resp)) {
            err.println("xen-disk-java: note: the daemon was not serving " + target + " of " + domain
                    + "; removing it from the metadata");
            return;
        }
        throw new LibvirtFailure("the daemon could not detach " + target + " from domain " + domain + ": "
                + DiskRequests.message(resp));
    }
}
