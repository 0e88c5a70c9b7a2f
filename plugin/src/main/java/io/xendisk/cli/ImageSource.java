package io.xendisk.cli;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * An image as the user typed it, made absolute against the directory it was
 * typed in. The daemon runs elsewhere (in the directory of whichever command
 * started it) and so cannot resolve a relative path itself; the CLI sends it
 * an absolute one. A URI is not a path and is sent as it is.
 */
public final class ImageSource {
    /** A URI's scheme, as RFC 3986 spells it: a letter, then letters, digits, '+', '-' or '.'. */
    private static final Pattern SCHEME = Pattern.compile("^[a-z][a-z0-9+.-]*:");
    /** Schemes whose URIs may go without "//" ({@code nbd:export}, {@code rbd:pool/image}). */
    private static final Set<String> OPAQUE_SCHEMES = Set.of("nbd", "nbd+unix", "nbds", "rbd");

    private ImageSource() {
    }

    /**
     * {@code source} absolute against {@code cwd} when it is a file path; as it is
     * when it is already absolute, a URI ({@code scheme://...} or a known
     * scheme such as {@code nbd:} or {@code rbd:}) or an engine-prefixed
     * absolute path ({@code qcow2:/images/a.qcow2}).
     *
     * @param cwd the caller's working directory, absolute
     */
    public static String resolve(String source, Path cwd) {
        if (source == null || source.startsWith("/") || isUri(source)) {
            return source;
        }
        try {
            return cwd.resolve(source).normalize().toString();
        } catch (InvalidPathException e) {
            return source; // not a file name at all: the daemon's answer names it
        }
    }

    /** Whether {@code source} names something other than a file of the caller's directory. */
    static boolean isUri(String source) {
        var m = SCHEME.matcher(source);
        if (!m.find()) {
            return false;
        }
        String scheme = source.substring(0, m.end() - 1);
        String rest = source.substring(m.end());
        // "scheme:/..." covers "scheme://authority" and an engine prefix before an absolute path
        return rest.startsWith("/") || OPAQUE_SCHEMES.contains(scheme);
    }
}
