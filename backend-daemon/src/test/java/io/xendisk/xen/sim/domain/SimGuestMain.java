package io.xendisk.xen.sim.domain;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import io.xendisk.xen.XenPage;

/**
 * A minimal simulated guest for the cross-process tests, run in its own JVM:
 * creates its domain, grants {@value #DATA_PAGES} pages holding
 * {@link #pattern} read-only and one page writable to domain 0, allocates an
 * unbound port for domain 0 and prints
 * {@code READY <port> <ref,ref,...> <writable ref>}. Then, in mode
 * {@code pingpong}, answers each kick with a kick {@code rounds} times, checks
 * that the writable page holds {@link #backendPattern} after the next kick
 * (prints {@code VERIFIED} or {@code MISMATCH ...}), and destroys its domain
 * when stdin closes. In mode {@code idle} it just waits to be killed; in mode
 * {@code locked} it also holds the domain's {@link DomainLock} and, when stdin
 * closes, shuts down as a guest does (files removed, then the lock dropped).
 *
 * <p>Args: simdir domid mode rounds
 */
public final class SimGuestMain {
    static final int DATA_PAGES = 4;
    private static final long WAIT = TimeUnit.SECONDS.toNanos(60);

    private SimGuestMain() {
    }

    static byte pattern(int page, int i) {
        return (byte) (page * 31 + i * 7 + 1);
    }

    static byte backendPattern(int i) {
        return (byte) (i * 13 + 5);
    }

    public static void main(String[] args) throws Exception {
        Path simdir = Path.of(args[0]);
        int domid = Integer.parseInt(args[1]);
        String mode = args[2];
        int rounds = Integer.parseInt(args[3]);
        try (SimDomain dom = SimDomain.create(simdir, domid, 32, 128)) {
            int first = dom.memory().allocate(DATA_PAGES);
            StringBuilder refs = new StringBuilder();
            for (int k = 0; k < DATA_PAGES; k++) {
                ByteBuffer page = dom.memory().page(first + k);
                for (int i = 0; i < XenPage.SIZE; i++) {
                    page.put(i, pattern(k, i));
                }
                refs.append(k == 0 ? "" : ",").append(dom.grants().grantAccess(first + k, 0, true));
            }
            int rwFrame = dom.memory().allocate(1);
            int rwRef = dom.grants().grantAccess(rwFrame, 0, false);
            SimEventChannel ch = dom.allocUnbound(0);
            DomainLock lock = mode.equals("locked") ? DomainLock.acquire(simdir, domid) : null;
            System.out.println("READY " + ch.localPort() + " " + refs + " " + rwRef);
            System.out.flush();
            if (mode.equals("idle")) {
                Thread.sleep(Long.MAX_VALUE);
            }
            if (lock != null) {
                awaitStdinClosed();
                dom.close(); // files first, then the lock, as a guest shutting down does
                lock.close();
                return;
            }
            for (int r = 0; r < rounds; r++) {
                if (!ch.await(WAIT)) {
                    System.out.println("NO-PING " + r);
                    System.exit(2);
                }
                ch.notifyRemote();
            }
            if (!ch.await(WAIT)) {
                System.out.println("NO-DATA");
                System.exit(3);
            }
            ByteBuffer rw = dom.memory().page(rwFrame);
            String verdict = "VERIFIED";
            for (int i = 0; i < XenPage.SIZE; i++) {
                if (rw.get(i) != backendPattern(i)) {
                    verdict = "MISMATCH at " + i;
                    break;
                }
            }
            System.out.println(verdict);
            System.out.flush();
            awaitStdinClosed();
            ch.close();
        }
    }

    private static void awaitStdinClosed() throws java.io.IOException {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            while (in.readLine() != null) {
                // until the test closes our stdin
            }
        }
    }
}
