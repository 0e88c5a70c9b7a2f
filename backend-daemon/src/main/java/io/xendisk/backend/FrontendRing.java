package io.xendisk.backend;

import java.util.List;

import io.xendisk.blkif.Abi;

/**
 * What the frontend published for its ring when it went Initialised: the grant
 * references of the ring pages (ring-ref, or ring-ref0..N-1 with ring-page-order),
 * its event channel port, the request ABI (the {@code protocol} node), and
 * whether both ends agreed on persistent grants ({@code feature-persistent}).
 */
public record FrontendRing(int frontendDomid, List<Integer> ringRefs, int eventChannel, Abi abi, boolean persistentGrants) {
    public FrontendRing {
        ringRefs = List.copyOf(ringRefs);
    }

    /** A ring without persistent grants. */
    public FrontendRing(int frontendDomid, List<Integer> ringRefs, int eventChannel, Abi abi) {
        this(frontendDomid, ringRefs, eventChannel, abi, false);
    }
}
