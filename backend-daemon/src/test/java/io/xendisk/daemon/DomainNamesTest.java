package io.xendisk.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.xendisk.xen.sim.SimXenstored;
import io.xendisk.xen.store.XenStoreClient;

class DomainNamesTest {
    private Path dir;
    private SimXenstored xenstored;
    private XenStoreClient xs;
    private DomainNames names;

    @BeforeEach
    void setUp() throws Exception {
        dir = Files.createTempDirectory(Path.of("/tmp"), "xdjnames");
        xenstored = SimXenstored.start(dir.resolve("socket"));
        xs = XenStoreClient.connect(dir.resolve("socket"));
        xs.write("/local/domain/3/name", "web");
        xs.write("/local/domain/7/name", "db");
        xs.write("/local/domain/9/memory/target", "1024"); // a domain without a name
        names = new DomainNames(xs);
    }

    @AfterEach
    void tearDown() throws Exception {
        xs.close();
        xenstored.close();
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    void namesAndNumbersBothFindTheDomain() {
        assertEquals(7, names.domid("db"));
        assertEquals(3, names.domid("web"));
        assertEquals(9, names.domid("9"));
        assertEquals(Optional.of("web"), names.name(3));
        assertEquals(Optional.empty(), names.name(9));
        assertTrue(names.exists("db"));
        assertTrue(names.exists(9));
    }

    @Test
    void anUnknownGuestIsNamedWithWhereToLook() {
        assertEquals("no running guest named 'mail' (is it started? names are read from /local/domain/*/name)",
                assertThrows(IllegalArgumentException.class, () -> names.domid("mail")).getMessage());
        assertEquals("no domain 12 (is the guest running? 'xl list' or 'xen-disk-java sim guests')",
                assertThrows(IllegalArgumentException.class, () -> names.domid("12")).getMessage());
        assertFalse(names.exists("mail"));
        assertFalse(names.exists(12));
    }

    @Test
    void aNumberStandsForItselfWhenTheDomainIsGone() {
        assertEquals(12, names.domidOrNumber("12"));
        assertEquals(7, names.domidOrNumber("db"));
        assertThrows(IllegalArgumentException.class, () -> names.domidOrNumber("mail"));
    }
}
