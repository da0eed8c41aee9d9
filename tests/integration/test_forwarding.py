#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_forwarding.py - learning and flooding over TCP peers of one
`-netdev socket,id=vms,listen=127.0.0.1:P`, port naming, frame sizes and
VLANs, the accounting invariants, and bad stream input."""

import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import threading

import nethub  # noqa: E402
from nethub import (BROADCAST, Nethubd, assert_frame, free_port,  # noqa: E402
                    sync)


def start_hub(npeers=3, *extra):
    """nethubd with one listening socket netdev and @npeers TCP peers,
    attached one after another."""
    p = free_port()
    d = Nethubd("-netdev", "socket,id=vms,listen=127.0.0.1:%d" % p,
                *extra).start()
    peers = [d.attach(p) for _ in range(npeers)]
    return d, p, peers


def learn(d, peer, vlan=None, others=()):
    """@peer announces its MAC with a broadcast (flooded to @others, who
    must receive it) and nethub learns it on @peer's port."""
    f = peer.send_frame(BROADCAST, "learn me", vlan=vlan)
    for o in others:
        assert_frame(o.expect_frame(), f, o.name)
    v = vlan or 0
    d.wait_state(lambda s: nethub.fdb_port(s, peer.mac, v) == peer.port_name,
                 what="%s learned on %s" % (peer.mac, peer.port_name))


def test_ports_are_named_in_accept_order():
    d, p, peers = start_hub(4)
    names = [x.port_name for x in peers]
    assert names == ["vms.1", "vms.2", "vms.3", "vms.4"], names
    st = d.state()
    assert nethub.port_names(st, "vms") == names, nethub.port_names(st, "vms")
    for x in peers:
        assert nethub.port(st, x.port_name)["peer"] == x.addr
    assert nethub.hub(st, 0)["ports"] == names or \
        sorted(nethub.hub(st, 0)["ports"]) == sorted(names), nethub.hub(st, 0)
    peers[1].close()
    d.wait_state(lambda s: "vms.2" not in nethub.port_names(s, "vms"),
                 what="vms.2 removed")
    e = d.attach(p)
    assert e.port_name == "vms.5", "new peer after vms.4 named %s" \
        % e.port_name


def test_unknown_unicast_floods_to_all_other_ports():
    d, p, (a, b, c) = start_hub(3)
    unknown = nethub.mac_for(0xABCDEF)
    f = a.send_frame(unknown, "to nobody known")
    assert_frame(b.expect_frame(), f, "b")
    assert_frame(c.expect_frame(), f, "c")
    sync(b, [a, c])      # a got nothing back


def test_learned_unicast_reaches_only_its_port():
    d, p, (a, b, c) = start_hub(3)
    learn(d, b, others=[a, c])
    f = a.send_frame(b.mac, "for b only")
    assert_frame(b.expect_frame(), f, "b")
    sync(a, [b, c])      # c got nothing
    sync(b, [a, c])      # a got nothing
    g = c.send_frame(b.mac, "for b only, from c")
    assert_frame(b.expect_frame(), g, "b")
    sync(c, [a, b])


def test_broadcast_and_multicast_flood_to_all_but_sender():
    d, p, (a, b, c) = start_hub(3)
    learn(d, b, others=[a, c])
    learn(d, c, others=[a, b])
    sent = [a.send_frame(BROADCAST, "broadcast"),
            a.send_frame("01:00:5e:00:00:fb", "ipv4 multicast"),
            a.send_frame("33:33:00:00:00:01", "ipv6 multicast"),
            a.send_frame("01:80:c2:00:00:0e", "link-local multicast")]
    for r in (b, c):
        for f in sent:
            assert_frame(r.expect_frame(), f, r.name)
    sync(b, [a, c])      # a got none of its own frames back


def test_unicast_to_mac_learned_on_sender_is_not_echoed():
    d, p, (a, b, c) = start_hub(3)
    learn(d, a, others=[b, c])
    before = nethub.port(d.state(), a.port_name)
    a.send_frame(a.mac, "to myself")
    sync(a, [b, c])      # a's frame was handled, b and c got nothing
    sync(b, [a, c])      # and a got nothing
    after = d.wait_state(
        lambda s: nethub.rx_drops(nethub.port(s, a.port_name), "no-dest")
        > nethub.rx_drops(before, "no-dest"),
        what="a no-dest drop on %s" % a.port_name)
    nethub.check_port_accounting(nethub.port(after, a.port_name))


def test_mac_moving_to_another_port_is_followed():
    d, p, (a, b, c) = start_hub(3)
    mac = nethub.mac_for(0x4D4F56)
    f = b.send_frame(BROADCAST, "mac at b", src=mac)
    assert_frame(a.expect_frame(), f, "a")
    assert_frame(c.expect_frame(), f, "c")
    d.wait_state(lambda s: nethub.fdb_port(s, mac) == b.port_name,
                 what="%s on %s" % (mac, b.port_name))
    g = a.send_frame(mac, "to moving mac at b")
    assert_frame(b.expect_frame(), g, "b")
    sync(a, [b, c])
    h = c.send_frame(BROADCAST, "mac now at c", src=mac)
    assert_frame(a.expect_frame(), h, "a")
    assert_frame(b.expect_frame(), h, "b")
    d.wait_state(lambda s: nethub.fdb_port(s, mac) == c.port_name,
                 what="%s moved to %s" % (mac, c.port_name))
    k = a.send_frame(mac, "to moving mac at c")
    assert_frame(c.expect_frame(), k, "c")
    sync(a, [b, c])      # b no longer gets it


def test_vlan_tagged_frames_pass_unchanged_and_are_learned_per_vlan():
    d, p, (a, b, c) = start_hub(3)
    mac = nethub.mac_for(0x564C41)
    f10 = b.send_frame(BROADCAST, "vlan 10 from b", src=mac, vlan=10)
    for r in (a, c):
        assert_frame(r.expect_frame(), f10, r.name)
    f20 = c.send_frame(BROADCAST, "vlan 20 from c", src=mac, vlan=20)
    for r in (a, b):
        assert_frame(r.expect_frame(), f20, r.name)
    st = d.wait_state(
        lambda s: nethub.fdb_port(s, mac, 10) == b.port_name and
        nethub.fdb_port(s, mac, 20) == c.port_name,
        what="%s learned on vlan 10 at b and on vlan 20 at c" % mac)
    entries = [e for e in nethub.fdb(st) if e["mac"] == mac]
    assert len(entries) == 2, entries
    for e in entries:
        for key in ("mac", "vlan", "port", "age", "static"):
            assert key in e, "fdb entry lacks %r: %r" % (key, e)
        assert e["static"] is False, e

    u10 = a.send_frame(mac, "unicast vlan 10", vlan=10)
    got = b.expect_frame()
    assert_frame(got, u10, "b")
    assert nethub.parse_eth(got).vlan == 10
    sync(a, [b, c])
    u20 = a.send_frame(mac, "unicast vlan 20", vlan=20)
    assert_frame(c.expect_frame(), u20, "c")
    sync(a, [b, c])
    # unknown on VLAN 30 and untagged: flooded, tag kept as it was
    u30 = a.send_frame(mac, "unicast vlan 30", vlan=30)
    u0 = a.send_frame(mac, "untagged")
    for r in (b, c):
        assert_frame(r.expect_frame(), u30, r.name)
        assert_frame(r.expect_frame(), u0, r.name)
    # a priority-tagged frame keeps its PCP bits intact
    pcp = bytearray(nethub.tagged(BROADCAST, a.mac, "pcp 5", vlan=10))
    pcp[14] |= 0xA0
    a.send(bytes(pcp))
    for r in (b, c):
        assert_frame(r.expect_frame(), pcp, r.name)


def test_jumbo_frames_cross_intact():
    d, p, (a, b, c) = start_hub(3)
    learn(d, b, others=[a, c])
    for size in (1514, 9000, 65535):
        f = nethub.tagged(b.mac, a.mac, "jumbo %d" % size, size=size)
        a.send(f)
        assert_frame(b.expect_frame(), f, "b (%d bytes)" % size)
        g = nethub.tagged(BROADCAST, a.mac, "flood %d" % size, size=size)
        a.send(g)
        assert_frame(b.expect_frame(), g, "b (flood %d)" % size)
        assert_frame(c.expect_frame(), g, "c (flood %d)" % size)
    t = nethub.tagged(BROADCAST, a.mac, "tagged jumbo", vlan=7, size=9000)
    a.send(t)
    assert_frame(b.expect_frame(), t, "b (tagged 9000)")
    assert_frame(c.expect_frame(), t, "c (tagged 9000)")
    sync(a, [b, c])
    st = d.state()
    for x in (a, b, c):
        pt = nethub.port(st, x.port_name)
        nethub.check_port_accounting(pt)
        assert nethub.rx_drops(pt) == 0 and nethub.tx_drops(pt) == 0, \
            "drops on %s: %r" % (x.port_name, pt["stats"])


def test_burst_of_2000_frames_arrives_complete_and_in_order():
    d, p, (a, b, c) = start_hub(3)
    learn(d, b, others=[a, c])
    base = d.state()
    n, window = 2000, 100
    sent = [nethub.tagged(b.mac, a.mac, "burst %d" % i, size=128)
            for i in range(n)]
    # Windows well below a port's queue (1024 frames): sent at once, each
    # window must be complete before the next, so no queue can overflow.
    for w in range(0, n, window):
        a.send_many(sent[w:w + window])
        for i in range(w, min(n, w + window)):
            got = b.expect_frame()
            assert got == sent[i], "frame %d: got %s, want %s" % (
                i, nethub.describe(got), nethub.describe(sent[i]))
    sync(a, [b, c])      # c got none
    pa0, pb0 = (nethub.port(base, x.port_name) for x in (a, b))

    def counted(s):
        pa, pb = (nethub.port(s, x.port_name) for x in (a, b))
        return (pa["stats"]["rx-frames"] - pa0["stats"]["rx-frames"] >= n + 1
                and pb["stats"]["tx-frames"] - pb0["stats"]["tx-frames"]
                >= n + 1)
    st = d.wait_state(counted, what="the burst counted")
    pa, pb = (nethub.port(st, x.port_name) for x in (a, b))
    # + 1: the barrier frame sync() sent
    assert pa["stats"]["rx-frames"] - pa0["stats"]["rx-frames"] == n + 1, \
        pa["stats"]
    assert pa["stats"]["rx-forwarded"] - pa0["stats"]["rx-forwarded"] \
        == n + 1, pa["stats"]
    assert pb["stats"]["tx-frames"] - pb0["stats"]["tx-frames"] == n + 1, \
        pb["stats"]
    assert pa["stats"]["rx-bytes"] - pa0["stats"]["rx-bytes"] >= n * 128
    assert nethub.tx_drops(pb) == 0, pb["stats"]


def test_fast_unicast_sender_is_slowed_to_receiver_pace_without_loss():
    """Flow control: a TCP sender far faster than its (learned, unicast)
    receiver is paused instead of overflowing the receiver's queue.  The
    receiver here is a Python thread sharing its interpreter with the
    sender, which a loaded machine can keep off the CPU for longer than the
    default stall limit: a generous limit keeps it a well-behaved peer."""
    d, p, (a, b, c) = start_hub(3, "--stall-ms", "5000")
    learn(d, b, others=[a, c])
    n = 20000
    frames = [nethub.tagged(b.mac, a.mac, "fc %d" % i, size=1400)
              for i in range(n)]
    # ~28 MB in one go: far more than the receiver's queue (1024 frames)
    # plus every socket buffer on the way.
    sender = threading.Thread(target=a.send_many, args=(frames,))
    sender.start()
    for i in range(n):
        got = b.expect_frame()
        assert got == frames[i], "frame %d: got %s" % (i, nethub.describe(got))
    sender.join(30)
    st = d.state()
    pb = nethub.port(st, b.port_name)
    assert pb["stats"]["tx-drops"]["queue-full"] == 0, pb["stats"]


def test_stalled_receiver_does_not_freeze_its_senders():
    """Bounded backpressure: peer C stops reading (as a paused VM does)
    while A streams unicast to C and, now and then, a frame to B.  A may
    wait for C for the stall limit, then C is marked stalled and A goes on:
    B gets every frame A sent it, and what C could not take is counted."""
    d, p, (a, b) = start_hub(2, "--stall-ms", "50")
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    raw.connect(("127.0.0.1", p))
    nethub.at_cleanup(raw.close)
    c_addr = nethub.addr_str(raw.getsockname())
    st = d.wait_state(lambda s: nethub.port_of_peer(s, "vms", c_addr),
                      what="the stopped peer's port")
    c_name = nethub.port_of_peer(st, "vms", c_addr)["name"]
    c_mac = nethub.mac_for(9999)
    hello = nethub.tagged(BROADCAST, c_mac, "c is here")
    raw.sendall(struct.pack(">I", len(hello)) + hello)
    for x in (a, b):
        assert_frame(x.expect_frame(), hello, x.name)
    learn(d, b, others=[a])
    d.wait_state(lambda s: nethub.fdb_port(s, c_mac, 0) == c_name,
                 what="C learned on %s" % c_name)
    # ~20 MB for C (far beyond its queue and socket buffers), one frame
    # in fifty for B
    n, every = 20000, 50
    frames, to_b = [], []
    for i in range(n):
        if i % every == 0:
            f = nethub.tagged(b.mac, a.mac, "to b %d" % i, size=200)
            to_b.append(f)
        else:
            f = nethub.tagged(c_mac, a.mac, "to c %d" % i, size=1000)
        frames.append(f)
    sender = threading.Thread(target=a.send_many, args=(frames,),
                              daemon=True)
    sender.start()
    for k, want in enumerate(to_b):
        got = b.expect_frame(timeout=10)
        assert got == want, "b, frame %d: got %s" % (k, nethub.describe(got))
    sender.join(20)
    assert not sender.is_alive(), "A is still held back by the stopped C"
    st = d.wait_state(
        lambda s: nethub.port(s, c_name)["stats"]["tx-stalls"] >= 1,
        what="%s marked stalled" % c_name)
    pc = nethub.port(st, c_name)
    assert nethub.tx_drops(pc, "queue-full") > 0, pc["stats"]
    for name in (a.port_name, b.port_name, c_name):
        nethub.check_port_accounting(nethub.port(st, name))
    # C reads again: it drains, is no longer stalled, and gets new frames
    c = nethub.StreamPeer(raw, name="c")
    d.wait_state(lambda s: nethub.port(s, c_name)["stats"]["tx-frames"] ==
                 pc["stats"]["tx-frames"], what="nothing more for C yet")
    got = 0
    while True:
        try:
            c.expect_frame(2)
            got += 1
        except AssertionError:
            break
    print("# c read %d queued frames" % got)
    a.send_frame(c_mac, "after the stall")
    f = c.expect_frame(10)
    assert b"after the stall" in f, nethub.describe(f)


def _accounting_ok(st, names):
    for name in names:
        nethub.check_port_accounting(nethub.port(st, name))
    return True


def _offers(st, names):
    """(sum rx-forwarded, sum tx-frames + tx-drops) over @names."""
    fw = tx = 0
    for name in names:
        s = nethub.port(st, name)["stats"]
        fw += s["rx-forwarded"]
        tx += s["tx-frames"] + sum(s["tx-drops"].values())
    return fw, tx


def test_counters_add_up_per_port_and_across_the_hub():
    d, p, (a, b, c) = start_hub(3)
    peers = (a, b, c)
    names = [x.port_name for x in peers]
    for x in peers:
        learn(d, x, others=[y for y in peers if y is not x])
    st = d.state()
    _accounting_ok(st, names)
    fw0, tx0 = _offers(st, names)
    # Unicast only, every destination known: each forwarded frame is one
    # offer to one port.
    count = {}
    for rnd in range(30):
        for x in peers:
            for y in peers:
                if x is y:
                    continue
                x.send_frame(y.mac, "unicast %d" % rnd)
                count[y] = count.get(y, 0) + 1
    for y, k in count.items():
        y.expect_frames(k)
    # one more, not forwarded: to the sender's own MAC (no-dest)
    a.send_frame(a.mac, "nowhere")

    def settled(s):
        fw, tx = _offers(s, names)
        return fw - fw0 == 6 * 30 and tx - tx0 == fw - fw0 and \
            nethub.port(s, a.port_name)["stats"]["rx-frames"] == \
            nethub.port(st, a.port_name)["stats"]["rx-frames"] + 61
    st2 = d.wait_state(settled, what="the unicast offers to add up "
                       "(sum rx-forwarded == sum tx-frames + tx-drops)")
    _accounting_ok(st2, names)
    for name in names:
        s = nethub.port(st2, name)["stats"]
        for key in ("rx-frames", "rx-bytes", "rx-forwarded", "tx-frames",
                    "tx-bytes", "rx-drops", "tx-drops"):
            assert key in s, "port %s stats lack %r" % (name, key)
        for reason in nethub.DROP_REASONS:
            assert reason in s["rx-drops"], \
                "port %s rx-drops lacks %r" % (name, reason)


def test_disconnected_peer_port_removed_and_its_macs_flushed():
    d, p, (a, b, c) = start_hub(3)
    learn(d, b, others=[a, c])
    extra = nethub.mac_for(0x455854)
    f = b.send_frame(BROADCAST, "second mac of b", src=extra)
    assert_frame(a.expect_frame(), f, "a")
    assert_frame(c.expect_frame(), f, "c")
    d.wait_state(lambda s: nethub.fdb_port(s, extra) == b.port_name,
                 what="second MAC of b learned")
    b.close()
    st = d.wait_state(
        lambda s: b.port_name not in nethub.port_names(s, "vms") and
        nethub.fdb_port(s, b.mac) is None and nethub.fdb_port(s, extra)
        is None, what="%s removed and its MACs flushed" % b.port_name)
    assert b.port_name not in nethub.hub(st, 0)["ports"], nethub.hub(st, 0)
    g = a.send_frame(b.mac, "to departed b")
    assert_frame(c.expect_frame(), g, "c (flooded)")


def test_runt_frame_counted_malformed_and_connection_stays():
    d, p, (a, b, c) = start_hub(3)
    for n in (0, 1, 13):
        a.send(bytes(range(n)))
    f = a.send_frame(BROADCAST, "after runts")
    assert_frame(b.expect_frame(), f, "b")
    assert_frame(c.expect_frame(), f, "c")
    st = d.wait_state(
        lambda s: nethub.rx_drops(nethub.port(s, a.port_name),
                                  "malformed") >= 3,
        what="runt frames counted as malformed on " + a.port_name)
    pa = nethub.port(st, a.port_name)
    assert nethub.rx_drops(pa, "malformed") == 3, pa["stats"]
    nethub.check_port_accounting(pa)


def test_oversize_length_prefix_closes_only_that_connection():
    d, p, (a, b, c) = start_hub(3)
    nd0 = nethub.netdev(d.state(), "vms")
    a.send_raw(struct.pack(">I", nethub.MAX_STREAM_FRAME + 1) + b"x" * 64)
    a.expect_eof()
    st = d.wait_state(lambda s: a.port_name not in
                      nethub.port_names(s, "vms"),
                      what="%s removed" % a.port_name)
    f = b.send_frame(BROADCAST, "b still works")
    assert_frame(c.expect_frame(), f, "c")
    g = c.send_frame(BROADCAST, "c still works")
    assert_frame(b.expect_frame(), g, "b")
    nd = nethub.netdev(st, "vms")
    before = nethub.counter_sum(nd0, "protocol", ("options", "ports"))
    after = nethub.counter_sum(nd, "protocol", ("options", "ports"))
    assert after == before + 1, \
        "no protocol error counted on netdev vms: %r" % nd
    # and the listener still takes new peers
    e = d.attach(p)
    h = e.send_frame(BROADCAST, "newcomer")
    assert_frame(b.expect_frame(), h, "b")


def test_frame_length_65536_to_69632_dropped_oversize_and_connection_stays():
    d, p, (a, b, c) = start_hub(3)
    for n in (nethub.FRAME_MAX_LEN + 1, nethub.MAX_STREAM_FRAME):
        a.send(nethub.tagged(BROADCAST, a.mac, "too big", size=n))
    f = a.send_frame(BROADCAST, "after the big ones")
    assert_frame(b.expect_frame(), f, "b")
    assert_frame(c.expect_frame(), f, "c")
    st = d.wait_state(
        lambda s: nethub.rx_drops(nethub.port(s, a.port_name),
                                  "oversize") >= 2,
        what="oversize frames counted on " + a.port_name)
    pa = nethub.port(st, a.port_name)
    assert nethub.rx_drops(pa, "oversize") == 2, pa["stats"]
    nethub.check_port_accounting(pa)
    assert not a.eof.is_set(), "connection was closed"


def test_truncated_frame_then_eof_counted():
    d, p, (a, b, c) = start_hub(3)
    skip = ("options", "ports")
    nd0 = nethub.netdev(d.state(), "vms")
    pat = "malformed|truncat|protocol|partial"
    before = nethub.counter_sum(nd0, pat, skip)
    a.send_raw(struct.pack(">I", 100) + b"y" * 50)
    a.sock.shutdown(socket.SHUT_WR)
    st = d.wait_state(lambda s: a.port_name not in
                      nethub.port_names(s, "vms"),
                      what="%s removed after EOF" % a.port_name)
    nd = nethub.netdev(st, "vms")
    after = nethub.counter_sum(nd, pat, skip)
    assert after == before + 1, \
        "the truncated frame is not counted on netdev vms: %r" % nd
    f = b.send_frame(BROADCAST, "b still works")
    assert_frame(c.expect_frame(), f, "c")


if __name__ == "__main__":
    nethub.main(globals())
