package io.xendisk.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.xendisk.api.ControlRequest;
import io.xendisk.api.ControlResponse;
import sun.misc.Signal;

/**
 * {@code connect --foreground}: the disk stays connected while this command
 * runs, and Ctrl+C or SIGTERM unplugs it cleanly, as the seed's xen-disk does.
 * Also returns when the disk goes away by itself (the guest died or
 * unplugged it).
 */
final class ForegroundConnection {
    /** What the daemon's connect reply says: "... to domain 5 as xvdb (vbd 5/51728 ...". */
    static final Pattern CONNECTED = Pattern.compile("to domain (\\d+) as (\\S+) \\(vbd (\\d+/\\d+)");
    private static final long POLL_MS = 1_000;

    private final ControlClient client;
    private final ControlRequest connect;
    private final PrintStream out;
    private final PrintStream err;

    ForegroundConnection(ControlClient client, ControlRequest connect, PrintStream out, PrintStream err) {
        this.client = client;
        this.connect = connect;
        this.out = out;
        this.err = err;
    }

    int serveUntilStopped(String connectReply) {
        Matcher m = CONNECTED.matcher(connectReply);
        if (!m.find()) {
            err.println("xen-disk-java: cannot tell which disk was connected from the daemon's reply; disconnect it by hand");
            return ControlResponse.FAILED;
        }
        String domid = m.group(1);
        String vdev = m.group(2);
        String id = m.group(3);
        CountDownLatch stop = new CountDownLatch(1);
        Signal.handle(new Signal("INT"), s -> stop.countDown());
        Signal.handle(new Signal("TERM"), s -> stop.countDown());
        out.println("serving " + vdev + " of domain " + domid + " in the foreground; Ctrl+C disconnects it");
        out.flush();
        try {
            while (!stop.await(POLL_MS, TimeUnit.MILLISECONDS)) {
                if (!stillServed(id)) {
                    out.println("vbd " + id + " is gone (the guest unplugged it or exited)");
                    return ControlResponse.OK;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Map<String, String> opts = new LinkedHashMap<>();
        if (connect.option("platform") != null) {
            opts.put("platform", connect.option("platform"));
        }
        try {
            ControlResponse r = client.send(new ControlRequest("disconnect", List.of(domid, vdev), opts));
            out.print(r.stdout());
            err.print(r.stderr());
            return r.exitCode();
        } catch (IOException e) {
            err.println("xen-disk-java: could not disconnect " + vdev + " of domain " + domid + ": " + e.getMessage());
            return ControlResponse.FAILED;
        }
    }

    private boolean stillServed(String id) {
        try {
            ControlResponse r = client.send(new ControlRequest("list", List.of(), Map.of()));
            return r.stdout().lines().anyMatch(l -> l.startsWith(id + " "));
        } catch (IOException e) {
            return false;
        }
    }
}
