package io.xendisk.cli.libvirt;

import java.util.Map;

/** Which libvirt to talk to, as virsh decides: --connect, else $LIBVIRT_DEFAULT_URI, else the Xen system driver. */
public final class LibvirtUri {
    public static final String ENV = "LIBVIRT_DEFAULT_URI";
    public static final String DEFAULT = "xen:///system";

    private LibvirtUri() {
    }

    /** @param option the value of --connect, or null */
    public static String resolve(String option, Map<String, String> env) {
        if (option != null && !option.isBlank()) {
            return option;
        }
        String fromEnv = env.get(ENV);
        return fromEnv == null || fromEnv.isBlank() ? DEFAULT : fromEnv;
    }
}
