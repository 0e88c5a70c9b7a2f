package io.xendisk.xen;

/** Binds event channels (real Xen: libxenevtchn; simulated: per-domain port tables). */
public interface EventChannels {
    /**
     * Binds to the unbound port {@code remotePort} that domain {@code domid}
     * allocated for us. Throws EventChannelException naming domain and port.
     */
    EventChannel bindInterdomain(int domid, int remotePort);
}
