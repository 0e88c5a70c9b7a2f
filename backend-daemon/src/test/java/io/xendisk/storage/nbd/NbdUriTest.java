package io.xendisk.storage.nbd;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** NBD URIs as the NBD URI format (doc/uri.md), libnbd and QEMU write them, and the ones to refuse. */
class NbdUriTest {

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
        // the examples of doc/uri.md
        "nbd://example.com/disk            | example.com | 10809 | disk",
        "nbd://example.com/                | example.com | 10809 | \"\"",
        "nbd://example.com                 | example.com | 10809 | \"\"",
        "nbd://example.com//disk           | example.com | 10809 | /disk",
        "nbd://example.com/hello%20world   | example.com | 10809 | hello world",
        "nbd://10.0.0.7:10810/vm-1         | 10.0.0.7    | 10810 | vm-1",
        "NBD://Host:1/a/b                  | Host        | 1     | a/b",
        "nbd://[::1]:10811/disk            | ::1         | 10811 | disk",
        "nbd://[fe80::1%25eth0]/x          | fe80::1%eth0| 10809 | x",
        "nbd://host:/x                     | host        | 10809 | x",
        "nbd://host/%C3%A9t%C3%A9%3F%2F    | host        | 10809 | été?/",
    })
    void tcpUris(String text, String host, int port, String export) {
        NbdUri u = NbdUri.parse(text);
        assertFalse(u.isUnix());
        assertFalse(u.tls());
        assertEquals(host, u.host());
        assertEquals(port, u.port());
        assertEquals(export, u.exportName());
        assertNull(u.socket());
        assertEquals(u, NbdUri.parse(u.toString()), "round trip of " + u);
    }

    @Test
    void unixUris() {
        NbdUri u = NbdUri.parse("nbd+unix:///disk?socket=/run/nbd/a%20b.sock");
        assertTrue(u.isUnix());
        assertFalse(u.tls());
        assertEquals("disk", u.exportName());
        assertEquals(Path.of("/run/nbd/a b.sock"), u.socket());
        assertNull(u.host());
        assertEquals(-1, u.port());
        assertEquals("nbd+unix:///disk?socket=/run/nbd/a%20b.sock", u.toString());
        assertEquals(u, NbdUri.parse(u.toString()));

        NbdUri def = NbdUri.parse("nbd+unix://?socket=relative.sock");
        assertEquals("", def.exportName());
        assertEquals(Path.of("relative.sock"), def.socket());
        assertEquals("nbd+unix:///?socket=relative.sock", def.toString());
    }

    @Test
    void tlsSchemesParseAndKeepTheirParameters() {
        NbdUri tcp = NbdUri.parse("nbds://alice@nbd.example:10900/disk?tls-type=psk&tls-verify-peer=0");
        assertTrue(tcp.tls());
        assertEquals("alice", tcp.user());
        assertEquals(Map.of("tls-type", "psk", "tls-verify-peer", "0"), tcp.parameters());
        assertEquals("nbds://alice@nbd.example:10900/disk?tls-type=psk&tls-verify-peer=0", tcp.toString());

        NbdUri unix = NbdUri.parse("nbds+unix:///disk?socket=/s.sock&tls-hostname=server&x-debug=1");
        assertTrue(unix.tls());
        assertTrue(unix.isUnix());
        assertEquals(Path.of("/s.sock"), unix.socket());
        assertEquals("nbds+unix:///disk?socket=/s.sock&tls-hostname=server&x-debug=1", unix.toString());
    }

    @Test
    void toStringEncodesWhatNeedsIt() {
        NbdUri u = NbdUri.tcp("::1", 10809, "a b/c?d#e%f");
        assertEquals("nbd://[::1]/a%20b/c%3Fd%23e%25f", u.toString());
        assertEquals(u, NbdUri.parse(u.toString()));
        NbdUri s = NbdUri.unix(Path.of("/tmp/x&y=z.sock"), "");
        assertEquals("nbd+unix:///?socket=/tmp/x%26y%3Dz.sock", s.toString());
        assertEquals(s, NbdUri.parse(s.toString()));
        assertEquals("nbd://h:7/", NbdUri.tcp("h", 7, "").toString());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "example.com/disk                  | has no scheme                | nbd://HOST[:PORT]/EXPORT",
        "/var/run/nbd.sock                 | has no scheme                | nbd+unix:///EXPORT?socket=",
        "http://example.com/disk           | scheme 'http' is not         | nbd://HOST[:PORT]/EXPORT",
        "nbd:example.com/disk              | not followed by '//'         | nbd://HOST[:PORT]/EXPORT",
        "nbd+unix:///disk                  | needs the socket's path      | nbd+unix:///disk?socket=/PATH/TO.sock",
        "nbd+unix:///disk?socket=          | needs the socket's path      | nbd+unix:///disk?socket=/PATH/TO.sock",
        "nbd+unix://host/disk?socket=/s    | names no host                | nbd+unix:///disk?socket=/s",
        "nbd://host:99999/disk             | port '99999' is not a number | nbd://host:10809/disk",
        "nbd://host:0/disk                 | port '0' is not a number     | nbd://host:10809/disk",
        "nbd://host:ten/disk               | port 'ten' is not a number   | nbd://host:10809/disk",
        "nbd:///disk                       | names no host                | nbd://HOST[:PORT]/disk",
        "nbd://::1/disk                    | must be in brackets          | nbd://[::1]/disk",
        "nbd://[::1/disk                   | no closing ']'               | nbd://[ADDRESS]:PORT",
        "nbd://host/disk?socket=/s.sock    | socket= belongs to nbd+unix  | nbd+unix:///disk?socket=/s.sock",
        "nbd://host/disk?sockt=/s.sock     | 'sockt' is not one of        | the URI without it",
        "nbd://host/dis%zk                 | not followed by two hex      | %25",
        "nbd://host/%FF                    | does not decode as UTF-8     | percent-encoded",
        "nbd://host/a%00b                  | NUL                          | without %00",
        "nbd://host/disk#frag              | fragment                     | the URI without it",
        "nbd+unix:///?socket=%00abstract   | abstract namespace           | socket=/PATH/TO.sock",
    })
    void badUrisSayWhatToWrite(String text, String problem, String instead) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NbdUri.parse(text));
        String m = e.getMessage();
        assertTrue(m.startsWith("'" + text + "' is not a usable NBD URI: "), m);
        assertTrue(m.contains(problem), m);
        assertTrue(m.contains("; write ") && m.substring(m.indexOf("; write ")).contains(instead), m);
    }

    @ParameterizedTest
    @ValueSource(strings = {"nbd://host/a b", "nbd://host/\tx"})
    void unencodedSpacesAreRefused(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NbdUri.parse(text));
        assertTrue(e.getMessage().contains("percent-encode"), e.getMessage());
    }

    @Test
    void libnbdsTlsParametersAreKeptAndOthersNamed() {
        NbdUri u = NbdUri.parse("nbds://localhost/disk?tls-certificates=/etc/pki/nbd&tls-verify-peer=false");
        assertEquals(Map.of("tls-certificates", "/etc/pki/nbd", "tls-verify-peer", "false"), u.parameters());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> NbdUri.parse("nbds://localhost/disk?tls-ca=/etc/ca.pem"));
        assertTrue(e.getMessage().contains("its query parameter 'tls-ca' is not one of socket, tls-type, tls-hostname,"
                + " tls-verify-peer, tls-certificates, tls-psk-file or an experimental x-..."), e.getMessage());
    }
}
