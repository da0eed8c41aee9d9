#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_nic.py - guest NICs end to end: the nic netdev, rx filters,
set_link and announce-self

A nethubd with two listening socket netdevs: "g" (the guest's side; a nic
"nic0" fronts it) and "net" (the rest of the network).  A TcpPeer on "g"
plays the guest, speaking QEMU's stream format; one on "net" plays another
host.  Checked: the default MAC and its static FDB entry, QEMU's option
errors, every accept rule of the filter with the "filtered" counter,
set-rx-filter's partial update, query-rx-filter's shape and errors,
NIC_RX_FILTER_CHANGED once until queried, IGMP snooping, set_link drop and
flush, announce-self's schedule, frame layout, interfaces and ids, and the
GARP / NA of snooped addresses.
"""

import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
from nethub import BROADCAST, Nethubd, free_port, poll  # noqa: E402
from qmp import assert_error, assert_ok  # noqa: E402

OTHER = "02:4e:48:00:99:01"


def default_mac(nid):
    """nethub's default NIC MAC: 52:54:00 + low 24 bits of FNV-1a(id)."""
    h = 2166136261
    for b in nid.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return "52:54:00:%02x:%02x:%02x" % ((h >> 16) & 255, (h >> 8) & 255,
                                        h & 255)


def setup(nic_opts="", nic=True):
    """nethubd with g (+ nic0 in front) and net; .guest and .host peers"""
    pg, pn = free_port(), free_port()
    args = ["-netdev", "socket,id=g,listen=127.0.0.1:%d" % pg,
            "-netdev", "socket,id=net,listen=127.0.0.1:%d" % pn]
    if nic:
        args += ["-netdev", "nic,id=nic0,netdev=g" + nic_opts]
    d = Nethubd(*args, qmp=True).start()
    d.c = d.qmp()
    d.pg, d.pn = pg, pn
    d.mac = default_mac("nic0")
    if nic:
        d.mac = qnetdev(d.c, "nic0")["info"]["mac"]
    d.guest = d.attach(pg, netdev="g", mac=d.mac)
    d.host = d.attach(pn, netdev="net", mac=OTHER)
    return d


def qnetdev(c, nid):
    for nd in c.cmd("query-netdevs"):
        if nd["id"] == nid:
            return nd
    return None


def qport(c, name):
    for nd in c.cmd("query-netdevs"):
        for p in nd["ports"]:
            if p["name"] == name:
                return p
    return None


def filtered(d):
    return qport(d.c, d.guest.port_name)["stats"]["tx-drops"]["filtered"]


def fdb_entries(c, hubid=0):
    for h in c.cmd("query-fdb"):
        if h["hubid"] == hubid:
            return h["entries"]
    return []


def deliver(d, dst, want, vlan=None):
    """host sends a frame to @dst; the guest gets it iff @want"""
    before = filtered(d)
    f = d.host.send_frame(dst, "to %s" % dst, vlan=vlan)
    if want:
        got = d.guest.expect_frame()
        assert bytes(got) == f, (got, f)
        assert filtered(d) == before
    else:
        poll(lambda: filtered(d) == before + 1, 5,
             what="frame to %s filtered" % dst)
        d.guest.expect_no_frame(0.2)


# ---------------------------------------------------------------- nic

def test_default_mac_stable_static_and_shown():
    d = setup(",model=virtio-net-pci,addr=0x4,vectors=3")
    nd = qnetdev(d.c, "nic0")
    assert nd["type"] == "nic" and nd["hub"] == 0, nd
    info = nd["info"]
    assert info["mac"] == default_mac("nic0"), info
    assert info["mac"].startswith("52:54:00:"), info
    assert info["netdev"] == "g" and info["path"] == "/nethub/nic/nic0"
    assert (info["model"], info["addr"], info["vectors"]) == \
        ("virtio-net-pci", "0x4", 3), info
    ent = [e for e in fdb_entries(d.c) if e["mac"] == d.mac]
    assert len(ent) == 1 and ent[0]["static"] and ent[0]["nic"] == "nic0" \
        and ent[0]["port"] == d.guest.port_name, ent
    assert ent[0]["addresses"] == {"ipv4": [], "ipv6": []}, ent
    # The NIC's pin is its own: fdb-del refuses it, naming the NIC
    r = d.c.execute("fdb-del", {"hubid": 0, "mac": d.mac})
    assert "error" in r and r["error"]["desc"] == \
        "MAC %s is NIC nic0's own address" % d.mac, r
    assert [e for e in fdb_entries(d.c) if e["mac"] == d.mac] == ent
    # Same id, new daemon: same MAC
    d2 = setup()
    assert d2.mac == d.mac
    # nic passes traffic both ways while promiscuous (reset state)
    f = d.host.send_frame(d.mac, "to nic")
    assert bytes(d.guest.expect_frame()) == f
    g = d.guest.send_frame(OTHER, "from nic")
    assert bytes(d.host.expect_frame()) == g


def test_nic_option_errors_and_delete():
    d = setup(nic=False)
    c = d.c
    cases = [
        ({"netdev": "nope"}, "netdev 'nope' not found"),
        ({"netdev": "g", "macaddr": "52:54:00:12:34"},
         "invalid syntax for ethernet address"),
        ({"netdev": "g", "macaddr": "zz:54:00:12:34:56"},
         "invalid syntax for ethernet address"),
        ({"netdev": "g", "macaddr": "01:00:5e:00:00:01"},
         "NIC cannot have multicast MAC address (odd 1st byte)"),
        ({"netdev": "g", "vectors": 0x8000000},
         "invalid # of vectors: 134217728"),
        ({}, "Parameter 'netdev' is missing"),
    ]
    for extra, desc in cases:
        args = {"id": "n1", "type": "nic"}
        args.update(extra)
        assert_error(c.execute("netdev_add", args), desc=desc)
        assert qnetdev(c, "n1") is None
    assert_ok(c.execute("netdev_add", {"id": "n1", "type": "nic",
                                       "netdev": "g",
                                       "macaddr": "52:54:00:AB:cd:01"}))
    assert qnetdev(c, "n1")["info"]["mac"] == "52:54:00:ab:cd:01"
    assert_error(c.execute("netdev_add", {"id": "n2", "type": "nic",
                                          "netdev": "g"}),
                 desc="netdev 'g' is already in use by NIC 'n1'")
    assert_error(c.execute("netdev_add", {"id": "n2", "type": "nic",
                                          "netdev": "n1"}),
                 contains="a NIC fronts a backend")
    macs = [e["mac"] for e in fdb_entries(c) if e["static"]]
    assert "52:54:00:ab:cd:01" in macs, macs
    # Deleting the nic releases the backend: static entry gone, g stays
    assert_ok(c.execute("netdev_del", {"id": "n1"}))
    assert qnetdev(c, "g") is not None
    macs = [e["mac"] for e in fdb_entries(c) if e["static"]]
    assert "52:54:00:ab:cd:01" not in macs, macs
    # Deleting the backend keeps the nic, without a netdev
    assert_ok(c.execute("netdev_add", {"id": "n3", "type": "nic",
                                       "netdev": "net"}))
    assert_ok(c.execute("netdev_del", {"id": "net"}))
    nd = qnetdev(c, "n3")
    assert nd is not None and "netdev" not in nd["info"], nd
    assert len(c.cmd("query-rx-filter", {"name": "n3"})) == 1


def test_hubport_naming_the_nic_moves_its_backend():
    d = setup()
    c = d.c
    assert_ok(c.execute("netdev_add", {"id": "hp", "type": "hubport",
                                       "hubid": 7, "netdev": "nic0"}))
    assert qport(c, d.guest.port_name)["hub"] == 7
    assert any(e["mac"] == d.mac and e["static"]
               for e in fdb_entries(c, 7))
    assert_ok(c.execute("netdev_del", {"id": "hp"}))
    assert qport(c, d.guest.port_name)["hub"] == 0
    assert any(e["mac"] == d.mac and e["static"] for e in fdb_entries(c))


# ---------------------------------------------------------------- rx filter

def test_query_rx_filter_shape_and_errors():
    d = setup()
    c = d.c
    r = c.cmd("query-rx-filter", {"name": "nic0"})
    assert r == [{"name": "nic0", "promiscuous": True,
                  "multicast": "normal", "unicast": "normal",
                  "vlan": "all", "broadcast-allowed": True,
                  "multicast-overflow": False, "unicast-overflow": False,
                  "main-mac": d.mac, "vlan-table": [],
                  "unicast-table": [], "multicast-table": []}], r
    assert [x["name"] for x in c.cmd("query-rx-filter")] == ["nic0"]
    assert_error(c.execute("query-rx-filter", {"name": "zz"}),
                 desc="invalid net client name: zz")
    assert_error(c.execute("query-rx-filter", {"name": "g"}),
                 desc="net client(g) isn't a NIC")
    assert_error(c.execute("query-rx-filter", {"name": d.guest.port_name}),
                 desc="net client(%s) isn't a NIC" % d.guest.port_name)
    assert_error(c.execute("set-rx-filter", {"name": "zz"}),
                 desc="invalid net client name: zz")
    assert_error(c.execute("set-rx-filter", {"name": "net",
                                             "promiscuous": False}),
                 desc="net client(net) isn't a NIC")
    assert_error(c.execute("set-rx-filter", {"name": "nic0",
                                             "multicast-table":
                                             ["52:54:00:12:34:56"]}),
                 contains="is not a multicast address")
    assert_error(c.execute("set-rx-filter", {"name": "nic0",
                                             "vlan-table": [4096]}),
                 contains="4096 is not a VLAN ID")


def test_set_rx_filter_partial_update():
    d = setup()
    c = d.c
    c.cmd("set-rx-filter", {"name": "nic0", "promiscuous": False,
                            "unicast-table": ["02:00:00:00:00:01"]})
    c.cmd("set-rx-filter", {"name": "nic0", "broadcast-allowed": False})
    (r,) = c.cmd("query-rx-filter", {"name": "nic0"})
    assert r["promiscuous"] is False and r["broadcast-allowed"] is False
    assert r["unicast-table"] == ["02:00:00:00:00:01"], r
    c.cmd("set-rx-filter", {"name": "nic0", "unicast": "all"})
    (r,) = c.cmd("query-rx-filter", {"name": "nic0"})
    assert r["unicast"] == "all" and r["unicast-table"] == \
        ["02:00:00:00:00:01"] and r["broadcast-allowed"] is False, r
    # A query answer applies back unchanged
    back = dict(r)
    for k in ("main-mac", "unicast-overflow", "multicast-overflow"):
        del back[k]
    c.cmd("set-rx-filter", back)
    assert c.cmd("query-rx-filter", {"name": "nic0"}) == [r]


def test_filter_unicast_rules():
    d = setup()
    c = d.c
    deliver(d, "02:00:00:00:00:09", True)          # promiscuous
    c.cmd("set-rx-filter", {"name": "nic0", "promiscuous": False,
                            "unicast-table": ["02:00:00:00:00:01"]})
    deliver(d, d.mac, True)                         # own MAC
    deliver(d, "02:00:00:00:00:01", True)           # in table
    deliver(d, "02:00:00:00:00:02", False)          # not in table
    c.cmd("set-rx-filter", {"name": "nic0", "unicast": "all"})
    deliver(d, "02:00:00:00:00:02", True)
    c.cmd("set-rx-filter", {"name": "nic0", "unicast": "none"})
    deliver(d, d.mac, False)                        # no-unicast: even own
    # overflow: 65 unicast entries accept every unicast
    table = ["02:00:00:01:00:%02x" % i for i in range(65)]
    c.cmd("set-rx-filter", {"name": "nic0", "unicast": "normal",
                            "unicast-table": table})
    (r,) = c.cmd("query-rx-filter", {"name": "nic0"})
    assert r["unicast-overflow"] is True and r["unicast"] == "all", r
    deliver(d, "02:00:00:00:00:77", True)


def test_filter_multicast_and_broadcast_rules():
    d = setup()
    c = d.c
    c.cmd("set-rx-filter", {"name": "nic0", "promiscuous": False,
                            "multicast-table": ["01:00:5e:00:00:fb"]})
    deliver(d, "01:00:5e:00:00:fb", True)
    deliver(d, "01:00:5e:00:00:fc", False)
    deliver(d, BROADCAST, True)
    c.cmd("set-rx-filter", {"name": "nic0", "broadcast-allowed": False})
    deliver(d, BROADCAST, False)
    deliver(d, "01:00:5e:00:00:fb", True)
    c.cmd("set-rx-filter", {"name": "nic0", "multicast": "all"})
    deliver(d, "01:00:5e:00:00:fc", True)
    c.cmd("set-rx-filter", {"name": "nic0", "multicast": "none"})
    deliver(d, "01:00:5e:00:00:fb", False)


def test_filter_vlan_rules():
    d = setup()
    c = d.c
    c.cmd("set-rx-filter", {"name": "nic0", "vlan": "normal",
                            "vlan-table": [10]})
    # promiscuous still on: everything passes
    deliver(d, d.mac, True, vlan=20)
    c.cmd("set-rx-filter", {"name": "nic0", "promiscuous": False})
    deliver(d, d.mac, True, vlan=10)
    deliver(d, d.mac, False, vlan=20)
    deliver(d, d.mac, True)                         # untagged passes
    c.cmd("set-rx-filter", {"name": "nic0", "vlan": "all"})
    deliver(d, d.mac, True, vlan=20)
    (r,) = c.cmd("query-rx-filter", {"name": "nic0"})
    assert r["vlan"] == "all" and r["vlan-table"] == [10], r


def test_event_once_until_queried():
    d = setup()
    c = d.c
    c.cmd("set-rx-filter", {"name": "nic0", "promiscuous": False})
    ev = c.wait_event("NIC_RX_FILTER_CHANGED")
    assert ev["data"] == {"name": "nic0", "path": "/nethub/nic/nic0"}, ev
    c.cmd("set-rx-filter", {"name": "nic0", "broadcast-allowed": False})
    c.cmd("set-rx-filter", {"name": "nic0", "multicast": "all"})
    c.expect_no_event("NIC_RX_FILTER_CHANGED", 0.3)
    c.cmd("query-rx-filter")                        # covers nic0
    c.cmd("set-rx-filter", {"name": "nic0", "multicast": "all"})
    c.expect_no_event("NIC_RX_FILTER_CHANGED", 0.3)  # no change
    c.cmd("set-rx-filter", {"name": "nic0", "multicast": "none"})
    c.wait_event("NIC_RX_FILTER_CHANGED")
    c.cmd("query-rx-filter", {"name": "nic0"})
    c.cmd("set-rx-filter", {"name": "nic0", "multicast": "normal"})
    c.wait_event("NIC_RX_FILTER_CHANGED")


def igmp_frame(src_mac, ip_src, kind, group):
    """An IGMPv2 report (0x16) or leave (0x17) for @group"""
    g = socket.inet_aton(group)
    igmp = struct.pack(">BBH4s", kind, 0, 0, g)
    dst_ip = g if kind == 0x16 else socket.inet_aton("224.0.0.2")
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(igmp), 0, 0, 1, 2,
                     0, socket.inet_aton(ip_src), dst_ip) + igmp
    gm = "01:00:5e:%02x:%02x:%02x" % (g[1] & 0x7F, g[2], g[3])
    dmac = gm if kind == 0x16 else "01:00:5e:00:00:02"
    return nethub.eth(dmac, src_mac, ip, ethertype=0x0800), gm


def test_igmp_join_and_leave_snooped():
    d = setup()
    c = d.c
    c.cmd("set-rx-filter", {"name": "nic0", "promiscuous": False})
    c.wait_event("NIC_RX_FILTER_CHANGED")
    c.cmd("query-rx-filter")
    deliver(d, "01:00:5e:01:02:03", False)
    f, gm = igmp_frame(d.mac, "192.0.2.10", 0x16, "239.1.2.3")
    d.guest.send(f)
    c.wait_event("NIC_RX_FILTER_CHANGED")
    (r,) = c.cmd("query-rx-filter", {"name": "nic0"})
    assert gm in r["multicast-table"], r
    assert "01:00:5e:00:00:01" in r["multicast-table"], r  # all-hosts
    d.host.drain()
    deliver(d, gm, True)
    f, _ = igmp_frame(d.mac, "192.0.2.10", 0x17, "239.1.2.3")
    d.guest.send(f)
    c.wait_event("NIC_RX_FILTER_CHANGED")
    (r,) = c.cmd("query-rx-filter", {"name": "nic0"})
    assert gm not in r["multicast-table"], r
    deliver(d, gm, False)


# ---------------------------------------------------------------- set_link

def test_set_link_drops_and_flushes():
    d = setup()
    c = d.c
    # the guest teaches another MAC behind it (a bridged host)
    d.guest.send_frame(OTHER, "learn", src="02:00:00:00:00:42")
    d.host.expect_frame()
    assert any(e["mac"] == "02:00:00:00:00:42" for e in fdb_entries(c))
    c.cmd("set_link", {"name": "nic0", "up": False})
    assert qnetdev(c, "nic0")["link"] is False
    assert qnetdev(c, "g")["link"] is False      # the backend follows
    macs = {e["mac"]: e for e in fdb_entries(c)}
    assert "02:00:00:00:00:42" not in macs, macs
    assert macs[d.mac]["static"], macs              # the static one stays
    p0 = qport(c, d.guest.port_name)["stats"]
    d.host.send_frame(d.mac, "to down nic")
    d.guest.send_frame(OTHER, "from down nic")
    poll(lambda: qport(c, d.guest.port_name)["stats"]["tx-drops"]
         ["link-down"] == p0["tx-drops"]["link-down"] + 1, 5)
    poll(lambda: qport(c, d.guest.port_name)["stats"]["rx-drops"]
         ["link-down"] == p0["rx-drops"]["link-down"] + 1, 5)
    d.guest.expect_no_frame(0.2)
    d.host.expect_no_frame(0.2)
    c.cmd("set_link", {"name": "nic0", "up": True})
    assert qnetdev(c, "g")["link"] is True
    f = d.host.send_frame(d.mac, "up again")
    assert bytes(d.guest.expect_frame()) == f


# ---------------------------------------------------------------- announce

def rarp(mac):
    m = nethub.mac_bytes(mac)
    body = struct.pack(">HHBBH", 1, 0x0800, 6, 4, 3) + m + bytes(4) + m + \
        bytes(4)
    return (b"\xff" * 6 + m + struct.pack(">H", 0x8035) + body).ljust(60,
                                                                       b"\0")


def collect(peer, duration, keep):
    out, end = [], time.monotonic() + duration
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return out
        try:
            item = peer._next(left, False)
        except nethub.PeerClosed:
            return out
        if item is None:
            return out
        if keep(bytes(item[1])):
            out.append((time.monotonic(), bytes(item[1])))


def test_announce_schedule_and_layout():
    d = setup()
    c = d.c
    t0 = time.monotonic()
    c.cmd("announce-self", {"initial": 50, "max": 550, "rounds": 5,
                            "step": 100})
    got = collect(d.host, 1.6, lambda f: f[12:14] == b"\x80\x35")
    assert len(got) == 5, [round(t - t0, 3) for t, _ in got]
    for _, f in got:
        assert f == rarp(d.mac), f.hex()
    times = [t - got[0][0] for t, _ in got]
    for have, want in zip(times, (0, 0.05, 0.2, 0.45, 0.8)):
        assert abs(have - want) < 0.08, times
    # the guest itself does not get its own announcement
    d.guest.expect_no_frame(0.2)


def test_announce_interfaces_ids_and_cancel():
    d = setup()
    c = d.c
    is_rarp = (lambda f: f[12:14] == b"\x80\x35")
    c.cmd("announce-self", {"initial": 0, "max": 0, "rounds": 1, "step": 0,
                            "interfaces": ["g", "nope"]})
    assert collect(d.host, 0.3, is_rarp) == []
    c.cmd("announce-self", {"initial": 0, "max": 0, "rounds": 1, "step": 0,
                            "interfaces": ["nic0"]})
    assert len(collect(d.host, 0.3, is_rarp)) == 1
    # id "a": long schedule; rounds=0 cancels it
    c.cmd("announce-self", {"initial": 300, "max": 300, "rounds": 10,
                            "step": 0, "id": "a"})
    assert len(collect(d.host, 0.15, is_rarp)) == 1
    c.cmd("announce-self", {"initial": 0, "max": 0, "rounds": 0, "step": 0,
                            "id": "a"})
    assert collect(d.host, 0.5, is_rarp) == []
    # the same id replaces: new parameters, round 1 at once
    c.cmd("announce-self", {"initial": 5000, "max": 5000, "rounds": 3,
                            "step": 0, "id": "b"})
    c.cmd("announce-self", {"initial": 100, "max": 100, "rounds": 2,
                            "step": 0, "id": "b"})
    got = collect(d.host, 0.5, is_rarp)
    assert len(got) == 3, len(got)
    assert abs((got[2][0] - got[1][0]) - 0.1) < 0.06


def test_announce_garp_and_na_after_snooping():
    d = setup()
    c = d.c
    m = nethub.mac_bytes(d.mac)
    ip4 = socket.inet_aton("192.0.2.55")
    arp = struct.pack(">HHBBH", 1, 0x0800, 6, 4, 2) + m + ip4 + \
        nethub.mac_bytes(OTHER) + socket.inet_aton("192.0.2.1")
    d.guest.send(nethub.eth(OTHER, d.mac, arp, ethertype=0x0806))
    d.host.expect_frame()
    ip6 = socket.inet_pton(socket.AF_INET6, "2001:db8::55")
    dst6 = socket.inet_pton(socket.AF_INET6, "2001:db8::1")
    udp = struct.pack(">HHHH", 1000, 2000, 8, 0)
    pkt6 = struct.pack(">IHBB", 0x60000000, len(udp), 17, 64) + ip6 + dst6 \
        + udp
    d.guest.send(nethub.eth(OTHER, d.mac, pkt6, ethertype=0x86DD))
    d.host.expect_frame()
    ent = [e for e in fdb_entries(c) if e["mac"] == d.mac][0]
    assert ent["addresses"] == {"ipv4": ["192.0.2.55"],
                                "ipv6": ["2001:db8::55"]}, ent
    assert qnetdev(c, "nic0")["info"]["addresses"] == ent["addresses"]
    c.cmd("announce-self", {"initial": 0, "max": 0, "rounds": 1, "step": 0})
    got = [f for _, f in collect(d.host, 0.5, lambda f: True)]
    assert len(got) == 3, [f.hex() for f in got]
    assert got[0] == rarp(d.mac)
    garp = got[1]
    assert len(garp) == 60 and garp[:6] == b"\xff" * 6 and \
        garp[12:14] == b"\x08\x06", garp.hex()
    assert garp[20:22] == b"\x00\x01" and garp[22:28] == m and \
        garp[28:32] == ip4 and garp[38:42] == ip4, garp.hex()
    na = got[2]
    assert len(na) == 86 and na[:6] == bytes.fromhex("333300000001"), \
        na.hex()
    assert na[12:14] == b"\x86\xdd" and na[20] == 58 and na[21] == 255
    assert na[22:38] == ip6 and na[54] == 136 and na[62:78] == ip6, na.hex()
    assert na[58] & 0x20 and na[80:86] == m, na.hex()


def test_clean_stop_with_nics_filters_and_timers():
    """Teardown with a running announce timer, a snooped group and NICs
    whose backends went first: exit 0, nothing from a sanitizer"""
    d = setup()
    c = d.c
    f, _ = igmp_frame(d.mac, "192.0.2.10", 0x16, "239.1.2.3")
    d.guest.send(f)
    c.wait_event("NIC_RX_FILTER_CHANGED")
    c.cmd("netdev_add", {"id": "n2", "type": "nic", "netdev": "net"})
    c.cmd("netdev_del", {"id": "net"})
    c.cmd("announce-self", {"initial": 1000, "max": 1000, "rounds": 100,
                            "step": 0, "id": "long"})
    c.cmd("announce-self", {"initial": 500, "max": 500, "rounds": 100,
                            "step": 0})
    d.stop_clean()


if __name__ == "__main__":
    nethub.main(globals())
