package io.xendisk.cli.libvirt;

import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * virsh's --live, --config, --persistent and --current for attach-disk and
 * detach-disk: with none, the domain's current state (live when it runs,
 * else its config); --persistent is the config plus live when it runs.
 */
public record AffectFlags(boolean live, boolean config, boolean persistent, boolean current) {
    /** From the verb's options ("live" → "true", ...). */
    public static AffectFlags from(Map<String, String> options) {
        return new AffectFlags(options.containsKey("live"), options.containsKey("config"),
                options.containsKey("persistent"), options.containsKey("current"));
    }

    /**
     * The definitions to change.
     *
     * @param active     the domain runs
     * @param persistent the domain has a persistent config (is not transient)
     * @throws LibvirtFailure --live on a stopped domain, or --config on a transient one
     */
    public Set<Scope> resolve(String domain, boolean active, boolean persistent) throws LibvirtFailure {
        EnumSet<Scope> scopes = EnumSet.noneOf(Scope.class);
        if (live) {
            scopes.add(Scope.LIVE);
        }
        if (config || this.persistent) {
            scopes.add(Scope.CONFIG);
        }
        if (this.persistent && active) {
            scopes.add(Scope.LIVE);
        }
        if (scopes.isEmpty()) {
            scopes.add(active ? Scope.LIVE : Scope.CONFIG);
        }
        if (scopes.contains(Scope.LIVE) && !active) {
            throw new LibvirtFailure("domain " + domain + " is not running, so it has no live state to change"
                    + " (start it, or use --config to change what it gets at its next start)");
        }
        if (scopes.contains(Scope.CONFIG) && !persistent) {
            throw new LibvirtFailure("domain " + domain + " is transient (it has no persistent config);"
                    + " use --live, or define it first: virsh dumpxml " + domain + " > " + domain
                    + ".xml; virsh define " + domain + ".xml");
        }
        return scopes;
    }
}
