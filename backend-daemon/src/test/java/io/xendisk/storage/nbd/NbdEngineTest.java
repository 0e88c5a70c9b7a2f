package io.xendisk.storage.nbd;

import io.xendisk.storage.StorageException;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The reconnect window as config.xml's nbd-reconnect-seconds hands it to the engine. */
class NbdEngineTest {
    @Test
    void theReconnectWindowComesFromThePropertyOrTheDefault() {
        assertEquals(NbdClient.DEFAULT_RECONNECT_FOR, NbdEngine.reconnectFor(null));
        assertEquals(Duration.ofSeconds(30), NbdEngine.reconnectFor(" 30 "));
        assertEquals(Duration.ZERO, NbdEngine.reconnectFor("0"));
        for (String bad : new String[] {"-1", "soon", "86401"}) {
            StorageException e = assertThrows(StorageException.class, () -> NbdEngine.reconnectFor(bad));
            assertTrue(e.getMessage().contains(NbdEngine.RECONNECT_PROPERTY + "='" + bad + "' is not a number of"
                    + " seconds from 0 to 86400"), e.getMessage());
        }
    }
}
