package io.xendisk.backend;

import java.util.concurrent.atomic.AtomicReference;

import io.xendisk.xen.EventChannel;

/**
 * The requests engine threads have completed, on their way back to the ring
 * thread, which alone answers them: a lock-free stack linked through the
 * requests themselves (nothing allocated), and a wakeup of the ring thread's
 * event channel wait when it is parked there.
 */
final class Completions {
    private final AtomicReference<RingRequest> head = new AtomicReference<>();
    private final EventChannel evtchn;
    /** The ring thread is (about to be) blocked in the event channel wait. */
    private volatile boolean parked;

    Completions(EventChannel evtchn) {
        this.evtchn = evtchn;
    }

    /** From an engine's thread. */
    void push(RingRequest r) {
        RingRequest h;
        do {
            h = head.get();
            r.nextDone = h;
        } while (!head.compareAndSet(h, r));
        // parked is written before head is read on the ring thread, and head before parked here:
        // one of the two sides sees the other, so a completion never waits for the next kick
        if (parked) {
            evtchn.wakeup();
        }
    }

    boolean any() {
        return head.get() != null;
    }

    /** Everything completed so far, oldest first, linked by {@link RingRequest#nextDone}; null when none. */
    RingRequest takeAll() {
        if (head.get() == null) {
            return null; // a plain read first: the exchange is a full barrier, not to be paid on every turn of the loop
        }
        RingRequest r = head.getAndSet(null);
        RingRequest ordered = null;
        while (r != null) {
            RingRequest next = r.nextDone;
            r.nextDone = ordered;
            ordered = r;
            r = next;
        }
        return ordered;
    }

    /** The ring thread says it parks (true) or has woken (false). */
    void parked(boolean p) {
        parked = p;
    }
}
