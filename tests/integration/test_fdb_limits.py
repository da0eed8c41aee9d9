#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_fdb_limits.py - the MAC table under a flood of made-up source
addresses (issue 12), and port security: per-netdev and per-port MAC
limits (fdb-set-mac-limit) and static entries (fdb-add, fdb-del).

The flood: several TCP peers of one listening socket netdev ("atk") and
one of another ("atk2") send frames from many random source MACs until
the hub's table (a small --fdb-max, to stay fast) is full.  Then innocent
peers of a third netdev ("vms") join: their hosts must still be learned
(the table evicts from the port holding the most entries), so unicast
between two of them must not reach the third (the bystander)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
from nethub import (BROADCAST, Nethubd, assert_frame, free_port,  # noqa: E402
                    poll, sync, tagged)
from qmp import assert_error, assert_ok  # noqa: E402

FDB_MAX = 512           # the hub's table, kept small to keep the test fast
NETDEV_MAX = 300        # what the ports of one netdev may learn together
FLOOD = 400             # made-up source MACs each attacker sends


def ok(c, cmd, args=None):
    return assert_ok(c.execute(cmd, args, id=cmd), id=cmd)


def err(c, cmd, args, cls, desc):
    assert_error(c.execute(cmd, args, id=cmd), cls, desc, id=cmd)


def hub0(c):
    for h in ok(c, "query-hubs"):
        if h["id"] == 0:
            return h
    raise AssertionError("no hub 0 in query-hubs")


def fdb_entries(c, hubid=0):
    """{mac: entry} of hub @hubid's table, VLAN 0 only."""
    for h in ok(c, "query-fdb", {"hubid": hubid}):
        return {e["mac"]: e for e in h["entries"] if e["vlan"] == 0}
    return {}


def random_macs(n):
    """@n distinct locally administered unicast MACs."""
    macs = set()
    while len(macs) < n:
        b = bytearray(os.urandom(6))
        b[0] = (b[0] & 0xfe) | 0x02
        macs.add(nethub.mac_str(bytes(b)))
    return sorted(macs)


def flood(peer, macs):
    """@peer sends one frame from each of @macs, to an unknown unicast."""
    dst = nethub.mac_for(0xdead01)
    peer.send_many([tagged(dst, m, "flood") for m in macs])


def skip_through(sender, receivers, timeout=30):
    """Like nethub.sync(), but the frames before @sender's barrier (a
    flood) are skipped, not refused."""
    token = ("SKIP-BARRIER %s" % os.urandom(4).hex()).encode()
    sender.send(nethub.eth(BROADCAST, sender.mac, token,
                           ethertype=nethub.ETHERTYPE_BARRIER))
    for r in receivers:
        while True:
            item = r._next(timeout, True)
            if item is None:
                raise AssertionError("%s: barrier from %s not seen within "
                                     "%.1fs" % (r.name, sender.name, timeout))
            if item[1][14:] == token:
                break


def learn(c, peer, others=()):
    """@peer broadcasts; @others get it; the hub learns @peer's MAC."""
    f = peer.send_frame(BROADCAST, "learn me")
    for o in others:
        assert_frame(o.expect_frame(), f, o.name)
    poll(lambda: fdb_entries(c).get(peer.mac, {}).get("port") ==
         peer.port_name, 15, what="%s learned on %s"
         % (peer.mac, peer.port_name))


def start(*extra):
    ports = {n: free_port() for n in ("atk", "atk2", "vms")}
    args = []
    for n, p in ports.items():
        args += ["-netdev", "socket,id=%s,listen=127.0.0.1:%d" % (n, p)]
    d = Nethubd(*args, *extra, qmp=True).start()
    d.ports = ports
    d.c = d.qmp()
    return d


def test_flood_evicts_the_flooders_and_innocent_unicast_stays_private():
    d = start("--fdb-max", FDB_MAX, "--fdb-netdev-max", NETDEV_MAX)
    c = d.c
    atk = [d.attach(d.ports["atk"], netdev="atk") for _ in range(3)]
    atk2 = d.attach(d.ports["atk2"], netdev="atk2")
    sent = 0
    for peer in atk + [atk2]:
        flood(peer, random_macs(FLOOD))
        sent += FLOOD
    # every made-up address was either learned or refused
    poll(lambda: (lambda s: s["learned"] + s["netdev-full-drops"] >= sent)(
        hub0(c)["fdb-stats"]), 60, what="the flood processed")
    st = hub0(c)
    fs = st["fdb-stats"]
    nethub.diag("after the flood: %r, %d entries" % (fs, st["fdb-entries"]))
    assert fs["netdev-full-drops"] > 0, fs
    assert fs["evicted"] > 0, fs
    assert st["fdb-entries"] <= FDB_MAX, st
    entries = fdb_entries(c)
    on_atk = sum(1 for e in entries.values() if e["port"].startswith("atk."))
    assert on_atk <= NETDEV_MAX, "netdev atk holds %d > %d" \
        % (on_atk, NETDEV_MAX)

    # the innocent hosts arrive on a full table: they are learned
    a = d.attach(d.ports["vms"])
    b = d.attach(d.ports["vms"])
    bystander = d.attach(d.ports["vms"])
    for x in (a, b, bystander):
        x.drain()
    learn(c, a, others=[b, bystander])
    learn(c, b, others=[a, bystander])
    learn(c, bystander, others=[a, b])
    assert hub0(c)["fdb-entries"] <= FDB_MAX
    # the attackers keep flooding: the innocent entries stay
    flood(atk2, random_macs(FLOOD))
    flood(atk[0], random_macs(FLOOD))
    skip_through(atk2, [a, b, bystander])
    skip_through(atk[0], [a, b, bystander])
    entries = fdb_entries(c)
    for x in (a, b, bystander):
        assert entries.get(x.mac, {}).get("port") == x.port_name, \
            "%s lost after the second flood: %r" % (x.mac, entries.get(x.mac))

    for i in range(5):
        f = a.send_frame(b.mac, "private %d a->b" % i)
        assert_frame(b.expect_frame(), f, "b")
        g = b.send_frame(a.mac, "private %d b->a" % i)
        assert_frame(a.expect_frame(), g, "a")
    # a barrier from each: nothing of theirs reached the bystander before it
    sync(a, [b, bystander])
    sync(b, [a, bystander])
    fs = hub0(c)["fdb-stats"]
    assert fs["full-drops"] == 0, fs


def test_netdev_mac_limit_covers_later_peers():
    d = start()
    c = d.c
    err(c, "fdb-set-mac-limit", {"port": "nope", "mac-limit": 1},
        "DeviceNotFound", "Device 'nope' not found")
    err(c, "fdb-set-mac-limit", {"port": "vms", "mac-limit": 16777217},
        "GenericError",
        "Parameter 'mac-limit' expects a count from 0 to 16777216")
    a = d.attach(d.ports["vms"])
    flood(a, random_macs(10))
    poll(lambda: hub0(c)["fdb-stats"]["learned"] >= 10, 15,
         what="10 addresses learned")
    # lowered on the netdev: what is over goes at once
    assert ok(c, "fdb-set-mac-limit", {"port": "vms", "mac-limit": 4}) == {}
    vms = lambda: [e for e in fdb_entries(c).values()  # noqa: E731
                   if e["port"].startswith("vms.")]
    assert len(vms()) == 4, vms()
    assert hub0(c)["fdb-stats"]["evicted"] == 6
    # a peer that connects later shares the same budget
    b = d.attach(d.ports["vms"])
    flood(b, random_macs(10))
    poll(lambda: hub0(c)["fdb-stats"]["netdev-full-drops"] >= 10, 15,
         what="the later peer refused")
    assert len(vms()) == 4, vms()
    # another netdev is not covered
    x = d.attach(d.ports["atk"], netdev="atk")
    learn(c, x)
    # back to the default: the netdev's ports learn again
    assert ok(c, "fdb-set-mac-limit", {"port": "vms"}) == {}
    flood(b, random_macs(10))
    poll(lambda: len(vms()) == 14, 15, what="14 addresses on vms")


def test_port_lock_with_static_entries():
    d = start()
    c = d.c
    a = d.attach(d.ports["vms"])
    b = d.attach(d.ports["vms"])
    bystander = d.attach(d.ports["vms"])

    # a learns nothing, so frames for it flood
    assert ok(c, "fdb-set-mac-limit",
              {"port": a.port_name, "mac-limit": 0}) == {}
    f = a.send_frame(BROADCAST, "a, unlearned")
    assert_frame(b.expect_frame(), f, "b")
    assert_frame(bystander.expect_frame(), f, "bystander")
    poll(lambda: hub0(c)["fdb-stats"]["port-full-drops"] >= 1, 15,
         what="a's address refused")
    assert a.mac not in fdb_entries(c)
    g = b.send_frame(a.mac, "to a, flooded")
    assert_frame(a.expect_frame(), g, "a")
    assert_frame(bystander.expect_frame(), g, "bystander")

    # pinned: frames for it go to a only
    err(c, "fdb-add", {"port": "nope", "mac": a.mac}, "DeviceNotFound",
        "Device 'nope' not found")
    err(c, "fdb-add", {"port": "vms", "mac": a.mac}, "GenericError",
        "netdev vms has no port named vms: name one of its ports (vms.N)")
    err(c, "fdb-add", {"port": a.port_name, "mac": "52:54:00:zz:00:01"},
        "GenericError",
        "Parameter 'mac' expects a MAC address xx:xx:xx:xx:xx:xx")
    err(c, "fdb-add", {"port": a.port_name, "mac": "ff:ff:ff:ff:ff:ff"},
        "GenericError",
        "Parameter 'mac' expects a unicast MAC address, not a multicast one")
    err(c, "fdb-add", {"port": a.port_name, "mac": a.mac, "vlan": 4096},
        "GenericError", "Parameter 'vlan' expects a VLAN ID from 0 to 4095")
    assert ok(c, "fdb-add", {"port": a.port_name, "mac": a.mac}) == {}
    e = fdb_entries(c)[a.mac]
    assert e["port"] == a.port_name and e["static"] is True, e
    err(c, "fdb-add", {"port": bystander.port_name, "mac": a.mac},
        "GenericError", "MAC %s (VLAN 0) is pinned to port %s"
        % (a.mac, a.port_name))
    g = b.send_frame(a.mac, "to a, pinned")
    assert_frame(a.expect_frame(), g, "a")
    sync(b, [a, bystander])

    # the bystander claims a's address: it does not move
    h = bystander.send_frame(BROADCAST, "I am a", src=a.mac)
    assert_frame(b.expect_frame(), h, "b")
    assert_frame(a.expect_frame(), h, "a")
    sync(bystander, [a, b])
    e = fdb_entries(c)[a.mac]
    assert e["port"] == a.port_name and e["static"] is True, e
    g = b.send_frame(a.mac, "to a, still pinned")
    assert_frame(a.expect_frame(), g, "a")
    sync(b, [a, bystander])

    # removed: frames for it flood again
    err(c, "fdb-del", {"port": b.port_name, "mac": a.mac}, "GenericError",
        "MAC %s (VLAN 0) is not on port %s" % (a.mac, b.port_name))
    assert ok(c, "fdb-del", {"port": a.port_name, "mac": a.mac}) == {}
    assert a.mac not in fdb_entries(c)
    err(c, "fdb-del", {"hubid": 0, "mac": a.mac}, "GenericError",
        "MAC %s (VLAN 0) is not on hub 0" % a.mac)
    err(c, "fdb-del", {"hubid": 7, "mac": a.mac}, "GenericError",
        "hub 7 does not exist")
    g = b.send_frame(a.mac, "to a, flooded again")
    assert_frame(a.expect_frame(), g, "a")
    assert_frame(bystander.expect_frame(), g, "bystander")

    # the port's own limit ends with its connection: the next peer learns
    a.close()
    d.wait_state(lambda s: a.port_name not in nethub.port_names(s, "vms"),
                 what="%s removed" % a.port_name)
    n = d.attach(d.ports["vms"])
    learn(c, n, others=[b, bystander])


if __name__ == "__main__":
    nethub.main(globals())
