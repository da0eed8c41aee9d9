#!/bin/bash
# SPDX-License-Identifier: MIT
# run.sh - install what the tests need, build, run every suite.
#
#   bash tests/run.sh                 gcc build in build/
#   NETHUB_BUILD=build-asan NETHUB_SANITIZE=1 bash tests/run.sh
#                                     clang + AddressSanitizer + UBSan
# Ends with one line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

bash tests/deps.sh || exit 1

build=${NETHUB_BUILD:-build}
setup_args=(-Dwerror=true)
test_args=()
if [ -n "${NETHUB_SANITIZE:-}" ]; then
	export CC=clang
	setup_args+=(-Db_sanitize=address,undefined -Db_lundef=false)
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	# The package suite builds its own (unsanitized) tree with
	# dpkg-buildpackage: the gcc run covers it, once is enough.
	test_args+=(--no-suite package)
fi
if [ ! -d "$build" ]; then
	log=$(meson setup "$build" "${setup_args[@]}" 2>&1) ||
		{ echo "$log"; rm -rf "$build"; echo "0 passed, 1 failed"; exit 1; }
fi
ninja -C "$build" >/dev/null ||
	{ ninja -C "$build"; echo "0 passed, 1 failed"; exit 1; }

meson test -C "$build" --print-errorlogs --num-processes 2 \
	--timeout-multiplier "${NETHUB_TIMEOUT_MULTIPLIER:-2}" "${test_args[@]}"
status=$?
python3 tests/summarize.py "$build/meson-logs/testlog.json"
exit $status
