#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_vhost_user_hostile.py - vhost-user front-ends without QEMU.

nethubd serves vhost-user netdevs on listening chardevs (vh, vg with
queues=2, vp with poll-us, vcy for set-up cycles, vfo with failover=on),
two that connect
(vl0, vl1) and two udp socket netdevs, all on one hub.  vhost_hostile
(tests/integration/vhost_hostile.c, nethub-bench's own front-end) opens
a healthy front-end on vh, vg and vp; then:

- idle: with both front-ends attached and nothing sent for 3 s, nethubd
  uses less than 2% of a CPU (its utime + stime from /proc);
- bad descriptors on the first front-end's TX ring (a buffer outside
  memory, next out of range, a loop, a writable TX buffer, a buffer too
  short, a chain of 1025 buffers) each drop exactly that frame, counted
  in the ring's faults and the port's rx-drops malformed, and the good
  frame after it is forwarded; an available head out of range marks the
  ring broken;
- bad messages (sizes, memory tables without fds, overlapping, wrapping,
  past the file's end, too many regions, a kick without its fd, bad ring
  index or size, an unknown request) are each refused with REPLY_ACK and
  counted in protocol-errors, the connection goes on; a header that
  announces 1 MiB ends that connection only;
- ring indexes against queues=N: on vg (queues=2) ring 3 is accepted and
  ring 4 refused, naming the rings there are; on vh (queues=1) ring 2 is
  refused; netdev_add with queues=0, 17 or a string is refused naming
  queues;
- after every case the two udp ports still forward to each other and the
  daemon lives;
- nethubd as a client (server=off, reconnect=1) of a front-end that
  listens: the front-end restarts, nethubd connects to the new one;
- 1000 whole front-ends (memory table, rings, kicks) come and go on one
  socket: nethubd's descriptors, RSS and guest mappings stay put (the
  1000 cycles of test_vhost_user.py stop after GET_FEATURES);
- chardev-add with x-mode and x-group under the sandboxed daemon;
- failover=on: STANDBY is offered, a front-end that accepts it gets one
  FAILOVER_NEGOTIATED (device-id the netdev's id) per negotiation, one
  that does not gets none; without failover=on it is not offered, a
  front-end that sets it anyway is refused, and no event comes;
- offloads: two more front-ends (vta, vtb), one accepting CSUM and
  HOST_TSO4/6 and ECN, the other GUEST_CSUM and GUEST_TSO4: a 64 KiB
  TCP/IPv4 GSO frame from the first, in a chain of 43 buffers, arrives at
  the second whole (one frame spread over its buffers with num_buffers,
  GSO type TCPV4, its gso_size, hdr_len 54, the same bytes), while a
  TCP/IPv6 one (GUEST_TSO6 not accepted) arrives there as checked
  segments; both arrive at the
  udp socket port as MSS-sized segments with correct IPv4 and TCP
  checksums and sequence numbers (counted in tx-gso-frames and
  tx-gso-segments); a header whose hdr_len is too low is corrected; bad
  headers (gso_size 0, csum_start past the end, hdr_len past the end, a
  TCPv6 type on IPv4) are dropped, counted malformed, and reach nobody,
  as is a good TSO frame from the front-end that accepted no HOST_TSO4;
- poll-us: a trickle of frames from a front-end of a netdev with
  poll-us=POLL_US is forwarded, its polls and poll-hits counted, and
  once the trickle stops nethubd is idle again (< 2% CPU) with that
  front-end still attached.

Usage: test_vhost_user_hostile.py [--io auto|uring|epoll] [-k SUBSTR]
"""

import argparse
import os
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
import qmp as qmplib  # noqa: E402
from nethub import Nethubd, UdpPeer, free_port  # noqa: E402
from test_qemu_ping import Steps, diag  # noqa: E402

CYCLES_WARM, CYCLES = 20, 1000
CYCLE_FD_SLACK = 4          # descriptors the daemon may have more after
CYCLE_RSS_SLACK_KB = 2048   # and memory
IDLE_S = 3
IDLE_CPU_MAX = 0.02   # of the wall time
DESCRIPTOR_CASES = {  # case: the fault nethubd counts
    "address": "address",
    "next-range": "next-range",
    "loop": "loop",
    "direction": "direction",
    "short": "length",
    "huge-chain": "too-many-buffers",
}
POLL_US = 2000
TRICKLE = (300, 300)        # frames, microseconds apart
TSO_LEN, TSO_MSS = 65535, 1448
TSO_HLEN = 54               # Ethernet, IPv4, TCP: what nethubd says
BAD_GSO = (("vta", "gso-size-0"), ("vta", "csum-start-beyond"),
           ("vta", "hdr-len-beyond"), ("vta", "type-tcpv6"),
           ("vtb", "from-b"))  # sender, header
MESSAGE_CASES = ("msg-short", "msg-long", "mem-no-fd", "mem-overlap",
                 "mem-wrap", "mem-past-eof", "mem-too-many", "kick-no-fd",
                 "ring-index", "ring-size", "unknown")


def inet_sum(b):
    """The one's complement sum of @b, folded: 0xffff over bytes that
    include their correct checksum."""
    if len(b) & 1:
        b += b"\0"
    s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def check_tso_segments(peer, length, mss):
    """@peer receives the segments of vhost_hostile's TCP frame of
    @length bytes cut at @mss: sizes, checksums, sequence numbers and the
    payload put back together."""
    n = -(-(length - TSO_HLEN) // mss)
    data = b""
    for i in range(n):
        f = peer.expect_frame(10)
        ip, seg = f[14:34], f[34:]
        assert len(f) <= TSO_HLEN + mss, (i, len(f))
        assert struct.unpack(">H", ip[2:4])[0] == len(f) - 14, i
        assert inet_sum(ip) == 0xffff, "segment %d: IPv4 checksum" % i
        pseudo = ip[12:20] + b"\0\x06" + struct.pack(">H", len(seg))
        assert inet_sum(pseudo + seg) == 0xffff, "segment %d: TCP " \
            "checksum" % i
        assert struct.unpack(">I", seg[4:8])[0] == 1000 + i * mss, i
        data += seg[20:]
    assert data == bytes((i * 7) & 255 for i in range(TSO_HLEN, length)), \
        "the segments' payload differs"
    return n


def helper_path():
    p = os.environ.get("NETHUB_VHOST_HOSTILE")
    if not p:
        p = os.path.join(os.path.dirname(nethub.nethubd_path()), "..",
                         "tests", "vhost_hostile")
    return p


class Hostile:
    def __init__(self, io, only):
        self.io, self.only = io, only
        self.dir = nethub.tmpdir("nethub-vhost-hostile-")
        self.daemon = self.helper = None
        self.peers = []

    def path(self, name):
        return os.path.join(self.dir, name)

    def netdev(self, nid):
        for nd in self.daemon.qmp_cmd("query-netdevs"):
            if nd["id"] == nid:
                return nd
        raise AssertionError("no netdev %s" % nid)

    # ---- set-up ----------------------------------------------------------

    def start(self):
        assert os.access(helper_path(), os.X_OK), \
            "no vhost_hostile at %s" % helper_path()
        args = []
        for n, extra in (("h", ""), ("g", ",queues=2"), ("cy", ""),
                         ("p", ",poll-us=%d" % POLL_US),
                         ("fo", ",failover=on"), ("ta", ""), ("tb", "")):
            args += ["-chardev", "socket,id=c%s,path=%s,server=on"
                     % (n, self.path(n + ".sock")),
                     "-netdev", "vhost-user,id=v%s,chardev=c%s%s"
                     % (n, n, extra)]
        for i in (0, 1):
            args += ["-chardev", "socket,id=cl%d,path=%s,reconnect=1"
                     % (i, self.path("front%d.sock" % i)),
                     "-netdev", "vhost-user,id=vl%d,chardev=cl%d" % (i, i)]
        for i in (1, 2):
            peer = UdpPeer(name="u%d" % i)
            local = free_port("udp")
            peer.to(local)
            args += ["-netdev", "socket,id=u%d,udp=127.0.0.1:%d,"
                     "localaddr=127.0.0.1:%d" % (i, peer.port, local)]
            self.peers.append(peer)
        self.daemon = Nethubd(*args, "--log-level", "info", io=self.io,
                              qmp=True)
        self.daemon.start()
        self.helper = subprocess.Popen(
            [helper_path(), self.path("h.sock"), self.path("g.sock"),
             self.path("p.sock")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, bufsize=1)
        line = self.helper.stdout.readline().strip()
        assert line == "ready", "vhost_hostile: %r %s" % (
            line, self.helper.stderr.read() if self.helper.poll() is not
            None else "")
        for nid in ("vh", "vg", "vp"):
            # the front-end sets up queue pair 0 only (vg has two)
            nethub.poll(lambda: self.netdev(nid)["info"]["connected"] and
                        all(r["started"] for r in
                            self.netdev(nid)["info"]["rings"][:2]), 10,
                        what="%s set up" % nid)

    def ask(self, case):
        self.helper.stdin.write(case + "\n")
        self.helper.stdin.flush()
        line = self.helper.stdout.readline().split(None, 2)
        assert line and line[0] == case.split()[0], \
            "vhost_hostile said %r" % line
        return line[1], " ".join(line[2:])

    def forwards(self):
        """u1 and u2 still reach each other through the switch."""
        u1, u2 = self.peers
        for a, b in ((u1, u2), (u2, u1)):
            b.drain()
            f = a.send_frame(b.mac, "still forwarding")
            deadline = time.monotonic() + 10
            while True:
                got = b.expect_frame(max(0.1, deadline - time.monotonic()))
                if got == f:
                    break
        assert self.daemon.alive(), "nethubd died"

    # ---- cases -----------------------------------------------------------

    def idle_cpu(self, what="with 3 vhost-user front-ends"):
        def cpu_s():
            with open("/proc/%d/stat" % self.daemon.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            # utime and stime: fields 14 and 15 of stat(5)
            return (int(fields[11]) + int(fields[12])) / \
                os.sysconf("SC_CLK_TCK")
        time.sleep(0.5)
        c0, t0 = cpu_s(), time.monotonic()
        time.sleep(IDLE_S)
        c1, t1 = cpu_s(), time.monotonic()
        share = (c1 - c0) / (t1 - t0)
        diag("nethubd idle %s: %.2f%% of a CPU" % (what, 100 * share))
        assert share < IDLE_CPU_MAX, \
            "nethubd used %.1f%% of a CPU while idle" % (100 * share)

    def failover(self):
        """STANDBY offered only with failover=on; accepted: one event
        naming the netdev per negotiation; otherwise none."""
        c = self.daemon.qmp()

        def negotiate(sock, onoff):
            word, detail = self.ask("standby %s %s" % (self.path(sock),
                                                       onoff))
            assert word in ("accepted", "refused"), (word, detail)
            return word, detail.strip()
        for round_ in (1, 2):  # a new connection is a new negotiation
            assert negotiate("fo.sock", "on") == ("accepted", "offered")
            ev = c.wait_event("FAILOVER_NEGOTIATED")
            assert ev["data"] == {"device-id": "vfo"}, ev
            c.expect_no_event("FAILOVER_NEGOTIATED")
            assert self.netdev("vfo")["info"]["failovers"] == round_
        assert negotiate("fo.sock", "off") == ("accepted", "offered")
        c.expect_no_event("FAILOVER_NEGOTIATED")
        info0 = self.netdev("vcy")["info"]
        assert negotiate("cy.sock", "on") == ("refused", "not-offered")
        assert negotiate("cy.sock", "off") == ("accepted", "not-offered")
        c.expect_no_event("FAILOVER_NEGOTIATED")
        info = self.netdev("vcy")["info"]
        assert info["protocol-errors"] == info0["protocol-errors"] + 1 and \
            info["failovers"] == 0 and not info["failover"], info
        assert self.daemon.alive()

    def port_stats(self, nid):
        return self.netdev(nid)["ports"][0]["stats"]

    def offloads(self):
        """A TSO frame goes whole to the front-end that accepted
        GUEST_TSO4, segmented to the socket port; bad headers are dropped
        and counted."""
        word, detail = self.ask("offload %s %s" % (self.path("ta.sock"),
                                                   self.path("tb.sock")))
        assert word == "open", (word, detail)
        try:
            self.offload_cases()
        finally:
            assert self.ask("offload-close")[0] == "closed"
        nethub.poll(lambda: not any(self.netdev(n)["info"]["connected"]
                                    for n in ("vta", "vtb")),
                    10, what="the offload front-ends gone")
        self.forwards()

    def offload_cases(self):
        for nid in ("vta", "vtb"):
            nethub.poll(lambda: self.netdev(nid)["info"]["connected"] and
                        all(r["started"] for r in
                            self.netdev(nid)["info"]["rings"]), 10,
                        what="%s set up" % nid)
        ia, ib = self.netdev("vta")["info"], self.netdev("vtb")["info"]
        assert ia["tx-offloads"] == ["csum", "tso4", "tso6", "ecn"] and \
            ia["rx-offloads"] == [], ia
        assert ib["rx-offloads"] == ["csum", "tso4"] and \
            ib["tx-offloads"] == [], ib
        u1 = self.peers[0]
        u1.drain()
        st0 = self.port_stats("u1")
        word, detail = self.ask("tso %d %d good" % (TSO_LEN, TSO_MSS))
        assert word == "got", (word, detail)
        glen, gtype, gsize, hlen, flags, nbufs, same = detail.split()
        diag("64 KiB TSO frame at the GUEST_TSO4 front-end: %s bytes in "
             "%s buffers" % (glen, nbufs))
        assert (int(glen), int(gtype), int(gsize), int(hlen)) == \
            (TSO_LEN, 1, TSO_MSS, TSO_HLEN), detail
        assert int(flags) & 1 and int(nbufs) > 1 and same == "same", detail
        n = check_tso_segments(u1, TSO_LEN, TSO_MSS)
        nethub.poll(lambda: self.port_stats("u1")["tx-gso-segments"] ==
                    st0["tx-gso-segments"] + n, 10,
                    what="%d segments counted on u1" % n)
        assert self.port_stats("u1")["tx-gso-frames"] == \
            st0["tx-gso-frames"] + 1

        # TSO over IPv6, which vtb did not accept: segments, checked there
        g0 = self.port_stats("vtb")
        word, detail = self.ask("tso 9000 1000 v6")
        assert (word, detail.strip()) == ("segments", "9 ok"), \
            (word, detail)
        nethub.poll(lambda: self.port_stats("vtb")["tx-gso-segments"] ==
                    g0["tx-gso-segments"] + 9, 10,
                    what="9 segments counted on vtb")
        assert self.port_stats("vtb")["tx-gso-frames"] == \
            g0["tx-gso-frames"] + 1
        for f in u1.expect_frames(9, 10):
            assert f[12:14] == b"\x86\xdd" and len(f) <= 74 + 1000, f[:16]

        word, detail = self.ask("tso 3000 1000 hdr-len-low")
        assert word == "got" and detail.split()[3] == str(TSO_HLEN), \
            (word, detail)
        check_tso_segments(u1, 3000, 1000)

        b0 = self.port_stats("vtb")["tx-frames"]
        for nid, how in BAD_GSO:
            m0 = self.port_stats(nid)["rx-drops"].get("malformed", 0)
            word, detail = self.ask("tso 3000 1000 %s" % how)
            assert word == "sent", (how, word, detail)
            nethub.poll(lambda: self.port_stats(nid)["rx-drops"].get(
                "malformed", 0) == m0 + 1, 10,
                what="the %s frame counted malformed" % how)
        word, detail = self.ask("tso 3000 1000 good")
        assert word == "got" and detail.split()[-1] == "same", detail
        check_tso_segments(u1, 3000, 1000)
        assert self.port_stats("vtb")["tx-frames"] == b0 + 1, \
            "a frame with a bad header was forwarded"
        u1.expect_no_frame()

    def poll_us(self):
        """poll-us: a trickle is forwarded with the ring polled between
        frames; the loop sleeps again once it stops."""
        def state():
            nd = self.netdev("vp")
            return nd["info"], nd["ports"][0]["stats"]
        info0, st0 = state()
        assert info0["poll-us"] == POLL_US, info0
        n, gap = TRICKLE
        word, detail = self.ask("send 2 %d %d" % (n, gap))
        assert word == "sent", (word, detail)
        nethub.poll(lambda: state()[1]["rx-forwarded"] >=
                    st0["rx-forwarded"] + n, 10,
                    what="%d frames from the polled front-end forwarded"
                    % n)
        info, st = state()
        kicks = info["rings"][1]["kicks"] - info0["rings"][1]["kicks"]
        diag("%d frames %d us apart: %d kicks, %d polls, %d poll hits"
             % (n, gap, kicks, info["polls"] - info0["polls"],
                info["poll-hits"] - info0["poll-hits"]))
        assert info["polls"] > info0["polls"] and \
            info["poll-hits"] > info0["poll-hits"], (info0, info)
        assert self.netdev("vh")["info"]["poll-us"] == 0
        for bad, want in (({"poll-us": 1000001}, "Parameter 'poll-us' "
                           "expects a value between 0 and 1000000"),
                          ({"failover": "yes"}, "'failover'")):
            args = {"id": "vbad", "type": "vhost-user", "chardev": "ccy"}
            args.update(bad)
            try:
                self.daemon.qmp_cmd("netdev_add", args)
            except qmplib.QMPError as e:
                assert want in str(e), (bad, e)
            else:
                raise AssertionError("netdev_add %r accepted" % bad)
        self.idle_cpu("after a polled trickle stopped")
        self.forwards()

    def descriptors(self):
        for case, fault in DESCRIPTOR_CASES.items():
            nd = self.netdev("vh")
            faults0 = nd["info"]["rings"][1]["faults"].get(fault, 0)
            st0 = nd["ports"][0]["stats"]
            word, detail = self.ask(case)
            assert word == "posted", (case, word, detail)

            def counted():
                nd = self.netdev("vh")
                st = nd["ports"][0]["stats"]
                return nd["info"]["rings"][1]["faults"].get(fault, 0) == \
                    faults0 + 1 and \
                    st["rx-drops"].get("malformed", 0) == \
                    st0["rx-drops"].get("malformed", 0) + 1 and \
                    st["rx-forwarded"] >= st0["rx-forwarded"] + 1
            nethub.poll(counted, 10, what="%s counted as %s, the good "
                        "frame after it forwarded" % (case, fault))
            assert not self.netdev("vh")["info"]["rings"][1]["broken"], case
            self.forwards()
        word, detail = self.ask("head-range")
        assert word == "posted", detail
        nethub.poll(lambda: self.netdev("vh")["info"]["rings"][1]["broken"],
                    10, what="the ring marked broken")
        self.forwards()

    def messages(self):
        for case in MESSAGE_CASES:
            info0 = self.netdev("vh")["info"]
            word, detail = self.ask(case)
            assert word == "refused", "%s: %s %s" % (case, word, detail)
            info = self.netdev("vh")["info"]
            # an unknown request is unsupported, not an error
            want = info0["protocol-errors"] + (case != "unknown")
            assert info["protocol-errors"] == want and \
                info["messages"] == info0["messages"] + 1, \
                (case, info0, info)
            assert self.ask("alive")[0] == "ok", case
            self.forwards()
        assert "vhost-user request 99 is not supported" in \
            self.daemon.stderr() + self.daemon.stdout(), \
            "the unknown request was not logged"
        assert self.netdev("vh")["info"]["connected"]
        word, detail = self.ask("huge-size")
        assert word == "closed", detail
        nethub.poll(lambda: not self.netdev("vh")["info"]["connected"], 10,
                    what="the connection closed")
        assert self.netdev("vg")["info"]["connected"], "the other went too"
        self.forwards()

    def ring_indexes(self):
        """Every ring index a front-end names is checked against the
        netdev's queues=N: 2N rings, 0 to 2N - 1."""
        info = self.netdev("vg")["info"]
        assert info["queues"] == 2 and len(info["rings"]) == 4, info
        assert [(r["queue"], r["direction"]) for r in info["rings"]] == \
            [(0, "rx"), (0, "tx"), (1, "rx"), (1, "tx")], info["rings"]
        assert int(info["offered"], 16) & (1 << 22), "MQ not offered"
        assert not int(self.netdev("vh")["info"]["offered"], 16) & \
            (1 << 22), "MQ offered with queues=1"
        for port, nid, ring, want in ((1, "vg", 3, "accepted"),
                                      (1, "vg", 4, "refused"),
                                      (1, "vg", 255, "refused"),
                                      (0, "vh", 2, "refused")):
            e0 = self.netdev(nid)["info"]["protocol-errors"]
            word, detail = self.ask("ring-num %d %d" % (port, ring))
            assert word == want, (nid, ring, word, detail)
            errors = self.netdev(nid)["info"]["protocol-errors"] - e0
            assert errors == (want == "refused"), (nid, ring, errors)
        log = self.daemon.stderr() + self.daemon.stdout()
        for words in ("ring 4 does not exist (queues=2: rings 0 to 3)",
                      "ring 2 does not exist (queues=1: rings 0 to 1)"):
            assert words in log, "not logged: %s" % words
        assert self.netdev("vg")["info"]["connected"]
        for bad, want in ((0, "queues=0: the number of queue pairs must "
                           "be 1 to 16"),
                          (17, "queues=17: the number of queue pairs "
                           "must be 1 to 16"),
                          ("two", "'queues'")):
            try:
                self.daemon.qmp_cmd("netdev_add", {
                    "id": "vbad", "type": "vhost-user", "chardev": "ccy",
                    "queues": bad})
            except qmplib.QMPError as e:
                assert want in str(e), (bad, e)
            else:
                raise AssertionError("queues=%r accepted" % bad)
        self.forwards()

    def front_end_restarts(self):
        """nethubd connects (reconnect=1) to front-ends that listen (a
        nethub-bench with --vhost-server); they go and new ones listen:
        nethubd connects again."""
        bench = os.environ.get("NETHUB_BENCH") or os.path.join(
            os.path.dirname(nethub.nethubd_path()), "..", "bench",
            "nethub-bench")
        ids = ("vl0", "vl1")
        for round_ in (1, 2):
            before = {n: self.netdev(n)["info"]["connections"] for n in ids}

            def connected():
                for n in ids:
                    info = self.netdev(n)["info"]
                    if not info["connected"] or \
                            info["connections"] <= before[n] or \
                            not all(r["started"] for r in info["rings"]):
                        return False
                return True
            p = subprocess.Popen(
                [bench, "--transport", "vhost-user", "--vhost-server",
                 "--connect", self.path("front%d.sock"), "--ports", "2",
                 "--pattern", "idle", "--duration", "60", "--warmup", "0",
                 "--no-progress"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                start_new_session=True)
            try:
                nethub.poll(connected, 20, what="nethubd connected to "
                            "the front-ends of round %d" % round_)
            finally:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
            nethub.poll(lambda: not any(self.netdev(n)["info"]["connected"]
                                        for n in ids),
                        10, what="the front-ends of round %d gone" % round_)
            for i in (0, 1):  # killed: their socket files stay
                try:
                    os.unlink(self.path("front%d.sock" % i))
                except FileNotFoundError:
                    pass
        self.forwards()

    def runtime_group(self):
        """chardev-add with x-mode and x-group under the running (and
        sandboxed) daemon: the file has both; an unknown group is named."""
        q = self.daemon.qmp_cmd
        path = self.path("grp.sock")
        gid = 4242 if os.geteuid() == 0 else os.getegid()

        def add(group):
            q("chardev-add", {"id": "cgrp", "backend": {
                "type": "socket", "data": {
                    "addr": {"type": "unix", "data": {"path": path}},
                    "server": True, "x-mode": 0o660, "x-group": group}}})
        add(str(gid))
        st = os.stat(path)
        assert st.st_mode & 0o777 == 0o660 and st.st_gid == gid, \
            "mode %o group %d" % (st.st_mode & 0o777, st.st_gid)
        q("chardev-remove", {"id": "cgrp"})
        assert not os.path.exists(path)
        try:
            add("no-such-group-nh")
        except qmplib.QMPError as e:
            assert "no such group 'no-such-group-nh'" in str(e), e
        else:
            raise AssertionError("an unknown group accepted")
        assert not os.path.exists(path)

    def usage(self):
        pid = self.daemon.pid
        fds = len(os.listdir("/proc/%d/fd" % pid))
        with open("/proc/%d/status" % pid) as f:
            rss = next(int(line.split()[1]) for line in f
                       if line.startswith("VmRSS:"))
        with open("/proc/%d/maps" % pid) as f:
            maps = sum(1 for line in f if "nethub-bench-vhost" in line)
        return fds, rss, maps

    def set_up_cycles(self):
        """Whole front-ends (memory mapped, rings started, eventfds
        passed) come and go: nethubd's descriptors, memory and mappings
        stay where they were."""
        def run(n):
            word, detail = self.ask("cycles %d %s" % (n, self.path(
                "cy.sock")))
            assert word == "done", (word, detail)
            nethub.poll(lambda: not self.netdev("vcy")["info"]["connected"],
                        10, what="the last front-end gone")
        run(CYCLES_WARM)
        fds0, rss0, maps0 = self.usage()
        conns0 = self.netdev("vcy")["info"]["connections"]
        t = time.monotonic()
        run(CYCLES)
        fds1, rss1, maps1 = self.usage()
        diag("%d set-ups in %.1fs: fds %d -> %d, RSS %d -> %d kB, guest "
             "mappings %d -> %d" % (CYCLES, time.monotonic() - t, fds0,
                                    fds1, rss0, rss1, maps0, maps1))
        assert self.netdev("vcy")["info"]["connections"] == \
            conns0 + CYCLES
        # only the front-ends still attached on vg and vp have memory
        # mapped
        assert maps1 == maps0 == 2, "guest mappings %d -> %d" % (maps0,
                                                                  maps1)
        assert fds1 <= fds0 + CYCLE_FD_SLACK, (fds0, fds1)
        if os.environ.get("NETHUB_SANITIZE"):
            # ASan keeps freed memory in quarantine, so RSS grows without
            # a leak; LeakSanitizer checks the heap when nethubd stops
            diag("sanitizer build: RSS not compared, LeakSanitizer "
                 "checks at the stop")
        else:
            assert rss1 <= rss0 + CYCLE_RSS_SLACK_KB, (rss0, rss1)

    def stop(self):
        self.helper.stdin.close()
        assert self.helper.wait(20) == 0, self.helper.stderr.read()
        self.daemon.stop_clean()

    def run(self):
        s = Steps()
        started = "nethubd and three vhost-user front-ends"
        steps = [
            ("nethubd idle with front-ends attached uses < 2% CPU",
             self.idle_cpu),
            ("failover=on: STANDBY offered, FAILOVER_NEGOTIATED once per "
             "negotiation; none without it", self.failover),
            ("poll-us: frames flow, polls counted, idle again after",
             self.poll_us),
            ("ring indexes checked against queues=N; bad queues= refused",
             self.ring_indexes),
            ("offloads: a 64 KiB TSO4 frame whole to a GUEST_TSO4 "
             "front-end, a TSO6 one segmented for it, checked segments to a "
             "socket port; bad headers dropped",
             self.offloads),
            ("bad descriptors: each frame dropped and counted, the ring "
             "goes on (a head out of range breaks it)", self.descriptors),
            ("bad messages refused and counted; a huge header ends that "
             "connection only", self.messages),
            ("nethubd as client reconnects to a restarted front-end",
             self.front_end_restarts),
            ("%d whole front-end set-ups leak nothing" % CYCLES,
             self.set_up_cycles),
            ("chardev-add with x-mode and x-group at run time",
             self.runtime_group),
            ("nethubd stops cleanly", self.stop),
        ]
        failed = True
        try:
            s.run(started, self.start)
            for name, fn in steps:
                if self.only and self.only not in name:
                    continue
                s.run(name, fn, needs=[started])
            failed = bool(s.failed)
        finally:
            if self.helper and self.helper.poll() is None:
                self.helper.kill()
                self.helper.wait(10)
            if self.daemon and failed:
                diag("nethubd log (tail):\n" + self.daemon.log())
            nethub.cleanup_all()
        return s.finish()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--io", default=os.environ.get("NETHUB_IO", "auto"),
                    choices=("auto", "uring", "epoll"))
    ap.add_argument("-k", dest="only", default="")
    ap.add_argument("nethubd", nargs="?")
    opts = ap.parse_args()
    if opts.nethubd:
        os.environ["NETHUBD"] = opts.nethubd
    nethub.IO = opts.io
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("killed by SIGTERM"))
    return Hostile(opts.io, opts.only).run()


if __name__ == "__main__":
    sys.exit(main())
