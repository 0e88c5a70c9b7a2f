package io.xendisk.cli.libvirt;

import io.xendisk.api.ControlResponse;
import io.xendisk.cli.DaemonLink;
import io.xendisk.cli.DaemonStartFailedException;
import io.xendisk.cli.ImageSource;
import org.libvirt.Connect;
import org.libvirt.LibvirtException;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * attach-disk, detach-disk and domblklist: run in the CLI process against
 * libvirt (libvirt-java), reaching the daemon only for live changes.
 */
public final class LibvirtVerbs {
    private final Map<String, String> env;
    private final Path cwd;
    private final DaemonLink daemon;
    private final PrintStream out;
    private final PrintStream err;

    public LibvirtVerbs(Map<String, String> env, DaemonLink daemon, PrintStream out, PrintStream err) {
        this(env, Path.of("").toAbsolutePath(), daemon, out, err);
    }

    /** @param cwd the directory a relative SOURCE is taken from (the caller's) */
    public LibvirtVerbs(Map<String, String> env, Path cwd, DaemonLink daemon, PrintStream out, PrintStream err) {
        this.env = Map.copyOf(env);
        this.cwd = cwd.toAbsolutePath();
        this.daemon = daemon;
        this.out = out;
        this.err = err;
    }

    /**
     * @param args    the verb's positional arguments, in virsh's order
     * @param options its options ("connect" → URI, "live" → "true", ...)
     * @return exit status: 0 done, 1 failed (message printed)
     */
    public int run(String verb, List<String> args, Map<String, String> options) {
        String uri = LibvirtUri.resolve(options.get("connect"), env);
        Connect conn = null;
        try {
            conn = Libvirt.open(uri);
            LibvirtDomain dom = LibvirtDomain.lookup(conn, uri, args.get(0));
            switch (verb) {
                case "attach-disk" -> new AttachDisk(daemon, out, err).run(dom, new AttachDisk.Request(source(args.get(1)),
                        args.get(2), options.get("driver-type"), options.get("mode"), options.get("driver"),
                        AffectFlags.from(options), options.containsKey("print-xml")));
                case "detach-disk" -> new DetachDisk(daemon, out, err).run(dom, args.get(1), AffectFlags.from(options));
                case "domblklist" -> new DomBlkList(out).run(dom, options.containsKey("inactive"));
                default -> throw new IllegalArgumentException("not a libvirt verb: " + verb);
            }
            return ControlResponse.OK;
        } catch (LibvirtFailure e) {
            err.println("xen-disk-java: " + e.getMessage());
            return ControlResponse.FAILED;
        } catch (DaemonStartFailedException e) {
            return ControlResponse.FAILED; // already explained
        } catch (IOException e) {
            err.println("xen-disk-java: " + verb + ": the daemon broke the connection: " + e.getMessage());
            return ControlResponse.FAILED;
        } finally {
            close(conn);
        }
    }

    /** attach-disk's SOURCE, absolute against the caller's directory; "-" (no image) and URIs as they are. */
    private String source(String source) {
        return source.equals("-") ? source : ImageSource.resolve(source, cwd);
    }

    private static void close(Connect conn) {
        if (conn != null) {
            try {
                conn.close();
            } catch (LibvirtException e) {
                // nothing left to do with it
            }
        }
    }
}
