#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""summarize.py - count test cases in meson's testlog.json files.

Each TAP 'ok'/'not ok' line is one case.  A test program that failed
without a 'not ok' line (a crash, a timeout, a sanitizer report at exit)
counts as one more failure; one that passed without any TAP line (the
fuzzer, judged by its exit status) counts as one pass.  Prints 'N passed, N failed'.

meson's --print-errorlogs shows only a failed program's stderr; a TAP
program explains its failures in '#' lines on stdout.  So for every failed
program the tail of its stdout is printed first, for a CI log that says
what went wrong.
"""
import json
import re
import sys

TAP_LINE = re.compile(r"^(not ok|ok)\b")
FAILED_TAIL = 150  # stdout lines shown of a failed program


def stdout_of(t):
    return t.get("stdo") or t.get("stdout") or ""


def show_failed(t):
    out = stdout_of(t).splitlines()
    print("--- %s (%s): last %d of %d stdout lines ---"
          % (t.get("name"), t.get("result"), min(len(out), FAILED_TAIL),
             len(out)))
    for line in out[-FAILED_TAIL:]:
        print("    " + line)


def count(path):
    passed = failed = 0
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            t = json.loads(line)
            p = fl = 0
            for out in stdout_of(t).splitlines():
                m = TAP_LINE.match(out)
                if not m:
                    continue
                if "# SKIP" in out:
                    fl += 1  # a test never skips itself here
                elif m.group(1) == "ok":
                    p += 1
                else:
                    fl += 1
            if t.get("result") == "OK" and p + fl == 0:
                p = 1  # not TAP (the fuzzer): the program is the case
            if t.get("result") not in ("OK", "EXPECTEDFAIL") and fl == 0:
                fl = 1
                print("failed without a TAP failure line: %s (%s)"
                      % (t.get("name"), t.get("result")), file=sys.stderr)
            if fl:
                show_failed(t)
            passed += p
            failed += fl
    return passed, failed


def main():
    passed = failed = 0
    for path in sys.argv[1:]:
        p, f = count(path)
        passed += p
        failed += f
    print("%d passed, %d failed" % (passed, failed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
