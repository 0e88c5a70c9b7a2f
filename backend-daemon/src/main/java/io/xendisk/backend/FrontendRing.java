package io.xendisk.backend;

import java.util.List;

/**
 * What the frontend published for its ring when it went Initialised: the grant
 * references of the ring pages (ring-ref, or ring-ref0..N-1 with ring-page-order),
 * its event channel port and the request ABI (the {@code protocol} node).
 */
public record FrontendRing(int frontendDomid, List<Integer> ringRefs, int eventChannel, Abi abi) {
    /** The blkif request layouts a frontend may choose with the {@code protocol} node. */
    public enum Abi {
        X86_64("x86_64-abi"), X86_32("x86_32-abi");

        public final String protocol;

        Abi(String protocol) {
            this.protocol = protocol;
        }

        /** Absent node means the backend's native ABI (x86_64 here); null when unknown. */
        public static Abi ofProtocol(String protocol) {
            if (protocol == null) {
                return X86_64;
            }
            for (Abi a : values()) {
                if (a.protocol.equals(protocol)) {
                    return a;
                }
            }
            return null;
        }
    }

    public FrontendRing {
        ringRefs = List.copyOf(ringRefs);
    }
}
