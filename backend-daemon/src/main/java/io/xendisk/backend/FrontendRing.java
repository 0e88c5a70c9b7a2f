package io.xendisk.backend;

import java.util.List;

import io.xendisk.blkif.Abi;

/**
 * What the frontend published for its rings when it went Initialised: one
 * {@link Queue} per ring (multi-queue-num-queues, else one), the request ABI
 * (the {@code protocol} node), and whether both ends agreed on persistent
 * grants ({@code feature-persistent}). All queues share the ABI and the ring
 * size, as blkif.h has them.
 */
public record FrontendRing(int frontendDomid, List<Queue> queues, Abi abi, boolean persistentGrants) {
    /**
     * One ring: the grant references of its pages (ring-ref, or ring-ref0..N-1
     * with ring-page-order; under queue-Q/ with several queues) and its event
     * channel port.
     */
    public record Queue(List<Integer> ringRefs, int eventChannel) {
        public Queue {
            ringRefs = List.copyOf(ringRefs);
        }
    }

    public FrontendRing {
        queues = List.copyOf(queues);
        if (queues.isEmpty()) {
            throw new IllegalArgumentException("a frontend publishes at least one ring");
        }
    }

    /** One ring. */
    public FrontendRing(int frontendDomid, List<Integer> ringRefs, int eventChannel, Abi abi, boolean persistentGrants) {
        this(frontendDomid, List.of(new Queue(ringRefs, eventChannel)), abi, persistentGrants);
    }

    /** One ring, without persistent grants. */
    public FrontendRing(int frontendDomid, List<Integer> ringRefs, int eventChannel, Abi abi) {
        this(frontendDomid, ringRefs, eventChannel, abi, false);
    }

    /** The first (with one queue, the only) ring's grant references. */
    public List<Integer> ringRefs() {
        return queues.get(0).ringRefs();
    }

    /** The first (with one queue, the only) ring's event channel. */
    public int eventChannel() {
        return queues.get(0).eventChannel();
    }
}
