#!/bin/bash
# SPDX-License-Identifier: MIT
# vxlan.sh - two nethubds joined by VXLAN against two Linux bridges joined
# by the kernel's vxlan devices, in the same namespaces, in one run.
#
# Namespaces: c1 and c2 are the endpoints (10.213.91.1, .2); h1 and h2 the
# VTEPs, joined by a veth underlay (10.213.90.1, .2, MTU 1500).
#   nethub:  nethubd in h1 and h2, each a vxlan netdev (VNI 42) and a tap
#            moved into its endpoint namespace
#   kernel:  in h1 and h2 a bridge of a vxlan device (VNI 42, dstport
#            4789) and a veth whose peer is in the endpoint namespace
# The endpoints' MTU is 1450 in both.  Measured with iperf3, c2 -> c1:
# TCP (one stream) and UDP with 64-byte frames (22-byte payload, no rate
# limit; received frames/s).  Printed: each figure and nethub's ratio.
#
# Usage: bench/vxlan.sh [SECONDS]      (default 5)
#   NETHUBD=build/ctl/nethubd IO=uring|epoll (default uring)
#   TUNNEL=vxlan|l2tpv3: l2tpv3 runs the same topology with nethub's
#   l2tpv3 netdev (UDP, port 1701) against QEMU's (two QEMUs, -M none,
#   hubbed to a tap each)
# Needs root, iproute2, iperf3 (and qemu-system-x86_64 for l2tpv3).
# These machines are noisy: compare the lines of one run.
set -u
SECS=${1:-5}
NETHUBD=${NETHUBD:-build/ctl/nethubd}
IO=${IO:-uring}
TUNNEL=${TUNNEL:-vxlan}
P=nhvxb$$
NS="${P}c1 ${P}c2 ${P}h1 ${P}h2"
pids=

cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for n in $NS; do ip netns del "$n" 2>/dev/null; done
}
trap cleanup EXIT
trap "exit 1" INT TERM

x() { ip netns exec "$P$1" "${@:2}"; }

setup_ns() {
	cleanup
	for n in $NS; do ip netns add "$n"; ip -n "$n" link set lo up; done
	ip link add "${P}u1" type veth peer name "${P}u2"
	ip link set "${P}u1" netns "${P}h1"
	ip link set "${P}u2" netns "${P}h2"
	for i in 1 2; do
		ip -n "${P}h$i" addr add "10.213.90.$i/24" dev "${P}u$i"
		ip -n "${P}h$i" link set "${P}u$i" up
	done
}

# endpoint I's link (in namespace c$I): address, MTU 1450, up
endpoint() {
	ip -n "${P}c$1" addr add "10.213.91.$1/24" dev "$2"
	ip -n "${P}c$1" link set "$2" mtu 1450 up
}

# nethub_side I NETDEV: nethubd in h$I with NETDEV and a tap for c$I
nethub_side() {
	local tap="${P}t$1"
	x "h$1" "$NETHUBD" --io "$IO" --log-level warn -netdev "$2" \
		-netdev "tap,id=t,ifname=$tap,script=no,downscript=no" &
	pids="$pids $!"
	for _ in $(seq 50); do
		ip -n "${P}h$1" link show "$tap" >/dev/null 2>&1 && break
		sleep 0.1
	done
	ip -n "${P}h$1" link set "$tap" netns "${P}c$1"
	endpoint "$1" "$tap"
}

# qemu_side I L2TPV3: QEMU in h$I relaying between its l2tpv3 and a tap
qemu_side() {
	local tap="${P}t$1"
	x "h$1" qemu-system-x86_64 -M none -nodefaults -display none \
		-netdev "l2tpv3,id=l,$2" \
		-netdev "tap,id=t,ifname=$tap,script=no,downscript=no" \
		-netdev hubport,id=h1,hubid=0,netdev=l \
		-netdev hubport,id=h2,hubid=0,netdev=t &
	pids="$pids $!"
	for _ in $(seq 50); do
		ip -n "${P}h$1" link show "$tap" >/dev/null 2>&1 && break
		sleep 0.1
	done
	ip -n "${P}h$1" link set "$tap" netns "${P}c$1"
	endpoint "$1" "$tap"
}

# kernel_side I: bridge of vx0 and a veth to c$I
kernel_side() {
	local o=$((3 - $1))
	ip -n "${P}h$1" link add vx0 type vxlan id 42 dstport 4789 \
		local "10.213.90.$1" remote "10.213.90.$o"
	ip -n "${P}h$1" link add br0 type bridge
	ip link add "${P}e$1" type veth peer name "${P}b$1"
	ip link set "${P}e$1" netns "${P}c$1"
	ip link set "${P}b$1" netns "${P}h$1"
	for l in vx0 "${P}b$1"; do
		ip -n "${P}h$1" link set "$l" master br0 up
	done
	ip -n "${P}h$1" link set br0 up
	endpoint "$1" "${P}e$1"
}

measure() { # $1: label
	local tcp udp
	for _ in $(seq 100); do
		x c2 ping -c1 -W1 10.213.91.1 >/dev/null 2>&1 && break
	done
	x c1 iperf3 -s -D -p 5201 -1 >/dev/null
	sleep 0.3
	tcp=$(x c2 iperf3 -c 10.213.91.1 -p 5201 -t "$SECS" -J |
		python3 -c 'import json,sys
print("%.3f" % (json.load(sys.stdin)["end"]["sum_received"]
      ["bits_per_second"] / 1e9))')
	x c1 iperf3 -s -D -p 5202 -1 >/dev/null
	sleep 0.3
	udp=$(x c2 iperf3 -c 10.213.91.1 -p 5202 -u -b 0 -l 22 -t "$SECS" -J |
		python3 -c 'import json,sys
e = json.load(sys.stdin)["end"]["sum"]
print("%.0f" % ((e["packets"] - e["lost_packets"]) / e["seconds"]))')
	printf '%-22s TCP %7s Gbit/s   64-byte frames %9s /s\n' "$1" \
		"$tcp" "$udp"
	eval "${2}_tcp=$tcp ${2}_udp=$udp"
}

ratio() {
	python3 -c "import sys
a, b, c, d = map(float, sys.argv[1:])
print('nethub/reference       TCP %.2fx            64-byte frames %.2fx'
      % (a / b if b else 0, c / d if d else 0))" "$@"
}

if [ "$TUNNEL" = l2tpv3 ]; then
	l2="udp=on,srcport=1701,dstport=1701,txsession=1,rxsession=1"
	setup_ns
	nethub_side 1 "l2tpv3,id=l,src=10.213.90.1,dst=10.213.90.2,$l2"
	nethub_side 2 "l2tpv3,id=l,src=10.213.90.2,dst=10.213.90.1,$l2"
	measure "nethub l2tpv3 ($IO)" a
	setup_ns
	qemu_side 1 "src=10.213.90.1,dst=10.213.90.2,$l2"
	qemu_side 2 "src=10.213.90.2,dst=10.213.90.1,$l2"
	measure "QEMU l2tpv3" b
else
	setup_ns
	nethub_side 1 "vxlan,id=vx,vni=42,local=10.213.90.1,remote=10.213.90.2"
	nethub_side 2 "vxlan,id=vx,vni=42,local=10.213.90.2,remote=10.213.90.1"
	measure "nethub vxlan ($IO)" a
	setup_ns
	kernel_side 1
	kernel_side 2
	measure "kernel bridge+vxlan" b
fi
ratio "$a_tcp" "$b_tcp" "$a_udp" "$b_udp"
