package io.xendisk.storage.nbd;

import java.io.IOException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** A completion a test waits for; the wait is bounded so that a lost completion fails instead of hanging. */
final class Completed implements NbdClient.Completion {
    static final long WAIT_SECONDS = 60;

    private final CountDownLatch latch = new CountDownLatch(1);
    private volatile int error = -1;
    private volatile IOException failure;
    private volatile int calls;

    @Override
    public void done(int e, IOException f) {
        error = e;
        failure = f;
        calls++;
        latch.countDown();
    }

    /** Waits for the completion; fails the test if it does not come. */
    Completed await() {
        try {
            if (!latch.await(WAIT_SECONDS, TimeUnit.SECONDS)) {
                fail("no completion within " + WAIT_SECONDS + " s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
        return this;
    }

    boolean isDone() {
        return latch.getCount() == 0;
    }

    /** Waits and asserts success, once. */
    void ok() {
        await();
        assertEquals(0, error, () -> "failed with " + NbdProtocol.errorName(error) + ": " + failure);
        assertEquals(1, calls, "completion called " + calls + " times");
    }

    /** Waits and asserts a client-side failure (NBD_EIO with an exception); returns the exception. */
    IOException failed() {
        await();
        assertEquals(NbdProtocol.EIO, error, () -> "expected NBD_EIO, got " + NbdProtocol.errorName(error));
        assertTrue(failure != null, "NBD_EIO without the exception saying why");
        assertEquals(1, calls, "completion called " + calls + " times");
        return failure;
    }

    int error() {
        await();
        return error;
    }

    IOException failure() {
        return failure;
    }
}
