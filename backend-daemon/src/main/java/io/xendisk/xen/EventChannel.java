package io.xendisk.xen;

/**
 * One bound interdomain event channel, owned by one ring thread (the
 * EventChannel port). Xen semantics: a notification sets the port pending;
 * many notifications while pending coalesce into one; a delivered port stays
 * masked until the receiver has looked at its ring and re-arms it.
 */
public interface EventChannel extends AutoCloseable {
    /** Our end's port number. */
    int localPort();

    /** Kicks the other end. */
    void notifyRemote();

    /**
     * Waits until the port fires or {@code timeoutNanos} pass; on return the
     * pending event (if any) is consumed and the port unmasked, so the next
     * notification wakes us again.
     * @return true when an event arrived
     */
    boolean await(long timeoutNanos) throws InterruptedException;

    /**
     * Makes the owner's current or next {@link #await} return (false, no
     * event consumed), from any thread: work that is not the remote end's,
     * such as a storage completion, is ready for the ring thread. Wakeups
     * before the await coalesce into one early return.
     */
    void wakeup();

    /** Unbinds the port; a thread blocked in await() returns. */
    @Override
    void close();
}
