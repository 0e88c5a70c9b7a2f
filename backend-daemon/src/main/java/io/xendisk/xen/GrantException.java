package io.xendisk.xen;

/** A grant reference could not be used: names the domain, the reference and why. */
public class GrantException extends RuntimeException {
    public GrantException(String message) {
        super(message);
    }

    public GrantException(String message, Throwable cause) {
        super(message, cause);
    }
}
