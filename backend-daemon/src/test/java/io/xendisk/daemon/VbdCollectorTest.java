package io.xendisk.daemon;

import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.xendisk.backend.VbdStats;
import io.xendisk.xen.MappingBudget;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a scrape reads of served disks, in Prometheus's text format; a refused disk is not one of them. */
class VbdCollectorTest {
    @Test
    void aServedDiskHasItsLabelsAndARefusedOneIsLeftOut() throws Exception {
        VbdRegistry vbds = new VbdRegistry();
        vbds.register(5, 51712, () -> new VbdSummary(5, 51712, "xvda", "Connected", "qcow2:/images/vm 1.qcow2",
                Map.of(), new VbdStats()));
        vbds.register(5, 51728, () -> new VbdSummary(5, 51728, "xvdb", "refused (no image)", "-", Map.of()));
        vbds.register(7, 51712, () -> new VbdSummary(7, 51712, "xvda", "Connected", "nbd+unix:///?socket=/run/n.sock",
                Map.of(), new VbdStats()));
        VbdCollector c = new VbdCollector(vbds, d -> d == 5 ? Optional.of("vm1") : Optional.empty(),
                new MappingBudget(1000, "test"));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrometheusTextFormatWriter.create().write(out, c.collect());
        String text = out.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("libvirt_domain_block_stats_read_bytes_total{domain=\"vm1\",source_file=\"/images/vm"
                + " 1.qcow2\",target_device=\"xvda\"} 0"), text);
        assertTrue(text.contains("xen_disk_java_disk_info{domain=\"domain-7\",domid=\"7\",engine=\"nbd\",source_file="
                + "\"nbd+unix:///?socket=/run/n.sock\",state=\"Connected\",target_device=\"xvda\"} 1"), text);
        assertTrue(text.contains("xen_disk_java_request_duration_seconds_bucket{domain=\"vm1\",operation=\"flush\","
                + "target_device=\"xvda\",le=\"+Inf\"} 0"), text);
        assertTrue(text.contains("xen_disk_java_grant_mappings_limit 1000"), text);
        assertFalse(text.contains("xvdb"), "a refused disk serves nothing: " + text);
    }
}
