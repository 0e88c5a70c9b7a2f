package io.xendisk.storage.rbd;

import io.xendisk.storage.StorageSpec;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** RBD images written as QEMU and libvirt write them. */
class RbdLocationTest {
    @Test
    void poolImageAndTheDefaults() {
        RbdLocation l = RbdLocation.parse("rbd:vms/disk0");
        assertEquals("vms", l.pool());
        assertNull(l.namespace());
        assertEquals("disk0", l.image());
        assertNull(l.snap());
        assertNull(l.conf());
        assertEquals("admin", l.id());
        assertEquals(Map.of(), l.options());
        assertEquals("rbd:vms/disk0", l.toString());
    }

    @Test
    void aNamespaceASnapshotAndOptions() {
        RbdLocation l = RbdLocation.parse("rbd:vms/tenant1/disk0@gold:conf=/etc/ceph/c.conf:id=client.xen"
                + ":keyring=/etc/ceph/xen.keyring:mon_host=10.0.0.1\\:6789");
        assertEquals("tenant1", l.namespace());
        assertEquals("gold", l.snap());
        assertEquals("/etc/ceph/c.conf", l.conf());
        assertEquals("xen", l.id());
        assertEquals(Map.of("keyring", "/etc/ceph/xen.keyring", "mon_host", "10.0.0.1:6789"), l.options());
        assertEquals("vms/tenant1/disk0@gold", l.imageSpec());
    }

    @Test
    void malformedLocationsAreNamedWithTheForm() {
        for (String[] bad : new String[][] {
                {"rbd:disk0", "it names no pool/image"},
                {"rbd:a/b/c/d", "it names no pool/image"},
                {"rbd:vms/", "'vms/' has an empty or unusable pool, namespace or image name"},
                {"rbd:vms/disk0@", "the snapshot after '@' is empty or not a name"},
                {"rbd:vms/disk0:conf", "option 'conf' is not key=value"},
                {"rbd:vms/disk0:Bad=1", "option 'Bad' is not a Ceph option name"},
                {"rbd:vms/disk0:keyring=a:keyring=b", "option 'keyring' is given twice"},
                {"nbd://x/y", "it does not start with rbd:"}}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RbdLocation.parse(bad[0]));
            assertTrue(e.getMessage().startsWith("'" + bad[0] + "' is not an RBD image: " + bad[1] + " (write rbd:pool/"),
                    e.getMessage());
        }
    }

    @Test
    void aTargetOfRbdPicksTheEngineAndKeepsTheLocationWhole() {
        StorageSpec s = StorageSpec.parse("rbd:vms/disk0:conf=/etc/ceph/ceph.conf", false);
        assertEquals("rbd", s.engine());
        assertEquals("rbd:vms/disk0:conf=/etc/ceph/ceph.conf", s.location());
        assertNull(s.path());
        assertTrue(StorageSpec.isUri("rbd:vms/disk0"));
        // what list shows and the params node keeps: read back as the same disk after a daemon restart
        assertEquals("rbd:vms/disk0:conf=/etc/ceph/ceph.conf", s.target());
        assertEquals(s, StorageSpec.parse(s.target(), false));
        // an engine prefix before an absolute path stays a path
        assertEquals("qcow2", StorageSpec.parse("qcow2:/images/a.qcow2", false).engine());
        assertEquals(java.nio.file.Path.of("/images/a.qcow2"), StorageSpec.parse("qcow2:/images/a.qcow2", false).path());
    }
}
