#!/bin/bash
# SPDX-License-Identifier: MIT
# deps.sh - install the Debian 12 packages nethub builds and tests with.
# Idempotent: installs only what is missing (always refreshes the package
# lists first in CI, where the machine is new).
set -euo pipefail

PACKAGES=(
	# build
	meson ninja-build pkg-config gcc clang libclang-rt-14-dev
	libuv1-dev liburing-dev libpcap-dev libjansson-dev libseccomp-dev
	libslirp-dev
	# tests: peers, guests, captures
	python3 iproute2 procps socat iputils-ping iperf3 tcpdump tshark
	gnuplot-nox vde2 libvdeplug-dev openvswitch-switch ethtool
	qemu-system-x86 qemu-utils linux-image-amd64 busybox-static
	cpio gzip xz-utils zstd kmod dpdk-dev
	# the Debian package (test_package) and the metrics endpoint
	dpkg-dev debhelper lintian systemd man-db libmicrohttpd-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ] && [ -z "${CI:-}" ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]}; run as root to install" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if [ "${#missing[@]}" -gt 0 ]; then
	echo "deps.sh: installing ${missing[*]}"
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
