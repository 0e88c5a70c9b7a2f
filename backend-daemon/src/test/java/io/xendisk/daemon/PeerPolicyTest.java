package io.xendisk.daemon;

import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PeerPolicyTest {
    @Test
    void rootIsAllowedOthersRefusedWithUidAndName() {
        PeerPolicy policy = new PeerPolicy(0);
        assertEquals(Optional.empty(), policy.refusal("root"));
        Optional<String> refusal = policy.refusal("nobody");
        assertTrue(refusal.isPresent());
        assertEquals("xen-disk-java: only root may control the daemon (you are uid 65534/user nobody); run with sudo",
                refusal.get());
    }

    @Test
    void theDaemonsOwnUserIsAllowed() {
        PeerPolicy policy = new PeerPolicy(65534);
        assertEquals(Optional.empty(), policy.refusal("nobody"));
        assertEquals(Optional.empty(), policy.refusal("65534"));
        assertTrue(policy.refusal("12345").get().contains("uid 12345"));
    }
}
