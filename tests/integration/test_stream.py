#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_stream.py - QEMU 7.2's stream and dgram netdevs on nethub: unix and
inet addresses (flat on the command line), a unix stream server with many
clients and a chosen file mode, abstract names, reconnecting, QEMU 7.2's
own stream and dgram netdevs as peers, bad frames and bad options.

Wire formats: stream = a 4-byte big-endian length, then the frame (the
socket netdev's); dgram = one frame per datagram.  QEMU runs as -M none:
its hub joins its stream or dgram netdev to a UDP socket netdev that this
test drives, so no guest is needed.
"""

import os
import socket
import stat
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
import qemu_guest  # noqa: E402
from nethub import (BROADCAST, DgramPeer, Nethubd, StreamPeer,  # noqa
                    UdpPeer, assert_frame, at_cleanup, free_port, poll,
                    run_cli, tmpdir)


def unix_client(path, name, abstract=False):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(("\0" + path) if abstract else path)
    return StreamPeer(s, name=name)


def wait_ports(d, nid, n):
    return d.wait_state(lambda st: len(nethub.ports(st, nid)) == n,
                        what="%d ports on %s" % (n, nid))


def two_way(x, y, *others):
    """A broadcast from @x reaches @y (and @others); @y's answer to x's MAC
    reaches @x."""
    f = x.send_frame(BROADCAST, "%s to all" % x.name)
    for r in (y,) + others:
        assert_frame(r.expect_frame(), f, r.name)
    g = y.send_frame(x.mac, "%s to %s" % (y.name, x.name))
    assert_frame(x.expect_frame(), g, x.name)


def info(d, nid):
    return nethub.netdev(d.state(), nid)["info"]


def qemu(*netdev_args):
    """qemu-system-x86_64 -M none with these -netdev arguments, killed at
    the end of the test."""
    args = ["qemu-system-x86_64", "-M", "none", "-nodefaults",
            "-nographic"]
    for a in netdev_args:
        args += ["-netdev", a]
    q = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    at_cleanup(lambda: (q.poll() is None and q.kill(), q.wait()))
    return q


def qemu_udp_leg(name, netdev_id, netdev):
    """A UdpPeer and the QEMU -netdev arguments joining it, on QEMU's hub
    0, to QEMU netdev @netdev (id @netdev_id).  The UDP leg comes first,
    so it is bound by the time @netdev shows itself to nethub (connected,
    or its socket file made): a frame sent then is not lost."""
    u = UdpPeer(name=name)
    qport = free_port("udp")
    u.to(qport)
    return u, ["socket,id=u,udp=127.0.0.1:%d,localaddr=127.0.0.1:%d"
               % (u.port, qport),
               "hubport,id=h2,hubid=0,netdev=u",
               netdev,
               "hubport,id=h1,hubid=0,netdev=%s" % netdev_id]


# ---------------------------------------------------------------- stream

def test_stream_unix_server_takes_many_clients_with_chosen_mode():
    path = os.path.join(tmpdir("nethub-stream-"), "st.sock")
    d = Nethubd("-netdev", "stream,id=st,server=on,addr.type=unix,"
                "addr.path=%s,mode=0660" % path).start()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o660, \
        oct(os.stat(path).st_mode)
    a = unix_client(path, "a")
    b = unix_client(path, "b")
    c = unix_client(path, "c")
    st = wait_ports(d, "st", 3)
    assert nethub.port_names(st, "st") == ["st.1", "st.2", "st.3"], st
    two_way(a, b, c)
    two_way(c, a, b)
    b.close()
    wait_ports(d, "st", 2)
    two_way(a, c)
    d.stop_clean()
    assert not os.path.exists(path), "socket file left behind"


def test_qemu_stream_and_dgram_netdevs_through_nethub():
    """QEMU 7.2 with -netdev stream (unix, client) and another with
    -netdev dgram (unix) exchange frames through nethub's stream server
    and dgram netdev."""
    tmp = tmpdir("nethub-qemu-stream-")
    spath = os.path.join(tmp, "st.sock")
    ours, theirs = os.path.join(tmp, "nh.dg"), os.path.join(tmp, "q.dg")
    d = Nethubd("-netdev", "stream,id=st,server=on,addr.type=unix,"
                "addr.path=%s" % spath,
                "-netdev", "dgram,id=dg,local.type=unix,local.path=%s,"
                "remote.type=unix,remote.path=%s" % (ours, theirs)).start()
    u1, leg1 = qemu_udp_leg(
        "via-qemu-stream", "s",
        "stream,id=s,server=off,addr.type=unix,addr.path=%s" % spath)
    qemu(*leg1)
    u2, leg2 = qemu_udp_leg(
        "via-qemu-dgram", "g",
        "dgram,id=g,local.type=unix,local.path=%s,remote.type=unix,"
        "remote.path=%s" % (theirs, ours))
    qemu(*leg2)
    wait_ports(d, "st", 1)
    poll(lambda: os.path.exists(theirs), 15, what="QEMU's dgram socket")
    two_way(u1, u2)
    two_way(u2, u1)


def test_stream_client_reconnects():
    path = os.path.join(tmpdir("nethub-stream-"), "peer.sock")
    port = free_port()
    d = Nethubd("-netdev", "stream,id=c,addr.type=unix,addr.path=%s,"
                "reconnect=1" % path,
                "-netdev", "socket,id=vms,listen=127.0.0.1:%d" % port,
                qmp=True).start()
    t = d.attach(port)
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(path)
    lsock.listen(4)
    lsock.settimeout(15)
    at_cleanup(lsock.close)
    s, _ = lsock.accept()
    p = StreamPeer(s, name="listener")
    d.wait_state(lambda st: nethub.port(st, "c") is not None,
                 what="port c")
    two_way(p, t)
    p.close()                                   # the peer drops us
    s, _ = lsock.accept()                       # we are back
    p = StreamPeer(s, name="listener-again")
    d.wait_state(lambda st: nethub.port(st, "c") is not None,
                 what="port c again")
    two_way(t, p)
    i = info(d, "c")
    assert i["reconnects"] == 1 and i["connected"] is True, i


def test_stream_inet_and_abstract_servers():
    port = free_port()
    name = "nethub-test-abstract-%d" % os.getpid()
    d = Nethubd("-netdev", "stream,id=ti,server=on,addr.type=inet,"
                "addr.host=127.0.0.1,addr.port=%d" % port,
                "-netdev", "stream,id=ta,server=on,addr.type=unix,"
                "addr.path=%s,addr.abstract=on" % name).start()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    a = StreamPeer(s, name="inet")
    b = unix_client(name, "abstract", abstract=True)
    wait_ports(d, "ti", 1)
    wait_ports(d, "ta", 1)
    two_way(a, b)


def test_stream_bad_frames_are_dropped_and_counted():
    path = os.path.join(tmpdir("nethub-stream-"), "st.sock")
    d = Nethubd("-netdev", "stream,id=st,server=on,addr.type=unix,"
                "addr.path=%s" % path).start()
    a = unix_client(path, "a")
    b = unix_client(path, "b")
    c = unix_client(path, "c")
    wait_ports(d, "st", 3)
    a.send_raw(struct.pack(">I", 5) + b"short")        # below Ethernet
    c.send_raw(struct.pack(">I", 70000) + b"x" * 16)   # past QEMU's limit
    c.expect_eof()
    st = d.wait_state(
        lambda st: len(nethub.ports(st, "st")) == 2 and
        nethub.rx_drops(nethub.port(st, "st.1"), "malformed") == 1,
        what="c's port gone, a's short frame counted")
    assert nethub.netdev(st, "st")["info"]["protocol-errors"] == 1, st
    two_way(a, b)


def test_qemu_guests_on_stream_and_dgram_ping_each_other():
    """Two QEMU 7.2 guests, one on -netdev stream (unix), one on -netdev
    dgram (unix), ping each other through nethub (one boot each)."""
    qemu, kernel, initrd = qemu_guest.prerequisites()
    tmp = tmpdir("nethub-stream-guests-")
    spath = os.path.join(tmp, "st.sock")
    ours, theirs = os.path.join(tmp, "nh.dg"), os.path.join(tmp, "g.dg")
    d = Nethubd("-netdev", "stream,id=st,server=on,addr.type=unix,"
                "addr.path=%s" % spath,
                "-netdev", "dgram,id=dg,local.type=unix,local.path=%s,"
                "remote.type=unix,remote.path=%s" % (ours, theirs)).start()
    ga = qemu_guest.Guest(
        "sa", tmp, qemu=qemu, kernel=kernel, initrd=initrd,
        netdev="stream,server=off,addr.type=unix,addr.path=%s" % spath,
        mac="52:54:00:5e:00:01", ip="10.213.99.1/24", ping="10.213.99.2",
        ping_wait=60)
    gb = qemu_guest.Guest(
        "db", tmp, qemu=qemu, kernel=kernel, initrd=initrd,
        netdev="dgram,local.type=unix,local.path=%s,remote.type=unix,"
        "remote.path=%s" % (theirs, ours),
        mac="52:54:00:5e:00:02", ip="10.213.99.2/24", ping="10.213.99.1",
        ping_wait=60)
    with ga, gb:
        ga.start()
        gb.start()
        for g in (ga, gb):
            ok, line = g.wait_ping()
            assert ok, "%s: %s\n%s" % (g.name, line, g.tail())
        st = d.state()
        assert nethub.fdb_port(st, ga.mac) == "st.1", st.get("fdb")
        assert nethub.fdb_port(st, gb.mac) == "dg", st.get("fdb")


# ---------------------------------------------------------------- dgram

def test_dgram_unix_and_inet_carry_frames():
    tmp = tmpdir("nethub-dgram-")
    ours, theirs = os.path.join(tmp, "nh.dg"), os.path.join(tmp, "peer.dg")
    p1, p2 = free_port("udp"), free_port("udp")
    d = Nethubd("-netdev", "dgram,id=du,local.type=unix,local.path=%s,"
                "remote.type=unix,remote.path=%s,mode=0666" % (ours, theirs),
                "-netdev", "dgram,id=di,local.type=inet,local.host=127.0.0.1,"
                "local.port=%d,remote.type=inet,remote.host=127.0.0.1,"
                "remote.port=%d" % (p1, p2)).start()
    assert stat.S_IMODE(os.stat(ours).st_mode) == 0o666
    us = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    us.bind(theirs)
    a = DgramPeer(us, dest=ours, name="unix-dgram")
    b = UdpPeer(port=p2, name="udp-dgram").to(p1)
    two_way(a, b)
    two_way(b, a)
    a.send_raw(b"\x00" * 6)                             # too short
    d.wait_state(lambda st: nethub.rx_drops(nethub.port(st, "du"),
                                            "malformed") == 1,
                 what="du counting a short datagram")
    d.stop_clean()
    assert not os.path.exists(ours), "dgram socket file left behind"


# ---------------------------------------------------------------- errors

def refused(spec, message, *extra):
    rc, out, err = run_cli("-netdev", spec, *extra)
    assert rc == 1, "exit status %d for %s: %r" % (rc, spec, err)
    assert message in err, "%s: %r lacks %r" % (spec, err, message)


def test_stream_and_dgram_bad_options_and_addresses_in_use():
    tmp = tmpdir("nethub-stream-bad-")
    path = os.path.join(tmp, "st.sock")
    dg = os.path.join(tmp, "nh.dg")
    d = Nethubd("-netdev", "stream,id=st,server=on,addr.type=unix,"
                "addr.path=%s" % path,
                "-netdev", "dgram,id=dg,local.type=unix,local.path=%s,"
                "remote.type=unix,remote.path=%s/x" % (dg, tmp)).start()
    refused("stream,id=x,server=on,addr.type=unix,addr.path=%s" % path,
            "another process is serving on this socket")
    refused("dgram,id=x,local.type=unix,local.path=%s,remote.type=unix,"
            "remote.path=/tmp/y" % dg, "another process is using this socket")
    refused("stream,id=x,addr.type=unix", "Parameter 'addr.path' is missing")
    refused("stream,id=x,server=on", "Parameter 'addr' is missing")
    refused("stream,id=x,addr.type=pipe,addr.path=/x",
            "Parameter 'addr.type' does not accept value 'pipe'")
    refused("stream,id=x,addr.type=unix,addr.path=/x,addr.colour=red",
            "Parameter 'addr.colour' is unexpected")
    refused("stream,id=x,addr.type=unix,addr.path=/" + "p" * 120,
            "too long for a unix socket")
    refused("stream,id=x,addr.type=unix,addr.path=%s/none" % tmp,
            "addr=unix:%s/none: No such file or directory" % tmp)
    refused("stream,id=x,server=on,reconnect=1,addr.type=unix,addr.path=/x",
            "reconnect= is only valid with server=off")
    refused("stream,id=x,server=on,mode=0666,addr.type=inet,"
            "addr.host=127.0.0.1,addr.port=1",
            "mode= is only valid where nethub makes a unix socket file")
    refused("dgram,id=x,local.type=unix,local.path=/tmp/z",
            "Parameter 'remote' is missing")
    refused("dgram,id=x,local.type=unix,local.path=/tmp/z,remote.type=inet,"
            "remote.host=127.0.0.1,remote.port=1",
            "different address families")
    # the first daemon serves on, undisturbed
    a = unix_client(path, "a")
    b = unix_client(path, "b")
    wait_ports(d, "st", 2)
    two_way(a, b)


if __name__ == "__main__":
    nethub.main(globals())
