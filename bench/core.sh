#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/core.sh - frames/s through nethubd with --io=uring and --io=epoll, and
# through QEMU's own hub as a reference, measured in one run on this machine.
#
# For each frame size (64, 1500) and transport (udp, tcp) it starts a fresh
# switch, attaches two nethub-bench ports to it, sends as fast as possible
# from port 0 to port 1 and records what port 1 received.  The three systems
# alternate, ROUNDS times each (the order rotates every round), and the
# median counts: these machines are shared and noisy.  A round whose host
# was busy with other work (nethub-bench's other_cpu_pct) is run again once.
# Then one latency round per system at a fixed, sustainable rate.
#
# Usage: bench/core.sh [RESULTS.json]     (default: $BUILD/bench-core.json)
#
# Environment (defaults in brackets):
#   BUILD        meson build directory [build]
#   ROUNDS       rounds per system and scenario [3]
#   DURATION     measured seconds per round [3]; WARMUP seconds before [1]
#   SIZES        frame sizes, bytes without FCS ["64 1500"]
#   TRANSPORTS   ["udp tcp"]
#   SYSTEMS      which switches ["uring epoll qemu"]
#   LAT_RATE     frames/s of the latency rounds [20000]; 0 skips them
#   PIN          1: switch on CPU 1, bench on CPU 0 (taskset) [1]
#   NOISY_PCT    re-run a round when the rest of the host used more than
#                this % of a CPU [25]
#
# Only loopback is used.  Needs: meson, ninja, a C compiler, and for the
# reference qemu-system-x86_64 (Debian: qemu-system-x86).  Root is not
# needed; as root the bench's sockets get larger buffers.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
BUILD=${BUILD:-build}
results=${1:-$BUILD/bench-core.json}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-3}
WARMUP=${WARMUP:-1}
SIZES=${SIZES:-"64 1500"}
TRANSPORTS=${TRANSPORTS:-"udp tcp"}
SYSTEMS=${SYSTEMS:-"uring epoll qemu"}
LAT_RATE=${LAT_RATE:-20000}
PIN=${PIN:-1}
NOISY_PCT=${NOISY_PCT:-25}
QEMU=${QEMU:-qemu-system-x86_64}

say() { printf '%s\n' "$*" >&2; }
die() { say "core.sh: $*"; exit 1; }
has() { [[ " $SYSTEMS " == *" $1 "* ]]; }

tmp=$(mktemp -d /tmp/nethub-core.XXXXXX)
switch_pid=
cleanup() {
	[ -n "$switch_pid" ] && kill -KILL "$switch_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# -- build ------------------------------------------------------------------

nethubd=$BUILD/ctl/nethubd
bench=$BUILD/bench/nethub-bench
if has uring || has epoll; then
	{ [ -d "$BUILD" ] || meson setup "$BUILD" >"$tmp/setup.log"; } ||
		{ cat "$tmp/setup.log" >&2; die "meson setup $BUILD failed"; }
	ninja -C "$BUILD" ctl/nethubd bench/nethub-bench >"$tmp/build.log" ||
		{ tail -30 "$tmp/build.log" >&2; die "build failed (SYSTEMS=qemu measures the reference alone)"; }
else
	# the reference alone: nethub-bench is plain C and builds by itself
	if ! { [ -d "$BUILD" ] && ninja -C "$BUILD" bench/nethub-bench >"$tmp/build.log" 2>&1; }; then
		bench=$tmp/nethub-bench
		# every bench/*.c but fdb_bench.c (another program); libvdeplug
		# is optional and left out here
		${CC:-cc} -O2 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -o "$bench" \
			$(ls bench/*.c | grep -v '/fdb_bench\.c$') -lm -lpthread ||
			die "cannot build nethub-bench"
	fi
fi
if has qemu && ! command -v "$QEMU" >/dev/null; then
	die "$QEMU not found (apt-get install qemu-system-x86), or leave qemu out of SYSTEMS"
fi

pin_switch=() pin_bench=()
if [ "$PIN" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	pin_switch=(taskset -c 1) pin_bench=(taskset -c 0)
fi

# -- one measurement ----------------------------------------------------------

# jget JSON KEY - a number or string from nethub-bench's flat JSON object
jget() {
	sed -n "s/.*\"$2\": \"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$1"
}

# start_switch SYSTEM TRANSPORT BASE - start it, set switch_pid and
# bench_target (the nethub-bench options that reach it)
start_switch() {
	local sys=$1 tr=$2 base=$3 log=$tmp/switch.log args=()
	rm -f "$tmp/pid"
	case $sys/$tr in
	uring/udp | epoll/udp)
		args=(-netdev "socket,id=p0,udp=127.0.0.1:$base,localaddr=127.0.0.1:$((base + 1))"
		      -netdev "socket,id=p1,udp=127.0.0.1:$((base + 2)),localaddr=127.0.0.1:$((base + 3))")
		bench_target=(--udp-ports "$base") ;;
	uring/tcp | epoll/tcp)
		args=(-netdev "socket,id=vms,listen=127.0.0.1:$base")
		bench_target=(--connect "127.0.0.1:$base") ;;
	qemu/udp)
		args=(-netdev "socket,id=a,udp=127.0.0.1:$base,localaddr=127.0.0.1:$((base + 1))"
		      -netdev "socket,id=b,udp=127.0.0.1:$((base + 2)),localaddr=127.0.0.1:$((base + 3))")
		bench_target=(--udp-ports "$base") ;;
	qemu/tcp)
		args=(-netdev "socket,id=a,listen=127.0.0.1:$base"
		      -netdev "socket,id=b,listen=127.0.0.1:$((base + 1))")
		bench_target=(--connect "127.0.0.1:$base,127.0.0.1:$((base + 1))") ;;
	esac
	if [ "$sys" = qemu ]; then
		"${pin_switch[@]}" "$QEMU" -M none -nodefaults -display none \
			-pidfile "$tmp/pid" "${args[@]}" \
			-netdev hubport,id=h1,hubid=0,netdev=a \
			-netdev hubport,id=h2,hubid=0,netdev=b >"$log" 2>&1 &
	else
		"${pin_switch[@]}" "$nethubd" --io "$sys" --log-level warn \
			--pidfile "$tmp/pid" "${args[@]}" >"$log" 2>&1 &
	fi
	local launcher=$!
	for _ in $(seq 100); do
		[ -s "$tmp/pid" ] && break
		kill -0 "$launcher" 2>/dev/null || break
		sleep 0.05
	done
	if [ ! -s "$tmp/pid" ]; then
		say "core.sh: $sys did not start:"; tail -5 "$log" >&2
		wait "$launcher" 2>/dev/null || true
		return 1
	fi
	switch_pid=$(cat "$tmp/pid")
	switch_launcher=$launcher
}

stop_switch() {
	[ -n "$switch_pid" ] || return 0
	kill -TERM "$switch_pid" 2>/dev/null || true
	for _ in $(seq 40); do
		kill -0 "$switch_pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$switch_pid" 2>/dev/null || true
	wait "$switch_launcher" 2>/dev/null || true
	switch_pid=
}

runs=()     # every nethub-bench JSON line, for the results file
# measure SYSTEM TRANSPORT SIZE LABEL [nethub-bench options] - sets line to
# the bench's JSON, or to nothing when the switch or the bench failed
measure() {
	local sys=$1 tr=$2 size=$3 label=$4 base
	shift 4
	line=
	base=$((20000 + (RANDOM % 2000) * 16))
	start_switch "$sys" "$tr" "$base" || return 0
	if ! "${pin_bench[@]}" "$bench" --transport "$tr" "${bench_target[@]}" \
		--ports 2 --frame-size "$size" --duration "$DURATION" \
		--warmup "$WARMUP" --switch-pid "$switch_pid" --json \
		--label "$label" "$@" >"$tmp/bench.out" 2>"$tmp/bench.err"; then
		say "core.sh: $label: nethub-bench failed:"
		tail -3 "$tmp/bench.err" >&2
	fi
	stop_switch
	line=$(cat "$tmp/bench.out")
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2); else print "nan" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
fmt() { awk -v v="$1" 'BEGIN { if (v == "nan" || v == "") print "n/a"; else printf "%.0f", v }'; }

# -- the run -----------------------------------------------------------------

started=$(date +%s)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
say "core.sh: $(nproc) CPUs ($cpu), kernel $(uname -r); systems: $SYSTEMS; $ROUNDS rounds of ${DURATION}s"
[ ${#pin_switch[@]} -gt 0 ] && say "core.sh: switch pinned to CPU 1, nethub-bench to CPU 0"

declare -A fps cpu_ns loss
read -ra order <<<"$SYSTEMS"
for size in $SIZES; do
	for tr in $TRANSPORTS; do
		for round in $(seq "$ROUNDS"); do
			for k in "${!order[@]}"; do
				sys=${order[$(((k + round - 1) % ${#order[@]}))]}
				label="$sys/$tr/$size/r$round"
				measure "$sys" "$tr" "$size" "$label"
				other=$(jget "$line" other_cpu_pct)
				if [ -n "$line" ] && awk -v o="${other:-0}" -v m="$NOISY_PCT" 'BEGIN { exit !(o > m) }'; then
					say "core.sh: $label: host busy with other work (${other}% of a CPU), once more"
					runs+=("$line")
					measure "$sys" "$tr" "$size" "$label+"
				fi
				[ -n "$line" ] || continue
				runs+=("$line")
				key="$sys/$tr/$size"
				fps[$key]+="$(jget "$line" delivered_fps) "
				cpu_ns[$key]+="$(jget "$line" switch_ns_per_frame) "
				loss[$key]+="$(jget "$line" loss_pct) "
				say "  $label: $(fmt "$(jget "$line" delivered_fps)") frames/s delivered, switch $(jget "$line" switch_cpu_pct)% CPU, loss $(jget "$line" loss_pct)%"
			done
		done
	done
done

lat_lines=()
if [ "$LAT_RATE" != 0 ]; then
	for tr in $TRANSPORTS; do
		for sys in $SYSTEMS; do
			measure "$sys" "$tr" 64 "latency/$sys/$tr/64" --rate "$LAT_RATE"
			[ -n "$line" ] || continue
			runs+=("$line")
			lat_lines+=("$sys $tr $(jget "$line" lat_p50_us) $(jget "$line" lat_p99_us) $(jget "$line" switch_cpu_pct) $(jget "$line" loss_pct)")
		done
	done
fi

# -- report ------------------------------------------------------------------

med() { local k=$1 m; m=$(tr ' ' '\n' <<<"${2:-}" | grep -v '^$' | median); echo "$m"; }

printf '\nThroughput, frames/s delivered (median of %s rounds of %ss; nethub/qemu uses --io=uring)\n' "$ROUNDS" "$DURATION"
printf '%-12s %14s %14s %12s %14s %12s\n' scenario "nethub uring" "nethub epoll" uring/epoll "qemu hub" nethub/qemu
summary=()
for size in $SIZES; do
	for tr in $TRANSPORTS; do
		u=$(med x "${fps[uring/$tr/$size]:-}")
		e=$(med x "${fps[epoll/$tr/$size]:-}")
		q=$(med x "${fps[qemu/$tr/$size]:-}")
		printf '%-12s %14s %14s %12s %14s %12s\n' "$tr $size B" "$(fmt "$u")" "$(fmt "$e")" \
			"$(ratio "$u" "$e")" "$(fmt "$q")" "$(ratio "$u" "$q")"
		cu=$(med x "${cpu_ns[uring/$tr/$size]:-}")
		ce=$(med x "${cpu_ns[epoll/$tr/$size]:-}")
		cq=$(med x "${cpu_ns[qemu/$tr/$size]:-}")
		lu=$(med x "${loss[uring/$tr/$size]:-}")
		le=$(med x "${loss[epoll/$tr/$size]:-}")
		lq=$(med x "${loss[qemu/$tr/$size]:-}")
		summary+=("$(printf '{"transport": "%s", "frame_size": %s, "uring_fps": %s, "epoll_fps": %s, "qemu_fps": %s, "uring_epoll": %s, "nethub_qemu": %s, "uring_ns_per_frame": %s, "epoll_ns_per_frame": %s, "qemu_ns_per_frame": %s, "uring_loss_pct": %s, "epoll_loss_pct": %s, "qemu_loss_pct": %s}' \
			"$tr" "$size" "$(fmt "$u" | sed 's#n/a#null#')" "$(fmt "$e" | sed 's#n/a#null#')" "$(fmt "$q" | sed 's#n/a#null#')" \
			"$(ratio "$u" "$e" | sed 's#n/a#null#')" "$(ratio "$u" "$q" | sed 's#n/a#null#')" \
			"$(fmt "$cu" | sed 's#n/a#null#')" "$(fmt "$ce" | sed 's#n/a#null#')" "$(fmt "$cq" | sed 's#n/a#null#')" \
			"${lu/nan/null}" "${le/nan/null}" "${lq/nan/null}")")
		cpu_rows+=("$(printf '%-12s %14s %14s %14s %10s %10s %10s' "$tr $size B" "$(fmt "$cu")" "$(fmt "$ce")" "$(fmt "$cq")" "${lu/nan/n/a}" "${le/nan/n/a}" "${lq/nan/n/a}")")
	done
done
printf '\nSwitch CPU per delivered frame (ns, median) and loss (%%, median; UDP offered beyond capacity)\n'
printf '%-12s %14s %14s %14s %10s %10s %10s\n' scenario "uring ns" "epoll ns" "qemu ns" "uring %" "epoll %" "qemu %"
printf '%s\n' "${cpu_rows[@]}"

lat_json=()
if [ ${#lat_lines[@]} -gt 0 ]; then
	printf '\nLatency at %s frames/s, 64-byte frames, one round (us)\n' "$LAT_RATE"
	printf '%-12s %-6s %10s %10s %10s %8s\n' system tr p50 p99 "cpu %" "loss %"
	for l in "${lat_lines[@]}"; do
		read -r s t p50 p99 c lo <<<"$l"
		printf '%-12s %-6s %10s %10s %10s %8s\n' "$s" "$t" "$p50" "$p99" "$c" "$lo"
		lat_json+=("$(printf '{"system": "%s", "transport": "%s", "rate_fps": %s, "lat_p50_us": %s, "lat_p99_us": %s, "switch_cpu_pct": %s, "loss_pct": %s}' "$s" "$t" "$LAT_RATE" "$p50" "$p99" "${c:-null}" "$lo")")
	done
fi

join() { local IFS=,; printf '%s' "$*"; }
qver=$({ "$QEMU" --version 2>/dev/null || true; } | head -1)
nver=$({ "$nethubd" --version 2>/dev/null || true; } | head -1)
{
	printf '{"tool": "bench/core.sh", "date": "%s", "elapsed_s": %s,\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(($(date +%s) - started))"
	printf ' "machine": {"nproc": %s, "cpu": "%s", "kernel": "%s", "qemu": "%s", "nethubd": "%s", "pinned": %s},\n' \
		"$(nproc)" "$cpu" "$(uname -r)" "$qver" "$nver" "$([ ${#pin_switch[@]} -gt 0 ] && echo true || echo false)"
	printf ' "config": {"rounds": %s, "duration_s": %s, "warmup_s": %s, "sizes": [%s], "transports": ["%s"], "systems": ["%s"], "lat_rate_fps": %s},\n' \
		"$ROUNDS" "$DURATION" "$WARMUP" "${SIZES// /, }" "${TRANSPORTS// /\", \"}" "${SYSTEMS// /\", \"}" "$LAT_RATE"
	printf ' "summary": [\n  %s],\n' "$(printf '%s\n' "${summary[@]}" | paste -sd, | sed 's/},{/},\n  {/g')"
	printf ' "latency": [%s],\n' "$(join "${lat_json[@]}")"
	printf ' "runs": [\n  %s]}\n' "$(printf '%s\n' "${runs[@]}" | paste -sd, | sed 's/},{/},\n  {/g')"
} >"$results"
say ""
say "core.sh: results in $results ($(($(date +%s) - started)) s)"
