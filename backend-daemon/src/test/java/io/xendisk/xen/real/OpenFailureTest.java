package io.xendisk.xen.real;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Without Xen (this build host, CI) opening must fail with a message that
 * says what to install or load, never crash. Which message depends on
 * whether the Debian library packages are installed here: both are checked.
 */
class OpenFailureTest {
    @TempDir
    Path tmp;

    private static String expectedFor(XenLibrary lib) {
        if (!lib.loadable()) {
            return lib.soname() + " not found: install the " + lib.debianPackage() + " package";
        }
        return lib.device() + " not available: load the " + lib.module() + " module (modprobe " + lib.module() + ")";
    }

    @Test
    void grantTableOpenSaysWhatIsMissing() {
        assumeFalse(Files.exists(Path.of(XenLibrary.GNTTAB.device())), "running on a Xen dom0");
        XenUnavailableException e = assertThrows(XenUnavailableException.class, RealGrantTable::open);
        assertTrue(e.getMessage().startsWith(expectedFor(XenLibrary.GNTTAB)), e.getMessage());
    }

    @Test
    void eventChannelsOpenSaysWhatIsMissing() {
        assumeFalse(Files.exists(Path.of(XenLibrary.EVTCHN.device())), "running on a Xen dom0");
        XenUnavailableException e = assertThrows(XenUnavailableException.class, RealEventChannels::open);
        assertTrue(e.getMessage().startsWith(expectedFor(XenLibrary.EVTCHN)), e.getMessage());
    }

    @Test
    void aMissingLibraryNamesItsPackage() {
        XenUnavailableException e = assertThrows(XenUnavailableException.class,
                () -> XenLibrary.load("libxendiskjava-absent.so.1", "libxendiskjava-absent1"));
        assertEquals("libxendiskjava-absent.so.1 not found: install the libxendiskjava-absent1 package", e.getMessage());
    }

    @Test
    void openErrnosMapToWhatToDo() throws Exception {
        Path dev = tmp.resolve("dev");
        Files.createDirectories(dev);
        assertEquals(dev + "/xen/gntdev not available: load the xen-gntdev module (modprobe xen-gntdev)"
                        + "; there is no " + dev + "/xen at all: this host is not running as a Xen dom0",
                XenLibrary.GNTTAB.openFailureMessage(XenLibrary.ENOENT, dev));
        Files.createDirectories(dev.resolve("xen"));
        assertEquals(dev + "/xen/evtchn not available: load the xen-evtchn module (modprobe xen-evtchn)",
                XenLibrary.EVTCHN.openFailureMessage(XenLibrary.ENODEV, dev));
        assertEquals(dev + "/xen/gntdev: permission denied: the daemon must run as root in dom0",
                XenLibrary.GNTTAB.openFailureMessage(XenLibrary.EACCES, dev));
        assertTrue(XenLibrary.GNTTAB.openFailureMessage(24, dev).startsWith(dev + "/xen/gntdev: cannot open: "));
    }

    @Test
    void probeListsEveryMissingPiece() throws Exception {
        Path dev = tmp.resolve("dev");
        Files.createDirectories(dev.resolve("xen"));
        Files.createFile(dev.resolve("xen/privcmd"));
        RealPlatform.Probe p = RealPlatform.probe(dev, tmp.resolve("socket"),
                lib -> lib == XenLibrary.EVTCHN, s -> false);
        assertEquals(List.of(
                "libxengnttab.so.1 not found: install the libxengnttab1 package",
                dev + "/xen/gntdev not available: load the xen-gntdev module (modprobe xen-gntdev)",
                dev + "/xen/evtchn not available: load the xen-evtchn module (modprobe xen-evtchn)",
                "no xenstored answers at " + tmp.resolve("socket")
                        + " (start it: 'systemctl start xenstored' from xen-utils, or set XENSTORED_PATH)"),
                p.problems());
        assertTrue(p.summary().startsWith("real Xen is not usable here: libxengnttab.so.1 not found"));
    }

    @Test
    void probeWithoutDevXenSaysItIsNotADom0AndAllPresentIsOk() throws Exception {
        Path dev = tmp.resolve("dev");
        Files.createDirectories(dev);
        RealPlatform.Probe p = RealPlatform.probe(dev, tmp.resolve("s"), lib -> true, s -> true);
        assertEquals(List.of("no " + dev + "/xen: this host is not running as a Xen dom0 (boot the Xen hypervisor)"),
                p.problems());
        for (String d : List.of("privcmd", "gntdev", "evtchn")) {
            Files.createDirectories(dev.resolve("xen"));
            Files.createFile(dev.resolve("xen/" + d));
        }
        RealPlatform.Probe all = RealPlatform.probe(dev, tmp.resolve("s"), lib -> true, s -> true);
        assertTrue(all.ok());
        assertEquals("real Xen is usable", all.summary());
    }

    @Test
    void probeOfThisHostDoesNotThrow() {
        RealPlatform.Probe p = RealPlatform.probe();
        assertTrue(p.ok() || !p.summary().isEmpty());
    }
}
