#!/bin/bash
# Prepares the real-Xen lab under $XDJ_LAB_DIR (default /var/tmp/xen-disk-java-lab).
# Idempotent: only what is missing or older than its inputs is redone.
#   boot/xen            Debian's Xen 4.17 hypervisor, gunzipped (qemu loads it as multiboot ELF)
#   boot/vmlinuz        Debian's kernel, for dom0 and the domU
#   boot/kver           its version
#   boot/dom0.cpio.gz   dom0 initramfs: busybox, Xen/9p/overlay modules, lib/dom0-init
#   boot/domU.cpio.gz   domU initramfs: busybox, xen-blkfront, lib/domU-init
#   boot/domU-fio.cpio.gz  the same with Debian's fio and the libraries it links (about 80 MiB
#                          unpacked: the bench scenario's domUs get more memory)
# Host packages: installed with apt-get (the hypervisor and kernel packages are only
# downloaded and unpacked into root/, never installed on the host).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LAB=${XDJ_LAB_DIR:-/var/tmp/xen-disk-java-lab}
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$LAB/debs" "$LAB/boot"

# What the harness needs on the host. xen-utils-4.17 gives dom0 (which runs the host's
# userland) xl, oxenstored, xen-init-dom0 and xenconsoled; the two libraries are what the
# daemon binds with JNA; libvirtd with its libxl driver and virsh for the libvirt scenario;
# qemu-system-xen is QEMU's qdisk, the peer the bench scenario runs beside us; qemu-img checks overlays; fio is what the bench scenario's domUs run.
HOST_PKGS=(qemu-system-x86 qemu-system-xen qemu-utils busybox-static cpio kmod genisoimage xen-utils-4.17 xenstore-utils libxengnttab1 libxenevtchn1
           libvirt-daemon libvirt-daemon-driver-xen libvirt-clients fio)
missing=()
for p in "${HOST_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "build: apt-get install ${missing[*]}"
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$LAB/apt.log" 2>&1; then
    apt-get update -qq >>"$LAB/apt.log" 2>&1
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$LAB/apt.log" 2>&1 \
      || { echo "build: apt-get install failed, see $LAB/apt.log"; tail -5 "$LAB/apt.log"; exit 1; }
  fi
fi

# Hypervisor + kernel: downloaded and unpacked only.
if [ ! -s "$LAB/boot/xen" ] || [ ! -s "$LAB/boot/vmlinuz" ] || [ ! -s "$LAB/boot/kver" ]; then
  kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/.*Depends: \(linux-image-[0-9].*\)/\1/p' | head -1)
  if [ -z "$kpkg" ]; then apt-get update -qq; kpkg=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9].*\)/\1/p' | head -1); fi
  [ -n "$kpkg" ] || { echo "build: cannot resolve the linux-image-amd64 kernel package"; exit 1; }
  (cd "$LAB/debs"
   for p in xen-hypervisor-4.17-amd64 "$kpkg"; do
     ls "${p}"_*.deb >/dev/null 2>&1 || apt-get download -q "$p" >/dev/null 2>&1 \
       || { apt-get update -qq && apt-get download -q "$p" >/dev/null; } || { echo "build: apt-get download $p failed"; exit 1; }
   done)
  rm -rf "$LAB/root"; mkdir -p "$LAB/root"
  for d in "$LAB"/debs/xen-hypervisor-4.17-amd64_*.deb "$LAB"/debs/"$kpkg"_*.deb; do dpkg-deb -x "$d" "$LAB/root"; done
  gzip -dc "$LAB"/root/boot/xen-4.17-amd64.gz > "$LAB/boot/xen"
  cp "$LAB"/root/boot/vmlinuz-* "$LAB/boot/vmlinuz"
  kver=$(ls "$LAB/root/lib/modules" | head -1)
  depmod -b "$LAB/root" "$kver"
  echo "$kver" > "$LAB/boot/kver"
  echo "build: xen + kernel $kver unpacked"
fi
KVER=$(cat "$LAB/boot/kver")

# modprobe's own dependency resolution, in load order, against the unpacked tree
module_files() {
  local m
  for m in "$@"; do
    modprobe -d "$LAB/root" -S "$KVER" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
  done | awk '!seen[$0]++'
}

# $1 = output, $2 = /init script, rest = modules to load in that order; with INITRAMFS_PROGRAMS set
# (host paths), those programs too, each with the shared libraries ldd finds for it, at the same paths
make_initramfs() {
  local out=$1 init=$2 tmp f; shift 2
  tmp=$(mktemp -d)
  mkdir -p "$tmp"/{bin,dev,proc,sys,tmp,modules}
  cp /bin/busybox "$tmp/bin/busybox"
  for f in ${INITRAMFS_PROGRAMS:-}; do
    # the program, then every library and the loader: ldd prints "name => /path (addr)" or "/path (addr)"
    for lib in "$f" $(ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
      mkdir -p "$tmp$(dirname "$lib")"
      cp -L "$lib" "$tmp$lib"
    done
  done
  install -m 755 "$init" "$tmp/init"
  : > "$tmp/modules/load-order"
  for f in $(module_files "$@"); do
    cp "$f" "$tmp/modules/"
    basename "$f" >> "$tmp/modules/load-order"
  done
  (cd "$tmp" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) > "$out.new"
  mv "$out.new" "$out"
  rm -rf "$tmp"
}

newer() { [ ! -s "$1" ] || [ -n "$(find "${@:2}" -newer "$1" 2>/dev/null)" ]; }

if newer "$LAB/boot/dom0.cpio.gz" "$HERE/dom0-init" "$HERE/build.sh"; then
  make_initramfs "$LAB/boot/dom0.cpio.gz" "$HERE/dom0-init" \
    virtio_pci 9pnet_virtio 9p overlay loop xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs
  echo "build: dom0 initramfs $(du -k "$LAB/boot/dom0.cpio.gz" | cut -f1) KiB"
fi
if newer "$LAB/boot/domU.cpio.gz" "$HERE/domU-init" "$HERE/build.sh"; then
  # ext4 (it mounts the ext2 busybox's mke2fs makes) for fstrim, isofs for the CD-ROM
  make_initramfs "$LAB/boot/domU.cpio.gz" "$HERE/domU-init" xen-blkfront ext4 isofs
  echo "build: domU initramfs $(du -k "$LAB/boot/domU.cpio.gz" | cut -f1) KiB"
fi
if newer "$LAB/boot/domU-fio.cpio.gz" "$HERE/domU-init" "$HERE/build.sh"; then
  INITRAMFS_PROGRAMS=/usr/bin/fio make_initramfs "$LAB/boot/domU-fio.cpio.gz" "$HERE/domU-init" xen-blkfront ext4 isofs
  echo "build: domU initramfs with fio $(du -k "$LAB/boot/domU-fio.cpio.gz" | cut -f1) KiB"
fi
