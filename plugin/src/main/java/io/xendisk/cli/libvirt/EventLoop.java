package io.xendisk.cli.libvirt;

import org.libvirt.Library;
import org.libvirt.LibvirtException;

/**
 * libvirt's default event loop, started once per JVM before the first
 * connection: it carries keepalives of remote connections and delivers
 * domain events (libvirt-java needs {@code Library.initEventLoop()} before
 * {@code new Connect} and a thread in {@code Library.runEventLoop()}).
 */
final class EventLoop {
    private static boolean started;

    private EventLoop() {
    }

    static synchronized void ensureStarted() throws LibvirtException {
        if (started) {
            return;
        }
        Library.initEventLoop();
        Thread t = new Thread(EventLoop::run, "libvirt-event-loop");
        t.setDaemon(true); // never keeps the CLI alive
        t.start();
        started = true;
    }

    private static void run() {
        try {
            Library.runEventLoop();
        } catch (LibvirtException e) {
            System.err.println("xen-disk-java: libvirt event loop stopped: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
