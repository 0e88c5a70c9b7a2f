package io.xendisk.daemon;

import com.sun.jna.Native;
import com.sun.jna.Pointer;

import java.util.Optional;
import java.util.OptionalLong;

import io.xendisk.os.LibC;

/**
 * Who may use the control socket: root, or the user the daemon itself runs as
 * (so an unprivileged daemon on the simulated platform stays controllable).
 * The socket's 0600 mode already keeps others out; this is the check that
 * still holds if someone loosens the file modes.
 */
public final class PeerPolicy {
    private final long daemonUid;

    public PeerPolicy(long daemonUid) {
        this.daemonUid = daemonUid;
    }

    /** The policy for this process: root plus our own uid. */
    public static PeerPolicy forThisProcess() {
        return new PeerPolicy(LibC.geteuid());
    }

    /**
     * @param userName the peer's user name from SO_PEERCRED (the JDK gives the
     *                 uid in decimal when it has no name)
     * @return the refusal message for this peer, or empty if it is allowed
     */
    public Optional<String> refusal(String userName) {
        OptionalLong uid = uidOf(userName);
        if (uid.isPresent() && (uid.getAsLong() == 0 || uid.getAsLong() == daemonUid)) {
            return Optional.empty();
        }
        String who = uid.isPresent() ? "uid " + uid.getAsLong() + "/user " + userName : "user " + userName;
        return Optional.of("xen-disk-java: only root may control the daemon (you are " + who + "); run with sudo");
    }

    /** Resolves a user name through NSS (getpwnam), as the JDK resolved the uid to it. */
    static OptionalLong uidOf(String userName) {
        try {
            Pointer pw = LibC.getpwnam(userName);
            if (pw != null) {
                // struct passwd { char *pw_name; char *pw_passwd; uid_t pw_uid; ... }
                return OptionalLong.of(Integer.toUnsignedLong(pw.getInt(2L * Native.POINTER_SIZE)));
            }
        } catch (LinkageError | RuntimeException e) {
            // no usable libc binding: fall through to the name itself
        }
        if (!userName.isEmpty() && userName.chars().allMatch(Character::isDigit)) {
            try {
                return OptionalLong.of(Long.parseLong(userName));
            } catch (NumberFormatException e) {
                return OptionalLong.empty();
            }
        }
        return "root".equals(userName) ? OptionalLong.of(0) : OptionalLong.empty();
    }
}
