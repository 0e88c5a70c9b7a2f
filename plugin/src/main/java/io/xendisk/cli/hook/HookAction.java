package io.xendisk.cli.hook;

import java.util.Map;
import java.util.Optional;

/**
 * What the libvirt hook does for a libvirt operation; the whole op→action
 * mapping is {@link #FOR_OP}. A PV guest finds its disks at boot only if they
 * exist before libvirt unpauses the new domain, and libvirt's libxl driver
 * runs "started" after the unpause: so at "start" (before the domain is
 * created) each disk is handed to the daemon, which connects it the moment
 * the domain of that name is created, still paused (measured on real Xen in
 * tests/xen/scenarios/libvirt.sh).
 */
public enum HookAction {
    /** Check every disk (schema, image present and usable); a failure aborts the domain's start. */
    VALIDATE,
    /**
     * Check, then give every disk to the daemon to connect when the domain is
     * created (at once if it exists); a failure aborts the start.
     */
    ATTACH,
    /** Disconnect whatever the daemon still serves of the domain; never fails (libvirt ignores it at these ops). */
    DETACH;

    /** libvirt's "OP SUBOP" (hooks.rst, libxl driver) → our action; every other op does nothing. */
    static final Map<String, HookAction> FOR_OP = Map.of(
            "prepare begin", VALIDATE,
            "start begin", ATTACH,
            "stopped end", DETACH,
            "release end", DETACH);

    static Optional<HookAction> forOp(String op, String subOp) {
        return Optional.ofNullable(FOR_OP.get(op + " " + subOp));
    }
}
