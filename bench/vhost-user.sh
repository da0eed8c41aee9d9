#!/bin/bash
# SPDX-License-Identifier: MIT
# vhost-user.sh - frames/s through a vhost-user switch, nethubd against
# dpdk-testpmd's own vhost PMD (io-forward, no learning), in one run.
#
# One dpdk-testpmd with two virtio-user ports in mac-forward is the peer:
# each port sends to the other's MAC (--tx-first starts the loop), so every
# frame crosses the switch once per direction.  Printed: the peer's Rx-pps
# per port (= frames/s the switch delivered each way).  No hugepages
# needed (--no-huge; the peer's memory is a shared memfd).
#
# Usage: bench/vhost-user.sh [FRAME_BYTES] [SECONDS]
#   NETHUBD=build/ctl/nethubd IO=uring|epoll (default uring)
#   POLL_US=N: nethubd runs a second time with poll-us=N on both netdevs,
#   and the last lines add that run over the event-driven one's
# Needs dpdk-dev (dpdk-testpmd) and root.  These machines are noisy:
# compare the two systems of one run (the last line: nethubd's frames/s
# over the wire's), not runs with each other.  DPDK's file prefixes carry
# this script's pid, so two runs at once do not share testpmd's run files.
set -u
LEN=${1:-64}
SECS=${2:-20}
NETHUBD=${NETHUBD:-build/ctl/nethubd}
IO=${IO:-uring}
D=$(mktemp -d /tmp/nethub-vhost-bench-XXXXXX)
trap 'rm -rf "$D"' EXIT

peer() { # $1: the two sockets' vdev arguments
	sleep $((SECS + 20)) | timeout "$SECS" dpdk-testpmd -l 1,0 \
		--main-lcore 0 --no-pci --no-huge -m 512 \
		--single-file-segments --file-prefix=nhpeer$$ $1 -- \
		--forward-mode=mac --eth-peer=0,02:00:00:00:00:11 \
		--eth-peer=1,02:00:00:00:00:10 --tx-first --txpkts="$LEN" \
		--burst=64 --nb-cores=1 --stats-period 5 \
		--total-num-mbufs=16384 2>&1 | grep -E 'Rx-pps' | tail -2 |
		tee -a "$D/pps.$2"
}
ports() { # $1 $2: socket paths
	echo "--vdev net_virtio_user0,path=$1,mac=02:00:00:00:00:10" \
	     "--vdev net_virtio_user1,path=$2,mac=02:00:00:00:00:11"
}

# testpmd's vhost PMD: a two-port wire, forwarding without looking
(sleep $((SECS + 20)) | timeout $((SECS + 8)) dpdk-testpmd -l 0,1 \
	--main-lcore 1 --no-pci --no-huge -m 512 --file-prefix=nhsw$$ \
	--vdev "net_vhost0,iface=$D/t0.sock" \
	--vdev "net_vhost1,iface=$D/t1.sock" -- --forward-mode=io \
	--nb-cores=1 --total-num-mbufs=16384 >/dev/null 2>&1) &
sleep 4
echo "testpmd vhost PMD io-forward, ${LEN} B:"
peer "$(ports "$D/t0.sock" "$D/t1.sock")" wire
wait

nethubd_run() { # $1: the figures' name; $2: extra netdev options
	"$NETHUBD" --io "$IO" --log-level warn \
		-chardev "socket,id=c0,path=$D/$1.0.sock,server=on" \
		-chardev "socket,id=c1,path=$D/$1.1.sock,server=on" \
		-netdev "vhost-user,id=v0,chardev=c0$2" \
		-netdev "vhost-user,id=v1,chardev=c1$2" &
	NP=$!
	sleep 1
	echo "nethubd --io $IO (MAC learning)${2:+ with ${2#,}}, ${LEN} B:"
	peer "$(ports "$D/$1.0.sock" "$D/$1.1.sock")" "$1"
	kill "$NP"
	wait "$NP"
}
nethubd_run nethubd ""
if [ -n "${POLL_US:-}" ]; then
	nethubd_run polled ",poll-us=$POLL_US"
fi
sum() { awk '{s += $2} END {print s + 0}' "$D/pps.$1" 2>/dev/null || echo 0; }
ratio() { # $1 over $2, printed as $3
	awk -v a="$(sum "$1")" -v b="$(sum "$2")" -v what="$3" 'BEGIN {
		if (b > 0) printf "%s: %.2f\n", what, a / b
		else printf "%s: no figure to divide by\n", what }'
}
ratio nethubd wire "nethubd / wire"
if [ -n "${POLL_US:-}" ]; then
	ratio polled wire "nethubd poll-us=$POLL_US / wire"
	ratio polled nethubd "nethubd poll-us=$POLL_US / event-driven"
fi
