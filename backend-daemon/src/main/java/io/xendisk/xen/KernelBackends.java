package io.xendisk.xen;

/**
 * The host kernel's own backend drivers (the KernelBackends port). Linux's
 * xen-blkback probes every {@code backend/vbd} device the toolstack creates
 * and maps its ring as soon as the frontend initialises; a device we serve
 * must be taken from it first. Simulated platform: there is no kernel backend.
 */
public interface KernelBackends {
    /**
     * Makes sure no kernel driver serves {@code backend/vbd/<domid>/<devid>}:
     * waits up to {@code waitMillis} for the kernel's device to show up when a
     * kernel blkback is loaded, and unbinds it from the driver (which unmaps
     * and unbinds whatever it had of the frontend, and leaves the xenstore
     * state alone).
     * @return what was done, for the log; null when there was nothing to do
     * @throws IllegalStateException naming the device and what to do when it cannot be released
     */
    String release(int domid, int devid, long waitMillis);

    /** No kernel backends (the simulated platform). */
    KernelBackends NONE = (domid, devid, waitMillis) -> null;
}
