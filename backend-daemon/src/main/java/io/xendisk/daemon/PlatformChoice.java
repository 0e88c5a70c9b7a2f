package io.xendisk.daemon;

import java.nio.file.Path;
import java.util.Objects;

/**
 * The platform the daemon runs on and why, plus the xenstore endpoint the
 * backend must connect to: a unix socket (real or simulated xenstored) or the
 * {@code /dev/xen/xenbus} device.
 *
 * @param platform    sim or xen
 * @param reason      short human text, e.g. "no /dev/xen/privcmd" or "--platform sim"
 * @param xenstorePath where xenstore is reached
 */
public record PlatformChoice(Platform platform, String reason, Path xenstorePath) {
    public PlatformChoice {
        Objects.requireNonNull(platform, "platform");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(xenstorePath, "xenstorePath");
    }

    /** "sim (no /dev/xen/privcmd)". */
    public String describe() {
        return platform.id() + " (" + reason + ")";
    }
}
