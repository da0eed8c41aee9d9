#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_vhost_user_migrate.py - live migration of a guest on a nethub
vhost-user port.

Hub 0 has two vhost-user netdevs, va and vd (nethub listens on both), a
socket netdev for guest b and a udp socket netdev whose far end is an
observer written here.  Guest a boots on va and pings b; a second QEMU is
started with -incoming, its vhost-user netdev connected to vd (nethub's
chardevs serve one front-end each, and the destination connects while the
source still holds va); a ping from a to b runs in the background while
a's QEMU migrates to it over a unix socket (QMP migrate).  Then: the
migration completed; nethub marked pages in the dirty log QEMU shared
(log-pages of va); QEMU sent SEND_RARP and nethub broadcast the RARP
(ethertype 0x8035, a's MAC) on the hub, where the observer saw it; a, now
in the destination QEMU, pings b again, and b pings a.

A hostile front-end written here goes first: SET_LOG_BASE without the
protocol feature, without its descriptor, of size 0, with offset + size
overflowing or past the file's end, and SET_LOG_FD without a descriptor
are each refused with an error naming what was wrong; nethub goes on.

Usage: test_vhost_user_migrate.py [--io auto|uring|epoll] [-k SUBSTR]
       [NETHUBD]
Missing QEMU, kernel or busybox is a failure, not a skip.
"""

import argparse
import os
import shutil
import signal
import socket
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
import qemu_guest  # noqa: E402
import qmp as qmplib  # noqa: E402
from nethub import UdpPeer  # noqa: E402
from qemu_guest import Guest, GuestError  # noqa: E402
from test_qemu_ping import Steps, diag  # noqa: E402

PREFIX_LEN = 24
MAC_A, IP_A = "52:54:00:00:02:01", "10.0.2.1"
MAC_B, IP_B = "52:54:00:00:02:02", "10.0.2.2"
PING_TIMEOUT_S = 180
PING_WAIT_S = 90
MIGRATE_TIMEOUT_S = 120
RARP_TIMEOUT_S = 20
ETHERTYPE_RARP = 0x8035

# vhost-user requests and bits (docs/interop/vhost-user.rst)
GET_FEATURES, SET_FEATURES, SET_OWNER = 1, 2, 3
SET_LOG_BASE, SET_LOG_FD = 6, 7
GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES = 15, 16
F_LOG_ALL, F_VERSION_1, F_PROTOCOL_FEATURES = 1 << 26, 1 << 32, 1 << 30
PF_LOG_SHMFD, PF_REPLY_ACK = 1 << 1, 1 << 3
NEED_REPLY, REPLY = 0x8, 0x4
LOG_BYTES = 4096


class Front:
    """A vhost-user front-end that sends what it is told."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)

    def send(self, req, payload=b"", fds=(), need_reply=False):
        hdr = struct.pack("<III", req, 1 | (NEED_REPLY if need_reply else 0),
                          len(payload))
        socket.send_fds(self.sock, [hdr + payload], list(fds))

    def recv(self):
        """(request, flags, payload); EOFError when nethub closed."""
        hdr = b""
        while len(hdr) < 12:
            chunk = self.sock.recv(12 - len(hdr))
            if not chunk:
                raise EOFError("the back-end closed the connection")
            hdr += chunk
        req, flags, size = struct.unpack("<III", hdr)
        body = b""
        while len(body) < size:
            body += self.sock.recv(size - len(body))
        return req, flags, body

    def get_u64(self, req):
        self.send(req)
        _, _, body = self.recv()
        return struct.unpack("<Q", body)[0]

    def call(self, req, payload=b"", fds=()):
        """Send with need-reply (REPLY_ACK negotiated); the u64 answer."""
        self.send(req, payload, fds, need_reply=True)
        _, _, body = self.recv()
        return struct.unpack("<Q", body)[0]

    def close(self):
        self.sock.close()


class MigrateTest:
    def __init__(self, io, only=None):
        self.io = io
        self.only = only
        self.workdir = tempfile.mkdtemp(prefix="nethub-vhost-migrate-")
        self.qemu = self.kernel = self.initrd = None
        self.daemon = None
        self.guests = {}
        self.observer = None
        self.log_pages = 0

    def path(self, name):
        return os.path.join(self.workdir, name)

    def netdev(self, nid):
        for nd in self.daemon.qmp_cmd("query-netdevs"):
            if nd["id"] == nid:
                return nd
        raise AssertionError("no netdev %s" % nid)

    def daemon_log(self):
        return self.daemon.stderr() + self.daemon.stdout()

    def qemu_qmp(self, name):
        return qmplib.QMPClient.connect(self.path(name + "-qmp.sock"),
                                        negotiate=True)

    # ---- steps ----------------------------------------------------------

    def prerequisites(self):
        self.qemu, self.kernel, self.initrd = qemu_guest.prerequisites()
        assert os.access(nethub.nethubd_path(), os.X_OK), "no nethubd"

    def start_daemon(self):
        self.listen_port = nethub.free_port()
        local = nethub.free_port("udp")
        self.observer = UdpPeer(name="observer").to(local)
        args = [
            "-netdev", "socket,id=vb,listen=127.0.0.1:%d" % self.listen_port,
            "-netdev", "socket,id=obs,udp=127.0.0.1:%d,localaddr="
            "127.0.0.1:%d" % (self.observer.port, local),
        ]
        for n in ("va", "vd", "vx"):
            args += ["-chardev", "socket,id=c%s,path=%s,server=on"
                     % (n, self.path(n + ".sock")),
                     "-netdev", "vhost-user,id=%s,chardev=c%s" % (n, n)]
        self.daemon = nethub.Nethubd(*args, "--log-level", "info",
                                     io=self.io, qmp=True)
        self.daemon.start()

    def hostile_front(self):
        """SET_LOG_BASE / SET_LOG_FD refused, each with its reason."""
        memfd = os.memfd_create("log", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        os.ftruncate(memfd, LOG_BYTES)
        log = struct.pack("<QQ", LOG_BYTES, 0)

        def connect(shmfd):
            f = Front(self.path("vx.sock"))
            nethub.poll(lambda: self.netdev("vx")["info"]["connected"], 10,
                        what="the front-end connected")
            feats = f.get_u64(GET_FEATURES)
            assert feats & F_LOG_ALL, "LOG_ALL not offered: %x" % feats
            f.send(SET_OWNER)
            f.send(SET_FEATURES, struct.pack("<Q", F_VERSION_1 |
                                             F_PROTOCOL_FEATURES))
            pf = f.get_u64(GET_PROTOCOL_FEATURES)
            assert pf & PF_LOG_SHMFD, "LOG_SHMFD not offered: %x" % pf
            f.send(SET_PROTOCOL_FEATURES, struct.pack(
                "<Q", PF_REPLY_ACK | (PF_LOG_SHMFD if shmfd else 0)))
            return f

        def errors():
            return self.netdev("vx")["info"]["protocol-errors"]

        # without LOG_SHMFD there is no reply: refused, acknowledged, and
        # the connection goes on
        f = connect(False)
        e0 = errors()
        assert f.call(SET_LOG_BASE, log, [memfd]) != 0, \
            "SET_LOG_BASE without LOG_SHMFD accepted"
        assert f.call(SET_LOG_FD, b"") != 0, "SET_LOG_FD without its fd"
        assert errors() == e0 + 2, (e0, errors())
        f.close()
        nethub.poll(lambda: not self.netdev("vx")["info"]["connected"], 10,
                    what="the front-end gone")
        # with LOG_SHMFD the front-end waits for the reply: a bad log ends
        # the connection, with its reason logged
        refused = {
            "0 file descriptors passed": (log, []),
            "dirty log of size 0": (struct.pack("<QQ", 0, 0), [memfd]),
            "overflows": (struct.pack("<QQ", 8192, 2 ** 64 - 4096),
                          [memfd]),
            "fewer than offset + size": (struct.pack("<QQ", LOG_BYTES,
                                                     4096), [memfd]),
            "payload of 8 bytes": (struct.pack("<Q", LOG_BYTES), [memfd]),
        }
        for why, (payload, fds) in refused.items():
            f = connect(True)
            e0 = errors()
            f.send(SET_LOG_BASE, payload, fds)
            try:
                got = f.recv()
            except (EOFError, ConnectionError):
                got = None
            assert got is None, "%s: answered %r" % (why, got)
            f.close()
            nethub.poll(lambda: any(
                "vx: vhost-user SET_LOG_BASE refused: " in ln and why in ln
                for ln in self.daemon_log().splitlines()), 10,
                what="the refusal logged (%s)" % why)
            nethub.poll(lambda: not self.netdev("vx")["info"]["connected"],
                        10, what="the front-end gone")
            assert errors() == e0 + 1, (why, e0, errors())
        # a good one: an empty reply; SET_LOG_FD takes an eventfd
        f = connect(True)
        f.send(SET_LOG_BASE, log, [memfd])
        req, flags, body = f.recv()
        assert req == SET_LOG_BASE and flags & REPLY and body == b"", \
            (req, flags, body)
        info = self.netdev("vx")["info"]
        assert info["log-bytes"] == LOG_BYTES and not info["logging"], info
        efd = os.eventfd(0, os.EFD_CLOEXEC)
        assert f.call(SET_LOG_FD, b"", [efd]) == 0
        os.close(efd)
        f.close()
        os.close(memfd)
        nethub.poll(lambda: self.netdev("vx")["info"]["log-bytes"] == 0, 10,
                    what="the log unmapped on disconnect")
        assert self.daemon.alive()

    def guest(self, name, netdev, mac, ip, ping, chardev=None, vhost=True,
              extra=()):
        extra = ["-qmp", "unix:%s,server=on,wait=off"
                 % self.path(name + "-qmp.sock")] + list(extra)
        if chardev:
            extra += ["-chardev", chardev]
        g = Guest(name, self.workdir, qemu=self.qemu, kernel=self.kernel,
                  initrd=self.initrd, mac=mac,
                  ip="%s/%d" % (ip, PREFIX_LEN), ping=ping,
                  ping_wait=PING_WAIT_S, after="console", netdev=netdev,
                  shared_memory=vhost, extra_args=extra,
                  nic_opts=",vectors=0" if vhost else "")
        self.guests[name] = g
        g.start()
        return g

    def a_args(self, name, sock, extra=()):
        return dict(name=name, netdev="vhost-user,chardev=q" + name,
                    mac=MAC_A, ip=IP_A, ping=IP_B,
                    chardev="socket,id=q%s,path=%s" % (name, self.path(sock)),
                    extra=extra)

    def guests_ping(self):
        self.guest(**self.a_args("a", "va.sock"))
        self.guest("b", "socket,connect=127.0.0.1:%d" % self.listen_port,
                   MAC_B, IP_B, IP_A, vhost=False)
        deadline = time.monotonic() + PING_TIMEOUT_S
        for name, g in self.guests.items():
            ok, line = g.wait_ping(max(1, deadline - time.monotonic()))
            diag("guest %s: %s" % (name, line))
            assert ok, "%s: %s\n%s" % (name, line, "\n".join(g.tail()))
        info = self.netdev("va")["info"]
        assert not info["logging"] and info["log-pages"] == 0, info

    def migrate(self):
        dst = self.guest(**self.a_args(
            "a2", "vd.sock", ["-incoming", "unix:" + self.path("mig.sock")]))
        nethub.poll(lambda: self.netdev("vd")["info"]["connected"], 60,
                    what="the destination QEMU connected to vd")
        nethub.poll(lambda: os.path.exists(self.path("mig.sock")), 60,
                    what="the destination QEMU listening for the guest")
        src = self.guests["a"]
        # traffic while the guest migrates: nethub writes its pages
        rc, out = src.run("ping -c 600 -i 0.05 %s >/dev/null 2>&1 &" % IP_B)
        assert rc == 0, out
        self.observer.drain()
        q = self.qemu_qmp("a")
        try:
            q.cmd("migrate-set-parameters", {"max-bandwidth": 1 << 33})
            t = time.monotonic()
            q.cmd("migrate", {"uri": "unix:" + self.path("mig.sock")})
            seen_logging = False
            deadline = t + MIGRATE_TIMEOUT_S
            while True:
                st = q.cmd("query-migrate")
                if not seen_logging:
                    seen_logging = self.netdev("va")["info"]["logging"]
                if st.get("status") in ("completed", "failed", "cancelled"):
                    break
                assert time.monotonic() < deadline, \
                    "migration not done in %d s: %s" % (MIGRATE_TIMEOUT_S, st)
                time.sleep(0.1)
            assert st["status"] == "completed", st
            diag("migrated in %.1fs (%s)" % (time.monotonic() - t,
                                              st.get("ram", {})))
        finally:
            q.close()
        info = self.netdev("va")["info"]
        diag("va after migration: logging seen %s, log-bytes %d, "
             "log-pages %d, log-beyond %d" % (
                 seen_logging, info["log-bytes"], info["log-pages"],
                 info["log-beyond"]))
        self.log_pages = info["log-pages"]
        assert info["log-pages"] > 0, "no page logged: %s" % info
        assert info["log-beyond"] == 0, info
        assert "va: dirty logging on" in self.daemon_log(), \
            self.daemon.log()
        # the rings stopped at GET_VRING_BASE
        for r in info["rings"]:
            assert not r["started"], r
        q = self.qemu_qmp("a2")
        try:
            nethub.poll(lambda: q.cmd("query-status")["status"] ==
                        "running", 30, what="the destination running")
        finally:
            q.close()

    def rarp_seen(self):
        want = bytes.fromhex(MAC_A.replace(":", ""))
        deadline = time.monotonic() + RARP_TIMEOUT_S
        seen = []
        while time.monotonic() < deadline:
            try:
                f = self.observer.expect_frame(max(0.1, deadline -
                                                   time.monotonic()))
            except AssertionError:
                break
            etype = struct.unpack(">H", f[12:14])[0]
            seen.append("%s %04x" % (f[6:12].hex(), etype))
            if etype == ETHERTYPE_RARP and f[6:12] == want and \
                    f[:6] == b"\xff" * 6 and f[22:28] == want:
                return
        raise AssertionError("no RARP from %s on the hub; saw %s"
                             % (MAC_A, seen[-20:]))

    def pings_after(self):
        src, dst = self.guests["a"], self.guests["a2"]
        src.kill()
        nethub.poll(lambda: not self.netdev("va")["info"]["connected"], 10,
                    what="the source QEMU gone")
        dst.continue_from(src)
        for g, ip in ((dst, IP_B), (self.guests["b"], IP_A)):
            try:
                rc, out = g.run("ping -c 3 -i 0.2 -W 3 %s" % ip, timeout=60)
            except GuestError as e:
                rc, out = -1, str(e)
            assert rc == 0, "%s cannot ping %s: %s\n%s\nits console:\n%s" \
                "\nvd: %s" % (g.name, ip, out, self.daemon.log(),
                              "\n".join(g.tail()), self.netdev("vd"))
        info = self.netdev("vd")["info"]
        assert all(r["started"] for r in info["rings"]), info
        assert not info["logging"], info

    def run(self):
        s = Steps()
        failed = True
        steps = [
            ("QEMU, kernel and guest image are there", self.prerequisites,
             ()),
            ("daemon starts with two vhost-user netdevs for one guest",
             self.start_daemon, ()),
            ("bad SET_LOG_BASE and SET_LOG_FD are refused with their "
             "reasons", self.hostile_front, (1,)),
            ("guest a on vhost-user and b on socket ping each other",
             self.guests_ping, (1,)),
            ("a migrates to a second QEMU on another vhost-user netdev; "
             "nethub logged the pages it wrote", self.migrate, (3,)),
            ("the RARP QEMU asked for after migration is on the hub",
             self.rarp_seen, (4,)),
            ("a, migrated, and b ping each other", self.pings_after, (4,)),
        ]
        if self.only:
            # the steps up to the last one that matches (they build on
            # each other)
            last = max((i for i, st in enumerate(steps)
                        if self.only in st[0]), default=-1)
            steps = steps[:last + 1]
        try:
            for name, fn, needs in steps:
                s.run(name, fn, needs=[steps[i][0] for i in needs])
            failed = bool(s.failed)
        finally:
            self.cleanup(failed)
        return s.finish()

    def cleanup(self, failed):
        for g in self.guests.values():
            g.kill()
        if self.daemon:
            with open(self.path("nethubd.log"), "w") as f:
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
    ap.add_argument("-k", dest="only", help="run the steps up to the last "
                    "one whose name contains this")
    ap.add_argument("nethubd", nargs="?")
    opts = ap.parse_args()
    if opts.nethubd:
        os.environ["NETHUBD"] = opts.nethubd
    nethub.IO = opts.io
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("killed by SIGTERM"))
    return MigrateTest(opts.io, opts.only).run()


if __name__ == "__main__":
    sys.exit(main())
