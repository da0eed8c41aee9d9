#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_l2tpv3.py - the l2tpv3 netdev against QEMU's own (QEMU 7.2).

QEMU runs without a guest (-M none) and relays, on its hub 0, between its
l2tpv3 netdev and a socket udp= netdev the test drives; nethub has an
l2tpv3 netdev facing QEMU's and a socket udp= netdev of its own.  A frame
the test sends into one side must come out of the other, over UDP and
over raw IP (protocol 115), with cookies and counters.  Crafted datagrams
with the wrong session, cookie or counter are dropped and counted.  And a
QEMU guest on QEMU's l2tpv3 netdev pings a guest on nethub's socket
netdev, across nethub's l2tpv3 netdev."""

import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
import qemu_guest  # noqa: E402
from nethub import (BROADCAST, Nethubd, UdpPeer, assert_frame,  # noqa: E402
                    at_cleanup, free_port, poll, run_cli, tmpdir)

QEMU = "qemu-system-x86_64"


def udp_peer(tag):
    """A UdpPeer and the socket udp= netdev options that face it."""
    peer = UdpPeer(name=tag)
    local = free_port("udp")
    peer.to(local)
    spec = "udp=127.0.0.1:%d,localaddr=127.0.0.1:%d" % (peer.port, local)
    return peer, spec


def start_qemu(l2tpv3_spec):
    """QEMU relaying between its l2tpv3 netdev and a socket the test
    drives; the test's end of it."""
    peer, spec = udp_peer("qemu-side")
    argv = [QEMU, "-M", "none", "-nodefaults", "-display", "none",
            "-netdev", "l2tpv3,id=l," + l2tpv3_spec,
            "-netdev", "socket,id=s," + spec,
            "-netdev", "hubport,id=h1,hubid=0,netdev=l",
            "-netdev", "hubport,id=h2,hubid=0,netdev=s"]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)

    def stop():
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    at_cleanup(stop)
    time.sleep(0.5)
    if proc.poll() is not None:
        raise AssertionError("QEMU exited: %s" % proc.stderr.read().decode())
    return proc, peer


def start_nethub(l2tpv3_spec):
    peer, spec = udp_peer("nethub-side")
    d = Nethubd("-netdev", "l2tpv3,id=t," + l2tpv3_spec,
                "-netdev", "socket,id=u," + spec).start()
    st = d.state()
    assert nethub.port(st, "t"), "no port t: %r" % nethub.ports(st)
    return d, peer


def wait_path_up(theirs, ours):
    """QEMU may still be starting: probe until a frame gets through."""
    deadline = time.monotonic() + 30
    probes = []
    while True:
        probes.append(bytes(theirs.send_frame(BROADCAST, "probe")))
        try:
            got = ours.expect_frame(timeout=1.0)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            continue
        assert bytes(got) in probes, "not a probe: %r" % got
        break
    time.sleep(0.3)
    ours.drain()


def relay_both_ways(ours, theirs, qemu):
    """Frames cross in both directions, several in a row (the counter
    moves on with each)."""
    wait_path_up(theirs, ours)
    for i in range(3):
        f = theirs.send_frame(BROADCAST, "from qemu %d" % i)
        assert_frame(ours.expect_frame(), f, "nethub side")
    for i in range(3):
        g = ours.send_frame(theirs.mac, "from nethub %d" % i)
        assert_frame(theirs.expect_frame(), g, "qemu side")
    assert qemu.poll() is None, "QEMU died"


def counters(d):
    return nethub.netdev(d.state(), "t")["info"]


def test_udp_with_64bit_cookies_and_counter_interoperates_with_qemu():
    a, b = free_port("udp"), free_port("udp")
    common = "src=127.0.0.1,dst=127.0.0.1,udp=on,cookie64=on,counter=on"
    d, ours = start_nethub(
        "%s,srcport=%d,dstport=%d,txsession=17,rxsession=18,"
        "txcookie=0x1122334455667788,rxcookie=0x8877665544332211"
        % (common, a, b))
    qemu, theirs = start_qemu(
        "%s,srcport=%d,dstport=%d,txsession=18,rxsession=17,"
        "txcookie=0x8877665544332211,rxcookie=0x1122334455667788"
        % (common, b, a))
    relay_both_ways(ours, theirs, qemu)
    nd = counters(d)
    for k in ("rx-session-mismatch", "rx-cookie-mismatch",
              "rx-counter-mismatch", "rx-short", "rx-bad-header"):
        assert nd.get(k) == 0, "%s: %r" % (k, nd)


def test_ip_mode_with_32bit_cookie_and_offset_interoperates_with_qemu():
    # Two loopback addresses: a raw socket bound to one sees only the
    # datagrams sent to it, not its own
    common = "udp=off,offset=6"
    d, ours = start_nethub(
        "%s,src=127.0.0.1,dst=127.0.0.2,txsession=0x100,rxsession=0x200,"
        "txcookie=0xdeadbeef,rxcookie=0xfeedface" % common)
    qemu, theirs = start_qemu(
        "%s,src=127.0.0.2,dst=127.0.0.1,txsession=0x200,rxsession=0x100,"
        "txcookie=0xfeedface,rxcookie=0xdeadbeef" % common)
    relay_both_ways(ours, theirs, qemu)
    nd = counters(d)
    assert nd["udp"] is False and nd["header-bytes"] == 14, nd


def test_udp_over_ipv6_with_pinned_counter_interoperates_with_qemu():
    a, b = free_port("udp"), free_port("udp")
    common = "src=::1,dst=::1,ipv6=on,udp=on,counter=on,pincounter=on"
    d, ours = start_nethub("%s,srcport=%d,dstport=%d,txsession=9"
                           % (common, a, b))
    qemu, theirs = start_qemu("%s,srcport=%d,dstport=%d,txsession=9"
                              % (common, b, a))
    relay_both_ways(ours, theirs, qemu)
    nd = counters(d)
    assert nd["local"] == "[::1]:%d" % a and nd["header-bytes"] == 12, nd


def l2tp_udp(session, cookie, counter, frame):
    return (struct.pack("!IIII", 0x00030000, session, cookie, counter) +
            frame)


def test_wrong_session_cookie_counter_and_runts_dropped_and_counted():
    a = free_port("udp")
    d, ours = start_nethub(
        "src=127.0.0.1,dst=127.0.0.1,udp=on,srcport=%d,dstport=%d,"
        "txsession=5,rxsession=6,txcookie=1,rxcookie=0xabcd,counter=on"
        % (a, free_port("udp")))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    at_cleanup(s.close)
    to = ("127.0.0.1", a)
    frame = nethub.eth(BROADCAST, "02:00:00:00:00:01", b"crafted")
    s.sendto(l2tp_udp(6, 0xabcd, 10, frame), to)        # good
    assert_frame(ours.expect_frame(), frame, "nethub side")
    s.sendto(l2tp_udp(7, 0xabcd, 11, frame), to)        # session
    s.sendto(l2tp_udp(6, 0xabce, 12, frame), to)        # cookie
    s.sendto(l2tp_udp(6, 0xabcd, 9, frame), to)         # counter went back
    s.sendto(l2tp_udp(6, 0xabcd, 10, frame), to)        # counter repeated
    s.sendto(l2tp_udp(6, 0xabcd, 13, frame)[:20], to)   # runt
    s.sendto(struct.pack("!I", 0x80030000) +
             l2tp_udp(6, 0xabcd, 14, frame)[4:], to)   # a control message
    s.sendto(l2tp_udp(6, 0xabcd, 15, frame), to)        # good again
    assert_frame(ours.expect_frame(), frame, "nethub side")
    ours.expect_no_frame()
    want = {"rx-session-mismatch": 1, "rx-cookie-mismatch": 1,
            "rx-counter-mismatch": 2, "rx-short": 1, "rx-bad-header": 1}
    st = d.wait_state(lambda st: all(
        nethub.netdev(st, "t")["info"].get(k) == v for k, v in want.items()),
        what="the drop counters %r" % want)
    p = nethub.port(st, "t")
    assert nethub.rx_drops(p, "filtered") == 4, p["stats"]
    assert nethub.rx_drops(p, "malformed") == 2, p["stats"]


def test_bad_options_refused_with_a_clear_error():
    cases = [
        ("src=127.0.0.1,dst=127.0.0.1,udp=on,srcport=1,txsession=1",
         "need both src and dst port for udp"),
        ("src=127.0.0.1,dst=127.0.0.1,txcookie=1,txsession=1",
         "require both 'rxcookie' and 'txcookie' or neither"),
        ("src=127.0.0.1,dst=127.0.0.1,offset=300,txsession=1",
         "offset must be less than 256 bytes"),
        ("src=127.0.0.1,dst=127.0.0.1", "Parameter 'txsession' is missing"),
        ("src=127.0.0.1,dst=127.0.0.1,txsession=1,txcookie=0x100000000,"
         "rxcookie=1", "txcookie does not fit in 32 bits"),
    ]
    for spec, msg in cases:
        rc, out, err = run_cli("-netdev", "l2tpv3,id=t," + spec,
                               "--log-level", "warn")
        assert rc == 1 and msg in err, "%s: rc %d, %r" % (spec, rc, err)
    # a port another netdev holds
    p = free_port("udp")
    spec = ("src=127.0.0.1,dst=127.0.0.1,udp=on,srcport=%d,dstport=%d,"
            "txsession=1" % (p, free_port("udp")))
    rc, out, err = run_cli("-netdev", "l2tpv3,id=t1," + spec,
                           "-netdev", "l2tpv3,id=t2," + spec,
                           "--log-level", "warn")
    assert rc == 1 and "could not bind to src 127.0.0.1 port %d: " \
        "Address already in use" % p in err, "rc %d, %r" % (rc, err)


def test_qemu_guest_on_l2tpv3_pings_a_guest_on_nethub():
    """Guest a's QEMU speaks l2tpv3 (UDP, 32-bit cookies, a counter) to
    nethub's l2tpv3 netdev; guest b connects to nethub's socket netdev.
    They ping each other, and nethub learns a behind its l2tpv3 port."""
    qemu, kernel, initrd = qemu_guest.prerequisites()
    tmp = tmpdir("nethub-l2tpv3-guests-")
    p_nh, p_q, port = free_port("udp"), free_port("udp"), free_port()
    common = "src=127.0.0.1,dst=127.0.0.1,udp=on,counter=on"
    d = Nethubd("-netdev", "l2tpv3,id=t,%s,srcport=%d,dstport=%d,"
                "txsession=0x31,rxsession=0x32,txcookie=0x5151,"
                "rxcookie=0x5252" % (common, p_nh, p_q),
                "-netdev", "socket,id=vms,listen=127.0.0.1:%d" % port).start()
    ga = qemu_guest.Guest(
        "la", tmp, qemu=qemu, kernel=kernel, initrd=initrd,
        netdev="l2tpv3,%s,srcport=%d,dstport=%d,txsession=0x32,"
        "rxsession=0x31,txcookie=0x5252,rxcookie=0x5151"
        % (common, p_q, p_nh),
        mac="52:54:00:2f:00:01", ip="10.213.98.1/24", ping="10.213.98.2",
        ping_wait=60)
    gb = qemu_guest.Guest(
        "lb", tmp, qemu=qemu, kernel=kernel, initrd=initrd,
        netdev="socket,connect=127.0.0.1:%d" % port,
        mac="52:54:00:2f:00:02", ip="10.213.98.2/24", ping="10.213.98.1",
        ping_wait=60)
    with ga, gb:
        ga.start()
        gb.start()
        for g in (ga, gb):
            ok, line = g.wait_ping()
            assert ok, "%s: %s\n%s" % (g.name, line, g.tail())
        st = d.state()
        assert nethub.fdb_port(st, ga.mac) == "t", st.get("fdb")
        assert nethub.fdb_port(st, gb.mac) == "vms.1", st.get("fdb")
        c = counters(d)
        assert not c.get("rx-cookie-mismatch") and \
            not c.get("rx-session-mismatch"), c

if __name__ == "__main__":
    sys.exit(nethub.run(globals()))
