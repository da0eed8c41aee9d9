#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_socket_tcp.py - the socket netdev's stream modes: listen= with many
peers, connect= (with and without reconnect=), fd= with an inherited
socket, peers that go away, slow peers and awkward stream input."""

import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
from nethub import (BROADCAST, DgramPeer, Nethubd, StreamPeer,  # noqa: E402
                    TcpListener, assert_frame, free_port, run_cli, sync)


def listen_arg(p, nid="vms"):
    return ["-netdev", "socket,id=%s,listen=127.0.0.1:%d" % (nid, p)]


def two_way(x, y):
    """Broadcast and unicast both ways between @x and @y."""
    f = x.send_frame(BROADCAST, "%s to all" % x.name)
    assert_frame(y.expect_frame(), f, y.name)
    g = y.send_frame(x.mac, "%s to %s" % (y.name, x.name))
    assert_frame(x.expect_frame(), g, x.name)
    h = x.send_frame(y.mac, "%s to %s" % (x.name, y.name))
    assert_frame(y.expect_frame(), h, y.name)


def test_listen_takes_new_peers_after_all_have_left():
    p = free_port()
    d = Nethubd(*listen_arg(p)).start()
    a, b = d.attach(p), d.attach(p)
    two_way(a, b)
    a.close()
    b.close()
    d.wait_state(lambda s: nethub.port_names(s, "vms") == [],
                 what="all ports of vms gone")
    c, e = d.attach(p), d.attach(p)
    two_way(c, e)


def test_peer_reset_removes_only_its_port():
    p = free_port()
    d = Nethubd(*listen_arg(p)).start()
    a, b, c = d.attach(p), d.attach(p), d.attach(p)
    # close with RST while nethub may have frames queued for it
    for i in range(50):
        b.send_frame(BROADCAST, "b flood %d" % i)
    a.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                      struct.pack("ii", 1, 0))
    a.close()
    d.wait_state(lambda s: a.port_name not in nethub.port_names(s, "vms"),
                 what="%s removed" % a.port_name)
    c.expect_frames(50)
    two_way(b, c)
    assert d.alive()


def test_burst_of_connects_is_accepted_without_stalls():
    """500 connects in a row, each closed at once: every one completes at
    once (a full accept queue drops the SYN, and the client waits a second
    for its retransmit), and nethub accepts every one (the next peer's
    port is numbered 501)."""
    p = free_port()
    d = Nethubd(*listen_arg(p)).start()
    n, stall = 500, 0.9
    slowest = 0.0
    start = time.monotonic()
    for i in range(n):
        t = time.monotonic()
        c = socket.create_connection(("127.0.0.1", p), timeout=30)
        slowest = max(slowest, time.monotonic() - t)
        c.close()
    total = time.monotonic() - start
    nethub.diag("%d connects in %.2f s, slowest %.3f s"
                % (n, total, slowest))
    assert slowest < stall, \
        "a connect took %.3f s: a SYN was dropped (accept queue full)" \
        % slowest
    d.wait_state(lambda s: nethub.port_names(s, "vms") == [],
                 what="every one of the %d ports gone again" % n)
    a = d.attach(p)
    assert a.port_name == "vms.%d" % (n + 1), \
        "the next peer is %s: not all %d connections were accepted" % (
            a.port_name, n)
    b = d.attach(p)
    two_way(a, b)


def test_stream_parsing_survives_split_and_coalesced_frames():
    p = free_port()
    d = Nethubd(*listen_arg(p)).start()
    a, b = d.attach(p), d.attach(p)
    frames = [nethub.tagged(BROADCAST, a.mac, "piece %d" % i, size=60 + i)
              for i in range(40)]
    wire = b"".join(struct.pack(">I", len(f)) + f for f in frames)
    # the first ten one byte at a time, the rest in one write
    cut = sum(4 + len(f) for f in frames[:10])
    for i in range(cut):
        a.send_raw(wire[i:i + 1])
        if i % 16 == 0:
            time.sleep(0.001)
    a.send_raw(wire[cut:])
    for i, f in enumerate(frames):
        assert_frame(b.expect_frame(), f, "b, frame %d" % i)
    sync(a, [b])


def test_slow_peer_drops_are_counted_and_do_not_stall_others():
    p = free_port()
    d = Nethubd(*listen_arg(p)).start()
    a, b = d.attach(p), d.attach(p)
    # c connects but does not read, with a small receive buffer
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
    raw.connect(("127.0.0.1", p))
    nethub.at_cleanup(raw.close)
    c_addr = nethub.addr_str(raw.getsockname())
    st = d.wait_state(lambda s: nethub.port_of_peer(s, "vms", c_addr),
                      what="the slow peer's port")
    c_name = nethub.port_of_peer(st, "vms", c_addr)["name"]
    base = nethub.port(st, c_name)
    n, window = 6000, 200
    sent = [nethub.tagged(BROADCAST, a.mac, "flood %d" % i, size=1500)
            for i in range(n)]
    for w in range(0, n, window):
        a.send_many(sent[w:w + window])
        for i in range(w, min(n, w + window)):
            got = b.expect_frame()
            assert got == sent[i], "b, frame %d: got %s" % (
                i, nethub.describe(got))

    def accounted(s):
        pc = nethub.port(s, c_name)
        offers = (pc["stats"]["tx-frames"] + nethub.tx_drops(pc)
                  - base["stats"]["tx-frames"] - nethub.tx_drops(base))
        return offers == n
    st = d.wait_state(accounted, what="every flood offered to %s accounted "
                      "(tx-frames + tx-drops)" % c_name)
    pc = nethub.port(st, c_name)
    assert nethub.tx_drops(pc, "queue-full") > 0, \
        "a peer that does not read got everything? %r" % pc["stats"]
    taken = pc["stats"]["tx-frames"] - base["stats"]["tx-frames"]
    # what c finally reads is whole frames, in order, exactly those taken
    c = StreamPeer(raw, name="slow c")
    index = {f: i for i, f in enumerate(sent)}
    last = -1
    for k in range(taken):
        got = c.expect_frame()
        i = index.get(got)
        assert i is not None, "slow peer, frame %d: not one sent: %s" % (
            k, nethub.describe(got))
        assert i > last, "slow peer: frame %d after %d" % (i, last)
        last = i
    c.expect_no_frame(0.5)


def test_connect_exchanges_frames_both_ways():
    lst = TcpListener()
    p = free_port()
    d = Nethubd("-netdev", "socket,id=up,connect=127.0.0.1:%d" % lst.port,
                *listen_arg(p)).start()
    s = lst.accept(name="upstream")
    a = d.attach(p)
    st = d.wait_state(lambda st: nethub.port(st, "up"),
                      what="port up")
    pu = nethub.port(st, "up")
    assert pu.get("peer") == "127.0.0.1:%d" % lst.port, pu
    two_way(s, a)
    two_way(a, s)


def test_connect_refused_without_reconnect_fails_startup():
    p = free_port()
    assert not nethub.tcp_listening(p)
    rc, out, err = run_cli("-netdev", "socket,id=up,connect=127.0.0.1:%d" % p,
                           "--pidfile", os.path.join(nethub.tmpdir(), "pid"),
                           "--log-level", "warn")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 1, "exit status %d, want 1 (%r)" % (rc, err)
    assert len(lines) == 1, "want one stderr line: %r" % err
    assert "refused" in lines[0].lower() or str(p) in lines[0], \
        "message does not say what failed: %r" % lines[0]


def test_connect_with_reconnect_waits_for_listener_and_reconnects():
    p = free_port()
    q = free_port()
    d = Nethubd("-netdev",
                "socket,id=up,connect=127.0.0.1:%d,reconnect=1" % p,
                *listen_arg(q)).start()
    a = d.attach(q)
    time.sleep(1.5)            # a few refused attempts first
    assert d.alive(), "nethubd gave up:\n" + d.log()
    lst = TcpListener(p)
    s = lst.accept(timeout=15, name="upstream 1")
    d.wait_state(lambda st: nethub.port(st, "up"), what="port up")
    two_way(s, a)
    s.close()
    s2 = lst.accept(timeout=15, name="upstream 2")
    d.wait_state(lambda st: nethub.port(st, "up") and
                 nethub.port(st, "up").get("peer") == "127.0.0.1:%d" % p,
                 what="port up again")
    two_way(s2, a)
    two_way(a, s2)


def test_connect_peer_leaving_without_reconnect_leaves_daemon_running():
    lst = TcpListener()
    p = free_port()
    d = Nethubd("-netdev", "socket,id=up,connect=127.0.0.1:%d" % lst.port,
                *listen_arg(p)).start()
    s = lst.accept(name="upstream")
    a, b = d.attach(p), d.attach(p)
    f = s.send_frame(BROADCAST, "upstream to all")
    assert_frame(a.expect_frame(), f, "a")
    assert_frame(b.expect_frame(), f, "b")
    s.close()
    d.wait_state(lambda st: nethub.port(st, "up") is None or
                 nethub.port(st, "up").get("link") is False or
                 nethub.port(st, "up").get("peer") in (None, ""),
                 what="port up without its peer")
    two_way(a, b)
    assert d.alive()


def _fd_netdev(kind, peer_cls):
    ours, theirs = socket.socketpair(socket.AF_UNIX, kind)
    nethub.at_cleanup(theirs.close)
    p = free_port()
    fd = theirs.fileno()
    d = Nethubd("-netdev", "socket,id=f,fd=%d" % fd, *listen_arg(p),
                pass_fds=[fd]).start()
    theirs.close()
    x = peer_cls(ours, name="fd peer")
    d.wait_state(lambda st: nethub.port(st, "f"), what="port f")
    a = d.attach(p)
    two_way(x, a)
    two_way(a, x)
    big = nethub.tagged(BROADCAST, a.mac, "big", size=9000)
    a.send(big)
    assert_frame(x.expect_frame(), big, "fd peer")


def test_fd_stream_socket_exchanges_frames():
    _fd_netdev(socket.SOCK_STREAM, StreamPeer)


def test_fd_dgram_socket_exchanges_frames():
    _fd_netdev(socket.SOCK_DGRAM, DgramPeer)


def test_fd_not_open_is_refused():
    rc, out, err = run_cli("-netdev", "socket,id=f,fd=987",
                           "--log-level", "warn")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 1, "exit status %d, want 1 (%r)" % (rc, err)
    assert len(lines) == 1 and "987" in lines[0], \
        "message does not name the fd: %r" % err


def test_netdev_del_frees_the_listen_address_at_once():
    """netdev_del is done when it returns: the same listen= address can be
    added again straight away, every time."""
    d = Nethubd("-netdev", "none,id=nothing", qmp=True).start()
    c = d.qmp()
    p = free_port()
    for i in range(40):
        c.cmd("netdev_add", {"type": "socket", "id": "l%d" % i,
                             "listen": "127.0.0.1:%d" % p})
        c.cmd("netdev_del", {"id": "l%d" % i})
    c.cmd("netdev_add", {"type": "socket", "id": "last",
                         "listen": "127.0.0.1:%d" % p})
    peer = d.attach(p, netdev="last")
    assert peer.port_name == "last.1", peer.port_name


if __name__ == "__main__":
    nethub.main(globals())
