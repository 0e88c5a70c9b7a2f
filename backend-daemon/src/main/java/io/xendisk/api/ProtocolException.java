package io.xendisk.api;

import java.io.IOException;

/** A control frame that is too large, truncated or not in the format of {@link ControlCodec}. */
public final class ProtocolException extends IOException {
    private static final long serialVersionUID = 1L;

    public ProtocolException(String message) {
        super(message);
    }
}
