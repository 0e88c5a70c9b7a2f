package io.xendisk.backend;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * Where rings keep their {@link ResponseJournal}s: one file per ring, named
 * by domain, device and queue, in a directory that a restarted daemon finds
 * again (under the run directory).
 */
public final class RingJournals {
    private static final Logger LOG = LogManager.getLogger(RingJournals.class);
    /** No journals: a ring resumed after a kill -9 may lose the responses of one batch. */
    public static final RingJournals NONE = new RingJournals(null);

    private final Path dir;

    public RingJournals(Path dir) {
        this.dir = dir;
    }

    /** Deletes the journals of every ring of VBD {@code domid/devid}. */
    void discard(int domid, int devid) {
        if (dir == null || devid < 0) {
            return;
        }
        try (var files = Files.newDirectoryStream(dir, "vbd-" + domid + "-" + devid + "-q*")) {
            for (Path f : files) {
                Files.deleteIfExists(f);
            }
        } catch (NoSuchFileException e) {
            // no journal was ever written
        } catch (IOException e) {
            LOG.warn("vbd {}/{}: could not delete old response journals in {}: {}", domid, devid, dir, e.toString());
        }
    }

    /** The journal of queue {@code queue} of VBD {@code domid/devid}; null without journals or when it cannot be made. */
    ResponseJournal open(int domid, int devid, int queue, int ringSize) {
        if (dir == null) {
            return null;
        }
        Path file = dir.resolve("vbd-" + domid + "-" + devid + "-q" + queue);
        try {
            return ResponseJournal.open(file, ringSize);
        } catch (IOException | RuntimeException e) {
            LOG.warn("vbd {}/{}: no response journal {} ({}); a restart after a kill -9 may lose one batch of responses",
                    domid, devid, file, e.toString());
            return null;
        }
    }
}
