package io.xendisk.xen.real;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import com.sun.jna.Pointer;

import io.xendisk.os.LibC;
import io.xendisk.xen.EventChannelException;
import io.xendisk.xen.EventChannels;

/**
 * The EventChannels port on real Xen: libxenevtchn over /dev/xen/evtchn.
 * Every bound channel gets its own handle (and file descriptor), so each ring
 * thread polls only its own port and owns its handle outright.
 */
public final class RealEventChannels implements EventChannels {
    private static final Logger LOG = LogManager.getLogger(RealEventChannels.class);

    private final EvtchnLib lib;

    private RealEventChannels(EvtchnLib lib) {
        this.lib = lib;
    }

    /**
     * Loads libxenevtchn and checks that /dev/xen/evtchn opens (one handle
     * is opened and closed again), so a missing piece is reported when the
     * data plane starts rather than when a guest connects.
     * @throws XenUnavailableException saying what to install or load
     */
    public static RealEventChannels open() {
        EvtchnLib lib = EvtchnLib.load();
        Pointer h = lib.xenevtchn_open(null, 0);
        if (h == null) {
            throw new XenUnavailableException(XenLibrary.EVTCHN.openFailureMessage(LibC.errno()));
        }
        lib.xenevtchn_close(h);
        try {
            Class.forName(EvtchnLib.Direct.class.getName(), true, RealEventChannels.class.getClassLoader());
            Class.forName(LibC.class.getName(), true, RealEventChannels.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            throw new XenUnavailableException(XenLibrary.EVTCHN.soname() + ": cannot bind its functions: " + e);
        }
        LOG.info("event channels available ({})", XenLibrary.EVTCHN.device());
        return new RealEventChannels(lib);
    }

    @Override
    public RealEventChannel bindInterdomain(int domid, int remotePort) {
        String where = "domain " + domid + " port " + remotePort;
        Pointer h = lib.xenevtchn_open(null, 0);
        if (h == null) {
            throw new EventChannelException(where + ": " + XenLibrary.EVTCHN.openFailureMessage(LibC.errno()));
        }
        int port = lib.xenevtchn_bind_interdomain(h, domid, remotePort);
        if (port < 0) {
            int errno = LibC.errno();
            lib.xenevtchn_close(h);
            throw new EventChannelException(where + ": cannot bind: " + LibC.describe(errno)
                    + " (the guest must allocate it as an unbound port for domain 0)");
        }
        try {
            return new RealEventChannel(lib, h, port, domid, remotePort);
        } catch (RuntimeException e) {
            lib.xenevtchn_unbind(h, port);
            lib.xenevtchn_close(h);
            throw new EventChannelException(where + ": " + e.getMessage(), e);
        }
    }
}
