package io.xendisk.storage.nbd;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Where an NBD export is, written as libnbd and QEMU write it (the NBD URI
 * format, NetworkBlockDevice/nbd doc/uri.md):
 * <ul>
 * <li>{@code nbd://HOST[:PORT][/EXPORT]}: TCP, port 10809 by default; no path
 * or {@code /} alone is the empty (default) export name;</li>
 * <li>{@code nbd+unix:///EXPORT?socket=/PATH/TO.sock}: a Unix domain socket;</li>
 * <li>{@code nbds://} and {@code nbds+unix://}: the same over TLS.</li>
 * </ul>
 * IPv6 literal hosts go in brackets ({@code nbd://[::1]:10810/disk}); the
 * export name and query values are percent-decoded as UTF-8. The query may
 * also carry the TLS parameters of the URI format ({@code tls-type},
 * {@code tls-hostname}, {@code tls-verify-peer}) and libnbd's
 * ({@code tls-certificates}, {@code tls-psk-file}), read by {@link NbdTls},
 * and experimental {@code x-} ones, kept for {@link #toString()}; any other
 * parameter is refused, as the format asks. Parsing errors are {@link IllegalArgumentException}s whose
 * message quotes the URI, says what is wrong and what to write instead.
 */
public final class NbdUri {
    private static final String FORMS = "nbd://HOST[:PORT]/EXPORT or nbd+unix:///EXPORT?socket=/PATH/TO.sock";
    private static final Pattern REG_NAME = Pattern.compile("[A-Za-z0-9._~-]+");
    private static final Pattern IPV6 = Pattern.compile("[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(%[A-Za-z0-9._~-]+)?");
    /** RFC 3986 unreserved characters, never encoded. */
    private static final String UNRESERVED = "-._~";
    /** What may stay unencoded in a path segment besides unreserved characters (RFC 3986 pchar). */
    private static final String PATH_SAFE = UNRESERVED + "!$&'()*+,;=:@";
    /** In a query value '&', '=' and '+' would be read as structure, so they are encoded. */
    private static final String QUERY_SAFE = UNRESERVED + "!$'()*,;:@/";
    private static final String USERINFO_SAFE = UNRESERVED + "!$&'()*+,;=";
    private static final int MAX_STRING_BYTES = 4096;
    /** The URI format's (doc/uri.md) and libnbd's. */
    private static final List<String> TLS_PARAMETERS = List.of("tls-type", "tls-hostname", "tls-verify-peer",
            "tls-certificates", "tls-psk-file");

    private final boolean tls;
    private final boolean unix;
    private final String user;
    private final String host;
    private final int port;
    private final String exportName;
    private final Path socket;
    private final Map<String, String> parameters;

    private NbdUri(boolean tls, boolean unix, String user, String host, int port, String exportName, Path socket,
                   Map<String, String> parameters) {
        this.tls = tls;
        this.unix = unix;
        this.user = user;
        this.host = host;
        this.port = port;
        this.exportName = exportName;
        this.socket = socket;
        this.parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
    }

    /** Export {@code exportName} of the server at TCP {@code host:port}, without TLS. */
    public static NbdUri tcp(String host, int port, String exportName) {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port " + port + " is not from 1 to 65535");
        }
        checkExportName(exportName, () -> "export name");
        return new NbdUri(false, false, null, Objects.requireNonNull(host, "host"), port, exportName, null, Map.of());
    }

    /** Export {@code exportName} of the server listening on the Unix domain socket {@code socket}, without TLS. */
    public static NbdUri unix(Path socket, String exportName) {
        checkExportName(exportName, () -> "export name");
        return new NbdUri(false, true, null, null, -1, exportName, Objects.requireNonNull(socket, "socket"), Map.of());
    }

    /**
     * Parses {@code uri}.
     *
     * @throws IllegalArgumentException naming the URI, the problem and the form to write
     */
    public static NbdUri parse(String uri) {
        Objects.requireNonNull(uri, "uri");
        Parser p = new Parser(uri);
        return p.parse();
    }

    /** True for {@code nbds://} and {@code nbds+unix://}: the connection must be encrypted. */
    public boolean tls() {
        return tls;
    }

    /** True for a Unix domain socket ({@code nbd+unix}, {@code nbds+unix}), false for TCP. */
    public boolean isUnix() {
        return unix;
    }

    /** The host name or address (IPv6 without brackets) of a TCP URI; null for a Unix socket. */
    public String host() {
        return host;
    }

    /** The TCP port (10809 when the URI gives none); -1 for a Unix socket. */
    public int port() {
        return port;
    }

    /** The Unix domain socket of an {@code nbd+unix} URI; null for TCP. */
    public Path socket() {
        return socket;
    }

    /** The export name as the server knows it, decoded; empty for the server's default export. */
    public String exportName() {
        return exportName;
    }

    /** The URI's user (for some TLS authentications), decoded; null when it names none. */
    public String user() {
        return user;
    }

    /** The query parameters other than {@code socket}, decoded, in the URI's order. */
    public Map<String, String> parameters() {
        return parameters;
    }

    /** The scheme: {@code nbd}, {@code nbds}, {@code nbd+unix} or {@code nbds+unix}. */
    public String scheme() {
        return (tls ? "nbds" : "nbd") + (unix ? "+unix" : "");
    }

    /** Where the server is, for messages: {@code host:port} or the socket's path. */
    public String server() {
        if (unix) {
            return socket.toString();
        }
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }

    /**
     * The URI in its usual form; parsing it gives an equal {@code NbdUri}. The
     * port is left out when it is 10809 and the export name always follows a
     * {@code /}.
     */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(scheme()).append("://");
        if (!unix) {
            if (user != null) {
                sb.append(encode(user, USERINFO_SAFE)).append('@');
            }
            if (host.indexOf(':') >= 0) {
                sb.append('[').append(host.replace("%", "%25")).append(']');
            } else {
                sb.append(host);
            }
            if (port != NbdProtocol.DEFAULT_PORT) {
                sb.append(':').append(port);
            }
        }
        sb.append('/').append(encode(exportName, PATH_SAFE + "/"));
        char sep = '?';
        if (unix) {
            sb.append(sep).append("socket=").append(encode(socket.toString(), QUERY_SAFE));
            sep = '&';
        }
        for (Map.Entry<String, String> e : parameters.entrySet()) {
            sb.append(sep).append(encode(e.getKey(), QUERY_SAFE)).append('=').append(encode(e.getValue(), QUERY_SAFE));
            sep = '&';
        }
        return sb.toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NbdUri u && tls == u.tls && unix == u.unix && port == u.port && Objects.equals(user, u.user)
                && Objects.equals(host, u.host) && exportName.equals(u.exportName) && Objects.equals(socket, u.socket)
                && parameters.equals(u.parameters);
    }

    @Override
    public int hashCode() {
        return Objects.hash(tls, unix, user, host, port, exportName, socket, parameters);
    }

    private static void checkExportName(String name, java.util.function.Supplier<String> what) {
        Objects.requireNonNull(name, "exportName");
        if (name.indexOf('\0') >= 0) {
            throw new IllegalArgumentException(what.get() + " contains a NUL character, which NBD strings may not");
        }
        if (name.getBytes(StandardCharsets.UTF_8).length > MAX_STRING_BYTES) {
            throw new IllegalArgumentException(what.get() + " is longer than the " + MAX_STRING_BYTES
                    + " bytes an NBD string may have");
        }
    }

    private static String encode(String s, String safe) {
        StringBuilder sb = new StringBuilder(s.length());
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if (c < 0x80 && (Character.isLetterOrDigit(c) || safe.indexOf(c) >= 0)) {
                sb.append((char) c);
            } else {
                sb.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 15, 16)));
            }
        }
        return sb.toString();
    }

    /** One parse: keeps the URI for the messages. */
    private static final class Parser {
        private final String uri;

        Parser(String uri) {
            this.uri = uri;
        }

        NbdUri parse() {
            for (int i = 0; i < uri.length(); i++) {
                char c = uri.charAt(i);
                if (c <= ' ' || c == 0x7f) {
                    throw bad("it contains " + (c == ' ' ? "a space" : "a control character") + " at offset " + i,
                            "percent-encode it (a space is %20)");
                }
            }
            int colon = uri.indexOf(':');
            int schemeEnd = uri.indexOf("://");
            if (colon < 0 || !uri.substring(0, colon).matches("[A-Za-z][A-Za-z0-9+.-]*")) {
                throw bad("it has no scheme", FORMS);
            }
            String scheme = uri.substring(0, colon).toLowerCase(Locale.ROOT);
            boolean tls;
            boolean unix;
            switch (scheme) {
                case "nbd" -> { tls = false; unix = false; }
                case "nbds" -> { tls = true; unix = false; }
                case "nbd+unix" -> { tls = false; unix = true; }
                case "nbds+unix" -> { tls = true; unix = true; }
                default -> throw bad("its scheme '" + uri.substring(0, colon) + "' is not nbd, nbds, nbd+unix or nbds+unix",
                        FORMS);
            }
            if (schemeEnd != colon) {
                throw bad("'" + scheme + ":' is not followed by '//'", unix ? scheme + ":///EXPORT?socket=/PATH/TO.sock"
                        : scheme + "://HOST[:PORT]/EXPORT");
            }
            String rest = uri.substring(schemeEnd + 3);
            int hash = rest.indexOf('#');
            if (hash >= 0) {
                throw bad("it has a fragment ('" + rest.substring(hash) + "')", "the URI without it");
            }
            String query = null;
            int q = rest.indexOf('?');
            if (q >= 0) {
                query = rest.substring(q + 1);
                rest = rest.substring(0, q);
            }
            int slash = rest.indexOf('/');
            String authority = slash < 0 ? rest : rest.substring(0, slash);
            String path = slash < 0 ? "" : rest.substring(slash);
            String exportName = path.isEmpty() ? "" : decode(path.substring(1), "export name");
            try {
                checkExportName(exportName, () -> "its export name");
            } catch (IllegalArgumentException e) {
                throw bad(e.getMessage(), "a shorter name without %00");
            }

            Map<String, String> params = new LinkedHashMap<>();
            String socketParam = null;
            if (query != null && !query.isEmpty()) {
                for (String pair : query.split("&", -1)) {
                    if (pair.isEmpty()) {
                        continue;
                    }
                    int eq = pair.indexOf('=');
                    String key = decode(eq < 0 ? pair : pair.substring(0, eq), "query parameter name");
                    String value = eq < 0 ? "" : decode(pair.substring(eq + 1), "query parameter '" + key + "'");
                    if (key.equals("socket")) {
                        if (socketParam != null) {
                            throw bad("it gives socket= twice", "one socket=/PATH/TO.sock");
                        }
                        socketParam = value;
                    } else if (TLS_PARAMETERS.contains(key) || key.startsWith("x-")) {
                        if (params.put(key, value) != null) {
                            throw bad("it gives " + key + "= twice", "it once");
                        }
                    } else {
                        throw bad("its query parameter '" + key + "' is not one of socket, "
                                + String.join(", ", TLS_PARAMETERS) + " or an experimental x-...", "the URI without it");
                    }
                }
            }

            if (unix) {
                return unixUri(tls, scheme, authority, path, exportName, socketParam, params);
            }
            return tcpUri(tls, scheme, authority, path, exportName, socketParam, params);
        }

        private NbdUri unixUri(boolean tls, String scheme, String authority, String path, String exportName,
                               String socketParam, Map<String, String> params) {
            String form = scheme + "://" + (path.isEmpty() ? "/" : path) + "?socket="
                    + (socketParam == null || socketParam.isEmpty() ? "/PATH/TO.sock" : socketParam);
            if (!authority.isEmpty()) {
                throw bad("a " + scheme + " URI names no host, but this one names '" + authority + "'",
                        form + " (three slashes), or nbd://" + authority + (path.isEmpty() ? "/" : path) + " for TCP");
            }
            if (socketParam == null || socketParam.isEmpty()) {
                throw bad("a " + scheme + " URI needs the socket's path in socket=", form);
            }
            if (socketParam.charAt(0) == '\0') {
                throw bad("sockets in the abstract namespace (socket=%00...) are not supported",
                        "a socket in the filesystem: " + form.replace(socketParam, "/PATH/TO.sock"));
            }
            Path socket;
            try {
                socket = Path.of(socketParam);
            } catch (InvalidPathException e) {
                throw bad("socket= '" + socketParam + "' is not a path (" + e.getReason() + ")", form);
            }
            return new NbdUri(tls, true, null, null, -1, exportName, socket, params);
        }

        private NbdUri tcpUri(boolean tls, String scheme, String authority, String path, String exportName,
                              String socketParam, Map<String, String> params) {
            String pathPart = path.isEmpty() ? "/" : path;
            if (socketParam != null) {
                throw bad("socket= belongs to nbd+unix URIs, not " + scheme,
                        scheme + "+unix://" + pathPart + "?socket=" + socketParam + " for a Unix socket");
            }
            String user = null;
            int at = authority.lastIndexOf('@');
            if (at >= 0) {
                user = decode(authority.substring(0, at), "user");
                authority = authority.substring(at + 1);
            }
            String host;
            String portText = null;
            if (authority.startsWith("[")) {
                int close = authority.indexOf(']');
                if (close < 0) {
                    throw bad("its IPv6 address has no closing ']'", scheme + "://[ADDRESS]:PORT" + pathPart);
                }
                host = authority.substring(1, close);
                if (!IPV6.matcher(host).matches()) {
                    throw bad("'" + host + "' in brackets is not an IPv6 address", scheme + "://[::1]:PORT" + pathPart);
                }
                host = host.replace("%25", "%");
                String after = authority.substring(close + 1);
                if (!after.isEmpty()) {
                    if (!after.startsWith(":")) {
                        throw bad("'" + after + "' follows the IPv6 address", scheme + "://[" + host + "]:PORT" + pathPart);
                    }
                    portText = after.substring(1);
                }
            } else {
                int c = authority.indexOf(':');
                if (c >= 0 && authority.indexOf(':', c + 1) >= 0) {
                    throw bad("an IPv6 address must be in brackets", scheme + "://[" + authority + "]" + pathPart
                            + " (or [ADDRESS]:PORT)");
                }
                host = c < 0 ? authority : authority.substring(0, c);
                portText = c < 0 ? null : authority.substring(c + 1);
                if (host.isEmpty()) {
                    throw bad("it names no host", scheme + "://HOST[:PORT]" + pathPart
                            + ", or nbd+unix://" + pathPart + "?socket=/PATH/TO.sock for a Unix socket");
                }
                if (!REG_NAME.matcher(host).matches()) {
                    throw bad("'" + host + "' is not a host name or address", scheme + "://HOST[:PORT]" + pathPart);
                }
            }
            int port = NbdProtocol.DEFAULT_PORT;
            if (portText != null && !portText.isEmpty()) {
                port = -1;
                if (portText.matches("[0-9]{1,5}")) {
                    port = Integer.parseInt(portText);
                }
                if (port < 1 || port > 65535) {
                    String shownHost = host.indexOf(':') >= 0 ? "[" + host + "]" : host;
                    throw bad("its port '" + portText + "' is not a number from 1 to 65535",
                            scheme + "://" + shownHost + ":10809" + pathPart + " (or leave the port out for 10809)");
                }
            }
            return new NbdUri(tls, false, user, host, port, exportName, null, params);
        }

        private String decode(String s, String what) {
            if (s.indexOf('%') < 0) {
                return s;
            }
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(s.length());
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                if (c != '%') {
                    byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                    bytes.write(b, 0, b.length);
                    continue;
                }
                int hi = i + 2 < s.length() ? Character.digit(s.charAt(i + 1), 16) : -1;
                int lo = i + 2 < s.length() ? Character.digit(s.charAt(i + 2), 16) : -1;
                if (hi < 0 || lo < 0) {
                    throw bad("its " + what + " has a '%' not followed by two hex digits",
                            "%25 for a literal '%'");
                }
                bytes.write(hi << 4 | lo);
                i += 2;
            }
            try {
                return StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(bytes.toByteArray())).toString();
            } catch (CharacterCodingException e) {
                throw bad("its " + what + " does not decode as UTF-8", "the name's UTF-8 bytes percent-encoded");
            }
        }

        private IllegalArgumentException bad(String problem, String instead) {
            return new IllegalArgumentException("'" + uri + "' is not a usable NBD URI: " + problem
                    + "; write " + instead);
        }
    }
}
