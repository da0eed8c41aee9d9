#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_qemu_ping.py - two real QEMU guests ping each other through nethubd.

Each guest's NIC is QEMU's `-netdev socket,connect=` to nethubd's
`-netdev socket,id=vms,listen=` (QEMU's TCP stream framing), so this proves
interoperation with the real peer, not with a model of it.  The steps share
one daemon and two guests, so they run in order; a step whose prerequisite
step failed is reported "not ok ... (not run: ...)".

Usage: test_qemu_ping.py [--io auto|uring|epoll] [NETHUBD]
NETHUBD defaults to $NETHUBD, else build/ctl/nethubd.  Missing QEMU, kernel or
busybox is a failure, not a skip: CI installs them.  NETHUB_TEST_KEEP=1
keeps the guests' console logs (they are kept anyway when a step fails).

The 10.0.0.x addresses exist only inside the guests: their only NICs are
connected to nethubd over loopback TCP, so no traffic leaves the host.
"""

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
import qemu_guest  # noqa: E402
from qemu_guest import Guest, GuestError  # noqa: E402

NETDEV_ID = "vms"
HUB = 0
GUESTS = (  # name, MAC, address, the address it pings
    ("a", "52:54:00:00:00:01", "10.0.0.1", "10.0.0.2"),
    ("b", "52:54:00:00:00:02", "10.0.0.2", "10.0.0.1"),
)
PREFIX_LEN = 24
BURST_PINGS = 20            # echo requests of the burst step
BURST_BYTES = 4000          # their payload: three frames each, two full-size
BURST_INTERVAL_S = 0.05
CONNECT_TIMEOUT_S = 15      # QEMU started to its port in the dump
PING_TIMEOUT_S = 120        # both guests booted and pinged (TCG: ~5 s)
PING_WAIT_S = 60            # how long a guest pings a peer that is silent
DISCONNECT_TIMEOUT_S = 15   # guest powered off to its port gone
STOP_TIMEOUT_S = 20         # SIGTERM to nethubd's exit


def diag(msg):
    for line in str(msg).splitlines() or [""]:
        print("# " + line, flush=True)


def nonzero(counters):
    """The non-zero entries of a counter object, as compact JSON."""
    return json.dumps({k: v for k, v in (counters or {}).items() if v})


class Steps:
    """TAP over a fixed sequence of dependent steps."""

    def __init__(self):
        self.n = 0
        self.failed = []
        self.t0 = time.monotonic()

    def run(self, name, fn, needs=()):
        """Run step @fn as TAP test @name unless a step in @needs failed;
        return whether it passed."""
        self.n += 1
        missing = [s for s in needs if s in self.failed]
        if missing:
            print("not ok %d - %s (not run: %s failed)"
                  % (self.n, name, missing[0]), flush=True)
            self.failed.append(name)
            return False
        t = time.monotonic()
        try:
            fn()
        except Exception as e:  # every failure is reported, never raised
            print("not ok %d - %s" % (self.n, name), flush=True)
            if isinstance(e, (AssertionError, GuestError)):
                diag(str(e))
            else:
                diag(traceback.format_exc().rstrip())
            self.failed.append(name)
            return False
        print("ok %d - %s" % (self.n, name), flush=True)
        diag("%s: %.1fs" % (name, time.monotonic() - t))
        return True

    def finish(self):
        diag("total: %.1fs" % (time.monotonic() - self.t0))
        print("1..%d" % self.n, flush=True)
        return 1 if self.failed else 0


class PingTest:
    def __init__(self, io):
        self.io = io
        self.workdir = tempfile.mkdtemp(prefix="nethub-qemu-ping-")
        self.qemu = self.kernel = self.initrd = None
        self.daemon = None
        self.listen_port = None
        self.guests = []
        self.port_of = {}       # guest name -> its nethub port's name
        self.pings = {}         # guest name -> (succeeded, marker line)
        self.booted_at = None
        self.state = None       # the dump taken while both guests are up

    # ---- helpers --------------------------------------------------------

    def dump(self):
        return self.daemon.state()

    def guest_ports(self, st):
        return [p["name"] for p in nethub.ports(st, NETDEV_ID)]

    def guest(self, name):
        return next(g for g in self.guests if g.name == name)

    # ---- steps ----------------------------------------------------------

    def prerequisites(self):
        self.qemu, self.kernel, self.initrd = qemu_guest.prerequisites()
        diag("qemu %s, kernel %s, initrd %s"
             % (self.qemu, self.kernel, self.initrd))
        path = nethub.nethubd_path()
        assert os.access(path, os.X_OK), \
            "nethubd not found at %s (build it, or set NETHUBD)" % path

    def start_daemon(self):
        self.listen_port = nethub.free_port()
        self.daemon = nethub.Nethubd(
            "-netdev", "socket,id=%s,listen=127.0.0.1:%d"
            % (NETDEV_ID, self.listen_port),
            "--log-level", "info", io=self.io)
        self.daemon.start()
        st = self.dump()
        if self.io != "auto":
            assert st.get("io") == self.io, \
                "the dump says io %r, not %r" % (st.get("io"), self.io)
        assert self.guest_ports(st) == [], \
            "ports before any guest: %s" % self.guest_ports(st)

    def connect_guest(self, index):
        """Start guest @index and wait for its port, so that ports are
        numbered in the order the guests were started."""
        name, mac, ip, peer = GUESTS[index]
        before = set(self.guest_ports(self.dump()))
        g = Guest(name, self.workdir, qemu=self.qemu, kernel=self.kernel,
                  initrd=self.initrd, mac=mac,
                  ip="%s/%d" % (ip, PREFIX_LEN), ping=peer,
                  ping_wait=PING_WAIT_S, after="console",
                  netdev="socket,connect=127.0.0.1:%d" % self.listen_port)
        self.guests.append(g)
        self.booted_at = self.booted_at or time.monotonic()
        g.start()
        st = self.daemon.wait_state(
            lambda s: len(set(self.guest_ports(s)) - before) == 1,
            timeout=CONNECT_TIMEOUT_S,
            what="a new port of %s for guest %s" % (NETDEV_ID, name))
        (new,) = set(self.guest_ports(st)) - before
        want = "%s.%d" % (NETDEV_ID, index + 1)
        assert new == want, \
            "guest %s connected as port %s, want %s" % (name, new, want)
        self.port_of[name] = new
        diag("guest %s (%s, %s) is port %s" % (name, mac, ip, new))

    def wait_pings(self):
        """Both guests' ping results, waited for with one deadline."""
        deadline = time.monotonic() + PING_TIMEOUT_S
        for g in self.guests:
            left = max(1, deadline - time.monotonic())
            try:
                self.pings[g.name] = g.wait_ping(left)
            except GuestError as e:
                self.pings[g.name] = (False, str(e))
        diag("guests booted and pinged in %.1fs"
             % (time.monotonic() - self.booted_at))

    def guest_pinged(self, name):
        ok, line = self.pings[name]
        if not ok:
            g = self.guest(name)
            raise AssertionError("guest %s: %s\n%s\n%s" % (
                name, line, "\n".join(g.tail()), self.why_no_ping(g)))
        diag("guest %s: %s" % (name, line))

    def why_no_ping(self, g):
        """What the guest's NIC and nethubd's ports counted, for the
        diagnostics of a failed ping."""
        lines = []
        try:
            _, out = g.run("cat /sys/class/net/eth0/statistics/rx_packets"
                           " /sys/class/net/eth0/statistics/tx_packets")
            lines.append("guest %s eth0 rx/tx packets: %s"
                         % (g.name, " ".join(out.split())))
        except GuestError as e:
            lines.append(str(e))
        try:
            st = self.dump()
            for p in nethub.ports(st, NETDEV_ID):
                lines.append("nethubd %s: %s"
                             % (p["name"], json.dumps(p.get("stats"))))
            lines.append("hub %d fdb: %s"
                         % (HUB, json.dumps(nethub.fdb(st, HUB))))
        except AssertionError as e:
            lines.append(str(e))
        return "\n".join(lines)

    def burst_of_large_pings(self):
        """Fragmented echo requests in quick succession: full-size frames,
        several per TCP read, none lost."""
        cmd = ("ping -q -c %d -i %s -s %d -W 5 %s"
               % (BURST_PINGS, BURST_INTERVAL_S, BURST_BYTES, GUESTS[1][2]))
        rc, out = self.guest("a").run(cmd, timeout=60)
        diag("guest a: %s: %s" % (cmd, " ".join(out.split())))
        assert rc == 0 and " 0% packet loss" in out, \
            "guest a: %s: exit status %d:\n%s" % (cmd, rc, out)

    def ports_counted_traffic(self):
        self.state = st = self.dump()
        problems = []
        for name, _, _, _ in GUESTS:
            p = nethub.port(st, self.port_of[name])
            if p is None:
                problems.append("port %s missing from the dump"
                                % self.port_of[name])
                continue
            s = p["stats"]
            diag("%s: rx-frames %d rx-forwarded %d tx-frames %d"
                 " rx-drops %s tx-drops %s"
                 % (p["name"], s["rx-frames"], s["rx-forwarded"],
                    s["tx-frames"], nonzero(s.get("rx-drops")),
                    nonzero(s.get("tx-drops"))))
            for key in ("rx-frames", "tx-frames"):
                if not s.get(key, 0) > 0:
                    problems.append("port %s: %s is %r"
                                    % (p["name"], key, s.get(key)))
            try:
                nethub.check_port_accounting(p)
            except AssertionError as e:
                problems.append(str(e))
        assert not problems, \
            "\n".join(problems + [json.dumps(st, indent=1)])

    def fdb_learned_guests(self):
        st = self.state
        problems = []
        for name, mac, _, _ in GUESTS:
            got = nethub.fdb_port(st, mac, hid=HUB)
            if got != self.port_of[name]:
                problems.append("hub %d FDB: %s on %r, want %s"
                                % (HUB, mac, got, self.port_of[name]))
        assert not problems, "\n".join(
            problems + ["fdb: " + json.dumps(nethub.fdb(st, HUB))])

    def power_off(self, name):
        """Power guest @name off; its port must leave the netdev, the hub
        and the FDB, while the other guests' ports stay."""
        g = self.guest(name)
        rc = g.poweroff()
        assert rc == 0, "guest %s: QEMU exit status %d" % (name, rc)
        gone = self.port_of[name]
        stay = set(self.port_of[o.name] for o in self.guests
                   if o.proc.poll() is None)

        def removed(s):
            hub_ports = (nethub.hub(s, HUB) or {}).get("ports", [])
            return gone not in set(self.guest_ports(s)) | set(hub_ports)
        st = self.daemon.wait_state(
            removed, timeout=DISCONNECT_TIMEOUT_S,
            what="port %s to leave the dump" % gone)
        left = set(self.guest_ports(st))
        assert stay <= left, "ports %s went with %s" % (sorted(stay - left),
                                                        gone)
        stale = [e for e in nethub.fdb(st, HUB) if e.get("port") == gone]
        assert not stale, "the FDB still names removed port %s: %s" \
            % (gone, json.dumps(stale))

    def daemon_stops(self):
        rc = self.daemon.stop(signal.SIGTERM, timeout=STOP_TIMEOUT_S)
        assert rc == 0, "nethubd exited with status %s on SIGTERM:\n%s" \
            % (rc, self.daemon.log())
        assert not os.path.exists(self.daemon.pidfile), \
            "pidfile %s left behind" % self.daemon.pidfile

    # ---- the sequence ---------------------------------------------------

    def run(self):
        steps = Steps()
        diag("nethubd %s, --io %s, workdir %s"
             % (nethub.nethubd_path(), self.io, self.workdir))
        pre = "QEMU, kernel, busybox and nethubd present; guest image built"
        start = "nethubd starts and writes its pidfile"
        conn_a = "guest a's NIC connects as port vms.1"
        conn_b = "guest b's NIC connects as port vms.2"
        ping_a = "guest a (10.0.0.1) pings guest b through nethubd"
        ping_b = "guest b (10.0.0.2) pings guest a through nethubd"
        burst = "guest a pings guest b %d times with %d bytes, no loss" \
            % (BURST_PINGS, BURST_BYTES)
        stats = "ports vms.1 and vms.2 counted frames both ways"
        try:
            steps.run(pre, self.prerequisites)
            steps.run(start, self.start_daemon, needs=[pre])
            steps.run(conn_a, lambda: self.connect_guest(0), needs=[start])
            steps.run(conn_b, lambda: self.connect_guest(1), needs=[conn_a])
            if conn_b not in steps.failed:
                self.wait_pings()
            steps.run(ping_a, lambda: self.guest_pinged("a"), needs=[conn_b])
            steps.run(ping_b, lambda: self.guest_pinged("b"), needs=[conn_b])
            steps.run(burst, self.burst_of_large_pings, needs=[ping_a])
            steps.run(stats, self.ports_counted_traffic,
                      needs=[ping_a, ping_b])
            steps.run("hub 0 FDB has each guest's MAC on its port",
                      self.fdb_learned_guests, needs=[stats])
            steps.run("guest a powers off; vms.1 leaves the dump and the"
                      " FDB, vms.2 stays", lambda: self.power_off("a"),
                      needs=[conn_b])
            steps.run("guest b powers off; vms.2 leaves the dump",
                      lambda: self.power_off("b"), needs=[conn_b])
            steps.run("nethubd exits 0 on SIGTERM and removes its pidfile",
                      self.daemon_stops, needs=[start])
        finally:
            self.cleanup(failed=bool(steps.failed))
        return steps.finish()

    def cleanup(self, failed):
        for g in self.guests:
            g.kill()
        if self.daemon and failed:
            # The daemon's directory goes with nethub's cleanup: keep its log.
            with open(os.path.join(self.workdir, "nethubd.log"), "w") as f:
                f.write(self.daemon.stderr() + self.daemon.stdout())
            diag("nethubd log (tail):\n" + self.daemon.log())
        nethub.cleanup_all()
        if not os.listdir(self.workdir):
            os.rmdir(self.workdir)
        elif failed or os.environ.get("NETHUB_TEST_KEEP") == "1":
            diag("logs kept in %s" % self.workdir)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--io", default=os.environ.get("NETHUB_IO", "auto"),
                    choices=("auto", "uring", "epoll"))
    ap.add_argument("nethubd", nargs="?",
                    help="the daemon to test (default $NETHUBD)")
    opts = ap.parse_args()
    if opts.nethubd:
        os.environ["NETHUBD"] = opts.nethubd
    nethub.IO = opts.io
    # A harness's timeout sends SIGTERM: clean up guests and daemon first.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("killed by SIGTERM"))
    return PingTest(opts.io).run()


if __name__ == "__main__":
    sys.exit(main())
