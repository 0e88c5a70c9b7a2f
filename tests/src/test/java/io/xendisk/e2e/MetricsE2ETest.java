package io.xendisk.e2e;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The daemon's metrics as an operator's monitoring sees them: Debian's
 * Prometheus scrapes the endpoint config.xml names, and PromQL through its
 * HTTP API answers what a simulated guest moved, under libvirt's exporter
 * names, with our latency histogram beside them.
 */
class MetricsE2ETest {
    private static final Path PROMETHEUS = Path.of("/usr/bin/prometheus");
    private static final Pattern VALUE = Pattern.compile("\"value\":\\[[0-9.]+,\"([^\"]+)\"\\]");
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void prometheusScrapesWhatAGuestMoved() throws Exception {
        Dist.assertBuilt("bin/xen-disk-java");
        Tools.requireXenstoreUtils();
        Tools.require(PROMETHEUS, "prometheus");
        int port = freePort();
        try (Dist dist = new Dist()) {
            dist.writeConfig("<metrics>" + port + "</metrics>");
            Dist.Guest guest = dist.guest("metrics-1");
            Process prometheus = null;
            try {
                Path img = Images.sparse(dist.dir.resolve("metrics.img"), 64L << 20, null);
                Dist.Result c = dist.cli("connect", guest.name(), "--vdev", "xvdb", "--path", img.toString());
                assertEquals(0, c.exit(), c.toString());
                dist.awaitConnected(guest, "xvdb");
                assertEquals(0, dist.simRun(guest, "xvdb", "seq-write", "--size", "16M", "--bs", "1M").exit());
                assertEquals(0, dist.simRun(guest, "xvdb", "seq-read", "--size", "8M", "--bs", "64k").exit());
                assertTrue(dist.daemonLog().contains("metrics for Prometheus at http://127.0.0.1:" + port + "/metrics"),
                        dist.daemonLog());

                // our own exposition first, as any scraper reads it
                String text = get("http://127.0.0.1:" + port + "/metrics");
                assertTrue(text.contains("# TYPE libvirt_domain_block_stats_write_bytes_total counter"), text);
                assertTrue(text.contains("# TYPE xen_disk_java_request_duration_seconds histogram"), text);
                assertTrue(text.contains("xen_disk_java_disk_info{domain=\"metrics-1\",domid=\"" + guest.domid()
                        + "\",engine=\"file\",source_file=\"" + img + "\",state=\"Connected\",target_device=\"xvdb\"}"),
                        text);

                int promPort = freePort();
                prometheus = startPrometheus(dist.dir.resolve("prometheus"), promPort, port);
                String disk = "{domain=\"metrics-1\",target_device=\"xvdb\",source_file=\"" + img + "\"}";
                assertEquals(16L << 20, awaitValue(promPort, "libvirt_domain_block_stats_write_bytes_total" + disk),
                        "PromQL: the bytes the guest wrote");
                assertEquals(8L << 20, awaitValue(promPort, "libvirt_domain_block_stats_read_bytes_total" + disk),
                        "PromQL: the bytes the guest read");
                long writes = awaitValue(promPort, "libvirt_domain_block_stats_write_requests_total" + disk);
                assertTrue(writes >= 16, "at most 1 MiB a request: " + writes);
                assertEquals(writes, awaitValue(promPort, "sum(xen_disk_java_request_duration_seconds_count"
                        + "{target_device=\"xvdb\",operation=\"write\"})"), "one latency sample per write request");
                assertEquals(0, awaitValue(promPort, "sum(xen_disk_java_requests_in_flight)"));
                assertEquals(1, awaitValue(promPort, "count(xen_disk_java_disk_info{engine=\"file\"})"));
            } finally {
                if (prometheus != null) {
                    prometheus.destroy();
                    if (!prometheus.waitFor(20, TimeUnit.SECONDS)) {
                        prometheus.destroyForcibly();
                    }
                }
                dist.stopAll(List.of(guest));
            }
        }
    }

    /** Debian's Prometheus with its data under {@code dir}, scraping the daemon every second. */
    private Process startPrometheus(Path dir, int promPort, int target) throws Exception {
        Files.createDirectories(dir);
        Path config = dir.resolve("prometheus.yml");
        Files.writeString(config, "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                + "scrape_configs:\n  - job_name: xen-disk-java\n    static_configs:\n"
                + "      - targets: ['127.0.0.1:" + target + "']\n");
        Process p = new ProcessBuilder(PROMETHEUS.toString(), "--config.file=" + config,
                "--storage.tsdb.path=" + dir.resolve("data"), "--web.listen-address=127.0.0.1:" + promPort,
                "--log.level=warn").redirectErrorStream(true).redirectOutput(dir.resolve("prometheus.log").toFile())
                .start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new AssertionError("prometheus exited " + p.exitValue() + ": "
                        + Files.readString(dir.resolve("prometheus.log")));
            }
            try {
                if (get("http://127.0.0.1:" + promPort + "/-/ready").contains("Ready")) {
                    return p;
                }
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        p.destroyForcibly();
        throw new AssertionError("prometheus not ready in 60 s: " + Files.readString(dir.resolve("prometheus.log")));
    }

    /** The single value {@code promql} answers once Prometheus has scraped the daemon (up to 60 s). */
    private long awaitValue(int promPort, String promql) throws Exception {
        String url = "http://127.0.0.1:" + promPort + "/api/v1/query?query="
                + URLEncoder.encode(promql, StandardCharsets.UTF_8);
        String last = "";
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            last = get(url);
            Matcher m = VALUE.matcher(last);
            if (m.find()) {
                return (long) Double.parseDouble(m.group(1));
            }
            Thread.sleep(500);
        }
        throw new AssertionError("no answer to " + promql + " within 60 s: " + last);
    }

    private String get(String url) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10))
                .build(), HttpResponse.BodyHandlers.ofString());
        return r.body();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
