package io.xendisk.cli.libvirt;

import org.libvirt.Domain;

/**
 * Which definition of a domain a change affects, as virsh's --live and
 * --config: the running domain's, or the persistent one used at its next start.
 */
public enum Scope {
    LIVE(Domain.ModificationImpact.LIVE, 0, "live"),
    CONFIG(Domain.ModificationImpact.CONFIG, Domain.XMLFlags.INACTIVE, "persistent config");

    private final int impact;
    private final int xmlFlags;
    private final String label;

    Scope(int impact, int xmlFlags, String label) {
        this.impact = impact;
        this.xmlFlags = xmlFlags;
        this.label = label;
    }

    /** VIR_DOMAIN_AFFECT_LIVE or _CONFIG. */
    int impact() {
        return impact;
    }

    /** Flags of virDomainGetXMLDesc for this definition. */
    int xmlFlags() {
        return xmlFlags;
    }

    /** "live" or "persistent config". */
    public String label() {
        return label;
    }

    /** The virsh command whose output our line numbers refer to. */
    String dumpxmlCommand(String domain) {
        return this == LIVE ? "virsh dumpxml " + domain : "virsh dumpxml --inactive " + domain;
    }
}
