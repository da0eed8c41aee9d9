#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""check_readme.py - every program the README's commands name is built.

Usage: check_readme.py README BUILD_DIR SOURCE_DIR

A new user runs the README's commands as written, from the source
directory, with the build in build/: each "build/..." path they name must
exist in the build directory (TAP output)."""
import os
import re
import sys


def main():
    readme, build, src = sys.argv[1:4]
    with open(readme) as f:
        text = f.read()
    paths = sorted(set(re.findall(r"(?<![\w/.])build/[\w./-]+", text)))
    paths = [p for p in paths if not p.endswith((".md", ".pcap", ".json"))]
    print("1..%d" % max(len(paths), 1))
    if not paths:
        print("not ok 1 - the README names no program under build/")
        return 1
    bad = 0
    for i, p in enumerate(paths, 1):
        built = os.path.join(build, p[len("build/"):])
        ok = os.path.isfile(built) and os.access(built, os.X_OK)
        bad += not ok
        print("%s %d - README's %s is built (%s)"
              % ("ok" if ok else "not ok", i, p, built))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
