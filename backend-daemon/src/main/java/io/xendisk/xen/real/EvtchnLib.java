package io.xendisk.xen.real;

import java.util.Map;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

/**
 * libxenevtchn.so.1 (xenevtchn.h, Xen 4.17). Interface mapping for binding
 * and closing; the calls of the ring thread's loop (notify, pending, unmask)
 * are direct-mapped in {@link Direct}.
 */
interface EvtchnLib extends Library {
    Pointer xenevtchn_open(Pointer logger, int flags);

    int xenevtchn_close(Pointer xce);

    int xenevtchn_fd(Pointer xce);

    int xenevtchn_bind_interdomain(Pointer xce, int domid, int remotePort);

    int xenevtchn_unbind(Pointer xce, int port);

    /** Loads the library; throws XenUnavailableException naming the package when it is missing. */
    static EvtchnLib load() {
        XenLibrary.EVTCHN.require();
        return Native.load(XenLibrary.EVTCHN.soname(), EvtchnLib.class, Map.of());
    }

    /** The per-batch / per-wakeup calls, ~50 ns of JNA overhead each. */
    final class Direct {
        static {
            Native.register(Direct.class, XenLibrary.EVTCHN.require());
        }

        private Direct() {
        }

        static native int xenevtchn_notify(Pointer xce, int port);

        /** The next pending port (a read() of one uint32 on the fd), or -1. */
        static native int xenevtchn_pending(Pointer xce);

        static native int xenevtchn_unmask(Pointer xce, int port);
    }
}
