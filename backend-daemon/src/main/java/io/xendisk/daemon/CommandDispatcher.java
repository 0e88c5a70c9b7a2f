package io.xendisk.daemon;

import io.xendisk.api.ControlRequest;
import io.xendisk.api.ControlResponse;
import io.xendisk.api.SimXenstoredPid;
import io.xendisk.api.Version;
import io.xendisk.xen.sim.domain.GuestControl;
import io.xendisk.xen.sim.domain.GuestProgram;

import java.util.Optional;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * Executes the daemon's control verbs: status, list, shutdown, sim
 * start|stop|status. The CLI validates verbs too, but this side checks again
 * because any root process can speak the protocol.
 */
public final class CommandDispatcher implements ControlServer.Handler {
    private static final org.apache.logging.log4j.Logger LOG = org.apache.logging.log4j.LogManager.getLogger(CommandDispatcher.class);
    private final DaemonContext ctx;
    private final SimXenstoredProcess sim;
    private final Runnable stopDaemon;
    private final DataPlane dataPlane;
    private final SimGuests guests;

    /**
     * @param stopDaemon asks the daemon to stop; must return at once (the
     *                   reply to {@code shutdown} is sent after it returns)
     */
    public CommandDispatcher(DaemonContext ctx, SimXenstoredProcess sim, Runnable stopDaemon) {
        this(ctx, sim, stopDaemon, new DataPlane(ctx));
    }

    CommandDispatcher(DaemonContext ctx, SimXenstoredProcess sim, Runnable stopDaemon, DataPlane dataPlane) {
        this.ctx = ctx;
        this.sim = sim;
        this.stopDaemon = stopDaemon;
        this.dataPlane = dataPlane;
        this.guests = new SimGuests(ctx.paths());
    }

    /** The toolstack's name of {@code domid}, as xenstore has it now (for the metrics' domain label). */
    Optional<String> domainName(int domid) {
        return dataPlane.domainName(domid);
    }

    /** Unplugs every disk and drops the platform connection (daemon shutdown). */
    public void close() {
        dataPlane.close();
    }

    /**
     * Connects to the platform at start, so the daemon takes back the disks a
     * previous daemon served and sees the toolstack's new disks without
     * waiting for a command. Without a platform yet (the simulated xenstored
     * not started), that happens at the first command that needs it.
     */
    public void startDataPlane() {
        try {
            dataPlane.service();
        } catch (PlatformException e) {
            LOG.info("no data plane yet: {}", e.getMessage());
        }
    }

    @Override
    public ControlResponse handle(ControlRequest request) {
        String wanted = request.option("platform");
        if (wanted != null && !wanted.isBlank() && !wanted.equalsIgnoreCase("auto")
                && !wanted.equalsIgnoreCase(ctx.platform().platform().id())) {
            return ControlResponse.error(ControlResponse.FAILED, "xen-disk-java: the running daemon (pid " + ctx.pid()
                    + ") uses platform " + ctx.platform().describe() + ", not " + wanted
                    + "; run 'xen-disk-java shutdown' first to switch\n");
        }
        switch (request.verb()) {
            case "status":
                return noArgs(request) ? ControlResponse.ok(status()) : tooMany(request);
            case "list":
                return noArgs(request) ? ControlResponse.ok(list()) : tooMany(request);
            case "shutdown":
                if (!noArgs(request)) {
                    return tooMany(request);
                }
                stopDaemon.run();
                return ControlResponse.ok("stopping daemon (pid " + ctx.pid() + ")\n");
            case "sim":
                return sim(request);
            case "connect":
            case "disconnect":
            case "resize":
            case "blkdeviotune":
                try {
                    VbdService vbds = dataPlane.service();
                    return switch (request.verb()) {
                        case "connect" -> vbds.connect(request);
                        case "resize" -> vbds.resize(request);
                        case "blkdeviotune" -> vbds.iotune(request);
                        default -> vbds.disconnect(request);
                    };
                } catch (PlatformException e) {
                    return ControlResponse.error(ControlResponse.FAILED, "xen-disk-java: " + e.getMessage() + "\n");
                }
            default:
                return ControlResponse.error(ControlResponse.USAGE, "xen-disk-java: unknown verb '" + request.verb()
                        + "' (see 'xen-disk-java help')\n");
        }
    }

    private String status() {
        StringBuilder sb = new StringBuilder();
        sb.append("platform: ").append(ctx.platform().describe()).append('\n');
        sb.append("daemon: running, pid ").append(ctx.pid()).append(", up ")
                .append(uptime(Duration.between(ctx.startedAt(), Instant.now()))).append('\n');
        sb.append("version: ").append(Version.get()).append('\n');
        sb.append("control socket: ").append(ctx.paths().controlSocket()).append('\n');
        sb.append("xenstore: ").append(ctx.xenstorePath());
        if (ctx.platform().platform() == Platform.SIM) {
            SimXenstoredPid.Status s = sim.status();
            sb.append(s.running() ? " (sim xenstored running, pid " + s.pid() + ")" : " (sim xenstored not running)");
        }
        sb.append('\n');
        sb.append("VBDs: ").append(ctx.vbds().size()).append('\n');
        sb.append("grant mappings: ").append(ctx.mappings().describe()).append('\n');
        for (VbdSummary v : ctx.vbds().list()) {
            sb.append("  ").append(v.line()).append('\n');
        }
        sb.append("log: ").append(ctx.paths().daemonLog()).append('\n');
        return sb.toString();
    }

    private String list() {
        List<VbdSummary> vbds = ctx.vbds().list();
        if (vbds.isEmpty()) {
            return "no VBDs (platform " + ctx.platform().platform().id() + ")\n";
        }
        StringBuilder sb = new StringBuilder();
        for (VbdSummary v : vbds) {
            sb.append(v.line()).append('\n');
        }
        return sb.toString();
    }

    private ControlResponse sim(ControlRequest req) {
        List<String> args = req.args();
        if (!args.isEmpty() && List.of("guest", "guests", "destroy", "run").contains(args.get(0))) {
            return simGuests(req);
        }
        if (args.size() != 1) {
            return ControlResponse.error(ControlResponse.USAGE,
                    "xen-disk-java: 'sim' needs one of start, stop, status, guest, guests, destroy, run\n");
        }
        try {
            switch (args.get(0)) {
                case "start": {
                    boolean was = sim.status().running();
                    SimXenstoredPid.Status s = sim.start();
                    return ControlResponse.ok("sim xenstored " + (was ? "already running" : "started")
                            + " (pid " + s.pid() + ", socket " + s.socket() + ")\n"
                            + "XENSTORED_PATH=" + s.socket() + " xenstore-ls\n");
                }
                case "stop": {
                    long pid = sim.stop();
                    return ControlResponse.ok(pid < 0 ? "sim xenstored was not running\n"
                            : "sim xenstored stopped (pid " + pid + ")\n");
                }
                case "status": {
                    SimXenstoredPid.Status s = sim.status();
                    String text = "sim xenstored: " + s.describe() + "\n"
                            + (s.running() ? "XENSTORED_PATH=" + s.socket() + " xenstore-ls\n" : "");
                    // like systemctl status: non-zero when not running, so scripts can test it
                    return new ControlResponse(s.running() ? ControlResponse.OK : 3, text, "");
                }
                default:
                    return ControlResponse.error(ControlResponse.USAGE, "xen-disk-java: unknown 'sim' action '"
                            + args.get(0) + "': use start, stop or status\n");
            }
        } catch (SimXenstoredProcess.SimException e) {
            return ControlResponse.error(ControlResponse.FAILED, "xen-disk-java: " + e.getMessage() + "\n");
        }
    }

    private ControlResponse simGuests(ControlRequest req) {
        List<String> a = req.args();
        if (ctx.platform().platform() != Platform.SIM) {
            return ControlResponse.error(ControlResponse.FAILED, "xen-disk-java: simulated guests need the sim platform"
                    + " (this daemon runs on " + ctx.platform().describe() + ")\n");
        }
        try {
            switch (a.get(0)) {
                case "guest": {
                    if (a.size() != 2) {
                        return usage("'sim guest' needs a name: sim guest NAME [--memory-mib 64] [--abi x86_64|x86_32]"
                                + " [--max-indirect-segments 32] [--queues 1] [--ring-page-order 0]");
                    }
                    int mib = intOption(req, "memory-mib", GuestProgram.DEFAULT_MEMORY_MIB);
                    if (mib < 4 || mib > 65536) {
                        return usage("--memory-mib must be a number of MiB from 4 to 65536, got '" + req.option("memory-mib") + "'");
                    }
                    String abi = req.option("abi") == null ? "x86_64" : req.option("abi");
                    if (!abi.equals("x86_64") && !abi.equals("x86_32")) {
                        return usage("--abi must be x86_64 or x86_32, got '" + abi + "'");
                    }
                    int indirect = intOption(req, "max-indirect-segments", GuestProgram.DEFAULT_MAX_INDIRECT_SEGMENTS);
                    if (indirect != 0 && (indirect < 12 || indirect > 4096)) {
                        return usage("--max-indirect-segments must be 0 (direct requests only) or 12 to 4096, got '"
                                + req.option("max-indirect-segments") + "'");
                    }
                    int queues = intOption(req, "queues", 1);
                    if (queues < 1 || queues > GuestProgram.MAX_QUEUES) {
                        return usage("--queues must be a number of rings per disk from 1 to " + GuestProgram.MAX_QUEUES
                                + ", got '" + req.option("queues") + "'");
                    }
                    int order = intOption(req, "ring-page-order", 0);
                    if (order < 0 || order > GuestProgram.MAX_RING_PAGE_ORDER) {
                        return usage("--ring-page-order must be 0 (one-page rings) to " + GuestProgram.MAX_RING_PAGE_ORDER
                                + " (16 pages), got '" + req.option("ring-page-order") + "'");
                    }
                    sim.start();
                    SimGuests.Guest g = guests.start(a.get(1), mib, abi, indirect, queues, order);
                    dataPlane.service(); // watch for its death from now on
                    return ControlResponse.ok("guest " + g.name() + " started: domain " + g.domid() + ", pid " + g.pid()
                            + ", " + mib + " MiB, " + abi + " (log " + ctx.paths().logDir().resolve("guest-" + g.name() + ".log") + ")\n");
                }
                case "guests": {
                    StringBuilder sb = new StringBuilder();
                    for (SimGuests.Guest g : guests.list()) {
                        sb.append(g.name()).append(" domain ").append(g.domid()).append(" pid ").append(g.pid()).append('\n');
                    }
                    return ControlResponse.ok(sb.length() == 0 ? "no simulated guests running\n" : sb.toString());
                }
                case "destroy": {
                    if (a.size() != 2) {
                        return usage("'sim destroy' needs the guest's name or domid");
                    }
                    SimGuests.Guest g = guests.destroy(a.get(1));
                    return ControlResponse.ok("guest " + g.name() + " (domain " + g.domid() + ") stopped\n");
                }
                default: { // run
                    if (a.size() < 4) {
                        return usage("'sim run' needs: sim run GUEST VDEV WORKLOAD [ARGS...]");
                    }
                    java.nio.file.Path socket = guests.controlSocket(a.get(1));
                    GuestControl.Reply r = GuestControl.send(socket,
                            "run " + String.join(" ", a.subList(2, a.size())));
                    String text = r.text().isEmpty() || r.text().endsWith("\n") ? r.text() : r.text() + "\n";
                    return r.ok() ? ControlResponse.ok(text)
                            : new ControlResponse(ControlResponse.FAILED, text, "xen-disk-java: guest " + a.get(1) + ": " + r.error() + "\n");
                }
            }
        } catch (SimXenstoredProcess.SimException | PlatformException | IllegalArgumentException e) {
            return ControlResponse.error(ControlResponse.FAILED, "xen-disk-java: " + e.getMessage() + "\n");
        } catch (java.io.IOException e) {
            return ControlResponse.error(ControlResponse.FAILED, "xen-disk-java: cannot talk to guest " + a.get(1) + ": " + e + "\n");
        }
    }

    /** The option's number; {@code dflt} when absent; -1 when it is not a number (every caller's range excludes it). */
    private static int intOption(ControlRequest req, String name, int dflt) {
        String v = req.option(name);
        if (v == null) {
            return dflt;
        }
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static ControlResponse usage(String msg) {
        return ControlResponse.error(ControlResponse.USAGE, "xen-disk-java: " + msg + "\n");
    }

    private static boolean noArgs(ControlRequest r) {
        return r.args().isEmpty();
    }

    private static ControlResponse tooMany(ControlRequest r) {
        return ControlResponse.error(ControlResponse.USAGE, "xen-disk-java: '" + r.verb()
                + "' takes no arguments, got: " + String.join(" ", r.args()) + "\n");
    }

    static String uptime(Duration d) {
        long s = d.getSeconds();
        if (s < 60) {
            return s + "s";
        }
        if (s < 3600) {
            return (s / 60) + "m" + (s % 60) + "s";
        }
        return (s / 3600) + "h" + (s % 3600 / 60) + "m";
    }
}
