package io.xendisk.xen.sim.domain;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.function.Consumer;

/**
 * The simulated platform's line to a guest program, as a console is on Xen:
 * finds a guest's control socket by domid or name under the simdir (the
 * {@link SimPaths#NAME} and {@link SimPaths#CONTROL} files the guest keeps
 * in its domain directory), sends one command line and collects the reply
 * lines up to the last one, {@value #OK} or {@value #ERROR} and a message.
 * The guest serves it; the daemon and tools are its clients, and need
 * nothing of the guest program but this.
 * <pre>
 * Path sock = GuestControl.socket(simdir, "vm1");          // or socket(simdir, 3)
 * GuestControl.Reply r = GuestControl.send(sock, "run xvdb verify --size 4M");
 * if (!r.ok()) System.err.println(r.error());
 * </pre>
 */
public final class GuestControl {
    /** The default control socket's name in the domain directory. */
    public static final String SOCKET = "control.sock";
    /** The last line of a command that succeeded. */
    public static final String OK = "OK";
    /** How the last line of a command that failed starts; the message follows after a space. */
    public static final String ERROR = "ERROR";

    private GuestControl() {
    }

    /**
     * A command's reply: its text lines, and the error message (null when
     * the last line was OK).
     */
    public record Reply(List<String> lines, String error) {
        public Reply {
            lines = List.copyOf(lines);
        }

        public boolean ok() {
            return error == null;
        }

        /** The text lines joined with newlines (without the final status line). */
        public String text() {
            return String.join("\n", lines);
        }
    }

    /** The control socket of the guest with {@code domid} (its recorded --control path, else the default). */
    public static Path socket(Path simdir, int domid) {
        Path dir = SimPaths.domain(simdir, domid);
        try {
            String recorded = Files.readString(dir.resolve(SimPaths.CONTROL), StandardCharsets.UTF_8).trim();
            if (!recorded.isEmpty()) {
                return Path.of(recorded);
            }
        } catch (IOException e) {
            // no record: the default place
        }
        return dir.resolve(SOCKET);
    }

    /**
     * The control socket of a guest given by name or domid.
     * @throws IllegalArgumentException when no guest of that name runs under simdir
     */
    public static Path socket(Path simdir, String nameOrDomid) {
        if (!nameOrDomid.isEmpty() && nameOrDomid.chars().allMatch(Character::isDigit)) {
            return socket(simdir, Integer.parseInt(nameOrDomid));
        }
        OptionalInt d = findDomid(simdir, nameOrDomid);
        if (d.isEmpty()) {
            throw new IllegalArgumentException("no simulated guest named '" + nameOrDomid + "' under " + simdir
                    + " (is it running? check --simdir)");
        }
        return socket(simdir, d.getAsInt());
    }

    /** The domid of the guest named {@code name} under simdir, from the name files the guests write. */
    public static OptionalInt findDomid(Path simdir, String name) {
        try {
            for (int domid : SimPaths.guestDomids(simdir)) {
                Path f = SimPaths.domain(simdir, domid).resolve(SimPaths.NAME);
                if (Files.isRegularFile(f) && Files.readString(f, StandardCharsets.UTF_8).trim().equals(name)) {
                    return OptionalInt.of(domid);
                }
            }
        } catch (IOException e) {
            return OptionalInt.empty();
        }
        return OptionalInt.empty();
    }

    /** Sends one command and waits for its whole reply. */
    public static Reply send(Path socket, String command) throws IOException {
        return send(socket, command, line -> { });
    }

    /**
     * Sends one command; each reply line is also passed to {@code progress}
     * as it arrives (workloads print as they go).
     * @throws IOException when the guest cannot be reached or hangs up before the final line
     */
    public static Reply send(Path socket, String command, Consumer<String> progress) throws IOException {
        if (command.indexOf('\n') >= 0) {
            throw new IllegalArgumentException("a control command is one line: " + command);
        }
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            try {
                ch.connect(UnixDomainSocketAddress.of(socket));
            } catch (IOException e) {
                throw new IOException("cannot reach the guest's control socket " + socket + ": " + e.getMessage()
                        + " (is the guest running?)", e);
            }
            ByteBuffer out = ByteBuffer.wrap((command + "\n").getBytes(StandardCharsets.UTF_8));
            while (out.hasRemaining()) {
                ch.write(out);
            }
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
            List<String> lines = new ArrayList<>();
            for (String l; (l = in.readLine()) != null;) {
                if (l.equals(OK)) {
                    return new Reply(lines, null);
                }
                if (l.startsWith(ERROR)) {
                    return new Reply(lines, l.length() > ERROR.length() + 1 ? l.substring(ERROR.length() + 1)
                            : "unspecified error");
                }
                lines.add(l);
                progress.accept(l);
            }
            throw new IOException("guest at " + socket + " hung up before answering '" + command
                    + "' (did it exit?)");
        }
    }
}
