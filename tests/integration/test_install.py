#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_install.py - what `meson install` puts in place (docs/install.md)

The build directory is installed into a scratch DESTDIR: the programs, the
manual pages (rendered by man without errors, one per document, every
section of the document in it), the systemd units, the configuration file
and nethubctl's bash completion, which is run against a live nethubd.  The
service manager's side is tested with the built nethubd: readiness on
$NOTIFY_SOCKET (a path or an abstract name), a QMP socket passed by socket
activation (kept across a restart, never removed), --config-if-present.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
import qmp as qmplib  # noqa: E402
from nethub import Nethubd, at_cleanup, free_port, poll, tmpdir  # noqa: E402
from test_nethubctl import ctl_path  # noqa: E402

DOCS = os.path.join(nethub.REPO, "docs")
PAGES = {"nethubd.8": "usage.md", "nethubctl.1": "nethubctl.md",
         "nethub-bench.1": "bench.md"}


def build_root():
    return os.path.dirname(os.path.dirname(nethub.nethubd_path()))


def installed():
    """The build installed into a scratch DESTDIR: {file name: path}."""
    dest = tmpdir("nethub-destdir-")
    p = subprocess.run(["meson", "install", "-C", build_root(), "--no-rebuild",
                        "--destdir", dest], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, "meson install: %s%s" % (p.stdout, p.stderr)
    files = {}
    for root, _, names in os.walk(dest):
        for n in names:
            files[os.path.relpath(os.path.join(root, n), dest)] = \
                os.path.join(root, n)
    return files


def find(files, suffix):
    hits = [p for rel, p in files.items() if rel.endswith(suffix)]
    assert len(hits) == 1, "%s: %s" % (suffix, sorted(files))
    return hits[0]


def test_meson_install_puts_programs_units_config_and_completion():
    files = installed()
    for rel in ("sbin/nethubd", "bin/nethubctl", "bin/nethub-bench"):
        assert os.access(find(files, rel), os.X_OK), rel
    unit = open(find(files, "systemd/system/nethubd.service")).read()
    m = re.search(r"^ExecStart=(\S+) --config-if-present (\S+)$", unit, re.M)
    assert m and m.group(1).endswith("/sbin/nethubd") and \
        m.group(2).endswith("/nethub/nethubd.conf"), unit
    assert re.search(r"^Type=notify$", unit, re.M), unit
    assert re.search(r"^DeviceAllow=/dev/net/tun rw$", unit, re.M), unit
    assert "CAP_NET_ADMIN" in unit
    sock = open(find(files, "systemd/system/nethubd.socket")).read()
    assert re.search(r"^ListenStream=/run/nethub/qmp.sock$", sock, re.M)
    conf = find(files, "nethub/nethubd.conf")
    # the shipped configuration is one nethubd reads
    rc, _, err = nethub.run_cli("--config", conf, "--version")
    assert rc == 0, err
    find(files, "bash-completion/completions/nethubctl")


def test_man_pages_render_and_hold_every_section_of_their_document():
    files = installed()
    for page, doc in PAGES.items():
        path = find(files, "/man" + page[-1] + "/" + page)
        p = subprocess.run(["man", "--warnings", "-l", path],
                           capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, MANWIDTH="80",
                                    LC_ALL="C.UTF-8"))
        assert p.returncode == 0, "%s: %s" % (page, p.stderr)
        # narrow table columns may not break a long word; nothing else
        bad = [ln for ln in p.stderr.splitlines()
               if "can't break line" not in ln]
        assert not bad, "%s: %s" % (page, "\n".join(bad))
        text = re.sub(".\b", "", p.stdout)
        assert text.startswith(page.split(".")[0].upper()), text[:80]
        assert "NAME" in text and "SYNOPSIS" in text, text[:400]
        with open(os.path.join(DOCS, doc)) as f:
            heads = [ln[3:].strip() for ln in f if ln.startswith("## ")]
        assert heads, doc
        for h in heads:
            plain = re.sub(r"[`*]", "", h).upper()
            assert plain in text, "%s: section %r missing" % (page, plain)


def complete(sock, *words):
    """What nethubctl's completion offers for the last of @words."""
    script = os.path.join(nethub.REPO, "dist", "nethubctl.bash-completion")
    words = ("nethubctl", "-s", sock) + words
    cmd = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); '
           '_nethubctl; printf "%s\\n" "${COMPREPLY[@]}"')
    env = dict(os.environ, PATH=os.path.dirname(ctl_path()) + ":"
               + os.environ.get("PATH", ""))
    p = subprocess.run(["bash", "-c", cmd, "bash", script] + list(words),
                       capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0, p.stderr
    return set(p.stdout.split())


def test_bash_completion_offers_commands_and_live_netdev_ids():
    port = free_port()
    d = Nethubd("-netdev", "socket,id=vms,listen=127.0.0.1:%d" % port,
                "-netdev", "socket,id=lab,listen=127.0.0.1:%d" % free_port(),
                qmp=True).start()
    nethub.TcpPeer(port, name="peer")
    poll(lambda: d.qmp_cmd("query-netdevs")[0]["ports"], 10,
         what="the peer's port")
    first = complete(d.qmp_path, "")
    for w in ("show", "top", "metrics", "capture", "query-netdevs",
              "netdev_add", "set_link"):
        assert w in first, "%s not offered: %s" % (w, sorted(first))
    assert complete(d.qmp_path, "sh") == {"show"}
    assert complete(d.qmp_path, "--so") == {"--socket"}
    assert complete(d.qmp_path, "set_link", "name=") >= \
        {"name=vms", "name=lab", "name=vms.1"}
    assert complete(d.qmp_path, "netdev_del", "id=l") == {"id=lab"}
    assert complete(d.qmp_path, "capture", "vm") == {"vms", "vms.1"}
    assert complete(d.qmp_path, "capture", "--hub", "") == {"0"}
    # no daemon: only what nethubctl knows itself, quietly
    gone = os.path.join(tmpdir(), "none.sock")
    assert complete(gone, "") == {"show", "fdb", "events", "top", "capture",
                                  "metrics", "help"}


def notify_socket(abstract=False):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = "nethub-test-notify-%d" % os.getpid()
        s.bind("\0" + name)
        addr = "@" + name
    else:
        addr = os.path.join(tmpdir(), "notify.sock")
        s.bind(addr)
    s.settimeout(30)
    at_cleanup(s.close)
    return s, addr


def test_ready_and_stopping_on_notify_socket():
    for abstract in (False, True):
        s, addr = notify_socket(abstract)
        port = free_port()
        d = Nethubd("-netdev", "socket,id=vms,listen=127.0.0.1:%d" % port,
                    env=dict(os.environ, NOTIFY_SOCKET=addr))
        d.start(wait=False)
        assert s.recv(4096) == b"READY=1"
        # ready means serving
        assert nethub.tcp_listening(port), "READY=1 before the netdev serves"
        d.proc.send_signal(signal.SIGTERM)
        assert s.recv(4096) == b"STOPPING=1"
        assert d.proc.wait(30) == 0
    # an unusable NOTIFY_SOCKET is a warning; nethubd runs all the same
    d = Nethubd("-netdev", "socket,id=vms,listen=127.0.0.1:%d" % free_port(),
                env=dict(os.environ, NOTIFY_SOCKET="relative/path")).start()
    poll(lambda: "NOTIFY_SOCKET 'relative/path' is not" in d.log(), 10,
         what="the warning")


def activated(listener, *args):
    """nethubd with @listener as fd 3 and LISTEN_FDS=1 for its own pid."""
    fd = listener.fileno()
    # the shell moves it to fd 3 and execs nethubd in its own process
    move = "" if fd == 3 else " 3<&%d %d<&-" % (fd, fd)
    argv = ["sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"' + move,
            "sh", nethub.nethubd_path(), "--io", nethub.IO] + list(args)
    proc = subprocess.Popen(argv, pass_fds=(fd,), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)

    def stop():
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    at_cleanup(stop)
    return proc


def test_socket_activation_serves_the_passed_qmp_socket():
    # in /run, as the socket unit's: nethubd's sandbox keeps it from
    # writing under /run but for the passed socket's directory
    rundir = tempfile.mkdtemp(prefix="nethub-test-", dir="/run")
    at_cleanup(lambda: shutil.rmtree(rundir, ignore_errors=True))
    path = os.path.join(rundir, "qmp.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(8)
    at_cleanup(listener.close)
    for generation in (1, 2):
        # a client may connect before nethubd runs (the socket is held
        # open across a restart): it is greeted once nethubd serves
        early = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        at_cleanup(early.close)
        early.settimeout(30)
        early.connect(path)
        proc = activated(listener, "-netdev", "socket,id=g%d,listen="
                         "127.0.0.1:%d" % (generation, free_port()))
        greeting = early.recv(4096)
        assert greeting.startswith(b'{"QMP"'), greeting
        c = qmplib.QMPClient.connect(path)
        at_cleanup(c.close)
        c.negotiate()
        ids = [n["id"] for n in c.cmd("query-netdevs")]
        assert ids == ["g%d" % generation], ids
        # a vhost-user chardev made at run time beside the QMP socket
        vpath = os.path.join(rundir, "vm%d.sock" % generation)
        c.cmd("chardev-add", id="c", backend={"type": "socket", "data": {
            "addr": {"type": "unix", "data": {"path": vpath}},
            "server": True, "wait": False}})
        assert os.path.exists(vpath), "no %s" % vpath
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert "QMP on unix:%s" % path in out, out
        assert os.path.exists(path), "nethubd removed the passed socket"
    # what is passed must be a listening stream socket
    dgram = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    at_cleanup(dgram.close)
    proc = activated(dgram, "-netdev", "socket,id=x,listen=127.0.0.1:%d"
                     % free_port())
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1 and \
        "nethubd: LISTEN_FDS: fd 3 is not a stream socket" in out, out


def test_config_if_present_reads_the_file_only_if_it_exists():
    d = tmpdir()
    conf = os.path.join(d, "nethubd.conf")
    port = free_port()
    with open(conf, "w") as f:
        f.write('[{"type": "socket", "id": "fromconf", '
                '"listen": "127.0.0.1:%d"}]' % port)
    n = Nethubd("--config-if-present", conf, qmp=True).start()
    assert [x["id"] for x in n.qmp_cmd("query-netdevs")] == ["fromconf"]
    n.stop()
    n = Nethubd("--config-if-present", os.path.join(d, "absent.conf"),
                "-netdev", "socket,id=only,listen=127.0.0.1:%d" % free_port(),
                qmp=True).start()
    assert [x["id"] for x in n.qmp_cmd("query-netdevs")] == ["only"]
    with open(conf, "w") as f:
        f.write("[{")
    rc, _, err = nethub.run_cli("--config-if-present", conf)
    assert rc == 1 and err.startswith("nethubd: --config %s" % conf), err


if __name__ == "__main__":
    nethub.main(globals())
