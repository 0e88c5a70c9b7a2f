package io.xendisk.cli.libvirt;

import com.sun.jna.Pointer;
import org.libvirt.Connect;
import org.libvirt.LibvirtException;
import org.libvirt.jna.Libvirt.VirErrorCallback;
import org.libvirt.jna.virError;

/** Opens libvirt connections for our verbs, with errors that name the URI and the way out. */
public final class Libvirt {
    /** libvirt prints every error to stderr besides returning it; we report them ourselves, once. */
    private static final VirErrorCallback QUIET = new VirErrorCallback() {
        @Override
        public void errorCallback(Pointer userData, virError error) {
            // reported through the LibvirtException instead
        }
    };

    private Libvirt() {
    }

    /**
     * A read-write connection to {@code uri}.
     *
     * @throws LibvirtFailure libvirt's library is missing or the URI cannot be opened
     */
    public static Connect open(String uri) throws LibvirtFailure {
        try {
            EventLoop.ensureStarted();
            Connect.setErrorCallback(QUIET);
            return new Connect(uri, false);
        } catch (LibvirtException e) {
            throw new LibvirtFailure("cannot connect to libvirt at " + uri + ": " + message(e)
                    + " (is libvirtd running with its Xen driver? 'systemctl status libvirtd';"
                    + " another libvirt: --connect URI or " + LibvirtUri.ENV + ")", e);
        } catch (LinkageError e) {
            throw new LibvirtFailure("cannot load libvirt's client library (libvirt.so.0): " + e.getMessage()
                    + " (apt-get install libvirt0)", e);
        }
    }

    /** libvirt's own text of an error, without the class name. */
    static String message(LibvirtException e) {
        String m = e.getError() != null ? e.getError().getMessage() : e.getMessage();
        return m == null ? e.toString() : m.strip();
    }
}
