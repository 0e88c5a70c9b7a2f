package io.xendisk.daemon;

import io.xendisk.backend.VbdStats;

import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * What {@code list} and {@code status} show of one virtual block device: a
 * snapshot, taken when asked, of the VBD's identity, xenbus state, storage and
 * counters.
 *
 * @param domid    the frontend's domain
 * @param devid    the device id (xenstore backend/vbd/&lt;domid&gt;/&lt;devid&gt;)
 * @param vdev     the guest's name for it, e.g. "xvdb"
 * @param state    the backend's xenbus state name, e.g. "Connected"
 * @param storage  engine and image, e.g. "cow:/images/gold.img"
 * @param counters named counters (requests, errors, bytes ...), shown sorted by name
 * @param stats    the live counters behind them, for the metrics endpoint; null for a disk not served
 */
public record VbdSummary(int domid, int devid, String vdev, String state, String storage,
                         Map<String, Long> counters, VbdStats stats) {
    public VbdSummary {
        Objects.requireNonNull(vdev, "vdev");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(storage, "storage");
        counters = Map.copyOf(counters);
    }

    /** A disk that is not served (refused, or its summary failed): no live counters. */
    public VbdSummary(int domid, int devid, String vdev, String state, String storage, Map<String, Long> counters) {
        this(domid, devid, vdev, state, storage, counters, null);
    }

    /** "domid/devid", the key users and logs name a VBD by. */
    public String id() {
        return domid + "/" + devid;
    }

    /** One line for {@code list}: "5/51728 xvdb Connected cow:/img reads=3 writes=1". */
    public String line() {
        String c = new TreeMap<>(counters).entrySet().stream()
                .map(e -> e.getKey() + "=" + e.getValue())
                .collect(Collectors.joining(" "));
        return id() + " " + vdev + " " + state + " " + storage + (c.isEmpty() ? "" : " " + c);
    }
}
