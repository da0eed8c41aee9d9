#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_restart.py - QEMU guests survive a nethubd restart (issue 15).

QEMU 7.2's socket netdev does not reconnect, so the guests are the
listening side: each runs `-netdev socket,listen=127.0.0.1:PORT`, and
nethubd connects to them with `-netdev socket,connect=...,reconnect=1`
(nethub's extension), which it retries until the guest answers.  QEMU
takes a new connection once the old one closes, so after nethubd stops
and starts again the guests ping each other without a reboot.

Guest a's netdev is on nethubd's command line; guest b's is added over
QMP, so it comes back only through the state file (--state): the second
nethubd has the same command line, and guest b reaching guest a again
proves the state restored it.  Both guests boot once.

Usage: test_restart.py [--io auto|uring|epoll] [NETHUBD]
"""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
import qemu_guest  # noqa: E402
from qemu_guest import Guest  # noqa: E402
from test_qemu_ping import Steps, diag  # noqa: E402

GUESTS = (  # name, MAC, address, its peer's address
    ("a", "52:54:00:00:01:01", "10.0.1.1", "10.0.1.2"),
    ("b", "52:54:00:00:01:02", "10.0.1.2", "10.0.1.1"),
)
RECONNECT_S = 1          # nethubd's reconnect= to the guests
CONNECT_TIMEOUT_S = 60   # nethubd started to both guests connected
BOOT_TIMEOUT_S = 120     # both guests booted (TCG)
PING_TIMEOUT_S = 60      # a guest reaches the other, retrying
STOP_TIMEOUT_S = 20


class RestartTest:
    def __init__(self, io):
        self.io = io
        self.workdir = tempfile.mkdtemp(prefix="nethub-restart-")
        self.state_path = os.path.join(self.workdir, "nethubd.state")
        self.kernel = self.initrd = None
        self.ports = {}
        self.guests = {}
        self.daemon = None

    def netdev_spec(self, name):
        return ("socket,id=g%s,connect=127.0.0.1:%d,reconnect=%d"
                % (name, self.ports[name], RECONNECT_S))

    def prerequisites(self):
        _, self.kernel, self.initrd = qemu_guest.prerequisites()

    def boot_guests(self):
        for name, mac, ip, _ in GUESTS:
            self.ports[name] = qemu_guest.free_tcp_port()
            g = Guest(name, self.workdir, kernel=self.kernel,
                      initrd=self.initrd, mac=mac, ip=ip + "/24",
                      netdev="socket,listen=127.0.0.1:%d"
                      % self.ports[name])
            self.guests[name] = g
            g.start()
        for g in self.guests.values():
            g.wait_ready(BOOT_TIMEOUT_S)

    def start_daemon(self):
        """nethubd with guest a's netdev on its command line"""
        self.daemon = nethub.Nethubd("-netdev", self.netdev_spec("a"),
                                     "--state", self.state_path,
                                     qmp=True, io=self.io).start()

    def wait_connected(self, ids):
        def connected(st):
            return all((nethub.netdev(st, i) or {}).get("info", {})
                       .get("connected") for i in ids)
        self.daemon.wait_state(connected, CONNECT_TIMEOUT_S,
                               what="netdevs %s connected" % ", ".join(ids))

    def add_guest_b(self):
        self.daemon.qmp_cmd("netdev_add", {
            "type": "socket", "id": "gb",
            "connect": "127.0.0.1:%d" % self.ports["b"],
            "reconnect": RECONNECT_S})
        self.wait_connected(["ga", "gb"])

    def ping(self, name, timeout=PING_TIMEOUT_S):
        """Guest @name pings its peer until it answers (or fail)."""
        g = self.guests[name]
        peer = [x[3] for x in GUESTS if x[0] == name][0]
        deadline = time.monotonic() + timeout
        while True:
            rc, out = g.run("ping -c 1 -W 1 %s" % peer)
            if rc == 0:
                return
            if time.monotonic() > deadline:
                raise AssertionError("guest %s cannot reach %s:\n%s"
                                     % (name, peer, out))

    def ping_fails(self):
        rc, out = self.guests["a"].run("ping -c 2 -W 1 %s" % GUESTS[0][3])
        assert rc != 0, "guest a reached b with nethubd stopped:\n" + out

    def stop_daemon(self):
        rc = self.daemon.stop(signal.SIGTERM, timeout=STOP_TIMEOUT_S)
        assert rc == 0, "nethubd exited with %s:\n%s" % (rc,
                                                         self.daemon.log())

    def restart_daemon(self):
        """the same command line again: gb comes from the state file"""
        self.start_daemon()
        nethub.poll(lambda: "state restored" in self.daemon.stderr(), 10,
                    what="'state restored' in nethubd's log")
        self.wait_connected(["ga", "gb"])
        opts = nethub.netdev(self.daemon.state(), "gb")["options"]
        assert opts.get("reconnect") == RECONNECT_S, opts

    def run(self):
        steps = Steps()
        pre = "QEMU, kernel and busybox present; guest image built"
        boot = "guests a and b boot, listening with -netdev socket,listen="
        start = "nethubd connects to guest a; guest b added over QMP"
        before = "guest a pings guest b through nethubd"
        down = "with nethubd stopped, guest a cannot reach guest b"
        again = "nethubd started again reconnects to both guests"
        after_a = "guest a pings guest b again, without a reboot"
        after_b = "guest b pings guest a again, without a reboot"
        try:
            steps.run(pre, self.prerequisites)
            steps.run(boot, self.boot_guests, needs=[pre])
            steps.run(start, lambda: (self.start_daemon(),
                                      self.add_guest_b()), needs=[boot])
            steps.run(before, lambda: self.ping("a"), needs=[start])
            steps.run(down, lambda: (self.stop_daemon(), self.ping_fails()),
                      needs=[before])
            steps.run(again, self.restart_daemon, needs=[down])
            steps.run(after_a, lambda: self.ping("a"), needs=[again])
            steps.run(after_b, lambda: self.ping("b"), needs=[again])
            steps.run("nethubd stops cleanly", self.stop_daemon,
                      needs=[again])
        finally:
            failed = bool(steps.failed)
            for g in self.guests.values():
                g.kill()
            if self.daemon and failed:
                diag("nethubd log (tail):\n" + self.daemon.log())
            nethub.cleanup_all()
            if failed or os.environ.get("NETHUB_TEST_KEEP") == "1":
                diag("logs kept in %s" % self.workdir)
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)
        return steps.finish()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--io", default=os.environ.get("NETHUB_IO", "auto"),
                    choices=("auto", "uring", "epoll"))
    ap.add_argument("nethubd", nargs="?",
                    help="the nethubd binary (default: $NETHUBD)")
    opts = ap.parse_args()
    if opts.nethubd:
        os.environ["NETHUBD"] = opts.nethubd
    return RestartTest(opts.io).run()


if __name__ == "__main__":
    sys.exit(main())
