package io.xendisk.cli;

import io.xendisk.api.ControlCodec;
import io.xendisk.api.ControlRequest;
import io.xendisk.api.ControlResponse;

import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Path;

/** Sends one request to the daemon's control socket and returns its response. */
public final class ControlClient {
    private final Path socket;

    public ControlClient(Path socket) {
        this.socket = socket;
    }

    public Path socket() {
        return socket;
    }

    /**
     * @throws DaemonUnavailableException if nothing can be connected to (no daemon, or no access)
     * @throws IOException                if the daemon broke the connection or answered garbage
     */
    public ControlResponse send(ControlRequest request) throws IOException {
        try (SocketChannel ch = connect()) {
            ControlCodec.writeFrame(Channels.newOutputStream(ch), ControlCodec.encode(request));
            return ControlCodec.decodeResponse(ControlCodec.readFrame(Channels.newInputStream(ch)));
        }
    }

    /** True if a daemon accepts connections now (the probe sends no request). */
    public boolean answers() {
        try (SocketChannel ignored = connect()) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private SocketChannel connect() throws IOException {
        try {
            return SocketChannel.open(UnixDomainSocketAddress.of(socket));
        } catch (ConnectException e) {
            throw new DaemonUnavailableException(DaemonUnavailableException.Reason.NOT_RUNNING,
                    "nothing listens on " + socket + " (stale socket of a dead daemon)", e);
        } catch (AccessDeniedException e) {
            throw denied(e);
        } catch (SocketException e) {
            // The JDK reports connect()'s errno only as message text (EACCES even as a BindException).
            String m = String.valueOf(e.getMessage());
            if (m.contains("Permission denied")) {
                throw denied(e);
            }
            if (m.contains("No such file") || m.contains("Connection refused")) {
                throw new DaemonUnavailableException(DaemonUnavailableException.Reason.NOT_RUNNING,
                        "no control socket at " + socket, e);
            }
            throw e;
        }
    }

    private DaemonUnavailableException denied(Exception e) {
        return new DaemonUnavailableException(DaemonUnavailableException.Reason.ACCESS_DENIED,
                "cannot open the control socket " + socket + ": permission denied", e);
    }
}
