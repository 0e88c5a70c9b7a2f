package io.xendisk.daemon;

import java.util.Locale;

/** Where the daemon's Xen ports come from: a real hypervisor, or the simulated platform. */
public enum Platform {
    /** Real Xen dom0: /dev/xen/privcmd and a running xenstored. */
    XEN,
    /** The simulated platform: our own xenstored, memory files, no hypervisor. */
    SIM;

    /** The name users type and read: "xen" or "sim". */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses "sim" / "xen" (any case); null if it is neither. */
    public static Platform parse(String s) {
        for (Platform p : values()) {
            if (p.id().equalsIgnoreCase(s.trim())) {
                return p;
            }
        }
        return null;
    }
}
