#!/bin/bash
# SPDX-License-Identifier: MIT
# vde-server.sh - frames/s through a VDE switch: vde_switch against
# nethubd's own (-netdev vde,vdeserver=DIR), one after the other in one run.
#
# nethub-bench's vde transport attaches two native VDE ports to each switch
# (VDE's port protocol on unix sockets, as QEMU's -netdev vde does) and
# sends FRAME_BYTES frames from port 0 to port 1 as fast as it can.
# Printed: each switch's table (delivered frames/s = port 1's rx).
#
# Usage: bench/vde-server.sh [FRAME_BYTES] [SECONDS]
#   NETHUBD=build/ctl/nethubd NETHUB_BENCH=build/bench/nethub-bench
# Needs vde2.  These machines are noisy: compare the two tables of one
# run, not runs with each other.
set -eu
LEN=${1:-64}
SECS=${2:-5}
NETHUBD=${NETHUBD:-build/ctl/nethubd}
BENCH=${NETHUB_BENCH:-build/bench/nethub-bench}
D=$(mktemp -d /tmp/nethub-vde-bench-XXXXXX)
cleanup() {
	[ -f "$D/vs.pid" ] && kill "$(cat "$D/vs.pid")" 2>/dev/null
	[ -f "$D/nh.pid" ] && kill "$(cat "$D/nh.pid")" 2>/dev/null
	sleep 0.2
	rm -rf "$D"
}
trap cleanup EXIT

vde_switch -s "$D/vs" -d -p "$D/vs.pid"
"$NETHUBD" -netdev "vde,id=sw,vdeserver=$D/nh" --pidfile "$D/nh.pid" \
	--log-level warn &
for _ in $(seq 50); do
	[ -S "$D/nh/ctl" ] && [ -S "$D/vs/ctl" ] && break
	sleep 0.1
done
for sw in vs nh; do
	echo "== $([ $sw = vs ] && echo vde_switch || echo "nethubd vdeserver=")"
	"$BENCH" --transport vde --connect "$D/$sw" --ports 2 \
		--frame-size "$LEN" --duration "$SECS" \
		--switch-pid "$(cat "$D/$sw.pid")" --no-progress
done
