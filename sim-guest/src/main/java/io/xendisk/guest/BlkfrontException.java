package io.xendisk.guest;

/** A frontend cannot do what was asked: not connected, closing, or disabled after a bad backend response. */
public final class BlkfrontException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public BlkfrontException(String message) {
        super(message);
    }
}
