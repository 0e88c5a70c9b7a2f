package io.xendisk.storage.nbd;

import java.io.IOException;

/**
 * The server refused what we asked during the handshake, or broke the
 * protocol. The message is complete for an operator: it names the server,
 * the export, the server's own reason where it sent one and what to do.
 */
public class NbdException extends IOException {
    private static final long serialVersionUID = 1L;

    private final int reply;

    /** A protocol violation or a refusal that is not an option reply. */
    public NbdException(String message) {
        this(message, 0, null);
    }

    /** The same with its cause. */
    public NbdException(String message, Throwable cause) {
        this(message, 0, cause);
    }

    NbdException(String message, int reply, Throwable cause) {
        super(message, cause);
        this.reply = reply;
    }

    /**
     * The option reply type the server refused with (NBD_REP_ERR_UNKNOWN is
     * {@code 0x80000006}, ...), or 0 when the refusal was not an option reply.
     */
    public int reply() {
        return reply;
    }

    /** The server has no export of the name asked for (NBD_REP_ERR_UNKNOWN). */
    public boolean exportNotFound() {
        return reply == NbdProtocol.REP_ERR_UNKNOWN;
    }
}
