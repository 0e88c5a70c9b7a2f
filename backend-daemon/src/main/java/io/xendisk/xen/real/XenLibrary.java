package io.xendisk.xen.real;

import java.nio.file.Files;
import java.nio.file.Path;

import com.sun.jna.NativeLibrary;

import io.xendisk.os.LibC;

/**
 * The stable Xen userspace libraries we bind, each with the Debian package
 * that ships it and the device node (and kernel module) it opens, so every
 * failure can say what to install or load.
 */
public enum XenLibrary {
    /** Grant tables: maps and copies pages other domains granted us. */
    GNTTAB("libxengnttab.so.1", "libxengnttab1", "/dev/xen/gntdev", "xen-gntdev"),
    /** Event channels: binds, notifies and waits on interdomain ports. */
    EVTCHN("libxenevtchn.so.1", "libxenevtchn1", "/dev/xen/evtchn", "xen-evtchn");

    static final int EPERM = 1;
    static final int ENOENT = 2;
    static final int ENXIO = 6;
    static final int EACCES = 13;
    static final int ENODEV = 19;

    private final String soname;
    private final String debianPackage;
    private final String device;
    private final String module;
    private volatile NativeLibrary library;

    XenLibrary(String soname, String debianPackage, String device, String module) {
        this.soname = soname;
        this.debianPackage = debianPackage;
        this.device = device;
        this.module = module;
    }

    public String soname() {
        return soname;
    }

    public String debianPackage() {
        return debianPackage;
    }

    /** The device node the library opens, e.g. /dev/xen/gntdev. */
    public String device() {
        return device;
    }

    /** The kernel module providing {@link #device()}. */
    public String module() {
        return module;
    }

    /**
     * The loaded library.
     * @throws XenUnavailableException naming the package to install when it cannot be loaded
     */
    NativeLibrary require() {
        NativeLibrary lib = library;
        if (lib == null) {
            synchronized (this) {
                lib = library;
                if (lib == null) {
                    lib = load(soname, debianPackage);
                    library = lib;
                }
            }
        }
        return lib;
    }

    /** True when the library can be loaded here. */
    public boolean loadable() {
        try {
            require();
            return true;
        } catch (XenUnavailableException e) {
            return false;
        }
    }

    static NativeLibrary load(String soname, String debianPackage) {
        try {
            return NativeLibrary.getInstance(soname);
        } catch (UnsatisfiedLinkError e) {
            throw new XenUnavailableException(missingLibraryMessage(soname, debianPackage));
        }
    }

    static String missingLibraryMessage(String soname, String debianPackage) {
        return soname + " not found: install the " + debianPackage + " package";
    }

    /** The message for an *_open that failed with {@code errno} ({@code devDir} is normally /dev). */
    String openFailureMessage(int errno, Path devDir) {
        Path node = devDir.resolve(device.substring("/dev/".length()));
        switch (errno) {
            case ENOENT:
            case ENODEV:
            case ENXIO:
                String msg = node + " not available: load the " + module + " module (modprobe " + module + ")";
                if (!Files.isDirectory(node.getParent())) {
                    msg += "; there is no " + node.getParent() + " at all: this host is not running as a Xen dom0";
                }
                return msg;
            case EACCES:
            case EPERM:
                return node + ": permission denied: the daemon must run as root in dom0";
            default:
                return node + ": cannot open: " + LibC.describe(errno);
        }
    }

    String openFailureMessage(int errno) {
        return openFailureMessage(errno, Path.of("/dev"));
    }
}
