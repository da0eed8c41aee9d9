#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""check_generated.py GENERATED COMMITTED - TAP: the committed copy of a
generated file (docs/qmp-reference.md) is identical to what the build made,
so the reference in docs/ always says what the schema says."""
import difflib
import sys

gen, committed = sys.argv[1], sys.argv[2]
print("1..1")
a = open(gen, encoding="utf-8").read().splitlines(keepends=True)
try:
    b = open(committed, encoding="utf-8").read().splitlines(keepends=True)
except OSError as e:
    b = []
    print("# %s" % e)
if a == b:
    print("ok 1 - %s is current" % committed)
    sys.exit(0)
for line in list(difflib.unified_diff(b, a, committed, gen))[:40]:
    print("# " + line.rstrip("\n"))
print("not ok 1 - %s differs from the generated reference; copy %s there"
      % (committed, gen))
sys.exit(1)
