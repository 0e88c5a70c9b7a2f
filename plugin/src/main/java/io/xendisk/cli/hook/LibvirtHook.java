package io.xendisk.cli.hook;

import io.xendisk.api.ControlResponse;
import io.xendisk.cli.DaemonLink;
import io.xendisk.cli.DiskRequests;
import io.xendisk.cli.DaemonStartFailedException;
import io.xendisk.xml.DomainXml;
import io.xendisk.xml.MetadataDisk;
import io.xendisk.xml.XmlInvalidException;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code libvirt-hook GUEST OP SUBOP [EXTRA]}, run by
 * /etc/libvirt/hooks/libxl.d/xen-disk-java with the domain XML on stdin.
 * It never calls libvirt (libvirtd waits for the hook, holding the domain);
 * everything it needs is in the XML. Its stderr is what libvirt shows when
 * it aborts a start, so each failure is one line naming the domain and disk.
 */
public final class LibvirtHook {
    private final DaemonLink daemon;
    private final PrintStream err;

    /** @param err libvirt shows it on failure; stdout stays empty (libvirt reads it as XML at migrate) */
    public LibvirtHook(DaemonLink daemon, PrintStream err) {
        this.daemon = daemon;
        this.err = err;
    }

    /** @return the exit status libvirt sees: non-zero aborts the domain's start at prepare/start/started */
    public int run(List<String> args, InputStream stdin) {
        String guest = args.get(0);
        Optional<HookAction> action = HookAction.forOp(args.get(1), args.get(2));
        if (action.isEmpty()) {
            return ControlResponse.OK;
        }
        DomainXml xml;
        try {
            xml = DomainXml.parse(new String(stdin.readAllBytes(), StandardCharsets.UTF_8), "domain " + guest + " XML");
        } catch (IOException e) {
            return fail(action.get(), "xen-disk-java: domain " + guest + ": cannot read the domain XML from stdin: " + e);
        } catch (XmlInvalidException e) {
            return fail(action.get(), "xen-disk-java: domain " + guest + ": invalid xen-disk-java metadata"
                    + " (fix it: virsh edit " + guest + "):\n" + e.getMessage());
        }
        if (xml.disks().isEmpty()) {
            return ControlResponse.OK;
        }
        return switch (action.get()) {
            case VALIDATE -> validate(guest, xml);
            case ATTACH -> validate(guest, xml) == ControlResponse.OK ? attach(guest, xml) : ControlResponse.FAILED;
            case DETACH -> detach(guest, xml);
        };
    }

    private int fail(HookAction action, String message) {
        err.println(message);
        // nothing to undo at stop: a broken XML there must not look like an error libvirt could act on
        return action == HookAction.DETACH ? ControlResponse.OK : ControlResponse.FAILED;
    }

    private int validate(String guest, DomainXml xml) {
        List<String> problems = DiskChecks.problems(guest, xml);
        problems.forEach(p -> err.println("xen-disk-java: " + p));
        return problems.isEmpty() ? ControlResponse.OK : ControlResponse.FAILED;
    }

    /** Hands every disk to the daemon; on a failure, takes back the ones this run handed over and fails. */
    private int attach(String guest, DomainXml xml) {
        List<MetadataDisk> done = new ArrayList<>();
        for (MetadataDisk d : xml.disks()) {
            String problem;
            try {
                ControlResponse r = daemon.send(DiskRequests.connectAtStart(guest, d));
                if (r.exitCode() == ControlResponse.OK) {
                    err.print(r.stdout());
                    done.add(d);
                    continue;
                }
                problem = DiskRequests.message(r);
            } catch (DaemonStartFailedException e) {
                problem = "the daemon is not running and could not be started: " + e.getMessage();
            } catch (IOException e) {
                problem = "the daemon broke the connection: " + e.getMessage();
            }
            err.println("xen-disk-java: domain " + guest + " disk " + d.target() + ": cannot attach it: " + problem);
            for (MetadataDisk undo : done) {
                disconnect(guest, undo.target());
            }
            return ControlResponse.FAILED;
        }
        return ControlResponse.OK;
    }

    /**
     * Disconnects what is left. By domain id while the XML has one: at
     * "stopped" the domain is already gone from xenstore, so its name no
     * longer resolves (the daemon also reaps dead domains by itself).
     */
    private int detach(String guest, DomainXml xml) {
        String domain = xml.id() > 0 ? Integer.toString(xml.id()) : guest;
        for (MetadataDisk d : xml.disks()) {
            disconnect(domain, d.target());
        }
        return ControlResponse.OK;
    }

    private void disconnect(String domain, String target) {
        try {
            Optional<ControlResponse> r = daemon.sendIfRunning(DiskRequests.disconnect(domain, target));
            if (r.isPresent() && r.get().exitCode() != ControlResponse.OK && !DiskRequests.notServed(r.get())) {
                err.println("xen-disk-java: domain " + domain + " disk " + target + ": " + DiskRequests.message(r.get()));
            }
        } catch (IOException e) {
            err.println("xen-disk-java: domain " + domain + " disk " + target + ": cannot reach the daemon to detach it: "
                    + e.getMessage());
        }
    }
}
