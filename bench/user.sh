#!/bin/bash
# SPDX-License-Identifier: MIT
# user.sh - TCP through a user-mode (slirp) network to the host's loopback:
# nethubd's user netdev against QEMU's own slirp, in one run.  (passt's
# pasta is not measured: on Debian 12 it did not carry this namespace's
# TCP to the host's loopback through its gateway address.)
#
# A network namespace on a tap port plays the guest: 10.0.2.15/24, route
# via 10.0.2.2.  iperf3 -c 10.0.2.2 from it reaches an iperf3 server on
# the host's 127.0.0.1 through the slirp stack's NAT.  The same namespace
# and tap (a new one each time) are then put behind:
#   nethubd   -netdev user,id=u -netdev tap,id=t,ifname=TAP (one hub)
#   QEMU      qemu-system-x86_64 -M none joining a tap netdev and a user
#             netdev with two hubports on hub 0 (no guest at all)
# Printed: the receiver's rate per setup, then nethub / QEMU.
#
# Usage: bench/user.sh [SECONDS] [STREAMS]
#   NETHUBD=build/ctl/nethubd IO=uring|epoll (default uring)
# Needs root, iperf3, qemu-system-x86, iproute2.  These machines are
# noisy: compare the lines of one run, not runs with each other.
set -u
SECS=${1:-10}
STREAMS=${2:-1}
NETHUBD=${NETHUBD:-build/ctl/nethubd}
IO=${IO:-uring}
NS=nhbench-user-$$
TAP=nhbu$$
PORT=$((20000 + $$ % 20000))
D=$(mktemp -d /tmp/nethub-user-bench-XXXXXX)

cleanup() {
	ip netns del "$NS" 2>/dev/null
	[ -n "${SRV:-}" ] && kill "$SRV" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT

iperf3 -s -B 127.0.0.1 -p "$PORT" >/dev/null 2>&1 &
SRV=$!

# guest_up - the tap into the namespace, addressed; waits for the gateway
guest_up() {
	for _ in $(seq 50); do
		ip link show "$TAP" >/dev/null 2>&1 && break
		sleep 0.1
	done
	ip link set "$TAP" netns "$NS" || exit 1
	ip -n "$NS" addr add 10.0.2.15/24 dev "$TAP"
	ip -n "$NS" link set "$TAP" up
	ip -n "$NS" route add default via 10.0.2.2
	for _ in $(seq 50); do
		ip netns exec "$NS" ping -c 1 -W 1 10.0.2.2 >/dev/null 2>&1 &&
			return
	done
	echo "user.sh: the gateway does not answer" >&2
	exit 1
}

# rate - iperf3 from the namespace to the host's loopback, in Gbit/s
rate() {
	ip netns exec "$NS" iperf3 -c 10.0.2.2 -p "$PORT" -t "$SECS" \
		-P "$STREAMS" -J 2>/dev/null | python3 -c '
import json, sys
try:
    r = json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]
    print("%.3f" % (r / 1e9))
except Exception:
    print("0")'
}

fresh_ns() {
	ip netns del "$NS" 2>/dev/null
	ip netns add "$NS"
	ip -n "$NS" link set lo up
}

fresh_ns
"$NETHUBD" --io "$IO" --log-level warn -netdev user,id=u \
	-netdev "tap,id=t,ifname=$TAP,script=no,downscript=no" &
NP=$!
guest_up
N=$(rate)
kill "$NP"
wait "$NP" 2>/dev/null
echo "nethubd --io $IO user netdev: $N Gbit/s"

fresh_ns
qemu-system-x86_64 -M none -nodefaults -display none \
	-netdev "tap,id=t,ifname=$TAP,script=no,downscript=no" \
	-netdev user,id=u \
	-netdev hubport,id=h1,hubid=0,netdev=t \
	-netdev hubport,id=h2,hubid=0,netdev=u 2>/dev/null &
QP=$!
guest_up
Q=$(rate)
kill "$QP"
wait "$QP" 2>/dev/null
echo "QEMU $(qemu-system-x86_64 --version | head -1 | awk '{print $4}') slirp (tap + user on hub 0): $Q Gbit/s"

python3 -c "
n, q = float('$N'), float('$Q')
print('nethub / QEMU: %.2fx' % (n / q) if q else 'nethub / QEMU: n/a')"
