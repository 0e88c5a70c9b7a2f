package io.xendisk.storage;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.util.Map;
import java.util.Objects;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Opens storages by engine name. Built in:
 * <ul>
 *   <li>{@code discard}: reads zeros, drops writes; size from the spec (1 GiB by default).</li>
 *   <li>{@code file}: pread/pwrite on a file or block device; durable (flush = fdatasync);
 *       discard punches holes.</li>
 *   <li>{@code mmap}: the image mapped shared; durable (flush = msync); zero-copy regions.</li>
 *   <li>{@code cow}: a private copy-on-write mapping of a gold image opened read-only;
 *       changes live in memory and vanish on close; zero-copy regions.</li>
 * </ul>
 * Further engines plug in with {@link #register} or as {@link ServiceLoader}
 * providers of {@link StorageEngine}. The registry is thread-safe.
 */
public final class Storages {
    private static final Logger LOG = LogManager.getLogger(Storages.class);
    private static final Map<String, StorageEngine> ENGINES = new ConcurrentHashMap<>();

    static {
        register(builtIn(DiscardStorage.NAME, DiscardStorage::open));
        register(builtIn(FileStorage.NAME, FileStorage::open));
        register(builtIn(MmapStorage.NAME, MmapStorage::open));
        register(builtIn(CowStorage.NAME, CowStorage::open));
        try {
            for (StorageEngine e : ServiceLoader.load(StorageEngine.class)) {
                register(e);
            }
        } catch (ServiceConfigurationError | IllegalArgumentException e) {
            // a broken plug-in must not take the built-in engines down with it
            LOG.error("storage engine plug-ins not loaded: {} (fix or remove the plug-in jar)", e.toString());
        }
    }

    private Storages() {
    }

    /**
     * Opens the disk {@code spec} describes, on the backend's face.
     *
     * @throws StorageException for an unknown engine (the message lists the known
     *                          ones) or an image that cannot be served
     */
    public static IoEngine open(StorageSpec spec) {
        return engine(spec).open(spec);
    }

    /**
     * Opens the disk {@code spec} describes as a synchronous {@link Storage}
     * (tools and tests that read a disk directly).
     *
     * @throws StorageException as {@link #open}, and for an engine that is asynchronous only
     */
    public static Storage openStorage(StorageSpec spec) {
        return engine(spec).openStorage(spec);
    }

    private static StorageEngine engine(StorageSpec spec) {
        StorageEngine engine = ENGINES.get(spec.engine());
        if (engine == null) {
            throw new StorageException(spec.path(), "unknown storage engine '" + spec.engine()
                    + "' (known: " + String.join(", ", engines()) + ")");
        }
        return engine;
    }

    /**
     * Adds an engine under its {@link StorageEngine#name()}.
     *
     * @throws IllegalArgumentException when the name is taken or malformed
     */
    public static void register(StorageEngine engine) {
        String name = Objects.requireNonNull(engine.name(), "engine name");
        if (name.isEmpty() || name.indexOf(':') >= 0 || !name.equals(name.toLowerCase(java.util.Locale.ROOT))) {
            throw new IllegalArgumentException("storage engine name '" + name
                    + "' must be non-empty, lower case and without ':'");
        }
        for (String scheme : engine.schemes()) {
            String taken = engineForScheme(scheme);
            if (taken != null && !taken.equals(name)) {
                throw new IllegalArgumentException("storage engine '" + name + "' claims " + scheme
                        + ":// URIs, which engine '" + taken + "' serves");
            }
        }
        StorageEngine old = ENGINES.putIfAbsent(name, engine);
        if (old != null && old != engine) {
            throw new IllegalArgumentException("storage engine '" + name + "' is already registered by "
                    + old.getClass().getName());
        }
    }

    /** The engine that serves URIs of {@code scheme} (lower case), or null. */
    public static String engineForScheme(String scheme) {
        for (StorageEngine e : ENGINES.values()) {
            if (e.schemes().contains(scheme)) {
                return e.name();
            }
        }
        return null;
    }

    /** Every URI scheme an engine serves, with that engine's name, sorted by scheme. */
    public static SortedMap<String, String> schemes() {
        SortedMap<String, String> all = new TreeMap<>();
        for (StorageEngine e : ENGINES.values()) {
            for (String scheme : e.schemes()) {
                all.put(scheme, e.name());
            }
        }
        return all;
    }

    /** Names of the known engines, sorted. */
    public static SortedSet<String> engines() {
        return new TreeSet<>(ENGINES.keySet());
    }

    private static StorageEngine builtIn(String name, Function<StorageSpec, Storage> opener) {
        return new BuiltIn(name, opener);
    }

    private record BuiltIn(String name, Function<StorageSpec, Storage> opener) implements StorageEngine {
        @Override
        public Storage openStorage(StorageSpec spec) {
            return opener.apply(spec);
        }
    }
}
