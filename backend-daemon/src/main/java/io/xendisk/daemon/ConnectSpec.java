package io.xendisk.daemon;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Objects;

import io.xendisk.api.ControlRequest;
import io.xendisk.api.ControlResponse;
import io.xendisk.backend.IoLimits;
import io.xendisk.blkif.Vdev;
import io.xendisk.storage.StorageSpec;

/**
 * What a {@code connect} verb asks for, checked once when it arrives so that
 * a mistake is answered before anything is opened or written, and a connect
 * kept for a guest not created yet ({@code --at-start}) is already known good.
 *
 * @param vm              the guest, a name or a domain id
 * @param engine          the storage engine; {@code file} when only an image is given, {@code discard} when neither
 * @param image           the image, absolute (a relative one is taken from the daemon's directory); null for none
 * @param uri             the store's URI instead of an image ({@code --path nbd://host/export}); null for none
 * @param readOnly        {@code --readonly}
 * @param vdev            {@code --vdev}, a valid xvd name; null to take the guest's first free one
 * @param waitForFrontend false with {@code --no-wait}
 * @param atStartSeconds  how long to wait for the guest's domain to be created ({@code --at-start}); 0 for not at all
 * @param sectorSize      {@code --sector-size}, 512 or 4096; 0 for the storage's own (512, or a 4Kn device's 4096)
 * @param cdrom           {@code --cdrom}: a read-only CD-ROM drive (device-type cdrom, VDISK_CDROM), e.g. for an ISO image
 * @param limits          the disk's I/O limits ({@code --total-iops-sec N} and the rest of virsh's blkdeviotune options)
 */
record ConnectSpec(String vm, String engine, Path image, String uri, boolean readOnly, String vdev,
                   boolean waitForFrontend, long atStartSeconds, int sectorSize, boolean cdrom, IoLimits limits) {
    static final String SYNOPSIS = "connect <vm> [--path IMG] [--storage discard|file|mmap|cow|qcow2|nbd|rbd]"
            + " [--vdev xvdb] [--readonly] [--cdrom] [--sector-size 512|4096] [--no-wait] [--at-start SECONDS]"
            + " [--total-iops-sec N ...]";
    /** The longest {@code --at-start}: an hour covers any toolstack's domain build. */
    static final long MAX_AT_START_SECONDS = 3600;

    ConnectSpec {
        Objects.requireNonNull(vm, "vm");
        Objects.requireNonNull(engine, "engine");
        if (image != null && !image.isAbsolute()) {
            throw new IllegalArgumentException("image " + image + " is not an absolute path");
        }
    }

    /** A request the daemon refuses before doing anything; the message says what to change. */
    static final class Invalid extends Exception {
        private static final long serialVersionUID = 1L;
        private final int exitCode;

        private Invalid(int exitCode, String message) {
            super(message);
            this.exitCode = exitCode;
        }

        /** {@link ControlResponse#USAGE} for a malformed command line, {@link ControlResponse#FAILED} otherwise. */
        int exitCode() {
            return exitCode;
        }
    }

    /**
     * Checks and reads a {@code connect} request.
     *
     * @throws Invalid naming the argument or option that is wrong and what to give instead
     */
    static ConnectSpec parse(ControlRequest req) throws Invalid {
        if (req.args().size() != 1) {
            throw usage("'connect' needs the guest: " + SYNOPSIS);
        }
        String path = req.option("path");
        String uri = StorageSpec.isUri(path) ? path : null;
        String engine = req.option("storage");
        if (engine == null) {
            try {
                engine = path == null ? "discard" : uri != null ? StorageSpec.engineForUri(uri, "--path " + uri) : "file";
            } catch (IllegalArgumentException e) {
                throw failed(e.getMessage());
            }
        }
        if (!engine.equals("discard") && path == null) {
            throw failed("storage '" + engine + "' needs an image: add --path IMG");
        }
        long atStart = 0;
        String seconds = req.option("at-start");
        if (seconds != null) {
            try {
                atStart = Long.parseLong(seconds);
            } catch (NumberFormatException e) {
                atStart = -1;
            }
            if (atStart < 1 || atStart > MAX_AT_START_SECONDS) {
                throw usage("--at-start takes seconds, 1 to " + MAX_AT_START_SECONDS + ", not '" + seconds + "'");
            }
        }
        Path image = null;
        if (path != null && uri == null) {
            try {
                image = Path.of(path).toAbsolutePath();
            } catch (InvalidPathException e) {
                throw failed("--path '" + path + "' is not a usable path (" + e.getReason() + "); give the image's file name");
            }
        }
        String vdev = req.option("vdev");
        if (vdev != null) {
            try {
                Vdev.devid(vdev);
            } catch (IllegalArgumentException e) {
                throw failed(e.getMessage());
            }
        }
        int sectorSize = 0;
        String ss = req.option("sector-size");
        if (ss != null) {
            if (!ss.equals("512") && !ss.equals("4096")) {
                throw usage("--sector-size is 512 or 4096 (bytes), not '" + ss + "'");
            }
            sectorSize = Integer.parseInt(ss);
        }
        boolean cdrom = req.option("cdrom") != null;
        return new ConnectSpec(req.args().get(0), engine, image, uri, cdrom || req.option("readonly") != null, vdev,
                req.option("no-wait") == null, atStart, sectorSize, cdrom, limits(req));
    }

    /** The I/O limits among a request's options (libvirt's names, spelled as options or not). */
    static IoLimits limits(ControlRequest req) throws Invalid {
        try {
            return IoLimits.of(IoLimits.among(req.options()));
        } catch (IllegalArgumentException e) {
            throw failed(e.getMessage());
        }
    }

    /** What to open: the image with the engine, or a discard disk of the default size when there is no image. */
    StorageSpec storage() {
        return uri != null ? StorageSpec.uri(engine, uri, readOnly)
                : image == null ? StorageSpec.discard(StorageSpec.DEFAULT_DISCARD_SIZE)
                : StorageSpec.of(engine, image, readOnly);
    }

    /** This connect run when its guest's domain has just been created: no frontend to wait for yet. */
    ConnectSpec whenCreated() {
        return new ConnectSpec(vm, engine, image, uri, readOnly, vdev, false, 0, sectorSize, cdrom, limits);
    }

    private static Invalid usage(String message) {
        return new Invalid(ControlResponse.USAGE, message);
    }

    private static Invalid failed(String message) {
        return new Invalid(ControlResponse.FAILED, message);
    }
}
