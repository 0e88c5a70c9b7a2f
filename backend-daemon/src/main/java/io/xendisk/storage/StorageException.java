package io.xendisk.storage;

import java.io.IOException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * An image cannot be opened or an I/O on it failed. Unchecked: the ring thread
 * catches it per request and answers the guest with an error, the control
 * socket reports its message to the operator. Messages name the image, the
 * problem and what to do:
 * {@code image /x/y.img: No space left on device while writing (free space on the filesystem holding it)}.
 */
public final class StorageException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final transient Path image;

    /** A failure about {@code image} (null if none) with a complete, operator-ready message. */
    public StorageException(Path image, String message) {
        super(message);
        this.image = image;
    }

    /** Same, keeping the low-level cause for the log. */
    public StorageException(Path image, String message, Throwable cause) {
        super(message, cause);
        this.image = image;
    }

    /** The image concerned, or null for engines without one. */
    public Path image() {
        return image;
    }

    /**
     * Wraps an I/O failure during {@code doing} ("reading", "opening", ...) with
     * the advice that fits its cause.
     */
    public static StorageException io(Path image, String doing, IOException e) {
        final String problem;
        final String advice;
        if (e instanceof ClosedByInterruptException) {
            problem = "the I/O thread was interrupted, which closed the image";
            advice = "reconnect the disk; threads doing storage I/O must not be interrupted";
        } else if (e instanceof ClosedChannelException) {
            problem = "the image is closed";
            advice = "the disk was disconnected; reconnect it";
        } else if (e instanceof AccessDeniedException) {
            problem = "permission denied";
            advice = "check the image's owner and mode, the directories above it and the daemon's user";
        } else if (e instanceof NoSuchFileException) {
            problem = "not found";
            advice = "check --path / target=";
        } else {
            problem = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
            advice = adviceFor(problem);
        }
        return new StorageException(image,
                "image " + image + ": " + problem + " while " + doing + " (" + advice + ")", e);
    }

    /** Wraps a failed native call ({@code errno}) during {@code doing}. */
    public static StorageException errno(Path image, String doing, int errno) {
        String problem = Posix.strerror(errno);
        return new StorageException(image,
                "image " + image + ": " + problem + " while " + doing + " (" + adviceFor(problem) + ")");
    }

    private static String adviceFor(String problem) {
        String p = problem.toLowerCase(java.util.Locale.ROOT);
        if (p.contains("no space left")) {
            return "free space on the filesystem holding it";
        } else if (p.contains("quota")) {
            return "raise the disk quota of the image's owner";
        } else if (p.contains("read-only file system")) {
            return "serve it read-only or remount its filesystem read-write";
        } else if (p.contains("input/output error")) {
            return "the device holding it failed: check dmesg";
        } else if (p.contains("permission denied") || p.contains("operation not permitted")) {
            return "check the image's owner and mode, the directories above it and the daemon's user";
        } else if (p.contains("cannot allocate memory")) {
            return "the host is out of memory; free some or use an engine that does not map the image";
        }
        return "see the daemon log";
    }
}
