package io.xendisk.cli;

import io.xendisk.api.ControlRequest;
import io.xendisk.api.ControlResponse;
import io.xendisk.api.IoTuneOptions;
import io.xendisk.xml.MetadataDisk;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The daemon's {@code connect} and {@code disconnect} requests for a disk
 * declared in libvirt metadata, and how to read their answers.
 */
public final class DiskRequests {
    /**
     * Part of the daemon's disconnect answer when it serves no such disk
     * (VbdService.disconnect); such a disk is already detached.
     */
    private static final String NOT_SERVED = "is served by this daemon";
    private static final String PREFIX = "xen-disk-java: ";

    private DiskRequests() {
    }

    /** {@code connect DOMAIN --path SOURCE --storage ENGINE --vdev TARGET [--readonly] [--total-iops-sec N ...]}. */
    public static ControlRequest connect(String domain, MetadataDisk d) {
        Map<String, String> options = new LinkedHashMap<>();
        if (d.source() != null) {
            options.put("path", d.source());
        }
        options.put("storage", d.engine().id());
        options.put("vdev", d.target());
        if (d.cdrom()) {
            options.put("cdrom", "true");
        } else if (d.readOnly()) {
            options.put("readonly", "true");
        }
        d.iotune().forEach((name, value) -> options.put(IoTuneOptions.option(name), value));
        return new ControlRequest("connect", List.of(domain), options);
    }

    /** How long the daemon keeps a disk for a domain being started before giving up on it. */
    public static final int AT_START_SECONDS = 600;

    /**
     * {@code connect ... --at-start S --no-wait}: the disk is connected the moment
     * the domain is created (while libxl still holds it paused), or at once when it
     * exists already; nothing waits for the guest's frontend.
     */
    public static ControlRequest connectAtStart(String domain, MetadataDisk d) {
        ControlRequest c = connect(domain, d);
        Map<String, String> options = new LinkedHashMap<>(c.options());
        options.put("at-start", Integer.toString(AT_START_SECONDS));
        options.put("no-wait", "true");
        return new ControlRequest(c.verb(), c.args(), options);
    }

    /** {@code disconnect DOMAIN TARGET}. */
    public static ControlRequest disconnect(String domain, String target) {
        return new ControlRequest("disconnect", List.of(domain, target), Map.of());
    }

    /** The disconnect failed only because the daemon does not serve that disk. */
    public static boolean notServed(ControlResponse r) {
        return r.exitCode() != ControlResponse.OK && r.stderr().contains(NOT_SERVED);
    }

    /** The daemon's error without its "xen-disk-java: " prefix, to follow ours. */
    public static String message(ControlResponse r) {
        String m = r.stderr().strip();
        return m.startsWith(PREFIX) ? m.substring(PREFIX.length()) : m;
    }
}
