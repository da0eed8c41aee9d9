#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_tap.py - the tap and bridge netdevs: host interfaces in network
namespaces made by the test, offloads on and off, software segmentation
towards a socket peer (checksums verified here), jumbo MTU and oversize
drops, carrier on set_link, scripts, taps passed with getfd, multiqueue,
Linux bridges joined directly and through a bridge helper.  Needs root,
iproute2, iputils-ping and iperf3."""

import fcntl
import json
import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
import netns  # noqa: E402
import qmp as qmplib  # noqa: E402
from nethub import Nethubd, TcpPeer, free_port, poll  # noqa: E402
from netns import Netns, link_name  # noqa: E402

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
IFF_MULTI_QUEUE = 0x0100

RATE_FLOOR = 50e6           # bit/s: far below any build, far above broken
HELPER = "/usr/lib/qemu/qemu-bridge-helper"
BRIDGE_CONF = "/etc/qemu/bridge.conf"

_subnet = [0]


def subnet():
    """A fresh 10.213.N.0/24 for the test: (prefix, ".1" addr, ".2" addr)."""
    _subnet[0] += 1
    p = "10.213.%d" % _subnet[0]
    return p, p + ".1", p + ".2"


def tap_netdev(nid, ifname, extra=""):
    return ["-netdev", "tap,id=%s,ifname=%s,script=no,downscript=no%s"
            % (nid, ifname, extra)]


def info(d, nid, st=None):
    st = st or d.state()
    nd = nethub.netdev(st, nid)
    assert nd is not None, "no netdev %s in %r" % (
        nid, [n["id"] for n in st["netdevs"]])
    return nd["info"]


def port(d, name, st=None):
    p = nethub.port(st or d.state(), name)
    assert p is not None, "no port %s" % name
    return p


def pair(extra_a="", extra_b="", qmp=False, more=()):
    """nethubd with taps "ta" and "tb", moved into namespaces a and b with
    addresses .1 and .2 of a fresh subnet."""
    ia, ib = link_name("a"), link_name("b")
    d = Nethubd(*tap_netdev("ta", ia, extra_a), *tap_netdev("tb", ib, extra_b),
                *more, qmp=qmp).start()
    net, ipa, ipb = subnet()
    a, b = Netns("a"), Netns("b")
    a.take(ia, ipa + "/24")
    b.take(ib, ipb + "/24")
    return d, a, b, ia, ib, ipa, ipb


def check_accounting(d, names):
    st = d.state()
    for n in names:
        nethub.check_port_accounting(port(d, n, st))


# ---------------------------------------------------------------- checksums

def csum(data, init=0):
    if len(data) % 2:
        data += b"\0"
    s = init + sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def ip4_csum_ok(ip):
    ihl = (ip[0] & 15) * 4
    return csum(ip[:ihl]) == 0xFFFF


def l4_csum_ok(ip, l4, proto):
    ph = ip[12:20] + struct.pack("!BBH", 0, proto, len(l4))
    return csum(l4, csum(ph)) == 0xFFFF


def l4_csum(src, dst, proto, seg):
    ph = socket.inet_aton(src) + socket.inet_aton(dst) + \
        struct.pack("!BBH", 0, proto, len(seg))
    return 0xFFFF - csum(seg, csum(ph))


def ip4(src, dst, proto, payload, ident=0):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident,
                      0x4000, 64, proto, 0, socket.inet_aton(src),
                      socket.inet_aton(dst))
    c = 0xFFFF - csum(hdr)
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


# ------------------------------------------------- a TCP receiver, by hand

class TcpSink:
    """The far end of one TCP connection, spoken frame by frame through a
    socket peer of nethub: answers the SYN, acknowledges in-order data,
    answers the FIN.  Every frame it gets is checked: no longer than the
    MTU allows, IPv4 header and TCP checksums right."""

    def __init__(self, peer, mac, ip, port, mtu=1500):
        self.peer, self.mac, self.ip, self.port = peer, mac, ip, port
        self.mtu = mtu
        self.data = bytearray()
        self.frames = 0
        self.longest = 0
        self.bad = []
        self.iss = 0x10000000
        self.rcv_nxt = None
        self.closed = False

    def _send(self, f_eth, ipsrc, tcp_fields, payload=b"", opts=b""):
        sport, dport, seq, ack, flags = tcp_fields
        off = (20 + len(opts)) // 4
        seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4,
                          flags, 65535, 0, 0) + opts + payload
        c = l4_csum(self.ip, ipsrc, 6, seg)
        seg = seg[:16] + struct.pack("!H", c) + seg[18:]
        frame = nethub.mac_bytes(f_eth) + nethub.mac_bytes(self.mac) + \
            struct.pack("!H", 0x0800) + ip4(self.ip, ipsrc, 6, seg)
        self.peer.send(frame)

    def run(self, until, timeout=60):
        deadline = time.monotonic() + timeout
        while not self.closed:
            if time.monotonic() > deadline:
                raise AssertionError("TCP sink: no FIN within %ds (%d bytes,"
                                     " %d frames)" % (timeout, len(self.data),
                                                      self.frames))
            try:
                raw = self.peer.expect_frame(timeout=2)
            except AssertionError:
                if until():
                    break
                continue
            self.frame(raw)

    def frame(self, raw):
        if len(raw) < 34 or struct.unpack("!H", raw[12:14])[0] != 0x0800:
            return
        self.frames += 1
        self.longest = max(self.longest, len(raw))
        if len(raw) > 14 + self.mtu:
            self.bad.append("frame of %d bytes" % len(raw))
        ip = raw[14:]
        ihl = (ip[0] & 15) * 4
        tot = struct.unpack("!H", ip[2:4])[0]
        if not ip4_csum_ok(ip):
            self.bad.append("IPv4 header checksum")
        if ip[9] != 6 or socket.inet_ntoa(ip[16:20]) != self.ip:
            return
        seg = ip[ihl:tot]
        if not l4_csum_ok(ip, seg, 6):
            self.bad.append("TCP checksum (frame %d, %d bytes)"
                            % (self.frames, len(raw)))
            return
        sport, dport, seq, _, offf, flags = struct.unpack("!HHIIBB",
                                                          seg[:14])
        if dport != self.port:
            return
        src_mac = nethub.mac_str(raw[6:12])
        ipsrc = socket.inet_ntoa(ip[12:16])
        payload = seg[(offf >> 4) * 4:]
        if flags & 0x02:                                    # SYN
            self.rcv_nxt = (seq + 1) & 0xFFFFFFFF
            self._send(src_mac, ipsrc, (self.port, sport, self.iss,
                                        self.rcv_nxt, 0x12),
                       opts=struct.pack("!BBH", 2, 4, 1460))
            return
        if self.rcv_nxt is None:
            return
        if seq == self.rcv_nxt and payload:
            self.data += payload
            self.rcv_nxt = (self.rcv_nxt + len(payload)) & 0xFFFFFFFF
        fin = flags & 0x01 and (seq + len(payload)) & 0xFFFFFFFF == \
            self.rcv_nxt
        if fin:
            self.rcv_nxt = (self.rcv_nxt + 1) & 0xFFFFFFFF
        self._send(src_mac, ipsrc, (self.port, sport, self.iss + 1,
                                    self.rcv_nxt, 0x11 if fin else 0x10))
        if fin:
            self.closed = True


PATTERN = bytes((i * 7 + i // 251) & 255 for i in range(65536))

SENDER = r"""
import socket, sys
pat = bytes((i * 7 + i // 251) & 255 for i in range(65536))
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
for _ in range(int(sys.argv[3])):
    s.sendall(pat)
s.shutdown(socket.SHUT_WR)
s.settimeout(10)
try:
    s.recv(1)
except OSError:
    pass
"""

UDP_GSO_SENDER = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_UDP, 103, int(sys.argv[3]))   # UDP_SEGMENT
s.sendto(bytes(i & 255 for i in range(int(sys.argv[4]))),
         (sys.argv[1], int(sys.argv[2])))
"""


# ---------------------------------------------------------------- tests

def test_tap_ping_and_iperf3_with_offloads():
    d, a, b, ia, ib, ipa, ipb = pair()
    inf = info(d, "ta")
    assert inf["ifname"] == ia and inf["mode"] == "ifname", inf
    assert inf["vnet-hdr"] == 12, inf
    for off in ("csum", "tso4", "tso6"):
        assert off in inf["offloads"], inf
    a.ping_ok(ipb)
    rate = netns.iperf3(b, a, ipb)
    assert rate > RATE_FLOOR, "iperf3: %.0f bit/s" % rate
    rate = netns.iperf3(b, a, ipb, extra=("-R",))
    assert rate > RATE_FLOOR, "iperf3 -R: %.0f bit/s" % rate
    nethub.diag("iperf3 a -> b through nethub: %.1f Gbit/s" % (rate / 1e9))
    for ns in (a, b):
        assert ns.snmp("Tcp", "InCsumErrors") == 0, ns.name
    st = d.state()
    assert info(d, "ta", st)["rx-gso-frames"] > 0, "no GSO frame from a"
    assert info(d, "tb", st)["rx-gso-frames"] > 0, "no GSO frame from b"
    for n in ("ta", "tb"):
        p = port(d, n, st)
        nethub.check_port_accounting(p)
        assert nethub.tx_drops(p, "malformed") == 0, p
        assert nethub.rx_drops(p, "malformed") == 0, p
    d.stop_clean()


def test_tap_without_vnet_hdr():
    d, a, b, ia, ib, ipa, ipb = pair(",vnet_hdr=off,sndbuf=1M",
                                     ",vnet_hdr=off")
    for n in ("ta", "tb"):
        inf = info(d, n)
        assert inf["vnet-hdr"] == 0 and inf["offloads"] == [], inf
    assert info(d, "ta")["sndbuf"] == 1 << 20
    assert info(d, "tb")["sndbuf"] == 2 ** 31 - 1     # QEMU's default
    a.ping_ok(ipb)
    assert netns.iperf3(b, a, ipb) > RATE_FLOOR
    st = d.state()
    assert info(d, "ta", st)["rx-gso-frames"] == 0
    check_accounting(d, ("ta", "tb"))
    d.stop_clean()


def test_tap_gso_frames_are_segmented_for_a_plain_tap():
    """a hands over 64 KiB GSO frames; b takes none: nethub cuts them and
    finishes their checksums, which b's kernel checks (and counts when
    they are wrong)."""
    d, a, b, ia, ib, ipa, ipb = pair("", ",vnet_hdr=off")
    a.ping_ok(ipb)
    before = info(d, "ta")["rx-gso-frames"]
    assert netns.iperf3(b, a, ipb) > RATE_FLOOR
    assert netns.iperf3(b, a, ipb, extra=("-R",)) > RATE_FLOOR
    st = d.state()
    assert info(d, "ta", st)["rx-gso-frames"] > before
    # TCP would get over a few bad checksums by retransmitting: count them
    assert b.snmp("Tcp", "InCsumErrors") == 0, "bad checksums reached b"
    assert a.snmp("Tcp", "InCsumErrors") == 0, "bad checksums reached a"
    pb = port(d, "tb", st)
    assert nethub.tx_drops(pb, "malformed") == 0, pb
    assert nethub.tx_drops(pb, "oversize") == 0, pb
    d.stop_clean()


def test_tap_mtu_9000_and_oversize_drops():
    d, a, b, ia, ib, ipa, ipb = pair()
    a.ip("link", "set", "dev", ia, "mtu", 9000)
    b.ip("link", "set", "dev", ib, "mtu", 9000)
    # nethub follows the interfaces' MTU, even in other namespaces
    d.wait_state(lambda st: port(d, "ta", st)["mtu"] == 9000 and
                 port(d, "tb", st)["mtu"] == 9000, what="MTU 9000 on ports")
    a.ping_ok(ipb)
    a.run("ping", "-c", "3", "-i", "0.2", "-M", "do", "-s", 8972, ipb)
    assert netns.iperf3(b, a, ipb) > RATE_FLOOR

    b.ip("link", "set", "dev", ib, "mtu", 1500)
    d.wait_state(lambda st: port(d, "tb", st)["mtu"] == 1500,
                 what="MTU 1500 on tb")
    drops = nethub.tx_drops(port(d, "tb"), "oversize")
    a.ping_fails(ipb, count=3, size=8000)
    st = d.wait_state(lambda st: nethub.tx_drops(port(d, "tb", st),
                                                 "oversize") >= drops + 3,
                      what="oversize drops on tb")
    a.run("ping", "-c", "2", "-i", "0.2", "-s", 1000, ipb)
    check_accounting(d, ("ta", "tb"))
    d.stop_clean()


def test_tap_to_socket_peer_segmentation_and_checksums():
    """A TCP transfer and a UDP GSO send from a namespace reach a socket
    peer as frames of at most 1514 bytes with correct checksums."""
    ia = link_name("a")
    lport = free_port()
    d = Nethubd(*tap_netdev("ta", ia), "-netdev",
                "socket,id=vms,listen=127.0.0.1:%d" % lport).start()
    net, ipa, ipp = subnet()
    a = Netns("a")
    a.take(ia, ipa + "/24")
    peer = d.attach(lport)
    a.ip("neigh", "add", ipp, "lladdr", peer.mac, "dev", ia, "nud",
         "permanent")

    gso0 = info(d, "ta")["rx-gso-frames"]
    sink = TcpSink(peer, peer.mac, ipp, 5001)
    n = 32                                       # 2 MiB
    sender = a.popen("python3", "-c", SENDER, ipp, 5001, n)
    sink.run(lambda: sender.poll() is not None, timeout=80)
    out, err = sender.communicate(timeout=20)
    assert sender.returncode == 0, "sender failed: %s" % err.decode()
    assert not sink.bad, "bad frames at the peer: %r" % sink.bad[:10]
    assert len(sink.data) == n * 65536, "%d bytes arrived" % len(sink.data)
    assert bytes(sink.data) == PATTERN * n, "data differs"
    assert sink.longest <= 1514, sink.longest
    gso1 = info(d, "ta")["rx-gso-frames"]
    nethub.diag("TCP: %d frames at the peer, longest %d; %d GSO frames "
                "from the tap" % (sink.frames, sink.longest, gso1 - gso0))
    assert gso1 > gso0, "the namespace sent no GSO frame"

    # UDP GSO: one 8000-byte send of 1000-byte segments
    peer.drain()
    a.run("python3", "-c", UDP_GSO_SENDER, ipp, 6000, 1000, 8000)
    got = []
    while len(got) < 8:
        raw = peer.expect_frame()
        ip = raw[14:]
        if struct.unpack("!H", raw[12:14])[0] == 0x0800 and ip[9] == 17:
            got.append(raw)
    for i, raw in enumerate(got):
        ip = raw[14:]
        udp = ip[20:struct.unpack("!H", ip[2:4])[0]]
        assert len(raw) == 14 + 20 + 8 + 1000, len(raw)
        assert ip4_csum_ok(ip), "IPv4 checksum of segment %d" % i
        assert l4_csum_ok(ip, udp, 17), "UDP checksum of segment %d" % i
        assert udp[8:] == bytes((i * 1000 + k) & 255 for k in range(1000))
    assert info(d, "ta")["rx-gso-frames"] > gso1, "UDP went unsegmented"
    d.stop_clean()


def test_tap_set_link_sets_carrier():
    d, a, b, ia, ib, ipa, ipb = pair(qmp=True)
    a.ping_ok(ipb)
    assert "NO-CARRIER" not in a.ip("link", "show", "dev", ia).stdout
    d.qmp_cmd("set_link", name="ta", up=False)
    poll(lambda: "NO-CARRIER" in a.ip("link", "show", "dev", ia).stdout,
         5, what="NO-CARRIER on %s" % ia)
    assert info(d, "ta")["carrier"] is False
    a.ping_fails(ipb)
    d.qmp_cmd("set_link", name="ta", up=True)
    poll(lambda: "NO-CARRIER" not in a.ip("link", "show", "dev",
                                          ia).stdout,
         5, what="carrier back on %s" % ia)
    a.ping_ok(ipb)
    d.stop_clean()


def write_script(path, body):
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return path


def test_tap_scripts_run_with_the_interface_name():
    d = Nethubd("-netdev", "none,id=idle", "--allow-run", qmp=True).start()
    tmp = nethub.tmpdir()
    log = os.path.join(tmp, "log")
    up = write_script(os.path.join(tmp, "up"),
                      'echo "up $*" >> %s\nip link set "$1" up\n' % log)
    down = write_script(os.path.join(tmp, "down"),
                        'echo "down $*" >> %s\n' % log)
    ifname = link_name("s")
    d.qmp_cmd("netdev_add", type="tap", id="t1", ifname=ifname, script=up,
              downscript=down)
    with open(log) as f:
        assert f.read() == "up %s\n" % ifname
    assert "UP" in netns.link_info(ifname)["flags"]
    inf = info(d, "t1")
    assert inf["script"] == up and inf["downscript"] == down, inf
    d.qmp_cmd("netdev_del", id="t1")
    with open(log) as f:
        assert f.read() == "up %s\ndown %s\n" % (ifname, ifname)
    poll(lambda: not netns.link_exists(ifname), 5,
         what="%s to go away" % ifname)

    # "no" runs nothing; a template gets the kernel's name
    d.qmp_cmd("netdev_add", type="tap", id="t2", ifname=link_name("x%d"),
              script="no", downscript="no")
    inf = info(d, "t2")
    assert "script" not in inf and "downscript" not in inf, inf
    assert inf["ifname"].startswith("nt"), inf
    d.qmp_cmd("netdev_del", id="t2")
    with open(log) as f:
        assert f.read().count("\n") == 2
    d.stop_clean()


def test_tap_failing_script_refuses_netdev_add():
    d = Nethubd("-netdev", "none,id=idle", "--allow-run", qmp=True).start()
    tmp = nethub.tmpdir()
    bad = write_script(os.path.join(tmp, "bad"),
                       'echo "no network for $1" >&2\nexit 3\n')
    ifname = link_name("f")
    c = d.qmp()
    r = c.execute("netdev_add", {"type": "tap", "id": "t1",
                                 "ifname": ifname, "script": bad})
    qmplib.assert_error(r, contains="network script %s failed with status 3"
                        % bad)
    assert "no network for %s" % ifname in r["error"]["desc"], r
    assert not netns.link_exists(ifname), "the tap outlived the failure"
    assert nethub.netdev(d.state(), "t1") is None
    r = c.execute("netdev_add", {"type": "tap", "id": "t1",
                                 "ifname": ifname,
                                 "script": os.path.join(tmp, "missing")})
    qmplib.assert_error(r, contains="could not launch network script")
    # the id is free again, and nothing else was disturbed
    c.cmd("netdev_add", type="tap", id="t1", ifname=ifname, script="no",
          downscript="no")
    assert netns.link_exists(ifname)
    d.stop_clean()


def test_programs_refused_without_allow_run():
    d = Nethubd("-netdev", "none,id=idle", qmp=True).start()
    c = d.qmp()
    tmp = nethub.tmpdir()
    mark = os.path.join(tmp, "ran")
    prog = write_script(os.path.join(tmp, "prog"), "touch %s\n" % mark)
    ifname = link_name("r")
    refused = "running programs is disabled; start nethubd with --allow-run"
    for args, opt in [
            ({"type": "tap", "ifname": ifname, "script": prog}, "script"),
            ({"type": "tap", "ifname": ifname, "script": "no",
              "downscript": prog}, "downscript"),
            ({"type": "tap", "helper": prog}, "helper"),
            ({"type": "bridge", "br": "br0", "helper": prog}, "helper"),
            ({"type": "bridge", "helper": "%s --br=x" % prog}, "helper")]:
        r = c.execute("netdev_add", dict(args, id="t1"))
        qmplib.assert_error(r, desc="%s=%s: %s" % (opt, args[opt], refused))
        assert not netns.link_exists(ifname), args
    assert not os.path.exists(mark), "a program ran"
    # "no" (and no script= where QEMU would run /etc/qemu-ifup) run nothing
    c.cmd("netdev_add", type="tap", id="t1", ifname=ifname, script="no",
          downscript="no")
    c.cmd("netdev_add", type="tap", id="t2", ifname=link_name("q"))
    assert sorted(n["id"] for n in d.state()["netdevs"]) == \
        ["idle", "t1", "t2"]
    d.stop_clean()
    # the command line is checked before anything starts
    arg = "tap,id=t,ifname=%s,script=%s" % (ifname, prog)
    rc, _, err = nethub.run_cli("-netdev", arg)
    assert rc == 1 and err == "nethubd: -netdev %s: script=%s: %s\n" % (
        arg, prog, refused), (rc, err)
    assert not os.path.exists(mark) and not netns.link_exists(ifname)



def test_netdev_del_frees_the_tap_at_once():
    """netdev_del is done when it returns: the tap's fd is closed (no read
    still in flight holds it), so a tap of the same name can be added
    again straight away, every time."""
    d = Nethubd("-netdev", "none,id=idle", qmp=True).start()
    c = d.qmp()
    ifname = link_name("del")
    for i in range(60):
        c.cmd("netdev_add", type="tap", id="t%d" % i, ifname=ifname,
              script="no", downscript="no")
        c.cmd("netdev_del", id="t%d" % i)
    assert not netns.link_exists(ifname), \
        "%s still exists after netdev_del" % ifname

def open_tap(name, flags):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    ifr = struct.pack("16sH22x", name.encode(), IFF_TAP | IFF_NO_PI | flags)
    fcntl.ioctl(fd, TUNSETIFF, ifr)
    return fd


def test_tap_fd_passed_with_getfd():
    ib = link_name("b")
    d = Nethubd(*tap_netdev("tb", ib), qmp=True).start()
    net, ipa, ipb = subnet()
    ia = link_name("p")
    fd = open_tap(ia, IFF_VNET_HDR)
    c = d.qmp()
    try:
        c.cmd("getfd", fdname="tapfd", fds=[fd])
    finally:
        os.close(fd)
    c.cmd("netdev_add", type="tap", id="ta", fd="tapfd")
    inf = info(d, "ta")
    assert inf["ifname"] == ia and inf["mode"] == "fd", inf
    assert inf["vnet-hdr"] == 12, inf
    a, b = Netns("a"), Netns("b")
    a.take(ia, ipa + "/24")
    b.take(ib, ipb + "/24")
    a.ping_ok(ipb)
    assert netns.iperf3(b, a, ipb) > RATE_FLOOR
    # the name was consumed by netdev_add
    r = c.execute("netdev_add", {"type": "tap", "id": "tx", "fd": "tapfd"})
    qmplib.assert_error(r, contains="tapfd")

    # not a tap: refused, by name
    rd, wr = os.pipe()
    try:
        c.cmd("getfd", fdname="pipe", fds=[rd])
    finally:
        os.close(rd)
        os.close(wr)
    r = c.execute("netdev_add", {"type": "tap", "id": "tp", "fd": "pipe"})
    qmplib.assert_error(r, contains="fd=pipe: not a tap file descriptor")

    # a number naming one of nethubd's own taps is refused, not stolen
    fddir = "/proc/%d/fd" % d.pid
    own = [int(n) for n in os.listdir(fddir)
           if os.readlink(os.path.join(fddir, n)) == "/dev/net/tun"]
    assert len(own) == 2, own
    for n in own:
        r = c.execute("netdev_add", {"type": "tap", "id": "tp",
                                     "fd": str(n)})
        qmplib.assert_error(r, contains="fd=%d:" % n)
    a.ping_ok(ipb)
    d.stop_clean()


def test_tap_inherited_fd():
    """fd=N on the command line: a tap nethubd inherited."""
    ia, ib = link_name("i"), link_name("b")
    fd = open_tap(ia, 0)
    os.set_inheritable(fd, True)
    try:
        d = Nethubd("-netdev", "tap,id=ta,fd=%d" % fd, *tap_netdev("tb", ib),
                    pass_fds=(fd,)).start()
    finally:
        os.close(fd)
    inf = info(d, "ta")
    assert inf["ifname"] == ia and inf["mode"] == "fd", inf
    assert inf["vnet-hdr"] == 0, inf         # opened without IFF_VNET_HDR
    net, ipa, ipb = subnet()
    a, b = Netns("a"), Netns("b")
    a.take(ia, ipa + "/24")
    b.take(ib, ipb + "/24")
    a.ping_ok(ipb)
    assert netns.iperf3(b, a, ipb) > RATE_FLOOR
    d.stop_clean()


def test_tap_fds_of_a_multiqueue_tap():
    ib = link_name("b")
    d = Nethubd(*tap_netdev("tb", ib), qmp=True).start()
    net, ipa, ipb = subnet()
    ia = link_name("m")
    fds = [open_tap(ia, IFF_VNET_HDR | IFF_MULTI_QUEUE) for _ in range(2)]
    c = d.qmp()
    try:
        c.cmd("getfd", fdname="q0", fds=[fds[0]])
        c.cmd("getfd", fdname="q1", fds=[fds[1]])
    finally:
        for fd in fds:
            os.close(fd)
    c.cmd("netdev_add", {"type": "tap", "id": "ta", "fds": "q0:q1"})
    inf = info(d, "ta")
    assert inf["queues"] == 2 and inf["mode"] == "fds", inf
    a, b = Netns("a"), Netns("b")
    a.take(ia, ipa + "/24")
    b.take(ib, ipb + "/24")
    a.ping_ok(ipb)
    assert netns.iperf3(b, a, ipb, extra=("-P", "4")) > RATE_FLOOR
    d.stop_clean()


FLOWS = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for p in range(40000, 40000 + int(sys.argv[2])):
    for _ in range(5):
        s.sendto(b"x" * 64, (sys.argv[1], p))
"""


def test_tap_multiqueue_queues_2():
    d, a, b, ia, ib, ipa, ipb = pair(",queues=2,poll-us=50")
    inf = info(d, "ta")
    assert inf["queues"] == 2 and inf["poll-us"] == 50, inf
    a.ping_ok(ipb)
    assert netns.iperf3(b, a, ipb, extra=("-P", "4")) > RATE_FLOOR
    assert netns.iperf3(b, a, ipb, extra=("-P", "4", "-R")) > RATE_FLOOR
    # many flows each way: both queues carry some, both directions
    b.run("python3", "-c", FLOWS, ipa, 32)
    a.run("python3", "-c", FLOWS, ipb, 32)
    st = d.state()
    qs = info(d, "ta", st)["queue-stats"]
    assert len(qs) == 2, qs
    for q in qs:
        assert q["tx-frames"] > 0 and q["rx-frames"] > 0, qs
    check_accounting(d, ("ta", "tb"))
    d.stop_clean()


def test_tap_attaches_to_existing_taps():
    """Persistent taps made by someone else (ip tuntap), single and
    multiqueue: attached to, and left in place by netdev_del."""
    d = Nethubd("-netdev", "none,id=idle", qmp=True).start()
    names = [link_name("p"), link_name("q")]
    for name, mq in zip(names, ((), ("multi_queue",))):
        netns.ip("tuntap", "add", "dev", name, "mode", "tap", "vnet_hdr", *mq)
        # (ip tuntap del would need the same flags; ip link del does not)
        nethub.at_cleanup(lambda n=name: netns.ip("link", "del", "dev", n,
                                                  check=False))
    for i, name in enumerate(names):
        d.qmp_cmd("netdev_add", type="tap", id="t%d" % i, ifname=name,
                  script="no", downscript="no")
        assert info(d, "t%d" % i)["ifname"] == name
    # a single-queue tap takes one user at a time
    r = d.qmp().execute("netdev_add", {"type": "tap", "id": "tx",
                                       "ifname": names[0], "script": "no"})
    qmplib.assert_error(r, contains="could not configure /dev/net/tun (%s)"
                        % names[0])
    for i, name in enumerate(names):
        d.qmp_cmd("netdev_del", id="t%d" % i)
        assert netns.link_exists(name)
    d.stop_clean()
    for name in names:
        netns.ip("link", "del", "dev", name)
        assert not netns.link_exists(name)


def test_tap_device_deleted_removes_the_port():
    d, a, b, ia, ib, ipa, ipb = pair()
    a.ping_ok(ipb)
    a.ip("link", "del", "dev", ia)
    st = d.wait_state(lambda st: info(d, "ta", st)["gone"] and
                      not nethub.ports(st, "ta"), what="port ta removed")
    # the other port is fine
    assert nethub.port(st, "tb")["link"] is True
    assert d.alive()
    d.stop_clean()


def test_tap_options_refused():
    d = Nethubd("-netdev", "none,id=idle", qmp=True).start()
    c = d.qmp()
    cases = [
        ({"vhost": True}, "nethub has no guest device"),
        ({"vhostforce": True}, "vhostforce=on is not supported"),
        ({"vhostfd": "3"}, "vhostfd= is not supported"),
        ({"vhostfds": "3:4"}, "vhostfds= is not supported"),
        ({"fd": "3", "ifname": "x"},
         "ifname=, script=, downscript=, vnet_hdr=, helper=, queues=, "
         "fds=, and vhostfds= are invalid with fd="),
        ({"fds": "a:b", "queues": 2}, "are invalid with fds="),
        ({"fds": "a::b"}, "empty file descriptor"),
        ({"helper": "/bin/true", "ifname": "x"},
         "are invalid with helper="),
        ({"queues": 0}, "'queues'"),
        ({"queues": 257}, "'queues'"),
        ({"ifname": "a-name-longer-than-15"}, "'ifname'"),
        ({"ifname": "a/b"}, "'ifname'"),
        ({"fd": "nosuchfd"}, "nosuchfd"),
        ({"br": "x", "fd": "5"}, "br= is invalid with fd="),
    ]
    for args, want in cases:
        a = {"type": "tap", "id": "t"}
        a.update(args)
        r = c.execute("netdev_add", a)
        qmplib.assert_error(r, contains=want)
    r = c.execute("netdev_add", {"type": "bridge", "id": "b", "br": "x",
                                 "ifname": "y"})
    qmplib.assert_error(r, contains="'ifname'")
    assert [n["id"] for n in d.state()["netdevs"]] == ["idle"]
    # the same from the command line
    rc, out, err = nethub.run_cli("-netdev", "tap,id=t,vhost=on")
    assert rc == 1 and "nethub has no guest device" in err, (rc, err)
    d.stop_clean()


# ---------------------------------------------------------------- bridges

def bridge_setup(*extra):
    """A Linux bridge with a namespace behind a veth, and nethubd (@extra
    options) with a tap "tb" into a second namespace: (d, x, y, br, ipx,
    ipy)."""
    br = netns.bridge(link_name("br"))
    v0, v1 = netns.veth(link_name("v0"), link_name("v1"))
    netns.ip("link", "set", "dev", v0, "master", br, "up")
    net, ipx, ipy = subnet()
    x, y = Netns("x"), Netns("y")
    x.take(v1, ipx + "/24")
    ib = link_name("b")
    d = Nethubd(*tap_netdev("tb", ib), *extra, qmp=True).start()
    y.take(ib, ipy + "/24")
    return d, x, y, br, ipx, ipy


def check_bridged(d, nid, br, x, ipx, y, ipy):
    inf = info(d, nid)
    tap = inf["ifname"]
    li = netns.link_info(tap)
    assert li.get("master") == br, li
    assert "UP" in li["flags"], li
    y.ping_ok(ipx)
    assert netns.iperf3(x, y, ipx) > RATE_FLOOR
    d.qmp_cmd("netdev_del", id=nid)
    poll(lambda: not netns.link_exists(tap), 5, what="%s to go" % tap)
    y.ping_fails(ipx)


def test_bridge_direct_joins_a_linux_bridge():
    d, x, y, br, ipx, ipy = bridge_setup()
    d.qmp_cmd("netdev_add", type="bridge", id="nb", br=br)
    inf = info(d, "nb")
    assert inf["mode"] == "bridge" and inf["br"] == br, inf
    assert inf["vnet-hdr"] == 12, inf
    check_bridged(d, "nb", br, x, ipx, y, ipy)
    # tap with br= and no helper: the same, with a chosen name
    name = link_name("j")
    d.qmp_cmd("netdev_add", type="tap", id="nt", ifname=name, br=br,
              script="no", downscript="no")
    assert info(d, "nt")["ifname"] == name
    check_bridged(d, "nt", br, x, ipx, y, ipy)
    d.stop_clean()


def test_bridge_missing_is_a_clear_error():
    d = Nethubd("-netdev", "none,id=idle", qmp=True).start()
    c = d.qmp()
    missing = link_name("zz")
    r = c.execute("netdev_add", {"type": "bridge", "id": "nb",
                                 "br": missing})
    qmplib.assert_error(r, desc="bridge '%s' does not exist" % missing)
    r = c.execute("netdev_add", {"type": "bridge", "id": "nb", "br": "lo"})
    qmplib.assert_error(r, desc="'lo' is not a bridge")
    r = c.execute("netdev_add", {"type": "tap", "id": "nt", "br": missing,
                                 "script": "no"})
    qmplib.assert_error(r, desc="bridge '%s' does not exist" % missing)
    assert [n["id"] for n in d.state()["netdevs"]] == ["idle"]
    d.stop_clean()


def allow_bridge(br):
    """Let qemu-bridge-helper use @br (its ACL file), undone at cleanup."""
    made_dir = not os.path.isdir(os.path.dirname(BRIDGE_CONF))
    if made_dir:
        os.makedirs(os.path.dirname(BRIDGE_CONF))
    old = None
    if os.path.exists(BRIDGE_CONF):
        with open(BRIDGE_CONF) as f:
            old = f.read()
    with open(BRIDGE_CONF, "a") as f:
        f.write("allow %s\n" % br)

    def restore():
        if old is None:
            os.unlink(BRIDGE_CONF)
        else:
            with open(BRIDGE_CONF, "w") as f:
                f.write(old)
        if made_dir:
            os.rmdir(os.path.dirname(BRIDGE_CONF))
    nethub.at_cleanup(restore)


def test_bridge_through_qemu_bridge_helper():
    assert os.access(HELPER, os.X_OK), "%s is missing" % HELPER
    d, x, y, br, ipx, ipy = bridge_setup("--allow-run")
    c = d.qmp()
    # not allowed yet: the helper's refusal is the error
    r = c.execute("netdev_add", {"type": "bridge", "id": "nb", "br": br,
                                 "helper": HELPER})
    qmplib.assert_error(r, contains="bridge helper failed")
    allow_bridge(br)
    c.cmd("netdev_add", type="bridge", id="nb", br=br, helper=HELPER)
    inf = info(d, "nb")
    assert inf["mode"] == "helper" and inf["helper"] == HELPER, inf
    assert inf["vnet-hdr"] == 12, inf       # the helper ran --use-vnet
    check_bridged(d, "nb", br, x, ipx, y, ipy)
    c.cmd("netdev_add", type="tap", id="nt", br=br, helper=HELPER)
    check_bridged(d, "nt", br, x, ipx, y, ipy)
    d.stop_clean()


FAKE_HELPER = r"""
import fcntl, os, socket, struct, sys
with open(sys.argv[1], "w") as f:
    f.write(" ".join(sys.argv[2:]))
args = dict(a.split("=", 1) for a in sys.argv[2:] if "=" in a)
mode = sys.argv[2]
if mode == "nothing":
    sys.exit(0)
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454CA, struct.pack("16sH22x", args["name"].encode(),
                                        0x0002 | 0x1000 | 0x4000))
s = socket.socket(fileno=int(args["--fd"]))
socket.send_fds(s, [b"\0"], [fd])
sys.exit(3 if mode == "fail" else 0)
"""


def test_bridge_helper_protocol_and_failures():
    d = Nethubd("-netdev", "none,id=idle", "--allow-run", qmp=True).start()
    c = d.qmp()
    tmp = nethub.tmpdir()
    prog = os.path.join(tmp, "helper.py")
    with open(prog, "w") as f:
        f.write(FAKE_HELPER)
    argv = os.path.join(tmp, "argv")
    name = link_name("h")
    # a command line (it has spaces): run by the shell, --br= appended
    helper = "python3 %s %s ok name=%s" % (prog, argv, name)
    c.cmd("netdev_add", type="bridge", id="nb", br="somebr", helper=helper)
    with open(argv) as f:
        words = f.read().split()
    assert words[:2] == ["ok", "name=%s" % name], words
    assert words[2] == "--use-vnet" and words[3].startswith("--fd="), words
    assert words[4] == "--br=somebr", words
    inf = info(d, "nb")
    assert inf["ifname"] == name and inf["vnet-hdr"] == 12, inf
    c.cmd("netdev_del", id="nb")
    poll(lambda: not netns.link_exists(name), 5, what="%s to go" % name)

    r = c.execute("netdev_add", {"type": "bridge", "id": "nb",
                                 "helper": "python3 %s %s nothing"
                                 % (prog, argv)})
    qmplib.assert_error(r, contains="failed to recv file descriptor")
    with open(argv) as f:
        assert f.read().split()[-1] == "--br=br0"     # the default bridge
    r = c.execute("netdev_add", {"type": "bridge", "id": "nb",
                                 "helper": "python3 %s %s fail name=%s"
                                 % (prog, argv, name)})
    qmplib.assert_error(r, contains="bridge helper failed")
    assert "status 3" in r["error"]["desc"], r
    assert not netns.link_exists(name), "the helper's tap was kept"
    r = c.execute("netdev_add", {"type": "bridge", "id": "nb",
                                 "helper": os.path.join(tmp, "none")})
    qmplib.assert_error(r, contains="could not launch bridge helper")
    assert [n["id"] for n in d.state()["netdevs"]] == ["idle"]
    d.stop_clean()


if __name__ == "__main__":
    nethub.main(globals())
