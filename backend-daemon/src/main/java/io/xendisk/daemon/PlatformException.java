package io.xendisk.daemon;

/** The requested platform cannot be used here; the message says what is missing and what to do. */
public final class PlatformException extends Exception {
    private static final long serialVersionUID = 1L;

    public PlatformException(String message) {
        super(message);
    }
}
