package io.xendisk.backend;

import java.util.List;

import io.xendisk.blkif.Abi;

/**
 * What the frontend published for its ring when it went Initialised: the grant
 * references of the ring pages (ring-ref, or ring-ref0..N-1 with ring-page-order),
 * its event channel port and the request ABI (the {@code protocol} node).
 */
public record FrontendRing(int frontendDomid, List<Integer> ringRefs, int eventChannel, Abi abi) {
    public FrontendRing {
        ringRefs = List.copyOf(ringRefs);
    }
}
