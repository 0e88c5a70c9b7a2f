package io.xendisk.backend;

import io.xendisk.blkif.Blkif;
import io.xendisk.blkif.BlkifNodes;

/**
 * What the backend offers the frontend beyond the disk itself (blkif.h
 * "Feature and Parameter Negotiation"): the number of rings, the largest ring,
 * INDIRECT requests and persistent grants. The frontend picks within these.
 *
 * @param maxQueues           {@code multi-queue-max-queues}: up to this many rings, each served by
 *                            a thread of its own; 1 leaves the node out (one ring, flat keys)
 * @param maxRingPageOrder    {@code max-ring-page-order}: rings of up to 2^order pages
 * @param maxIndirectSegments {@code feature-max-indirect-segments}; 0 leaves INDIRECT out
 * @param persistentGrants    {@code feature-persistent}: keep the frontend's pages mapped
 */
public record BlkifFeatures(int maxQueues, int maxRingPageOrder, int maxIndirectSegments, boolean persistentGrants) {
    /** XENBUS_MAX_RING_GRANT_ORDER: Linux maps at most 16 ring pages. */
    public static final int MAX_RING_PAGE_ORDER = 4;
    /**
     * What Linux blkback offers (MAX_INDIRECT_SEGMENTS): requests of up to 1 MiB, against
     * 44 KiB for direct ones. Linux blkfront takes 32 of them (128 KiB) unless booted with
     * xen_blkfront.max_indirect_segments=256.
     */
    public static final int DEFAULT_INDIRECT_SEGMENTS = 256;
    /** The JVM option that changes {@link #DEFAULT_INDIRECT_SEGMENTS} (0 leaves INDIRECT out). */
    public static final String INDIRECT_SEGMENTS_PROPERTY = "xen-disk-java.max-indirect-segments";

    /**
     * Linux blkfront's cap on rings (its max_queues), of which it takes one per
     * vCPU. Offering as many keeps a guest that read kernel blkback's offer
     * before we took the device over (xl block-attach to a running guest)
     * within ours.
     */
    public static final int DEFAULT_QUEUES = 4;
    /** Queues a backend may offer here: a thread each. */
    public static final int MAX_QUEUES = 16;

    /** Only what every blkif backend supports: one ring of one page, direct requests, grant copies. */
    public static final BlkifFeatures BASIC = new BlkifFeatures(1, 0, 0, false);
    /**
     * Rings of up to 16 pages (512 requests), as QEMU's xen-block offers by default
     * and Linux blkfront takes when booted with xen_blkfront.max_ring_page_order=4.
     */
    public static final int DEFAULT_RING_PAGE_ORDER = MAX_RING_PAGE_ORDER;
    /** The JVM option that changes {@link #DEFAULT_RING_PAGE_ORDER} (0 offers one-page rings only). */
    public static final String RING_PAGE_ORDER_PROPERTY = "xen-disk-java.max-ring-page-order";

    /** What the daemon offers unless configured otherwise. */
    public static final BlkifFeatures DEFAULT = new BlkifFeatures(DEFAULT_QUEUES, DEFAULT_RING_PAGE_ORDER,
            DEFAULT_INDIRECT_SEGMENTS, true);

    /**
     * {@link #DEFAULT} with the ring size of {@value #RING_PAGE_ORDER_PROPERTY} and the
     * request size of {@value #INDIRECT_SEGMENTS_PROPERTY}, where set.
     * @throws IllegalArgumentException naming the option whose value is out of range
     */
    public static BlkifFeatures configured() {
        int order = property(RING_PAGE_ORDER_PROPERTY, DEFAULT.maxRingPageOrder, "rings of 2^order pages, order 0.."
                + MAX_RING_PAGE_ORDER);
        int segments = property(INDIRECT_SEGMENTS_PROPERTY, DEFAULT.maxIndirectSegments, "0 (no INDIRECT requests) or "
                + (Blkif.MAX_SEGMENTS_PER_REQUEST + 1) + ".." + Blkif.MAX_INDIRECT_PAGES_PER_REQUEST * Blkif.SEGMENTS_PER_INDIRECT_PAGE
                + " segments per request");
        try {
            return new BlkifFeatures(DEFAULT.maxQueues, order, segments, DEFAULT.persistentGrants);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("JVM options " + RING_PAGE_ORDER_PROPERTY + "=" + order + ", "
                    + INDIRECT_SEGMENTS_PROPERTY + "=" + segments + ": " + e.getMessage(), e);
        }
    }

    private static int property(String name, int dflt, String range) {
        String v = System.getProperty(name);
        if (v == null) {
            return dflt;
        }
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("JVM option " + name + "='" + v + "' is not a number: " + range, e);
        }
    }

    public BlkifFeatures {
        if (maxQueues < 1 || maxQueues > MAX_QUEUES) {
            throw new IllegalArgumentException(BlkifNodes.MULTI_QUEUE_MAX_QUEUES + ": 1.." + MAX_QUEUES + ", not " + maxQueues);
        }
        if (maxRingPageOrder < 0 || maxRingPageOrder > MAX_RING_PAGE_ORDER) {
            throw new IllegalArgumentException(BlkifNodes.MAX_RING_PAGE_ORDER + ": 0.." + MAX_RING_PAGE_ORDER + ", not " + maxRingPageOrder);
        }
        int ceiling = Blkif.MAX_INDIRECT_PAGES_PER_REQUEST * Blkif.SEGMENTS_PER_INDIRECT_PAGE;
        if (maxIndirectSegments != 0 && (maxIndirectSegments <= Blkif.MAX_SEGMENTS_PER_REQUEST || maxIndirectSegments > ceiling)) {
            throw new IllegalArgumentException(BlkifNodes.FEATURE_MAX_INDIRECT_SEGMENTS + ": 0 (off) or "
                    + (Blkif.MAX_SEGMENTS_PER_REQUEST + 1) + ".." + ceiling + ", not " + maxIndirectSegments);
        }
    }

    /** The same, offering up to {@code queues} rings. */
    public BlkifFeatures withQueues(int queues) {
        return new BlkifFeatures(queues, maxRingPageOrder, maxIndirectSegments, persistentGrants);
    }
}
