package io.xendisk.storage.rbd;

import com.sun.jna.Callback;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;

import io.xendisk.storage.StorageException;

/**
 * Debian's librados.so.2 and librbd.so.1 (Ceph 16, librados.h and
 * librbd.h): the calls made once per disk through interface mappings, the
 * per-request asynchronous calls direct-mapped in {@link Aio}. Every call
 * answers a negative errno on failure.
 */
final class Librbd {
    static final String RADOS_SONAME = "librados.so.2";
    static final String RBD_SONAME = "librbd.so.1";
    /** librbd.h: RBD_FEATURE_EXCLUSIVE_LOCK. */
    static final long FEATURE_EXCLUSIVE_LOCK = 1L << 2;
    /** librbd.h: RBD_LOCK_MODE_EXCLUSIVE. */
    static final int LOCK_MODE_EXCLUSIVE = 0;

    private Librbd() {
    }

    /** librados.h, the calls that reach a cluster and a pool. */
    interface Rados extends Library {
        int rados_create(PointerByReference cluster, String id);

        int rados_conf_read_file(Pointer cluster, String path);

        int rados_conf_parse_env(Pointer cluster, String var);

        int rados_conf_set(Pointer cluster, String option, String value);

        int rados_connect(Pointer cluster);

        void rados_shutdown(Pointer cluster);

        int rados_ioctx_create(Pointer cluster, String pool, PointerByReference ioctx);

        void rados_ioctx_set_namespace(Pointer ioctx, String namespace);

        void rados_ioctx_destroy(Pointer ioctx);
    }

    /** librbd.h, the calls that open, describe, lock and close an image. */
    interface Rbd extends Library {
        int rbd_open(Pointer ioctx, String name, PointerByReference image, String snap);

        int rbd_open_read_only(Pointer ioctx, String name, PointerByReference image, String snap);

        int rbd_close(Pointer image);

        int rbd_get_size(Pointer image, LongByReference size);

        int rbd_get_features(Pointer image, LongByReference features);

        int rbd_lock_acquire(Pointer image, int mode);

        int rbd_lock_release(Pointer image);

        int rbd_lock_get_owners(Pointer image, IntByReference mode, Pointer[] owners, LongByReference max);

        void rbd_lock_get_owners_cleanup(Pointer[] owners, long count);
    }

    /** rbd_callback_t: a request ended; {@code completion} and {@code arg} are pointers. */
    interface Completed extends Callback {
        void invoke(long completion, long arg);
    }

    /** The calls made per request: JNA direct mapping, pointers passed as longs (LP64). */
    static final class Aio {
        static {
            Native.register(Aio.class, load(RBD_SONAME, "librbd1"));
        }

        private Aio() {
        }

        static native int rbd_aio_create_completion(long arg, Completed callback, long completionOut);

        static native int rbd_aio_read(long image, long offset, long length, long buf, long completion);

        static native int rbd_aio_write(long image, long offset, long length, long buf, long completion);

        static native int rbd_aio_discard(long image, long offset, long length, long completion);

        static native int rbd_aio_flush(long image, long completion);

        static native long rbd_aio_get_return_value(long completion);

        static native void rbd_aio_release(long completion);
    }

    private static final class Holder {
        static final Rados RADOS = Native.load(load(RADOS_SONAME, "librados2"), Rados.class);
        static final Rbd RBD = Native.load(load(RBD_SONAME, "librbd1"), Rbd.class);
    }

    static Rados rados() {
        return Holder.RADOS;
    }

    static Rbd rbd() {
        return Holder.RBD;
    }

    /** Initialises the per-request calls now, so that a missing library is named when a disk opens. */
    static void requireAio() {
        try {
            Class.forName(Aio.class.getName(), true, Aio.class.getClassLoader());
        } catch (ExceptionInInitializerError e) {
            if (e.getCause() instanceof StorageException s) {
                throw s;
            }
            throw missing(RBD_SONAME, "librbd1", e.getCause());
        } catch (ClassNotFoundException | LinkageError e) {
            throw missing(RBD_SONAME, "librbd1", e);
        }
    }

    /** The library's name when it loads; the package that brings it named when it does not. */
    private static String load(String soname, String debianPackage) {
        try {
            com.sun.jna.NativeLibrary.getInstance(soname);
            return soname;
        } catch (UnsatisfiedLinkError e) {
            throw missing(soname, debianPackage, e);
        }
    }

    private static StorageException missing(String soname, String debianPackage, Throwable e) {
        return new StorageException(null, "engine rbd needs " + soname + ", which did not load (" + e.getMessage()
                + "); install Debian's " + debianPackage + " (apt install " + debianPackage + ")", e);
    }
}
