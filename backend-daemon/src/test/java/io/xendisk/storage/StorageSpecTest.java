package io.xendisk.storage;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Targets as xl and our params node give them: images, engine prefixes, URIs. */
class StorageSpecTest {
    /** An engine that serves zzuri:// and zzuri+unix:// URIs, as a remote engine would. */
    @BeforeAll
    static void registerAUriEngine() {
        if (!Storages.engines().contains("zz-uri")) {
            Storages.register(new StorageEngine() {
                @Override
                public String name() {
                    return "zz-uri";
                }

                @Override
                public Set<String> schemes() {
                    return Set.of("zzuri", "zzuri+unix");
                }
            });
        }
    }

    @Test
    void aPathIsAFileImageAndAnEnginePrefixPicksTheEngine() {
        StorageSpec s = StorageSpec.parse("/images/a.img", false);
        assertEquals("file", s.engine());
        assertEquals(Path.of("/images/a.img"), s.path());
        assertNull(s.location());
        assertEquals("qcow2", StorageSpec.parse("qcow2:/images/a.qcow2", true).engine());
    }

    @Test
    void aUriPicksTheEngineOfItsSchemeAndKeepsItsDoubleSlash() {
        StorageSpec s = StorageSpec.parse("zzuri://host:10809/export", false);
        assertEquals("zz-uri", s.engine());
        assertNull(s.path());
        assertEquals("zzuri://host:10809/export", s.location());
        assertEquals("zz-uri:zzuri://host:10809/export", s.toString());
        StorageSpec u = StorageSpec.parse("zzuri+unix:///export?socket=/run/x.sock", true);
        assertEquals("zzuri+unix:///export?socket=/run/x.sock", u.location());
        assertTrue(u.readOnly());
    }

    @Test
    void anEnginePrefixBeforeAUriIsWhatOurParamsNodeHolds() {
        StorageSpec s = StorageSpec.parse("zz-uri:zzuri://host/export", false);
        assertEquals("zz-uri", s.engine());
        assertEquals("zzuri://host/export", s.location());
        // and it reads back to the same spec
        assertEquals(s, StorageSpec.parse(s.engine() + ":" + s.source(), false));
    }

    @Test
    void aSchemeNoEngineServesIsRefusedByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> StorageSpec.parse("gopher://host/disk", false));
        assertTrue(e.getMessage().contains("no storage engine serves gopher:// URIs"), e.getMessage());
    }

    @Test
    void aFileEngineGivenAUriSaysWhichKindOfEngineTakesIt() {
        StorageException e = assertThrows(StorageException.class,
                () -> Storages.openStorage(StorageSpec.uri("file", "zzuri://host/export", false)));
        assertTrue(e.getMessage().contains("not the URI zzuri://host/export (engine zz-uri serves zzuri:// URIs:"
                + " --storage zz-uri, or give the URI without an engine)"), e.getMessage());
    }

    /** The metadata schema's module names the engine of a URI for libvirt's doors as the daemon does. */
    @Test
    void theSchemaModuleKnowsTheSchemesOfTheDaemonsEngines() {
        Storages.schemes().forEach((scheme, engine) -> {
            if (!engine.startsWith("zz-")) {
                io.xendisk.xml.Engine e = io.xendisk.xml.Engine.forScheme(scheme);
                assertEquals(engine, e == null ? null : e.id(), scheme + "://");
            }
        });
        assertTrue(Storages.schemes().containsKey("nbd+unix"), Storages.schemes().toString());
        for (io.xendisk.xml.Engine e : io.xendisk.xml.Engine.values()) {
            assertTrue(Storages.engines().contains(e.id()), e.id() + " is no engine of the daemon");
        }
    }

    @Test
    void twoEnginesCannotClaimOneScheme() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Storages.register(
                new StorageEngine() {
                    @Override
                    public String name() {
                        return "zz-uri-2";
                    }

                    @Override
                    public Set<String> schemes() {
                        return Set.of("zzuri");
                    }
                }));
        assertTrue(e.getMessage().contains("which engine 'zz-uri' serves"), e.getMessage());
    }
}
