package io.xendisk.cli.libvirt;

/** A libvirt verb cannot go on; the message names the domain or disk and what to do, ready for the user. */
public final class LibvirtFailure extends Exception {
    private static final long serialVersionUID = 1L;

    public LibvirtFailure(String message) {
        super(message);
    }

    public LibvirtFailure(String message, Throwable cause) {
        super(message, cause);
    }
}
