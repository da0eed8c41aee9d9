#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_rootless.py - nethubd run by an ordinary user (docs/install.md)

A system user made for the test (useradd, if missing) runs nethubd and
nethubctl through setpriv, with no capabilities and its own
XDG_RUNTIME_DIR.  The default configuration puts the QMP socket under
$XDG_RUNTIME_DIR/nethub/ and nethubctl finds it there; socket netdevs,
vhost-user chardevs in the run directory, pcap replay, stream servers and
the user netdev with a host forward work; a tap that
would have to be created and a bridge that would have to be joined are
refused with a message pointing at what works instead, and a tap made
for the user beforehand (ip tuntap add ... user NAME) is taken.
Needs root to set up (useradd, setpriv, ip tuntap).
"""

import atexit
import os
import pwd
import shutil
import socket
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
import qmp as qmplib  # noqa: E402
from nethub import (BROADCAST, TcpPeer, at_cleanup, eth, free_port,  # noqa
                    poll)
from test_nethubctl import ctl_path  # noqa: E402

USER = "nethub-rootless"
DEFAULT_PORT = 5555     # of the default configuration (switch/daemon.h)
VHOST_USER_GET_FEATURES = 1
VHOST_USER_VERSION = 0x1
VHOST_USER_REPLY = 0x4


def user():
    """The test user, made if missing (and removed when the test ends):
    (uid, gid)."""
    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", USER], check=True)
        at_cleanup(lambda: subprocess.run(["userdel", USER]))
        pw = pwd.getpwnam(USER)
    return pw.pw_uid, pw.pw_gid


_programs = {}


def program(path):
    """@path copied where the test user may run it (the build tree may be
    in a directory only root can enter)."""
    if not _programs:
        d = tempfile.mkdtemp(prefix="nethub-rootless-bin-")
        os.chmod(d, 0o755)
        atexit.register(shutil.rmtree, d, True)
        _programs[""] = d
    if path not in _programs:
        copy = os.path.join(_programs[""], os.path.basename(path))
        shutil.copy(path, copy)
        os.chmod(copy, 0o755)
        _programs[path] = copy
    return _programs[path]


def user_dir(uid, gid, mode=0o700):
    d = tempfile.mkdtemp(prefix="nethub-rootless-")
    os.chown(d, uid, gid)
    os.chmod(d, mode)
    at_cleanup(lambda: subprocess.run(["rm", "-rf", d]))
    return d


def as_user(argv, xdg, **kw):
    """@argv run as the test user, without any capability."""
    uid, gid = user()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "XDG_RUNTIME_DIR": xdg, "HOME": xdg}
    return ["setpriv", "--reuid", str(uid), "--regid", str(gid),
            "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
            "--"] + argv, env


class UserDaemon:
    """nethubd started as the test user with $XDG_RUNTIME_DIR=@xdg."""

    def __init__(self, xdg, *args):
        self.xdg = xdg
        argv, env = as_user([program(nethub.nethubd_path()), "--io",
                             nethub.IO] + list(args), xdg)
        self.log_path = os.path.join(nethub.tmpdir(), "log")
        self.logf = open(self.log_path, "w")
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        at_cleanup(self.stop)

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        """SIGTERM; the exit status (0 after a clean shutdown)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.logf.closed:
            self.logf.close()
        return self.proc.returncode

    def stop_clean(self):
        status = self.stop()
        assert status == 0, "nethubd exit status %s:\n%s" % (status,
                                                              self.log())


def start_default(xdg):
    """The default configuration, as the user: QMP under xdg/nethub."""
    if not nethub.tcp_port_free(DEFAULT_PORT):
        raise AssertionError("127.0.0.1:5555 is in use by another process; "
                             "the default configuration cannot be tested")
    d = UserDaemon(xdg)
    path = os.path.join(xdg, "nethub", "qmp.sock")
    poll(lambda: os.path.exists(path) or d.proc.poll() is not None, 20,
         what="the QMP socket under XDG_RUNTIME_DIR")
    assert d.proc.poll() is None, "nethubd exited:\n" + d.log()
    return d, path


def qmp_client(path):
    c = qmplib.QMPClient.connect(path)
    c.negotiate()
    at_cleanup(c.close)
    return c


def test_default_config_serves_qmp_under_xdg_runtime_dir():
    uid, gid = user()
    xdg = user_dir(uid, gid)
    d, path = start_default(xdg)
    st = os.stat(path)
    assert st.st_uid == uid, "socket owned by %d" % st.st_uid
    assert st.st_mode & 0o777 == 0o600, oct(st.st_mode)
    assert os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700
    # nethubctl, as the same user, finds the socket without -s
    argv, env = as_user([program(ctl_path()), "show"], xdg)
    p = subprocess.run(argv, env=env, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, "nethubctl show: %s" % p.stderr
    assert "vms" in p.stdout, p.stdout
    # another user is refused by the socket's mode
    other = user_dir(uid, gid)
    argv, env = as_user([program(ctl_path()), "-s", path, "-t", "5",
                         "show"], other)
    argv = ["setpriv", "--reuid", "65534", "--regid", "65534",
            "--clear-groups", "--"] + argv[argv.index("--") + 1:]
    p = subprocess.run(argv, env=env, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode != 0 and "ermission denied" in p.stderr, \
        (p.returncode, p.stderr)
    d.stop_clean()
    assert not os.path.exists(path), "the QMP socket file is left"


def test_socket_vhost_user_pcap_stream_and_user_need_no_privilege():
    uid, gid = user()
    xdg = user_dir(uid, gid)
    data = user_dir(uid, gid, 0o755)
    port = free_port()
    d = UserDaemon(xdg, "-netdev",
                   "socket,id=vms,listen=127.0.0.1:%d" % port,
                   "-qmp", "unix:%s/qmp.sock" % xdg)
    qpath = os.path.join(xdg, "qmp.sock")
    poll(lambda: os.path.exists(qpath) or d.proc.poll() is not None, 20,
         what="the QMP socket")
    assert d.proc.poll() is None, "nethubd exited:\n" + d.log()
    c = qmp_client(qpath)
    peer = TcpPeer(port, name="peer")
    poll(lambda: nethub.tcp_listening(port), 5)

    # vhost-user: a chardev listening in the user's run directory
    vpath = os.path.join(xdg, "vm1.sock")
    c.cmd("chardev-add", id="c1", backend={"type": "socket", "data": {
        "addr": {"type": "unix", "data": {"path": vpath}},
        "server": True, "wait": False}})
    c.cmd("netdev_add", type="vhost-user", id="v1", chardev="c1")
    assert os.stat(vpath).st_uid == uid
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(vpath)
    s.sendall(struct.pack("<III", VHOST_USER_GET_FEATURES,
                          VHOST_USER_VERSION, 0))
    req, flags, size = struct.unpack("<III", s.recv(12))
    assert req == VHOST_USER_GET_FEATURES and \
        flags & VHOST_USER_REPLY and size == 8, (req, flags, size)
    features = struct.unpack("<Q", s.recv(8))[0]
    assert features & (1 << 32), "no VIRTIO_F_VERSION_1: %#x" % features
    s.close()

    # pcap replay of a file the user can read
    frames = [eth(BROADCAST, nethub.mac_for(9), b"replayed %d" % i)
              for i in range(3)]
    pcap = os.path.join(data, "in.pcap")
    with open(pcap, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000, i * 1000, len(fr),
                                len(fr)))
            f.write(fr)
    os.chmod(pcap, 0o644)
    poll(lambda: len(c.cmd("query-netdevs")[0]["ports"]) == 1, 10,
         what="the peer accepted")
    c.cmd("netdev_add", type="pcap", id="r", file=pcap)
    got = [peer.expect_frame() for _ in frames]
    assert got == frames, got

    # stream: a unix server in the user's run directory, its file the
    # user's, a client's frame reaching the socket peer
    spath = os.path.join(xdg, "stream.sock")
    c.cmd("netdev_add", type="stream", id="st", server=True,
          addr={"type": "unix", "path": spath})
    assert os.stat(spath).st_uid == uid
    sc = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sc.settimeout(10)
    sc.connect(spath)
    fr = eth(BROADCAST, nethub.mac_for(10), b"from a stream client")
    sc.sendall(struct.pack(">I", len(fr)) + fr)
    assert peer.expect_frame() == fr
    sc.close()

    # user: slirp with a host forward bound by the unprivileged daemon
    fport = free_port()
    c.cmd("netdev_add", type="user", id="u",
          hostfwd=[{"str": "tcp:127.0.0.1:%d-:22" % fport}])
    assert nethub.tcp_listening(fport), "the hostfwd port is not bound"
    d.stop_clean()


def test_tap_and_bridge_say_they_need_root_and_what_works_instead():
    uid, gid = user()
    xdg = user_dir(uid, gid)
    d = UserDaemon(xdg, "-netdev", "socket,id=vms,listen=127.0.0.1:%d"
                   % free_port(), "-qmp", "unix:%s/qmp.sock" % xdg)
    qpath = os.path.join(xdg, "qmp.sock")
    poll(lambda: os.path.exists(qpath) or d.proc.poll() is not None, 20,
         what="the QMP socket")
    assert d.proc.poll() is None, "nethubd exited:\n" + d.log()
    c = qmp_client(qpath)
    tag = "%x" % (os.getpid() & 0xffff)

    r = c.execute("netdev_add", {"type": "tap", "id": "t0"})
    desc = r.get("error", {}).get("desc", "")
    assert "needs CAP_NET_ADMIN" in desc and \
        "ip tuntap add dev NAME mode tap user %s" % USER in desc and \
        "ifname=NAME" in desc, r

    br = "nhrl-br" + tag
    subprocess.run(["ip", "link", "add", br, "type", "bridge"], check=True)
    at_cleanup(lambda: subprocess.run(["ip", "link", "del", br]))
    r = c.execute("netdev_add", {"type": "bridge", "id": "b0", "br": br})
    desc = r.get("error", {}).get("desc", "")
    assert "joining bridge '%s' needs CAP_NET_ADMIN" % br in desc and \
        "helper=" in desc and "--allow-run" in desc, r

    # the alternative: a persistent tap made for the user by root
    tap = "nhrl-tap" + tag
    subprocess.run(["ip", "tuntap", "add", "dev", tap, "mode", "tap",
                    "user", USER], check=True)
    at_cleanup(lambda: subprocess.run(["ip", "link", "del", tap]))
    c.cmd("netdev_add", type="tap", id="t1", ifname=tap, script="no",
          downscript="no")
    nd = [n for n in c.cmd("query-netdevs") if n["id"] == "t1"]
    assert nd and nd[0]["type"] == "tap", nd
    # a tap of another user is refused, naming the owner problem
    other = "nhrl-oth" + tag
    subprocess.run(["ip", "tuntap", "add", "dev", other, "mode", "tap",
                    "user", "nobody"], check=True)
    at_cleanup(lambda: subprocess.run(["ip", "link", "del", other]))
    r = c.execute("netdev_add", {"type": "tap", "id": "t2",
                                 "ifname": other, "script": "no",
                                 "downscript": "no"})
    desc = r.get("error", {}).get("desc", "")
    assert "belongs to another user or group" in desc, r
    d.stop_clean()


if __name__ == "__main__":
    nethub.main(globals())
