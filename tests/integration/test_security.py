#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_security.py - what a QMP client cannot make nethubd (root) do

--user nobody: the daemon runs as nobody with CAP_NET_ADMIN and
CAP_NET_RAW only, still makes taps, and cannot write where nobody cannot;
the seccomp filter and Landlock are on by default and off with
--sandbox off; capture files: no symbolic link, no overwrite without
overwrite=on, no kernel setting (/proc/sys) even with the sandbox off;
--files-dir confines captures and replays; replays open no symbolic link
and only regular files.  Needs root.
"""

import os
import socket
import stat
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
import netns  # noqa: E402
from nethub import Nethubd, free_port, poll, run_cli, tmpdir  # noqa: E402
from qmp import assert_error, assert_ok  # noqa: E402

NOBODY = 65534
CAP_NET_ADMIN = 12
CAP_NET_RAW = 13
NET_CAPS = (1 << CAP_NET_ADMIN) | (1 << CAP_NET_RAW)
PCAP_MAGIC = struct.pack("<I", 0xA1B2C3D4)


def daemon(*extra):
    """nethubd with socket netdev "vms", QMP, @extra options; .c a client"""
    d = Nethubd("-netdev", "socket,id=vms,listen=127.0.0.1:%d" % free_port(),
                *extra, qmp=True)
    return d


def started(d):
    d.start()
    d.c = d.qmp()
    return d


def status(pid):
    """/proc/PID/status as a dict of strings"""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def add_capture(d, cid, path, **kw):
    args = {"qom-type": "filter-dump", "id": cid, "netdev": "vms",
            "file": path}
    args.update(kw)
    return d.c.execute("object-add", args)


def captures(d):
    return sorted(c["id"] for c in d.c.cmd("query-captures"))


def refused(d, path, why, **kw):
    """object-add of a capture to @path fails naming it and @why; nothing
    else changes"""
    before = captures(d)
    assert_error(add_capture(d, "bad", path, **kw),
                 desc="net dump: can't open %s: %s" % (path, why))
    assert captures(d) == before


def write_pcap(path):
    """A one-frame Ethernet capture file"""
    frame = bytes(6 * [0xff]) + bytes([2, 0, 0, 0, 0, 1]) + b"\x88\xb5" \
        + bytes(50)
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        f.write(struct.pack("<IIII", 1700000000, 0, len(frame), len(frame)))
        f.write(frame)
    return path


# ---------------------------------------------------------------- --user

def test_user_nobody_keeps_only_the_network_capabilities():
    d = daemon("--user", "nobody")
    os.chown(d.dir, NOBODY, NOBODY)     # the stats file is written as nobody
    started(d)
    st = status(d.pid)
    assert st["Uid"].split() == [str(NOBODY)] * 4, st["Uid"]
    assert st["Gid"].split() == [str(NOBODY)] * 4, st["Gid"]
    assert int(st["CapEff"], 16) == NET_CAPS, st["CapEff"]
    assert int(st["CapPrm"], 16) == NET_CAPS, st["CapPrm"]
    assert int(st["CapBnd"], 16) == NET_CAPS, st["CapBnd"]
    assert int(st["CapInh"], 16) == 0 and int(st["CapAmb"], 16) == 0, st

    # CAP_NET_ADMIN: a tap is still made
    ifname = netns.link_name("u")
    d.c.cmd("netdev_add", type="tap", id="t1", ifname=ifname, script="no",
            downscript="no")
    assert netns.link_exists(ifname)
    assert d.state()["netdevs"][-1]["id"] == "t1"

    # a directory only root may write: refused, nothing else disturbed
    private = tmpdir()
    os.chmod(private, 0o700)
    path = os.path.join(private, "x.pcap")
    refused(d, path, "Permission denied")
    assert not os.path.exists(path)
    # a directory nobody may write: fine
    open_dir = tmpdir()
    os.chown(open_dir, NOBODY, NOBODY)
    path = os.path.join(open_dir, "ok.pcap")
    assert_ok(add_capture(d, "ok", path))
    assert os.stat(path).st_uid == NOBODY
    d.c.cmd("netdev_del", id="t1")
    poll(lambda: not netns.link_exists(ifname), 5, what="the tap to go")
    d.stop_clean()


def test_user_errors():
    rc, _, err = run_cli("--user", "no-such-user-here", "-netdev", "none,id=n")
    assert rc == 1 and err == "nethubd: --user no-such-user-here: no such " \
        "user 'no-such-user-here'\n", err
    rc, _, err = run_cli("--user", "nobody:no-such-group", "-netdev",
                         "none,id=n")
    assert rc == 1 and "no such group 'no-such-group'" in err, err
    rc, _, err = run_cli("--sandbox", "maybe", "-netdev", "none,id=n")
    assert rc == 1 and err == "nethubd: --sandbox: expects on or off, got " \
        "'maybe'\n", err
    rc, _, err = run_cli("--files-dir", "/no/such/dir", "-netdev",
                         "none,id=n")
    assert rc == 1 and err == "nethubd: --files-dir /no/such/dir: No such " \
        "file or directory\n", err


# ---------------------------------------------------------------- sandbox

def test_sandbox_on_by_default_off_on_request():
    d = started(daemon())
    st = status(d.pid)
    assert st["Seccomp"] == "2" and st["NoNewPrivs"] == "1", st
    assert "sandbox: seccomp allowlist" in d.log()
    # Landlock: /etc is not writable, even for root
    path = "/etc/nethub-test-%d.pcap" % os.getpid()
    refused(d, path, "Permission denied")
    assert not os.path.exists(path)
    # what a switch does still works: a capture in a data directory
    ok = os.path.join(tmpdir(), "ok.pcap")
    assert_ok(add_capture(d, "ok", ok))
    d.stop_clean()
    with open(ok, "rb") as f:
        assert f.read(4) == PCAP_MAGIC

    d = started(daemon("--sandbox", "off"))
    st = status(d.pid)
    assert st["Seccomp"] == "0" and st["NoNewPrivs"] == "0", st
    d.stop_clean()


def test_allow_run_leaves_the_sandbox_off():
    d = started(daemon("--allow-run"))
    assert status(d.pid)["Seccomp"] == "0"
    assert "sandbox: --allow-run: no seccomp filter" in d.log()
    d.stop_clean()


def test_sockets_added_at_run_time_in_a_data_directory():
    """With the sandbox on, QMP can still add what makes a socket file in a
    data directory that is not the daemon's own (a vhost-user chardev, a
    stream server, a vdeserver= directory), remove them, and a socket in
    /etc stays refused."""
    d = started(daemon())
    work = tmpdir()
    chardev = os.path.join(work, "vm1.sock")
    assert_ok(d.c.execute("chardev-add", {"id": "c1", "backend": {
        "type": "socket", "data": {
            "addr": {"type": "unix", "data": {"path": chardev}},
            "server": True, "wait": False}}}))
    stream = os.path.join(work, "st.sock")
    assert_ok(d.c.execute("netdev_add", {
        "type": "stream", "id": "st", "server": True,
        "addr": {"type": "unix", "path": stream}}))
    vde = os.path.join(work, "vde")
    assert_ok(d.c.execute("netdev_add", {"type": "vde", "id": "vs",
                                         "vdeserver": vde}))
    for path in (chardev, stream, os.path.join(vde, "ctl")):
        assert stat.S_ISSOCK(os.lstat(path).st_mode), path
    assert_ok(d.c.execute("netdev_del", {"id": "st"}))
    assert_ok(d.c.execute("netdev_del", {"id": "vs"}))
    assert_ok(d.c.execute("chardev-remove", {"id": "c1"}))
    for path in (chardev, stream, os.path.join(vde, "ctl")):
        assert not os.path.exists(path), path + " left behind"
    etc = "/etc/nethub-test-%d.sock" % os.getpid()
    r = d.c.execute("netdev_add", {"type": "stream", "id": "bad",
                                   "server": True,
                                   "addr": {"type": "unix", "path": etc}})
    assert "error" in r and "Permission denied" in r["error"]["desc"], r
    assert not os.path.exists(etc)
    d.stop_clean()


# ---------------------------------------------------------------- capture files

def test_capture_refuses_a_symlink():
    d = started(daemon())
    tmp = tmpdir()
    target = os.path.join(tmp, "precious")
    with open(target, "w") as f:
        f.write("keep me\n")
    link = os.path.join(tmp, "link.pcap")
    os.symlink(target, link)
    refused(d, link, "is a symbolic link (not followed)")
    refused(d, link, "is a symbolic link (not followed)", overwrite=True)
    # a dangling one would be created through: refused too
    dangling = os.path.join(tmp, "dangling.pcap")
    os.symlink(os.path.join(tmp, "made"), dangling)
    refused(d, dangling, "is a symbolic link (not followed)")
    assert not os.path.exists(os.path.join(tmp, "made"))
    with open(target) as f:
        assert f.read() == "keep me\n"
    d.stop_clean()


def test_capture_does_not_overwrite_unless_asked():
    d = started(daemon())
    path = os.path.join(tmpdir(), "old.pcap")
    with open(path, "w") as f:
        f.write("yesterday's capture\n")
    refused(d, path, "file exists (overwrite=on replaces it)")
    with open(path) as f:
        assert f.read() == "yesterday's capture\n"
    assert_ok(add_capture(d, "c", path, overwrite=True))
    d.c.cmd("object-del", id="c")
    with open(path, "rb") as f:
        data = f.read()
    assert data.startswith(PCAP_MAGIC) and b"yesterday" not in data, data
    d.stop_clean()

    # -object takes it too, as on/off
    d = started(daemon("-object", "filter-dump,id=o,netdev=vms,file=%s,"
                       "overwrite=on" % path))
    assert captures(d) == ["o"]
    d.stop_clean()
    rc, _, err = run_cli("-netdev", "socket,id=vms,listen=127.0.0.1:%d"
                         % free_port(), "-object",
                         "filter-dump,id=o,netdev=vms,file=%s" % path)
    assert rc == 1 and "net dump: can't open %s: file exists " \
        "(overwrite=on replaces it)" % path in err, err


def test_capture_refuses_kernel_settings_even_without_sandbox():
    host = "/proc/sys/kernel/hostname"
    with open(host) as f:
        before = f.read()
    for opts in ((), ("--sandbox", "off")):
        d = started(daemon(*opts))
        refused(d, host, "not a regular file or FIFO")
        refused(d, host, "not a regular file or FIFO", overwrite=True)
        refused(d, "/sys/kernel/profiling", "not a regular file or FIFO",
                overwrite=True)
        refused(d, "/dev/null", "not a regular file or FIFO",
                overwrite=True)
        d.stop_clean()
    with open(host) as f:
        assert f.read() == before


def test_capture_to_a_fifo_and_not_to_a_socket():
    d = started(daemon())
    tmp = tmpdir()
    fifo = os.path.join(tmp, "fifo")
    os.mkfifo(fifo)
    assert_ok(add_capture(d, "f", fifo))
    r = os.open(fifo, os.O_RDONLY)
    nethub.at_cleanup(lambda: os.close(r))
    poll(lambda: os.read(r, 4) == PCAP_MAGIC, 10, what="the pcap header")
    sock = os.path.join(tmp, "sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(sock)
    nethub.at_cleanup(s.close)
    refused(d, sock, "not a regular file or FIFO")
    d.stop_clean()


# ---------------------------------------------------------------- --files-dir

def test_files_dir_confines_captures_and_replays():
    root = tmpdir()
    outside = tmpdir()
    os.mkdir(os.path.join(root, "sub"))
    os.symlink(outside, os.path.join(root, "out"))
    write_pcap(os.path.join(root, "in.pcap"))
    write_pcap(os.path.join(outside, "away.pcap"))
    d = started(daemon("--files-dir", root))
    assert "files written only in %s" % os.path.realpath(root) in d.log()

    # relative names are taken from DIR; absolute ones must be beneath it
    assert_ok(add_capture(d, "rel", "sub/rel.pcap"))
    assert os.path.exists(os.path.join(root, "sub", "rel.pcap"))
    assert_ok(add_capture(d, "abs", os.path.join(root, "abs.pcap")))
    assert os.path.exists(os.path.join(root, "abs.pcap"))
    beyond = "outside --files-dir %s" % os.path.realpath(root)
    refused(d, os.path.join(outside, "x.pcap"), beyond)
    refused(d, "../x.pcap", beyond + " (or across a mount point)")
    refused(d, "sub/../../x.pcap", beyond + " (or across a mount point)")
    refused(d, "out/x.pcap", "a directory on the path is a symbolic link "
            "(--files-dir follows none)")
    assert os.listdir(outside) == ["away.pcap"]

    # replays: the same rules
    d.c.cmd("netdev_add", type="pcap", id="r1", file="in.pcap", rate=0)
    for path, why in [(os.path.join(outside, "away.pcap"), beyond),
                      ("out/away.pcap", "a directory on the path is a "
                       "symbolic link (--files-dir follows none)")]:
        r = d.c.execute("netdev_add", {"type": "pcap", "id": "r2",
                                       "file": path})
        assert_error(r, desc="file=%s: cannot open: %s" % (path, why))
    assert [n["id"] for n in d.state()["netdevs"]] == ["vms", "r1"]
    d.stop_clean()


def test_replay_refuses_symlinks_and_special_files():
    tmp = tmpdir()
    real = write_pcap(os.path.join(tmp, "real.pcap"))
    link = os.path.join(tmp, "link.pcap")
    os.symlink(real, link)
    fifo = os.path.join(tmp, "fifo")
    os.mkfifo(fifo)
    d = started(daemon())
    for path, why in [(link, "is a symbolic link (not followed)"),
                      (fifo, "not a regular file"),
                      ("/dev/zero", "not a regular file"),
                      ("/proc/self/environ", "not a regular file")]:
        r = d.c.execute("netdev_add", {"type": "pcap", "id": "r",
                                       "file": path})
        assert_error(r, desc="file=%s: cannot open: %s" % (path, why))
    d.c.cmd("netdev_add", type="pcap", id="r", file=real, rate=0)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    d.stop_clean()


if __name__ == "__main__":
    nethub.main(globals())
