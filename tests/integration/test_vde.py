#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_vde.py - the vde netdev: a client of vde_switch through libvdeplug,
and vdeserver=DIR, nethub as a VDE switch for vde_plug, QEMU's -netdev vde
and a raw VDE client written here (VdePeer) that can also misbehave.

VDE's switch protocol (vdeplug4): a stream connection to DIR/ctl carries
one request (magic 0xfeedface, version 3, type, the sockaddr_un of the
client's datagram socket, a description); the switch answers with the
sockaddr_un of its datagram socket for the port; then one frame per
datagram.  vde_plug without a second argument speaks VDE's stream format
on stdin/stdout: a 2-byte big-endian length, then the frame.

Needs vde2 (vde_switch, vde_plug) and qemu-system-x86_64 (run as -M none:
no guest).
"""

import grp
import os
import select
import shutil
import socket
import stat
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
import netns  # noqa: E402
from nethub import (BROADCAST, DgramPeer, Nethubd, Peer, UdpPeer,  # noqa
                    assert_frame, at_cleanup, free_port, poll, run_cli,
                    tmpdir)

VDE_MAGIC = 0xfeedface
SUN_LEN = 110               # sizeof(struct sockaddr_un)
VDE_FRAME_MAX = 9216 + 18   # VDE's MTU + Ethernet + 802.1Q headers


def sockaddr_un(path):
    """struct sockaddr_un as VDE sends it: family, then the path padded."""
    p = path.encode()
    return struct.pack("=H", socket.AF_UNIX) + p + b"\0" * (108 - len(p))


def vde_request(path, descr=b"test", magic=VDE_MAGIC, version=3, rtype=0):
    return struct.pack("=III", magic, version, rtype) + \
        sockaddr_un(path) + descr


class VdePeer(DgramPeer):
    """A VDE client written with sockets: asks nethub (or vde_switch) for
    a port, then sends and receives one frame per datagram."""

    def __init__(self, sockdir, name="vde", mac=None, descr=b"test"):
        self.dir = tmpdir("nethub-vdepeer-")
        self.path = os.path.join(self.dir, "data")
        d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        d.bind(self.path)
        ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ctl.settimeout(10)
        ctl.connect(os.path.join(sockdir, "ctl"))
        ctl.sendall(vde_request(self.path, descr))
        reply = b""
        while len(reply) < SUN_LEN:
            chunk = ctl.recv(SUN_LEN - len(reply))
            assert chunk, "the switch closed the control connection"
            reply += chunk
        self.ctl = ctl
        self.switch_path = reply[2:].split(b"\0", 1)[0].decode()
        d.connect(self.switch_path)
        super().__init__(d, None, name, mac)

    def close(self):
        if not self.closed:
            self.ctl.close()
        super().close()


class VdePlug(Peer):
    """vde_plug on stdin/stdout: VDE's stream format, 2-byte lengths."""

    def __init__(self, url, name="vde_plug", mac=None):
        super().__init__()
        self.name = name
        self.mac = mac or nethub.mac_for(next(nethub._seq))
        self.proc = subprocess.Popen(["vde_plug", url],
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        at_cleanup(self.close)
        self._start_reader()

    def _recv_loop(self):
        buf = b""
        fd = self.proc.stdout.fileno()
        while True:
            data = os.read(fd, 65536)
            if not data:
                return
            buf += data
            while len(buf) >= 2:
                (n,) = struct.unpack(">H", buf[:2])
                if len(buf) < 2 + n:
                    break
                self._got(buf[2:2 + n])
                buf = buf[2 + n:]

    def send(self, frame):
        self.proc.stdin.write(struct.pack(">H", len(frame)) + frame)
        self.proc.stdin.flush()

    def close(self):
        if self.closed:
            return
        self.closed = True
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class VdeSwitch:
    """vde_switch in the foreground on a private directory, killed at the
    end of the test."""

    def __init__(self):
        assert shutil.which("vde_switch"), "vde_switch is not installed"
        self.dir = os.path.join(tmpdir("nethub-vdesw-"), "sw")
        self.proc = subprocess.Popen(["vde_switch", "-s", self.dir],
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        at_cleanup(self.close)
        poll(lambda: os.path.exists(os.path.join(self.dir, "ctl")), 10,
             what="vde_switch's control socket")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def vde_server(*extra, mode=None, group=None):
    """nethubd with vde netdev "sw" serving in a fresh directory (.vde_dir)
    and QMP."""
    sockdir = os.path.join(tmpdir("nethub-vdesrv-"), "sw")
    spec = "vde,id=sw,vdeserver=%s" % sockdir
    if mode is not None:
        spec += ",mode=%s" % mode
    if group is not None:
        spec += ",group=%s" % group
    d = Nethubd("-netdev", spec, *extra, qmp=True).start()
    d.vde_dir = sockdir
    return d


def wait_ports(d, nid, n):
    return d.wait_state(lambda st: len(nethub.ports(st, nid)) == n,
                        what="%d ports on %s" % (n, nid))


def netdev_info(d, nid):
    for nd in d.qmp_cmd("query-netdevs"):
        if nd["id"] == nid:
            return nd
    raise AssertionError("no netdev %s" % nid)


def flush(sender, receivers):
    """A barrier from @sender; each receiver forgets what came before it."""
    token = ("FLUSH %d" % next(nethub._seq)).encode()
    sender.send(nethub.eth(BROADCAST, sender.mac, token,
                           ethertype=nethub.ETHERTYPE_BARRIER))
    for r in receivers:
        while True:
            item = r._next(nethub.FRAME_TIMEOUT, True)
            assert item is not None, "%s: no flush from %s" % (r.name,
                                                               sender.name)
            if item[0] == "barrier" and item[1][14:] == token:
                break


def wait_heard(d, peers, timeout=15.0):
    """Broadcast from each of @peers until the hub has learned its MAC (a
    client process such as vde_plug is plugged in some time after it
    started), then flush what that left in everyone's queue."""
    deadline = time.monotonic() + timeout
    for p in peers:
        while not nethub.fdb_port(d.state(), p.mac):
            assert time.monotonic() < deadline, \
                "%s never reached the hub" % p.name
            p.send_frame(BROADCAST, "hello from %s" % p.name)
            time.sleep(0.1)
    for p in peers:
        flush(p, [x for x in peers if x is not p])


def two_way(x, y, *others):
    """A broadcast from @x reaches @y (and @others), @y's answer to x's
    MAC reaches @x."""
    f = x.send_frame(BROADCAST, "%s to all" % x.name)
    for r in (y,) + others:
        assert_frame(r.expect_frame(), f, r.name)
    g = y.send_frame(x.mac, "%s to %s" % (y.name, x.name))
    assert_frame(x.expect_frame(), g, x.name)


# ---------------------------------------------------------------- server

def test_vde_server_ports_per_client_and_vde_plug_interop():
    gid = grp.getgrnam("daemon").gr_gid
    d = vde_server(mode="0770", group="daemon")
    st = os.stat(os.path.join(d.vde_dir, "ctl"))
    assert stat.S_IMODE(st.st_mode) == 0o770, oct(st.st_mode)
    assert st.st_gid == gid, st
    a = VdePeer(d.vde_dir, "a")
    b = VdePlug(d.vde_dir, "plug")
    c = VdePlug("vde://" + d.vde_dir, "plug-url")
    st = wait_ports(d, "sw", 3)
    socks = [f for f in os.listdir(d.vde_dir) if f.startswith(".nethub-")]
    assert len(socks) == 3 and all(
        os.stat(os.path.join(d.vde_dir, f)).st_gid == gid for f in socks), \
        "data sockets not the group's: %r" % socks
    wait_heard(d, [a, b, c])
    assert nethub.port_names(st, "sw") == ["sw.1", "sw.2", "sw.3"], \
        nethub.port_names(st, "sw")
    two_way(a, b, c)
    two_way(b, c, a)
    two_way(c, a, b)
    info = netdev_info(d, "sw")
    assert info["info"]["mode"] == "server", info
    assert info["info"]["clients"] == 3, info
    assert {p.get("peer", "") for p in info["ports"]} >= {"test"}, info
    # a client that leaves takes its port; the others go on
    b.close()
    wait_ports(d, "sw", 2)
    two_way(a, c)


def test_vde_server_serves_qemu_vde_netdev():
    """QEMU's -netdev vde on nethub's switch, joined by a QEMU hub to a UDP
    socket netdev this test drives: frames cross QEMU into nethub."""
    d = vde_server()
    u = UdpPeer(name="qemu-udp")
    qport = free_port("udp")
    q = subprocess.Popen(
        ["qemu-system-x86_64", "-M", "none", "-nodefaults", "-nographic",
         # the UDP leg first: bound before the vde port shows on nethub
         "-netdev", "socket,id=s,udp=127.0.0.1:%d,localaddr=127.0.0.1:%d"
         % (u.port, qport),
         "-netdev", "hubport,id=h2,hubid=0,netdev=s",
         "-netdev", "vde,id=v,sock=%s" % d.vde_dir,
         "-netdev", "hubport,id=h1,hubid=0,netdev=v"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    at_cleanup(lambda: (q.poll() is None and q.kill(), q.wait()))
    u.to(qport)
    wait_ports(d, "sw", 1)
    info = netdev_info(d, "sw")
    assert info["ports"][0].get("peer", "").startswith("QEMU"), info
    a = VdePeer(d.vde_dir, "a")
    two_way(u, a)
    q.kill()
    q.wait()
    wait_ports(d, "sw", 1)   # QEMU's port went, a's stays


def test_vde_server_drops_bad_frames_and_refuses_bad_requests():
    d = vde_server()
    a = VdePeer(d.vde_dir, "a")
    b = VdePeer(d.vde_dir, "b")
    wait_ports(d, "sw", 2)
    a.send_raw(b"\x01\x02\x03")                    # shorter than Ethernet
    a.send_raw(b"\xff" * 12 + b"\x88\xb5" + b"x" * VDE_FRAME_MAX)  # too long
    # requests that are not VDE's, or name a socket that is not one
    ctl = os.path.join(d.vde_dir, "ctl")
    notsock = os.path.join(tmpdir("nethub-vdebad-"), "file")
    open(notsock, "w").close()
    bad = [vde_request(a.path, magic=0x12345678),
           vde_request(a.path, version=2),
           vde_request(a.path, rtype=7),
           vde_request(notsock),
           b"\xce\xfa\xed\xfe\x03"]                  # cut short, then EOF
    for req in bad:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(ctl)
        s.sendall(req)
        if len(req) < 20:
            s.shutdown(socket.SHUT_WR)
        assert s.recv(200) == b"", "refused request got an answer"
        s.close()
    st = d.wait_state(
        lambda st: nethub.rx_drops(nethub.port(st, "sw.1"),
                                   "malformed") == 1 and
        nethub.rx_drops(nethub.port(st, "sw.1"), "oversize") == 1,
        what="sw.1 counting one malformed and one oversize frame")
    info = netdev_info(d, "sw")
    assert info["info"]["refused"] == 4, info   # the cut one just ended
    assert len(info["ports"]) == 2, info
    two_way(a, b)                                # nothing else disturbed


def test_vde_server_directory_in_use_is_refused():
    d = vde_server()
    rc, out, err = run_cli("-netdev", "vde,id=x,vdeserver=%s" % d.vde_dir,
                           "--log-level", "warn")
    assert rc == 1, (rc, err)
    assert "another process is serving" in err, err
    rc, out, err = run_cli("-netdev", "vde,id=x,vdeserver=/etc/passwd")
    assert rc == 1 and "exists and is not a directory" in err, err
    rc, out, err = run_cli("-netdev", "vde,id=x,vdeserver=/tmp/x,sock=/y")
    assert rc == 1 and "vdeserver= cannot be combined with sock=" in err, \
        err
    a = VdePeer(d.vde_dir, "a")        # the first one still serves
    b = VdePeer(d.vde_dir, "b")
    two_way(a, b)


# ---------------------------------------------------------------- client

def test_vde_client_joins_vde_switch_and_survives_its_end():
    sw = VdeSwitch()
    port = free_port()
    d = Nethubd("-netdev", "vde,id=v,sock=%s" % sw.dir,
                "-netdev", "socket,id=vms,listen=127.0.0.1:%d" % port,
                qmp=True).start()
    t1 = d.attach(port)
    t2 = d.attach(port)
    p = VdePlug(sw.dir, "plug")
    r = VdePeer(sw.dir, "raw")
    wait_heard(d, [t1, t2, p, r])
    two_way(t1, p, t2, r)
    two_way(r, t1, t2, p)
    info = netdev_info(d, "v")
    assert info["info"]["connected"] is True, info
    assert info["info"]["transport"] == "native", info
    assert [x["name"] for x in info["ports"]] == ["v"], info
    # the switch goes: the netdev stays, idle, without a port
    sw.close()
    d.wait_state(lambda st: nethub.port(st, "v") is None,
                 what="port v gone with the switch")
    assert netdev_info(d, "v")["info"]["connected"] is False
    two_way(t1, t2)


def test_namespaces_behind_vde_ping_a_namespace_on_a_tap():
    """Namespace a is behind vde_switch (vde_plug2tap), which nethub's vde
    client joins; namespace c is behind nethub's own VDE switch
    (vde_plug2tap); namespace b is on a tap port of nethub.  a and c ping
    b."""
    sw = VdeSwitch()
    mine = os.path.join(tmpdir("nethub-vdesrv-"), "sw")
    ib = netns.link_name("b")
    d = Nethubd("-netdev", "vde,id=v,sock=%s" % sw.dir,
                "-netdev", "vde,id=s,vdeserver=%s" % mine,
                "-netdev", "tap,id=tb,ifname=%s,script=no,downscript=no"
                % ib).start()
    pfx = "10.213.%d" % (200 + os.getpid() % 50)
    b = netns.Netns("b")
    b.take(ib, pfx + ".2/24")
    for tag, where, addr in (("a", sw.dir, ".1"), ("c", mine, ".3")):
        n = netns.Netns(tag)
        ifname = netns.link_name(tag)
        n.popen("vde_plug2tap", "-s", where, ifname)
        poll(lambda: netns.link_exists(ifname, ns=n.name), 15,
             what="vde_plug2tap's tap in namespace %s" % tag)
        n.ip("addr", "add", pfx + addr + "/24", "dev", ifname)
        n.ip("link", "set", "dev", ifname, "up")
        n.ping_ok(pfx + ".2")
    d.wait_state(lambda st: len(nethub.ports(st, "s")) == 1,
                 what="vde_plug2tap's port on nethub's switch")


def sanitizer_build():
    with open(nethub.nethubd_path(), "rb") as f:
        return b"AddressSanitizer" in f.read()


def test_vde_client_through_libvdeplug_url():
    """vde://DIR[N] is vdeplug4's own syntax (switch port N): opened with
    libvdeplug; a sanitizer build, which cannot load its plugins, says so
    instead."""
    sw = VdeSwitch()
    port = free_port()
    spec = "vde,id=v,sock=vde://%s[5]" % sw.dir
    if sanitizer_build():
        rc, out, err = run_cli("-netdev", spec)
        assert rc == 1 and "cannot load" in err and "Sanitizer" not in \
            err.replace("AddressSanitizer build", ""), err
        return
    d = Nethubd("-netdev", spec,
                "-netdev", "socket,id=vms,listen=127.0.0.1:%d" % port,
                qmp=True).start()
    t = d.attach(port)
    r = VdePeer(sw.dir, "raw")
    wait_heard(d, [t, r])
    two_way(t, r)
    two_way(r, t)
    i = netdev_info(d, "v")["info"]
    assert i["transport"] == "libvdeplug" and i["connected"], i


def test_vde_client_errors_are_clear():
    rc, out, err = run_cli("-netdev", "vde,id=v,sock=/nonexistent/sw")
    assert rc == 1, (rc, err)
    assert "could not open VDE switch '/nonexistent/sw'" in err, err
    rc, out, err = run_cli("-netdev", "vde,id=v,port=70000")
    assert rc == 1 and "port" in err and "65535" in err, err
    rc, out, err = run_cli("-netdev", "vde,id=v,bogus=1")
    assert rc == 1 and "Parameter 'bogus' is unexpected" in err, err


if __name__ == "__main__":
    nethub.main(globals())
