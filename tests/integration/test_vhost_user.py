#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_vhost_user.py - nethubd as the vhost-user back-end of real peers.

Three QEMU guests (TCG) share hub 0: guest a is a vhost-user front-end
connecting to nethubd's listening chardev (server=on), guest b's QEMU
listens and nethubd connects to it (server=off, reconnect=1), guest c is
on a socket netdev.  They ping each other in a ring (a -> b -> c -> a).
Both vhost-user netdevs and their QEMUs have queues=2 (mq=on): guest a
(two vCPUs) uses both queue pairs, its transmit rings each carry its
pings from one vCPU and frames to it are spread over both receive rings
by flow; guest b (one vCPU) uses one pair, QEMU sets up both and
disables pair 1, so frames of many flows to it all go on pair 0.
Then: guests a and b negotiate TSO (GUEST_TSO4, HOST_TSO4) and a TCP
transfer between them (busybox nc, TSO_BYTES) arrives whole, carried in
frames larger than an Ethernet frame (nethubd's rx-bytes over rx-frames on
a's port), none of them segmented on the way to b; the same transfer
from c (socket netdev, no offloads) for comparison.  A paused guest (QMP stop on its QEMU) does not stall the others and
works again after cont; a hostile front-end written here (bad messages,
rings outside memory, a descriptor loop) is refused without disturbing
anything, and its receive ring without buffers blocks its port, which
stalls (--stall-ms) while the others go on, then takes frames again once
buffers are posted; 1000 connect/disconnect cycles leave nethubd's descriptors and
memory where they were; dpdk-testpmd's virtio-user ports pass traffic
through nethubd in both directions, with one queue pair and with two
(--rxq=2 --txq=2: frames on all four rings of each port); nethubd is restarted under the
running guests and both vhost-user guests reconnect and ping again (a's
QEMU with reconnect=1 to nethub's socket, nethub with reconnect=1 to b's).

The steps share one daemon and the guests, so they run in order; a step
whose prerequisite failed is reported "not ok ... (not run: ...)".

Usage: test_vhost_user.py [--io auto|uring|epoll] [NETHUBD]
Missing QEMU, kernel, busybox or dpdk-testpmd is a failure, not a skip.
"""

import argparse
import mmap
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
import qemu_guest  # noqa: E402
import qmp as qmplib  # noqa: E402
from qemu_guest import Guest  # noqa: E402
from test_qemu_ping import Steps, diag  # noqa: E402

PREFIX_LEN = 24
GUESTS = {  # name: (MAC, address, the address it pings)
    "a": ("52:54:00:00:01:01", "10.0.0.1", "10.0.0.2"),
    "b": ("52:54:00:00:01:02", "10.0.0.2", "10.0.0.3"),
    "c": ("52:54:00:00:01:03", "10.0.0.3", "10.0.0.1"),
}
PING_TIMEOUT_S = 180
PING_WAIT_S = 90
CYCLES = 1000
CYCLE_FD_SLACK = 4          # descriptors the daemon may have more after
CYCLE_RSS_SLACK_KB = 2048   # and memory
TSO_BYTES = 4 << 20         # a's TCP transfer to b
TSO_PORT = 5001
TSO_TIMEOUT_S = 180
TESTPMD_S = 14
TESTPMD_MIN_FRAMES = 20000  # each way, through nethub
TESTPMD_MQ_S = 8
MQ_MIN_FRAMES = 1000        # per ring, testpmd with queues=2
MQ_ALIASES = ["10.0.0.%d" % i for i in range(30, 38)]  # c's, a's flows
F_NET_MQ = 1 << 22
F_IN_ORDER = 1 << 35         # testpmd takes it; Linux 6.1 and QEMU 7.2 do not
# the group given to a.sock: any as root, else our own
SOCKET_GROUP = 4242 if os.geteuid() == 0 else os.getegid()

# vhost-user requests and bits (docs/interop/vhost-user.rst)
GET_FEATURES, SET_FEATURES, SET_OWNER = 1, 2, 3
SET_MEM_TABLE, SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE = 5, 8, 9, 10
SET_VRING_KICK, SET_VRING_CALL = 12, 13
GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES = 15, 16
GET_QUEUE_NUM, SET_VRING_ENABLE = 17, 18
F_VERSION_1, F_PROTOCOL_FEATURES = 1 << 32, 1 << 30
PF_REPLY_ACK = 1 << 3
NEED_REPLY = 0x8
MEM_UVA = 0x7f0000000000
MEM_SIZE = 1 << 20


class Front:
    """A small vhost-user front-end: enough to set a device up badly."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.ack = False

    def send(self, req, payload=b"", fds=(), flags=1, size=None):
        hdr = struct.pack("<III", req, flags | (NEED_REPLY if self.ack
                                                 else 0),
                          len(payload) if size is None else size)
        socket.send_fds(self.sock, [hdr + payload], list(fds))

    def recv(self):
        hdr = b""
        while len(hdr) < 12:
            chunk = self.sock.recv(12 - len(hdr))
            if not chunk:
                raise EOFError("back-end closed the connection")
            hdr += chunk
        req, flags, size = struct.unpack("<III", hdr)
        body = b""
        while len(body) < size:
            body += self.sock.recv(size - len(body))
        return req, flags, body

    def get_u64(self, req):
        self.send(req)
        _, flags, body = self.recv()
        assert flags & 0x4, "reply without the reply flag"
        return struct.unpack("<Q", body)[0]

    def call(self, req, payload=b"", fds=()):
        """Send with need-reply (REPLY_ACK negotiated); the u64 answer."""
        self.send(req, payload, fds)
        _, _, body = self.recv()
        return struct.unpack("<Q", body)[0]

    def close(self):
        self.sock.close()


class VhostTest:
    def __init__(self, io):
        self.io = io
        self.workdir = tempfile.mkdtemp(prefix="nethub-vhost-user-")
        self.qemu = self.kernel = self.initrd = None
        self.daemon = None
        self.guests = {}
        self.sock = {}
        self.listen_port = None

    def path(self, name):
        return os.path.join(self.workdir, name)

    def netdev(self, nid):
        for nd in self.daemon.qmp_cmd("query-netdevs"):
            if nd["id"] == nid:
                return nd
        raise AssertionError("no netdev %s" % nid)

    def port_stats(self, nid):
        ports = self.netdev(nid)["ports"]
        return ports[0]["stats"] if ports else None

    # ---- steps ----------------------------------------------------------

    def prerequisites(self):
        self.qemu, self.kernel, self.initrd = qemu_guest.prerequisites()
        self.testpmd = shutil.which("dpdk-testpmd")
        assert self.testpmd, "dpdk-testpmd not found (install dpdk-dev)"
        assert os.access(nethub.nethubd_path(), os.X_OK), "no nethubd"

    def start_daemon(self):
        self.listen_port = nethub.free_port()
        args = [
            "-chardev", "socket,id=ca,path=%s,server=on,wait=off,"
            "mode=0660,group=%d" % (self.path("a.sock"), SOCKET_GROUP),
            "-chardev", "socket,id=cb,path=%s,reconnect=1"
            % self.path("b.sock"),
            "-netdev", "vhost-user,id=va,chardev=ca,queues=2",
            "-netdev", "vhost-user,id=vb,chardev=cb,queues=2",
            "-netdev", "socket,id=vms,listen=127.0.0.1:%d"
            % self.listen_port,
        ]
        for n in ("ch", "tp0", "tp1", "tm0", "tm1"):
            args += ["-chardev", "socket,id=c%s,path=%s,server=on%s"
                     % (n, self.path(n + ".sock"),
                        ",wait=on" if n == "ch" else ""),
                     "-netdev", "vhost-user,id=%s,chardev=c%s%s"
                     % (n, n, ",queues=2" if n.startswith("tm") else "")]
        self.daemon_args = args + ["--log-level", "info"]
        self.daemon = nethub.Nethubd(*self.daemon_args, io=self.io,
                                     qmp=True)
        self.daemon.start()
        chardevs = {c["label"]: c for c in
                    self.daemon.qmp_cmd("query-chardev")}
        assert chardevs["ca"]["frontend-open"], chardevs
        assert chardevs["ca"]["filename"].startswith(
            "disconnected:unix:"), chardevs
        st = os.stat(self.path("a.sock"))
        assert st.st_mode & 0o777 == 0o660 and st.st_gid == SOCKET_GROUP, \
            "socket file mode %o group %d" % (st.st_mode & 0o777, st.st_gid)
        mode = os.stat(self.path("ch.sock")).st_mode & 0o777
        assert mode == 0o600, "socket file mode %o" % mode
        # wait=on: nethubd did not wait for a peer (QMP answered above)
        # and said so
        assert "chardev cch: wait=on: listening on" in \
            self.daemon.stderr() + self.daemon.stdout(), self.daemon.log()

    def chardev_refusals(self):
        q = self.daemon.qmp_cmd
        for args, words in (
                ({"id": "ca"}, "is busy"),
                ({"id": "nope"}, "not found")):
            try:
                q("chardev-remove", args)
            except qmplib.QMPError as e:
                assert words in str(e), e
            else:
                raise AssertionError("chardev-remove %s worked" % args)
        add = {"id": "cx", "backend": {"type": "socket", "data": {
            "addr": {"type": "unix",
                     "data": {"path": self.path("a.sock")}},
            "server": True}}}
        try:
            q("chardev-add", add)
        except qmplib.QMPError as e:
            assert "another process is serving" in str(e), e
        else:
            raise AssertionError("a second server on a live socket")
        for queues in (0, 17):
            try:
                q("netdev_add", {"type": "vhost-user", "id": "vq",
                                 "chardev": "ch", "queues": queues})
            except qmplib.QMPError as e:
                assert "queues=%d: the number of queue pairs must be 1 " \
                    "to 16" % queues in str(e), e
            else:
                raise AssertionError("queues=%d accepted" % queues)

    def guest(self, name, netdev, chardev=None, vhost=True, mq=False,
              cpus=1):
        mac, ip, peer = GUESTS[name]
        extra = ["-qmp", "unix:%s,server=on,wait=off"
                 % self.path(name + "-qmp.sock")]
        if chardev:
            extra += ["-chardev", chardev]
        nic = ",vectors=0" if vhost else ""
        if mq:
            # Linux's virtio-net turns on as many pairs as it has vCPUs,
            # and XPS sends from vCPU i on pair i
            extra += ["-smp", str(cpus)]
            nic += ',mq=on'
        g = Guest(name, self.workdir, qemu=self.qemu, kernel=self.kernel,
                  initrd=self.initrd, mac=mac,
                  ip="%s/%d" % (ip, PREFIX_LEN), ping=peer,
                  ping_wait=PING_WAIT_S, after="console", netdev=netdev,
                  shared_memory=vhost, extra_args=extra, nic_opts=nic)
        self.guests[name] = g
        g.start()
        return g

    def guests_ping(self):
        # a: nethub listens, QEMU connects (again after a restart)
        self.guest("a", "vhost-user,chardev=qa,queues=2",
                   "socket,id=qa,path=%s,reconnect=1" % self.path("a.sock"),
                   mq=True, cpus=2)
        # b: QEMU listens, nethub connects (reconnect=1)
        self.guest("b", "vhost-user,chardev=qb,queues=2",
                   "socket,id=qb,path=%s,server=on,wait=off"
                   % self.path("b.sock"), mq=True)
        self.guest("c", "socket,connect=127.0.0.1:%d" % self.listen_port,
                   vhost=False)
        deadline = time.monotonic() + PING_TIMEOUT_S
        bad = []
        for name, g in self.guests.items():
            ok, line = g.wait_ping(max(1, deadline - time.monotonic()))
            diag("guest %s: %s" % (name, line))
            if not ok:
                bad.append("%s: %s\n%s" % (name, line,
                                           "\n".join(g.tail())))
        assert not bad, "\n".join(bad)

    def negotiated(self):
        for nid in ("va", "vb"):
            info = self.netdev(nid)["info"]
            diag("%s: %s" % (nid, {k: info[k] for k in (
                "connected", "features", "protocol-features")}))
            assert info["connected"], info
            f = int(info["features"], 16)
            assert f & F_VERSION_1, "VERSION_1 not negotiated: %s" % info
            assert info["memory-regions"] >= 1 and \
                info["memory-sealed"] == info["memory-regions"], info
            assert info["queues"] == 2 and len(info["rings"]) == 4, info
            # a: two vCPUs, both pairs on; b: one vCPU, QEMU sets up
            # both pairs and disables pair 1
            used = 4 if nid == "va" else 2
            assert f & F_NET_MQ, "MQ not negotiated: %s" % info
            for r in info["rings"]:
                assert r["size"] >= 64, r
            for r in info["rings"][:used]:
                assert r["started"] and r["enabled"], r
            for r in info["rings"][used:]:
                assert not r["enabled"] and r["frames"] == 0, r
            st = self.port_stats(nid)
            assert st["rx-forwarded"] > 0 and st["tx-frames"] > 0, st

    def mq_guest(self):
        """Guest a's pings from vCPU 0 leave on transmit ring 1, from
        vCPU 1 on ring 3; replies from eight addresses (eight flows) are
        spread over receive rings 0 and 2.  Pings from the same eight
        addresses to guest b all go on its pair 0 (pair 1 disabled)."""
        for addr in MQ_ALIASES:
            self.run_in("c", "ip addr add %s/%d dev eth0" % (addr,
                                                             PREFIX_LEN))
        r0 = self.netdev("va")["info"]["rings"]
        for cpu in (0, 1):
            self.run_in("a", "taskset -c %d ping -c 2 -i 0.2 -W 3 10.0.0.2"
                        % cpu)
        for addr in MQ_ALIASES:
            self.run_in("a", "ping -c 1 -W 3 %s" % addr)
        r1 = self.netdev("va")["info"]["rings"]
        got = [r1[i]["frames"] - r0[i]["frames"] for i in range(4)]
        diag("guest a's rings 0-3 carried %s frames" % got)
        for i in range(4):
            assert got[i] >= 2, "ring %d carried %d frames: %s" % (
                i, got[i], got)
        b0 = self.netdev("vb")["info"]["rings"]
        for addr in MQ_ALIASES:
            self.run_in("c", "ping -c 1 -W 3 -I %s 10.0.0.2" % addr)
        b1 = self.netdev("vb")["info"]["rings"]
        got = [b1[i]["frames"] - b0[i]["frames"] for i in range(4)]
        diag("guest b's rings 0-3 carried %s frames" % got)
        assert got[0] >= len(MQ_ALIASES) and got[1] >= len(MQ_ALIASES) \
            and got[2] == got[3] == 0, got
        assert not b1[2]["enabled"] and not b1[3]["enabled"], b1

    def run_in(self, name, cmd, want_rc=0, timeout=60):
        rc, out = self.guests[name].run(cmd, timeout=timeout)
        if want_rc is not None and rc != want_rc:
            raise AssertionError("guest %s: %r exited %d, not %d:\n%s"
                                 % (name, cmd, rc, want_rc, out))
        return out

    def transfer(self, src, nid, port):
        """TSO_BYTES by TCP from guest @src (on netdev @nid) to b; returns
        (seconds, frames @src sent, bytes a frame on average)."""
        self.run_in("b", "(sleep %d | nc -l -p %d | wc -c > /tcp-%d) &"
                    % (TSO_TIMEOUT_S, port, port))
        s0 = self.port_stats(nid)
        t = time.monotonic()
        self.run_in(src, "dd if=/dev/zero bs=65536 count=%d 2>/dev/null | "
                    "nc 10.0.0.2 %d" % (TSO_BYTES // 65536, port),
                    timeout=TSO_TIMEOUT_S)
        deadline = time.monotonic() + 60
        while True:
            got = self.run_in("b", "cat /tcp-%d 2>/dev/null" % port,
                              want_rc=None)
            if got.strip() == str(TSO_BYTES):
                break
            assert time.monotonic() < deadline, \
                "b received %r of %d bytes from %s" % (got.strip(),
                                                       TSO_BYTES, src)
            time.sleep(1)
        dt = time.monotonic() - t
        s1 = self.port_stats(nid)
        frames = s1["rx-frames"] - s0["rx-frames"]
        avg = (s1["rx-bytes"] - s0["rx-bytes"]) / max(frames, 1)
        diag("%d bytes %s -> b in %.1fs (%.1f Mbit/s): %s sent %d frames, "
             "%.0f bytes on average" % (TSO_BYTES, src, dt,
                                        TSO_BYTES * 8 / dt / 1e6, src,
                                        frames, avg))
        return dt, frames, avg

    def tcp_offloads(self):
        """TCP from a to b with TSO on both: large frames cross whole.
        The same from c, on a socket netdev (no offloads), for
        comparison."""
        for nid in ("va", "vb"):
            info = self.netdev(nid)["info"]
            assert "tso4" in info["rx-offloads"] and \
                "tso4" in info["tx-offloads"], (nid, info)
        b0 = self.port_stats("vb")
        dt, frames, avg = self.transfer("a", "va", TSO_PORT)
        b1 = self.port_stats("vb")
        assert avg > 1514, "no frame larger than 1514 bytes crossed: " \
            "%.0f bytes a frame" % avg
        assert b1["tx-gso-frames"] == b0["tx-gso-frames"], \
            "frames to b were segmented"
        self.transfer("c", "vms", TSO_PORT + 1)

    def paused_guest(self):
        qa = qmplib.QMPClient.connect(self.path("a-qmp.sock"), negotiate=True)
        try:
            qa.cmd("stop")
            before = self.port_stats("va")
            t = time.monotonic()
            # b sends to the paused guest, then to c: c answers at once
            self.run_in("b", "ping -c 5 -i 0.2 -W 1 10.0.0.1",
                        want_rc=None)
            self.run_in("b", "ping -c 3 -i 0.2 -W 2 10.0.0.3")
            diag("b pinged c while a was paused (%.1fs)"
                 % (time.monotonic() - t))
            after = self.port_stats("va")
            sent = after["tx-frames"] - before["tx-frames"]
            assert sent == 0, "the paused guest took %d frames" % sent
            drops = sum(after["tx-drops"].values()) - \
                sum(before["tx-drops"].values())
            assert drops > 0, "frames to the paused guest not counted"
            qa.cmd("cont")
        finally:
            qa.close()
        self.run_in("a", "ping -c 3 -i 0.2 -W 3 10.0.0.2")

    def hostile_front(self):
        f = Front(self.path("ch.sock"))
        nethub.poll(lambda: self.netdev("ch")["info"]["connected"], 10,
                    what="the front-end connected")
        feats = f.get_u64(GET_FEATURES)
        assert feats & F_VERSION_1 and feats & F_PROTOCOL_FEATURES
        f.send(SET_FEATURES, struct.pack("<Q", F_VERSION_1 |
                                         F_PROTOCOL_FEATURES))
        pf = f.get_u64(GET_PROTOCOL_FEATURES)
        assert pf & PF_REPLY_ACK, hex(pf)
        f.send(SET_PROTOCOL_FEATURES, struct.pack("<Q", PF_REPLY_ACK))
        f.ack = True
        memfd = os.memfd_create("guest", os.MFD_CLOEXEC |
                                os.MFD_ALLOW_SEALING)
        os.ftruncate(memfd, MEM_SIZE)
        mem = mmap.mmap(memfd, MEM_SIZE)
        region = struct.pack("<QQQQ", 0, MEM_SIZE, MEM_UVA, 0)
        refused = {
            "9 regions": (SET_MEM_TABLE, struct.pack("<II", 9, 0) +
                          region * 9, [memfd] * 8),
            "a region without its fd": (SET_MEM_TABLE,
                                        struct.pack("<II", 1, 0) + region,
                                        []),
            "a region past the file's end": (
                SET_MEM_TABLE, struct.pack("<II", 1, 0) +
                struct.pack("<QQQQ", 0, MEM_SIZE * 4, MEM_UVA, 0), [memfd]),
            "a wrapping region": (
                SET_MEM_TABLE, struct.pack("<II", 1, 0) +
                struct.pack("<QQQQ", 2 ** 64 - 4096, 8192, MEM_UVA, 0),
                [memfd]),
            "SET_FEATURES of 4 bytes": (SET_FEATURES, b"\0" * 4, []),
            "ring 7": (SET_VRING_NUM, struct.pack("<II", 7, 8), []),
            "ring size 6": (SET_VRING_NUM, struct.pack("<II", 1, 6), []),
            "unknown request 99": (99, b"", []),
        }
        for what, (req, payload, fds) in refused.items():
            rc = f.call(req, payload, fds)
            assert rc != 0, "%s was accepted" % what
        ok = f.call(SET_MEM_TABLE, struct.pack("<II", 1, 0) + region,
                    [memfd])
        assert ok == 0, "a good memory table refused"
        # sealed against shrinking: a truncation cannot SIGBUS nethubd
        assert self.netdev("ch")["info"]["memory-sealed"] == 1
        try:
            os.ftruncate(memfd, MEM_SIZE // 2)
        except PermissionError:
            pass
        else:
            raise AssertionError("the guest memory could still shrink")
        for ring in (0, 1):
            assert f.call(SET_VRING_NUM, struct.pack("<II", ring, 8)) == 0
        # rings outside guest memory
        bad = struct.pack("<IIQQQQ", 1, 0, MEM_UVA + MEM_SIZE - 16,
                          MEM_UVA + 0x2000, MEM_UVA + 0x1000, 0)
        assert f.call(SET_VRING_ADDR, bad) != 0, "ring outside memory"
        good = struct.pack("<IIQQQQ", 1, 0, MEM_UVA, MEM_UVA + 0x2000,
                           MEM_UVA + 0x1000, 0)
        assert f.call(SET_VRING_ADDR, good) == 0
        assert f.call(SET_VRING_BASE, struct.pack("<II", 1, 0)) == 0
        kick = os.eventfd(0, os.EFD_NONBLOCK)
        call = os.eventfd(0, os.EFD_NONBLOCK)
        assert f.call(SET_VRING_KICK, struct.pack("<Q", 1), [kick]) == 0
        assert f.call(SET_VRING_CALL, struct.pack("<Q", 1), [call]) == 0
        assert f.call(SET_VRING_ENABLE, struct.pack("<II", 1, 1)) == 0
        # the TX ring: chain 0 loops (0 -> 1 -> 0), chain 2 is a frame
        frame = (b"\xff" * 6 + bytes.fromhex("02aabbccdd01") +
                 b"\x88\xb5" + b"hostile" * 8)
        buf = 0x10000
        mem[buf:buf + 12 + len(frame)] = b"\0" * 12 + frame
        for i, (addr, ln, flags, nxt) in enumerate((
                (buf, 12, 1, 1), (buf, 12, 1, 0),
                (buf, 12 + len(frame), 0, 0))):
            mem[16 * i:16 * i + 16] = struct.pack("<QIHH", addr, ln, flags,
                                                  nxt)
        avail = 0x1000
        mem[avail + 4:avail + 8] = struct.pack("<HH", 0, 2)
        mem[avail:avail + 4] = struct.pack("<HH", 0, 2)
        os.eventfd_write(kick, 1)

        def counted(nd):
            ring = nd["info"]["rings"][1]
            return ring["faults"].get("loop") == 1 and \
                nd["ports"][0]["stats"]["rx-forwarded"] >= 1
        nethub.poll(lambda: counted(self.netdev("ch")), 10,
                    what="the loop counted and the good frame forwarded")
        used_idx = struct.unpack("<H", mem[0x2002:0x2004])[0]
        assert used_idx == 2, "used index %d, want 2" % used_idx
        self.receiver_without_buffers(f, mem)
        # a head out of range breaks the ring, nothing else
        mem[avail + 4 + 4:avail + 4 + 6] = struct.pack("<H", 99)
        mem[avail + 2:avail + 4] = struct.pack("<H", 3)
        os.eventfd_write(kick, 1)
        nethub.poll(lambda: self.netdev("ch")["info"]["rings"][1]["broken"],
                    10, what="the ring marked broken")
        # a header that cannot be framed ends the connection only
        f.ack = False
        f.send(SET_OWNER, b"", size=1 << 20)
        nethub.poll(lambda: not self.netdev("ch")["info"]["connected"], 10,
                    what="the connection closed")
        f.close()
        mem.close()
        for fd in (memfd, kick, call):
            os.close(fd)
        assert self.daemon.alive()
        self.run_in("c", "ping -c 2 -i 0.2 -W 2 10.0.0.1")

    def receiver_without_buffers(self, f, mem):
        """An RX ring with no buffers blocks the port: unicast to it
        stalls within --stall-ms and is dropped (queue-full), the others
        go on; buffers posted and kicked make it take frames again."""
        rx = 0x4000  # descriptors; available ring +0x1000, used +0x2000
        assert f.call(SET_VRING_ADDR, struct.pack(
            "<IIQQQQ", 0, 0, MEM_UVA + rx, MEM_UVA + rx + 0x2000,
            MEM_UVA + rx + 0x1000, 0)) == 0
        assert f.call(SET_VRING_BASE, struct.pack("<II", 0, 0)) == 0
        kick = os.eventfd(0, os.EFD_NONBLOCK)
        assert f.call(SET_VRING_KICK, struct.pack("<Q", 0), [kick]) == 0
        assert f.call(SET_VRING_ENABLE, struct.pack("<II", 0, 1)) == 0
        os.eventfd_write(kick, 1)  # started, with nothing posted
        nethub.poll(lambda: self.netdev("ch")["info"]["rings"][0]["started"],
                    10, what="the receive ring started")
        before = self.port_stats("ch")
        self.run_in("c", "arp -s 10.0.0.99 02:aa:bb:cc:dd:01")
        self.run_in("c", "ping -c 5 -i 0.2 -W 1 10.0.0.99", want_rc=None)
        self.run_in("c", "ping -c 2 -i 0.2 -W 2 10.0.0.1")
        st = self.port_stats("ch")
        assert st["tx-stalls"] > before["tx-stalls"], st
        assert st["tx-drops"]["queue-full"] > \
            before["tx-drops"]["queue-full"], st
        assert st["tx-frames"] == before["tx-frames"], st
        # four receive buffers, then a kick: frames are taken again
        for i in range(4):
            mem[rx + 16 * i:rx + 16 * i + 16] = struct.pack(
                "<QIHH", 0x20000 + 0x800 * i, 0x800, 2, 0)
            mem[rx + 0x1004 + 2 * i:rx + 0x1006 + 2 * i] = \
                struct.pack("<H", i)
        mem[rx + 0x1002:rx + 0x1004] = struct.pack("<H", 4)
        os.eventfd_write(kick, 1)
        self.run_in("c", "ping -c 3 -i 0.2 -W 1 10.0.0.99", want_rc=None)
        used = struct.unpack("<H", mem[rx + 0x2002:rx + 0x2004])[0]
        st = self.port_stats("ch")
        assert used >= 3 and st["tx-frames"] >= before["tx-frames"] + 3, \
            (used, st)
        # a guest's multicast (IPv6 MLD, RS) may take a buffer first
        dsts = [bytes(mem[0x20000 + 0x800 * i + 12:
                          0x20000 + 0x800 * i + 12 + 6])
                for i in range(min(used, 4))]
        assert bytes.fromhex("02aabbccdd01") in dsts, [d.hex() for d in dsts]
        os.close(kick)

    def daemon_usage(self):
        pid = self.daemon.pid
        fds = len(os.listdir("/proc/%d/fd" % pid))
        with open("/proc/%d/status" % pid) as fh:
            rss = next(int(line.split()[1]) for line in fh
                       if line.startswith("VmRSS:"))
        return fds, rss

    def connect_cycles(self):
        path = self.path("ch.sock")

        def cycle():
            f = Front(path)
            assert f.get_u64(GET_FEATURES) & F_VERSION_1
            f.close()
        for _ in range(50):
            cycle()
        fds0, rss0 = self.daemon_usage()
        t = time.monotonic()
        for _ in range(CYCLES):
            cycle()
        nethub.poll(lambda: not self.netdev("ch")["info"]["connected"], 10,
                    what="the last connection gone")
        fds1, rss1 = self.daemon_usage()
        diag("%d cycles in %.1fs: fds %d -> %d, RSS %d -> %d kB"
             % (CYCLES, time.monotonic() - t, fds0, fds1, rss0, rss1))
        assert fds1 <= fds0 + CYCLE_FD_SLACK, (fds0, fds1)
        assert rss1 <= rss0 + CYCLE_RSS_SLACK_KB, (rss0, rss1)
        conns = self.netdev("ch")["info"]["connections"]
        assert conns >= CYCLES + 50, conns

    def testpmd_traffic(self):
        cmd = ("sleep %d | timeout %d %s -l 0,1 --no-pci --no-huge -m 512 "
               "--single-file-segments --file-prefix=nhvu%d "
               "--vdev net_virtio_user0,path=%s,mac=02:00:00:00:00:10 "
               "--vdev net_virtio_user1,path=%s,mac=02:00:00:00:00:11 -- "
               "--forward-mode=mac --eth-peer=0,02:00:00:00:00:11 "
               "--eth-peer=1,02:00:00:00:00:10 --tx-first --txpkts=64 "
               "--burst=32 --nb-cores=1 --total-num-mbufs=16384"
               % (TESTPMD_S + 5, TESTPMD_S, self.testpmd, os.getpid(),
                  self.path("tp0.sock"), self.path("tp1.sock")))
        log = open(self.path("testpmd.log"), "w")
        proc = subprocess.Popen(cmd, shell=True, stdout=log,
                                stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            nethub.poll(lambda: all(self.port_stats(n) and
                                    self.port_stats(n)["rx-forwarded"] >
                                    1000 for n in ("tp0", "tp1")),
                        TESTPMD_S, what="testpmd's frames through nethub")
            a0 = {n: self.port_stats(n)["rx-forwarded"]
                  for n in ("tp0", "tp1")}
            t0 = time.monotonic()
            time.sleep(3)
            a1 = {n: self.port_stats(n)["rx-forwarded"]
                  for n in ("tp0", "tp1")}
            dt = time.monotonic() - t0
            for n in a0:
                diag("%s: %.0f frames/s into nethub (64 B, mac-forward)"
                     % (n, (a1[n] - a0[n]) / dt))
            for n in ("tp0", "tp1"):
                st = self.port_stats(n)
                assert st["rx-forwarded"] >= TESTPMD_MIN_FRAMES and \
                    st["tx-frames"] >= TESTPMD_MIN_FRAMES, (n, st)
                # DPDK's in-order paths: they count on nethub using
                # buffers in the order they were posted
                f = int(self.netdev(n)["info"]["features"], 16)
                assert f & F_IN_ORDER, "IN_ORDER not negotiated: %x" % f
        finally:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)
            log.close()
        nethub.poll(lambda: not self.netdev("tp0")["info"]["connected"],
                    20, what="testpmd gone")

    def testpmd_mq(self):
        """testpmd with queues=2 and --rxq=2 --txq=2: DPDK's virtio-user
        asks GET_QUEUE_NUM, negotiates MQ and enables both pairs; its
        first bursts (many flows) leave on both transmit queues, nethub
        spreads them by flow over the other port's receive rings, and
        testpmd sends each back on the queue it came in on: every ring of
        both ports carries frames.  Without IN_ORDER (in_order=0), so
        testpmd's other receive and transmit paths are driven too."""
        cmd = ("sleep %d | timeout %d %s -l 0,1 --no-pci --no-huge -m 512 "
               "--single-file-segments --file-prefix=nhvm%d "
               "--vdev net_virtio_user0,path=%s,mac=02:00:00:00:00:20,"
               "queues=2,in_order=0 "
               "--vdev net_virtio_user1,path=%s,mac=02:00:00:00:00:21,"
               "queues=2,in_order=0 -- "
               "--forward-mode=mac --eth-peer=0,02:00:00:00:00:21 "
               "--eth-peer=1,02:00:00:00:00:20 --tx-first "
               "--txonly-multi-flow --txpkts=64 --burst=32 --nb-cores=1 "
               "--rxq=2 --txq=2 --total-num-mbufs=16384"
               % (TESTPMD_MQ_S + 5, TESTPMD_MQ_S, self.testpmd, os.getpid(),
                  self.path("tm0.sock"), self.path("tm1.sock")))
        log = open(self.path("testpmd-mq.log"), "w")
        proc = subprocess.Popen(cmd, shell=True, stdout=log,
                                stderr=subprocess.STDOUT,
                                start_new_session=True)

        def spread():
            for n in ("tm0", "tm1"):
                info = self.netdev(n)["info"]
                if len(info["rings"]) != 4 or \
                        any(r["frames"] < MQ_MIN_FRAMES
                            for r in info["rings"]):
                    return False
            return True
        try:
            nethub.poll(spread, TESTPMD_MQ_S + 20,
                        what="testpmd's frames on every ring of both ports")
            for n in ("tm0", "tm1"):
                info = self.netdev(n)["info"]
                diag("%s: rings 0-3 carried %s frames" % (
                    n, [r["frames"] for r in info["rings"]]))
                assert info["queues"] == 2 and \
                    int(info["features"], 16) & F_NET_MQ, info
                # DPDK's out-of-order paths (in_order=0), for once
                assert not int(info["features"], 16) & F_IN_ORDER, info
                assert all(r["enabled"] for r in info["rings"]), info
        finally:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)
            log.close()
        nethub.poll(lambda: not self.netdev("tm0")["info"]["connected"],
                    20, what="testpmd gone")

    def runtime_chardev(self):
        """chardev-add, netdev_add on it (queues=3: GET_QUEUE_NUM says
        3), a front-end served, netdev_del, then chardev-remove takes the
        socket file away."""
        q = self.daemon.qmp_cmd
        path = self.path("rt.sock")
        q("chardev-add", {"id": "crt", "backend": {"type": "socket", "data": {
            "addr": {"type": "unix", "data": {"path": path}},
            "server": True, "wait": False}}})
        q("netdev_add", {"type": "vhost-user", "id": "vrt",
                         "chardev": "crt", "queues": 3})
        f = Front(path)
        assert f.get_u64(GET_FEATURES) & F_VERSION_1
        assert f.get_u64(GET_QUEUE_NUM) == 3
        nethub.poll(lambda: self.netdev("vrt")["ports"] != [], 10,
                    what="the runtime netdev's port")
        info = {c["label"]: c for c in q("query-chardev")}["crt"]
        assert info["frontend-open"] and \
            info["filename"] == "unix:%s,server=on" % path, info
        q("netdev_del", {"id": "vrt"})
        try:
            f.recv()
        except (EOFError, ConnectionResetError):
            pass  # closed, as it should be (a timeout is not caught)
        else:
            raise AssertionError("the connection outlived netdev_del")
        f.close()
        q("chardev-remove", {"id": "crt"})
        assert not os.path.exists(path), "socket file left behind"
        assert "crt" not in [c["label"] for c in q("query-chardev")]

    def daemon_restart(self):
        """nethubd stopped (SIGTERM) and started again under the running
        guests: QEMU a's chardev (reconnect=1) connects to the new
        daemon's socket, the new daemon connects (reconnect=1) to QEMU
        b's; a and b ping each other again, without a reboot."""
        old = self.daemon
        rc = old.stop(signal.SIGTERM)
        with open(self.path("nethubd-before-restart.log"), "w") as f:
            f.write(old.stderr() + old.stdout())
        assert rc == 0, "nethubd exited %s on SIGTERM" % rc
        self.daemon = nethub.Nethubd(*self.daemon_args, io=self.io,
                                     qmp=True)
        self.daemon.start()
        t = time.monotonic()

        def up(nid):
            info = self.netdev(nid)["info"]
            used = 4 if nid == "va" else 2  # b's QEMU: one queue pair
            return info["connected"] and \
                all(r["started"] for r in info["rings"][:used])
        nethub.poll(lambda: up("va") and up("vb"), 60,
                    what="both QEMUs on the new nethubd")
        diag("both QEMUs back on the new nethubd after %.1fs"
             % (time.monotonic() - t))
        for name in ("a", "b"):
            peer = GUESTS["b" if name == "a" else "a"][1]
            deadline = time.monotonic() + PING_WAIT_S
            while True:
                rc, out = self.guests[name].run(
                    "ping -c 1 -W 2 %s" % peer, timeout=30)
                if rc == 0:
                    break
                assert time.monotonic() < deadline, \
                    "guest %s cannot ping %s after the restart:\n%s" % (
                        name, peer, out)
        for nid in ("va", "vb"):
            st = self.port_stats(nid)
            assert st["rx-forwarded"] > 0 and st["tx-frames"] > 0, (nid, st)

    def power_off(self):
        for g in self.guests.values():
            g.poweroff()
        nethub.poll(lambda: not self.netdev("va")["info"]["connected"] and
                    not self.netdev("vb")["info"]["connected"], 20,
                    what="the front-ends gone")
        assert self.netdev("va")["ports"] == [], "port left behind"

    def run(self):
        s = Steps()
        failed = True
        try:
            s.run("prerequisites", self.prerequisites)
            s.run("daemon starts with chardevs and vhost-user netdevs",
                  self.start_daemon, needs=["prerequisites"])
            s.run("chardev and netdev refusals", self.chardev_refusals,
                  needs=["daemon starts with chardevs and vhost-user "
                         "netdevs"])
            s.run("guests on vhost-user (server and client) and socket "
                  "ping each other", self.guests_ping,
                  needs=["daemon starts with chardevs and vhost-user "
                         "netdevs"])
            up = ["guests on vhost-user (server and client) and socket "
                  "ping each other"]
            s.run("negotiated features and rings in query-netdevs",
                  self.negotiated, needs=up)
            s.run("a multiqueue guest uses both queue pairs, the other "
                  "pair 0 only", self.mq_guest, needs=up)
            s.run("TCP between the vhost-user guests with TSO: frames "
                  "larger than 1514 bytes cross whole", self.tcp_offloads,
                  needs=up)
            s.run("a paused guest does not stall the others",
                  self.paused_guest, needs=up)
            s.run("a hostile front-end is refused, the rest goes on",
                  self.hostile_front, needs=up)
            s.run("%d connect/disconnect cycles leak nothing" % CYCLES,
                  self.connect_cycles,
                  needs=["daemon starts with chardevs and vhost-user "
                         "netdevs"])
            s.run("dpdk-testpmd's virtio-user ports pass traffic",
                  self.testpmd_traffic,
                  needs=["daemon starts with chardevs and vhost-user "
                         "netdevs"])
            s.run("dpdk-testpmd with queues=2: frames on every ring",
                  self.testpmd_mq,
                  needs=["daemon starts with chardevs and vhost-user "
                         "netdevs"])
            s.run("chardev-add, netdev_add (queues=3), netdev_del, "
                  "chardev-remove at run time", self.runtime_chardev,
                  needs=["daemon starts with chardevs and vhost-user "
                         "netdevs"])
            s.run("nethubd restarted under the guests: QEMU reconnects "
                  "(nethub server) and nethub reconnects (QEMU server), "
                  "the guests ping again", self.daemon_restart, needs=up)
            s.run("guests power off, their ports go", self.power_off,
                  needs=up)
            failed = bool(s.failed)
        finally:
            self.cleanup(failed)
        return s.finish()

    def cleanup(self, failed):
        for g in self.guests.values():
            g.kill()
        if self.daemon:
            with open(os.path.join(self.workdir, "nethubd.log"), "w") as f:
                f.write(self.daemon.stderr() + self.daemon.stdout())
            if failed:
                diag("nethubd log (tail):\n" + self.daemon.log())
        nethub.cleanup_all()
        if failed or os.environ.get("NETHUB_TEST_KEEP") == "1":
            diag("logs kept in %s" % self.workdir)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--io", default=os.environ.get("NETHUB_IO", "auto"),
                    choices=("auto", "uring", "epoll"))
    ap.add_argument("nethubd", nargs="?")
    opts = ap.parse_args()
    if opts.nethubd:
        os.environ["NETHUBD"] = opts.nethubd
    nethub.IO = opts.io
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("killed by SIGTERM"))
    return VhostTest(opts.io).run()


if __name__ == "__main__":
    sys.exit(main())
