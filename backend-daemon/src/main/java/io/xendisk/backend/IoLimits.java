package io.xendisk.backend;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A disk's I/O limits, named as libvirt's {@code <iotune>} (and virsh's
 * {@code blkdeviotune}) names them: for total, read and write, bytes and
 * operations per second, each with an optional burst rate ({@code _max}) and
 * how long that burst may last ({@code _max_length}, seconds, 1 by
 * default), and {@code size_iops_sec}, above which a request counts as
 * several operations. 0 is no limit. Immutable.
 */
public final class IoLimits {
    /** One setting: its libvirt name. */
    public enum Setting {
        TOTAL_BYTES_SEC, READ_BYTES_SEC, WRITE_BYTES_SEC, TOTAL_IOPS_SEC, READ_IOPS_SEC, WRITE_IOPS_SEC,
        TOTAL_BYTES_SEC_MAX, READ_BYTES_SEC_MAX, WRITE_BYTES_SEC_MAX,
        TOTAL_IOPS_SEC_MAX, READ_IOPS_SEC_MAX, WRITE_IOPS_SEC_MAX,
        TOTAL_BYTES_SEC_MAX_LENGTH, READ_BYTES_SEC_MAX_LENGTH, WRITE_BYTES_SEC_MAX_LENGTH,
        TOTAL_IOPS_SEC_MAX_LENGTH, READ_IOPS_SEC_MAX_LENGTH, WRITE_IOPS_SEC_MAX_LENGTH,
        SIZE_IOPS_SEC;

        /** libvirt's name: {@code total_bytes_sec}. */
        public String libvirtName() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** virsh's option: {@code --total-bytes-sec}. */
        public String option() {
            return "--" + libvirtName().replace('_', '-');
        }

        /** The setting of libvirt name or virsh option {@code s}, or null. */
        public static Setting named(String s) {
            String n = (s.startsWith("--") ? s.substring(2) : s).replace('-', '_').toUpperCase(Locale.ROOT);
            for (Setting x : values()) {
                if (x.name().equals(n)) {
                    return x;
                }
            }
            return null;
        }
    }

    /** What the limits apply to: a direction and a unit. */
    public enum Bucket {
        TOTAL_BYTES(Setting.TOTAL_BYTES_SEC), READ_BYTES(Setting.READ_BYTES_SEC), WRITE_BYTES(Setting.WRITE_BYTES_SEC),
        TOTAL_IOPS(Setting.TOTAL_IOPS_SEC), READ_IOPS(Setting.READ_IOPS_SEC), WRITE_IOPS(Setting.WRITE_IOPS_SEC);

        final Setting avg;
        final Setting max;
        final Setting maxLength;

        Bucket(Setting avg) {
            this.avg = avg;
            this.max = Setting.valueOf(avg.name() + "_MAX");
            this.maxLength = Setting.valueOf(avg.name() + "_MAX_LENGTH");
        }

        boolean bytes() {
            return this == TOTAL_BYTES || this == READ_BYTES || this == WRITE_BYTES;
        }
    }

    /** No limit at all. */
    public static final IoLimits NONE = new IoLimits(new long[Setting.values().length]);

    /** By setting's ordinal: read on every request of a limited disk, so an array, not a map. */
    private final long[] values;
    private final boolean none;

    private IoLimits(long[] values) {
        this.values = values;
        this.none = Arrays.stream(values).allMatch(v -> v == 0);
    }

    /**
     * The limits {@code settings} give (libvirt names or virsh options, whole
     * numbers; an absent setting is 0, no limit).
     *
     * @throws IllegalArgumentException naming the setting and what is wrong, as libvirt refuses it
     */
    public static IoLimits of(Map<String, String> settings) {
        long[] v = new long[Setting.values().length];
        for (Map.Entry<String, String> e : settings.entrySet()) {
            Setting s = Setting.named(e.getKey());
            if (s == null) {
                throw new IllegalArgumentException("unknown I/O limit '" + e.getKey() + "' (known: "
                        + String.join(", ", names()) + ")");
            }
            long n;
            try {
                n = Long.parseLong(e.getValue().strip());
            } catch (NumberFormatException x) {
                throw new IllegalArgumentException("I/O limit " + s.libvirtName() + "='" + e.getValue()
                        + "' is not a whole number");
            }
            if (n < 0 || n > 1_000_000_000_000_000L) {
                throw new IllegalArgumentException("I/O limit " + s.libvirtName() + "=" + n + " is out of range (0 to"
                        + " 10^18; 0 is no limit)");
            }
            v[s.ordinal()] = n;
        }
        IoLimits l = new IoLimits(v);
        l.check();
        return l;
    }

    /** The I/O limit settings among {@code options} (libvirt names or virsh options), the others left out. */
    public static Map<String, String> among(Map<String, String> options) {
        Map<String, String> m = new LinkedHashMap<>();
        options.forEach((k, v) -> {
            if (Setting.named(k) != null) {
                m.put(k, v);
            }
        });
        return m;
    }

    /** These limits with {@code changes} applied (a 0 removes one), as virsh blkdeviotune changes some settings. */
    public IoLimits with(Map<String, String> changes) {
        Map<String, String> all = new LinkedHashMap<>(asMap());
        all.putAll(changes);
        return of(all);
    }

    /** The rules libvirt applies: totals exclude read/write, a burst exceeds its rate, a burst length needs a burst. */
    private void check() {
        for (String unit : new String[] {"BYTES", "IOPS"}) {
            for (String part : new String[] {"_SEC", "_SEC_MAX", "_SEC_MAX_LENGTH"}) {
                Setting total = Setting.valueOf("TOTAL_" + unit + part);
                for (String dir : new String[] {"READ_", "WRITE_"}) {
                    Setting rw = Setting.valueOf(dir + unit + part);
                    if (get(total) != 0 && get(rw) != 0) {
                        throw new IllegalArgumentException(total.libvirtName() + " cannot be set together with "
                                + rw.libvirtName() + " (limit the total, or reads and writes apart)");
                    }
                }
            }
        }
        for (Bucket b : Bucket.values()) {
            if (get(b.max) != 0 && get(b.max) < get(b.avg)) {
                throw new IllegalArgumentException(b.max.libvirtName() + "=" + get(b.max) + " is below "
                        + b.avg.libvirtName() + "=" + get(b.avg) + " (a burst is faster than the rate)");
            }
            if (get(b.max) != 0 && get(b.avg) == 0) {
                throw new IllegalArgumentException(b.max.libvirtName() + " needs " + b.avg.libvirtName()
                        + " (a burst above which rate?)");
            }
            if (get(b.maxLength) != 0 && get(b.max) == 0) {
                throw new IllegalArgumentException(b.maxLength.libvirtName() + " needs " + b.max.libvirtName());
            }
        }
        if (get(Setting.SIZE_IOPS_SEC) != 0 && get(Setting.TOTAL_IOPS_SEC) == 0 && get(Setting.READ_IOPS_SEC) == 0
                && get(Setting.WRITE_IOPS_SEC) == 0) {
            throw new IllegalArgumentException("size_iops_sec needs an iops limit (total_iops_sec, read_iops_sec or"
                    + " write_iops_sec)");
        }
    }

    /** A setting's value, 0 when not set. */
    public long get(Setting s) {
        return values[s.ordinal()];
    }

    /** Whether nothing is limited. */
    public boolean none() {
        return none;
    }

    /** The settings that are set, by libvirt name, in libvirt's order. */
    public Map<String, String> asMap() {
        Map<String, String> m = new LinkedHashMap<>();
        for (Setting s : Setting.values()) {
            if (get(s) != 0) {
                m.put(s.libvirtName(), Long.toString(get(s)));
            }
        }
        return m;
    }

    /** Every setting as virsh blkdeviotune prints them: "total_bytes_sec: 0", one a line. */
    public String describe() {
        StringBuilder sb = new StringBuilder();
        for (Setting s : Setting.values()) {
            sb.append(String.format(Locale.ROOT, "%-27s: %d%n", s.libvirtName(), get(s)));
        }
        return sb.toString();
    }

    /** The libvirt names, for messages. */
    public static List<String> names() {
        List<String> n = new ArrayList<>();
        for (Setting s : Setting.values()) {
            n.add(s.libvirtName());
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof IoLimits l && Arrays.equals(values, l.values);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(values);
    }

    @Override
    public String toString() {
        return none ? "no limits" : asMap().toString();
    }
}
