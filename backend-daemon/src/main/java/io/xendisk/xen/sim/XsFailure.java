package io.xendisk.xen.sim;

import io.xendisk.xen.store.XsErrno;

/**
 * A request failed with an errno that goes back to the client as an ERROR reply.
 * Carries no stack trace: it is a protocol answer, not a bug.
 */
final class XsFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient XsErrno errno;

    XsFailure(XsErrno errno) {
        super(errno.name(), null, false, false);
        this.errno = errno;
    }

    XsErrno errno() {
        return errno;
    }
}
