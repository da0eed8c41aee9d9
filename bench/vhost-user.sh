#!/bin/bash
# SPDX-License-Identifier: MIT
# vhost-user.sh - frames/s through a vhost-user switch, nethubd against
# dpdk-testpmd's own vhost PMD (io-forward, no learning), in one run.
#
# One dpdk-testpmd with two virtio-user ports in mac-forward is the peer:
# each port sends to the other's MAC (--tx-first starts the loop), so every
# frame crosses the switch once per direction.  Printed: the peer's Rx-pps
# per port (= frames/s the switch delivered each way).
#
# Guest memory: 2 MiB huge pages, as VMs on vhost-user switches are run
# (the script reserves 1024 of them and mounts hugetlbfs if need be); with
# HUGE=0, or where none can be had, 4 KiB pages (--no-huge: the peer's
# memory is a plain shared memfd, and every buffer the switch touches
# costs a TLB entry of its own).  The first line printed says which.
#
# CPUs: the peer forwards on CPU 1; every switch runs on CPU 0 (the
# wire's forwarding core and OVS-DPDK's PMD thread by their options,
# nethubd by taskset).  Left to the scheduler, nethubd is often woken on
# CPU 1 by the peer's kicks, behind a thread that never sleeps.
#
# Before each system's run, with nothing else running, a line "cpu handoff
# 0<->1: N ns" (bench/cpu-handoff): how long a cache line takes between the
# two CPUs.  Every system's rate follows it, and on a virtual machine it
# changes from run to run (60 or 230 ns here), with where the host puts
# the vCPUs.
#
# Usage: bench/vhost-user.sh [FRAME_BYTES] [SECONDS]
#   NETHUBD=build/ctl/nethubd IO=uring|epoll (default uring) HUGE=1|0
#   HANDOFF=build/bench/cpu-handoff (by default next to NETHUBD's build)
#   SWITCH_CPU=0 (nethubd's CPU)
#   POLL_US=N: nethubd runs a second time with poll-us=N on both netdevs,
#   and the last lines add that run over the event-driven one's
#   OVS=1: Open vSwitch with DPDK too (openvswitch-switch-dpdk; huge
#   pages): a datapath_type=netdev bridge, NORMAL action (MAC learning),
#   two dpdkvhostuserclient ports, its PMD thread on CPU 0 and the peer's
#   forwarding on CPU 1, as ../shared/reference/vhost-anchors.sh measured
#   it; the last lines add nethubd over OVS-DPDK
# Needs dpdk-dev (dpdk-testpmd) and root.  These machines are noisy:
# compare the two systems of one run (the last line: nethubd's frames/s
# over the wire's), not runs with each other.  DPDK's file prefixes carry
# this script's pid, so two runs at once do not share testpmd's run files.
set -u
LEN=${1:-64}
SECS=${2:-20}
NETHUBD=${NETHUBD:-build/ctl/nethubd}
IO=${IO:-uring}
SWITCH_CPU=${SWITCH_CPU:-0}
D=$(mktemp -d /tmp/nethub-vhost-bench-XXXXXX)
trap 'rm -rf "$D"' EXIT

# huge pages: 512 MiB for each of the two testpmd processes
MEM="--no-huge -m 512"
if [ "${HUGE:-1}" != 0 ]; then
	want=1024
	have=$(awk '/HugePages_Total/ {print $2}' /proc/meminfo)
	[ "${have:-0}" -ge "$want" ] ||
		echo "$want" >/proc/sys/vm/nr_hugepages 2>/dev/null
	mount | grep -q hugetlbfs ||
		{ mkdir -p /dev/hugepages &&
		  mount -t hugetlbfs none /dev/hugepages; } 2>/dev/null
	free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
	if [ "${free:-0}" -ge 512 ] && mount | grep -q hugetlbfs; then
		MEM="-m 512 --iova-mode=va"
	fi
fi
case $MEM in
--no-huge*) echo "guest memory: 4 KiB pages (--no-huge)" ;;
*) echo "guest memory: 2 MiB huge pages" ;;
esac

HANDOFF=${HANDOFF:-$(dirname "$NETHUBD")/../bench/cpu-handoff}
handoff() { # the cache line's trip between the switch's CPU and the peer's
	[ -x "$HANDOFF" ] && [ "$SWITCH_CPU" != 1 ] &&
		"$HANDOFF" "$SWITCH_CPU" 1
}

peer() { # $1: the two sockets' vdev arguments
	sleep $((SECS + 20)) | timeout "$SECS" dpdk-testpmd -l 1,0 \
		--main-lcore 0 --no-pci $MEM \
		--single-file-segments --file-prefix=nhpeer$$ $1 -- \
		--forward-mode=mac --eth-peer=0,02:00:00:00:00:11 \
		--eth-peer=1,02:00:00:00:00:10 --tx-first --txpkts="$LEN" \
		--burst=64 --nb-cores=1 --stats-period 5 \
		--total-num-mbufs=16384 2>&1 | grep -E 'Rx-pps' | tail -2 |
		tee -a "$D/pps.$2"
}
ports() { # $1 $2: socket paths; $3: ",server=1" when the peer listens
	echo "--vdev net_virtio_user0,path=$1${3:-},mac=02:00:00:00:00:10" \
	     "--vdev net_virtio_user1,path=$2${3:-},mac=02:00:00:00:00:11"
}

# testpmd's vhost PMD: a two-port wire, forwarding without looking
handoff
(sleep $((SECS + 20)) | timeout $((SECS + 8)) dpdk-testpmd -l 0,1 \
	--main-lcore 1 --no-pci $MEM --file-prefix=nhsw$$ \
	--vdev "net_vhost0,iface=$D/t0.sock" \
	--vdev "net_vhost1,iface=$D/t1.sock" -- --forward-mode=io \
	--nb-cores=1 --total-num-mbufs=16384 >/dev/null 2>&1) &
sleep 4
echo "testpmd vhost PMD io-forward, ${LEN} B:"
peer "$(ports "$D/t0.sock" "$D/t1.sock")" wire
wait

ovs_run() { # Open vSwitch with DPDK, its own database under $D/ovs
	# the bridge's internal port is a tap of that name on the host: one
	# of this run's own, removed with the bridge
	local o=$D/ovs v br=nhvu$$
	local vswitchd=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk
	if [ ! -x "$vswitchd" ]; then
		echo "OVS=1: $vswitchd not found (openvswitch-switch-dpdk)" >&2
		return
	fi
	case $MEM in --no-huge*)
		echo "OVS=1: OVS-DPDK needs huge pages; none could be had" >&2
		return ;;
	esac
	mkdir -p "$o"
	handoff
	v="ovs-vsctl --db=unix:$o/db.sock"
	if ! {
		ovsdb-tool create "$o/conf.db" \
			/usr/share/openvswitch/vswitch.ovsschema &&
		ovsdb-server "$o/conf.db" --remote="punix:$o/db.sock" \
			--pidfile="$o/db.pid" --unixctl="$o/db.ctl" --detach \
			--log-file="$o/db.log" &&
		$v --no-wait init &&
		$v --no-wait set Open_vSwitch . \
			other_config:dpdk-init=true \
			other_config:dpdk-lcore-mask=0x1 \
			other_config:pmd-cpu-mask=0x1 \
			other_config:dpdk-socket-mem=512 \
			"other_config:dpdk-extra=--no-pci --single-file-segments --file-prefix=nhovs$$" &&
		"$vswitchd" "unix:$o/db.sock" --pidfile="$o/vs.pid" \
			--unixctl="$o/vs.ctl" --detach --log-file="$o/vs.log" &&
		$v add-br "$br" -- set bridge "$br" datapath_type=netdev &&
		$v add-port "$br" vh0 -- set Interface vh0 \
			type=dpdkvhostuserclient \
			"options:vhost-server-path=$o/vh0.sock" &&
		$v add-port "$br" vh1 -- set Interface vh1 \
			type=dpdkvhostuserclient \
			"options:vhost-server-path=$o/vh1.sock"
	} >"$o/setup.log" 2>&1; then
		echo "OVS=1: setting up OVS-DPDK failed:" >&2
		tail -5 "$o/setup.log" >&2
	else
		echo "OVS-DPDK NORMAL (MAC learning), ${LEN} B:"
		peer "$(ports "$o/vh0.sock" "$o/vh1.sock" ,server=1)" ovs
		[ -s "$D/pps.ovs" ] || tail -5 "$o/vs.log" >&2
	fi
	$v --timeout=5 del-br "$br" >/dev/null 2>&1
	for f in vs.pid db.pid; do
		[ -s "$o/$f" ] && kill "$(cat "$o/$f")" 2>/dev/null
	done
	sleep 1
	ip link del "$br" 2>/dev/null
}
if [ "${OVS:-0}" = 1 ]; then
	ovs_run
fi

nethubd_run() { # $1: the figures' name; $2: extra netdev options
	handoff
	taskset -c "$SWITCH_CPU" "$NETHUBD" --io "$IO" --log-level warn \
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
if [ "${OVS:-0}" = 1 ]; then
	ratio nethubd ovs "nethubd / OVS-DPDK"
	[ -z "${POLL_US:-}" ] ||
		ratio polled ovs "nethubd poll-us=$POLL_US / OVS-DPDK"
fi
