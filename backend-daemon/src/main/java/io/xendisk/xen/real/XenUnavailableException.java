package io.xendisk.xen.real;

/**
 * Real Xen cannot be used from this process: a library is missing, a device
 * node cannot be opened. The message names what is missing and what to do.
 */
public class XenUnavailableException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public XenUnavailableException(String message) {
        super(message);
    }
}
