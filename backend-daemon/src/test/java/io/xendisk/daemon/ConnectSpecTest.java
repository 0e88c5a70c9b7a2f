package io.xendisk.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import io.xendisk.api.ControlRequest;
import io.xendisk.api.ControlResponse;
import io.xendisk.storage.StorageSpec;

class ConnectSpecTest {
    private static ControlRequest connect(List<String> args, Map<String, String> options) {
        return new ControlRequest("connect", args, options);
    }

    private static ConnectSpec parse(Map<String, String> options) throws ConnectSpec.Invalid {
        return ConnectSpec.parse(connect(List.of("vm1"), options));
    }

    private static ConnectSpec.Invalid invalid(List<String> args, Map<String, String> options) {
        return assertThrows(ConnectSpec.Invalid.class, () -> ConnectSpec.parse(connect(args, options)));
    }

    @Test
    void noOptionsIsADiscardDiskWaitingForTheFrontend() throws Exception {
        ConnectSpec s = parse(Map.of());
        assertEquals("vm1", s.vm());
        assertEquals("discard", s.engine());
        assertNull(s.image());
        assertNull(s.vdev());
        assertTrue(s.waitForFrontend());
        assertEquals(0, s.atStartSeconds());
        assertEquals(StorageSpec.discard(StorageSpec.DEFAULT_DISCARD_SIZE), s.storage());
    }

    @Test
    void anImageAloneIsServedByTheFileEngine() throws Exception {
        ConnectSpec s = parse(Map.of("path", "/images/a.img", "readonly", "true", "vdev", "xvdc", "no-wait", "true"));
        assertEquals(StorageSpec.of("file", Path.of("/images/a.img"), true), s.storage());
        assertEquals("xvdc", s.vdev());
        assertFalse(s.waitForFrontend());
    }

    @Test
    void aRelativeImageIsTakenFromTheDaemonsDirectory() throws Exception {
        ConnectSpec s = parse(Map.of("path", "a.img", "storage", "cow"));
        assertEquals(Path.of("a.img").toAbsolutePath(), s.image());
        assertEquals("cow", s.storage().engine());
    }

    @Test
    void aUriIsKeptAsItIsAndPicksNoEngineByItselfUnlessOneServesItsScheme() throws Exception {
        ConnectSpec.Invalid e = invalid(List.of("vm1"), Map.of("path", "gopher://host/disk"));
        assertTrue(e.getMessage().contains("no storage engine serves gopher:// URIs"), e.getMessage());
        ConnectSpec s = parse(Map.of("path", "gopher://host//disk", "storage", "file"));
        assertNull(s.image());
        assertEquals(StorageSpec.uri("file", "gopher://host//disk", false), s.storage());
    }

    @Test
    void atStartTakesSecondsWithinAnHour() throws Exception {
        assertEquals(600, parse(Map.of("at-start", "600", "vdev", "xvdb")).atStartSeconds());
        assertEquals(0, parse(Map.of("at-start", "600")).whenCreated().atStartSeconds());
        assertFalse(parse(Map.of("at-start", "600")).whenCreated().waitForFrontend());
        for (String bad : List.of("0", "3601", "-5", "soon", "")) {
            ConnectSpec.Invalid e = invalid(List.of("vm1"), Map.of("at-start", bad));
            assertEquals(ControlResponse.USAGE, e.exitCode());
            assertEquals("--at-start takes seconds, 1 to 3600, not '" + bad + "'", e.getMessage());
        }
    }

    @Test
    void theGuestIsRequiredAndAlone() {
        for (List<String> args : List.of(List.<String>of(), List.of("vm1", "vm2"))) {
            ConnectSpec.Invalid e = invalid(args, Map.of());
            assertEquals(ControlResponse.USAGE, e.exitCode());
            assertTrue(e.getMessage().startsWith("'connect' needs the guest: connect <vm> [--path IMG]"), e.getMessage());
        }
    }

    @Test
    void anEngineWithAnImageNeedsAPath() {
        ConnectSpec.Invalid e = invalid(List.of("vm1"), Map.of("storage", "cow"));
        assertEquals(ControlResponse.FAILED, e.exitCode());
        assertEquals("storage 'cow' needs an image: add --path IMG", e.getMessage());
    }

    @Test
    void aBadVdevOrPathIsNamed() {
        ConnectSpec.Invalid v = invalid(List.of("vm1"), Map.of("vdev", "sdz9x"));
        assertEquals(ControlResponse.FAILED, v.exitCode());
        assertTrue(v.getMessage().contains("sdz9x"), v.getMessage());
        ConnectSpec.Invalid p = invalid(List.of("vm1"), Map.of("path", "a\0b"));
        assertEquals(ControlResponse.FAILED, p.exitCode());
        assertTrue(p.getMessage().startsWith("--path 'a\0b' is not a usable path ("), p.getMessage());
    }
}
