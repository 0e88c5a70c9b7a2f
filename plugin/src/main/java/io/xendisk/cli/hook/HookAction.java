package io.xendisk.cli.hook;

import java.util.Map;
import java.util.Optional;

/**
 * What the libvirt hook does for a libvirt operation. The whole op→action
 * mapping is {@link #FOR_OP}: which operation a disk must be attached at for
 * a PV guest to see it at boot is measured on real Xen, and moving the attach
 * is a one-line change here.
 */
public enum HookAction {
    /** Check every disk (schema, image present and usable); a failure aborts the domain's start. */
    VALIDATE,
    /** Check, then connect every disk through the daemon; a failure aborts the start (libvirt then stops the domain). */
    ATTACH,
    /** Disconnect whatever the daemon still serves of the domain; never fails (libvirt ignores it at these ops). */
    DETACH;

    /** libvirt's "OP SUBOP" (hooks.rst, libxl driver) → our action; every other op does nothing. */
    static final Map<String, HookAction> FOR_OP = Map.of(
            "prepare begin", VALIDATE,
            "started begin", ATTACH,
            "stopped end", DETACH,
            "release end", DETACH);

    static Optional<HookAction> forOp(String op, String subOp) {
        return Optional.ofNullable(FOR_OP.get(op + " " + subOp));
    }
}
