package io.xendisk.cli.install;

import java.util.List;

/**
 * One thing {@code install} puts on the host, from the distribution.
 *
 * @param from     path inside the distribution
 * @param to       absolute path on the host (below --root)
 * @param kind     how it is installed
 * @param ifAbsent when not null, the item is optional and this says why it may be missing
 */
record InstallItem(String from, String to, Kind kind, String ifAbsent) {
    enum Kind {
        /** a script, mode 0755 */
        EXECUTABLE,
        /** a text file, mode 0644, with @XEN_DISK_JAVA_HOME@ replaced by the distribution's directory */
        TEMPLATE,
        /** mode 0644 and never overwritten: the operator's to change */
        CONFIG,
        /** a symbolic link to the distribution's file */
        SYMLINK
    }

    static final String HOME_TOKEN = "@XEN_DISK_JAVA_HOME@";

    /** Everything, in install order; uninstall goes backwards. */
    static final List<InstallItem> ALL = List.of(
            new InstallItem("hooks/xen-disk-java", "/etc/xen/scripts/xen-disk-java", Kind.EXECUTABLE,
                    "this distribution has no xl hotplug script (hooks/xen-disk-java) yet"),
            new InstallItem("hooks/libvirt-hook", "/etc/libvirt/hooks/libxl.d/xen-disk-java", Kind.EXECUTABLE, null),
            new InstallItem("systemd/xen-disk-java.service", "/etc/systemd/system/xen-disk-java.service", Kind.TEMPLATE,
                    null),
            new InstallItem("bin/xen-disk-java", "/usr/sbin/xen-disk-java", Kind.SYMLINK, null),
            new InstallItem("conf/config.xml", "/etc/xen-disk-java/config.xml", Kind.CONFIG, null));

    /** Where install records what it did, for uninstall. */
    static final String MANIFEST = "/var/lib/xen-disk-java/installed";

    static final String UNIT = "xen-disk-java.service";
}
