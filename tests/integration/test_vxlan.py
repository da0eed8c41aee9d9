#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_vxlan.py - the vxlan netdev against the Linux kernel's vxlan, and
two nethubds joined by VXLAN.

Kernel peer: in namespace K a vxlan device (id 42, dstport 4789, flooding
through a `bridge fdb append 00:00:00:00:00:00` entry) and a veth end
share a bridge; the other veth end is in namespace A.  nethubd runs in
namespace H, the underlay's other end, with a vxlan netdev and a tap moved
into namespace B.  B pings A; both sides learn the other's MAC behind the
right VTEP; crafted datagrams (another VNI, no I flag, truncated) are
dropped and counted; a static entry sends frames to the VTEP it names.

Two nethubds: H1 and H2 joined by VXLAN over an IPv6 underlay, a tap each
(in C1 and C2), iperf3 TCP between them.

Needs root, iproute2 (ip, bridge), iputils-ping and iperf3; every address
lives in namespaces the test makes."""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
import netns  # noqa: E402
from nethub import Nethubd, poll  # noqa: E402
from netns import Netns, link_name  # noqa: E402

VNI = 42
RATE_FLOOR = 20e6           # bit/s: far below any build, far above broken


def in_netns(d, ns):
    """Run daemon @d inside namespace @ns (ip netns exec execs it, so the
    pid stays nethubd's)."""
    d.args = [shutil.which("ip"), "netns", "exec", ns.name] + d.args
    return d


def underlay(a, b, a_addr, b_addr, v6=False):
    """A veth between namespaces @a and @b with the given addresses."""
    la, lb = link_name("u"), link_name("v")
    netns.veth(la, lb)
    extra = ["nodad"] if v6 else []
    for ns, link, addr in ((a, la, a_addr), (b, lb, b_addr)):
        netns.ip("link", "set", "dev", link, "netns", ns.name)
        ns.ip("addr", "add", addr, "dev", link, *extra)
        ns.ip("link", "set", "dev", link, "up")
    return la, lb


def nethub_vtep(h, local, remote, tap_ns, tap_addr, group=None):
    """nethubd in namespace @h: a vxlan netdev (flooding to @remote or to
    @group) and a tap, the tap moved into @tap_ns with @tap_addr and the
    vxlan port's MTU."""
    tap = link_name("t")
    flood = "group=%s" % group if group else "remote=%s" % remote
    d = in_netns(Nethubd(
        "-netdev", "vxlan,id=vx,vni=%d,local=%s,%s" % (VNI, local, flood),
        "-netdev", "tap,id=t,ifname=%s,script=no,downscript=no" % tap,
        qmp=True), h).start()
    nd = nethub.netdev(d.state(), "vx")
    mtu = nd["info"]["mtu"]
    poll(lambda: netns.link_exists(tap, ns=h.name), 10, what="tap")
    h.ip("link", "set", "dev", tap, "netns", tap_ns.name)
    tap_ns.ip("link", "set", "dev", tap, "mtu", mtu)
    tap_ns.ip("addr", "add", tap_addr, "dev", tap)
    tap_ns.ip("link", "set", "dev", tap, "up")
    return d, tap, nd


def kernel_side():
    """Namespaces K (kernel VTEP at 10.213.70.2, bridge of vx0 and a veth)
    and A (10.213.71.2 behind it), H (nethubd, VTEP 10.213.70.1) and B
    (10.213.71.1 on nethub's tap)."""
    k, a, h, b = Netns("k"), Netns("a"), Netns("h"), Netns("b")
    underlay(h, k, "10.213.70.1/24", "10.213.70.2/24")
    # no remote: the flood list is an all-zero FDB entry, as EVPN-style
    # setups make it
    k.ip("link", "add", "vx0", "type", "vxlan", "id", VNI, "dstport", 4789,
         "local", "10.213.70.2")
    k.run("bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "vx0",
          "dst", "10.213.70.1")
    k.ip("link", "add", "br0", "type", "bridge")
    la, lk = link_name("a"), link_name("k")
    netns.veth(la, lk)
    netns.ip("link", "set", "dev", lk, "netns", k.name)
    for link in ("vx0", lk):
        k.ip("link", "set", "dev", link, "master", "br0")
        k.ip("link", "set", "dev", link, "up")
    k.ip("link", "set", "dev", "br0", "up")
    a.take(la, "10.213.71.2/24", mtu=1450)
    d, tap, nd = nethub_vtep(h, "10.213.70.1", "10.213.70.2", b,
                             "10.213.71.1/24")
    return d, k, a, b, la, tap, nd


def mac_of(ns, link):
    return netns.link_info(link, ns=ns.name)["address"]


def vxlan_entries(d):
    fdb = d.qmp_cmd("query-fdb", {"hubid": 0})
    return fdb[0].get("vxlan", [])


def counters(d):
    return nethub.netdev(d.state(), "vx")["info"]


def send_udp(ns, addr, port, payload):
    """One UDP datagram from namespace @ns."""
    code = ("import socket,sys;s=socket.socket(socket.AF_INET,"
            "socket.SOCK_DGRAM);s.sendto(bytes.fromhex(sys.argv[1]),"
            "(sys.argv[2],int(sys.argv[3])))")
    ns.run(sys.executable, "-c", code, payload.hex(), addr, port)


def test_kernel_vxlan_peer_ping_learning_static_and_bad_datagrams():
    d, k, a, b, la, tap, nd = kernel_side()
    assert nd["info"]["mtu"] == 1450, nd["info"]
    assert nd["info"]["flood"] == ["10.213.70.2"], nd["info"]
    b.ping_ok("10.213.71.2")

    # nethub learned A's MAC behind the kernel's VTEP ...
    mac_a, mac_b = mac_of(a, la), mac_of(b, tap)
    poll(lambda: any(e["mac"] == mac_a and e["remote"] == "10.213.70.2"
                     and not e["static"] for e in vxlan_entries(d)),
         10, what="%s learned behind 10.213.70.2" % mac_a)
    # ... and the kernel learned B's behind nethub's
    out = k.run("bridge", "fdb", "show", "dev", "vx0").stdout
    assert any(mac_b in ln and "dst 10.213.70.1" in ln
               for ln in out.splitlines()), out

    # A static entry sends A's frames to a VTEP that is not there
    d.qmp_cmd("vxlan-fdb-add", {"netdev": "vx", "mac": mac_a,
                                "remote": "10.213.70.9"})
    assert any(e["mac"] == mac_a and e["remote"] == "10.213.70.9" and
               e["static"] for e in vxlan_entries(d)), vxlan_entries(d)
    b.ping_fails("10.213.71.2")
    d.qmp_cmd("vxlan-fdb-del", {"netdev": "vx", "mac": mac_a})
    b.ping_ok("10.213.71.2")

    # Crafted datagrams from the kernel's side of the underlay
    inner = bytes.fromhex(mac_b.replace(":", "")) + bytes(6) + b"\x88\xb5"
    before = counters(d)
    send_udp(k, "10.213.70.1", 4789,
             bytes([8, 0, 0, 0, 0, 0, VNI + 1, 0]) + inner + bytes(50))
    send_udp(k, "10.213.70.1", 4789,
             bytes([0, 0, 0, 0, 0, 0, VNI, 0]) + inner + bytes(50))
    send_udp(k, "10.213.70.1", 4789, bytes([8, 0, 0, 0, 0, 0, VNI]))
    send_udp(k, "10.213.70.1", 4789,
             bytes([8, 0xff, 0xff, 0xff, 0, 0, VNI, 0xff]) + inner +
             bytes(50))   # reserved bits set: still a frame
    want = {"rx-vni-mismatch": 1, "rx-bad-flags": 1, "rx-short": 1}
    st = d.wait_state(lambda st: all(
        nethub.netdev(st, "vx")["info"][k] - before[k] == v
        for k, v in want.items()), what="drop counters %r" % want)
    p = nethub.port(st, "vx")
    assert nethub.rx_drops(p, "filtered") >= 1, p["stats"]
    assert nethub.rx_drops(p, "malformed") >= 2, p["stats"]

    # Too large for the underlay: the tap may take 1500 bytes, the VXLAN
    # port 1450; the hub drops and counts what does not fit
    b.ip("link", "set", "dev", tap, "mtu", 1500)
    b.ping_fails("10.213.71.2", count=2, size=1500 - 28)
    st = d.wait_state(lambda st: nethub.tx_drops(
        nethub.port(st, "vx"), "oversize") >= 2, what="oversize drops")


def test_two_nethubds_over_ipv6_carry_iperf3():
    h1, h2, c1, c2 = Netns("h1"), Netns("h2"), Netns("c1"), Netns("c2")
    underlay(h1, h2, "fd13:213::1/64", "fd13:213::2/64", v6=True)
    d1, _, nd1 = nethub_vtep(h1, "fd13:213::1", "fd13:213::2", c1,
                             "10.213.72.1/24")
    d2, _, nd2 = nethub_vtep(h2, "fd13:213::2", "fd13:213::1", c2,
                             "10.213.72.2/24")
    assert nd1["info"]["mtu"] == 1430, nd1["info"]   # 1500 - 70
    c1.ping_ok("10.213.72.2")
    rate = netns.iperf3(c2, c1, "10.213.72.2", seconds=2)
    nethub.diag("iperf3 over two nethubds and VXLAN/IPv6: %.2f Gbit/s"
                % (rate / 1e9))
    assert rate > RATE_FLOOR, rate
    # Known unicast went straight to the one VTEP, learned
    st = d1.state()
    assert nethub.netdev(st, "vx")["info"]["fdb-entries"] >= 1, st


def test_two_nethubds_over_a_multicast_group():
    h1, h2, c1, c2 = Netns("h1"), Netns("h2"), Netns("c1"), Netns("c2")
    underlay(h1, h2, "10.213.73.1/24", "10.213.73.2/24")
    d1, _, nd1 = nethub_vtep(h1, "10.213.73.1", None, c1, "10.213.74.1/24",
                             group="239.1.2.3")
    d2, _, nd2 = nethub_vtep(h2, "10.213.73.2", None, c2, "10.213.74.2/24",
                             group="239.1.2.3")
    assert nd1["info"]["flood"] == ["239.1.2.3"], nd1["info"]
    c1.ping_ok("10.213.74.2")
    # the answers came back unicast, from the VTEP learned
    entries = vxlan_entries(d2)
    assert any(e["remote"] == "10.213.73.1" and not e["static"]
               for e in entries), entries


def test_bad_options_refused_with_a_clear_error():
    cases = [
        ("vni=16777216", "Parameter 'vni' expects a value between"),
        ("vni=1,remote=10.0.0.1,remote.1=fd00::1",
         "addresses of different families"),
        ("vni=1,group=10.0.0.1", "group=: 10.0.0.1 is not a multicast"),
        ("vni=1,remote=239.1.1.1", "is a multicast address"),
        ("vni=1,remote=nohost", "remote=: IP address expected"),
        ("remote=10.0.0.1", "Parameter 'vni' is missing"),
        ("vni=1,group=239.1.1.1,remote=10.0.0.1",
         "group= and remote= exclude each other"),
    ]
    for spec, msg in cases:
        rc, out, err = nethub.run_cli("-netdev", "vxlan,id=v," + spec,
                                      "--log-level", "warn")
        assert rc == 1 and msg in err, "%s: rc %d, %r" % (spec, rc, err)
    # a UDP port another netdev holds
    port = nethub.free_port("udp")
    spec = "vni=1,local=127.0.0.1,dstport=%d" % port
    rc, out, err = nethub.run_cli("-netdev", "vxlan,id=v1," + spec,
                                  "-netdev", "vxlan,id=v2," + spec,
                                  "--log-level", "warn")
    want = "dstport=%d: cannot bind 127.0.0.1:%d: Address already in use" \
        % (port, port)
    assert rc == 1 and want in err, "rc %d, %r" % (rc, err)


if __name__ == "__main__":
    sys.exit(nethub.run(globals()))
