#!/bin/sh
# SPDX-License-Identifier: MIT
# mkguest.sh - build the initramfs of the QEMU test guest (busybox + virtio-net)
#
# Usage: mkguest.sh [-k KERNEL_VERSION] [-c CACHE_DIR]
#
# Prints two lines on stdout: the kernel image and the initramfs to boot it
# with.  The initramfs is cached in CACHE_DIR (default $NETHUB_TEST_CACHE, else
# tests/integration/.cache), keyed by kernel version and by a hash of busybox,
# this script and the guest's init, so it is built once and rebuilt only when
# one of those changes.  Builds go to a temporary file renamed into place, so
# tests running in parallel never see half an image.
#
# Without -k, the newest /boot/vmlinuz-* is used (the installed Debian kernel,
# which need not be the kernel the host runs).  Every missing prerequisite is
# an error with a message saying what to install: the tests that call this
# must fail, not skip, when the guest cannot be built.

set -eu

here=$(cd "$(dirname "$0")" && pwd)
kver=${NETHUB_TEST_KERNEL_VERSION:-}
cache=${NETHUB_TEST_CACHE:-$(dirname "$here")/.cache}
busybox=${NETHUB_TEST_BUSYBOX:-/bin/busybox}

# The driver stack of a virtio-net-pci NIC; their dependencies are found in
# modules.dep, so the load order follows the kernel, not this list.
wanted="virtio_pci virtio_net"

die() {
	echo "mkguest.sh: $*" >&2
	exit 1
}

while getopts k:c: opt; do
	case $opt in
	k) kver=$OPTARG ;;
	c) cache=$OPTARG ;;
	*) die "usage: mkguest.sh [-k KERNEL_VERSION] [-c CACHE_DIR]" ;;
	esac
done

for tool in cpio gzip sha256sum sort; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found (install it)"
done

if [ -z "$kver" ]; then
	newest=$(for k in /boot/vmlinuz-*; do
		[ -e "$k" ] && echo "$k"
	done | sort -V | tail -n 1)
	[ -n "$newest" ] ||
		die "no kernel in /boot (install linux-image-amd64)"
	kver=${newest#/boot/vmlinuz-}
fi
kernel=/boot/vmlinuz-$kver
moddir=/lib/modules/$kver
[ -r "$kernel" ] || die "$kernel missing or unreadable (install linux-image-amd64)"
[ -r "$moddir/modules.dep" ] ||
	die "$moddir/modules.dep missing: no modules for kernel $kver (install linux-image-$kver)"
[ -x "$busybox" ] || die "$busybox not found (install busybox-static)"

# elf_has_interp FILE - FILE (a 64-bit little-endian ELF) asks for a dynamic
# loader, which the initramfs would not have: it has a PT_INTERP header.
elf_has_interp() {
	phoff=$(od -An -t u8 -j 32 -N 8 "$1" | tr -d ' ')
	phsize=$(od -An -t u2 -j 54 -N 2 "$1" | tr -d ' ')
	phnum=$(od -An -t u2 -j 56 -N 2 "$1" | tr -d ' ')
	i=0
	while [ "$i" -lt "$phnum" ]; do
		type=$(od -An -t u4 -j $((phoff + i * phsize)) -N 4 "$1" | tr -d ' ')
		[ "$type" = 3 ] && return 0
		i=$((i + 1))
	done
	return 1
}
! elf_has_interp "$busybox" ||
	die "$busybox is dynamically linked (install busybox-static)"

# dep_paths MODULE - the module's file and its dependencies, in load order,
# relative to $moddir.  modules.dep lists a module's dependencies so that
# loading them in reverse order works (that is what modprobe does).
dep_paths() {
	line=$(grep -E "(^|/)$1\\.ko(\\.[a-z]+)?:" "$moddir/modules.dep" || true)
	[ -n "$line" ] || return 0
	deps=${line#*:}
	rev=
	for d in $deps; do
		rev="$d $rev"
	done
	echo "$rev ${line%%:*}"
}

mods=
for m in $wanted; do
	paths=$(dep_paths "$m")
	if [ -z "$paths" ]; then
		grep -qE "(^|/)$m\\.ko\$" "$moddir/modules.builtin" 2>/dev/null ||
			die "module $m is neither in $moddir/modules.dep nor built in"
		continue
	fi
	for p in $paths; do
		case " $mods " in
		*" $p "*) ;;
		*) mods="$mods $p" ;;
		esac
	done
done

# The modules are part of the key: a kernel package update may keep the
# version string.
# shellcheck disable=SC2086 # $mods: paths from modules.dep, no spaces
key=$(cd "$moddir" && cat "$busybox" "$here/mkguest.sh" "$here/init" $mods |
	sha256sum | cut -c1-12)
out=$cache/guest-$kver-$key.cpio.gz
if [ -s "$out" ]; then
	printf '%s\n%s\n' "$kernel" "$out"
	exit 0
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/root/bin" "$work/root/dev" "$work/root/proc" \
	"$work/root/sys" "$work/root/tmp" "$work/root/lib/modules"
cp "$busybox" "$work/root/bin/busybox"
cp "$here/init" "$work/root/init"
chmod 755 "$work/root/init" "$work/root/bin/busybox"

# busybox insmod may be built without decompression support, so modules are
# stored uncompressed, named NAME.ko, and listed in load order.
: >"$work/root/lib/modules/load-order"
for p in $mods; do
	src=$moddir/$p
	name=$(basename "$p")
	name=${name%.ko*}
	dst=$work/root/lib/modules/$name.ko
	case $p in
	*.ko) cp "$src" "$dst" ;;
	*.ko.xz) command -v xz >/dev/null || die "$src is xz-compressed: install xz-utils"
		xz -dc "$src" >"$dst" ;;
	*.ko.zst) command -v zstd >/dev/null || die "$src is zstd-compressed: install zstd"
		zstd -qdc "$src" >"$dst" ;;
	*.ko.gz) gzip -dc "$src" >"$dst" ;;
	*) die "$src: unknown module format" ;;
	esac
	echo "$name" >>"$work/root/lib/modules/load-order"
done
echo "$kver" >"$work/root/lib/modules/kernel-version"

(cd "$work/root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
	gzip -9 -n >"$work/initramfs.cpio.gz"
mv -f "$work/initramfs.cpio.gz" "$out"
# Images of this kernel built from older inputs are of no further use.
for old in "$cache/guest-$kver-"*.cpio.gz; do
	[ "$old" = "$out" ] || rm -f "$old"
done
modules=$(tr '\n' ' ' <"$work/root/lib/modules/load-order")
echo "mkguest.sh: built $out (modules: ${modules% })" >&2
printf '%s\n%s\n' "$kernel" "$out"
