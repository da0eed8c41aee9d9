#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_capture.py - filter-dump captures, end to end

object-add/object-del of filter-dump captures on a netdev, an accepted
port (ID.N) and a hub; the files read back by tcpdump and tshark agree
with the ports' counters for queue rx, tx and all; maxlen truncates the
saved bytes and keeps the frame length; a pcap-filter expression; a FIFO
read live by tcpdump; a FIFO nobody reads on a busy port costs capture
drops and no forwarded frame; -object on the command line; captures end
with their netdev or port; QEMU's errors, with nothing else disturbed.
"""

import fcntl
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
from nethub import (BROADCAST, Nethubd, assert_frame, at_cleanup, eth,  # noqa: E402
                    free_port, poll, port, run_cli, sync, tmpdir)
from qmp import assert_error, assert_ok  # noqa: E402

SETTLE = 15.0   # s for a capture's counters to settle
F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)  # Linux fcntl.h


# ---------------------------------------------------------------- helpers

def daemon(*extra):
    """nethubd with socket listen= netdev "vms" and QMP; .c a client."""
    p = free_port()
    d = Nethubd("-netdev", "socket,id=vms,listen=127.0.0.1:%d" % p, *extra,
                qmp=True).start()
    d.vms_port = p
    d.c = d.qmp()
    return d


def add(d, cid, file, **kw):
    args = {"qom-type": "filter-dump", "id": cid, "file": file}
    args.update(kw)
    assert_ok(d.c.execute("object-add", args))


def captures(d):
    return {c["id"]: c for c in d.c.cmd("query-captures")}


def pstats(d, name):
    return port(d.state(), name)["stats"]


def settle(d, cid, seen):
    """Wait until capture @cid accounted for @seen frames; its info."""
    def done():
        c = captures(d)[cid]
        return c if c["frames"] + c["filtered"] + c["dropped"] == seen \
            else None
    try:
        return poll(done, SETTLE, what="capture %s to account for %d "
                    "frames" % (cid, seen))
    except AssertionError:
        raise AssertionError("%s; now %r" % (cid, captures(d)[cid]))


def tshark(path):
    """[(cap_len, len)] of every frame of @path, read by tshark."""
    out = subprocess.run(["tshark", "-r", path, "-T", "fields",
                          "-e", "frame.cap_len", "-e", "frame.len"],
                         capture_output=True, timeout=60)
    assert out.returncode == 0, "tshark -r %s: %s" % (path, out.stderr)
    rows = []
    for line in out.stdout.decode().splitlines():
        if line.strip():
            a, b = line.split()
            rows.append((int(a), int(b)))
    return rows


def tcpdump_count(path, *expr):
    out = subprocess.run(["tcpdump", "-r", path, "-nn"] + list(expr),
                         capture_output=True, timeout=60)
    assert out.returncode == 0, "tcpdump -r %s: %s" % (path, out.stderr)
    return len(frame_lines(out.stdout.decode()))


def frame_lines(text):
    """tcpdump's output lines that start a frame (with a timestamp); an
    unknown ethertype's payload follows as indented hex lines"""
    return [ln for ln in text.splitlines() if ln[:1].isdigit()]


def traffic(a, b, n=20):
    """Broadcasts and unicasts both ways, of several sizes, each peer
    receiving all the other sent (two ports: unknown unicast floods to
    the one other port)."""
    for i in range(n):
        size = 60 + (i * 97) % 1400
        a.send(eth(BROADCAST if i % 3 == 0 else b.mac, a.mac, size=size))
        b.send(eth(BROADCAST if i % 4 == 0 else a.mac, b.mac,
                   size=size + 7))
    b.expect_frames(n)
    a.expect_frames(n)


def two_way(x, y):
    f = x.send_frame(BROADCAST, "%s to all" % x.name)
    assert_frame(y.expect_frame(), f, y.name)
    g = y.send_frame(x.mac, "%s to %s" % (y.name, x.name))
    assert_frame(x.expect_frame(), g, x.name)


# ---------------------------------------------------------------- tests

def test_capture_files_match_the_port_counters():
    """queue tx, rx and all of an accepted port and of the netdev: the
    files hold exactly the frames and bytes the counters count"""
    d = daemon()
    a = d.attach(d.vms_port, name="a")
    b = d.attach(d.vms_port, name="b")
    tmp = tmpdir()
    f = {k: os.path.join(tmp, k + ".pcap") for k in ("tx", "rx", "all",
                                                     "nd")}
    add(d, "ctx", f["tx"], netdev=a.port_name, queue="tx")
    add(d, "crx", f["rx"], netdev=a.port_name, queue="rx")
    add(d, "call", f["all"], netdev=a.port_name)
    add(d, "cnd", f["nd"], netdev="vms")
    sa0, sb0 = pstats(d, a.port_name), pstats(d, b.port_name)
    traffic(a, b)
    sa, sb = pstats(d, a.port_name), pstats(d, b.port_name)

    def delta(s, s0, k):
        return s[k] - s0[k]
    want = {
        "ctx": (delta(sa, sa0, "rx-frames"), delta(sa, sa0, "rx-bytes")),
        "crx": (delta(sa, sa0, "tx-frames"), delta(sa, sa0, "tx-bytes")),
    }
    want["call"] = (want["ctx"][0] + want["crx"][0],
                    want["ctx"][1] + want["crx"][1])
    want["cnd"] = (want["call"][0] + delta(sb, sb0, "rx-frames") +
                   delta(sb, sb0, "tx-frames"),
                   want["call"][1] + delta(sb, sb0, "rx-bytes") +
                   delta(sb, sb0, "tx-bytes"))
    assert want["ctx"][0] == 20 and want["crx"][0] == 20, want
    for cid, (frames, nbytes) in want.items():
        c = settle(d, cid, frames)
        assert (c["frames"], c["bytes"], c["dropped"], c["filtered"]) == \
            (frames, nbytes, 0, 0), (cid, c, frames, nbytes)
    info = captures(d)["crx"]
    assert info == {"id": "crx", "netdev": a.port_name, "file": f["rx"],
                    "queue": "rx", "maxlen": 65536, "status": "on",
                    "frames": want["crx"][0], "bytes": want["crx"][1],
                    "filtered": 0, "dropped": 0}, info
    for cid, key in (("ctx", "tx"), ("crx", "rx"), ("call", "all"),
                     ("cnd", "nd")):
        assert_ok(d.c.execute("object-del", {"id": cid}))
        rows = tshark(f[key])
        assert len(rows) == want[cid][0], (cid, len(rows), want[cid])
        assert sum(r[1] for r in rows) == want[cid][1], cid
        assert all(r[0] == r[1] for r in rows), cid
        assert tcpdump_count(f[key]) == want[cid][0], cid
    assert captures(d) == {}
    two_way(a, b)


def test_maxlen_truncates_and_keeps_the_length():
    d = daemon()
    a = d.attach(d.vms_port, name="a")
    b = d.attach(d.vms_port, name="b")
    path = os.path.join(tmpdir(), "short.pcap")
    add(d, "short", path, netdev=b.port_name, queue="rx", maxlen=100)
    sizes = [60, 99, 100, 101, 500, 1514]
    for s in sizes:
        a.send(eth(b.mac, a.mac, size=s))
    for s in sizes:
        assert len(b.expect_frame()) == s
    c = settle(d, "short", len(sizes))
    assert c["maxlen"] == 100 and c["frames"] == len(sizes), c
    assert c["bytes"] == sum(sizes), c
    assert_ok(d.c.execute("object-del", {"id": "short"}))
    assert tshark(path) == [(min(s, 100), s) for s in sizes]


def test_filter_keeps_matching_frames_only():
    d = daemon()
    a = d.attach(d.vms_port, name="a")
    b = d.attach(d.vms_port, name="b")
    path = os.path.join(tmpdir(), "arp.pcap")
    add(d, "arp", path, netdev="vms", queue="tx", filter="arp")
    for i in range(10):
        a.send(eth(BROADCAST, a.mac, size=64,
                   ethertype=0x0806 if i % 2 else 0x88B5))
    b.expect_frames(10)
    c = settle(d, "arp", 10)
    assert (c["frames"], c["filtered"], c["filter"]) == (5, 5, "arp"), c
    assert_ok(d.c.execute("object-del", {"id": "arp"}))
    assert tcpdump_count(path) == 5
    assert tcpdump_count(path, "arp") == 5


def test_hub_capture_sees_every_frame_entering_the_hub():
    d = daemon()
    a = d.attach(d.vms_port, name="a")
    b = d.attach(d.vms_port, name="b")
    path = os.path.join(tmpdir(), "hub.pcap")
    add(d, "hub0", path, hubid=0)
    sa0, sb0 = pstats(d, a.port_name), pstats(d, b.port_name)
    traffic(a, b, 10)
    sa, sb = pstats(d, a.port_name), pstats(d, b.port_name)
    n = sa["rx-frames"] - sa0["rx-frames"] + sb["rx-frames"] - \
        sb0["rx-frames"]
    nb = sa["rx-bytes"] - sa0["rx-bytes"] + sb["rx-bytes"] - sb0["rx-bytes"]
    c = settle(d, "hub0", n)
    assert (c["hubid"], c["frames"], c["bytes"]) == (0, n, nb), c
    assert "netdev" not in c
    assert_ok(d.c.execute("object-del", {"id": "hub0"}))
    assert len(tshark(path)) == n


def test_port_capture_ends_with_its_port():
    """a capture of ID.N goes when the peer disconnects; its file is
    complete"""
    d = daemon()
    a = d.attach(d.vms_port, name="a")
    b = d.attach(d.vms_port, name="b")
    path = os.path.join(tmpdir(), "a.pcap")
    add(d, "pa", path, netdev=a.port_name, queue="tx")
    for _ in range(7):
        a.send_frame(BROADCAST, "x")
    b.expect_frames(7)
    settle(d, "pa", 7)
    a.close()
    poll(lambda: "pa" not in captures(d), 10, what="capture pa to go")
    assert len(tshark(path)) == 7


def test_netdev_del_removes_its_captures():
    d = daemon()
    a = d.attach(d.vms_port, name="a")
    b = d.attach(d.vms_port, name="b")
    path = os.path.join(tmpdir(), "vms.pcap")
    add(d, "v", path, netdev="vms", queue="tx")
    for _ in range(5):
        a.send_frame(BROADCAST, "y")
    b.expect_frames(5)
    settle(d, "v", 5)
    assert_ok(d.c.execute("netdev_del", {"id": "vms"}))
    assert captures(d) == {}
    assert len(tshark(path)) == 5


def test_fifo_read_live_by_tcpdump():
    d = daemon()
    a = d.attach(d.vms_port, name="a")
    b = d.attach(d.vms_port, name="b")
    fifo = os.path.join(tmpdir(), "live")
    os.mkfifo(fifo)
    out = os.path.join(os.path.dirname(fifo), "tcpdump.out")
    with open(out, "wb") as o:
        td = subprocess.Popen(["tcpdump", "-r", fifo, "-nn", "-l", "-e"],
                              stdout=o, stderr=subprocess.DEVNULL)
    at_cleanup(lambda: td.kill())
    add(d, "live", fifo, netdev=a.port_name, queue="tx")

    # frames count as dropped until the writer has opened the FIFO
    probes = []

    def opened():
        a.send(eth(b.mac, a.mac, size=80, ethertype=0x88B7))
        probes.append(1)
        return captures(d)["live"]["frames"] > 0
    poll(opened, 10, interval=0.1, what="the FIFO to be opened")
    for i in range(25):
        a.send(eth(b.mac, a.mac, size=100 + i))
    b.expect_frames(len(probes) + 25)
    c = settle(d, "live", len(probes) + 25)
    # the probes sent before the FIFO was open may be dropped, nothing else
    assert c["frames"] >= 26 and c["dropped"] < len(probes), c
    assert_ok(d.c.execute("object-del", {"id": "live"}))
    td.wait(timeout=20)
    with open(out) as f:
        lines = frame_lines(f.read())
    assert len(lines) == c["frames"], (len(lines), c)
    assert sum("length 1%02d" % i in "".join(lines) for i in range(25)) \
        == 25


def test_slow_fifo_reader_costs_capture_drops_not_forwarding():
    d = daemon()
    a = d.attach(d.vms_port, name="a")
    b = d.attach(d.vms_port, name="b")
    two_way(a, b)    # b's MAC learned: a's frames go to b only
    fifo = os.path.join(tmpdir(), "stuck")
    os.mkfifo(fifo)
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)    # not read yet
    add(d, "stuck", fifo, netdev="vms")
    sa0, sb0 = pstats(d, a.port_name), pstats(d, b.port_name)
    n = 6000
    frames = [eth(b.mac, a.mac, size=1400) for _ in range(n)]
    for i in range(0, n, 100):
        a.send_many(frames[i:i + 100])
    got = b.expect_frames(n, timeout=60)
    assert len(got) == n
    sa, sb = pstats(d, a.port_name), pstats(d, b.port_name)
    seen = sum(s[k] - s0[k] for s, s0 in ((sa, sa0), (sb, sb0))
               for k in ("rx-frames", "tx-frames"))
    assert seen >= 2 * n, seen
    # while nobody reads, frames wait in the capture's buffer or are
    # dropped; at most what the pipe holds was written
    c = captures(d)["stuck"]
    pipe_size = fcntl.fcntl(rfd, F_GETPIPE_SZ)
    assert c["dropped"] > 0 and c["bytes"] <= pipe_size, (c, pipe_size)
    assert c["frames"] + c["dropped"] <= seen, c
    # a reader at last: everything is accounted for
    read = []

    def reader():
        while True:
            try:
                chunk = os.read(rfd, 1 << 16)
            except BlockingIOError:
                time.sleep(0.005)
                continue
            except OSError:
                return
            if not chunk:
                return
            read.append(len(chunk))
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    c = settle(d, "stuck", seen)
    assert c["dropped"] > 0 and c["frames"] > 0, c
    t0 = time.monotonic()
    assert_ok(d.c.execute("object-del", {"id": "stuck"}))
    assert time.monotonic() - t0 < 5
    t.join(10)
    os.close(rfd)
    # the pcap header and every frame written went through the FIFO
    assert sum(read) == 24 + c["frames"] * 16 + c["frames"] * 1400, \
        (sum(read), c)
    two_way(a, b)


def test_object_on_the_command_line():
    tmp = tmpdir()
    path = os.path.join(tmp, "cl.pcap")
    p = free_port()
    d = Nethubd("-netdev", "socket,id=vms,listen=127.0.0.1:%d" % p,
                "-object", "filter-dump,id=cl,netdev=vms,file=%s,maxlen=64"
                % path, qmp=True).start()
    d.c = d.qmp()
    c = captures(d)["cl"]
    assert (c["netdev"], c["maxlen"], c["queue"]) == ("vms", 64, "all"), c
    a = d.attach(p, name="a")
    b = d.attach(p, name="b")
    for _ in range(4):
        a.send(eth(BROADCAST, a.mac, size=200))
    b.expect_frames(4)
    settle(d, "cl", 8)
    d.stop_clean()
    assert tshark(path) == [(64, 200)] * 8

    st, _, err = run_cli("-netdev", "socket,id=vms,listen=127.0.0.1:%d"
                         % free_port(), "-object",
                         "filter-dump,id=x,netdev=nope,file=%s" % path)
    assert st == 1
    assert err.strip() == ("nethubd: -object filter-dump,id=x,netdev=nope,"
                           "file=%s: Parameter 'netdev' expects a network "
                           "backend id" % path), err
    st, _, err = run_cli("-netdev", "socket,id=vms,listen=127.0.0.1:%d"
                         % free_port(), "-object",
                         "filter-dump,id=x,netdev=vms,file=%s,bogus=1"
                         % path)
    assert st == 1 and "Parameter 'bogus' is unexpected" in err, err
    st, out, _ = run_cli("--help")
    assert st == 0 and "-object filter-dump" in out


def test_errors_leave_everything_running():
    d = daemon()
    a = d.attach(d.vms_port, name="a")
    b = d.attach(d.vms_port, name="b")
    tmp = tmpdir()
    good = os.path.join(tmp, "good.pcap")
    add(d, "good", good, netdev="vms")
    f = os.path.join(tmp, "x.pcap")
    base = {"qom-type": "filter-dump", "id": "x"}
    cases = [
        ({"netdev": "vms"}, "Parameter 'file' is missing"),
        ({"file": f}, "Parameter 'netdev' is missing"),
        ({"netdev": "nope", "file": f},
         "Parameter 'netdev' expects a network backend id"),
        ({"netdev": "vms", "file": f, "id": "good"},
         "attempt to add duplicate property 'good' to object "
         "(type 'container')"),
        ({"netdev": "vms", "file": f, "maxlen": 0},
         "Property 'filter-dump.maxlen' doesn't take value '0'"),
        ({"netdev": "vms", "file": f, "filter": "tcp port"},
         "Parameter 'filter': tcp port: can't parse filter expression: "
         "syntax error"),
        ({"netdev": "vms", "file": os.path.join(tmp, "no/such/dir.pcap")},
         "net dump: can't open %s: No such file or directory"
         % os.path.join(tmp, "no/such/dir.pcap")),
        ({"netdev": "vms", "file": tmp},
         "net dump: can't open %s: Is a directory" % tmp),
        ({"hubid": 7, "file": f}, "hub 7 does not exist"),
        ({"netdev": "vms", "file": f, "status": "maybe"},
         "Invalid value for netfilter status, should be 'on' or 'off'"),
        ({"netdev": "vms", "file": f, "queue": "up"},
         "Parameter 'queue' does not accept value 'up'"),
        ({"netdev": "vms", "file": f, "position": "id=none"},
         "filter 'none' not found"),
    ]
    for extra, desc in cases:
        args = dict(base)
        args.update(extra)
        assert_error(d.c.execute("object-add", args), "GenericError", desc)
        assert sorted(captures(d)) == ["good"], extra
    assert not os.path.exists(f)
    assert_error(d.c.execute("object-del", {"id": "nope"}), "GenericError",
                 "object 'nope' not found")
    c0 = captures(d)["good"]
    s0 = [pstats(d, x.port_name) for x in (a, b)]
    two_way(a, b)
    s1 = [pstats(d, x.port_name) for x in (a, b)]
    n = sum(y[k] - x[k] for x, y in zip(s0, s1)
            for k in ("rx-frames", "tx-frames"))
    assert n == 4, n
    c = settle(d, "good", c0["frames"] + n)
    assert c["dropped"] == 0 and c["filtered"] == 0, c
    assert_ok(d.c.execute("object-del", {"id": "good"}))
    assert len(tshark(good)) == c["frames"]

if __name__ == "__main__":
    nethub.main(globals())
