#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_package.py - the Debian package, built, installed, run and purged

Builds nethub_*.deb from a copy of the source tree with
`dpkg-buildpackage -us -uc -b`, checks it with lintian (no errors),
installs it with dpkg -i, starts the service as its units say and asks it
`nethubctl show`, then purges it.  Needs root (dpkg).

Where systemd is the init system the units are started with systemctl.
Elsewhere (CI containers) the service is started the way systemd would:
the socket unit's ListenStream held by systemd-socket-activate, the
service's ExecStart run on the first connection with NOTIFY_SOCKET set,
and its readiness (READY=1) and shutdown (STOPPING=1) read from that
socket.
"""

import atexit
import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
from nethub import at_cleanup, diag, free_port, poll, tmpdir  # noqa: E402

nethub.TEST_TIMEOUT = 300   # a package build on a loaded 2-core machine
SRC = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
UNIT_DIR = "/lib/systemd/system"
state = {}


def sh(*args, timeout=240, env=None, check=True, cwd=None):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                       env=env, cwd=cwd)
    if check and p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(args),
                             p.returncode, p.stdout[-3000:], p.stderr[-3000:]))
    return p


def unit_value(unit, key):
    """The value of KEY= in an installed unit file."""
    with open(os.path.join(UNIT_DIR, unit)) as f:
        for line in f:
            if line.startswith(key + "="):
                return line.split("=", 1)[1].strip()
    raise AssertionError("%s has no %s=" % (unit, key))


def test_build_package():
    # kept until the last test: the package is installed from here
    work = tempfile.mkdtemp(prefix="nethub-pkg-")
    atexit.register(shutil.rmtree, work, True)
    tree = os.path.join(work, "nethub")
    shutil.copytree(SRC, tree, ignore=shutil.ignore_patterns(
        ".git", "build", "build-*", "obj-*", "__pycache__", "*.deb"))
    env = dict(os.environ,
               DEB_BUILD_OPTIONS="nocheck noautodbgsym parallel=2")
    t0 = time.monotonic()
    sh("dpkg-buildpackage", "-us", "-uc", "-b", env=env, timeout=280,
       cwd=tree)
    diag("dpkg-buildpackage: %.0f s" % (time.monotonic() - t0))
    debs = glob.glob(os.path.join(work, "nethub_*.deb"))
    assert len(debs) == 1, "expected one nethub_*.deb, got %s" % debs
    state["deb"] = debs[0]
    state["changes"] = glob.glob(os.path.join(work, "nethub_*.changes"))[0]
    listing = sh("dpkg-deb", "-c", debs[0]).stdout
    for path in ("./usr/sbin/nethubd", "./usr/bin/nethubctl",
                 "./usr/bin/nethub-bench", "./usr/share/man/man8/nethubd.8.gz",
                 "./usr/share/man/man1/nethubctl.1.gz",
                 "./usr/share/man/man1/nethub-bench.1.gz",
                 "./lib/systemd/system/nethubd.service",
                 "./lib/systemd/system/nethubd.socket",
                 "./etc/nethub/nethubd.conf",
                 "./usr/share/bash-completion/completions/nethubctl"):
        assert path in listing, "%s is not in the package:\n%s" % (path,
                                                                   listing)


def test_lintian_has_no_errors():
    assert "deb" in state, "no package was built"
    out = sh("lintian", "--tag-display-limit", "0", state["deb"],
             check=False, timeout=120)
    tags = [line for line in out.stdout.splitlines()
            if re.match(r"^[EWI]: ", line)]
    for t in tags:
        diag(t)
    errors = [t for t in tags if t.startswith("E: ")]
    assert not errors and out.returncode in (0, 1) and \
        "error" not in out.stderr.lower(), \
        "lintian: %s\n%s" % ("\n".join(errors), out.stderr)


def test_install_package():
    assert "deb" in state, "no package was built"
    sh("dpkg", "-i", state["deb"], timeout=120)
    assert os.access("/usr/sbin/nethubd", os.X_OK)
    out = sh("/usr/sbin/nethubd", "--version").stdout
    assert out.startswith("nethubd "), out
    page = sh("man", "-w", "nethubd").stdout.strip()
    assert page.endswith("nethubd.8.gz"), page
    assert unit_value("nethubd.service", "Type") == "notify"
    assert unit_value("nethubd.socket", "ListenStream") == \
        "/run/nethub/qmp.sock"


def service_by_systemd(port):
    sh("systemctl", "daemon-reload")
    sh("systemctl", "start", "nethubd.socket")
    at_cleanup(lambda: sh("systemctl", "stop", "nethubd.service",
                          "nethubd.socket", check=False))
    out = sh("nethubctl", "show", timeout=60).stdout
    assert "pkgtest" in out, out
    assert sh("systemctl", "is-active", "nethubd.service").stdout.strip() \
        == "active"
    sh("systemctl", "stop", "nethubd.service", "nethubd.socket")


def service_as_systemd_would(port):
    """ExecStart under systemd-socket-activate, readiness on a socket."""
    d = tmpdir()
    qmp_path = os.path.join(d, "qmp.sock")     # the unit's is /run/nethub
    notify_path = os.path.join(d, "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(30)
    at_cleanup(notify.close)
    exec_start = unit_value("nethubd.service", "ExecStart").split()
    env = dict(os.environ, NOTIFY_SOCKET=notify_path)
    proc = subprocess.Popen(
        ["systemd-socket-activate", "-l", qmp_path, "-E", "NOTIFY_SOCKET"]
        + exec_start, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)

    def stop():
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    at_cleanup(stop)
    poll(lambda: os.path.exists(qmp_path), 10, what="the activated socket")
    # the first connection starts the service
    show = subprocess.Popen(["nethubctl", "-s", qmp_path, "-t", "30", "show"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    msg = notify.recv(4096).decode()
    assert msg == "READY=1", "first notification: %r" % msg
    out, err = show.communicate(timeout=60)
    assert show.returncode == 0, err
    assert "pkgtest" in out, "show does not list the configured netdev:\n" \
        + out
    assert nethub.tcp_listening(port), "the configured netdev is not up"
    proc.terminate()
    msg = notify.recv(4096).decode()
    assert msg == "STOPPING=1", "at SIGTERM: %r" % msg
    log, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, "exit status %d:\n%s" % (proc.returncode, log)
    assert os.path.exists(qmp_path), \
        "nethubd removed the socket file the service manager owns"


def test_service_starts_and_answers():
    assert os.path.exists("/usr/sbin/nethubd"), "the package is not installed"
    port = free_port()
    conf = "/etc/nethub/nethubd.conf"
    with open(conf, "w") as f:
        f.write('[{"type": "socket", "id": "pkgtest", '
                '"listen": "127.0.0.1:%d"}]\n' % port)
    if os.path.isdir("/run/systemd/system"):
        diag("systemd is the init system: systemctl")
        service_by_systemd(port)
    else:
        diag("systemd is not the init system: the units' commands, run "
             "under systemd-socket-activate")
        service_as_systemd_would(port)


def test_purge_package():
    sh("dpkg", "--purge", "nethub", timeout=120)
    for path in ("/usr/sbin/nethubd", "/usr/bin/nethubctl",
                 "/etc/nethub/nethubd.conf", UNIT_DIR + "/nethubd.service"):
        assert not os.path.exists(path), "%s is left after purge" % path


if __name__ == "__main__":
    nethub.main(globals())
