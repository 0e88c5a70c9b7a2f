/**
 * The host operating system through JNA: libc calls and the native addresses
 * of direct buffers. The lowest layer of the daemon, below both
 * {@code storage/} and {@code xen/} (which may not use each other), so that
 * what both need is written once; it knows nothing of disks or Xen.
 */
package io.xendisk.os;
