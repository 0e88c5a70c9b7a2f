package io.xendisk.daemon;

import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot.HistogramDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Unit;
import io.xendisk.backend.VbdStats;
import io.xendisk.blkif.Rejection;
import io.xendisk.storage.IoRequest;
import io.xendisk.storage.StorageSpec;
import io.xendisk.xen.MappingBudget;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.IntFunction;
import java.util.function.ToLongFunction;

/**
 * What a scrape sees: every disk the daemon serves, read from its counters
 * at the moment of the scrape (the ring threads only count; nothing on the
 * request path knows Prometheus). The per-disk byte and request counters
 * carry the names and labels of libvirt's exporter
 * ({@code libvirt_domain_block_stats_*} with domain, target_device,
 * source_file), so dashboards made for libvirt's disks show ours; the rest is
 * ours, under {@code xen_disk_java_}.
 */
final class VbdCollector implements MultiCollector {
    private static final double[] LATENCY_BOUNDS_SECONDS = seconds(VbdStats.LATENCY_BOUNDS_NANOS);

    private final VbdRegistry vbds;
    private final IntFunction<Optional<String>> domainNames;
    private final MappingBudget mappings;

    /** {@code domainNames}: a domain's name, as the toolstack wrote it in xenstore. */
    VbdCollector(VbdRegistry vbds, IntFunction<Optional<String>> domainNames, MappingBudget mappings) {
        this.vbds = vbds;
        this.domainNames = domainNames;
        this.mappings = mappings;
    }

    /** One served disk at the scrape, with the labels that name it. */
    private record Disk(VbdStats stats, Labels labels, Labels libvirt, Labels info) {
    }

    @Override
    public MetricSnapshots collect() {
        List<Disk> disks = disks();
        MetricSnapshots.Builder out = MetricSnapshots.builder();
        out.metricSnapshot(libvirtCounter("libvirt_domain_block_stats_read_bytes", "Number of bytes read from a block"
                + " device, in bytes.", disks, VbdStats::readBytes));
        out.metricSnapshot(libvirtCounter("libvirt_domain_block_stats_read_requests", "Number of read requests from"
                + " a block device.", disks, VbdStats::reads));
        out.metricSnapshot(libvirtCounter("libvirt_domain_block_stats_write_bytes", "Number of bytes written to a"
                + " block device, in bytes.", disks, VbdStats::writeBytes));
        out.metricSnapshot(libvirtCounter("libvirt_domain_block_stats_write_requests", "Number of write requests to"
                + " a block device.", disks, VbdStats::writes));
        out.metricSnapshot(libvirtCounter("libvirt_domain_block_stats_flush_requests", "Number of flush requests"
                + " to a block device.", disks, VbdStats::flushes));

        out.metricSnapshot(latency(disks));
        out.metricSnapshot(gauge("xen_disk_java_requests_in_flight", "Requests taken off the disk's rings and not"
                + " answered yet.", disks, s -> s.inFlight()));
        out.metricSnapshot(counter("xen_disk_java_discard_requests", "Discard requests answered.", disks,
                VbdStats::discards));
        out.metricSnapshot(counter("xen_disk_java_request_errors", "Requests answered with an error status"
                + " (rejected ones, and failures of the storage).", disks, VbdStats::errors));
        out.metricSnapshot(rejections(disks));
        out.metricSnapshot(gauge("xen_disk_java_queues", "Rings (queues) the disk is served on.", disks,
                VbdStats::queues));
        out.metricSnapshot(gauge("xen_disk_java_persistent_grants", "Guest pages the disk keeps mapped"
                + " (feature-persistent).", disks, VbdStats::persistentGrants));
        out.metricSnapshot(counter("xen_disk_java_ring_events", "Events from the frontend that woke a ring thread.",
                disks, VbdStats::events));
        out.metricSnapshot(counter("xen_disk_java_ring_spurious_events", "Events after which the ring had nothing"
                + " new.", disks, VbdStats::spuriousEvents));
        out.metricSnapshot(counter("xen_disk_java_ring_notifications", "Notifications sent to the frontend.", disks,
                VbdStats::notifications));
        GaugeSnapshot.Builder info = GaugeSnapshot.builder().name("xen_disk_java_disk_info")
                .help("A disk the daemon serves: its domain, device, storage engine and source (always 1).");
        for (Disk d : disks) {
            info.dataPoint(GaugeDataPointSnapshot.builder().labels(d.info()).value(1).build());
        }
        out.metricSnapshot(info.build());
        out.metricSnapshot(GaugeSnapshot.builder().name("xen_disk_java_grant_mappings")
                .help("Grant mappings the daemon holds now (each a memory area of the process).")
                .dataPoint(GaugeDataPointSnapshot.builder().value(mappings.inUse()).build()).build());
        out.metricSnapshot(GaugeSnapshot.builder().name("xen_disk_java_grant_mappings_limit")
                .help("Grant mappings the daemon may hold at once (grant-mappings in config.xml).")
                .dataPoint(GaugeDataPointSnapshot.builder().value(mappings.limit()).build()).build());
        out.metricSnapshot(CounterSnapshot.builder().name("xen_disk_java_grant_mapping_refusals")
                .help("Pages grant-copied because the mapping budget was spent.")
                .dataPoint(CounterDataPointSnapshot.builder().value(mappings.refusals()).build()).build());
        return out.build();
    }

    private List<Disk> disks() {
        List<Disk> disks = new ArrayList<>();
        Map<Integer, String> names = new HashMap<>();
        for (VbdSummary v : vbds.list()) {
            if (v.stats() == null) {
                continue; // refused: nothing served
            }
            String domain = names.computeIfAbsent(v.domid(),
                    d -> domainNames.apply(d).orElse("domain-" + d));
            String engine;
            String source;
            try {
                StorageSpec spec = StorageSpec.parse(v.storage(), false);
                engine = spec.engine();
                source = spec.source();
            } catch (RuntimeException e) {
                engine = "";
                source = v.storage();
            }
            Labels labels = Labels.of("domain", domain, "target_device", v.vdev());
            disks.add(new Disk(v.stats(), labels, labels.add("source_file", source),
                    labels.add("domid", Integer.toString(v.domid())).add("source_file", source).add("engine", engine)
                            .add("state", v.state())));
        }
        return disks;
    }

    private static CounterSnapshot libvirtCounter(String name, String help, List<Disk> disks,
                                                  ToLongFunction<VbdStats> value) {
        CounterSnapshot.Builder b = CounterSnapshot.builder().name(name).help(help);
        for (Disk d : disks) {
            b.dataPoint(CounterDataPointSnapshot.builder().labels(d.libvirt()).value(value.applyAsLong(d.stats()))
                    .build());
        }
        return b.build();
    }

    private static CounterSnapshot counter(String name, String help, List<Disk> disks, ToLongFunction<VbdStats> value) {
        CounterSnapshot.Builder b = CounterSnapshot.builder().name(name).help(help);
        for (Disk d : disks) {
            b.dataPoint(CounterDataPointSnapshot.builder().labels(d.labels()).value(value.applyAsLong(d.stats()))
                    .build());
        }
        return b.build();
    }

    private static GaugeSnapshot gauge(String name, String help, List<Disk> disks, ToLongFunction<VbdStats> value) {
        GaugeSnapshot.Builder b = GaugeSnapshot.builder().name(name).help(help);
        for (Disk d : disks) {
            b.dataPoint(GaugeDataPointSnapshot.builder().labels(d.labels()).value(value.applyAsLong(d.stats()))
                    .build());
        }
        return b.build();
    }

    private static CounterSnapshot rejections(List<Disk> disks) {
        CounterSnapshot.Builder b = CounterSnapshot.builder().name("xen_disk_java_rejected_requests")
                .help("Requests answered with an error, by why (the frontend's mistakes, unmappable grants, I/O errors).");
        for (Disk d : disks) {
            for (Rejection r : Rejection.values()) {
                b.dataPoint(CounterDataPointSnapshot.builder()
                        .labels(d.labels().add("reason", r.name().toLowerCase(Locale.ROOT)))
                        .value(d.stats().rejected(r)).build());
            }
        }
        return b.build();
    }

    private static HistogramSnapshot latency(List<Disk> disks) {
        HistogramSnapshot.Builder b = HistogramSnapshot.builder().name("xen_disk_java_request_duration_seconds")
                .unit(Unit.SECONDS)
                .help("Time from a request taken off the ring to its response written, by operation.");
        for (Disk d : disks) {
            for (IoRequest.Op op : IoRequest.Op.values()) {
                b.dataPoint(HistogramDataPointSnapshot.builder()
                        .labels(d.labels().add("operation", op.name().toLowerCase(Locale.ROOT)))
                        .classicHistogramBuckets(ClassicHistogramBuckets.of(LATENCY_BOUNDS_SECONDS,
                                d.stats().latencyBuckets(op)))
                        .sum(d.stats().latencySumNanos(op) / 1e9)
                        .build());
            }
        }
        return b.build();
    }

    /** The bounds in seconds, with +Inf for the last bucket. */
    private static double[] seconds(long[] nanos) {
        double[] s = new double[nanos.length + 1];
        for (int i = 0; i < nanos.length; i++) {
            s[i] = nanos[i] / 1e9;
        }
        s[nanos.length] = Double.POSITIVE_INFINITY;
        return s;
    }
}
