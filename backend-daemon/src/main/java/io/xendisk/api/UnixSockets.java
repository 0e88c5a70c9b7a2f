package io.xendisk.api;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/** Whether something listens on a unix socket: how both sides tell a live daemon or xenstored from a stale socket file. */
public final class UnixSockets {
    private UnixSockets() {
    }

    /** True if a unix socket at {@code path} accepts a connection. */
    public static boolean answers(Path path) {
        if (!Files.exists(path)) {
            return false;
        }
        try {
            SocketChannel.open(UnixDomainSocketAddress.of(path)).close();
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }
}
