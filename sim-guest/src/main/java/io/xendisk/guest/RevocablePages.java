package io.xendisk.guest;

import java.nio.ByteBuffer;

import io.xendisk.xen.XenPage;
import io.xendisk.xen.sim.domain.GuestGrants;
import io.xendisk.xen.sim.domain.GuestMemory;
import io.xendisk.xen.sim.domain.SimDomain;

/**
 * Pages granted for one request and revoked while it is in flight: what a
 * frontend may do, since gnttab_end_foreign_access succeeds only while the
 * backend has the page neither mapped nor in a copy. When it succeeds, the
 * backend must answer the request with an error, or have finished with the
 * page before; either way the page must not change after the revocation, so
 * a copy of it is taken then, and its reference is not handed to another
 * page before the response. When it fails, the request is an ordinary
 * valid one and the revocation is retried after its response, as Linux
 * defers such pages (a backend keeping pages mapped holds them until it
 * purges or disconnects).
 */
final class RevocablePages implements AutoCloseable {
    private static final int FREE = 0;
    private static final int IN_REQUEST = 1;
    private static final int DEFERRED = 2;

    private final GuestGrants grants;
    private final GuestMemory memory;
    private final int backend;
    private final int firstFrame;
    private final int count;
    private final ByteBuffer pages;
    private final ByteBuffer snapshots;
    private final int[] state;
    private final int[] refs;
    /** Revoked in flight: the reference stays ours until the response, so it names no other page meanwhile. */
    private final boolean[] held;
    private long revoked;
    private long inUse;

    RevocablePages(SimDomain domain, int backendDomid, int count) {
        this.grants = domain.grants();
        this.memory = domain.memory();
        this.backend = backendDomid;
        this.count = count;
        this.firstFrame = memory.allocate(count);
        this.pages = memory.pages(firstFrame, count);
        this.snapshots = ByteBuffer.allocate(count * XenPage.SIZE);
        this.state = new int[count];
        this.refs = new int[count];
        this.held = new boolean[count];
    }

    /** A page granted read-write for one request, or -1 when all are in use. */
    int take() {
        for (int i = 0; i < count; i++) {
            if (state[i] == FREE) {
                state[i] = IN_REQUEST;
                refs[i] = grants.grantAccess(firstFrame + i, backend, false);
                return i;
            }
        }
        return -1;
    }

    int ref(int i) {
        return refs[i];
    }

    /** Page {@code i} at {@code i * 4096} of this buffer. */
    ByteBuffer pages() {
        return pages;
    }

    /** Tries to end the backend's access to page {@code i} of a request in flight; keeps a copy of it if that worked. */
    boolean revoke(int i) {
        if (!grants.endAccessKeepingRef(refs[i])) {
            inUse++;
            return false;
        }
        revoked++;
        snapshots.put(i * XenPage.SIZE, pages, i * XenPage.SIZE, XenPage.SIZE);
        held[i] = true;
        return true;
    }

    /** Whether page {@code i} is byte for byte what it was when its grant was revoked. */
    boolean unchangedSinceRevoked(int i) {
        return pages.slice(i * XenPage.SIZE, XenPage.SIZE).equals(snapshots.slice(i * XenPage.SIZE, XenPage.SIZE));
    }

    /** The request using page {@code i} was answered: its grant (if still granted) is ended now or later. */
    void answered(int i) {
        if (held[i]) {
            held[i] = false;
            grants.freeRef(refs[i]);
            state[i] = FREE;
        } else {
            state[i] = grants.endAccess(refs[i]) ? FREE : DEFERRED;
        }
    }

    /** Retries the deferred revocations. @return how many are still deferred */
    int retryDeferred() {
        int left = 0;
        for (int i = 0; i < count; i++) {
            if (state[i] == DEFERRED) {
                if (grants.endAccess(refs[i])) {
                    state[i] = FREE;
                } else {
                    left++;
                }
            }
        }
        return left;
    }

    /** Revocations that succeeded while the request was in flight. */
    long revoked() {
        return revoked;
    }

    /** Revocations refused because the backend was using the page. */
    long refused() {
        return inUse;
    }

    /** Frees the pages if no grant to them is left; a page the backend still keeps mapped stays granted. */
    @Override
    public void close() {
        if (retryDeferred() == 0) {
            memory.free(firstFrame, count);
        }
    }
}
