package io.xendisk.xen.real;

import java.util.Map;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

/**
 * libxengnttab.so.1 (xengnttab.h, Xen 4.17). Interface mapping for the calls
 * made per VBD (open, map, unmap); the per-batch grant copy is direct-mapped
 * in {@link Direct}.
 */
interface GnttabLib extends Library {
    int PROT_READ = 1;
    int PROT_WRITE = 2;

    Pointer xengnttab_open(Pointer logger, int flags);

    int xengnttab_close(Pointer xgt);

    int xengnttab_set_max_grants(Pointer xgt, int nrGrants);

    Pointer xengnttab_map_domain_grant_refs(Pointer xgt, int count, int domid, int[] refs, int prot);

    int xengnttab_unmap(Pointer xgt, Pointer startAddress, int count);

    /** Loads the library; throws XenUnavailableException naming the package when it is missing. */
    static GnttabLib load() {
        XenLibrary.GNTTAB.require();
        return Native.load(XenLibrary.GNTTAB.soname(), GnttabLib.class, Map.of());
    }

    /** The hot path: one call per batch, ~50 ns of JNA overhead. */
    final class Direct {
        static {
            Native.register(Direct.class, XenLibrary.GNTTAB.require());
        }

        private Direct() {
        }

        static native int xengnttab_grant_copy(Pointer xgt, int count, Pointer segs);
    }
}
