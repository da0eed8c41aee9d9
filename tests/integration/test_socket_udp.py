#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_socket_udp.py - the socket netdev's datagram modes: udp= (with
localaddr=) and mcast=, one raw frame per datagram, as QEMU sends them."""

import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
from nethub import (BROADCAST, Nethubd, UdpPeer, McastPeer,  # noqa: E402
                    assert_frame, free_port, run_cli, sync)


def udp_args(n):
    """@n UdpPeers and the -netdev arguments u1..un pointing at them."""
    peers, args = [], []
    for i in range(1, n + 1):
        peer = UdpPeer()
        local = free_port("udp")
        peer.to(local)
        peer.port_name = peer.name = "u%d" % i
        peer.localaddr = "127.0.0.1:%d" % local
        args += ["-netdev", "socket,id=u%d,udp=127.0.0.1:%d,localaddr=%s"
                 % (i, peer.port, peer.localaddr)]
        peers.append(peer)
    return peers, args


def start_udp_hub(n=3, *extra):
    peers, args = udp_args(n)
    d = Nethubd(*args, *extra).start()
    st = d.state()
    for x in peers:
        assert nethub.port(st, x.port_name), "no port %s: %r" % (
            x.port_name, nethub.ports(st))
    return d, peers


def expect_refused(args, message):
    rc, out, err = run_cli(*args, "--log-level", "warn")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 1, "exit status %d, want 1 (%r)" % (rc, err)
    assert len(lines) == 1, "want one stderr line: %r" % err
    assert message in lines[0], "stderr %r lacks %r" % (lines[0], message)


def test_udp_unknown_unicast_and_broadcast_flood_from_localaddr():
    d, (a, b, c) = start_udp_hub(3)
    f = a.send_frame(BROADCAST, "udp broadcast")
    g = a.send_frame(nethub.mac_for(0x554E4B), "udp unknown unicast")
    m = a.send_frame("01:00:5e:01:02:03", "udp multicast")
    for r in (b, c):
        for want in (f, g, m):
            assert_frame(r.expect_frame(), want, r.name)
    sync(b, [a, c])      # a got nothing of its own back
    for r in (b, c):
        assert r.sources == {r.localaddr}, \
            "%s: frames came from %r, want nethub's localaddr %s" % (
                r.name, r.sources, r.localaddr)


def test_udp_learned_unicast_reaches_only_its_port():
    d, (a, b, c) = start_udp_hub(3)
    f = b.send_frame(BROADCAST, "b here")
    assert_frame(a.expect_frame(), f, "a")
    assert_frame(c.expect_frame(), f, "c")
    d.wait_state(lambda s: nethub.fdb_port(s, b.mac) == "u2",
                 what="b's MAC learned on u2")
    g = a.send_frame(b.mac, "a to b")
    assert_frame(b.expect_frame(), g, "b")
    sync(a, [b, c])
    h = c.send_frame(b.mac, "c to b")
    assert_frame(b.expect_frame(), h, "b")
    sync(c, [a, b])


def test_udp_runt_datagrams_counted_malformed():
    d, (a, b) = start_udp_hub(2)
    a.send_raw(b"")
    a.send_raw(bytes(13))
    f = a.send_frame(BROADCAST, "after runts")
    assert_frame(b.expect_frame(), f, "b")
    st = d.wait_state(lambda s: nethub.rx_drops(nethub.port(s, "u1"),
                                                "malformed") >= 2,
                      what="runt datagrams counted as malformed on u1")
    pa = nethub.port(st, "u1")
    assert nethub.rx_drops(pa, "malformed") == 2, pa["stats"]
    nethub.check_port_accounting(pa)


def test_udp_largest_datagram_crosses_and_oversize_frame_is_counted():
    peers, args = udp_args(1)
    u = peers[0]
    p = free_port()
    d = Nethubd(*args, "-netdev",
                "socket,id=vms,listen=127.0.0.1:%d" % p).start()
    t = d.attach(p)
    # the largest IPv4 UDP payload, into the switch
    big = nethub.tagged(BROADCAST, u.mac, "65507 by udp", size=65507)
    u.send(big)
    assert_frame(t.expect_frame(), big, "tcp peer")
    # a large frame that fits a datagram, out of the switch
    f = nethub.tagged(BROADCAST, t.mac, "65000 to udp", size=65000)
    t.send(f)
    assert_frame(u.expect_frame(), f, "udp peer")
    base = nethub.port(d.state(), "u1")
    # a frame no UDP datagram can carry: dropped, and counted
    t.send(nethub.tagged(BROADCAST, t.mac, "65535 to udp", size=65535))
    g = t.send_frame(BROADCAST, "after the oversize one")
    assert_frame(u.expect_frame(), g, "udp peer")
    st = d.wait_state(
        lambda s: nethub.stat(nethub.port(s, "u1"), "tx-frames") +
        nethub.tx_drops(nethub.port(s, "u1")) >=
        nethub.stat(base, "tx-frames") + nethub.tx_drops(base) + 2,
        what="both offers to u1 accounted")
    pu = nethub.port(st, "u1")
    assert nethub.stat(pu, "tx-frames") == nethub.stat(base, "tx-frames") + 1
    dropped = {r: nethub.tx_drops(pu, r) - nethub.tx_drops(base, r)
               for r in nethub.DROP_REASONS}
    assert dropped["oversize"] == 1, "tx-drops change on u1: %r" % dropped


UDP_SEGMENT = 103     # linux/udp.h: send one buffer as equal datagrams


def gso_send(peer, frames, size):
    """One sendmsg() from @peer carrying @frames, cut by the kernel into
    datagrams of @size bytes (the last may be shorter)."""
    cmsg = [(socket.SOL_UDP, UDP_SEGMENT, struct.pack("H", size))]
    n = peer.sock.sendmsg([b"".join(frames)], cmsg, 0, peer.dest)
    assert n == sum(len(f) for f in frames), n


def test_udp_gso_peer_frames_forwarded_one_per_datagram():
    """A peer that batches with UDP GSO: nethubd (which takes its
    datagrams coalesced with GRO) forwards every frame, in order, as a
    datagram of its own to a plain peer, and counts frames, not calls."""
    d, (a, b) = start_udp_hub(2)
    base = d.state()
    frames = []
    for size, n in ((200, 30), (1500, 40), (64, 100)):
        run = [nethub.tagged(BROADCAST, a.mac, "gso %d/%d" % (size, i),
                             size=size) for i in range(n)]
        run.append(nethub.tagged(BROADCAST, a.mac, "short %d" % size,
                                 size=60))
        # at most 64 segments per send
        for i in range(0, len(run), 64):
            gso_send(a, run[i:i + 64], size)
        frames += run
    for i, want in enumerate(frames):
        assert_frame(b.expect_frame(), want, "b, frame %d" % i)
    sync(a, [b])            # nothing more: no frame twice
    total = len(frames) + 1  # the barrier is a frame too

    def counted(s):
        pa, pb = nethub.port(s, "u1"), nethub.port(s, "u2")
        return (nethub.stat(pa, "rx-frames") -
                nethub.stat(nethub.port(base, "u1"), "rx-frames") >= total
                and nethub.stat(pb, "tx-frames") -
                nethub.stat(nethub.port(base, "u2"), "tx-frames") >= total)
    st = d.wait_state(counted, what="%d frames counted on u1 and u2" % total)
    pa, pb = nethub.port(st, "u1"), nethub.port(st, "u2")
    assert nethub.stat(pa, "rx-frames") - nethub.stat(
        nethub.port(base, "u1"), "rx-frames") == total, pa["stats"]
    assert nethub.stat(pb, "tx-frames") - nethub.stat(
        nethub.port(base, "u2"), "tx-frames") == total, pb["stats"]
    nethub.check_port_accounting(pa)


def stranger(host="127.0.0.1", port=0):
    """A UDP socket that is not the udp= peer, bound to @host:@port."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, port))
    nethub.at_cleanup(s.close)
    return s


def send_from_strangers(a, mac):
    """Frames to a's netdev (u1) from two strangers: another port on a's
    host, and a's port on another host (127.0.0.2); one of them sends a
    GSO batch, which nethubd takes coalesced (GRO).  Return the frames."""
    same_host, other_host = stranger(), stranger("127.0.0.2", a.port)
    sent = []
    for i, s in enumerate((same_host, other_host)):
        f = nethub.tagged(BROADCAST, mac, "stranger %d" % i)
        s.sendto(f, a.dest)
        sent.append(f)
    run = [nethub.tagged(BROADCAST, mac, "stranger gso %d" % i, size=300)
           for i in range(8)]
    cmsg = [(socket.SOL_UDP, UDP_SEGMENT, struct.pack("H", 300))]
    same_host.sendmsg([b"".join(run)], cmsg, 0, a.dest)
    return sent + run


def test_udp_datagrams_from_a_stranger_are_dropped_and_counted():
    """Only the udp= peer's datagrams are frames: a stranger's (another
    port, another host) are received, dropped and counted as filtered on
    the port and as foreign on the netdev, also when they came coalesced."""
    d, (a, b) = start_udp_hub(2)
    sent = send_from_strangers(a, nethub.mac_for(0x5354))
    st = d.wait_state(lambda s: nethub.rx_drops(nethub.port(s, "u1"),
                                                "filtered") >= len(sent),
                      what="%d foreign datagrams counted on u1" % len(sent))
    sync(a, [b])        # nothing of theirs reached b
    f = a.send_frame(BROADCAST, "the peer itself")
    assert_frame(b.expect_frame(), f, "b")
    st = d.state()
    pa = nethub.port(st, "u1")
    assert nethub.rx_drops(pa, "filtered") == len(sent), pa["stats"]
    nethub.check_port_accounting(pa)
    info = nethub.netdev(st, "u1").get("info", {})
    assert info.get("foreign-source-dropped") == len(sent), info
    assert info.get("udp-any-source") is False, info
    assert nethub.fdb_port(st, nethub.mac_for(0x5354)) is None, \
        "a stranger's MAC was learned"


def test_udp_any_source_takes_a_strangers_frames():
    peers, args = udp_args(2)
    a, b = peers
    args[1] += ",udp-any-source=on"
    d = Nethubd(*args, qmp=True).start()
    sent = send_from_strangers(a, nethub.mac_for(0x5355))
    for i, want in enumerate(sent):
        assert_frame(b.expect_frame(), want, "b, stranger frame %d" % i)
    sync(a, [b])
    st = d.state()
    pa = nethub.port(st, "u1")
    assert nethub.rx_drops(pa, "filtered") == 0, pa["stats"]
    info = nethub.netdev(st, "u1").get("info", {})
    assert info.get("udp-any-source") is True, info
    assert info.get("foreign-source-dropped") == 0, info
    # netdev_add takes it as a JSON boolean
    c = UdpPeer()
    local = free_port("udp")
    d.qmp_cmd("netdev_add", type="socket", id="u3",
              udp="127.0.0.1:%d" % c.port, localaddr="127.0.0.1:%d" % local,
              **{"udp-any-source": True})
    c.to(local)
    x = stranger()
    g = nethub.tagged(BROADCAST, nethub.mac_for(0x5356), "to u3")
    x.sendto(g, ("127.0.0.1", local))
    assert_frame(b.expect_frame(), g, "b, from u3's stranger")


def test_udp_any_source_is_checked():
    p = free_port("udp")
    expect_refused(["-netdev", "socket,id=s,listen=127.0.0.1:%d,"
                    "udp-any-source=on" % free_port()],
                   "udp-any-source= is only valid with udp=")
    expect_refused(["-netdev", "socket,id=u,udp=127.0.0.1:%d,"
                    "localaddr=127.0.0.1:%d,udp-any-source=maybe"
                    % (free_port("udp"), p)],
                   "udp-any-source")
    assert nethub._udp_free(p)


def test_udp_without_localaddr_is_refused():
    expect_refused(["-netdev", "socket,id=u,udp=127.0.0.1:%d" % free_port()],
                   "localaddr= is mandatory with udp=")


def test_localaddr_with_listen_is_refused():
    p = free_port()
    expect_refused(["-netdev", "socket,id=s,listen=127.0.0.1:%d,"
                    "localaddr=127.0.0.1:%d" % (p, free_port())],
                   "localaddr= is only valid with mcast= or udp=")
    assert not nethub.tcp_listening(p)


def test_socket_needs_exactly_one_mode():
    msg = "exactly one of listen=, connect=, mcast= or udp= is required"
    expect_refused(["-netdev", "socket,id=s"], msg)
    expect_refused(["-netdev", "socket,id=s,listen=127.0.0.1:%d,"
                    "udp=127.0.0.1:%d,localaddr=127.0.0.1:%d"
                    % (free_port(), free_port(), free_port())], msg)


# ---------------------------------------------------------------- mcast

def mcast_setup():
    group, port = nethub.mcast_group(), free_port("udp")
    nethub.ensure_loopback_multicast(group, port)
    return group, port


def mcast_hub(group, port, nid="m"):
    """nethubd with mcast netdev @nid and a listening socket netdev."""
    p = free_port()
    d = Nethubd("-netdev", "socket,id=%s,mcast=%s:%d,localaddr=127.0.0.1"
                % (nid, group, port),
                "-netdev", "socket,id=vms,listen=127.0.0.1:%d" % p).start()
    return d, p


def test_mcast_frames_cross_between_nethub_and_a_group_member():
    group, port = mcast_setup()
    x = McastPeer(group, port)
    d, p = mcast_hub(group, port)
    a = d.attach(p)
    f = x.send_frame(BROADCAST, "from the group")
    assert_frame(a.expect_frame(), f, "tcp peer")
    g = a.send_frame(BROADCAST, "to the group")
    assert_frame(x.expect_frame(), g, "group member")
    d.wait_state(lambda s: nethub.fdb_port(s, x.mac) == "m",
                 what="group member's MAC learned on port m")
    h = a.send_frame(x.mac, "unicast to the group member")
    assert_frame(x.expect_frame(), h, "group member")
    k = x.send_frame(a.mac, "unicast to the tcp peer")
    assert_frame(a.expect_frame(), k, "tcp peer")


def test_mcast_own_echoes_are_not_switched_back():
    group, port = mcast_setup()
    x = McastPeer(group, port)
    d, p = mcast_hub(group, port)
    a = d.attach(p)
    b = d.attach(p)
    sent = [a.send_frame(BROADCAST, "flood %d" % i) for i in range(5)]
    for f in sent:
        assert_frame(b.expect_frame(), f, "b")
        assert_frame(x.expect_frame(), f, "group member")
    # an echo would come back through port m: to a (the sender) and as a
    # second copy to b.  Echoes take another path, so wait in time.
    b.expect_no_frame(2.0)
    a.expect_no_frame(0.5)
    x.expect_no_frame(0.5)
    st = d.wait_state(lambda s: nethub.counter_sum(
        nethub.netdev(s, "m"), "echo") >= 5,
        what="netdev m counting the 5 echoes it dropped")
    nd = nethub.netdev(st, "m")
    assert nethub.find_counters(nd.get("info", {}), "echo"), \
        "netdev m's info has no echo counter: %r" % nd.get("info")
    assert nethub.fdb_port(st, a.mac) == a.port_name, \
        "a's MAC learned on %r" % nethub.fdb_port(st, a.mac)


def test_mcast_two_nethub_instances_exchange_frames():
    group, port = mcast_setup()
    d1, p1 = mcast_hub(group, port)
    d2, p2 = mcast_hub(group, port)
    a = d1.attach(p1)
    b = d2.attach(p2)
    f = a.send_frame(BROADCAST, "hub 1 to hub 2")
    assert_frame(b.expect_frame(), f, "b on hub 2")
    g = b.send_frame(a.mac, "hub 2 to a on hub 1")
    assert_frame(a.expect_frame(), g, "a on hub 1")
    b.expect_no_frame(1.0)   # no second copy, no echo
    a.expect_no_frame(0.5)
    st1 = d1.state()
    assert nethub.fdb_port(st1, b.mac) == "m", \
        "hub 1 learned b on %r" % nethub.fdb_port(st1, b.mac)
    st2 = d2.state()
    assert nethub.fdb_port(st2, a.mac) == "m", \
        "hub 2 learned a on %r" % nethub.fdb_port(st2, a.mac)


if __name__ == "__main__":
    nethub.main(globals())
